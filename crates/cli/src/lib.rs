//! The operator's commands that are also used as a library: the device registry from the
//! command line ([`devices`]), which the end-to-end tests drive as an operator would, and the
//! audit log's export and verification ([`audit`]).

pub mod audit;
pub mod devices;
pub mod people;
