//! `GET /v1/tenancies/{id}/share?purpose=P`: a third party (an insurer, say) fetches a
//! tenancy's share, the archive `dampwatch tenancies share` writes: the home's rooms, readings,
//! alerts, cases and case events over the tenancy as CSV and JSON Lines, without the alerts'
//! and events' words, and never the tenants' names, contacts or notes, the home's address or
//! vulnerabilities, or the audit log.
//!
//! Only a third party's OAuth token reaches it (scope `share`, [`crate::routes::Access`]), and
//! it answers only under a consent recorded for that tenancy, naming the client's recipient and
//! this purpose, in force now (`sharing_consents`); otherwise 403, and another landlord's or an
//! unknown tenancy 404. Each share sent, and each refusal for want of a consent or of the
//! tenancy, is in the landlord's audit log with the consent relied on.
//!
//! The tenancy and the consent are found in the caller's tenant transaction; the share is read
//! on a service connection as the evidence reader (migration 0432: the landlord's rooms,
//! devices, readings, alerts, cases and homes, nothing else), in one repeatable-read snapshot,
//! written to a private temporary file and streamed from it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use dampwatch_audit::Outcome;
use dampwatch_privacy::consent::{allowed_share, write_share};
use dampwatch_privacy::PrivacyError;
use serde::Deserialize;
use serde_json::json;
use tokio_util::io::ReaderStream;
use utoipa::IntoParams;

use super::evidence::{as_evidence_reader, PACK_MEDIA_TYPE};
use crate::audit::{record, Entry};
use crate::extract::{parse_id, QueryParams};
use crate::openapi::ProblemDocument;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;
use crate::stats::ShareOutcome;
use crate::tenant::Tenant;

/// Longest purpose taken (consents name purposes in a few words).
const MAX_PURPOSE_CHARS: usize = 200;

/// The purpose of `GET /v1/tenancies/{id}/share` (any other parameter is refused).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShareQuery {
    /// What the data is for, exactly as the tenants' consent names it ("claim 77").
    #[param(min_length = 1, max_length = 200)]
    purpose: String,
}

/// Get a tenancy's share (third parties)
///
/// For a third party's OAuth client only: the home's data over the tenancy, under a consent the
/// tenants gave this client's recipient for this purpose, in force now. A tar archive of CSV and
/// JSON Lines with a README; it holds no names, contacts, notes, address or vulnerabilities,
/// and no words of alerts or case events.
#[utoipa::path(
    get,
    path = "/v1/tenancies/{id}/share",
    operation_id = "getTenancyShare",
    tag = "sharing",
    params(("id" = String, Path, pattern = "^[0-9]+$",
        description = "The tenancy's id. Another landlord's tenancy is answered 404, as an unknown one."),
        ShareQuery),
    responses(
        (status = 200, description = "The share.", content_type = "application/x-tar", body = Vec<u8>),
        (status = 400, description = "No purpose, or not a valid one.", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 403, description = "Not a third party's client, or no consent in force for its recipient and \
            this purpose.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such tenancy.", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    method: Method,
    mut tenant: Tenant,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<ShareQuery>,
) -> Result<Response, ApiError> {
    if method == Method::HEAD {
        // The router answers HEAD with the GET handler; a share would be built and audited as
        // sent without being sent.
        return Err(ApiError::problem(Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method Not Allowed",
            "a share is fetched with GET",
        )));
    }
    let id = parse_id("tenancy", &id)?;
    let purpose = query.purpose;
    if purpose.trim().is_empty()
        || purpose.chars().count() > MAX_PURPOSE_CHARS
        || purpose.chars().any(char::is_control)
    {
        return Err(ApiError::BadRequest(format!(
            "purpose must be 1 to {MAX_PURPOSE_CHARS} characters without control characters"
        )));
    }
    let caller = tenant.caller().clone();
    let recipient =
        caller.share_recipient().ok_or_else(|| ApiError::Forbidden("not a third party's client".into()))?;
    let landlord = tenant.landlord_id().to_owned();
    let target = Some(format!("tenancy:{id}"));
    let tx = tenant.transaction().await?;
    let (span, consent) = match allowed_share(&*tx, id, recipient, &purpose, state.now()).await {
        Ok(found) => found,
        Err(refused @ (PrivacyError::NoConsent { .. } | PrivacyError::UnknownTenancy(_))) => {
            let (reason, outcome) = if matches!(refused, PrivacyError::NoConsent { .. }) {
                ("no consent", ShareOutcome::NoConsent)
            } else {
                ("unknown tenancy", ShareOutcome::UnknownTenancy)
            };
            state.stats.share(outcome);
            let details = json!({"recipient": recipient, "purpose": purpose, "reason": reason});
            record(
                &*tx,
                &Entry::of(&caller, "tenancy.share", target, details).with_outcome(Outcome::Refused),
            )
            .await?;
            tx.commit().await?;
            return Err(match refused {
                PrivacyError::UnknownTenancy(_) => ApiError::not_found("tenancy", id),
                other => ApiError::problem(Problem::new(
                    StatusCode::FORBIDDEN,
                    "no-consent",
                    "No consent in force",
                    format!("{other}; the landlord records the tenants' consent first"),
                )),
            });
        }
        Err(e) => return Err(ApiError::Internal(format!("share of tenancy {id}: {e}"))),
    };

    let dir = tempfile::tempdir().map_err(|e| ApiError::Internal(format!("share of tenancy {id}: {e}")))?;
    let path = dir.path().join("share.tar");
    let mut service = state.pool.get().await.map_err(|e| ApiError::Unavailable(format!("database: {e}")))?;
    let snapshot = dampwatch_store::read_only_snapshot(&mut service).await?;
    as_evidence_reader(&snapshot, &landlord).await?;
    let summary = write_share(&snapshot, &span, &path)
        .await
        .map_err(|e| ApiError::Internal(format!("share of tenancy {id}: {e}")))?;
    snapshot.commit().await?;
    // Opened before the directory goes: the open file is read to its end after its name is
    // removed, and nothing is left behind if the client goes away.
    let file =
        std::fs::File::open(&path).map_err(|e| ApiError::Internal(format!("share of tenancy {id}: {e}")))?;
    let bytes = file.metadata().map_err(|e| ApiError::Internal(format!("share of tenancy {id}: {e}")))?.len();
    drop(dir);

    let rows: serde_json::Map<String, serde_json::Value> =
        summary.rows.iter().map(|(name, n)| ((*name).to_owned(), json!(n))).collect();
    let details = json!({
        "recipient": recipient,
        "purpose": purpose,
        "consent": consent.id,
        "rows": rows,
        "bytes": bytes,
    });
    record(&*tx, &Entry::of(&caller, "tenancy.share", target, details)).await?;
    tx.commit().await?;
    state.stats.share(ShareOutcome::Sent);

    let stream = ReaderStream::new(tokio::fs::File::from_std(file));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PACK_MEDIA_TYPE));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"tenancy-{id}-share.tar\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
