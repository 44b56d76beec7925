//! `GET /v1/cases/{id}/evidence`: the case's sealed evidence pack (`dampwatch evidence
//! export`'s archive: the readings as the devices signed them, the certificates and CRL, the
//! hash-chained events, every deadline with the law data it was computed from and a summary),
//! which `dampwatch evidence verify` or the independent script checks offline. The dashboard's
//! case page downloads the same pack.
//!
//! The case is looked up in the caller's tenant transaction first, so another landlord's case
//! is "not found" like an unknown one; the pack itself is read on a service connection (it
//! takes the devices' registry and uplinks, which the tenant role cannot read) in one
//! repeatable-read snapshot, as the evidence reader role (migration 0432): SELECT on what a
//! pack holds and nothing else, and only the caller's landlord's rows. Every export is in the
//! audit log.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dampwatch_evidence::{build, ExportOptions, PackSigner};
use dampwatch_store::read_model::case;
use serde_json::json;

use crate::audit::{record, Entry};
use crate::extract::parse_id;
use crate::openapi::ProblemDocument;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;
use crate::tenant::Tenant;

/// The media type of a pack (an uncompressed POSIX tar).
pub const PACK_MEDIA_TYPE: &str = "application/x-tar";

/// Get a case's evidence pack
///
/// A tar archive sealed with the platform's audit key; `dampwatch evidence verify` checks it
/// offline, and `docs/verify_evidence_pack.py` without Dampwatch's code.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/evidence",
    operation_id = "getCaseEvidence",
    tag = "cases",
    params(("id" = String, Path, pattern = "^[0-9]+$",
        description = "The case's id. An id of another landlord's case is answered 404, as an unknown one.")),
    responses(
        (status = 200, description = "The sealed evidence pack.", content_type = "application/x-tar",
            body = Vec<u8>),
        (status = 404, description = "No such case.", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 503, description = "This service holds no audit key to seal packs with.",
            body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("case", &id)?;
    let pack = pack(&state, tenant, id).await?;
    Ok(download(id, pack))
}

/// The sealed pack of case `id` as `tenant` may see it, the export recorded in the audit log.
pub(crate) async fn pack(state: &ApiState, mut tenant: Tenant, id: i64) -> Result<Vec<u8>, ApiError> {
    let caller = tenant.caller().clone();
    let landlord = tenant.landlord_id().to_owned();
    let tx = tenant.transaction().await?;
    case::find(&*tx, id).await?.ok_or_else(|| ApiError::not_found("case", id))?;
    // What officers wrote, opened here (the tenant's transaction reads its landlord's keys);
    // a text that does not open goes into the pack as its digest only.
    let texts = crate::sealed_text::opened(&tx, state, id).await?;
    let source =
        state.evidence.clone().ok_or_else(|| unavailable("this service has no PKI directory configured"))?;
    let signer = PackSigner::load(&source.pki_dir).map_err(|e| {
        tracing::warn!(error = %e, "evidence pack: the audit key");
        unavailable("this service cannot load its audit key")
    })?;
    let options = ExportOptions {
        clock: source.clock.clone(),
        now: Some(state.now()),
        texts,
        ..ExportOptions::default()
    };
    let mut service = state.pool.get().await.map_err(|e| ApiError::Unavailable(format!("database: {e}")))?;
    let snapshot = dampwatch_store::read_only_snapshot(&mut service).await?;
    as_evidence_reader(&snapshot, &landlord).await?;
    let (pack, summary) = build(&snapshot, &source.pki_dir, id, &options, &signer)
        .await
        .map_err(|e| ApiError::Internal(format!("evidence pack of case {id}: {e}")))?;
    snapshot.commit().await?;
    let mtime = state.now().timestamp().max(0) as u64;
    let mut bytes = Vec::new();
    pack.write(&mut bytes, mtime)
        .map_err(|e| ApiError::Internal(format!("evidence pack of case {id}: {e}")))?;
    let details = json!({
        "uplinks": summary.uplinks,
        "readings": summary.readings,
        "events": summary.events,
        "texts_opened": summary.texts,
        "deadlines": summary.deadlines,
        "sealed_by": summary.key_id,
        "bytes": bytes.len(),
    });
    record(&*tx, &Entry::of(&caller, "case.evidence_export", Some(format!("case:{id}")), details)).await?;
    tx.commit().await?;
    Ok(bytes)
}

/// Makes the rest of `snapshot` run as the evidence reader for `landlord` (migration 0432):
/// SELECT on what a pack or a share holds and only that landlord's rows. SET LOCAL: undone at
/// the end of the snapshot, so the pooled connection is the service's again.
pub(crate) async fn as_evidence_reader(
    snapshot: &tokio_postgres::Transaction<'_>,
    landlord: &str,
) -> Result<(), ApiError> {
    snapshot
        .execute(
            "SELECT set_config('role', $1, true), set_config('dampwatch.landlord', $2, true)",
            &[&dampwatch_store::roles::EVIDENCE_ROLE, &landlord],
        )
        .await?;
    Ok(())
}

/// Why no pack can be sealed here, with the way that still works.
fn unavailable(why: &str) -> ApiError {
    ApiError::problem(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "evidence-unavailable",
        "Evidence packs unavailable",
        format!(
            "{why} to seal evidence packs with; an operator can export one with `dampwatch evidence export`"
        ),
    ))
}

/// The pack as a download named after the case.
pub(crate) fn download(id: i64, pack: Vec<u8>) -> Response {
    let name = format!("attachment; filename=\"case-{id}-evidence.tar\"");
    let mut response = pack.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PACK_MEDIA_TYPE));
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
