//! `GET /devices`: the landlord's sensors that need someone to act: offline (silent for longer
//! than the hazard engine's `offline_after`), a low battery (below `[api] low_battery_mv`), or
//! credentials due for rotation or overdue (`dampwatch pki list`'s rule, counted from
//! provisioning). Counts at the top, a filter, and every device when asked. The table of
//! devices is the room page's too.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use dampwatch_accounts::Permission;
use dampwatch_pki::RotationStatus;
use dampwatch_store::read_model::{device_health, DeviceHealth, DeviceStatus};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{page, when};
use super::room::capitalised;
use super::viewer::Viewer;
use crate::problem::ApiError;
use crate::state::ApiState;

/// A device credential's rotation status, by the rule of `dampwatch pki list`, counted from
/// the device's registration with its credentials; and its age in days.
pub fn rotation(device: &DeviceHealth, now: DateTime<Utc>) -> (RotationStatus, i64) {
    let age_days = (now - device.device.provisioned_at).num_days().max(0);
    let status = match device.device.status {
        DeviceStatus::Revoked => RotationStatus::Revoked,
        DeviceStatus::Active => RotationStatus::for_age(age_days),
    };
    (status, age_days)
}

fn rotation_class(status: RotationStatus) -> &'static str {
    match status {
        RotationStatus::Current => "on-track",
        RotationStatus::DueSoon => "due-soon",
        RotationStatus::Overdue | RotationStatus::Expired => "overdue",
        RotationStatus::Revoked | RotationStatus::Superseded => "none",
    }
}

/// What is wrong with an active device, if anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Attention {
    offline: bool,
    low_battery: bool,
    rotation_due: bool,
}

impl Attention {
    fn of(state: &ApiState, d: &DeviceHealth, now: DateTime<Utc>) -> Attention {
        if d.device.status == DeviceStatus::Revoked {
            return Attention::default();
        }
        let offline_after = offline_after(state);
        Attention {
            offline: d.last_reading_at.is_none_or(|at| now - at > offline_after),
            low_battery: d.battery_mv.is_some_and(|mv| mv < state.config.low_battery_mv),
            rotation_due: matches!(
                rotation(d, now).0,
                RotationStatus::DueSoon | RotationStatus::Overdue | RotationStatus::Expired
            ),
        }
    }

    fn any(self) -> bool {
        self.offline || self.low_battery || self.rotation_due
    }
}

fn offline_after(state: &ApiState) -> TimeDelta {
    TimeDelta::from_std(state.engine().config().offline_after).unwrap_or(TimeDelta::hours(48))
}

/// The devices as a table: battery (flagged when low), newest reading (flagged when silent too
/// long), credentials; with each device's room when `with_room`.
pub fn device_table(
    state: &ApiState,
    devices: &[DeviceHealth],
    now: DateTime<Utc>,
    with_room: bool,
) -> Markup {
    let silent = humantime_serde::re::humantime::format_duration(state.engine().config().offline_after);
    html! {
        @if devices.is_empty() {
            p { "No device." }
        } @else {
            table {
                caption.visually-hidden { "Devices" }
                thead { tr { th scope="col" { "Device" } @if with_room { th scope="col" { "Home and room" } }
                             th scope="col" { "Status" } th scope="col" { "Battery" }
                             th scope="col" { "Last reading" } th scope="col" { "Credentials" } } }
                tbody {
                    @for d in devices {
                        @let (status, age) = rotation(d, now);
                        @let attention = Attention::of(state, d, now);
                        tr {
                            td { code { (d.device.id) } }
                            @if with_room {
                                td {
                                    @let room = &d.device.room;
                                    @let words = format!("{} {}", room.dwelling_reference.as_deref().unwrap_or(""), room.room_name.as_deref().unwrap_or("not placed in a room"));
                                    @match room.room_id { Some(id) => a href={"/rooms/" (id)} { (words.trim()) }, None => (words.trim()) }
                                }
                            }
                            td { (d.device.status) }
                            td { @match d.battery_mv {
                                Some(mv) => {
                                    (format!("{:.2} V", f64::from(mv) / 1000.0))
                                    @if attention.low_battery { " — " strong { "low" } }
                                }
                                None => { "not reported" }
                            } }
                            td { @match d.last_reading_at {
                                Some(at) => {
                                    (when(at))
                                    @if attention.offline { " — " strong { "silent for more than " (silent) } }
                                }
                                None => { "never" }
                            } }
                            td { span class={"status " (rotation_class(status))} { (capitalised(&status.to_string())) }
                                 " (" (age) " days since provisioning)" }
                        }
                    }
                }
            }
        }
    }
}

/// Which devices the page lists.
#[derive(Debug, Default, Deserialize)]
pub struct DeviceQuery {
    /// `attention` (the default), `offline`, `low_battery`, `rotation` or `all`.
    #[serde(default)]
    show: String,
}

/// `GET /devices`.
pub async fn get(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(q): Query<DeviceQuery>,
) -> Result<Response, ApiError> {
    viewer.require(Permission::ReadDevices)?;
    let now = state.now();
    let mut tenant = viewer.tenant(&state);
    let tx = tenant.transaction().await?;
    let all = device_health::of_landlord(&*tx).await?;
    tx.commit().await?;
    let marked: Vec<(Attention, &DeviceHealth)> =
        all.iter().map(|d| (Attention::of(&state, d, now), d)).collect();
    let count = |f: fn(&Attention) -> bool| marked.iter().filter(|(a, _)| f(a)).count();
    let show = if q.show.is_empty() { "attention" } else { q.show.as_str() };
    let keep: fn(&Attention) -> bool = match show {
        "offline" => |a| a.offline,
        "low_battery" => |a| a.low_battery,
        "rotation" => |a| a.rotation_due,
        "all" => |_| true,
        "attention" => |a| a.any(),
        other => return Err(ApiError::BadRequest(format!("no such list of devices: {other:?}"))),
    };
    let shown: Vec<DeviceHealth> =
        marked.iter().filter(|(a, _)| keep(a)).map(|(_, d)| (*d).clone()).collect();
    let choices = [
        ("attention", "Needing attention", count(|a| a.any())),
        ("offline", "Offline", count(|a| a.offline)),
        ("low_battery", "Low battery", count(|a| a.low_battery)),
        ("rotation", "Credentials due or overdue", count(|a| a.rotation_due)),
        ("all", "All devices", all.len()),
    ];
    let content = html! {
        nav aria-label="Which devices" {
            ul.counts {
                @for (value, words, n) in choices {
                    li {
                        @if value == show { strong aria-current="page" { (words) ": " (n) } }
                        @else { a href={"/devices?show=" (value)} { (words) ": " (n) } }
                    }
                }
            }
        }
        (device_table(&state, &shown, now, true))
    };
    Ok(page("Devices", Some(&viewer), content))
}
