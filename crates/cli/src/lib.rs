//! The operator's commands that are also used as a library: the device registry from the
//! command line ([`devices`]), which the end-to-end tests drive as an operator would.

pub mod devices;
