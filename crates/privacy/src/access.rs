//! Subject access: everything held about one tenancy, in one archive a tenant can read.
//!
//! The archive (`tar`) holds the tenancy with its personal data opened, the home it is of, and
//! for the tenancy's period the readings of the devices placed in the home's rooms, the
//! home's alerts and cases with every case event, and the audit entries about the tenancy or
//! those cases: each dataset twice, as CSV (`COPY ... CSV HEADER`) and as JSON Lines
//! (`row_to_json`), both in UTC, all read in one repeatable-read snapshot. `README.txt` says what
//! each file is and what is not included.
//!
//! Datasets are streamed to files in a private temporary directory (a tar entry needs its
//! size first), never held whole in memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{pin_mut, TryStreamExt as _};
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::error::PrivacyError;
use crate::master::MasterKey;
use crate::occupants::{open_occupants, Categories};
use crate::secrets_key::SecretsKey;
use crate::tenancy::open_tenancy;

/// What an export held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessSummary {
    pub tenancy_id: i64,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Rows per dataset, in the order written.
    pub rows: Vec<(&'static str, u64)>,
}

impl AccessSummary {
    pub fn rows_of(&self, dataset: &str) -> u64 {
        self.rows.iter().find(|(d, _)| *d == dataset).map_or(0, |(_, n)| *n)
    }
}

/// The instant a date begins (UTC).
fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// A timestamp literal for a `COPY (query)`, which takes no parameters; the value is ours,
/// formatted, never a caller's text.
pub(crate) fn literal(at: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// What an archive holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contents {
    /// For the tenants themselves: everything, their personal data and the audit entries too.
    SubjectAccess,
    /// For a third party with the tenants' consent: the home's data over the tenancy, never the
    /// tenants' names, contacts or notes, nor the landlord's audit log.
    ForThirdParty,
}

/// A read-only repeatable-read transaction printing times in UTC: every dataset of an archive
/// read in one snapshot, in one time zone.
pub(crate) async fn utc_snapshot(client: &mut Client) -> Result<Transaction<'_>, PrivacyError> {
    let tx = dampwatch_store::read_only_snapshot(client).await?;
    tx.batch_execute("SET LOCAL TIME ZONE 'UTC'").await?;
    Ok(tx)
}

/// What an archive of a tenancy covers: the tenancy, its home and its period, all in clear
/// columns (no key needed to read them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenancySpan {
    pub tenancy_id: i64,
    pub landlord_id: String,
    pub dwelling_id: i64,
    pub dwelling_reference: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

/// The span of tenancy `id`, if this transaction can see it (as the tenant role, only the
/// landlord's own).
pub async fn span_of(db: &impl GenericClient, id: i64) -> Result<Option<TenancySpan>, PrivacyError> {
    let row = db
        .query_opt(
            "SELECT t.id, t.landlord_id, t.dwelling_id, d.reference, t.starts_on, t.ends_on
             FROM tenancies t JOIN dwellings d ON d.id = t.dwelling_id WHERE t.id = $1",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| TenancySpan {
        tenancy_id: r.get(0),
        landlord_id: r.get(1),
        dwelling_id: r.get(2),
        dwelling_reference: r.get(3),
        starts_on: r.get(4),
        ends_on: r.get(5),
    }))
}

/// Writes the subject access archive of tenancy `id` to `out`, its personal data opened with
/// `master` and what officers wrote on its cases with `secrets` (the services' secrets key).
pub async fn export_tenancy(
    client: &mut Client,
    master: &dyn MasterKey,
    secrets: Option<&SecretsKey>,
    id: i64,
    out: &Path,
) -> Result<AccessSummary, PrivacyError> {
    let tx = utc_snapshot(client).await?;
    let tenancy = open_tenancy(&tx, master, id).await?.ok_or(PrivacyError::UnknownTenancy(id))?;
    let span = span_of(&tx, id).await?.ok_or(PrivacyError::UnknownTenancy(id))?;
    let vulnerabilities = open_occupants(&tx, master, &span.landlord_id, span.dwelling_id).await?;
    let opened = Opened { personal: &tenancy.personal, vulnerabilities: &vulnerabilities, secrets };
    let summary = write_archive(&tx, &span, Some(opened), out).await?;
    tx.commit().await?;
    Ok(summary)
}

/// What a subject access archive holds beyond a share: the tenants' own data, opened. Its
/// `Debug` shows only how much there is (the parts' own).
#[derive(Debug, Clone, Copy)]
pub struct Opened<'a> {
    pub personal: &'a crate::tenancy::Personal,
    /// The vulnerabilities the home records for its occupants ([`crate::occupants`]).
    pub vulnerabilities: &'a Categories,
    /// Opens what officers wrote on the cases ([`crate::case_texts`]); without it the archive
    /// says they were not opened.
    pub secrets: Option<&'a SecretsKey>,
}

/// Writes the archive of `span` to `out` from the snapshot `tx`: with the tenants' personal
/// data, the home's recorded vulnerabilities and the audit entries when `opened` is given
/// (subject access), without them and without the home's address otherwise (a share with a
/// third party). The datasets are read with times in UTC.
pub async fn write_archive(
    tx: &Transaction<'_>,
    span: &TenancySpan,
    opened: Option<Opened<'_>>,
    out: &Path,
) -> Result<AccessSummary, PrivacyError> {
    tx.batch_execute("SET LOCAL TIME ZONE 'UTC'").await?;
    let contents = if opened.is_some() { Contents::SubjectAccess } else { Contents::ForThirdParty };
    let (id, dwelling) = (span.tenancy_id, span.dwelling_id);
    let from = start_of(span.starts_on);
    // A tenancy that has not ended runs to now; one that has, to the end of its last day.
    let to = span.ends_on.map_or_else(Utc::now, |d| start_of(d) + chrono::Duration::days(1));
    let (f, t) = (literal(from), literal(to));
    let rooms = format!("SELECT id FROM rooms WHERE dwelling_id = {dwelling}");
    let cases = format!(
        "SELECT id FROM cases WHERE room_id IN ({rooms}) AND opened_at < {t} AND (state <> 'closed' OR updated_at >= {f})"
    );
    // A third party gets what happened and when, not the words: an alert's summary and
    // explanation name the rules a home's recorded vulnerabilities selected (and why), and a
    // case event's record, actor and evidence may name people or say anything.
    // A third party also gets only the events that occurred during the tenancy: a case still
    // open after it is the next household's. The tenants themselves get every event of the
    // cases of their tenancy.
    let (alert_words, event_details, event_window) = match contents {
        Contents::SubjectAccess => {
            ("a.summary, a.explanation,", "e.event, e.actor, e.evidence,", String::new())
        }
        Contents::ForThirdParty => ("", "", format!("AND e.occurred_at >= {f} AND e.occurred_at < {t}")),
    };
    let datasets: [(&'static str, String); 6] = [
        (
            "rooms",
            format!("SELECT r.id, r.name FROM rooms r WHERE r.dwelling_id = {dwelling} ORDER BY r.id"),
        ),
        (
            "readings",
            format!(
                "SELECT r.device_id, rm.name AS room, r.sampled_at, r.received_at,
                        r.temperature_centi_c / 100.0 AS temperature_c, r.rh_centi_pct / 100.0 AS rh_pct,
                        r.surface_temperature_centi_c / 100.0 AS surface_temperature_c, r.co2_ppm, r.battery_mv,
                        r.status
                 FROM readings r JOIN devices d ON d.id = r.device_id JOIN rooms rm ON rm.id = d.room_id
                 WHERE rm.dwelling_id = {dwelling} AND r.sampled_at >= {f} AND r.sampled_at < {t}
                 ORDER BY r.sampled_at, r.device_id"
            ),
        ),
        (
            "alerts",
            format!(
                "SELECT a.id, rm.name AS room, a.hazard, a.status, a.severity, a.since, a.raised_at, a.cleared_at,
                        {alert_words} a.case_id
                 FROM alerts a JOIN rooms rm ON rm.id = a.room_id
                 WHERE rm.dwelling_id = {dwelling} AND a.since < {t} AND (a.cleared_at IS NULL OR a.cleared_at >= {f})
                 ORDER BY a.since, a.id"
            ),
        ),
        (
            "cases",
            format!(
                "SELECT c.id, c.hazard, c.opened_at, c.awareness, c.state, c.track, c.jurisdiction, c.tenure,
                        c.updated_at
                 FROM cases c WHERE c.id IN ({cases}) ORDER BY c.opened_at, c.id"
            ),
        ),
        (
            "case_events",
            format!(
                "SELECT e.case_id, e.seq, e.kind, {event_details} e.occurred_at, e.recorded_at
                 FROM case_events e
                 WHERE e.case_id IN ({cases}) {event_window}
                 ORDER BY e.case_id, e.seq"
            ),
        ),
        (
            "audit",
            format!(
                "SELECT a.seq, a.at, a.actor, a.action, a.target, a.outcome, a.details
                 FROM audit_log a
                 WHERE a.landlord_id = '{landlord}'
                   AND (a.target = 'tenancy:{id}' OR a.target IN (SELECT 'case:' || x.id FROM ({cases}) x))
                 ORDER BY a.seq",
                landlord = span.landlord_id.replace('\'', "''"),
            ),
        ),
    ];

    let dir = tempfile::tempdir().map_err(|e| PrivacyError::Export(e.to_string()))?;
    let mut summary = AccessSummary { tenancy_id: id, from: Some(from), to: Some(to), rows: Vec::new() };
    let mut files: Vec<String> = Vec::new();
    for (name, query) in &datasets {
        if contents == Contents::ForThirdParty && *name == "audit" {
            continue;
        }
        let csv = format!("{name}.csv");
        copy_csv(tx, query, &dir.path().join(&csv)).await?;
        let json = format!("{name}.jsonl");
        let n = copy_jsonl(tx, query, &dir.path().join(&json)).await?;
        summary.rows.push((name, n));
        files.push(csv);
        files.push(json);
    }
    // A third party gets the home's character, not its occupants' vulnerabilities or address.
    let home_fields = match contents {
        Contents::SubjectAccess => {
            "'reference', reference, 'address', address, 'jurisdiction', jurisdiction, 'tenure', tenure, \
             'stricter_rules', occupant_rules"
        }
        Contents::ForThirdParty => "'reference', reference, 'jurisdiction', jurisdiction, 'tenure', tenure",
    };
    let home = tx
        .query_one(
            &format!("SELECT json_build_object({home_fields})::text FROM dwellings WHERE id = $1"),
            &[&dwelling],
        )
        .await?
        .get::<_, String>(0);
    let home = match opened {
        Some(opened) => {
            let mut home: serde_json::Value = serde_json::from_str(&home)?;
            home["vulnerabilities"] = serde_json::to_value(opened.vulnerabilities)?;
            serde_json::to_string(&home)?
        }
        None => home,
    };
    let mut tenancy_json = serde_json::json!({
        "id": span.tenancy_id,
        "landlord": span.landlord_id,
        "home": span.dwelling_reference,
        "starts_on": span.starts_on,
        "ends_on": span.ends_on,
    });
    if let Some(opened) = opened {
        tenancy_json["personal"] = serde_json::to_value(opened.personal)?;
    }
    let mut names = vec!["README.txt".to_owned(), "tenancy.json".to_owned(), "home.json".to_owned()];
    // What officers wrote on those cases' events: sealed, so opened here (subject access only).
    if let Some(opened) = opened {
        let case_ids: Vec<i64> = tx
            .query(&format!("SELECT id FROM ({cases}) x ORDER BY id"), &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let texts = crate::case_texts::archive_rows(tx, opened.secrets, &case_ids).await?;
        summary.rows.push(("case_event_texts", texts.len() as u64));
        write_file(&dir.path().join("case_event_texts.json"), serde_json::to_vec_pretty(&texts)?.as_slice())?;
        names.push("case_event_texts.json".to_owned());
    }
    write_file(&dir.path().join("tenancy.json"), serde_json::to_vec_pretty(&tenancy_json)?.as_slice())?;
    write_file(&dir.path().join("home.json"), home.as_bytes())?;
    write_file(
        &dir.path().join("README.txt"),
        readme(&summary, &span.dwelling_reference, contents).as_bytes(),
    )?;
    names.extend(files);
    // Building and syncing the tar is blocking file work: off the async threads. The files go
    // with it, removed when it ends, even if the caller stopped waiting.
    let out = out.to_owned();
    tokio::task::spawn_blocking(move || archive(dir.path(), &names, &out))
        .await
        .map_err(|e| PrivacyError::Export(e.to_string()))??;
    Ok(summary)
}

pub(crate) async fn copy_csv(
    tx: &tokio_postgres::Transaction<'_>,
    query: &str,
    path: &Path,
) -> Result<(), PrivacyError> {
    let stream = tx.copy_out(&format!("COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)")).await?;
    pin_mut!(stream);
    let mut file = BufWriter::new(File::create(path).map_err(|e| PrivacyError::Export(e.to_string()))?);
    while let Some(chunk) = stream.try_next().await? {
        file.write_all(&chunk).map_err(|e| PrivacyError::Export(e.to_string()))?;
    }
    file.flush().map_err(|e| PrivacyError::Export(e.to_string()))
}

pub(crate) async fn copy_jsonl(
    tx: &tokio_postgres::Transaction<'_>,
    query: &str,
    path: &Path,
) -> Result<u64, PrivacyError> {
    let rows = tx
        .query_raw(&format!("SELECT row_to_json(x)::text FROM ({query}) x"), std::iter::empty::<i32>())
        .await?;
    pin_mut!(rows);
    let mut file = BufWriter::new(File::create(path).map_err(|e| PrivacyError::Export(e.to_string()))?);
    let mut n = 0u64;
    while let Some(row) = rows.try_next().await? {
        let line: String = row.get(0);
        file.write_all(line.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .map_err(|e| PrivacyError::Export(e.to_string()))?;
        n += 1;
    }
    file.flush().map_err(|e| PrivacyError::Export(e.to_string()))?;
    Ok(n)
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PrivacyError> {
    std::fs::write(path, bytes).map_err(|e| PrivacyError::Export(e.to_string()))
}

/// The files into one tar at `out`, written beside it and renamed into place.
pub(crate) fn archive(dir: &Path, names: &[String], out: &Path) -> Result<(), PrivacyError> {
    let err = |e: std::io::Error| PrivacyError::Export(e.to_string());
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(parent).map_err(err)?;
    let mut builder = tar::Builder::new(BufWriter::new(tmp.as_file()));
    for name in names {
        builder.append_path_with_name(dir.join(name), name).map_err(err)?;
    }
    builder.into_inner().map_err(err)?.flush().map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(out).map_err(|e| err(e.error))?;
    Ok(())
}

fn readme(summary: &AccessSummary, home: &str, contents: Contents) -> String {
    let period = match (summary.from, summary.to) {
        (Some(f), Some(t)) => format!("{} to {}", f.to_rfc3339(), t.to_rfc3339()),
        _ => String::new(),
    };
    let mut text = match contents {
        Contents::SubjectAccess => format!(
            "Everything Dampwatch holds about tenancy {} of home {home}, for {period} (UTC).\n\n\
             tenancy.json   the tenancy and the tenants' personal data (names, phones, e-mail addresses, notes)\n\
             home.json      the home: reference, address, jurisdiction, tenure, recorded vulnerabilities, stricter rules\n\
             Each dataset below is given as CSV and as JSON Lines, with the same rows:\n",
            summary.tenancy_id
        ),
        Contents::ForThirdParty => format!(
            "Data of home {home} during tenancy {}, for {period} (UTC), shared with the tenants' \
             consent. It holds no names, contacts, notes, address or vulnerabilities.\n\n\
             tenancy.json   the tenancy's dates\n\
             home.json      the home: reference, jurisdiction, tenure\n\
             Each dataset below is given as CSV and as JSON Lines, with the same rows:\n",
            summary.tenancy_id
        ),
    };
    for (name, n) in &summary.rows {
        text.push_str(&format!("  {name:<12} {n} rows\n"));
    }
    text.push_str(
        "\nreadings: every reading of the sensors placed in the home's rooms now, over the tenancy \
         (temperature and relative humidity, surface temperature, CO2, battery, status bits). A \
         sensor moved into the home during the tenancy brings its readings from before, too.\n\
         alerts, cases, case_events: the home's hazard alerts and the landlord's cases about them, \
         with their events.\n",
    );
    text.push_str(match contents {
        Contents::SubjectAccess => {
            "case_event_texts.json: what officers wrote on those cases' events (kept sealed, opened here); \
             an event's evidence refers to its text by sealed_text.id.\n\
             audit: entries of the landlord's audit log about this tenancy or those cases.\n\
             Not included: other tenancies' personal data, and the signed messages the readings came \
             in (ask for a case's evidence pack for those).\n"
        }
        Contents::ForThirdParty => {
            "What happened and when, not the words: alerts without their summaries and explanations \
             (which name the rules the occupants' recorded vulnerabilities select), and only the case \
             events that occurred during the tenancy, without their records, actors and evidence. \
             Not included: the landlord's audit log, and \
             the signed messages the readings came in.\n"
        }
    });
    text
}
