//! File transfer over a Direct session (files.md, docs/transfer.md),
//! sans-IO: paths on the wire and the rules they must meet, chunk-range
//! sets, and the `file-*` application messages.

pub mod messages;
pub mod path;
pub mod ranges;

pub use messages::{FileErrorCode, FileMessage, ListEntry, Offer, OfferedFile, Want};
pub use path::{PathProblem, WirePath};
pub use ranges::ChunkRangeSet;

#[cfg(test)]
mod tests;

/// An id or transfer token: the same rule as a message id.
pub(crate) fn valid_token(token: &str) -> bool {
    crate::app::valid_id(token)
}
