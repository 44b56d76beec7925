//! E-mail notifications: a signed-in person's own preferences (`GET/PUT
//! /v1/me/notifications`), and for a landlord's admins the e-mails that failed and the
//! addresses that bounce (`GET /v1/email/failures`).
//!
//! A person's preferences run as the service's role on the key-lookup pool, touching only the
//! caller's own row (as the rest of their own account does); the failures are read in a tenant
//! transaction, so row-level security confines them to the caller's landlord.

use axum::extract::State;
use axum::Json;
use dampwatch_alerts::email::admin::{
    self, Bounce, EffectivePreferences, EmailFailure, NotificationPreferences,
};
use dampwatch_alerts::error::AlertsError;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::signin::CallerOf;
use crate::audit::{record, Entry};
use crate::caller::Caller;
use crate::extract::JsonBody;
use crate::openapi::ProblemDocument;
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// How many failures `GET /v1/email/failures` lists, newest first.
const FAILURES_LISTED: i64 = 200;

fn internal(e: AlertsError) -> ApiError {
    ApiError::Internal(format!("e-mail: {e}"))
}

fn own_user(caller: &Caller) -> Result<i64, ApiError> {
    caller
        .session()
        .map(|s| s.user_id)
        .ok_or_else(|| ApiError::Forbidden("these are a person's own settings: sign in to use them".into()))
}

fn no_landlord() -> ApiError {
    ApiError::Forbidden("e-mail notifications are for people of a landlord".into())
}

/// My e-mail notifications
///
/// What the signed-in person receives by e-mail: immediate e-mails for anything that starts or
/// changes a legal clock, and the daily digest (advisory alerts, deadlines due in the next two
/// working days). Until they choose, their role's defaults apply.
#[utoipa::path(get, path = "/v1/me/notifications", operation_id = "getMyNotifications", tag = "account",
    responses(
        (status = 200, description = "The preferences in force.", body = EffectivePreferences),
        (status = 403, description = "Not a person of a landlord (an operator).", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn get_mine(
    State(state): State<ApiState>,
    CallerOf(caller): CallerOf,
) -> Result<Json<EffectivePreferences>, ApiError> {
    let user_id = own_user(&caller)?;
    let client = state.keys.pool().get().await?;
    admin::preferences(&**client, user_id).await.map_err(internal)?.map(Json).ok_or_else(no_landlord)
}

/// Set my e-mail notifications
///
/// Chooses immediate e-mails and the daily digest; audited.
#[utoipa::path(put, path = "/v1/me/notifications", operation_id = "setMyNotifications", tag = "account",
    request_body = NotificationPreferences,
    responses(
        (status = 200, description = "The preferences now in force.", body = EffectivePreferences),
        (status = 403, description = "Not a person of a landlord (an operator).", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 422, description = "Both choices are needed, and nothing else.", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn put_mine(
    State(state): State<ApiState>,
    CallerOf(caller): CallerOf,
    JsonBody(body): JsonBody<NotificationPreferences>,
) -> Result<Json<EffectivePreferences>, ApiError> {
    let user_id = own_user(&caller)?;
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    if !admin::set_preferences(&*tx, user_id, body).await.map_err(internal)? {
        return Err(no_landlord());
    }
    let details = json!({"immediate": body.immediate, "daily_digest": body.daily_digest});
    record(&*tx, &Entry::of(&caller, "notifications.update", Some(format!("user:{user_id}")), details))
        .await?;
    let now = admin::preferences(&*tx, user_id).await.map_err(internal)?.ok_or_else(no_landlord)?;
    tx.commit().await?;
    Ok(Json(now))
}

/// The landlord's e-mail failures and bounced addresses.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailFailures {
    /// E-mails given up on (refused for good, or out of attempts), not sent because the address
    /// bounces, or being retried after a failed attempt; newest first.
    pub failures: Vec<EmailFailure>,
    /// Addresses with a bounce not cleared: not mailed until an operator clears it.
    pub bounces: Vec<Bounce>,
}

/// E-mail failures
///
/// The landlord's e-mails that failed or are being retried, with the SMTP server's reply, and
/// the addresses that bounce.
#[utoipa::path(get, path = "/v1/email/failures", operation_id = "listEmailFailures", tag = "email",
    responses((status = 200, description = "Failures and bounces.", body = EmailFailures)))]
pub async fn failures(mut tenant: Tenant) -> Result<Json<EmailFailures>, ApiError> {
    let tx = tenant.transaction().await?;
    let failures = admin::failures(&*tx, FAILURES_LISTED).await.map_err(internal)?;
    let bounces = admin::bounces(&*tx).await.map_err(internal)?;
    tx.commit().await?;
    Ok(Json(EmailFailures { failures, bounces }))
}
