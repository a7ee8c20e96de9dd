//! A send's files: each path the person named, opened beneath its own
//! folder (so nothing in a sent folder leads out of it) and hashed, named
//! on the wire by its last component beneath the chosen `to_folder`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sixchat_proto::files::{FileErrorCode, WirePath};

use super::serve::{MAX_OFFER_FILES, ServedFile, prepare};
use crate::files::confine::Root;

type Refusal = (FileErrorCode, String);

/// The folder holding `path` and `path`'s name on the wire.
fn split(path: &Path) -> Result<(PathBuf, WirePath), Refusal> {
    let resolved = std::fs::canonicalize(path)
        .map_err(|e| (FileErrorCode::NotFound, format!("{}: {e}", path.display())))?;
    let (Some(parent), Some(name)) = (resolved.parent(), resolved.file_name()) else {
        return Err((
            FileErrorCode::BadPath,
            format!("{}: name a file or a folder inside one", path.display()),
        ));
    };
    let name = name.to_str().ok_or_else(|| {
        (
            FileErrorCode::BadPath,
            format!("{}: the name is not UTF-8", path.display()),
        )
    })?;
    let wire = WirePath::parse(name).map_err(|e| {
        (
            FileErrorCode::BadPath,
            format!("{}: cannot be sent: {e}", path.display()),
        )
    })?;
    Ok((parent.to_owned(), wire))
}

/// Opens and hashes every file of `paths` (folders whole), numbered in
/// order, each beneath `to_folder` on the wire.
pub(super) fn prepare_local(
    paths: &[PathBuf],
    to_folder: Option<&WirePath>,
) -> Result<Vec<ServedFile>, Refusal> {
    if paths.is_empty() {
        return Err((FileErrorCode::NotFound, "nothing to send".to_owned()));
    }
    let mut names = HashSet::new();
    let mut files: Vec<ServedFile> = Vec::new();
    for path in paths {
        let (parent, name) = split(path)?;
        if !names.insert(name.as_str().to_lowercase()) {
            return Err((
                FileErrorCode::BadPath,
                format!("two of the paths are named {name}: send them one at a time"),
            ));
        }
        let root = Root::open(&parent)
            .map_err(|e| (FileErrorCode::Io, format!("{}: {e}", parent.display())))?;
        for mut file in prepare(&root, &name)? {
            if let Some(folder) = to_folder.filter(|f| !f.is_root()) {
                let joined = format!("{folder}/{}", file.offered.path);
                file.offered.path = WirePath::parse(&joined)
                    .map_err(|e| (FileErrorCode::BadPath, format!("{joined}: {e}")))?;
            }
            file.offered.index = u32::try_from(files.len()).unwrap_or(u32::MAX);
            files.push(file);
            if files.len() > MAX_OFFER_FILES {
                return Err((
                    FileErrorCode::TooMany,
                    format!("more than {MAX_OFFER_FILES} files"),
                ));
            }
        }
    }
    Ok(files)
}
