//! Opening and hashing what is offered: one file, or every file of a
//! folder beneath its root (recursively, in name order, symlinked folders
//! not walked into).

use std::sync::Arc;

use sixchat_proto::files::{FileErrorCode, OfferedFile, WirePath};

use super::serve::{MAX_DEPTH, MAX_OFFER_FILES, ServedFile, refusal};
use crate::files::confine::Root;
use crate::files::verified::Outboard;

/// Opens and hashes `path` beneath the share: one file, or every file of a
/// folder (recursively, in name order).
pub(super) fn prepare(
    root: &Root,
    path: &WirePath,
) -> Result<Vec<ServedFile>, (FileErrorCode, String)> {
    let mut files = Vec::new();
    // A file is offered under its own name; a folder's files under the
    // folder's name.
    let base = path.parent();
    let mut pending = vec![(path.clone(), 0usize)];
    while let Some((current, depth)) = pending.pop() {
        if root.is_dir(&current).map_err(|e| refusal(&e))? {
            if depth >= MAX_DEPTH {
                return Err((
                    FileErrorCode::TooMany,
                    format!("{current}: more than {MAX_DEPTH} folders deep"),
                ));
            }
            let mut children = folder_children(root, &current)?;
            // Popped from the end: reversed, so files go in name order.
            children.reverse();
            pending.extend(children.into_iter().map(|child| (child, depth + 1)));
            continue;
        }
        let opened = root.open_file(&current).map_err(|e| refusal(&e))?;
        let outboard = Outboard::of_file_cached(&opened.file)
            .map_err(|e| (FileErrorCode::Io, format!("{current}: {e}")))?;
        if outboard.size() != opened.size {
            return Err((
                FileErrorCode::Changed,
                format!("{current} changed while being read"),
            ));
        }
        files.push(ServedFile {
            offered: OfferedFile {
                index: u32::try_from(files.len()).unwrap_or(u32::MAX),
                path: relative_to(&base, &current),
                size: opened.size,
                modified: opened.modified,
                hash: outboard.root(),
            },
            file: Arc::new(opened.file),
            outboard,
        });
        if files.len() > MAX_OFFER_FILES {
            return Err((
                FileErrorCode::TooMany,
                format!("more than {MAX_OFFER_FILES} files"),
            ));
        }
    }
    Ok(files)
}

/// Every entry of a folder that may travel, in name order.
fn folder_children(
    root: &Root,
    folder: &WirePath,
) -> Result<Vec<WirePath>, (FileErrorCode, String)> {
    let mut children = Vec::new();
    let mut start = 0;
    loop {
        let (entries, next) = root
            .list(folder, start, 4096, usize::MAX)
            .map_err(|e| refusal(&e))?;
        // A symlinked folder is not walked into (two `x -> .` would loop).
        children.extend(
            entries
                .iter()
                .filter_map(|e| folder.join(&e.name).ok().map(|path| (path, e.folder)))
                .filter(|(path, is_folder)| !(*is_folder && root.is_symlink(path)))
                .map(|(path, _)| path),
        );
        match next {
            Some(next) => start = usize::try_from(next).unwrap_or(usize::MAX),
            None => return Ok(children),
        }
    }
}

/// `path` without the leading `base` folder.
fn relative_to(base: &WirePath, path: &WirePath) -> WirePath {
    if base.is_root() {
        return path.clone();
    }
    path.as_str()
        .strip_prefix(base.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| WirePath::parse(rest).ok())
        .unwrap_or_else(|| path.clone())
}
