//! The uplink stream (`docs/message-layer.md`, "The contract"): subject
//! `dw.v1.up.<landlord>.<device>`, one work-queue stream replicated on three nodes, a publish
//! acknowledged once a quorum holds it, duplicates (the same message id within the window)
//! reported and stored once; the collectors' durable pull consumer, each message acknowledged
//! only after the batch that holds it has committed.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::ClusterError;

/// The stream's name.
pub const UPLINK_STREAM: &str = "DW_UPLINKS";
/// The collectors' durable consumer.
const COLLECTORS: &str = "collectors";
/// Subjects of the stream.
const SUBJECTS: &str = "dw.v1.up.>";
/// Uplinks the whole group may hold unacknowledged at once. Each collector holds about three
/// batches (one being stored, one fetched, one waiting); this leaves room for many collectors
/// while bounding what one that stalls can keep from the others until its acknowledgement wait
/// runs out.
const MAX_ACK_PENDING: i64 = 10_000;
/// A resend within this window of the same uplink is recognised and stored once.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// What the stream said of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub sequence: u64,
    /// The same message id was stored already within the window: this copy was dropped.
    pub duplicate: bool,
}

/// The gateway's side: publishes uplinks.
#[derive(Clone)]
pub struct UplinkStream {
    js: jetstream::Context,
}

impl UplinkStream {
    /// Creates the stream if it does not exist, with `replicas` copies and at most `max_bytes`.
    /// A full stream refuses new uplinks instead of dropping stored ones (a work queue's
    /// messages are uplinks no collector has committed yet).
    pub async fn ensure(
        client: async_nats::Client,
        replicas: usize,
        max_bytes: u64,
    ) -> Result<UplinkStream, ClusterError> {
        let js = jetstream::new(client);
        js.get_or_create_stream(stream::Config {
            name: UPLINK_STREAM.into(),
            subjects: vec![SUBJECTS.into()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            duplicate_window: DUPLICATE_WINDOW,
            max_bytes: i64::try_from(max_bytes).unwrap_or(i64::MAX),
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(ClusterError::stream)?;
        Ok(UplinkStream { js })
    }

    /// Publishes one uplink's exact bytes (under `message_id`, if given: a second publish
    /// with the same id within the window is reported as a duplicate and not stored) and waits
    /// for the stream's acknowledgement: only then may the device's publish be acknowledged.
    pub async fn publish(
        &self,
        landlord: &str,
        device: &str,
        message_id: Option<&str>,
        payload: Bytes,
    ) -> Result<Stored, ClusterError> {
        let mut headers = async_nats::HeaderMap::new();
        if let Some(id) = message_id {
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        }
        let ack = self
            .js
            .publish_with_headers(format!("dw.v1.up.{landlord}.{device}"), headers, payload)
            .await
            .map_err(ClusterError::publish)?
            .await
            .map_err(ClusterError::publish)?;
        Ok(Stored { sequence: ack.sequence, duplicate: ack.duplicate })
    }

    /// The name of the node leading the stream now, if one is.
    pub async fn leader(&self) -> Result<Option<String>, ClusterError> {
        let mut s = self.js.get_stream(UPLINK_STREAM).await.map_err(ClusterError::stream)?;
        let info = s.info().await.map_err(ClusterError::stream)?;
        Ok(info.cluster.as_ref().and_then(|c| c.leader.clone()))
    }
}

/// One uplink handed to a collector.
pub struct UplinkDelivery {
    pub subject: String,
    pub payload: Bytes,
    /// 1 the first time; above 1 when a collector took it before and did not acknowledge it.
    pub delivered: i64,
    message: jetstream::Message,
}

impl UplinkDelivery {
    /// The landlord and device of the subject, `dw.v1.up.<landlord>.<device>`.
    pub fn device(&self) -> Option<(&str, &str)> {
        let rest = self.subject.strip_prefix("dw.v1.up.")?;
        let (landlord, device) = rest.split_once('.')?;
        (!device.contains('.')).then_some((landlord, device))
    }

    /// Acknowledges it to the cluster, waiting for the cluster to confirm: call only after the
    /// uplink's readings are committed.
    pub async fn ack(&self) -> Result<(), ClusterError> {
        self.message.double_ack().await.map_err(ClusterError::consume)
    }
}

/// How far the collectors are behind, from the cluster's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerState {
    /// Uplinks stored that no collector has taken yet.
    pub pending: u64,
    /// Uplinks taken and not yet acknowledged.
    pub ack_pending: u64,
    /// Uplinks delivered more than once and still unacknowledged.
    pub redelivered: u64,
    /// Messages and bytes in the uplink stream (a work queue: what is not yet acknowledged).
    pub stream_messages: u64,
    pub stream_bytes: u64,
}

/// The collectors' side: one durable group, each uplink to one collector at a time.
pub struct UplinkConsumer {
    consumer: consumer::Consumer<consumer::pull::Config>,
    stream: stream::Stream,
}

impl UplinkConsumer {
    /// Joins (or creates) the collectors' durable consumer. An uplink not acknowledged within
    /// `ack_wait` goes to a collector again (the value of whoever created the consumer: an
    /// existing consumer keeps its own).
    pub async fn join(
        client: async_nats::Client,
        ack_wait: Duration,
    ) -> Result<UplinkConsumer, ClusterError> {
        let js = jetstream::new(client);
        let stream = js.get_stream(UPLINK_STREAM).await.map_err(ClusterError::consume)?;
        let stream_handle = stream.clone();
        let consumer = stream
            .get_or_create_consumer(
                COLLECTORS,
                consumer::pull::Config {
                    durable_name: Some(COLLECTORS.into()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait,
                    max_ack_pending: MAX_ACK_PENDING,
                    ..Default::default()
                },
            )
            .await
            .map_err(ClusterError::consume)?;
        Ok(UplinkConsumer { consumer, stream: stream_handle })
    }

    /// The group's lag and the stream's size, as the cluster reports them now.
    pub async fn state(&self) -> Result<ConsumerState, ClusterError> {
        let c = self.stream.consumer_info(COLLECTORS).await.map_err(ClusterError::consume)?;
        let s = self.stream.get_info().await.map_err(ClusterError::consume)?;
        Ok(ConsumerState {
            pending: c.num_pending,
            ack_pending: c.num_ack_pending as u64,
            redelivered: c.num_redelivered as u64,
            stream_messages: s.state.messages,
            stream_bytes: s.state.bytes,
        })
    }

    /// Up to `max` uplinks, waiting at most `wait` for the first.
    pub async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<UplinkDelivery>, ClusterError> {
        let mut batch = self
            .consumer
            .fetch()
            .max_messages(max)
            .expires(wait)
            .messages()
            .await
            .map_err(ClusterError::consume)?;
        let mut out = Vec::new();
        while let Some(m) = batch.next().await {
            let message = m.map_err(ClusterError::consume)?;
            let delivered = message.info().map_err(ClusterError::consume)?.delivered;
            out.push(UplinkDelivery {
                subject: message.subject.to_string(),
                payload: message.payload.clone(),
                delivered,
                message,
            });
        }
        Ok(out)
    }
}
