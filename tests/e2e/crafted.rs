//! Uplinks built by hand and signed with a device's real key, as someone holding that key (a
//! stolen one, say) could build them, published on the device's own topic through the real
//! gateway; and what the collector made of them.

#![allow(dead_code)]

use crate::common::*;
use dampwatch_proto::v1::{CommitAck, Reading, SignedDownlink, SignedUplink, Uplink};
use prost::Message;
use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

pub fn reading(seq: u32, time_ms: u64, temperature_centi_c: i32) -> Reading {
    Reading {
        seq,
        time_ms,
        temperature_centi_c,
        rh_centi_pct: 6000,
        surface_temperature_centi_c: None,
        co2_ppm: None,
        battery_mv: 3000,
        status: 0,
    }
}

/// Readings numbered `seqs`, sampled now.
pub fn readings(seqs: impl IntoIterator<Item = u32>) -> Vec<Reading> {
    let t = now_ms();
    seqs.into_iter().map(|s| reading(s, t, 2000)).collect()
}

/// An uplink whose floor is its first reading, as a device's always is.
pub fn uplink(device: &str, boot: u32, readings: Vec<Reading>) -> Uplink {
    let floor_seq = readings.first().map_or(1, |r| r.seq);
    uplink_with_floor(device, boot, floor_seq, readings)
}

pub fn uplink_with_floor(device: &str, boot: u32, floor_seq: u32, readings: Vec<Reading>) -> Uplink {
    Uplink { device_id: device.into(), boot, readings, floor_seq, dropped: None }
}

/// Signs `payload` over the signing message of `signed_as`.
pub fn sign(signed_as: &str, seed: &[u8; 32], payload: Vec<u8>) -> Vec<u8> {
    let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed).expect("seed");
    let mut msg = vec![0u8; dampwatch_wire::signing::signing_message_len(signed_as, payload.len())];
    dampwatch_wire::signing::signing_message(signed_as, &payload, &mut msg).expect("message");
    let signature = kp.sign(&msg).as_ref().to_vec();
    SignedUplink { payload, signature, key_id: 1 }.encode_to_vec()
}

/// `up` signed with `spec`'s key.
pub fn signed(spec: &DeviceSpec, up: &Uplink) -> Vec<u8> {
    sign(&spec.device, &spec.seed, up.encode_to_vec())
}

/// Publishes raw messages on `spec`'s own uplink topic and waits for the gateway's PUBACKs.
pub async fn publish_raw(env: &Env, spec: &DeviceSpec, messages: &[Vec<u8>]) -> anyhow::Result<()> {
    let mut link = Link::connect(env, spec).await?;
    for m in messages {
        link.publish(m).await?;
    }
    link.client.disconnect().await?;
    Ok(())
}

/// A device's own connection through the gateway, subscribed to its commit positions.
pub struct Link {
    pub client: AsyncClient,
    events: EventLoop,
    topic: String,
    /// The newest commit position received: (boot, seq).
    pub position: Option<(u32, u32)>,
}

impl Link {
    pub async fn connect(env: &Env, spec: &DeviceSpec) -> anyhow::Result<Link> {
        let (client, mut events) = fleet::device_client(&spec.device, env.port, spec.tls.clone());
        let deadline = Instant::now() + Duration::from_secs(20);
        let ack_topic = format!("dw/v1/{}/{}/ack", spec.landlord, spec.device);
        loop {
            match tokio::time::timeout_at(deadline.into(), events.poll()).await?? {
                Event::Incoming(Packet::ConnAck(_)) => {
                    client.subscribe(ack_topic.clone(), QoS::AtLeastOnce).await?;
                }
                Event::Incoming(Packet::SubAck(_)) => break,
                _ => {}
            }
        }
        let topic = format!("dw/v1/{}/{}/up", spec.landlord, spec.device);
        Ok(Link { client, events, topic, position: None })
    }

    /// Publishes one message and waits for the gateway's PUBACK.
    pub async fn publish(&mut self, message: &[u8]) -> anyhow::Result<()> {
        self.client.publish(self.topic.clone(), QoS::AtLeastOnce, false, message.to_vec()).await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Event::Incoming(Packet::PubAck(_)) = self.next(deadline).await? {
                return Ok(());
            }
        }
    }

    /// Waits until a commit position of `boot` reaches `seq`.
    pub async fn wait_for_position(&mut self, boot: u32, seq: u32, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.position.is_some_and(|(b, s)| b == boot && s >= seq) {
            self.next(deadline).await?;
        }
        Ok(())
    }

    async fn next(&mut self, deadline: Instant) -> anyhow::Result<Event> {
        let ev = tokio::time::timeout_at(deadline.into(), self.events.poll())
            .await
            .map_err(|_| anyhow::anyhow!("nothing from the gateway in time"))??;
        if let Event::Incoming(Packet::Publish(p)) = &ev {
            // Acknowledgements arrive signed; this link reads the position without verifying
            // (the firmware's verification is tested in the sim's forged-downlink tests).
            let ack = SignedDownlink::decode(p.payload.as_ref())
                .ok()
                .and_then(|signed| CommitAck::decode(signed.payload.as_ref()).ok());
            if let Some(ack) = ack {
                self.position = Some((ack.boot, ack.seq));
            }
        }
        Ok(ev)
    }
}

/// The quarantine rows of a device: (reason, raw).
pub async fn quarantined(env: &Env, device: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let db = env.db().await?;
    let rows = db
        .query("SELECT reason, raw FROM rejected_messages WHERE device_id = $1 ORDER BY id", &[&device])
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The sequence numbers stored for a device.
pub async fn stored_seqs(env: &Env, device: &str) -> anyhow::Result<Vec<i64>> {
    let db = env.db().await?;
    let rows =
        db.query("SELECT seq FROM readings WHERE device_id = $1 ORDER BY boot, seq", &[&device]).await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// Waits (polling, up to `timeout`) until the device has `n` quarantine rows.
pub async fn wait_for_quarantine(env: &Env, device: &str, n: usize, timeout: Duration) -> bool {
    eventually_true(timeout, || async { quarantined(env, device).await.is_ok_and(|q| q.len() >= n) }).await
}

/// Per-device limits count per hour of arrival: a test that relies on one hour waits, if need
/// be, until the current hour has at least `margin` left.
pub async fn within_one_hour(margin: Duration) {
    let secs_into_hour = || SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() % 3600);
    let ok = eventually_true(margin + Duration::from_secs(5), || async {
        3600 - secs_into_hour() > margin.as_secs()
    })
    .await;
    assert!(ok, "the clock did not move into a new hour");
}
