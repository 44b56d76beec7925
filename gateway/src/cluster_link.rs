//! The gateway's upstream when `[upstream] kind = "cluster"`: device publishes go into the
//! cluster's replicated uplink stream, and a device's PUBACK is sent only once the stream says a
//! quorum of its replicas holds the uplink; a device's acknowledgements and configurations come
//! from the cluster, which routes them here only while the device is connected here (the
//! gateway subscribes to the device's downlink subjects when it connects, and unsubscribes when
//! it leaves). See `docs/message-layer.md`.
//!
//! Uplinks are published without a message id on purpose. A device resends an uplink whose
//! commit acknowledgement it did not get (it was away when the collector sent it) with the same
//! bytes; the stream's deduplication would drop that resend, the collector would never see it,
//! and the device would wait for a later uplink's acknowledgement. Without it, the resend
//! reaches a collector, whose idempotent store keeps nothing twice and acknowledges again.

use crate::mailbox::{Downlink, End, Event, Mailbox};
use crate::metrics::Metrics;
use crate::mqtt::Publish;
use crate::refusal::Refusal;
use crate::sessions::DeviceSessions;
use crate::upstream::LinkBusy;
use bytes::Bytes;
use dampwatch_cluster::{DownlinkKind, DownlinkRoutes, UplinkStream, UpstreamConfig};
use dampwatch_wire::topic::{Topic, TopicKind};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

/// The gateway's connection to the cluster.
pub struct ClusterLink {
    stream: UplinkStream,
    routes: DownlinkRoutes,
    sessions: Arc<DeviceSessions>,
    metrics: Arc<Metrics>,
    /// Publishes in flight to the cluster, as for a broker link.
    slots: Arc<Semaphore>,
    tasks: TaskTracker,
}

impl ClusterLink {
    /// Connects as the configured user, making the uplink stream and the configuration bucket
    /// if this is the first service to come. `inflight` bounds the publishes waiting for the
    /// cluster.
    pub async fn connect(
        cfg: &UpstreamConfig,
        name: &str,
        inflight: usize,
        sessions: Arc<DeviceSessions>,
        metrics: Arc<Metrics>,
        tasks: TaskTracker,
    ) -> Result<ClusterLink, dampwatch_cluster::ClusterError> {
        let client = cfg.connect(name).await?;
        let stream = UplinkStream::ensure(client.clone(), cfg.replicas, cfg.max_stream_bytes).await?;
        let routes = DownlinkRoutes::open(client, cfg.replicas).await?;
        Ok(ClusterLink {
            stream,
            routes,
            sessions,
            metrics,
            slots: Arc::new(Semaphore::new(inflight.max(1))),
            tasks,
        })
    }

    /// True while connected to a node of the cluster.
    pub fn is_up(&self) -> bool {
        self.routes.is_connected()
    }

    /// Waits for room for one more publish in flight.
    pub async fn reserve(&self, limit: Duration) -> Result<OwnedSemaphorePermit, LinkBusy> {
        crate::upstream::reserve_slot(&self.slots, limit).await
    }

    /// Publishes a device's (checked) QoS 1 uplink; once the stream holds it, the device's
    /// PUBACK (`device_packet_id`) reaches `mailbox`. If the cluster refuses it or cannot be
    /// reached, the device is disconnected: it keeps the uplink and sends it again.
    pub fn publish_qos1(
        &self,
        publish: &Publish<'_>,
        device_packet_id: u16,
        mailbox: Arc<Mailbox>,
        slot: OwnedSemaphorePermit,
    ) {
        let Some((landlord, device, payload)) = Self::uplink(publish) else {
            // The ACL admitted only the device's own uplink topic, so this does not happen.
            mailbox.close(End::Refused(Refusal::TopicNotAllowed));
            return;
        };
        let stream = self.stream.clone();
        let metrics = self.metrics.clone();
        self.tasks.spawn(async move {
            match stream.publish(&landlord, &device, None, payload).await {
                Ok(_) => {
                    mailbox.push(Event::Puback(device_packet_id));
                }
                Err(e) => {
                    metrics.upstream_refused.inc();
                    tracing::warn!(error = %e, device, "the cluster did not store an uplink; the device sends it again");
                    mailbox.close(End::Refused(Refusal::UpstreamUnavailable));
                }
            }
            drop(slot);
        });
    }

    /// Publishes a device's QoS 0 uplink without waiting for the stream (the device asked for
    /// no acknowledgement); false if too many publishes are in flight already.
    pub fn publish_qos0(&self, publish: &Publish<'_>) -> bool {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else { return false };
        let Some((landlord, device, payload)) = Self::uplink(publish) else { return false };
        let stream = self.stream.clone();
        self.tasks.spawn(async move {
            let _ = stream.publish(&landlord, &device, None, payload).await;
            drop(slot);
        });
        true
    }

    /// The landlord, device and bytes of an uplink publish.
    fn uplink(publish: &Publish<'_>) -> Option<(String, String, Bytes)> {
        let topic = Topic::parse(publish.topic).filter(|t| t.kind == TopicKind::Up)?;
        Some((topic.landlord.to_owned(), topic.device.to_owned(), Bytes::copy_from_slice(publish.payload)))
    }

    /// Takes a device's downlinks from the cluster while it is connected here (`key` is
    /// `landlord/device`): its last configuration at once, then each acknowledgement and
    /// configuration as the collectors send them. Dropping the guard stops it. If the cluster
    /// cannot route the device's downlinks here, the device is disconnected (`mailbox`): a
    /// device resends without reconnecting, so on a connection without downlinks it would wait
    /// for acknowledgements that never come.
    pub fn attach(&self, key: &str, mailbox: Arc<Mailbox>) -> DropGuard {
        let stop = CancellationToken::new();
        let guard = stop.clone().drop_guard();
        let Some((landlord, device)) = key.split_once('/') else { return guard };
        let (landlord, device, key) = (landlord.to_owned(), device.to_owned(), key.to_owned());
        let routes = self.routes.clone();
        let sessions = self.sessions.clone();
        let metrics = self.metrics.clone();
        self.tasks.spawn(async move {
            let attached = tokio::select! {
                a = routes.attach(&landlord, &device) => a,
                _ = stop.cancelled() => return,
            };
            let mut attached = match attached {
                Ok(a) => a,
                Err(e) => {
                    metrics.upstream_refused.inc();
                    tracing::warn!(error = %e, %key, "cannot take a device's downlinks from the cluster; disconnecting it");
                    mailbox.close(End::Refused(Refusal::UpstreamUnavailable));
                    return;
                }
            };
            let deliver = |kind: TopicKind, payload: Bytes| {
                let topic = Topic { landlord: &landlord, device: &device, kind }.to_string();
                let downlink = Downlink { kind, topic: Bytes::from(topic), payload, qos: 1, retain: false };
                if sessions.deliver(&key, downlink) == crate::sessions::Delivery::Dropped {
                    metrics.downlinks_dropped.inc();
                }
            };
            if let Some(config) = attached.config.take() {
                deliver(TopicKind::Config, config);
            }
            loop {
                let message = tokio::select! {
                    m = attached.downlinks.next() => m,
                    _ = stop.cancelled() => return,
                };
                let Some(message) = message else {
                // The subscription ended under a live session (the client was closed): the
                // device must reconnect to be attached again.
                mailbox.close(End::Refused(Refusal::UpstreamUnavailable));
                return;
            };
                match DownlinkKind::of_subject(&message.subject) {
                    Some(DownlinkKind::Ack) => deliver(TopicKind::Ack, message.payload),
                    Some(DownlinkKind::Config) => deliver(TopicKind::Config, message.payload),
                    None => {}
                }
            }
        });
        guard
    }
}
