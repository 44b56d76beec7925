//! People who sign in: users of a landlord (or platform operators) and their [`role`]s,
//! [`password`]s (argon2id), the TOTP second factor ([`totp`], [`mfa`]), [`session`]s kept in
//! PostgreSQL, [`lockout`] after repeated failures, and password [`reset`] tokens.
//!
//! What it must never do: store or log a password, session id, token or recovery code in
//! clear; tell from outside whether an e-mail address has an account; accept a TOTP code twice;
//! lock an account forever.
//!
//! The HTTP side (cookies, CSRF, endpoints) is in `dampwatch-api`; the operator's commands in
//! `dampwatch-cli`.

pub mod lockout;
pub mod mfa;
pub mod password;
pub mod reset;
pub mod role;
pub mod session;
pub mod signin;
pub mod token;
pub mod totp;
pub mod totp_secret;
pub mod users;

pub use lockout::LockoutPolicy;
pub use password::Password;
pub use role::{Permission, Role};
pub use session::{Session, SessionPolicy};
pub use signin::{sign_in, Credentials, Origin, Refusal, SecondFactor, SignIn};
pub use users::{NewUser, User, UserError};
