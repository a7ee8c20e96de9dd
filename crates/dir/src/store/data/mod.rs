//! What users leave with the DIR: address records, key backups, and the
//! offline store of envelopes.

mod backups;
mod offline;
mod records;
#[cfg(test)]
mod tests;

pub use backups::{BackupRow, backup_of, has_backup, put_backup};
pub use offline::{
    NewEnvelope, PutOutcome, Quota, ack_envelopes, fetch_envelopes, purge_expired, put_envelope,
    total_bytes, waiting,
};
pub use records::{RecordOutcome, RecordRow, put_record, record_of};
