//! The demo's landlord as people see it: a first administrator to sign in to the dashboard
//! with, and three example cases reported by tenants (one overdue, one due soon, one on
//! track), so the board is worth looking at before the simulated sensors have raised anything.
//! Both are made on the demo's first start only; the example home is `EXAMPLE-1`, apart from
//! the simulated devices' homes.

use chrono::{DateTime, Duration, Utc};
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::users::{self, NewUser};
use dampwatch_accounts::{Password, Role};
use dampwatch_alerts::cases::{
    append_event, open_case, CasePolicy, NewCase, POTENTIAL_ISSUE_DETECTED, SYSTEM_ACTOR,
};
use dampwatch_alerts::room::RoomRef;
use dampwatch_audit::{append, Event};
use dampwatch_clock::case::TriageCategory;
use dampwatch_clock::{
    AwarenessPolicy, CaseEvent, Clock, ClockConfig, Hazard, StepDeadline, Track, Triggers,
};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::json;
use tokio_postgres::Client;

/// The demo's landlord (the simulated devices belong to it too).
pub const LANDLORD: &str = "demo";

/// The first administrator's address.
pub const ADMIN_EMAIL: &str = "admin@demo.example";

/// The example cases' home.
const EXAMPLE_HOME: &str = "EXAMPLE-1";

/// What the first start made, to print once.
pub struct FirstStart {
    pub admin_password: String,
    /// The example cases' statuses when made, most urgent first.
    pub example_cases: Vec<&'static str>,
}

/// Makes the landlord, its first administrator and the example cases if the landlord has no
/// people yet; `None` when an earlier start already did.
pub async fn prepare(db: &mut Client) -> anyhow::Result<Option<FirstStart>> {
    db.execute(
        "INSERT INTO landlords (id, name) VALUES ($1, 'Demo Housing') ON CONFLICT (id) DO NOTHING",
        &[&LANDLORD],
    )
    .await?;
    if !users::list(&*db, Some(LANDLORD)).await?.is_empty() {
        return Ok(None);
    }
    let now = Utc::now();
    let password = generated_password();
    let tx = db.transaction().await?;
    let new = NewUser {
        landlord_id: Some(LANDLORD.into()),
        email: ADMIN_EMAIL.into(),
        display_name: "Demo Administrator".into(),
        role: Role::LandlordAdmin,
    };
    let admin = users::create(&tx, &new).await?;
    let token = reset::issue(&tx, admin.id, now, RESET_TOKEN_LIFETIME).await?;
    reset::redeem(&tx, &token, &Password::new(password.clone()), now).await?;
    let details = json!({"role": Role::LandlordAdmin.as_str(), "by": "dampwatch demo"});
    append(
        &tx,
        &Event::by_operator(
            "user.create",
            Some(LANDLORD.into()),
            Some(format!("user:{}", admin.id)),
            details,
        ),
    )
    .await?;
    let example_cases = example_cases(&tx, now).await?;
    tx.commit().await?;
    Ok(Some(FirstStart { admin_password: password, example_cases }))
}

/// 20 random characters from a 32-letter alphabet in groups of five (100 bits): typed once,
/// then changed on the account page.
fn generated_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    SystemRandom::new().fill(&mut bytes).expect("the system random generator works");
    let letters: Vec<char> = bytes.iter().map(|b| ALPHABET[usize::from(b % 32)] as char).collect();
    letters.chunks(5).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// A tenant's report of damp and mould, triaged as a significant hazard half an hour later,
/// at each of three times: 31 days ago (its investigation is overdue), when the investigation
/// falls due within the clock's "due soon" part of its period, and two hours ago (on track).
async fn example_cases(
    tx: &tokio_postgres::Transaction<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<&'static str>> {
    let clock = Clock::from_config(&ClockConfig::default(), None)?;
    let dwelling: i64 = tx
        .query_one(
            "INSERT INTO dwellings (landlord_id, reference, address, area) VALUES ($1, $2, '1 Example Row', 'Example')
             RETURNING id",
            &[&LANDLORD, &EXAMPLE_HOME],
        )
        .await?
        .get(0);
    let triage_delay = Duration::minutes(30);
    let mut reported = vec![(now - Duration::days(31), "overdue")];
    if let Some(t) = due_soon_awareness(&clock, now) {
        reported.push((t - triage_delay, "due soon"));
    }
    reported.push((now - Duration::hours(2), "on track"));
    for (i, (noticed, _)) in reported.iter().enumerate() {
        let room: i64 = tx
            .query_one(
                "INSERT INTO rooms (dwelling_id, name) VALUES ($1, $2) RETURNING id",
                &[&dwelling, &["bedroom", "bathroom", "kitchen"][i % 3]],
            )
            .await?
            .get(0);
        let new = NewCase {
            landlord_id: LANDLORD,
            room: &RoomRef::Room(room),
            hazard: Hazard::DampAndMouldGrowth,
            noticed_at: *noticed,
            awareness_policy: AwarenessPolicy::AtDetection,
            case_policy: CasePolicy::OpenOnDetection,
            alert_id: None,
            actor: SYSTEM_ACTOR,
            kind: POTENTIAL_ISSUE_DETECTED,
            record: json!({"type": POTENTIAL_ISSUE_DETECTED, "source": "tenant_report"}),
            evidence: json!({"note": "example case made by dampwatch demo"}),
        };
        let id = open_case(tx, &clock, &new, *noticed).await?;
        let triage = CaseEvent::TriageDecided { category: TriageCategory::Significant, hazard: None };
        append_event(tx, &clock, id, None, "user:demo", *noticed + triage_delay, &triage, &json!({}), now)
            .await?;
    }
    Ok(reported.into_iter().map(|(_, status)| status).collect())
}

/// The most recent awareness (to the hour) whose first significant-hazard deadline is, now,
/// within the clock's "due soon" part of its period and still some hours away.
fn due_soon_awareness(clock: &Clock, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let fraction = clock.status.due_soon_fraction;
    (24..24 * 30).map(|h| now - Duration::hours(h)).find(|&awareness| {
        let triggers = Triggers { awareness, investigation_concluded: None };
        let Ok(steps) = clock.deadlines(Track::Significant, &triggers) else { return false };
        steps
            .iter()
            .find_map(|s| match s {
                StepDeadline::Computed(d) => Some(d.ends_at),
                StepDeadline::AwaitingTrigger { .. } => None,
            })
            .is_some_and(|ends| {
                let (total, left) =
                    ((ends - awareness).num_minutes() as f64, (ends - now).num_minutes() as f64);
                left > 180.0 && left <= total * fraction * 0.9
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_password_is_accepted_as_a_new_password() {
        let p = generated_password();
        assert_eq!(p.len(), 23, "{p}");
        assert!(dampwatch_accounts::password::check_new(&Password::new(p), &[ADMIN_EMAIL]).is_ok());
        assert_ne!(generated_password(), generated_password());
    }

    #[test]
    fn most_days_have_a_time_whose_deadline_is_due_soon() {
        let clock = Clock::from_config(&ClockConfig::default(), None).unwrap();
        // Deadlines end with a working day, so over a long weekend (Easter) every deadline is
        // further away than the "due soon" part of its period: then the demo shows two cases.
        let days: Vec<DateTime<Utc>> = (0..365)
            .map(|d| {
                DateTime::parse_from_rfc3339("2026-01-01T09:00:00Z").unwrap().to_utc() + Duration::days(d)
            })
            .collect();
        let found = days.iter().filter(|&&now| due_soon_awareness(&clock, now).is_some()).count();
        assert!(found >= 330, "{found} of 365 days");
    }
}
