//! Outboards hashed before, so a file offered again is not hashed again:
//! in memory per process (by device, inode, size, modification and change
//! time), and for large files on disk beside the profile's store.

use std::sync::Arc;

use super::verified::Outboard;

/// Files smaller than this are hashed again rather than cached.
pub(super) const CACHE_FROM_BYTES: u64 = 1 << 20;
/// Most bytes of outboards the cache keeps (about 16 GiB of files).
const CACHE_BYTES: usize = 64 << 20;

/// (device, inode, size, modification and change times in nanoseconds):
/// any write to the file moves its change time, which no one can set back.
pub(super) type CacheKey = (u64, u64, u64, i128, i128);

#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // `None` where the platform has no inode
pub(super) fn cache_key(meta: &std::fs::Metadata) -> Option<CacheKey> {
    use std::os::unix::fs::MetadataExt as _;
    let nanos = |s: i64, ns: i64| i128::from(s) * 1_000_000_000 + i128::from(ns);
    let (mtime, ctime) = (
        nanos(meta.mtime(), meta.mtime_nsec()),
        nanos(meta.ctime(), meta.ctime_nsec()),
    );
    Some((meta.dev(), meta.ino(), meta.len(), mtime, ctime))
}

#[cfg(not(unix))]
pub(super) fn cache_key(_meta: &std::fs::Metadata) -> Option<CacheKey> {
    None
}

/// Outboards of large files kept on disk across processes, under a name
/// made from their cache key; each file holds its key, root and outboard,
/// and is read only if all three fit. Safe like the memory cache: the
/// encoder checks every group against the outboard as it sends.
pub(super) mod disk {
    use std::io::{Read as _, Write as _};
    use std::path::PathBuf;
    use std::sync::OnceLock;

    use bao_tree::BaoTree;
    use bao_tree::io::outboard::PreOrderOutboard;

    use super::CacheKey;
    use crate::files::verified::{BLOCK_SIZE, Outboard};

    pub(in crate::files) static DIR: OnceLock<PathBuf> = OnceLock::new();
    /// Smaller files are quick to hash again.
    const FROM_BYTES: u64 = 64 << 20;
    /// Most bytes of outboards kept (those of about 64 GiB of files).
    const MOST_BYTES: u64 = 256 << 20;
    const HEADER: usize = 8 * 3 + 16 * 2 + 32;

    fn header(key: &CacheKey, root: &[u8; 32]) -> [u8; HEADER] {
        let mut out = [0u8; HEADER];
        out[..8].copy_from_slice(&key.0.to_le_bytes());
        out[8..16].copy_from_slice(&key.1.to_le_bytes());
        out[16..24].copy_from_slice(&key.2.to_le_bytes());
        out[24..40].copy_from_slice(&key.3.to_le_bytes());
        out[40..56].copy_from_slice(&key.4.to_le_bytes());
        out[56..].copy_from_slice(root);
        out
    }

    fn path_in(dir: &std::path::Path, key: &CacheKey) -> PathBuf {
        let name = header(key, &[0; 32]);
        let hash = bao_tree::blake3::hash(&name);
        dir.join(format!("{}.obao", &hash.to_hex()[..32]))
    }

    pub(in crate::files) fn load(key: &CacheKey, size: u64) -> Option<Outboard> {
        load_in(DIR.get()?, key, size)
    }

    pub(in crate::files) fn save(key: &CacheKey, outboard: &Outboard) {
        if let Some(dir) = DIR.get() {
            save_in(dir, key, outboard);
        }
    }

    pub(in crate::files) fn load_in(
        dir: &std::path::Path,
        key: &CacheKey,
        size: u64,
    ) -> Option<Outboard> {
        if size < FROM_BYTES {
            return None;
        }
        let tree = BaoTree::new(size, BLOCK_SIZE);
        let expected = usize::try_from(tree.outboard_size()).ok()? + HEADER;
        let mut file = std::fs::File::open(path_in(dir, key)).ok()?;
        if file.metadata().ok()?.len() != expected as u64 {
            return None;
        }
        let mut bytes = Vec::with_capacity(expected);
        file.read_to_end(&mut bytes).ok()?;
        let root: [u8; 32] = bytes[56..HEADER].try_into().ok()?;
        if bytes[..HEADER] != header(key, &root) {
            return None;
        }
        bytes.drain(..HEADER);
        Some(Outboard {
            inner: PreOrderOutboard {
                root: bao_tree::blake3::Hash::from_bytes(root),
                tree,
                data: bytes,
            },
        })
    }

    /// Best effort: a cache that cannot be written is only slower.
    pub(in crate::files) fn save_in(dir: &std::path::Path, key: &CacheKey, outboard: &Outboard) {
        if outboard.size() < FROM_BYTES {
            return;
        }
        let path = path_in(dir, key);
        let _ = std::fs::create_dir_all(dir);
        let temporary = path.with_extension("tmp");
        let written = std::fs::File::create(&temporary).and_then(|mut file| {
            file.write_all(&header(key, &outboard.root()))?;
            file.write_all(&outboard.inner.data)
        });
        if written.is_ok() && std::fs::rename(&temporary, &path).is_ok() {
            evict(dir);
        } else {
            let _ = std::fs::remove_file(&temporary);
        }
    }

    /// Removes the oldest outboards while they hold more than [`MOST_BYTES`].
    fn evict(dir: &std::path::Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut kept: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = kept.iter().map(|(_, len, _)| len).sum();
        kept.sort_unstable();
        for (_, len, path) in kept {
            if total <= MOST_BYTES {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Outboards of files hashed in this process, oldest dropped first.
pub(super) struct OutboardCache {
    entries: std::collections::VecDeque<(CacheKey, Arc<Outboard>)>,
    bytes: usize,
}

impl OutboardCache {
    pub(super) fn get(&self, key: &CacheKey) -> Option<Arc<Outboard>> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, outboard)| outboard.clone())
    }

    /// Drops `outboard` (a file found changed under it).
    pub(super) fn forget(&mut self, outboard: &Outboard) {
        let before = self.entries.len();
        self.entries
            .retain(|(_, cached)| !std::ptr::eq(Arc::as_ptr(cached), outboard));
        if self.entries.len() != before {
            self.bytes = self.entries.iter().map(|(_, o)| o.memory()).sum();
        }
    }

    pub(super) fn put(&mut self, key: CacheKey, outboard: Arc<Outboard>) {
        if self.get(&key).is_some() || outboard.memory() > CACHE_BYTES {
            return;
        }
        self.bytes += outboard.memory();
        self.entries.push_back((key, outboard));
        while self.bytes > CACHE_BYTES {
            let Some((_, old)) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= old.memory();
        }
    }
}

pub(super) static CACHE: std::sync::Mutex<OutboardCache> = std::sync::Mutex::new(OutboardCache {
    entries: std::collections::VecDeque::new(),
    bytes: 0,
});
