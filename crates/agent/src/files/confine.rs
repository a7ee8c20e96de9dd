//! Files opened beneath their root (files.md, "Paths and the disk"): the
//! shared folder and the incoming folder are `cap-std` directories, so no
//! path, `..` or symlink can lead out of them; a device, a FIFO or a socket
//! is refused before it is opened (and again after, by the open handle, so
//! one swapped in between is still refused); a FIFO is opened without
//! blocking.
//!
//! Blocking file I/O: call from the blocking pool.

use std::io;
use std::path::Path;
use std::time::SystemTime;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, Metadata, OpenOptions};
use sixchat_proto::files::path::check_name;
use sixchat_proto::files::{ListEntry, PathProblem, WirePath};

/// Why a path beneath a root could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("{0}")]
    Path(#[from] PathProblem),
    #[error("{0} does not exist")]
    NotFound(WirePath),
    /// A symlink that leads out of the root, or a path through one.
    #[error("{0} leads out of the shared folder")]
    Escapes(WirePath),
    #[error("{0} is not a regular file or folder (a device, FIFO or socket)")]
    NotRegular(WirePath),
    #[error("{path}: {source}")]
    Io { path: WirePath, source: io::Error },
}

impl ConfineError {
    fn from_io(path: &WirePath, e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => Self::NotFound(path.clone()),
            // cap-std refuses a path that would leave the root with
            // PermissionDenied (a `..` or an absolute symlink on the way).
            io::ErrorKind::PermissionDenied if escapes(&e) => Self::Escapes(path.clone()),
            _ => Self::Io {
                path: path.clone(),
                source: e,
            },
        }
    }
}

/// cap-std's refusal of a path that would leave the root
/// (`PermissionDenied`, "a path led outside of the filesystem").
fn escapes(e: &io::Error) -> bool {
    e.raw_os_error().is_none() && e.to_string().contains("outside of the filesystem")
}

/// What one listing entry costs besides its name, as XML.
pub const ENTRY_OVERHEAD: usize = 96;

/// A folder whose contents are reached only beneath it.
#[derive(Debug)]
pub struct Root {
    dir: Dir,
}

/// A regular file opened beneath a root, with what it was when opened.
#[derive(Debug)]
pub struct Opened {
    pub file: std::fs::File,
    pub size: u64,
    pub modified: i64,
}

impl Root {
    /// Opens the folder at `path` (the person chose it: ambient authority).
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            dir: Dir::open_ambient_dir(path, ambient_authority())?,
        })
    }

    /// Opens a regular file beneath the root for reading.
    pub fn open_file(&self, path: &WirePath) -> Result<Opened, ConfineError> {
        let before = self
            .dir
            .metadata(path.as_str())
            .map_err(|e| ConfineError::from_io(path, e))?;
        if !before.is_file() {
            return Err(ConfineError::NotRegular(path.clone()));
        }
        let mut options = OpenOptions::new();
        options.read(true);
        let (file, metadata) = self.open_regular(path, &mut options)?;
        Ok(Opened {
            file: file.into_std(),
            size: metadata.len(),
            modified: unix_seconds(&metadata),
        })
    }

    /// Opens (or creates) a file beneath the root for reading and writing,
    /// creating the folders above it; an existing entry that is not a
    /// regular file is refused.
    pub fn open_read_write(&self, path: &WirePath) -> Result<std::fs::File, ConfineError> {
        let parent = path.parent();
        if !parent.is_root() {
            self.dir
                .create_dir_all(parent.as_str())
                .map_err(|e| ConfineError::from_io(&parent, e))?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let (file, _) = self.open_regular(path, &mut options)?;
        Ok(file.into_std())
    }

    /// Opens `path` beneath the root with `options` (never blocking on a
    /// FIFO) and refuses what turns out not to be a regular file.
    fn open_regular(
        &self,
        path: &WirePath,
        options: &mut OpenOptions,
    ) -> Result<(cap_std::fs::File, Metadata), ConfineError> {
        #[cfg(unix)]
        {
            use cap_std::fs::OpenOptionsExt as _;
            // A FIFO swapped in after a check must not block the open.
            options.custom_flags(libc::O_NONBLOCK);
        }
        let file = self
            .dir
            .open_with(path.as_str(), options)
            .map_err(|e| ConfineError::from_io(path, e))?;
        let metadata = file
            .metadata()
            .map_err(|e| ConfineError::from_io(path, e))?;
        if !metadata.is_file() {
            return Err(ConfineError::NotRegular(path.clone()));
        }
        Ok((file, metadata))
    }

    /// Renames `from` to `to`, both beneath the root.
    pub fn rename(&self, from: &WirePath, to: &WirePath) -> Result<(), ConfineError> {
        self.dir
            .rename(from.as_str(), &self.dir, to.as_str())
            .map_err(|e| ConfineError::from_io(to, e))
    }

    /// Removes a file beneath the root (a missing one is not an error).
    pub fn remove(&self, path: &WirePath) -> Result<(), ConfineError> {
        match self.dir.remove_file(path.as_str()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ConfineError::from_io(path, e)),
            _ => Ok(()),
        }
    }

    /// Whether `path` is a folder beneath the root (a symlink to one
    /// beneath it counts).
    pub fn is_dir(&self, path: &WirePath) -> Result<bool, ConfineError> {
        if path.is_root() {
            return Ok(true);
        }
        self.dir
            .metadata(path.as_str())
            .map(|m| m.is_dir())
            .map_err(|e| ConfineError::from_io(path, e))
    }

    /// Whether `path` itself is a symlink (not followed).
    pub fn is_symlink(&self, path: &WirePath) -> bool {
        self.dir
            .symlink_metadata(path.as_str())
            .is_ok_and(|m| m.is_symlink())
    }

    /// Whether something exists at `path` beneath the root.
    pub fn exists(&self, path: &WirePath) -> bool {
        self.dir.symlink_metadata(path.as_str()).is_ok()
    }

    /// A page of the folder at `path`: entries sorted by name from
    /// `start`, at most `limit`, and no more than `max_bytes` of names as
    /// XML writes them (each counted with [`ENTRY_OVERHEAD`]). Names that
    /// cannot travel (see [`check_name`]) and entries that are neither files
    /// nor folders (devices, FIFOs, sockets, symlinks out) are left out.
    pub fn list(
        &self,
        path: &WirePath,
        start: usize,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<ListEntry>, Option<u64>), ConfineError> {
        let folder = if path.is_root() {
            self.dir
                .try_clone()
                .map_err(|e| ConfineError::from_io(path, e))?
        } else {
            self.dir
                .open_dir(path.as_str())
                .map_err(|e| ConfineError::from_io(path, e))?
        };
        let mut names: Vec<String> = folder
            .entries()
            .map_err(|e| ConfineError::from_io(path, e))?
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| check_name(name).is_ok())
            .collect();
        names.sort_unstable();
        let mut entries = Vec::new();
        let mut next = None;
        let mut bytes = 0;
        for (index, name) in names.iter().enumerate().skip(start) {
            bytes += ENTRY_OVERHEAD + sixchat_proto::xml::escaped_len(name);
            if entries.len() == limit || (bytes > max_bytes && !entries.is_empty()) {
                next = Some(index as u64);
                break;
            }
            // Follows symlinks, but only beneath the root.
            let Ok(metadata) = folder.metadata(name) else {
                continue;
            };
            if !metadata.is_file() && !metadata.is_dir() {
                continue;
            }
            entries.push(ListEntry {
                name: name.clone(),
                folder: metadata.is_dir(),
                size: if metadata.is_file() {
                    metadata.len()
                } else {
                    0
                },
                modified: unix_seconds(&metadata),
            });
        }
        Ok((entries, next))
    }
}

fn unix_seconds(metadata: &Metadata) -> i64 {
    metadata
        .modified()
        .ok()
        .map(cap_std::time::SystemTime::into_std)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
