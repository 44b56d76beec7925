//! A landlord's choice of how advisory alerts reach its webhook endpoints: one by one as they
//! happen, or gathered into one delivery per endpoint a day at a local time of its choosing
//! (see [`crate::batch`]). Alerts with a legal clock and case changes are never batched: a
//! clock that may have started must reach the landlord at once.

use std::fmt;

use chrono::NaiveTime;
use tokio_postgres::GenericClient;

use crate::endpoints::EndpointError;

/// How advisory alerts' webhooks are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AdvisoryDelivery {
    /// Each event as it happens (the default).
    Immediate,
    /// One batch per endpoint a day, at the landlord's batch time (Europe/London).
    Daily,
}

impl AdvisoryDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            AdvisoryDelivery::Immediate => "immediate",
            AdvisoryDelivery::Daily => "daily",
        }
    }

    fn parse(value: &str) -> Option<AdvisoryDelivery> {
        [AdvisoryDelivery::Immediate, AdvisoryDelivery::Daily].into_iter().find(|d| d.as_str() == value)
    }
}

impl fmt::Display for AdvisoryDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A landlord's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvisoryPreference {
    pub delivery: AdvisoryDelivery,
    /// When a daily batch goes out, Europe/London local time.
    pub batch_time: NaiveTime,
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_batch_time(value: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(value, "%H:%M")
        .map_err(|e| format!("{value:?} is not a time of day as HH:MM: {e}"))
}

/// Sets how `landlord`'s advisory alerts are sent (and, if given, the daily batch time).
/// Events already waiting for a batch keep their time; switching to `immediate` sends only
/// new events at once.
pub async fn set(
    db: &impl GenericClient,
    landlord: &str,
    delivery: AdvisoryDelivery,
    batch_time: Option<NaiveTime>,
) -> Result<AdvisoryPreference, EndpointError> {
    let row = db
        .query_opt(
            "UPDATE landlords SET advisory_webhooks = $2, advisory_batch_time = coalesce($3, advisory_batch_time)
             WHERE id = $1 RETURNING advisory_webhooks, advisory_batch_time",
            &[&landlord, &delivery.as_str(), &batch_time],
        )
        .await?
        .ok_or_else(|| EndpointError::UnknownLandlord(landlord.to_owned()))?;
    preference(row.get(0), row.get(1))
}

/// How `landlord`'s advisory alerts are sent.
pub async fn get(db: &impl GenericClient, landlord: &str) -> Result<AdvisoryPreference, EndpointError> {
    let row = db
        .query_opt("SELECT advisory_webhooks, advisory_batch_time FROM landlords WHERE id = $1", &[&landlord])
        .await?
        .ok_or_else(|| EndpointError::UnknownLandlord(landlord.to_owned()))?;
    preference(row.get(0), row.get(1))
}

fn preference(delivery: &str, batch_time: NaiveTime) -> Result<AdvisoryPreference, EndpointError> {
    let delivery = AdvisoryDelivery::parse(delivery).ok_or_else(|| {
        EndpointError::Db(crate::error::AlertsError::UnknownValue {
            what: "landlords.advisory_webhooks",
            value: delivery.to_owned(),
        })
    })?;
    Ok(AdvisoryPreference { delivery, batch_time })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_times_are_hours_and_minutes() {
        assert_eq!(parse_batch_time("07:30"), Ok(NaiveTime::from_hms_opt(7, 30, 0).expect("time")));
        assert!(parse_batch_time("7pm").is_err());
        assert!(parse_batch_time("25:00").is_err());
    }
}
