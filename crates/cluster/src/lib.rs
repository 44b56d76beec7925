//! The clustered message layer Dampwatch uses across machines (`docs/message-layer.md`):
//! NATS with JetStream. Uplinks go into one replicated work-queue stream that the gateways
//! publish to (acknowledged once a quorum of replicas holds them) and the collectors consume as
//! one durable group (acknowledged only after PostgreSQL has committed).
//!
//! [`NatsCluster`] runs a cluster of `nats-server` processes on loopback, for tests and for the
//! cluster demo.

mod downlinks;
mod error;
mod nats_cluster;
mod settings;
mod uplinks;

pub use downlinks::{Attached, DownlinkKind, DownlinkPublisher, DownlinkRoutes, CONFIG_BUCKET};
pub use error::ClusterError;
pub use nats_cluster::{NatsCluster, Role};
pub use settings::{UpstreamConfig, UpstreamKind, DEFAULT_CONFIG};
pub use uplinks::{ConsumerState, Stored, UplinkConsumer, UplinkDelivery, UplinkStream, UPLINK_STREAM};
