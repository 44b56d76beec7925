//! A landlord admin's machine credentials: API keys and OAuth clients, made (the secret shown
//! once), listed and revoked, in the tenant transaction (row-level security keeps each landlord
//! to its own), each change audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{record, Entry};
use crate::extract::{parse_id, JsonBody};
use crate::keys::{
    create_key, list_api_keys, ApiKeyError, ApiKeyInfo, KeySpec, Scopes, DEFAULT_KEY_LIFETIME_DAYS,
};
use crate::oauth::{
    create_client, list_clients, revoke_client, ClientGrant, ClientInfo, NewClient, SHARE_SCOPE,
};
use crate::openapi::ProblemDocument;
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

fn key_error(e: ApiKeyError) -> ApiError {
    match e {
        ApiKeyError::Db(e) => e.into(),
        ApiKeyError::Random => ApiError::Internal(e.to_string()),
        other => ApiError::Unprocessable(other.to_string()),
    }
}

/// A key or client to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// What it is for ("housing management system").
    pub label: String,
    /// `read` or `read write` (default `read`); for a third party's client, `share` or nothing.
    pub scope: Option<String>,
    /// OAuth clients only: registers a third party's client (an insurer, say) for this
    /// recipient, exactly as the tenants' consents name it. It may only fetch tenancies'
    /// shares under those consents (`GET /v1/tenancies/{id}/share`) and read nothing else.
    pub recipient: Option<String>,
    /// Keys only: days until it stops working (default 90, at most 365).
    pub expires_in_days: Option<i64>,
}

/// A new key, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKey {
    /// Present as `Authorization: Bearer <key>`. Shown this once: only its hash is kept.
    pub key: String,
    pub info: ApiKeyInfo,
}

/// List API keys
#[utoipa::path(get, path = "/v1/api-keys", operation_id = "listApiKeys", tag = "credentials",
    responses((status = 200, description = "The landlord's keys (never the keys themselves).", body = Vec<ApiKeyInfo>)))]
pub async fn list_keys(mut tenant: Tenant) -> Result<Json<Vec<ApiKeyInfo>>, ApiError> {
    let tx = tenant.transaction().await?;
    let keys = list_api_keys(&*tx, None).await.map_err(key_error)?;
    tx.commit().await?;
    Ok(Json(keys))
}

/// Make an API key
#[utoipa::path(post, path = "/v1/api-keys", operation_id = "createApiKey", tag = "credentials",
    request_body = CredentialRequest,
    responses(
        (status = 201, description = "The key, shown once.", body = NewKey),
        (status = 422, description = "Not a valid label, scope or lifetime.", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn create_key_handler(
    State(_state): State<ApiState>,
    mut tenant: Tenant,
    JsonBody(body): JsonBody<CredentialRequest>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    if body.recipient.is_some() {
        return Err(ApiError::Unprocessable(
            "a recipient names a third party's OAuth client (POST /v1/oauth-clients); API keys are the landlord's own"
                .into(),
        ));
    }
    let scopes = Scopes::parse(body.scope.as_deref().unwrap_or("read")).map_err(key_error)?;
    let landlord = tenant.landlord_id().to_owned();
    let caller = tenant.caller().clone();
    let spec = KeySpec {
        landlord: &landlord,
        label: &body.label,
        scopes,
        lifetime_days: body.expires_in_days.unwrap_or(DEFAULT_KEY_LIFETIME_DAYS),
    };
    let tx = tenant.transaction().await?;
    let key = create_key(&*tx, &spec).await.map_err(key_error)?;
    let info = list_api_keys(&*tx, None)
        .await
        .map_err(key_error)?
        .into_iter()
        .max_by_key(|k| k.id)
        .ok_or_else(|| ApiError::Internal("the new key is not listed".into()))?;
    let details = json!({"scope": scopes.names().join(" "), "expires_at": info.expires_at});
    record(&*tx, &Entry::of(&caller, "api_key.create", Some(format!("key:{}", info.id)), details)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(NewKey { key, info })))
}

/// Revoke an API key
#[utoipa::path(delete, path = "/v1/api-keys/{id}", operation_id = "revokeApiKey", tag = "credentials",
    params(("id" = String, Path, description = "The key's id.")),
    responses(
        (status = 204, description = "Revoked (it stops working within the key cache's time)."),
        (status = 404, description = "No such key of this landlord.", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn revoke_key(mut tenant: Tenant, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = parse_id("API key", &id)?;
    let caller = tenant.caller().clone();
    let tx = tenant.transaction().await?;
    let n = tx
        .execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", &[&id])
        .await?;
    if n == 0 {
        return Err(ApiError::not_found("API key", id));
    }
    record(&*tx, &Entry::of(&caller, "api_key.revoke", Some(format!("key:{id}")), json!({}))).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List OAuth clients
#[utoipa::path(get, path = "/v1/oauth-clients", operation_id = "listOAuthClients", tag = "credentials",
    responses((status = 200, description = "The landlord's clients (never their secrets).", body = Vec<ClientInfo>)))]
pub async fn list_oauth_clients(mut tenant: Tenant) -> Result<Json<Vec<ClientInfo>>, ApiError> {
    let tx = tenant.transaction().await?;
    let clients = list_clients(&*tx).await.map_err(key_error)?;
    tx.commit().await?;
    Ok(Json(clients))
}

/// Register an OAuth client
///
/// For a housing-management system: it exchanges the id and secret at `POST /oauth/token` for
/// short-lived bearer tokens. With a `recipient`, for a third party instead: its tokens only
/// fetch tenancies' shares under a consent naming that recipient.
#[utoipa::path(post, path = "/v1/oauth-clients", operation_id = "createOAuthClient", tag = "credentials",
    request_body = CredentialRequest,
    responses(
        (status = 201, description = "The client's credentials, the secret shown once.", body = NewClient),
        (status = 422, description = "Not a valid label or scope.", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn create_oauth_client(
    mut tenant: Tenant,
    JsonBody(body): JsonBody<CredentialRequest>,
) -> Result<(StatusCode, Json<NewClient>), ApiError> {
    if body.expires_in_days.is_some() {
        return Err(ApiError::Unprocessable(
            "a client does not expire; its tokens do (revoke the client to stop it)".into(),
        ));
    }
    let grant = match body.recipient.as_deref() {
        Some(recipient) => match body.scope.as_deref().map(str::trim) {
            None | Some(SHARE_SCOPE) => ClientGrant::Share { recipient },
            Some(_) => {
                return Err(ApiError::Unprocessable(
                    "a third party's client (with a recipient) holds the scope share alone".into(),
                ))
            }
        },
        None => {
            ClientGrant::System(Scopes::parse(body.scope.as_deref().unwrap_or("read")).map_err(key_error)?)
        }
    };
    let landlord = tenant.landlord_id().to_owned();
    let caller = tenant.caller().clone();
    let tx = tenant.transaction().await?;
    let client = create_client(&*tx, &landlord, &body.label, grant).await.map_err(key_error)?;
    let details = json!({"scope": grant.names().join(" "), "recipient": client.recipient});
    record(&*tx, &Entry::of(&caller, "oauth_client.create", Some(format!("client:{}", client.id)), details))
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(client)))
}

/// Revoke an OAuth client
#[utoipa::path(delete, path = "/v1/oauth-clients/{id}", operation_id = "revokeOAuthClient", tag = "credentials",
    params(("id" = String, Path, description = "The client's id (the number, as listed).")),
    responses(
        (status = 204, description = "Revoked, with every token it holds."),
        (status = 404, description = "No such client of this landlord.", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn revoke_oauth_client(mut tenant: Tenant, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = parse_id("OAuth client", &id)?;
    let caller = tenant.caller().clone();
    let tx = tenant.transaction().await?;
    if !revoke_client(&*tx, id).await.map_err(key_error)? {
        return Err(ApiError::not_found("OAuth client", id));
    }
    record(&*tx, &Entry::of(&caller, "oauth_client.revoke", Some(format!("client:{id}")), json!({}))).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
