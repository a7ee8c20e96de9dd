//! The file-transfer messages (docs/transfer.md), application messages of
//! the `file-transfer` capability. The file data itself never travels in
//! XML: it goes in bulk records (inner type 0x18), one stream per file.

use crate::xml::{Element, Writer};

use super::path::{PathProblem, WirePath};
use super::ranges::ChunkRangeSet;

/// Most entries in one `file-listing` page or one `file-offer` part (each
/// message must also fit one record: 64 KiB).
pub const MAX_ENTRIES_PER_MESSAGE: usize = 400;
/// Most streams one `file-request` asks for.
pub const MAX_WANTS_PER_MESSAGE: usize = 400;

/// A file or folder of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub name: String,
    pub folder: bool,
    /// Bytes (0 for a folder).
    pub size: u64,
    /// Last modification, Unix seconds.
    pub modified: i64,
}

/// A file of an offer: where it goes beneath the transfer's root, its size,
/// modification time and BLAKE3 root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedFile {
    pub index: u32,
    pub path: WirePath,
    pub size: u64,
    pub modified: i64,
    pub hash: [u8; 32],
}

/// One `file-offer`: a push (asks the person) or the answer to a `Get`
/// (`reference`). Large offers come in parts; `files` and `bytes` are the
/// whole offer's totals, `last` marks its last part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub transfer: String,
    pub reference: Option<String>,
    pub files: u64,
    pub bytes: u64,
    pub entries: Vec<OfferedFile>,
    pub last: bool,
}

/// One stream the receiver asks for: file `index` of the transfer, the
/// chunk ranges still missing, sent on bulk stream `stream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub stream: u32,
    pub index: u32,
    pub ranges: ChunkRangeSet,
}

/// Why a file operation failed, as both sides name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileErrorCode {
    /// Nothing is shared, or not with this peer.
    NotShared,
    NotFound,
    /// A path on the wire was refused (the reason says which rule).
    BadPath,
    /// A symlink out of the root, a device, a FIFO or a socket.
    NotAllowed,
    /// A limit was reached (transfers at once, entries, offers waiting).
    TooMany,
    /// The file changed while it was being sent.
    Changed,
    /// Data that does not match the offered file's hash.
    BadData,
    /// The receiver's disk has no room for the file.
    NoSpace,
    Declined,
    /// Reading or writing failed.
    Io,
    /// A message that does not fit the transfer's state.
    Protocol,
}

impl FileErrorCode {
    pub const ALL: [Self; 11] = [
        Self::NotShared,
        Self::NotFound,
        Self::BadPath,
        Self::NotAllowed,
        Self::TooMany,
        Self::Changed,
        Self::BadData,
        Self::NoSpace,
        Self::Declined,
        Self::Io,
        Self::Protocol,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotShared => "not-shared",
            Self::NotFound => "not-found",
            Self::BadPath => "bad-path",
            Self::NotAllowed => "not-allowed",
            Self::TooMany => "too-many",
            Self::Changed => "changed",
            Self::BadData => "bad-data",
            Self::NoSpace => "no-space",
            Self::Declined => "declined",
            Self::Io => "io",
            Self::Protocol => "protocol",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }
}

/// A file-transfer message, without the id every application message has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMessage {
    /// Asks for a page of a folder of the peer's share.
    List {
        path: WirePath,
        start: u64,
    },
    /// A page of a listing; `next` is the start of the next page, if any.
    Listing {
        reference: String,
        path: WirePath,
        entries: Vec<ListEntry>,
        next: Option<u64>,
    },
    /// Asks the peer to offer a file or folder of its share.
    Get {
        path: WirePath,
    },
    /// Offers files (one part of an offer).
    Offer(Offer),
    Accept {
        transfer: String,
    },
    Decline {
        transfer: String,
        reason: String,
    },
    /// The receiver asks for streams (a new file asks for everything; a
    /// resumed one for what is missing).
    Request {
        transfer: String,
        wants: Vec<Want>,
    },
    /// How many bytes the receiver has verified so far.
    Progress {
        transfer: String,
        verified: u64,
    },
    /// The receiver verified file `index` and gave it its final name.
    Done {
        transfer: String,
        index: u32,
    },
    /// Stops sending (the transfer can be requested again later).
    Pause {
        transfer: String,
    },
    /// Ends the transfer for good.
    Cancel {
        transfer: String,
        reason: String,
    },
    /// A failure: `reference` is the message or transfer it is about;
    /// `index` the file, if one.
    Error {
        reference: String,
        index: Option<u32>,
        code: FileErrorCode,
        reason: String,
    },
}

/// Why a file message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileMessageError {
    #[error("missing <{0}>")]
    Missing(&'static str),
    #[error("invalid <{0}>")]
    Invalid(&'static str),
    #[error("more than {0} entries in one message")]
    TooManyEntries(usize),
    #[error("a path: {0}")]
    Path(#[from] PathProblem),
}

type Parsed<T> = Result<T, FileMessageError>;

impl FileMessage {
    /// The message's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::List { .. } => "file-list",
            Self::Listing { .. } => "file-listing",
            Self::Get { .. } => "file-get",
            Self::Offer(_) => "file-offer",
            Self::Accept { .. } => "file-accept",
            Self::Decline { .. } => "file-decline",
            Self::Request { .. } => "file-request",
            Self::Progress { .. } => "file-progress",
            Self::Done { .. } => "file-done",
            Self::Pause { .. } => "file-pause",
            Self::Cancel { .. } => "file-cancel",
            Self::Error { .. } => "file-error",
        }
    }

    /// Whether `type_name` is one of these messages.
    pub fn is_file_type(type_name: &str) -> bool {
        type_name.starts_with("file-")
    }

    /// Writes the message's children.
    #[allow(clippy::too_many_lines)] // one arm per message of docs/transfer.md's table
    pub fn write(&self, w: Writer) -> Writer {
        match self {
            Self::List { path, start } => w
                .child("path", path.as_str())
                .child("start", &start.to_string()),
            Self::Listing {
                reference,
                path,
                entries,
                next,
            } => {
                let mut w = w.child("ref", reference).child("path", path.as_str());
                for entry in entries {
                    w = w.child_attrs(
                        "entry",
                        &[
                            ("kind", if entry.folder { "folder" } else { "file" }),
                            ("size", &entry.size.to_string()),
                            ("modified", &entry.modified.to_string()),
                        ],
                        &entry.name,
                    );
                }
                match next {
                    Some(next) => w.child("next", &next.to_string()),
                    None => w,
                }
            }
            Self::Get { path } => w.child("path", path.as_str()),
            Self::Offer(Offer {
                transfer,
                reference,
                files,
                bytes,
                entries,
                last,
            }) => {
                let mut w = w.child("transfer", transfer);
                if let Some(reference) = reference {
                    w = w.child("ref", reference);
                }
                w = w
                    .child("files", &files.to_string())
                    .child("bytes", &bytes.to_string());
                for file in entries {
                    w = w.child_attrs(
                        "file",
                        &[
                            ("index", &file.index.to_string()),
                            ("size", &file.size.to_string()),
                            ("modified", &file.modified.to_string()),
                            ("hash", &hex::encode(file.hash)),
                        ],
                        file.path.as_str(),
                    );
                }
                w.child("last", if *last { "true" } else { "false" })
            }
            Self::Accept { transfer } | Self::Pause { transfer } => w.child("transfer", transfer),
            Self::Decline { transfer, reason } | Self::Cancel { transfer, reason } => {
                w.child("transfer", transfer).child("reason", reason)
            }
            Self::Request { transfer, wants } => {
                let mut w = w.child("transfer", transfer);
                for want in wants {
                    w = w.child_attrs(
                        "want",
                        &[
                            ("stream", &want.stream.to_string()),
                            ("index", &want.index.to_string()),
                        ],
                        &want.ranges.to_string(),
                    );
                }
                w
            }
            Self::Progress { transfer, verified } => w
                .child("transfer", transfer)
                .child("verified", &verified.to_string()),
            Self::Done { transfer, index } => w
                .child("transfer", transfer)
                .child("index", &index.to_string()),
            Self::Error {
                reference,
                index,
                code,
                reason,
            } => {
                let mut w = w.child("ref", reference);
                if let Some(index) = index {
                    w = w.child("index", &index.to_string());
                }
                w.child("code", code.as_str()).child("reason", reason)
            }
        }
    }

    /// Reads the message of type `type_name` from its root element.
    #[allow(clippy::too_many_lines)] // one arm per message of docs/transfer.md's table
    pub fn parse(type_name: &str, root: &Element) -> Parsed<Option<Self>> {
        let text = |name: &'static str| -> Parsed<&str> {
            root.child(name)
                .map(|c| c.text.as_str())
                .ok_or(FileMessageError::Missing(name))
        };
        let token = |name: &'static str| -> Parsed<String> {
            let value = text(name)?;
            if super::valid_token(value) {
                Ok(value.to_owned())
            } else {
                Err(FileMessageError::Invalid(name))
            }
        };
        let number = |name: &'static str| -> Parsed<u64> {
            text(name)?
                .parse()
                .map_err(|_| FileMessageError::Invalid(name))
        };
        let path = || -> Parsed<WirePath> {
            let value = text("path")?;
            if value.is_empty() {
                Ok(WirePath::root())
            } else {
                Ok(WirePath::parse(value)?)
            }
        };
        let words = |name: &'static str| -> Parsed<String> {
            let value = text(name)?;
            if value.chars().any(crate::text::needs_escape) || value.len() > 1024 {
                return Err(FileMessageError::Invalid(name));
            }
            Ok(value.to_owned())
        };
        Ok(Some(match type_name {
            "file-list" => Self::List {
                path: path()?,
                start: number("start")?,
            },
            "file-listing" => Self::Listing {
                reference: token("ref")?,
                path: path()?,
                entries: list_entries(root)?,
                next: match root.child("next") {
                    Some(_) => Some(number("next")?),
                    None => None,
                },
            },
            "file-get" => Self::Get { path: path()? },
            "file-offer" => Self::Offer(Offer {
                transfer: token("transfer")?,
                reference: match root.child("ref") {
                    Some(_) => Some(token("ref")?),
                    None => None,
                },
                files: number("files")?,
                bytes: number("bytes")?,
                entries: offered_files(root)?,
                last: match text("last")? {
                    "true" => true,
                    "false" => false,
                    _ => return Err(FileMessageError::Invalid("last")),
                },
            }),
            "file-accept" => Self::Accept {
                transfer: token("transfer")?,
            },
            "file-decline" => Self::Decline {
                transfer: token("transfer")?,
                reason: words("reason")?,
            },
            "file-request" => Self::Request {
                transfer: token("transfer")?,
                wants: wants(root)?,
            },
            "file-progress" => Self::Progress {
                transfer: token("transfer")?,
                verified: number("verified")?,
            },
            "file-done" => Self::Done {
                transfer: token("transfer")?,
                index: u32::try_from(number("index")?)
                    .map_err(|_| FileMessageError::Invalid("index"))?,
            },
            "file-pause" => Self::Pause {
                transfer: token("transfer")?,
            },
            "file-cancel" => Self::Cancel {
                transfer: token("transfer")?,
                reason: words("reason")?,
            },
            "file-error" => Self::Error {
                reference: token("ref")?,
                index: match root.child("index") {
                    Some(_) => Some(
                        u32::try_from(number("index")?)
                            .map_err(|_| FileMessageError::Invalid("index"))?,
                    ),
                    None => None,
                },
                code: FileErrorCode::parse(text("code")?)
                    .ok_or(FileMessageError::Invalid("code"))?,
                reason: words("reason")?,
            },
            _ => return Ok(None),
        }))
    }
}

fn attribute<T: std::str::FromStr>(element: &Element, name: &'static str) -> Parsed<T> {
    element
        .attribute(name)
        .and_then(|v| v.parse().ok())
        .ok_or(FileMessageError::Invalid(name))
}

/// The children called `name`, at most `limit` of them.
fn children<'a>(
    root: &'a Element,
    name: &'static str,
    limit: usize,
) -> Parsed<impl Iterator<Item = &'a Element>> {
    let count = root.children.iter().filter(|c| c.name == name).count();
    if count > limit {
        return Err(FileMessageError::TooManyEntries(limit));
    }
    Ok(root.children.iter().filter(move |c| c.name == name))
}

fn list_entries(root: &Element) -> Parsed<Vec<ListEntry>> {
    children(root, "entry", MAX_ENTRIES_PER_MESSAGE)?
        .map(|entry| {
            super::path::check_name(&entry.text)?;
            Ok(ListEntry {
                name: entry.text.clone(),
                folder: match entry.attribute("kind") {
                    Some("folder") => true,
                    Some("file") => false,
                    _ => return Err(FileMessageError::Invalid("entry")),
                },
                size: attribute(entry, "size")?,
                modified: attribute(entry, "modified")?,
            })
        })
        .collect()
}

fn offered_files(root: &Element) -> Parsed<Vec<OfferedFile>> {
    children(root, "file", MAX_ENTRIES_PER_MESSAGE)?
        .map(|file| {
            Ok(OfferedFile {
                index: attribute(file, "index")?,
                path: WirePath::parse(&file.text)?,
                size: attribute(file, "size")?,
                modified: attribute(file, "modified")?,
                hash: file
                    .attribute("hash")
                    .and_then(unhex)
                    .ok_or(FileMessageError::Invalid("hash"))?,
            })
        })
        .collect()
}

fn wants(root: &Element) -> Parsed<Vec<Want>> {
    children(root, "want", MAX_WANTS_PER_MESSAGE)?
        .map(|want| {
            Ok(Want {
                stream: attribute(want, "stream")?,
                index: attribute(want, "index")?,
                ranges: want
                    .text
                    .parse()
                    .map_err(|_| FileMessageError::Invalid("want"))?,
            })
        })
        .collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}
