//! Schema migrations, embedded in the binary, forward-only, applied at start.
//!
//! Every table of the system lives in one database and one list, here: the registry and the
//! readings (versions 1 to 99), the hazard worker's rooms, alerts, cases and webhooks (100 to
//! 199), the API's keys and tenant isolation (200 to 299), the audit log and the dashboard's
//! read models (300 to 399), alert stories (episodes, duties, rooms' risk, batched advisory
//! webhooks; 400 to 409), e-mail notifications (410 to 419), stored deadlines readable at
//! any instant (420 to 429), personal data (430 to 439), legal holds on retention (440 to
//! 449) and the hazard states' storage (450 to 459). Several
//! processes may start at once: a transaction-level advisory lock serialises them, so each
//! migration runs exactly once. A database with a migration this binary does not know (a newer
//! release ran) is refused rather than written to with the wrong assumptions.

use tokio_postgres::Client;

/// A migration: version, name and SQL. Append only; never edit a released migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The whole schema, in version order.
pub const MIGRATIONS: &[Migration] = &[
    // The registry and the readings.
    Migration {
        version: 1,
        name: "registry_and_readings",
        sql: include_str!("../migrations/0001_registry_and_readings.sql"),
    },
    Migration { version: 2, name: "time_series", sql: include_str!("../migrations/0002_time_series.sql") },
    Migration {
        version: 3,
        name: "device_hourly_intake",
        sql: include_str!("../migrations/0003_device_hourly_intake.sql"),
    },
    Migration {
        version: 4,
        name: "device_config_counters",
        sql: include_str!("../migrations/0004_device_config_counters.sql"),
    },
    Migration {
        version: 5,
        name: "fixed_point_readings",
        sql: include_str!("../migrations/0005_fixed_point_readings.sql"),
    },
    Migration {
        version: 6,
        name: "hazard_inbox_by_device",
        sql: include_str!("../migrations/0006_hazard_inbox_by_device.sql"),
    },
    // The hazard worker: rooms, alerts, cases and their clocks, webhooks.
    Migration {
        version: 100,
        name: "alerts_cases_webhooks",
        sql: include_str!("../migrations/0100_alerts_cases_webhooks.sql"),
    },
    Migration {
        version: 101,
        name: "case_event_chain",
        sql: include_str!("../migrations/0101_case_event_chain.sql"),
    },
    Migration {
        version: 102,
        name: "webhook_log_without_bodies",
        sql: include_str!("../migrations/0102_webhook_log_without_bodies.sql"),
    },
    Migration {
        version: 103,
        name: "late_readings",
        sql: include_str!("../migrations/0103_late_readings.sql"),
    },
    Migration {
        version: 110,
        name: "home_tenancy_and_occupants",
        sql: include_str!("../migrations/0110_home_tenancy_and_occupants.sql"),
    },
    // The HTTP API: keys, the tenant role and row-level security.
    Migration {
        version: 200,
        name: "api_keys_and_tenant_isolation",
        sql: include_str!("../migrations/0200_api_keys_and_tenant_isolation.sql"),
    },
    // People: users, roles, second factors, sessions; assigned cases; scoped keys.
    Migration {
        version: 210,
        name: "people_and_sessions",
        sql: include_str!("../migrations/0210_people_and_sessions.sql"),
    },
    // OAuth 2.0 client credentials; keys and clients managed by landlord admins.
    Migration {
        version: 220,
        name: "oauth_clients_and_key_admin",
        sql: include_str!("../migrations/0220_oauth_clients_and_key_admin.sql"),
    },
    // The audit log: append-only, hash-chained, with signed checkpoints.
    Migration { version: 300, name: "audit_log", sql: include_str!("../migrations/0300_audit_log.sql") },
    // The area a landlord files each home under (the dashboard's board filters by it).
    Migration { version: 310, name: "home_areas", sql: include_str!("../migrations/0310_home_areas.sql") },
    // Every device's newest reading, for the dashboard's devices page.
    Migration {
        version: 311,
        name: "device_health",
        sql: include_str!("../migrations/0311_device_health.sql"),
    },
    // A room's history for the dashboard: surface temperature in the rollups, readings by
    // time, and the tenant's confined reads of readings and rollups.
    Migration {
        version: 320,
        name: "room_history",
        sql: include_str!("../migrations/0320_room_history.sql"),
    },
    // Alert stories: episodes, each alert's duty, rooms' risk levels, batched advisory webhooks.
    Migration {
        version: 400,
        name: "alert_stories",
        sql: include_str!("../migrations/0400_alert_stories.sql"),
    },
    // E-mail notifications: people's preferences, the e-mail outbox and its attempts, daily
    // digests, bounced addresses.
    Migration {
        version: 410,
        name: "email_notifications",
        sql: include_str!("../migrations/0410_email_notifications.sql"),
    },
    // Stored deadlines readable at any instant (the instant each running step becomes due
    // soon) and the basis they were computed under.
    Migration {
        version: 420,
        name: "deadline_projection",
        sql: include_str!("../migrations/0420_deadline_projection.sql"),
    },
    // Rooms carry their dwelling's landlord, for row-level security by column.
    Migration {
        version: 421,
        name: "room_landlord",
        sql: include_str!("../migrations/0421_room_landlord.sql"),
    },
    // Personal data of tenancies, sealed under per-landlord data keys wrapped by a master key.
    Migration {
        version: 430,
        name: "personal_data",
        sql: include_str!("../migrations/0430_personal_data.sql"),
    },
    // Consent to share a tenancy's data with a third party, and erasures carried out.
    Migration {
        version: 431,
        name: "sharing_consents",
        sql: include_str!("../migrations/0431_sharing_consents.sql"),
    },
    // The role evidence packs are read as: what a pack holds, of one landlord.
    Migration {
        version: 432,
        name: "evidence_reader",
        sql: include_str!("../migrations/0432_evidence_reader.sql"),
    },
    // What retention must keep: homes under a legal hold or with an open case.
    Migration { version: 440, name: "legal_holds", sql: include_str!("../migrations/0440_legal_holds.sql") },
    // The hazard states, rewritten with every reading folded, compressed with lz4.
    Migration {
        version: 450,
        name: "hazard_state_lz4",
        sql: include_str!("../migrations/0450_hazard_state_lz4.sql"),
    },
    // The roles the collector and the API log in as: neither owns the schema.
    Migration {
        version: 460,
        name: "service_logins",
        sql: include_str!("../migrations/0460_service_logins.sql"),
    },
    // Webhook signing secrets sealed under the secrets key; clear ones sealed by the sender.
    Migration {
        version: 461,
        name: "sealed_webhook_secrets",
        sql: include_str!("../migrations/0461_sealed_webhook_secrets.sql"),
    },
    // People's TOTP secrets sealed under the same key; clear ones sealed by the collector.
    Migration {
        version: 462,
        name: "sealed_totp_secrets",
        sql: include_str!("../migrations/0462_sealed_totp_secrets.sql"),
    },
    // The tenant's reading functions search the caller's temporary schema last.
    Migration {
        version: 463,
        name: "definer_search_paths",
        sql: include_str!("../migrations/0463_definer_search_paths.sql"),
    },
    Migration {
        version: 464,
        name: "audit_log_retention",
        sql: include_str!("../migrations/0464_audit_log_retention.sql"),
    },
    Migration {
        version: 465,
        name: "closed_case_retention",
        sql: include_str!("../migrations/0465_closed_case_retention.sql"),
    },
    Migration {
        version: 466,
        name: "third_party_clients",
        sql: include_str!("../migrations/0466_third_party_clients.sql"),
    },
    Migration {
        version: 467,
        name: "sealed_occupants",
        sql: include_str!("../migrations/0467_sealed_occupants.sql"),
    },
    Migration {
        version: 468,
        name: "second_factor_failures",
        sql: include_str!("../migrations/0468_second_factor_failures.sql"),
    },
    Migration {
        version: 469,
        name: "sealed_case_event_texts",
        sql: include_str!("../migrations/0469_sealed_case_event_texts.sql"),
    },
    Migration {
        version: 470,
        name: "room_state_text",
        sql: include_str!("../migrations/0470_room_state_text.sql"),
    },
];

/// Arbitrary constant naming the migration lock.
const LOCK_KEY: i64 = 0x64_61_6d_70_77_61_74_63;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("database error while migrating: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error(
        "the database has schema version {found}, newer than this release knows ({known}); upgrade Dampwatch"
    )]
    TooNew { found: i32, known: i32 },
}

/// Applies every migration not yet applied; returns how many ran.
pub async fn migrate(client: &mut Client) -> Result<usize, MigrateError> {
    migrate_to(client, i32::MAX).await
}

/// Applies the migrations up to and including `version` (an older release's schema, to test
/// an upgrade from it); returns how many ran.
pub async fn migrate_to(client: &mut Client, version: i32) -> Result<usize, MigrateError> {
    let wanted: Vec<&Migration> = MIGRATIONS.iter().filter(|m| m.version <= version).collect();
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let current: i32 =
        tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(MigrateError::TooNew { found: current, known });
    }
    let applied: Vec<i32> =
        tx.query("SELECT version FROM schema_migrations", &[]).await?.into_iter().map(|r| r.get(0)).collect();
    let mut ran = 0;
    for m in wanted.into_iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(m.sql).await?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[&m.version, &m.name])
            .await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        ran += 1;
    }
    tx.commit().await?;
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_file_names_match() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "{:?} before {:?}", pair[0].name, pair[1].name);
        }
        // Each file's name is its version (four digits) and name, so a listing of the folder
        // reads in the order they run.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("migrations folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let listed: Vec<String> =
            MIGRATIONS.iter().map(|m| format!("{:04}_{}.sql", m.version, m.name)).collect();
        assert_eq!(files, listed, "every file in migrations/ is listed, in order");
    }
}
