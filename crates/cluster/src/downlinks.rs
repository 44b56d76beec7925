//! Downlinks across the cluster (`docs/message-layer.md`, "The contract"): a signed commit
//! acknowledgement goes on the core subject `dw.v1.down.<landlord>.<device>.ack`, which the
//! cluster forwards only to a server with interest in it, that is to the gateway holding the
//! device's connection; a signed configuration is kept as the last value per device in a
//! replicated key-value bucket, so a device that connects through any gateway gets it.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use crate::ClusterError;

/// The bucket of each device's last configuration.
pub const CONFIG_BUCKET: &str = "DW_CONFIG";

fn ack_subject(landlord: &str, device: &str) -> String {
    format!("dw.v1.down.{landlord}.{device}.ack")
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
        allow_direct: true,
        num_replicas: replicas,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(ClusterError::stream)?;
    js.get_key_value(CONFIG_BUCKET).await.map_err(ClusterError::stream)
}

/// The collector's side: sends what it signed.
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

    /// Sends a signed acknowledgement to whichever gateway holds the device now (none: it is
    /// dropped, and the device, which resends, is acknowledged again).
    pub async fn ack(&self, landlord: &str, device: &str, signed: Bytes) -> Result<(), ClusterError> {
        self.client.publish(ack_subject(landlord, device), signed).await.map_err(ClusterError::publish)?;
        self.client.flush().await.map_err(ClusterError::publish)
    }

    /// Keeps a signed configuration as the device's last; returns its revision.
    pub async fn config(&self, landlord: &str, device: &str, signed: Bytes) -> Result<u64, ClusterError> {
        self.configs.put(config_key(landlord, device), signed).await.map_err(ClusterError::publish)
    }
}

/// What a gateway gets when a device connects to it.
pub struct Attached {
    /// The device's acknowledgements, for as long as this lives (dropping it unsubscribes).
    pub acks: async_nats::Subscriber,
    /// The device's last configuration, if the collectors ever sent one.
    pub config: Option<Bytes>,
}

/// The gateway's side.
pub struct DownlinkRoutes {
    client: async_nats::Client,
    configs: kv::Store,
}

impl DownlinkRoutes {
    pub async fn open(client: async_nats::Client, replicas: usize) -> Result<DownlinkRoutes, ClusterError> {
        let configs = config_bucket(client.clone(), replicas).await?;
        Ok(DownlinkRoutes { client, configs })
    }

    /// Declares interest in a device that connected here and reads its last configuration.
    pub async fn attach(&self, landlord: &str, device: &str) -> Result<Attached, ClusterError> {
        let acks =
            self.client.subscribe(ack_subject(landlord, device)).await.map_err(ClusterError::consume)?;
        self.client.flush().await.map_err(ClusterError::consume)?;
        let config = self.configs.get(config_key(landlord, device)).await.map_err(ClusterError::consume)?;
        Ok(Attached { acks, config })
    }
}
