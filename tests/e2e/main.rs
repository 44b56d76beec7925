//! The collector end to end: real PKI, real PostgreSQL, real gateway and broker, real mutual
//! TLS, devices running the firmware core. Every test builds its own world, so they run in
//! parallel.

mod audit;
mod bad_input;
mod cluster;
mod common;
mod crafted;
mod devices_cli;
mod embedded;
mod faults;
mod misbehaving_device;
mod shared;
