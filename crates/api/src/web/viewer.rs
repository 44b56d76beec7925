//! Who is looking at a page: the person whose session cookie the browser sent. Without a live
//! session the answer is a redirect to the sign-in page, never an error page.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use dampwatch_accounts::{session, Permission, Session};

use crate::caller::{Caller, Principal};
use crate::guard::{cookie_value, session_cookie};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// A signed-in person viewing a page.
pub struct Viewer {
    pub caller: Caller,
    /// The session's CSRF token, for the page's forms: the dashboard's sign-in hands it to the
    /// browser in its own `__Host-` cookie (HttpOnly, SameSite=Strict), since the database
    /// keeps only its hash. Empty when the browser has none that matches (its forms are refused).
    pub csrf_token: String,
}

/// The cookie the dashboard keeps the session's CSRF token in.
pub const CSRF_COOKIE: &str = "__Host-dampwatch_csrf";

impl Viewer {
    pub fn session(&self) -> &Session {
        self.caller.session().expect("a viewer always has a session")
    }

    /// Whether the person's role allows `permission` (and their sign-in was complete).
    pub fn may(&self, permission: Permission) -> bool {
        self.caller.allows(permission)
    }

    /// The refusal of a page the role does not allow.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.may(permission) {
            Ok(())
        } else if !self.session().fully_authenticated() {
            Err(ApiError::Forbidden("your role requires a second factor: enrol one first".into()))
        } else {
            Err(ApiError::Forbidden(format!("the role {} may not {permission}", self.session().role)))
        }
    }

    /// Whether `token` (a form's hidden field) is this session's CSRF token.
    pub fn csrf_ok(&self, token: &str) -> bool {
        self.session().csrf_matches(token)
    }

    /// Refuses a form whose hidden field is not this session's CSRF token.
    pub fn check_csrf(&self, token: &str) -> Result<(), ApiError> {
        if self.csrf_ok(token) {
            Ok(())
        } else {
            Err(ApiError::Csrf)
        }
    }

    pub fn tenant(&self, state: &ApiState) -> Tenant {
        Tenant::new(self.caller.clone(), state)
    }
}

impl FromRequestParts<ApiState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let to_sign_in = || Redirect::to("/sign-in").into_response();
        let Some(cookie) = session_cookie(&parts.headers) else {
            return Err(to_sign_in());
        };
        let client = state.keys.pool().get().await.map_err(|e| ApiError::from(e).into_response())?;
        let found = session::find(&**client, cookie, state.now(), &state.config.sessions)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        let Some(session) = found else {
            return Err(to_sign_in());
        };
        let csrf_token = cookie_value(&parts.headers, CSRF_COOKIE)
            .filter(|t| session.csrf_matches(t))
            .unwrap_or_default()
            .to_owned();
        Ok(Viewer {
            caller: Caller {
                landlord_id: session.landlord_id.clone(),
                principal: Principal::Person(Box::new(session)),
            },
            csrf_token,
        })
    }
}
