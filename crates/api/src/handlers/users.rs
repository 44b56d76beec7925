//! A landlord admin's management of their landlord's people: list, create, change role,
//! disable or re-enable, and reset a lost second factor.
//!
//! Listing and changes run in the tenant transaction, where row-level security shows only the
//! landlord's users and refuses making an operator; the two steps that need secrets the tenant
//! role cannot touch (a new user's password-setup token, clearing a second factor) run as the
//! service role, only after the tenant transaction has shown the user is the landlord's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::users::{self, NewUser};
use dampwatch_accounts::{lockout, mfa, session};
use dampwatch_accounts::{Role, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::me::user_error;
use crate::audit::{record, Entry};
use crate::extract::{parse_id, JsonBody};
use crate::openapi::ProblemDocument;
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// List users
///
/// The landlord's people, by e-mail address.
#[utoipa::path(get, path = "/v1/users", operation_id = "listUsers", tag = "users",
    responses((status = 200, description = "The landlord's users.", body = Vec<User>)))]
pub async fn list(mut tenant: Tenant) -> Result<Json<Vec<User>>, ApiError> {
    let tx = tenant.transaction().await?;
    let list = users::list(&*tx, None).await.map_err(user_error)?;
    tx.commit().await?;
    Ok(Json(list))
}

/// A person to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    pub email: String,
    pub display_name: String,
    /// landlord_admin, housing_officer, contractor or auditor.
    pub role: String,
}

/// A new user and how they set their first password.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub user: User,
    /// Give this to the person: with it they set their password (`POST /v1/password-reset`).
    /// It works once.
    pub password_setup_token: String,
    pub password_setup_expires_at: DateTime<Utc>,
}

/// Add a user
#[utoipa::path(post, path = "/v1/users", operation_id = "createUser", tag = "users",
    request_body = UserRequest,
    responses(
        (status = 201, description = "Created.", body = CreatedUser),
        (status = 422, description = "Not a valid user (address, name, role), or the address is taken.",
            body = ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    JsonBody(body): JsonBody<UserRequest>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let role: Role = body
        .role
        .parse()
        .map_err(|e: dampwatch_accounts::role::UnknownRole| ApiError::Unprocessable(e.to_string()))?;
    if !role.belongs_to_landlord() {
        return Err(ApiError::Forbidden(
            "operators are made with the operator's CLI, not by a landlord".into(),
        ));
    }
    let new = NewUser {
        landlord_id: Some(tenant.landlord_id().to_owned()),
        email: body.email,
        display_name: body.display_name,
        role,
    };
    let caller = tenant.caller().clone();
    let tx = tenant.transaction().await?;
    let user = users::create(&*tx, &new).await.map_err(user_error)?;
    record(
        &*tx,
        &Entry::of(&caller, "user.create", Some(format!("user:{}", user.id)), json!({"role": role.as_str()})),
    )
    .await?;
    tx.commit().await?;
    let (token, expires) = setup_token(&state, user.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser { user, password_setup_token: token, password_setup_expires_at: expires }),
    ))
}

async fn setup_token(state: &ApiState, user_id: i64) -> Result<(String, DateTime<Utc>), ApiError> {
    let now = state.now();
    let client = state.keys.pool().get().await?;
    let token = reset::issue(&**client, user_id, now, RESET_TOKEN_LIFETIME)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let lifetime = chrono::Duration::from_std(RESET_TOKEN_LIFETIME).unwrap_or(chrono::Duration::zero());
    Ok((token, now + lifetime))
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// landlord_admin, housing_officer, contractor or auditor.
    pub role: Option<String>,
    /// true disables the account (its sessions end at once); false enables it again.
    pub disabled: Option<bool>,
    /// true removes the second factor (for a lost phone): the person signs in with the password
    /// and enrols again. Check who is asking first (docs/security/asvs.md, 6.4.4).
    pub reset_mfa: Option<bool>,
    /// true lifts a lockout now.
    pub unlock: Option<bool>,
    /// true ends every session of the person.
    pub end_sessions: Option<bool>,
}

/// Change a user
#[utoipa::path(post, path = "/v1/users/{id}", operation_id = "updateUser", tag = "users",
    params(("id" = String, Path, description = "The user's id.")),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "The user as changed.", body = User),
        (status = 404, description = "No such user of this landlord.", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 422, description = "Not a valid change.", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UserUpdate>,
) -> Result<Json<User>, ApiError> {
    let id = parse_id("user", &id)?;
    let caller = tenant.caller().clone();
    if caller.session().is_some_and(|s| s.user_id == id) {
        return Err(ApiError::Unprocessable(
            "an admin cannot change their own role or account; ask another admin".into(),
        ));
    }
    let tx = tenant.transaction().await?;
    let mut user = users::get(&*tx, id).await.map_err(|_| ApiError::not_found("user", id))?;
    if let Some(role) = &body.role {
        let role: Role = role
            .parse()
            .map_err(|e: dampwatch_accounts::role::UnknownRole| ApiError::Unprocessable(e.to_string()))?;
        if !role.belongs_to_landlord() {
            return Err(ApiError::Forbidden("a landlord cannot make an operator".into()));
        }
        user = users::set_role(&*tx, id, role).await.map_err(user_error)?;
    }
    if let Some(disabled) = body.disabled {
        user = users::set_disabled(&*tx, id, disabled.then(|| state.now())).await.map_err(user_error)?;
    }
    let details = json!({"role": body.role, "disabled": body.disabled, "reset_mfa": body.reset_mfa,
                         "unlock": body.unlock, "end_sessions": body.end_sessions});
    record(&*tx, &Entry::of(&caller, "user.update", Some(format!("user:{id}")), details)).await?;
    tx.commit().await?;
    // The tenant transaction above showed the user is this landlord's; what follows touches
    // columns and tables only the service role may.
    let client = state.keys.pool().get().await?;
    if body.reset_mfa == Some(true) {
        mfa::reset(&**client, id).await.map_err(|e| ApiError::Internal(e.to_string()))?;
        user.mfa_enabled = false;
    }
    if body.unlock == Some(true) {
        lockout::unlock(&**client, id).await?;
        user.locked_until = None;
    }
    if body.end_sessions == Some(true) {
        session::end_all(&**client, id).await?;
    }
    Ok(Json(user))
}
