//! The Dampwatch simulator behind `dampwatch sim`: N virtual sensors, each running the real
//! firmware core ([`dampwatch_firmware::DeviceCore`]) against a simulated room and connecting
//! with its own device certificate over mutual-TLS MQTT to a gateway. It is the demo's device
//! fleet, the load generator (thousands of devices from one process), and the end-to-end test
//! driver.
//!
//! # Layers
//! - [`physics`], [`homes`], [`scenario`], [`timeline`], [`sensor`]: pure. Weather, room
//!   heat/moisture/CO2 balances, households' routines, the scenarios' homes and events, and
//!   what the sensors read. Deterministic per device id.
//! - [`device`]: one device without I/O: the firmware core, its room and its events on
//!   simulated time ([`clock`]).
//! - [`task`], [`link`], [`pacer`]: the one MQTT driver of a [`firmware_device::FirmwareDevice`]
//!   (a device in a simulated room here, a fixed-rate load device in `dampwatch bench`): one
//!   tokio task per device (never a thread) with its own rumqttc connection; connection
//!   attempts paced fleet-wide.
//! - [`blocking_transport`]: the firmware's `Transport` over rumqttc's blocking client, for
//!   running the firmware's own driver loop ([`dampwatch_firmware::Firmware`]) on a host,
//!   one device with one connection thread.
//! - [`run`]: provisioning ([`provision`]), credentials ([`fleet`]), boot counters ([`boot`]),
//!   progress and the final [`SimSummary`].
//!
//! # What it must never do
//! - Bypass the firmware core: every reading is numbered, queued, signed, resent and released
//!   exactly as on a real sensor, so what the simulator shows about delivery is true of the
//!   firmware.
//! - Reuse a `(boot, seq)` number across runs (the collector would take the new reading for a
//!   duplicate): each run is a new boot, persisted before the first sample.
//! - Date a reading outside its simulated span, which ends at the present and starts after the
//!   devices' registered installation.
//! - Hold unbounded state per device: the core's queue is fixed, at most one sealed uplink waits
//!   for the MQTT client, and the client's queues and TLS session cache are small.

pub mod blocking_transport;
pub mod boot;
pub mod cli;
pub mod clock;
pub mod device;
pub mod error;
pub mod firmware_device;
pub mod fleet;
pub mod homes;
pub mod link;
pub mod pacer;
pub mod physics;
pub mod progress;
pub mod provision;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod sensor;
pub mod summary;
pub mod task;
pub mod timeline;
pub mod totals;

pub use cli::SimArgs;
pub use error::SimError;
pub use run::run;
pub use scenario::Scenario;
pub use summary::SimSummary;
