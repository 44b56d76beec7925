//! Signing what the collector sends to devices. Anyone who can publish on a device's ack or
//! config topic could otherwise make it forget readings the database never got, or change its
//! settings; so every `CommitAck` and `DeviceConfig` leaves the collector as a `SignedDownlink`
//! made with the collector's Ed25519 downlink key (`dampwatch pki`, `DIR/downlink/key-N.pem`,
//! the newest generation), over the signed bytes defined once in `dampwatch_wire::downlink`.
//!
//! Bindings: the device id (in the signed bytes), the device's boot (in the payload) and a
//! counter: for an acknowledgement the acknowledged seq, which only grows within a boot; for a
//! configuration a per-device counter kept in the database ([`next_config_counter`]), so it
//! grows across collector restarts and is never handed out twice when several collectors run.

use std::path::Path;

use dampwatch_proto::v1::{CommitAck, DeviceConfig};
use dampwatch_proto::wire::DownlinkKind;
use prost::Message;
use ring::signature::Ed25519KeyPair;

/// The collector's downlink signing key. Deliberately no `Debug`: it holds a private key.
pub struct DownlinkSigner {
    key: Ed25519KeyPair,
    key_id: u32,
}

/// Why a configuration could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendConfigError {
    #[error("device {0:?} is not registered")]
    UnknownDevice(String),
    #[error("device {0:?} has sent nothing yet, so its boot is unknown")]
    NoBoot(String),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("cannot sign: {0}")]
    Sign(#[from] dampwatch_proto::SignError),
    #[error("cannot send the configuration: {0}")]
    Publish(#[from] crate::upstream::SendError),
}

/// Why the downlink signing key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Pki(#[from] dampwatch_pki::PkiError),
    #[error("the downlink key {0} is not a usable Ed25519 key")]
    Unusable(u32),
}

impl DownlinkSigner {
    /// Loads the newest downlink key from the PKI directory `pki_dir`. Without one the collector
    /// must not start (its devices would refuse every acknowledgement): the error names the
    /// command that makes one.
    pub fn load(pki_dir: &Path) -> Result<DownlinkSigner, KeyError> {
        let (key_id, seed) = dampwatch_pki::load_downlink_signing_key(pki_dir)?;
        DownlinkSigner::from_seed(key_id, &seed)
    }

    /// A signer from a raw Ed25519 seed and its key id.
    pub fn from_seed(key_id: u32, seed: &[u8; 32]) -> Result<DownlinkSigner, KeyError> {
        let key = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| KeyError::Unusable(key_id))?;
        Ok(DownlinkSigner { key, key_id })
    }

    /// The generation of the key that signs.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// An encoded `SignedDownlink` carrying `CommitAck {boot, seq}` for `device`.
    pub fn ack(&self, device: &str, boot: u32, seq: u32) -> Result<Vec<u8>, dampwatch_proto::SignError> {
        self.sign(DownlinkKind::Ack, device, CommitAck { boot, seq }.encode_to_vec())
    }

    /// An encoded `SignedDownlink` carrying `config` for `device`; `config.boot` and
    /// `config.counter` must already be set.
    pub fn config(&self, device: &str, config: &DeviceConfig) -> Result<Vec<u8>, dampwatch_proto::SignError> {
        self.sign(DownlinkKind::Config, device, config.encode_to_vec())
    }

    fn sign(
        &self,
        kind: DownlinkKind,
        device: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, dampwatch_proto::SignError> {
        let envelope = dampwatch_proto::sign_downlink(kind, device, &self.key, self.key_id, payload)?;
        Ok(envelope.encode_to_vec())
    }
}

/// Takes the next configuration counter of `device`: 1 for its first, then one above the last
/// taken by any collector. One atomic statement, so concurrent collectors never share a value.
pub async fn next_config_counter(db: &tokio_postgres::Client, device: &str) -> Result<u32, SendConfigError> {
    let row = db
        .query_opt(
            "INSERT INTO device_config_counters AS c (device_id, last_counter)
             SELECT id, 1 FROM devices WHERE id = $1
             ON CONFLICT (device_id) DO UPDATE SET last_counter = c.last_counter + 1, updated_at = now()
             RETURNING last_counter",
            &[&device],
        )
        .await?
        .ok_or_else(|| SendConfigError::UnknownDevice(device.to_owned()))?;
    let counter: i64 = row.get(0);
    // The column's check keeps it within u32.
    Ok(u32::try_from(counter).unwrap_or(u32::MAX))
}

/// What [`send_config`] published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentConfig {
    pub landlord: String,
    pub boot: u32,
    pub counter: u32,
}

/// Signs `settings` for the latest boot the database has readings of from `device`, with the
/// device's next configuration counter, and sends it as the device's last configuration.
pub async fn send_config(
    upstream: &crate::upstream::Upstream,
    db: &tokio_postgres::Client,
    signer: &DownlinkSigner,
    device: &str,
    settings: DeviceConfig,
) -> Result<SentConfig, SendConfigError> {
    let row = db
        .query_opt(
            "SELECT d.landlord_id, (SELECT max(boot) FROM device_positions p WHERE p.device_id = d.id)
             FROM devices d WHERE d.id = $1",
            &[&device],
        )
        .await?
        .ok_or_else(|| SendConfigError::UnknownDevice(device.to_owned()))?;
    let landlord: String = row.get(0);
    let boot: Option<i64> = row.get(1);
    let boot =
        boot.and_then(|b| u32::try_from(b).ok()).ok_or_else(|| SendConfigError::NoBoot(device.to_owned()))?;
    let counter = next_config_counter(db, device).await?;
    let payload = signer.config(device, &DeviceConfig { boot, counter, ..settings })?;
    upstream.send_config(&landlord, device, payload).await?;
    Ok(SentConfig { landlord, boot, counter })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dampwatch_proto::v1::SignedDownlink;
    use ring::signature::KeyPair;

    #[test]
    fn acks_and_configs_are_signed_for_their_device_and_kind() {
        let signer = DownlinkSigner::from_seed(3, &[5; 32]).unwrap();
        let public = Ed25519KeyPair::from_seed_unchecked(&[5; 32]).unwrap().public_key().as_ref().to_vec();
        let ack = SignedDownlink::decode(signer.ack("dev-1", 2, 40).unwrap().as_slice()).unwrap();
        assert_eq!(ack.key_id, 3);
        assert_eq!(CommitAck::decode(ack.payload.as_slice()).unwrap(), CommitAck { boot: 2, seq: 40 });
        dampwatch_proto::verify_downlink(DownlinkKind::Ack, "dev-1", &public, &ack).unwrap();
        assert!(dampwatch_proto::verify_downlink(DownlinkKind::Ack, "dev-2", &public, &ack).is_err());
        assert!(dampwatch_proto::verify_downlink(DownlinkKind::Config, "dev-1", &public, &ack).is_err());

        let settings =
            DeviceConfig { sample_interval_s: 300, boot: 2, counter: 9, ..DeviceConfig::default() };
        let config = SignedDownlink::decode(signer.config("dev-1", &settings).unwrap().as_slice()).unwrap();
        dampwatch_proto::verify_downlink(DownlinkKind::Config, "dev-1", &public, &config).unwrap();
        assert_eq!(DeviceConfig::decode(config.payload.as_slice()).unwrap(), settings);
    }

    #[test]
    fn a_pki_directory_without_a_downlink_key_names_the_command_that_makes_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = DownlinkSigner::load(dir.path()).err().expect("no key").to_string();
        assert!(err.contains("dampwatch pki rotate-downlink-key"), "{err}");
    }
}
