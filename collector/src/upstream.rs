//! The collector's message layer, chosen by `[upstream] kind`: the gateway's embedded broker
//! (MQTT through the gateway, [`crate::intake`]) on one machine, or a NATS JetStream cluster
//! shared by several gateways and collectors (`docs/message-layer.md`). Either way the pipeline
//! sees the same thing: [`Incoming`] uplinks, [`Upstream::acknowledge`] after their commit, and
//! [`Upstream::send_ack`] / [`Upstream::send_config`] for signed downlinks.

use crate::intake::{AckGate, Incoming};
use crate::metrics::Metrics;
use dampwatch_cluster::{DownlinkPublisher, UplinkConsumer, UplinkDelivery, UpstreamConfig};
use dampwatch_wire::topic::{Topic, TopicKind};
use dampwatch_wire::Backoff;
use rumqttc::{AsyncClient, QoS};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How an uplink is acknowledged to the layer that delivered it.
pub enum Receipt {
    /// By PUBACK on the MQTT connection (`epoch`) that delivered it.
    Broker { publish: rumqttc::Publish, epoch: u64 },
    /// By an acknowledgement to the cluster, which then deletes it from the work queue.
    Cluster(Arc<UplinkDelivery>),
}

/// Where acknowledgements and downlinks go.
#[derive(Clone)]
pub enum Upstream {
    Broker {
        client: AsyncClient,
        gate: Arc<AckGate>,
    },
    /// `acks`: the acknowledgements in flight, which a shutdown waits for (an uplink committed
    /// and not acknowledged would go to another collector and be stored again for nothing).
    Cluster {
        downlinks: Arc<DownlinkPublisher>,
        acks: TaskTracker,
    },
}

/// A downlink the layer would not take.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(String);

impl Upstream {
    /// Waits (at most `limit`) for the acknowledgements still on their way to the cluster.
    pub async fn finish_acknowledging(&self, limit: Duration) {
        if let Upstream::Cluster { acks, .. } = self {
            acks.close();
            if tokio::time::timeout(limit, acks.wait()).await.is_err() {
                tracing::warn!("shutdown: acknowledgements still unconfirmed; those uplinks come again");
            }
        }
    }

    /// Acknowledges `batch` (committed) to the layer. MQTT: in arrival order, only on the
    /// connection that delivered each message. Cluster: each message, in the background (the
    /// cluster confirms each; one that is not confirmed is redelivered, and storing it again
    /// changes nothing).
    pub fn acknowledge(&self, batch: &[Incoming], metrics: &Arc<Metrics>) {
        match self {
            Upstream::Broker { client, gate } => {
                gate.ack_in_order(client, batch.iter());
            }
            Upstream::Cluster { acks, .. } => {
                let deliveries: Vec<Arc<UplinkDelivery>> = batch
                    .iter()
                    .filter_map(|m| match &m.receipt {
                        Receipt::Cluster(d) => Some(d.clone()),
                        Receipt::Broker { .. } => None,
                    })
                    .collect();
                let metrics = metrics.clone();
                acks.spawn(async move {
                    let acks = deliveries.iter().map(|d| d.ack());
                    for r in futures_util::future::join_all(acks).await {
                        if let Err(e) = r {
                            metrics.upstream_ack_failures.inc();
                            tracing::warn!(error = %e, "the cluster did not confirm an acknowledgement; the uplink comes again");
                        }
                    }
                });
            }
        }
    }

    /// Sends a signed commit position to the device (through whichever gateway holds it).
    pub async fn send_ack(&self, landlord: &str, device: &str, signed: Vec<u8>) -> Result<(), SendError> {
        match self {
            Upstream::Broker { client, .. } => {
                let topic = Topic { landlord, device, kind: TopicKind::Ack }.to_string();
                client
                    .try_publish(topic, QoS::AtLeastOnce, false, signed)
                    .map_err(|e| SendError(e.to_string()))
            }
            Upstream::Cluster { downlinks, .. } => {
                downlinks.ack(landlord, device, signed.into()).await.map_err(|e| SendError(e.to_string()))
            }
        }
    }

    /// Sends a signed configuration, kept as the device's last (retained on the broker, in the
    /// cluster's configuration bucket).
    pub async fn send_config(&self, landlord: &str, device: &str, signed: Vec<u8>) -> Result<(), SendError> {
        match self {
            Upstream::Broker { client, .. } => {
                let topic = Topic { landlord, device, kind: TopicKind::Config }.to_string();
                client
                    .publish(topic, QoS::AtLeastOnce, true, signed)
                    .await
                    .map_err(|e| SendError(e.to_string()))
            }
            Upstream::Cluster { downlinks, .. } => downlinks
                .config(landlord, device, signed.into())
                .await
                .map(|_| ())
                .map_err(|e| SendError(e.to_string())),
        }
    }
}

/// What the cluster intake needs.
pub struct ClusterIntake {
    pub consumer: Arc<UplinkConsumer>,
    /// The most uplinks fetched at once (a batch's worth).
    pub fetch: usize,
    pub tx: mpsc::Sender<Incoming>,
    pub metrics: Arc<Metrics>,
    /// True once the collectors' group is joined and fetching works.
    pub ready: watch::Sender<bool>,
    /// Stop taking uplinks and close `tx`; what was taken is still acknowledged after commit.
    pub drain: CancellationToken,
    pub stop: CancellationToken,
}

/// Waits between fetches that failed (a node down, the consumer electing a leader).
const REFETCH: Backoff = Backoff::doubling(Duration::from_millis(100), Duration::from_secs(2));
/// How long one fetch waits for the first uplink.
const FETCH_WAIT: Duration = Duration::from_secs(1);

/// Fetches uplinks from the collectors' durable group and hands them to the pipeline until
/// drained or stopped. Nothing is acknowledged here: the pipeline does that after the commit.
pub async fn run_cluster_intake(task: ClusterIntake) {
    let ClusterIntake { consumer, fetch, tx, metrics, ready, drain, stop } = task;
    let mut retries = REFETCH.retries();
    // Drain is checked between fetches only: a fetch cut short would leave the uplinks the
    // cluster already sent for it with nobody, until the acknowledgement wait ran out.
    while !drain.is_cancelled() {
        let fetched = tokio::select! {
            f = consumer.fetch(fetch, FETCH_WAIT) => f,
            _ = stop.cancelled() => return,
        };
        let deliveries = match fetched {
            Ok(d) => {
                retries.reset();
                ready.send_replace(true);
                d
            }
            Err(e) => {
                let wait = retries.next_delay();
                tracing::warn!(error = %e, retry_in = ?wait, "cannot fetch uplinks from the cluster");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = stop.cancelled() => return,
                }
            }
        };
        for d in deliveries {
            metrics.uplinks_received.inc();
            if d.delivered > 1 {
                metrics.uplinks_redelivered.inc();
            }
            let topic = match d.device() {
                Some((landlord, device)) => Topic { landlord, device, kind: TopicKind::Up }.to_string(),
                None => {
                    // Only the gateways publish into the stream, on subjects they built: a
                    // stranger subject means a misconfigured cluster. Left unacknowledged it
                    // would come back for ever, so the pipeline quarantines it as a bad topic.
                    tracing::error!(subject = %d.subject, "an uplink on a subject outside dw.v1.up.<landlord>.<device>");
                    d.subject.replace('.', "/")
                }
            };
            metrics.uplinks_pending.inc();
            let incoming = Incoming {
                topic,
                payload: d.payload.clone(),
                received_at: chrono::Utc::now(),
                arrived: Instant::now(),
                receipt: Receipt::Cluster(Arc::new(d)),
            };
            if tx.send(incoming).await.is_err() {
                return;
            }
        }
    }
}

/// Reports the connection to the cluster every second, and the collectors' group lag and the
/// stream's size every `every`, in the metrics.
pub async fn watch_cluster(
    consumer: Arc<UplinkConsumer>,
    downlinks: Arc<DownlinkPublisher>,
    metrics: Arc<Metrics>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_state: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        metrics.upstream_connected.set(i64::from(downlinks.is_connected()));
        if last_state.is_some_and(|t| t.elapsed() < every) {
            continue;
        }
        last_state = Some(Instant::now());
        match consumer.state().await {
            Ok(s) => {
                metrics.cluster_pending.set(i64::try_from(s.pending).unwrap_or(i64::MAX));
                metrics.cluster_ack_pending.set(i64::try_from(s.ack_pending).unwrap_or(i64::MAX));
                metrics.cluster_stream_messages.set(i64::try_from(s.stream_messages).unwrap_or(i64::MAX));
                metrics.cluster_stream_bytes.set(i64::try_from(s.stream_bytes).unwrap_or(i64::MAX));
            }
            Err(e) => tracing::debug!(error = %e, "cannot read the collectors' group state"),
        }
    }
}

/// Connects to the cluster and joins the collectors' group, making the uplink stream and the
/// configuration bucket if this is the first service to come.
pub async fn join_cluster(
    cfg: &UpstreamConfig,
    name: &str,
) -> Result<(Arc<UplinkConsumer>, DownlinkPublisher), dampwatch_cluster::ClusterError> {
    let client = cfg.connect(name).await?;
    dampwatch_cluster::UplinkStream::ensure(client.clone(), cfg.replicas, cfg.max_stream_bytes).await?;
    let consumer = UplinkConsumer::join(client.clone(), cfg.ack_wait).await?;
    let downlinks = DownlinkPublisher::ensure(client, cfg.replicas).await?;
    Ok((Arc::new(consumer), downlinks))
}
