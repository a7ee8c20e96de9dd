//! The receiving side's plan for an offer, on the blocking pool: the whole
//! offer checked (totals, duplicates, names equal but for case, a name that
//! is both a file and a folder), then each file's place beneath the target
//! folder — resuming its own `.part`, recognising identical content, and
//! never sharing a name (or a `.part` beside it) with another file of the
//! offer or with a file that is not ours.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bao_tree::ChunkRanges;
use sixchat_proto::files::path::case_collision;
use sixchat_proto::files::{OfferedFile, PathProblem, WirePath};

use super::OnConflict;
use crate::files::confine::Root;
use crate::files::verified::{Outboard, Partial};

/// A file to receive: where it goes, its hash, what it still misses (its
/// `.part` is opened again by its decoder, so a large offer holds no file
/// open while it waits).
#[derive(Debug)]
pub(crate) struct PlannedFile {
    pub(crate) index: u32,
    pub(crate) path: WirePath,
    pub(crate) hash: [u8; 32],
    pub(crate) missing: ChunkRanges,
    pub(crate) size: u64,
    /// Bytes of it already verified here.
    pub(crate) already: u64,
    /// Its `.part` was made for this transfer (removed if it fails before
    /// anything is verified).
    pub(crate) created: bool,
    /// It replaces a file of that name when complete (overwrite chosen).
    pub(crate) replace: bool,
    /// This process's hold on the name while the file is received.
    pub(crate) _claim: Claim,
}

/// Names this process is receiving into: (incoming folder, a name in lower
/// case), for each file its final name, `.part` and `.part.obao`. Two
/// transfers never write one file, one's final name is never another's
/// sidecar, and a failing transfer never removes another's files.
static RECEIVING: std::sync::Mutex<Option<HashSet<(PathBuf, String)>>> =
    std::sync::Mutex::new(None);

/// A file's three names taken in [`RECEIVING`] until dropped.
#[derive(Debug)]
pub(crate) struct Claim {
    keys: Vec<(PathBuf, String)>,
}

impl Claim {
    /// Takes `names` (lower case) beneath `into`, all or none.
    fn take(into: &Path, names: &[String]) -> Option<Self> {
        let keys: Vec<(PathBuf, String)> = names
            .iter()
            .map(|name| (into.to_path_buf(), name.clone()))
            .collect();
        let mut held = sixchat_host::lock(&RECEIVING);
        let held = held.get_or_insert_with(HashSet::new);
        if keys.iter().any(|key| held.contains(key)) {
            return None;
        }
        held.extend(keys.iter().cloned());
        Some(Self { keys })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(held) = sixchat_host::lock(&RECEIVING).as_mut() {
            for key in &self.keys {
                held.remove(key);
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) root: Arc<Root>,
    pub(crate) files: Vec<PlannedFile>,
    /// Files already complete here (from an earlier, interrupted transfer).
    /// (index in the offer, where it is).
    pub(crate) complete: Vec<(u32, WirePath)>,
    /// Bytes already verified here.
    pub(crate) resumed: u64,
}

const PART: &str = ".part";
const OUTBOARD: &str = ".part.obao";

/// Checks a whole offer: its totals, and no two files with one name (or
/// names equal but for case), and no name that is both a file and a folder.
/// `O(n log n)` in the number of files, without copying names.
pub(crate) fn check_whole_offer(files: &[OfferedFile], totals: (u64, u64)) -> Result<(), String> {
    let (total_files, total_bytes) = totals;
    if files.len() as u64 != total_files {
        return Err("the offer holds fewer files than it announced".into());
    }
    let bytes = files
        .iter()
        .try_fold(0u64, |sum, f| sum.checked_add(f.size));
    if bytes != Some(total_bytes) {
        return Err("the offer's sizes do not add up to its total".into());
    }
    case_collision(files.iter().map(|f| &f.path)).map_err(|e| e.to_string())?;
    let mut sorted: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    sorted.sort_unstable();
    if let Some([twice, _]) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!("{twice} is offered twice"));
    }
    for path in &sorted {
        let folder = format!("{path}/");
        let at = sorted.partition_point(|other| *other < folder.as_str());
        if sorted
            .get(at)
            .is_some_and(|other| other.starts_with(&folder))
        {
            return Err(format!("{path} is both a file and a folder in the offer"));
        }
    }
    Ok(())
}

/// Opens (or reopens) each file's `.part` beneath `into`. A file whose
/// final name already holds the same content is complete; a name taken by
/// other content, by a `.part` that is not this file's (or that another
/// transfer here is receiving), or by another file of this offer (with its
/// `.part` and outboard) gives way to `name (2).ext` and so on. On any
/// error, the `.part` files it made are removed again.
pub(crate) fn plan_files(
    into: &Path,
    files: Vec<OfferedFile>,
    on_conflict: OnConflict,
) -> Result<Plan, PlanError> {
    std::fs::create_dir_all(into).map_err(|e| format!("{}: {e}", into.display()))?;
    let canonical = std::fs::canonicalize(into).map_err(|e| format!("{}: {e}", into.display()))?;
    let root = Arc::new(Root::open(into).map_err(|e| format!("{}: {e}", into.display()))?);
    let mut plan = Plan {
        root: root.clone(),
        files: Vec::new(),
        complete: Vec::new(),
        resumed: 0,
    };
    let planned = plan_each(&canonical, &root, &mut plan, (files, on_conflict))
        .and_then(|needed| reserve(&root, into, &plan, needed));
    if let Err(e) = planned {
        give_back(&root, &plan.files);
        return Err(e);
    }
    Ok(plan)
}

/// Plans each file into `plan`; returns the bytes the disk must still find.
fn plan_each(
    into: &Path,
    root: &Root,
    plan: &mut Plan,
    (files, on_conflict): (Vec<OfferedFile>, OnConflict),
) -> Result<u64, PlanError> {
    // Every name this offer writes (final, part, outboard), lowercased.
    let mut taken = HashSet::new();
    let mut needed = 0u64;
    for file in files {
        if file.size == 0 && file.hash != *bao_tree::blake3::hash(&[]).as_bytes() {
            return Err(
                format!("{}: an empty file with a hash that is not empty", file.path).into(),
            );
        }
        let Some((target, claim, replace)) = free_name(into, root, &file, &mut taken, on_conflict)?
        else {
            plan.resumed += file.size;
            plan.complete.push((file.index, file.path));
            continue;
        };
        let mut partial =
            Partial::open(root, &target, file.size, file.hash).map_err(|e| e.to_string())?;
        partial.replace_existing(replace);
        needed += file.size.saturating_sub(partial.allocated().unwrap_or(0));
        let missing = match partial.missing() {
            Ok(missing) => missing,
            Err(e) => {
                let created = partial.created();
                drop(partial);
                if created {
                    remove_sidecars(root, &target);
                }
                return Err(format!("{target}: {e}").into());
            }
        };
        let missing_bytes = chunk_bytes(&missing, file.size);
        plan.resumed += file.size - missing_bytes;
        if missing.is_empty() {
            // Verified before a crash, not yet renamed.
            if !partial.finish(root).map_err(|e| e.to_string())? {
                return Err(format!("{target}: not complete after all").into());
            }
            plan.complete.push((file.index, target));
            continue;
        }
        let created = partial.created();
        drop(partial);
        plan.files.push(PlannedFile {
            index: file.index,
            path: target,
            hash: file.hash,
            missing,
            size: file.size,
            already: file.size - missing_bytes,
            created,
            replace,
            _claim: claim,
        });
    }
    Ok(needed)
}

/// Bytes in `ranges` of a file of `size` bytes.
fn chunk_bytes(ranges: &ChunkRanges, size: u64) -> u64 {
    ranges
        .iter()
        .map(|r| match r {
            range_collections::range_set::RangeSetRange::Range(r) => (r.end.0 - r.start.0) * 1024,
            range_collections::range_set::RangeSetRange::RangeFrom(_) => size,
        })
        .sum::<u64>()
        .min(size)
}

/// Checks the disk has room for `needed` more bytes and reserves each
/// file's size, before the first byte; if not, gives the space back.
fn reserve(root: &Root, into: &Path, plan: &Plan, needed: u64) -> Result<(), PlanError> {
    let free = fs4::statvfs(into).map_or(u64::MAX, |s| s.available_space());
    let no_space = || {
        PlanError::NoSpace(format!(
            "no space in {}: the files need {needed} more bytes, {free} are free",
            into.display()
        ))
    };
    if needed > free {
        return Err(no_space());
    }
    for file in &plan.files {
        let reserved = Partial::open(root, &file.path, file.size, file.hash)
            .map_err(|e| e.to_string())?
            .reserve();
        match reserved {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return Err(no_space()),
            Err(e) => return Err(format!("{}: {e}", file.path).into()),
        }
    }
    Ok(())
}

/// Why an offer cannot be received here.
#[derive(Debug)]
pub(crate) enum PlanError {
    /// The disk has no room for it (nothing was kept reserved).
    NoSpace(String),
    Refused(String),
}

impl From<String> for PlanError {
    fn from(reason: String) -> Self {
        Self::Refused(reason)
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSpace(reason) | Self::Refused(reason) => f.write_str(reason),
        }
    }
}

/// Removes the `.part` files (and outboards) this transfer made that hold
/// nothing verified yet, so a refused or failed offer keeps no space.
pub(crate) fn give_back(root: &Root, planned: &[PlannedFile]) {
    for file in planned.iter().filter(|f| f.created && f.already == 0) {
        remove_sidecars(root, &file.path);
    }
}

/// Removes `path`'s `.part` and `.part.obao`.
pub(crate) fn remove_sidecars(root: &Root, path: &WirePath) {
    for suffix in [PART, OUTBOARD] {
        if let Ok(sidecar) = suffixed(path, suffix) {
            let _ = root.remove(&sidecar);
        }
    }
}

/// Where `file` goes (its three names reserved in `taken`, the name claimed
/// in this process, and whether it replaces the file there), or `None` if
/// it is not to be received: a file of that name holds the same content,
/// or holds other content and the choice is to skip.
fn free_name(
    into: &Path,
    root: &Root,
    file: &OfferedFile,
    taken: &mut HashSet<String>,
    on_conflict: OnConflict,
) -> Result<Option<(WirePath, Claim, bool)>, String> {
    let mut candidate = file.path.clone();
    for n in 2..10_000u32 {
        let names = [
            candidate.as_str().to_lowercase(),
            format!("{candidate}{PART}").to_lowercase(),
            format!("{candidate}{OUTBOARD}").to_lowercase(),
        ];
        if names.iter().all(|name| !taken.contains(name)) {
            let part = suffixed(&candidate, PART)?;
            let outboard = suffixed(&candidate, OUTBOARD)?;
            let ours = Partial::resumable(root, &candidate, file.size, &file.hash);
            let unused = !root.exists(&part) && !root.exists(&outboard);
            let exists = root.exists(&candidate);
            if exists && n == 2 && on_conflict == OnConflict::Skip {
                taken.extend(names);
                return Ok(None);
            }
            if exists && same_content(root, &candidate, file) {
                taken.extend(names);
                return Ok(None);
            }
            // Overwrite: the offered name itself, if it holds a file (a
            // folder is never replaced) and its sidecars are free.
            let replace = exists
                && n == 2
                && on_conflict == OnConflict::Overwrite
                && matches!(root.is_dir(&candidate), Ok(false));
            if (!exists || replace)
                && (ours || unused)
                && let Some(claim) = Claim::take(into, &names)
            {
                taken.extend(names);
                return Ok(Some((candidate, claim, replace)));
            }
        }
        candidate = numbered(&file.path, n).map_err(|e| e.to_string())?;
    }
    Err(format!("{}: no free name", file.path))
}

fn suffixed(path: &WirePath, suffix: &str) -> Result<WirePath, String> {
    WirePath::parse(&format!("{path}{suffix}")).map_err(|e| format!("{path}: {e}"))
}

fn same_content(root: &Root, path: &WirePath, file: &OfferedFile) -> bool {
    root.open_file(path)
        .ok()
        .filter(|opened| opened.size == file.size)
        .and_then(|opened| Outboard::of_file(&opened.file).ok())
        .is_some_and(|outboard| outboard.root() == file.hash)
}

/// `a/name.ext` as `a/name (n).ext`.
fn numbered(path: &WirePath, n: u32) -> Result<WirePath, PathProblem> {
    let name = path.name().unwrap_or_default();
    let renamed = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
        _ => format!("{name} ({n})"),
    };
    path.parent().join(&renamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(paths: &[&str]) -> Vec<OfferedFile> {
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| OfferedFile {
                index: u32::try_from(i).expect("index"),
                path: WirePath::parse(p).expect("path"),
                size: 1,
                modified: 0,
                hash: [0; 32],
            })
            .collect()
    }

    #[test]
    fn duplicates_case_twins_and_file_folder_clashes_are_refused() {
        for (paths, why) in [
            (vec!["a", "a"], "offered twice"),
            (vec!["A.txt", "a.TXT"], "differ only in case"),
            (vec!["x", "x/y"], "both a file and a folder"),
            (vec!["d/x", "d/x/y/z"], "both a file and a folder"),
        ] {
            let files = offered(&paths);
            let n = files.len() as u64;
            let err = check_whole_offer(&files, (n, n)).expect_err(why);
            assert!(err.contains(why), "{paths:?}: {err}");
        }
        let fine = offered(&["x-1", "x/y", "x.txt", "y/x"]);
        assert_eq!(check_whole_offer(&fine, (4, 4)), Ok(()));
        assert!(check_whole_offer(&fine, (5, 4)).is_err(), "announced more");
        assert!(check_whole_offer(&fine, (4, 9)).is_err(), "sizes");
    }

    #[test]
    fn an_offer_larger_than_the_free_space_is_refused_before_the_first_byte() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut files = offered(&["small.txt", "huge.iso"]);
        files[0].hash = *bao_tree::blake3::hash(b"z").as_bytes();
        // 8 TiB: more than this disk has free, less than any file system's
        // largest file.
        files[1].size = 8 << 40;
        let Err(PlanError::NoSpace(why)) = plan_files(dir.path(), files, OnConflict::Rename) else {
            panic!("not refused for space");
        };
        assert!(why.contains("are free"), "{why}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(left.is_empty(), "nothing kept: {left:?}");

        // What fits is reserved whole: the data file holds its blocks.
        let mut files = offered(&["fits.bin"]);
        files[0].size = 4 << 20;
        let plan = plan_files(dir.path(), files, OnConflict::Rename).expect("plan");
        let part = std::fs::File::open(dir.path().join("fits.bin.part")).expect("part");
        let allocated = fs4::fs_std::FileExt::allocated_size(&part).expect("allocated");
        assert!(allocated >= 4 << 20, "reserved {allocated}");
        assert_eq!(plan.files.len(), 1);
    }

    #[test]
    fn a_name_its_sidecars_or_a_foreign_part_are_never_shared() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("dl.part"),
            b"someone else's partial download",
        )
        .expect("write");
        let mut files = offered(&["x.part", "x", "dl"]);
        for file in &mut files {
            file.hash = *bao_tree::blake3::hash(b"z").as_bytes();
        }
        let plan = plan_files(dir.path(), files, OnConflict::Rename).expect("plan");
        let targets: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(targets, ["x.part", "x (2)", "dl (2)"]);
        assert_eq!(
            std::fs::read(dir.path().join("dl.part")).expect("kept"),
            b"someone else's partial download"
        );
    }

    #[test]
    fn a_part_of_another_file_or_transfer_is_never_taken_or_removed() {
        let dir = tempfile::tempdir().expect("tmp");
        let one = |size: u64, content: &[u8]| {
            let mut files = offered(&["same.bin"]);
            files[0].size = size;
            files[0].hash = *bao_tree::blake3::hash(content).as_bytes();
            files
        };
        let first =
            plan_files(dir.path(), one(64 << 10, b"first"), OnConflict::Rename).expect("first");
        assert_eq!(first.files[0].path.as_str(), "same.bin");
        // Another file of that name, while the first is being received: its
        // own name; the first's `.part` keeps its size.
        let other =
            plan_files(dir.path(), one(32 << 10, b"other"), OnConflict::Rename).expect("other");
        assert_eq!(other.files[0].path.as_str(), "same (2).bin");
        let part = dir.path().join("same.bin.part");
        assert_eq!(std::fs::metadata(&part).expect("part").len(), 64 << 10);
        // The same file offered twice at once: never one `.part` for both.
        let twice =
            plan_files(dir.path(), one(64 << 10, b"first"), OnConflict::Rename).expect("twice");
        assert_eq!(twice.files[0].path.as_str(), "same (3).bin");
        // A failing transfer gives back only what it made.
        give_back(&other.root, &other.files);
        give_back(&first.root, &twice.files);
        assert!(part.exists(), "the first's part is kept");
        assert!(!dir.path().join("same (2).bin.part").exists());
        // Once the first transfer is over, the same file resumes its part;
        // another file of that name, after a restart, still does not take it.
        drop((first, twice));
        let again =
            plan_files(dir.path(), one(64 << 10, b"first"), OnConflict::Rename).expect("again");
        assert_eq!(again.files[0].path.as_str(), "same.bin");
        assert!(!again.files[0].created, "resumed, not made anew");
        drop(again);
        let stranger = plan_files(dir.path(), one(64 << 10, b"stranger"), OnConflict::Rename)
            .expect("stranger");
        assert_ne!(stranger.files[0].path.as_str(), "same.bin");
        assert_eq!(std::fs::metadata(&part).expect("part").len(), 64 << 10);
    }

    #[test]
    fn a_final_name_is_never_another_transfers_sidecar() {
        let dir = tempfile::tempdir().expect("tmp");
        let one = |path: &str| {
            let mut files = offered(&[path]);
            files[0].size = 64 << 10;
            files[0].hash = *bao_tree::blake3::hash(path.as_bytes()).as_bytes();
            files
        };
        // One transfer receives a file named `x.part`; another, at the same
        // time, a file `x`, whose own `.part` would be the first's target.
        let first = plan_files(dir.path(), one("x.part"), OnConflict::Rename).expect("first");
        assert_eq!(first.files[0].path.as_str(), "x.part");
        let second = plan_files(dir.path(), one("x"), OnConflict::Rename).expect("second");
        assert_eq!(second.files[0].path.as_str(), "x (2)");
        // And the other way round.
        let third = plan_files(dir.path(), one("y"), OnConflict::Rename).expect("third");
        let fourth =
            plan_files(dir.path(), one("y.part.obao"), OnConflict::Rename).expect("fourth");
        assert_eq!(third.files[0].path.as_str(), "y");
        assert_ne!(fourth.files[0].path.as_str(), "y.part.obao");
    }

    #[test]
    fn a_name_taken_by_other_content_is_renamed_replaced_or_skipped_as_chosen() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("report.txt"), b"mine").expect("write");
        let offer = || {
            let mut files = offered(&["report.txt"]);
            files[0].size = 5;
            files[0].hash = *bao_tree::blake3::hash(b"yours").as_bytes();
            files
        };
        let renamed = plan_files(dir.path(), offer(), OnConflict::Rename).expect("rename");
        assert_eq!(renamed.files[0].path.as_str(), "report (2).txt");
        assert!(!renamed.files[0].replace);
        drop(renamed);
        let skipped = plan_files(dir.path(), offer(), OnConflict::Skip).expect("skip");
        assert!(skipped.files.is_empty(), "nothing to fetch");
        assert_eq!(skipped.complete.len(), 1, "counted done");
        let replaced = plan_files(dir.path(), offer(), OnConflict::Overwrite).expect("overwrite");
        assert_eq!(replaced.files[0].path.as_str(), "report.txt");
        assert!(replaced.files[0].replace);
        // Until the new file is complete and verified, the old one stays.
        assert_eq!(
            std::fs::read(dir.path().join("report.txt")).expect("kept"),
            b"mine"
        );
        drop(replaced);
        // A folder of that name is never replaced.
        std::fs::create_dir(dir.path().join("notes")).expect("mkdir");
        let mut folder = offered(&["notes"]);
        folder[0].hash = *bao_tree::blake3::hash(b"z").as_bytes();
        let plan = plan_files(dir.path(), folder, OnConflict::Overwrite).expect("plan");
        assert_eq!(plan.files[0].path.as_str(), "notes (2)");
    }
}
