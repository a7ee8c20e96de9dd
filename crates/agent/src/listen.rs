//! Binding the listener: `[::]:4605` takes IPv6 and IPv4 (IPV6_V6ONLY off).

/// The Direct protocol's port.
pub const DIRECT_PORT: u16 = 4605;

pub use sixchat_host::listen::bind;
