//! BLAKE3 verified streaming (files.md, "Integrity and resume") over
//! `bao-tree`, in 16 KiB chunk groups: the sender's outboard and its
//! validated encoder; the receiver's `NAME.part` with its outboard
//! `NAME.part.obao`, each group checked against the offered root before it
//! is written, what is verified found again after a crash, and the final
//! name given only once every chunk verified.
//!
//! Blocking file I/O: call from the blocking pool.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::sync::Arc;

use bao_tree::io::outboard::PreOrderOutboard;
use bao_tree::io::sync::{CreateOutboard, decode_ranges, encode_ranges_validated, valid_ranges};
use bao_tree::io::{DecodeError, EncodeError};
use bao_tree::{BaoTree, BlockSize, ChunkNum, ChunkRanges};
use sixchat_proto::files::{ChunkRangeSet, WirePath};

use super::cache::{CACHE, CACHE_FROM_BYTES, cache_key, disk};
use super::confine::{ConfineError, Root};

/// 16 KiB chunk groups (chunk log 4), as files.md fixes.
pub const BLOCK_SIZE: BlockSize = BlockSize::from_chunk_log(4);
/// Bytes read at a time while hashing a whole file.
const HASH_READ_BYTES: usize = 1 << 20;

/// A file's BLAKE3 root and its outboard (the hash tree, pre-order), in
/// memory: about 0.4 % of the file.
#[derive(Debug, Clone)]
pub struct Outboard {
    pub(super) inner: PreOrderOutboard<Vec<u8>>,
}

impl Outboard {
    /// Hashes `file` from its start (its size is taken from its metadata).
    pub fn of_file(file: &File) -> io::Result<Self> {
        let size = file.metadata()?.len();
        let reader = BufReader::with_capacity(HASH_READ_BYTES, file);
        let inner = PreOrderOutboard::<Vec<u8>>::create_sized(reader.take(size), size, BLOCK_SIZE)?;
        Ok(Self { inner })
    }

    /// [`Self::of_file`], or the outboard hashed earlier for the same file
    /// (device, inode, size, modification and change time), in this process
    /// or kept on disk: a file offered again is not hashed again. Safe
    /// because the encoder checks every group against the outboard as it
    /// sends.
    pub fn of_file_cached(file: &File) -> io::Result<Arc<Self>> {
        let meta = file.metadata()?;
        let key = cache_key(&meta);
        if let Some(key) = key
            && let Some(hit) = sixchat_host::lock(&CACHE).get(&key)
        {
            return Ok(hit);
        }
        let size = meta.len();
        let on_disk = key.and_then(|key| disk::load(&key, size));
        let outboard = if let Some(outboard) = on_disk {
            Arc::new(outboard)
        } else {
            let outboard = Arc::new(Self::of_file(file)?);
            if let Some(key) = key {
                disk::save(&key, &outboard);
            }
            outboard
        };
        if let Some(key) = key
            && outboard.size() >= CACHE_FROM_BYTES
        {
            sixchat_host::lock(&CACHE).put(key, outboard.clone());
        }
        Ok(outboard)
    }

    /// Keeps the outboards of large files hashed from now on in `dir` too
    /// (the first call in a process decides), so a file served again after
    /// a restart is not hashed again.
    pub fn keep_on_disk(dir: std::path::PathBuf) {
        let _ = disk::DIR.set(dir);
    }

    /// Bytes the outboard holds in memory.
    pub(super) fn memory(&self) -> usize {
        self.inner.data.len()
    }

    pub fn root(&self) -> [u8; 32] {
        *self.inner.root.as_bytes()
    }

    pub fn size(&self) -> u64 {
        self.inner.tree.size()
    }
}

/// Why sending stopped.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The file no longer matches the hash it was offered with.
    #[error("the file changed while being sent")]
    Changed,
    /// The receiver went away (the writer failed).
    #[error("the stream was closed: {0}")]
    Closed(io::Error),
    #[error("reading the file: {0}")]
    Read(io::Error),
}

/// Writes the bao encoding of `ranges` of `file` to `out`, checking every
/// chunk group against the outboard before it is written, so a file that
/// changed since it was hashed is never sent half old, half new.
pub fn encode(
    file: &File,
    outboard: &Outboard,
    ranges: &ChunkRanges,
    out: impl Write,
) -> Result<(), SendError> {
    let result = encode_checked(file, outboard, ranges, out);
    if matches!(result, Err(SendError::Changed)) {
        sixchat_host::lock(&CACHE).forget(outboard);
    }
    result
}

fn encode_checked(
    file: &File,
    outboard: &Outboard,
    ranges: &ChunkRanges,
    out: impl Write,
) -> Result<(), SendError> {
    match encode_ranges_validated(file, &outboard.inner, ranges, out) {
        Ok(()) => Ok(()),
        Err(EncodeError::LeafHashMismatch(_) | EncodeError::ParentHashMismatch(_)) => {
            Err(SendError::Changed)
        }
        Err(EncodeError::SizeMismatch) => Err(SendError::Changed),
        Err(EncodeError::ParentWrite(_) | EncodeError::LeafWrite(_)) => Err(SendError::Closed(
            io::Error::new(io::ErrorKind::BrokenPipe, "the receiver stopped listening"),
        )),
        Err(EncodeError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Err(SendError::Changed)
        }
        Err(EncodeError::Io(e)) => Err(SendError::Read(e)),
    }
}

/// Why receiving stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// A chunk group (or a hash pair) did not verify against the offered
    /// root: the sender sent data that is not the offered file.
    #[error("data does not match the offered file (at byte {at})")]
    BadData { at: u64 },
    /// The stream ended before everything asked for came.
    #[error("the stream ended early")]
    Truncated,
    #[error("writing the file: {0}")]
    Write(io::Error),
}

/// A file being received: `NAME.part` and its outboard `NAME.part.obao`
/// beside it, both beneath the incoming folder.
#[derive(Debug)]
pub struct Partial {
    target: WirePath,
    part_path: WirePath,
    obao_path: WirePath,
    part: File,
    outboard: PreOrderOutboard<File>,
    /// The ranges [`Self::receive`] verified and wrote.
    received: ChunkRanges,
    /// Made new by [`Self::open`] (nothing verified can be in it).
    created: bool,
    /// [`Self::receive`] was called (and may have written).
    touched: bool,
    /// The final rename may replace a file of that name (the person chose
    /// to overwrite).
    replace: bool,
}

impl Partial {
    /// Opens (or creates) the partial file beneath `root` for a file of
    /// `size` bytes with BLAKE3 root `hash`, to be named `target` once
    /// complete. The data file is given its full size at once (sparse until
    /// [`Self::reserve`]). A `.part` left by a transfer of another file
    /// (its outboard's mark differs) is refused and left as it is.
    pub fn open(
        root: &Root,
        target: &WirePath,
        size: u64,
        hash: [u8; 32],
    ) -> Result<Self, ConfineError> {
        let part_path = suffixed(target, ".part")?;
        let obao_path = suffixed(target, ".part.obao")?;
        let tree = BaoTree::new(size, BLOCK_SIZE);
        let obao = root.open_read_write(&obao_path)?;
        let io_error = |path: &WirePath| {
            let path = path.clone();
            move |source| ConfineError::Io { path, source }
        };
        let created = match read_mark(&obao, &tree).map_err(io_error(&obao_path))? {
            Mark::Empty => {
                write_mark(&obao, &tree, size, &hash).map_err(io_error(&obao_path))?;
                true
            }
            Mark::Is(found) if found == mark(size, &hash) => false,
            Mark::Is(_) | Mark::Other => {
                return Err(ConfineError::Io {
                    path: part_path,
                    source: io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "a partial file of another transfer",
                    ),
                });
            }
        };
        let part = root.open_read_write(&part_path)?;
        let resize = |file: &File| -> io::Result<()> {
            if file.metadata()?.len() != size {
                file.set_len(size)?;
            }
            Ok(())
        };
        resize(&part).map_err(io_error(&part_path))?;
        let outboard = PreOrderOutboard {
            root: bao_tree::blake3::Hash::from_bytes(hash),
            tree,
            data: obao,
        };
        Ok(Self {
            target: target.clone(),
            part_path,
            obao_path,
            part,
            outboard,
            received: ChunkRanges::empty(),
            created,
            touched: false,
            replace: false,
        })
    }

    /// Whether `target`'s `.part` and outboard exist and were left by a
    /// transfer of this very file (size and root), so it may be resumed.
    /// Reads the outboard's mark only.
    pub fn resumable(root: &Root, target: &WirePath, size: u64, hash: &[u8; 32]) -> bool {
        let (Ok(part), Ok(obao)) = (suffixed(target, ".part"), suffixed(target, ".part.obao"))
        else {
            return false;
        };
        if !root.exists(&part) {
            return false;
        }
        let tree = BaoTree::new(size, BLOCK_SIZE);
        root.open_file(&obao)
            .ok()
            .and_then(|opened| read_mark(&opened.file, &tree).ok())
            .is_some_and(|found| matches!(found, Mark::Is(m) if m == mark(size, hash)))
    }

    /// Lets the final rename replace a file that holds the name (else it
    /// fails rather than lose that file).
    pub fn replace_existing(&mut self, replace: bool) {
        self.replace = replace;
    }

    /// Whether this `.part` was made by this [`Self::open`] (it holds
    /// nothing of an earlier transfer).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Takes this file for the caller alone, against other programs (an
    /// advisory lock, held until the `Partial` is dropped). `false` if
    /// another holds it.
    pub fn lock(&self) -> bool {
        matches!(
            fs4::fs_std::FileExt::try_lock_exclusive(&self.part),
            Ok(true)
        )
    }

    /// Bytes of the data file the disk holds already (its blocks).
    pub fn allocated(&self) -> io::Result<u64> {
        fs4::fs_std::FileExt::allocated_size(&self.part)
    }

    /// Reserves the data file's whole size on the disk, so a full disk says
    /// so before the first byte: an error of kind `StorageFull` when it does
    /// not fit (a file system without `fallocate` stays sparse).
    pub fn reserve(&self) -> io::Result<()> {
        let size = self.outboard.tree.size();
        match fs4::fs_std::FileExt::allocate(&self.part, size) {
            Err(e) if e.kind() == io::ErrorKind::StorageFull => Err(e),
            Ok(()) | Err(_) => Ok(()),
        }
    }

    /// The chunks still missing: everything not yet verified from the data
    /// and the outboard on disk (after a crash, what was written but not
    /// verified, or not written at all, is missing).
    pub fn missing(&self) -> io::Result<ChunkRanges> {
        let size = self.outboard.tree.size();
        let all = ChunkRanges::from(ChunkNum(0)..ChunkNum(size.div_ceil(1024)));
        // A new outboard proves nothing: the data is not read and hashed
        // for nothing (a fresh 1 GiB `.part` is all zeros).
        if self.created && !self.touched {
            return Ok(all);
        }
        let mut verified = ChunkRanges::empty();
        for range in valid_ranges(&self.outboard, &self.part, &ChunkRanges::all()) {
            verified |= ChunkRanges::from(range?);
        }
        Ok(all - verified)
    }

    /// Reads the bao encoding of `ranges` from `encoded`, verifying each
    /// chunk group before writing it.
    pub fn receive(
        &mut self,
        ranges: &ChunkRanges,
        encoded: impl Read,
    ) -> Result<(), ReceiveError> {
        self.touched = true;
        decode_ranges(encoded, ranges, &mut self.part, &mut self.outboard).map_err(
            |e| match e {
                DecodeError::LeafHashMismatch(chunk) => {
                    ReceiveError::BadData { at: chunk.0 * 1024 }
                }
                DecodeError::ParentHashMismatch(node) => ReceiveError::BadData {
                    at: node.mid().0 * 1024,
                },
                DecodeError::LeafNotFound(_) | DecodeError::ParentNotFound(_) => {
                    ReceiveError::Truncated
                }
                DecodeError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    ReceiveError::Truncated
                }
                DecodeError::Io(e) => ReceiveError::Write(e),
            },
        )?;
        self.received |= ranges.clone();
        Ok(())
    }

    /// [`Self::finish`] for a file whose missing chunks (`missing_before`,
    /// as [`Self::missing`] found them before receiving) all came through
    /// [`Self::receive`]: every one of them was verified as it arrived, so
    /// the file is not read and hashed again.
    pub fn finish_received(
        self,
        root: &Root,
        missing_before: &ChunkRanges,
    ) -> Result<bool, ConfineError> {
        if !(missing_before.clone() - self.received.clone()).is_empty() {
            return self.finish(root);
        }
        self.complete(root)
    }

    /// Gives the file its final name once nothing is missing: one sync of
    /// the data, the rename, the outboard removed. Returns whether it was
    /// complete.
    pub fn finish(self, root: &Root) -> Result<bool, ConfineError> {
        let io_error = |source| ConfineError::Io {
            path: self.target.clone(),
            source,
        };
        if !self.missing().map_err(io_error)?.is_empty() {
            return Ok(false);
        }
        self.complete(root)
    }

    /// Syncs the data, gives the final name, removes the outboard.
    fn complete(self, root: &Root) -> Result<bool, ConfineError> {
        let io_error = |source| ConfineError::Io {
            path: self.target.clone(),
            source,
        };
        self.part.sync_all().map_err(io_error)?;
        // A file that holds the name is replaced only when asked to.
        if !self.replace && root.exists(&self.target) {
            return Err(ConfineError::Io {
                path: self.target.clone(),
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file of that name appeared meanwhile",
                ),
            });
        }
        root.rename(&self.part_path, &self.target)?;
        root.remove(&self.obao_path)?;
        Ok(true)
    }
}

/// The mark after the outboard in `.part.obao`: the file's size (little
/// endian) and BLAKE3 root, naming the one file this `.part` is for.
type OwnerMark = [u8; 40];

fn mark(size: u64, hash: &[u8; 32]) -> OwnerMark {
    let mut mark = [0u8; 40];
    mark[..8].copy_from_slice(&size.to_le_bytes());
    mark[8..].copy_from_slice(hash);
    mark
}

enum Mark {
    /// A new outboard.
    Empty,
    Is(OwnerMark),
    /// Not an outboard for a file of this size.
    Other,
}

fn read_mark(obao: &File, tree: &BaoTree) -> io::Result<Mark> {
    use std::io::{Seek as _, SeekFrom};
    let len = obao.metadata()?.len();
    let at = tree.outboard_size();
    if len == 0 {
        return Ok(Mark::Empty);
    }
    if len != at + 40 {
        return Ok(Mark::Other);
    }
    let mut found = [0u8; 40];
    let mut reader = obao;
    reader.seek(SeekFrom::Start(at))?;
    reader.read_exact(&mut found)?;
    Ok(Mark::Is(found))
}

fn write_mark(obao: &File, tree: &BaoTree, size: u64, hash: &[u8; 32]) -> io::Result<()> {
    use std::io::{Seek as _, SeekFrom};
    let mut writer = obao;
    writer.seek(SeekFrom::Start(tree.outboard_size()))?;
    writer.write_all(&mark(size, hash))
}

fn suffixed(path: &WirePath, suffix: &str) -> Result<WirePath, ConfineError> {
    Ok(WirePath::parse(&format!("{path}{suffix}"))?)
}

/// The wire's range set as `bao-tree` ranges.
pub fn to_chunk_ranges(set: &ChunkRangeSet) -> ChunkRanges {
    let mut ranges = ChunkRanges::empty();
    for &(start, end) in set.ranges() {
        ranges |= match end {
            Some(end) => ChunkRanges::from(ChunkNum(start)..ChunkNum(end)),
            None => ChunkRanges::from(ChunkNum(start)..),
        };
    }
    ranges
}

/// `bao-tree` ranges as the wire's range set (`None` if they are more than
/// one message may carry).
pub fn from_chunk_ranges(ranges: &ChunkRanges) -> Option<ChunkRangeSet> {
    let list = ranges
        .iter()
        .map(|range| match range {
            range_collections::range_set::RangeSetRange::Range(r) => (r.start.0, Some(r.end.0)),
            range_collections::range_set::RangeSetRange::RangeFrom(r) => (r.start.0, None),
        })
        .collect();
    ChunkRangeSet::from_ranges(list).ok()
}
