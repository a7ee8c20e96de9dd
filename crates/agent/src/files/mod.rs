//! File transfer's building blocks on the agent's side (files.md): files
//! reached only beneath their root ([`confine`]), BLAKE3 verified streaming
//! into `.part` files that survive a crash ([`verified`]), and outboards
//! kept so a file is not hashed again ([`cache`]). The transfer service
//! that drives them over a session is `services/transfer/`.

mod cache;
pub mod confine;
pub mod verified;

#[cfg(test)]
mod tests;
