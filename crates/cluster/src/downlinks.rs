//! Downlinks across the cluster (`docs/message-layer.md`, "The contract"): a signed commit
//! acknowledgement goes on the core subject `dw.v1.down.<landlord>.<device>.ack`, which the
//! cluster forwards only to a server with interest in it, that is to the gateway holding the
//! device's connection; a signed configuration is kept as the last value per device in a
//! replicated key-value bucket, so a device that connects through any gateway gets it, and is
//! also sent on `dw.v1.down.<landlord>.<device>.config` to the gateway holding it now.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use crate::ClusterError;

/// The bucket of each device's last configuration.
pub const CONFIG_BUCKET: &str = "DW_CONFIG";

/// What a downlink is, by the last token of its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownlinkKind {
    Ack,
    Config,
}

impl DownlinkKind {
    fn token(self) -> &'static str {
        match self {
            DownlinkKind::Ack => "ack",
            DownlinkKind::Config => "config",
        }
    }

    /// The kind of a downlink subject; None for anything else.
    pub fn of_subject(subject: &str) -> Option<DownlinkKind> {
        match subject.rsplit('.').next() {
            Some("ack") => Some(DownlinkKind::Ack),
            Some("config") => Some(DownlinkKind::Config),
            _ => None,
        }
    }
}

fn downlink_subject(landlord: &str, device: &str, kind: DownlinkKind) -> String {
    format!("dw.v1.down.{landlord}.{device}.{}", kind.token())
}

fn config_key(landlord: &str, device: &str) -> String {
    format!("{landlord}.{device}")
}

async fn config_bucket(client: async_nats::Client, replicas: usize) -> Result<kv::Store, ClusterError> {
    let js = jetstream::new(client);
    if let Ok(store) = js.get_key_value(CONFIG_BUCKET).await {
        return Ok(store);
    }
    // The bucket's stream made directly, as the key-value layer lays it out: the client's own
    // `create_key_value` first reads account information in a shape older servers (Debian's
    // 2.9) do not send.
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{CONFIG_BUCKET}"),
        subjects: vec![format!("$KV.{CONFIG_BUCKET}.>")],
        max_messages_per_subject: 1,
        discard: jetstream::stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        // Reads go to the stream's leader: a follower that has not caught up could answer a
        // gateway with an older configuration than the one just put.
        allow_direct: false,
        num_replicas: replicas,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(ClusterError::stream)?;
    js.get_key_value(CONFIG_BUCKET).await.map_err(ClusterError::stream)
}

/// Whether `client` is connected to a node now.
pub(crate) fn is_connected(client: &async_nats::Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}

/// The collector's side: sends what it signed.
#[derive(Clone)]
pub struct DownlinkPublisher {
    client: async_nats::Client,
    configs: kv::Store,
}

impl DownlinkPublisher {
    /// Opens (or creates, with `replicas` copies) the configuration bucket.
    pub async fn ensure(
        client: async_nats::Client,
        replicas: usize,
    ) -> Result<DownlinkPublisher, ClusterError> {
        let configs = config_bucket(client.clone(), replicas).await?;
        Ok(DownlinkPublisher { client, configs })
    }

    /// Queues a signed acknowledgement for whichever gateway holds the device now (none: it is
    /// dropped, and the device, which resends, is acknowledged again). The client sends it
    /// within moments; nothing waits for the gateway.
    pub async fn ack(&self, landlord: &str, device: &str, signed: Bytes) -> Result<(), ClusterError> {
        let subject = downlink_subject(landlord, device, DownlinkKind::Ack);
        self.client.publish(subject, signed).await.map_err(ClusterError::publish)
    }

    /// Whether the client is connected to a node now.
    pub fn is_connected(&self) -> bool {
        is_connected(&self.client)
    }

    /// Keeps a signed configuration as the device's last (returns its revision once a quorum
    /// holds it), then sends it to the gateway holding the device now, if any.
    pub async fn config(&self, landlord: &str, device: &str, signed: Bytes) -> Result<u64, ClusterError> {
        let revision = self
            .configs
            .put(config_key(landlord, device), signed.clone())
            .await
            .map_err(ClusterError::publish)?;
        let subject = downlink_subject(landlord, device, DownlinkKind::Config);
        self.client.publish(subject, signed).await.map_err(ClusterError::publish)?;
        self.client.flush().await.map_err(ClusterError::publish)?;
        Ok(revision)
    }
}

/// What a gateway gets when a device connects to it.
pub struct Attached {
    /// The device's acknowledgements and configurations, for as long as this lives (dropping
    /// it unsubscribes); [`DownlinkKind::of_subject`] tells them apart.
    pub downlinks: async_nats::Subscriber,
    /// The device's last configuration, if the collectors ever sent one.
    pub config: Option<Bytes>,
}

/// The gateway's side.
#[derive(Clone)]
pub struct DownlinkRoutes {
    client: async_nats::Client,
    configs: kv::Store,
}

impl DownlinkRoutes {
    pub async fn open(client: async_nats::Client, replicas: usize) -> Result<DownlinkRoutes, ClusterError> {
        let configs = config_bucket(client.clone(), replicas).await?;
        Ok(DownlinkRoutes { client, configs })
    }

    /// Declares interest in a device that connected here and reads its last configuration
    /// (after subscribing, so a configuration sent meanwhile arrives one way or the other).
    pub async fn attach(&self, landlord: &str, device: &str) -> Result<Attached, ClusterError> {
        let subject = format!("dw.v1.down.{landlord}.{device}.*");
        let downlinks = self.client.subscribe(subject).await.map_err(ClusterError::consume)?;
        self.client.flush().await.map_err(ClusterError::consume)?;
        let config = self.configs.get(config_key(landlord, device)).await.map_err(ClusterError::consume)?;
        Ok(Attached { downlinks, config })
    }

    /// Whether the client is connected to a node now.
    pub fn is_connected(&self) -> bool {
        is_connected(&self.client)
    }
}
