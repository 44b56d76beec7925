//! Choosing a free TCP port on loopback.

use std::net::{Ipv4Addr, TcpListener};

/// A port the kernel just considered free. Another process may take it before the server binds
/// it; the caller retries with a new one when the server reports the address in use.
pub(crate) fn free_loopback_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
