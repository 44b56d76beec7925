//! Every endpoint of the API in one table, and the router built from it (and only from it),
//! so the OpenAPI document and the tests can walk the same list: a route cannot be served
//! without being documented and checked for authentication and isolation.

use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::body::read_body;
use crate::guard::{authenticate, limit_source};
use crate::handlers::{alerts, cases, devices, events, sla, triage, webhooks};
use crate::middleware::{finish_response, no_route, SecurityHeaders};
use crate::openapi;
use crate::state::ApiState;

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
}

impl Verb {
    /// The lower-case name (as in OpenAPI path items).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
        }
    }
}

/// One endpoint.
#[derive(Clone, Copy)]
pub struct Endpoint {
    pub verb: Verb,
    /// The axum 0.8 / OpenAPI path template (`/v1/cases/{id}`).
    pub path: &'static str,
    /// The OpenAPI operationId.
    pub operation_id: &'static str,
    /// Whether the endpoint needs an API key (all but the OpenAPI document).
    pub authenticated: bool,
    handler: fn() -> MethodRouter<ApiState>,
}

/// Every endpoint the router serves.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Get,
        path: "/v1/alerts",
        operation_id: "listAlerts",
        authenticated: true,
        handler: || get(alerts::list),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/alerts/{id}",
        operation_id: "getAlert",
        authenticated: true,
        handler: || get(alerts::get),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/alerts/{id}/triage",
        operation_id: "triageAlert",
        authenticated: true,
        handler: || post(triage::post),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/cases",
        operation_id: "listCases",
        authenticated: true,
        handler: || get(cases::list),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/cases/{id}",
        operation_id: "getCase",
        authenticated: true,
        handler: || get(cases::get),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/cases/{id}/events",
        operation_id: "recordCaseEvent",
        authenticated: true,
        handler: || post(events::post),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/sla",
        operation_id: "getSla",
        authenticated: true,
        handler: || get(sla::get),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/devices",
        operation_id: "listDevices",
        authenticated: true,
        handler: || get(devices::list),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/webhooks/deliveries",
        operation_id: "listWebhookDeliveries",
        authenticated: true,
        handler: || get(webhooks::list),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/openapi.json",
        operation_id: "getOpenApi",
        authenticated: false,
        handler: || get(openapi::serve_document),
    },
];

/// The API with its middleware, outermost first: security headers and problem documents for
/// every response, request tracing, the per-source rate limit, the body size limit; then per
/// route: authentication and the per-key rate limit (authenticated routes), reading the body
/// within its time limit, and the handler's time limit (answered 503).
///
/// Per-source limits need the peer address ([`axum::extract::ConnectInfo`]), which
/// [`crate::serve::spawn_server`] provides; a router served without it applies only the
/// per-key limit.
pub fn router(state: ApiState) -> Router {
    let config = state.config.clone();
    let handler_timeout = TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        config.request_timeout.max(Duration::from_millis(1)),
    );
    let (mut authenticated, mut public) = (Router::new(), Router::new());
    for endpoint in ENDPOINTS {
        let routes = if endpoint.authenticated { &mut authenticated } else { &mut public };
        *routes = std::mem::take(routes).route(endpoint.path, (endpoint.handler)());
    }
    // route_layer: the first call is innermost.
    let authenticated: Router<ApiState> = authenticated
        .route_layer(handler_timeout)
        .route_layer(from_fn_with_state(state.clone(), read_body))
        .route_layer(from_fn_with_state(state.clone(), authenticate));
    let public: Router<ApiState> =
        public.route_layer(handler_timeout).route_layer(from_fn_with_state(state.clone(), read_body));
    authenticated
        .merge(public)
        .fallback(no_route)
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), limit_source))
        .layer(TraceLayer::new_for_http())
        .layer(from_fn_with_state(SecurityHeaders::new(config.hsts_max_age), finish_response))
        .with_state(state)
}
