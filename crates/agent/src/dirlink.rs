//! The agent's link to its own DIR: the connection settings (with the
//! certificate presented, replaced after a renewal) and the certificate
//! policy the DIR's answers are checked with. What goes over it lives in
//! [`crate::reach`] (finding a peer), [`crate::mailbox`] (the offline
//! store) and [`crate::upkeep`] (registration, renewal, CRLs).

use std::sync::{Arc, Mutex};

use sixchat_host::lock;
use sixchat_proto::CertificatePolicy;

use crate::irp::directory::Directory;

/// The profile's own DIR, as a running agent uses it.
pub struct DirLink {
    directory: Mutex<Directory>,
    policy: Arc<dyn CertificatePolicy>,
}

impl std::fmt::Debug for DirLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirLink")
            .field("directory", &*lock(&self.directory))
            .finish_non_exhaustive()
    }
}

impl DirLink {
    pub fn new(directory: Directory, policy: Arc<dyn CertificatePolicy>) -> Self {
        Self {
            directory: Mutex::new(directory),
            policy,
        }
    }

    /// The DIR connection settings (with the current certificate).
    pub fn directory(&self) -> Directory {
        lock(&self.directory).clone()
    }

    /// The domain this DIR serves.
    pub fn domain(&self) -> String {
        lock(&self.directory).dir.domain.clone()
    }

    pub(crate) fn policy(&self) -> &dyn CertificatePolicy {
        &*self.policy
    }

    /// Presents `chain` to the DIR from now on (after a renewal).
    pub(crate) fn replace_chain(&self, chain: Vec<Vec<u8>>) {
        lock(&self.directory).auth.chain = chain;
    }
}
