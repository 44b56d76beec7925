//! The simulator against the whole stack: its homes run the real firmware core, sign and send
//! over mutual-TLS MQTT through the gateway to the collector and PostgreSQL.

mod end_to_end;
mod firmware_over_mqtt;
mod forged_downlinks;
mod outage;
mod support;
