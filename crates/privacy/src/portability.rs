//! Portability: a landlord's whole data, to take to another system. One tar archive of every
//! table it owns, each as CSV and JSON Lines (as [`crate::access`] writes them), read in one
//! repeatable-read snapshot, in UTC, with its tenancies' personal data opened. Never secrets:
//! password hashes, second-factor secrets, API key and token hashes, webhook signing secrets
//! and data keys stay behind (the new system issues its own).

use std::path::Path;

use tokio_postgres::Client;

use crate::access::{archive, copy_csv, copy_jsonl, utc_snapshot, write_file, AccessSummary};
use crate::error::PrivacyError;
use crate::master::MasterKey;
use crate::secrets_key::SecretsKey;

/// Writes landlord `landlord`'s archive to `out`, its personal data opened with `master` and
/// what officers wrote on its cases with `secrets` (the services' secrets key).
pub async fn export_landlord(
    client: &mut Client,
    master: &dyn MasterKey,
    secrets: Option<&SecretsKey>,
    landlord: &str,
    out: &Path,
) -> Result<AccessSummary, PrivacyError> {
    let tx = utc_snapshot(client).await?;
    if tx.query_opt("SELECT 1 FROM landlords WHERE id = $1", &[&landlord]).await?.is_none() {
        return Err(PrivacyError::UnknownLandlord(landlord.to_owned()));
    }
    // COPY takes no parameters: the id goes in as a quoted literal.
    let l = format!("'{}'", landlord.replace('\'', "''"));
    let devices = format!("SELECT id FROM devices WHERE landlord_id = {l}");
    let datasets: Vec<(&'static str, String)> = vec![
        ("landlord", format!("SELECT id, name, case_policy, created_at FROM landlords WHERE id = {l}")),
        // A home's sealed record of its occupants goes opened, in homes_occupants.json.
        (
            "homes",
            format!(
                "SELECT id, landlord_id, reference, address, jurisdiction, tenure, area, occupant_rules
                 FROM dwellings WHERE landlord_id = {l} ORDER BY id"
            ),
        ),
        ("rooms", format!("SELECT r.* FROM rooms r JOIN dwellings d ON d.id = r.dwelling_id WHERE d.landlord_id = {l} ORDER BY r.id")),
        (
            "devices",
            format!(
                "SELECT id, room_id, key_id, encode(signing_public_key, 'hex') AS signing_public_key, cert_serial, status,
                        provisioned_at, revoked_at
                 FROM devices WHERE landlord_id = {l} ORDER BY id"
            ),
        ),
        (
            "readings",
            format!(
                "SELECT device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
                        temperature_centi_c / 100.0 AS temperature_c, rh_centi_pct / 100.0 AS rh_pct,
                        surface_temperature_centi_c / 100.0 AS surface_temperature_c, co2_ppm, battery_mv, status,
                        encode(uplink_digest, 'hex') AS uplink_digest
                 FROM readings WHERE device_id IN ({devices}) ORDER BY device_id, boot, seq"
            ),
        ),
        (
            "uplinks",
            format!(
                "SELECT encode(digest, 'hex') AS digest, device_id, key_id, encode(payload, 'base64') AS payload,
                        encode(signature, 'base64') AS signature, received_at
                 FROM uplinks WHERE device_id IN ({devices}) ORDER BY received_at, digest"
            ),
        ),
        ("alerts", format!("SELECT * FROM alerts WHERE landlord_id = {l} ORDER BY id")),
        (
            "alert_episodes",
            format!("SELECT e.* FROM alert_episodes e JOIN alerts a ON a.id = e.alert_id WHERE a.landlord_id = {l} ORDER BY e.alert_id"),
        ),
        ("cases", format!("SELECT * FROM cases WHERE landlord_id = {l} ORDER BY id")),
        (
            "case_events",
            format!(
                "SELECT case_id, seq, kind, affects_clock, event, occurred_at, recorded_at, actor, evidence,
                        encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
                 FROM case_events WHERE landlord_id = {l} ORDER BY case_id, seq"
            ),
        ),
        (
            "case_deadlines",
            format!("SELECT d.* FROM case_deadlines d JOIN cases c ON c.id = d.case_id WHERE c.landlord_id = {l} ORDER BY d.case_id"),
        ),
        (
            "people",
            format!(
                "SELECT id, email, display_name, role, mfa_enabled, disabled_at, created_at
                 FROM users WHERE landlord_id = {l} ORDER BY id"
            ),
        ),
        (
            "webhook_endpoints",
            format!("SELECT id, url, active, description, created_at FROM webhook_endpoints WHERE landlord_id = {l} ORDER BY id"),
        ),
        ("legal_holds", format!("SELECT * FROM legal_holds WHERE landlord_id = {l} ORDER BY id")),
        ("sharing_consents", format!("SELECT * FROM sharing_consents WHERE landlord_id = {l} ORDER BY id")),
        (
            "audit",
            format!(
                "SELECT seq, at, actor, source, action, target, outcome, details, encode(hash, 'hex') AS hash
                 FROM audit_log WHERE landlord_id = {l} ORDER BY seq"
            ),
        ),
    ];
    let dir = tempfile::tempdir().map_err(|e| PrivacyError::Export(e.to_string()))?;
    let mut summary = AccessSummary::default();
    let mut names =
        vec!["README.txt".to_owned(), "tenancies.json".to_owned(), "homes_occupants.json".to_owned()];
    for (name, query) in &datasets {
        copy_csv(&tx, query, &dir.path().join(format!("{name}.csv"))).await?;
        let n = copy_jsonl(&tx, query, &dir.path().join(format!("{name}.jsonl"))).await?;
        summary.rows.push((name, n));
        names.push(format!("{name}.csv"));
        names.push(format!("{name}.jsonl"));
    }
    // Tenancies opened (their personal data is the landlord's to take along).
    let ids: Vec<i64> = tx
        .query("SELECT id FROM tenancies WHERE landlord_id = $1 ORDER BY id", &[&landlord])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut tenancies = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(t) = crate::tenancy::open_tenancy(&tx, master, *id).await? {
            tenancies.push(serde_json::json!({
                "id": t.id, "home": t.dwelling_reference, "starts_on": t.starts_on, "ends_on": t.ends_on,
                "personal": serde_json::to_value(&t.personal)?,
            }));
        }
    }
    summary.rows.push(("tenancies", tenancies.len() as u64));
    let homes = tx
        .query(
            "SELECT id, reference FROM dwellings
             WHERE landlord_id = $1 AND (occupants IS NOT NULL OR cardinality(unsealed_vulnerabilities) > 0)
             ORDER BY id",
            &[&landlord],
        )
        .await?;
    let mut occupants = Vec::with_capacity(homes.len());
    for home in &homes {
        let vulnerabilities = crate::occupants::open_occupants(&tx, master, landlord, home.get(0)).await?;
        occupants
            .push(serde_json::json!({"home": home.get::<_, String>(1), "vulnerabilities": vulnerabilities}));
    }
    summary.rows.push(("homes_occupants", occupants.len() as u64));
    let case_ids: Vec<i64> = tx
        .query("SELECT id FROM cases WHERE landlord_id = $1 ORDER BY id", &[&landlord])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let texts = crate::case_texts::archive_rows(&tx, secrets, &case_ids).await?;
    summary.rows.push(("case_event_texts", texts.len() as u64));
    names.push("case_event_texts.json".to_owned());
    tx.commit().await?;
    write_file(&dir.path().join("case_event_texts.json"), serde_json::to_vec_pretty(&texts)?.as_slice())?;
    write_file(&dir.path().join("tenancies.json"), serde_json::to_vec_pretty(&tenancies)?.as_slice())?;
    write_file(&dir.path().join("homes_occupants.json"), serde_json::to_vec_pretty(&occupants)?.as_slice())?;
    let mut readme = format!(
        "Everything Dampwatch holds for landlord {landlord}, in one snapshot (UTC). Each dataset is given \
         as CSV and as JSON Lines with the same rows; tenancies.json holds the tenancies with their \
         people's details opened, homes_occupants.json each home's recorded vulnerabilities opened, case_event_texts.json what \
         officers wrote on the cases' events opened (an event's evidence refers to it by sealed_text.id).\n\n"
    );
    for (name, n) in &summary.rows {
        readme.push_str(&format!("  {name:<18} {n} rows\n"));
    }
    readme.push_str(
        "\nNot included: password hashes, second-factor secrets, API key and token hashes, webhook \
         signing secrets and data keys (the receiving system issues its own). Uplinks are the signed \
         messages as received (payload and signature in base64); devices carry their public keys, so \
         every reading can be re-verified elsewhere.\n",
    );
    write_file(&dir.path().join("README.txt"), readme.as_bytes())?;
    archive(dir.path(), &names, out)?;
    Ok(summary)
}
