//! The gateway end to end: real TLS clients (rumqttc, byte-level, Debian's mosquitto clients)
//! against a gateway with its own temporary PKI on 127.0.0.1, port 0.

mod admission;
mod authorisation;
mod cluster;
mod common;
mod crl_file;
mod expiry;
mod limits;
mod loopback;
mod mosquitto;
mod raw;
mod revocation;
mod shutdown;
mod slots;
mod sources;
