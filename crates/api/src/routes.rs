//! Every endpoint of the API in one table, and the router built from it (and only from it),
//! so the OpenAPI document and the tests can walk the same list: a route cannot be served
//! without being documented and checked for authentication and isolation.

use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use dampwatch_accounts::Permission;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::body::read_body;
use crate::guard::{authenticate, limit_source};
use crate::handlers::{
    alerts, assign, cases, credentials, devices, events, evidence, me, notifications, rooms, share, signin,
    sla, token, triage, users, webhooks,
};
use crate::middleware::{finish_response, no_route, SecurityHeaders};
use crate::openapi;
use crate::state::ApiState;

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    /// The lower-case name (as in OpenAPI path items).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Put => "put",
            Verb::Delete => "delete",
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
    /// Who may call it.
    pub access: Access,
    handler: fn() -> MethodRouter<ApiState>,
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the OpenAPI document, signing in, redeeming a reset token.
    Public,
    /// A person with a session, even one that still has to enrol a second factor (their own
    /// account: who they are, their sessions, their second factor, signing out).
    Person,
    /// An API key or a fully signed-in person allowed this permission
    /// ([`dampwatch_accounts::role::MATRIX`], key scopes in [`crate::caller::Caller::allows`]).
    Permission(Permission),
    /// A third party's OAuth token (scope `share`), and nothing else: the tenancy shares its
    /// recipient was given consent for.
    ThirdParty,
}

impl Endpoint {
    /// Whether the endpoint needs a key or a session.
    pub fn authenticated(&self) -> bool {
        self.access != Access::Public
    }
}

/// Every endpoint the router serves.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Get,
        path: "/v1/alerts",
        operation_id: "listAlerts",
        access: Access::Permission(Permission::ReadAlerts),
        handler: || get(alerts::list),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/alerts/{id}",
        operation_id: "getAlert",
        access: Access::Permission(Permission::ReadAlerts),
        handler: || get(alerts::get),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/alerts/{id}/triage",
        operation_id: "triageAlert",
        access: Access::Permission(Permission::TriageAlerts),
        handler: || post(triage::post),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/cases",
        operation_id: "listCases",
        access: Access::Permission(Permission::ReadCases),
        handler: || get(cases::list),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/cases/{id}",
        operation_id: "getCase",
        access: Access::Permission(Permission::ReadCases),
        handler: || get(cases::get),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/cases/{id}/evidence",
        operation_id: "getCaseEvidence",
        access: Access::Permission(Permission::ExportEvidence),
        handler: || get(evidence::get),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/cases/{id}/events",
        operation_id: "recordCaseEvent",
        access: Access::Permission(Permission::RecordWorks),
        handler: || post(events::post),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/sla",
        operation_id: "getSla",
        access: Access::Permission(Permission::ReadSla),
        handler: || get(sla::get),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/rooms",
        operation_id: "listRooms",
        // A room's risk level is a summary of its alerts.
        access: Access::Permission(Permission::ReadAlerts),
        handler: || get(rooms::list),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/devices",
        operation_id: "listDevices",
        access: Access::Permission(Permission::ReadDevices),
        handler: || get(devices::list),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/webhooks/deliveries",
        operation_id: "listWebhookDeliveries",
        access: Access::Permission(Permission::ReadWebhookLog),
        handler: || get(webhooks::list),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/cases/{id}/assign",
        operation_id: "assignCase",
        access: Access::Permission(Permission::AssignCases),
        handler: || post(assign::post),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/session",
        operation_id: "signIn",
        access: Access::Public,
        handler: || post(signin::post),
    },
    Endpoint {
        verb: Verb::Delete,
        path: "/v1/session",
        operation_id: "signOut",
        access: Access::Person,
        handler: || delete(signin::delete),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/password-reset",
        operation_id: "resetPassword",
        access: Access::Public,
        handler: || post(me::reset_password),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/me",
        operation_id: "getMe",
        access: Access::Person,
        handler: || get(me::get),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/me/notifications",
        operation_id: "getMyNotifications",
        access: Access::Person,
        handler: || get(notifications::get_mine),
    },
    Endpoint {
        verb: Verb::Put,
        path: "/v1/me/notifications",
        operation_id: "setMyNotifications",
        access: Access::Person,
        handler: || put(notifications::put_mine),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/email/failures",
        operation_id: "listEmailFailures",
        access: Access::Permission(Permission::ManageUsers),
        handler: || get(notifications::failures),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/me/sessions",
        operation_id: "listMySessions",
        access: Access::Person,
        handler: || get(me::sessions),
    },
    Endpoint {
        verb: Verb::Delete,
        path: "/v1/me/sessions",
        operation_id: "signOutEverywhere",
        access: Access::Person,
        handler: || delete(me::end_sessions),
    },
    Endpoint {
        verb: Verb::Delete,
        path: "/v1/me/sessions/{handle}",
        operation_id: "endMySession",
        access: Access::Person,
        handler: || delete(me::end_session),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/me/password",
        operation_id: "changeMyPassword",
        access: Access::Person,
        handler: || post(me::change_password),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/me/mfa/totp",
        operation_id: "startTotpEnrolment",
        access: Access::Person,
        handler: || post(me::start_totp),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/me/mfa/totp/confirm",
        operation_id: "confirmTotpEnrolment",
        access: Access::Person,
        handler: || post(me::confirm_totp),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/users",
        operation_id: "listUsers",
        access: Access::Permission(Permission::ManageUsers),
        handler: || get(users::list),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/users",
        operation_id: "createUser",
        access: Access::Permission(Permission::ManageUsers),
        handler: || post(users::create),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/users/{id}",
        operation_id: "updateUser",
        access: Access::Permission(Permission::ManageUsers),
        handler: || post(users::update),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/api-keys",
        operation_id: "listApiKeys",
        access: Access::Permission(Permission::ManageApiKeys),
        handler: || get(credentials::list_keys),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/api-keys",
        operation_id: "createApiKey",
        access: Access::Permission(Permission::ManageApiKeys),
        handler: || post(credentials::create_key_handler),
    },
    Endpoint {
        verb: Verb::Delete,
        path: "/v1/api-keys/{id}",
        operation_id: "revokeApiKey",
        access: Access::Permission(Permission::ManageApiKeys),
        handler: || delete(credentials::revoke_key),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/oauth-clients",
        operation_id: "listOAuthClients",
        access: Access::Permission(Permission::ManageApiKeys),
        handler: || get(credentials::list_oauth_clients),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/oauth-clients",
        operation_id: "createOAuthClient",
        access: Access::Permission(Permission::ManageApiKeys),
        handler: || post(credentials::create_oauth_client),
    },
    Endpoint {
        verb: Verb::Delete,
        path: "/v1/oauth-clients/{id}",
        operation_id: "revokeOAuthClient",
        access: Access::Permission(Permission::ManageApiKeys),
        handler: || delete(credentials::revoke_oauth_client),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/tenancies/{id}/share",
        operation_id: "getTenancyShare",
        access: Access::ThirdParty,
        handler: || get(share::get),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/oauth/token",
        operation_id: "getToken",
        access: Access::Public,
        handler: || post(token::post),
    },
    Endpoint {
        verb: Verb::Get,
        path: "/openapi.json",
        operation_id: "getOpenApi",
        access: Access::Public,
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
        let routes = if endpoint.authenticated() { &mut authenticated } else { &mut public };
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
        .merge(crate::web::pages())
        .fallback(no_route)
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), limit_source))
        .layer(TraceLayer::new_for_http())
        .layer(from_fn_with_state(SecurityHeaders::new(config.hsts_max_age), finish_response))
        .with_state(state)
}
