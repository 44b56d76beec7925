//! A person's side of the API for tests: people made as the operator's CLI makes them, signed in
//! through `POST /v1/session`, calling endpoints with their cookie and CSRF token, on a router
//! whose wall clock the test moves instead of waiting.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::users::{self, NewUser};
use dampwatch_accounts::{totp, Password, Role};
use dampwatch_api::{router, ApiState};
use serde_json::{json, Value};

use super::{fixture, send, Fixture, Reply};

/// `state`'s router judging time by `now`.
fn clocked_router(state: ApiState, now: &Arc<Mutex<DateTime<Utc>>>) -> Router {
    let clock = now.clone();
    router(state.with_wall_clock(Arc::new(move || *clock.lock().unwrap())))
}

/// Every test person's password.
pub const PASSWORD: &str = "velvet thunder over the moor";

/// The fixture's router with a wall clock the test moves.
pub struct People {
    pub f: Fixture,
    pub app: Router,
    pub now: Arc<Mutex<DateTime<Utc>>>,
}

impl People {
    pub async fn new() -> Self {
        let f = fixture().await;
        // The fixture's alerts and cases are dated by the real clock: start from it.
        let now = Arc::new(Mutex::new(Utc::now()));
        let app = clocked_router(f.state.clone(), &now);
        People { f, app, now }
    }

    /// A router over `state` (another configuration of the fixture's) on this test's clock.
    pub fn router_for(&self, state: ApiState) -> Router {
        clocked_router(state, &self.now)
    }

    pub fn at(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }

    /// A user without a password yet, made as the operator's CLI does.
    pub async fn bare_user(&self, landlord: Option<&str>, email: &str, role: Role) -> i64 {
        let new = NewUser {
            landlord_id: landlord.map(str::to_owned),
            email: email.into(),
            display_name: "Test Person".into(),
            role,
        };
        users::create(&self.f.db, &new).await.unwrap().id
    }

    /// A user with [`PASSWORD`], set with a setup token.
    pub async fn user(&self, landlord: Option<&str>, email: &str, role: Role) -> i64 {
        let id = self.bare_user(landlord, email, role).await;
        let token = reset::issue(&self.f.db, id, self.at(), RESET_TOKEN_LIFETIME).await.unwrap();
        reset::redeem(&self.f.db, &token, &Password::new(PASSWORD), self.at()).await.unwrap();
        id
    }

    /// A request with the session's cookie and, when `csrf`, its CSRF token.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        session: Option<&Signed>,
        csrf: bool,
        body: Option<Value>,
    ) -> Reply {
        self.call_on(&self.app, method, uri, session, csrf, body).await
    }

    /// [`People::call`] on `app`.
    pub async fn call_on(
        &self,
        app: &Router,
        method: Method,
        uri: &str,
        session: Option<&Signed>,
        csrf: bool,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(s) = session {
            builder = builder.header(header::COOKIE, format!("__Host-dampwatch_session={}", s.cookie));
            if csrf {
                builder = builder.header("x-csrf-token", &s.csrf);
            }
        }
        let request = match body {
            Some(b) => {
                builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string()))
            }
            None => builder.body(Body::empty()),
        };
        send(app, request.unwrap()).await
    }

    /// `POST /v1/session` with `extra` fields (a code), from a browser holding `cookie`.
    pub async fn sign_in_with(
        &self,
        email: &str,
        password: &str,
        extra: Value,
        cookie: Option<&Signed>,
    ) -> Reply {
        let mut body = json!({"email": email, "password": password});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        self.call(Method::POST, "/v1/session", cookie, false, Some(body)).await
    }

    pub async fn sign_in(&self, email: &str) -> Signed {
        let reply = self.sign_in_with(email, PASSWORD, json!({}), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        Signed::from(&reply)
    }

    /// Signs in a user, enrols TOTP, and returns the stepped-up session, the secret and the
    /// recovery codes; checks the session id changed at the step-up.
    pub async fn sign_in_enrolled(&self, email: &str) -> (Signed, Vec<u8>, Vec<String>) {
        let first = self.sign_in(email).await;
        let start = json!({"current_password": PASSWORD});
        let reply = self.call(Method::POST, "/v1/me/mfa/totp", Some(&first), true, Some(start)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let secret = self.f.pending_totp(email).await;
        let code = totp::code_at(&secret, self.at().timestamp());
        let reply = self
            .call(Method::POST, "/v1/me/mfa/totp/confirm", Some(&first), true, Some(json!({"code": code})))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let codes: Vec<String> = reply.json["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().into())
            .collect();
        assert_eq!(codes.len(), 10);
        let stepped = Signed::from(&reply);
        assert_ne!(stepped.cookie, first.cookie, "the session id changes at step-up");
        assert!(!self.alive(&first).await, "the pre-step-up id is dead");
        (stepped, secret, codes)
    }

    /// The audit log's entries of `action`.
    pub async fn audit_entries(&self, action: &str) -> i64 {
        let sql = "SELECT count(*) FROM audit_log WHERE action = $1";
        self.f.db.query_one(sql, &[&action]).await.expect("audit entries").get(0)
    }

    /// A person's sign-in counter (`failed_attempts`, `second_factor_failures`).
    pub async fn counter(&self, email: &str, column: &str) -> i32 {
        let sql = format!("SELECT {column} FROM users WHERE email = $1");
        self.f.db.query_one(&sql, &[&email]).await.expect("a person's counter").get(0)
    }

    /// Whether the session still works.
    pub async fn alive(&self, s: &Signed) -> bool {
        self.call(Method::GET, "/v1/me", Some(s), false, None).await.status == StatusCode::OK
    }
}

/// A signed-in browser: its cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Signed {
    pub cookie: String,
    pub csrf: String,
}

impl Signed {
    /// From a sign-in or step-up answer; checks the cookie's attributes.
    pub fn from(reply: &Reply) -> Self {
        let set = reply.header("set-cookie");
        for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(attribute), "{attribute} missing: {set}");
        }
        let cookie = set
            .strip_prefix("__Host-dampwatch_session=")
            .and_then(|rest| rest.split(';').next())
            .expect("a __Host- session cookie")
            .to_owned();
        Signed { cookie, csrf: reply.json["csrf_token"].as_str().unwrap().to_owned() }
    }
}
