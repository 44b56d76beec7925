//! `POST /v1/cases/{id}/assign`: give a case to a person (a contractor doing the works, an
//! officer owning it), or take it back. A contractor sees only the cases assigned to them.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{record, Entry};
use crate::extract::{parse_id, JsonBody};
use crate::openapi::ProblemDocument;
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Who the case goes to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// A user of this landlord (a contractor or housing officer); null takes the case back.
    pub user_id: Option<i64>,
}

/// The case's assignment as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assigned {
    pub case_id: i64,
    pub user_id: Option<i64>,
}

/// Assign a case
#[utoipa::path(post, path = "/v1/cases/{id}/assign", operation_id = "assignCase", tag = "cases",
    params(("id" = String, Path, description = "The case's id.")),
    request_body = Assignment,
    responses(
        (status = 200, description = "Assigned.", body = Assigned),
        (status = 404, description = "No such case of this landlord.", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 422, description = "No such user of this landlord, or one who cannot work a case.",
            body = ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn post(
    State(_state): State<ApiState>,
    mut tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Assignment>,
) -> Result<Json<Assigned>, ApiError> {
    let id = parse_id("case", &id)?;
    let caller = tenant.caller().clone();
    let tx = tenant.transaction().await?;
    if let Some(user_id) = body.user_id {
        let row = tx
            .query_opt("SELECT role FROM users WHERE id = $1 AND disabled_at IS NULL", &[&user_id])
            .await?
            .ok_or_else(|| ApiError::Unprocessable(format!("no active user {user_id} of this landlord")))?;
        let role: String = row.get(0);
        if role != "contractor" && role != "housing_officer" {
            return Err(ApiError::Unprocessable(format!(
                "a {role} does not work cases: assign a contractor or an officer"
            )));
        }
    }
    let n = tx.execute("UPDATE cases SET assigned_user_id = $2 WHERE id = $1", &[&id, &body.user_id]).await?;
    if n == 0 {
        return Err(ApiError::not_found("case", id));
    }
    record(
        &*tx,
        &Entry::of(&caller, "case.assign", Some(format!("case:{id}")), json!({"user_id": body.user_id})),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Assigned { case_id: id, user_id: body.user_id }))
}
