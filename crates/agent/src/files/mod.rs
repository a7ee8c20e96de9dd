//! File transfer's building blocks on the agent's side (files.md): files
//! reached only beneath their root ([`confine`]) and BLAKE3 verified
//! streaming into `.part` files that survive a crash ([`verified`]). The transfer service that drives them over a session
//! is `services/transfer.rs` (issue 12, in progress).

pub mod confine;
pub mod verified;

#[cfg(test)]
mod tests;
