//! Where each class of data lives: the tables, the time column its age is counted from, and
//! which rows of a shared table belong to it.

use super::policy::Class;
use crate::db::Layout;

/// Rows of a table that belong to a class.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub class: Class,
    pub table: &'static str,
    /// The row's own time, counted from.
    pub column: &'static str,
    /// Which rows of the table are of this class (`None`: all).
    pub only: Option<&'static str>,
    /// Whether rows name a device, through which a legal hold reaches them.
    pub by_device: bool,
}

/// The condition "old enough, of this class, and (when `held` applies) not held" with `$1` the
/// cutoff. `held_only` selects the held rows instead (for the dry run's count of what is kept).
impl Target {
    pub fn condition(&self, held: bool, held_only: bool) -> String {
        let mut parts = vec![format!("{} < $1", self.column)];
        if let Some(only) = self.only {
            parts.push(only.to_owned());
        }
        if held && self.by_device {
            let membership = "device_id IN (SELECT device_id FROM retention_held_devices)";
            parts.push(if held_only { membership.to_owned() } else { format!("NOT {membership}") });
        } else if held_only {
            parts.push("false".to_owned());
        }
        parts.join(" AND ")
    }
}

const fn target(class: Class, table: &'static str, column: &'static str, by_device: bool) -> Target {
    Target { class, table, column, only: None, by_device }
}

/// Every table the job deletes from, in the order it deletes (uplinks before the readings that
/// point at them would leave readings without evidence for a moment, so readings go first).
pub fn all(layout: Layout) -> Vec<Target> {
    let mut t = Vec::new();
    match layout {
        Layout::Plain => {
            t.push(target(Class::Readings, "readings", "received_at", true));
            t.push(target(Class::HourlyRollups, "readings_hourly_totals", "hour", true));
        }
        Layout::Timescale => {
            t.push(target(Class::Readings, "readings", "received_at", true));
            t.push(target(Class::Readings, "reading_keys", "received_at", true));
        }
    }
    t.push(target(Class::Readings, "uplinks", "received_at", true));
    t.push(target(Class::RejectedMessages, "rejected_messages", "received_at", false));
    // The per-device hourly counts are the trace of quarantined messages (those past a quota
    // have no other), so they go with the quarantine.
    t.push(target(Class::RejectedMessages, "device_hourly_intake", "hour", false));
    t.push(Target {
        only: Some("outcome = 'delivered'"),
        ..target(Class::OperationalLogs, "webhook_deliveries", "started_at", false)
    });
    t.push(Target {
        only: Some("outcome IN ('sent', 'suppressed')"),
        ..target(Class::OperationalLogs, "email_attempts", "started_at", false)
    });
    t.push(Target {
        only: Some("outcome IN ('failed', 'dead')"),
        ..target(Class::ErrorLogs, "webhook_deliveries", "started_at", false)
    });
    t.push(Target {
        only: Some("outcome IN ('retrying', 'failed')"),
        ..target(Class::ErrorLogs, "email_attempts", "started_at", false)
    });
    t
}
