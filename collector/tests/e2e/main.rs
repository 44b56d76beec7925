//! The collector end to end: real PKI, real PostgreSQL, real gateway and broker, real mutual
//! TLS, devices running the firmware core. Every test builds its own world, so they run in
//! parallel.

mod bad_input;
mod common;
mod devices_cli;
mod embedded;
mod faults;
mod schema;
mod shared;
