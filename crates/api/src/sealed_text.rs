//! What people write on a case, sealed before it is stored and opened when it is shown
//! (`dampwatch_privacy::case_texts`): an event's evidence is stored as a reference to its
//! sealed text, under the landlord's case text key, which this service opens with the secrets
//! key it holds (the one that seals TOTP secrets), reading its landlord's key in the tenant
//! transaction. It never holds the operator's master key, so it can open no tenancy.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use dampwatch_alerts::deadlines::LATE_RECORD_KEY;
use dampwatch_privacy::case_texts::{self, KeyAccess, OpenedText, Reference};
use dampwatch_privacy::PrivacyError;
use dampwatch_store::read_model::case::CaseEventRecord;
use serde_json::Value;
use tokio_postgres::Transaction;

use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// The members of an event's evidence kept in clear: the reason of a late record, which the
/// deadlines computed without any key show beside the step it met.
const CLEAR: &[&str] = &[LATE_RECORD_KEY];

/// Why a text cannot be sealed or shown when the service holds no secrets key.
const NO_SECRETS_KEY: &str =
    "this service holds no secrets key, so it can neither seal nor open what officers write on a case";

/// `evidence` as it is stored for an event of case `case_id` of `landlord`: its free text sealed
/// (in `tx`, so it is stored with the event or not at all) and referred to. The case is locked
/// first, as the caller may see it: another landlord's, or one a contractor is not assigned, is
/// answered 404 before any key is touched; and two events recorded on one case at once queue on
/// the case's lock here, before the text's reference to the case takes a lock of its own that
/// the other's `FOR UPDATE` would wait for (a deadlock).
pub(crate) async fn seal(
    tx: &Transaction<'_>,
    state: &ApiState,
    landlord: &str,
    case_id: i64,
    evidence: Value,
) -> Result<Value, ApiError> {
    let has_text = evidence.as_object().is_some_and(|m| m.keys().any(|k| !CLEAR.contains(&k.as_str())));
    if !has_text {
        return Ok(evidence);
    }
    tx.query_opt("SELECT 1 FROM cases WHERE id = $1 FOR UPDATE", &[&case_id])
        .await?
        .ok_or_else(|| ApiError::not_found("case", case_id))?;
    let Some(secrets) = state.secrets_key() else {
        // Not "retry later": the service must be configured.
        return Err(ApiError::problem(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no-secrets-key",
            "Evidence cannot be sealed here",
            NO_SECRETS_KEY,
        )));
    };
    case_texts::seal_evidence(tx, secrets, KeyAccess::Tenant, landlord, case_id, evidence, CLEAR)
        .await
        .map_err(privacy_error)
}

/// Every sealed text of case `case_id`, opened, by id (each one that does not open says why).
async fn open(
    tx: &Transaction<'_>,
    state: &ApiState,
    case_id: i64,
    events: &[CaseEventRecord],
) -> Result<BTreeMap<i64, Result<OpenedText, PrivacyError>>, ApiError> {
    let referred: Vec<i64> = events.iter().filter_map(|e| Reference::of(&e.evidence)).map(|r| r.id).collect();
    if referred.is_empty() {
        return Ok(BTreeMap::new());
    }
    let Some(secrets) = state.secrets_key() else {
        let why = || Err(PrivacyError::Unavailable(NO_SECRETS_KEY.into()));
        return Ok(referred.into_iter().map(|id| (id, why())).collect());
    };
    case_texts::open_case(tx, secrets, case_id).await.map_err(privacy_error)
}

/// The sealed texts of case `case_id` that open, by id (what an evidence pack carries).
pub(crate) async fn opened(
    tx: &Transaction<'_>,
    state: &ApiState,
    case_id: i64,
) -> Result<BTreeMap<i64, OpenedText>, ApiError> {
    let Some(secrets) = state.secrets_key() else {
        return Ok(BTreeMap::new());
    };
    let texts = case_texts::open_case(tx, secrets, case_id).await.map_err(privacy_error)?;
    Ok(texts.into_iter().filter_map(|(id, text)| Some((id, text.ok()?))).collect())
}

/// The events with their evidence as people gave it (or, where a text cannot be opened, the
/// reference saying why).
pub(crate) async fn reveal(
    tx: &Transaction<'_>,
    state: &ApiState,
    case_id: i64,
    events: &mut [CaseEventRecord],
) -> Result<(), ApiError> {
    let texts = open(tx, state, case_id, events).await?;
    if texts.is_empty() {
        return Ok(());
    }
    for e in events.iter_mut() {
        e.evidence = case_texts::reveal(&e.evidence, &texts);
    }
    Ok(())
}

fn privacy_error(e: PrivacyError) -> ApiError {
    match e {
        PrivacyError::Db(e) => ApiError::from(e),
        // An erased landlord's officers cannot add personal data it could never open.
        e @ PrivacyError::KeyErased { .. } => ApiError::Unprocessable(e.to_string()),
        other => ApiError::Internal(other.to_string()),
    }
}
