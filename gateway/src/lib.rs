//! The Dampwatch gateway: the mutual-TLS front door for devices.
//!
//! It terminates TLS itself (handshakes in their own tasks with a timeout and a budget of their
//! own, so unauthenticated connections never take a device's or service's slot; a required CRL
//! whose revocations, like certificate expiry, also close live connections; load balancers'
//! PROXY v2 headers), takes the identity from the client certificate
//! (CN = device, O = landlord; OU = service for the collector), authorises every MQTT packet
//! (client id = CN, own topics only, no QoS 2, no will) and hands authorised traffic to an
//! embedded broker (rumqttd) that listens on loopback only.
//!
//! It must never: forward a packet it has not authorised, let the broker listen on a
//! non-loopback address, or let one client's slowness or hostility affect another's.
//!
//! # Memory per device, and why devices share broker connections
//!
//! The first target was at most 16 KiB of gateway memory per idle device connection, with at
//! least 10,000 devices on a 2-core machine (the current one, 8 KiB and 100,000 connections,
//! and the figures are in the README). The first design gave each device its own connection to
//! rumqttd and relayed bytes. Measured, that cannot meet either target:
//!
//! - rumqttd 0.20 itself costs about 57 KiB per connection it serves (measured: 1,000 plain
//!   MQTT connections, each subscribed to its device's two downlink topics, grew the process by
//!   57 MiB). Its source shows why: two 10 KiB network buffers per connection, router queues
//!   preallocated for 200 packets each way, and one commit log per distinct subscription;
//! - each device would hold three file descriptors in this process (device socket, both ends of
//!   the loopback connection), and the open-file hard limit here is 20,000, so 10,000 devices
//!   could never connect.
//!
//! So the gateway holds each device's MQTT session itself (`device`): it answers CONNECT,
//! SUBSCRIBE and PINGREQ, sends a device's publishes to the broker over a few shared
//! connections ("links", `upstream`) and returns the device's PUBACK only once the broker has
//! acknowledged the publish; one shared subscription brings every device's `ack` and `config`
//! messages back, and the gateway routes them by topic (`sessions`). An idle device then costs
//! its socket, the TLS connection state and keys, one task and a few small table entries. The
//! TLS layer is rustls's unbuffered API driven by `tls_stream`, whose buffers exist only while
//! bytes are in them: rustls's buffered connection kept a 4 KiB receive buffer for every
//! connection's whole life, a third of an idle device's cost. The connection state is boxed so
//! the task, a future sized for every state it passes through, holds it once. Services (the
//! collector) are few and need broker-side sessions (persistent subscriptions, manual acks,
//! shared subscriptions), so each keeps its own relayed broker connection (`relay`). The
//! figures are in the README (`dampwatch bench gateway`).
//!
//! Consequences: device sessions are clean (the firmware subscribes after every CONNECT); the
//! gateway remembers the last configuration message per device and hands it over on
//! subscribe, as the broker would a retained message; device publishes reach the broker as
//! MQTT 3.1.1 (MQTT 5 properties of an uplink are dropped: the signed payload carries
//! everything).

pub mod acl;
#[cfg(feature = "bench")]
pub mod bench;
pub mod broker;
pub mod cidr;
pub mod cli;
pub mod cluster_link;
pub mod config;
mod connection;
pub mod crl;
mod device;
mod error;
pub mod handshakes;
mod http;
pub mod identity;
pub mod limits;
mod live;
pub mod mailbox;
pub mod metrics;
pub mod mqtt;
mod packet_io;
pub mod proxy_protocol;
pub mod refusal;
mod relay;
pub mod rlimit;
pub mod server;
pub mod sessions;
pub mod slots;
pub mod source;
pub mod tls;
mod tls_stream;
pub mod upstream;

pub use config::Config;
pub use error::StartError;
pub use refusal::Refusal;
pub use server::Gateway;
