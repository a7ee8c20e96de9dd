//! Verified streaming with real files in a temporary folder.

use std::fs::File;
use std::io::{Cursor, Write as _};
use std::path::Path;

use bao_tree::{ChunkNum, ChunkRanges};
use sixchat_proto::files::{ChunkRangeSet, WirePath};

use super::confine::Root;
use super::verified::{
    Outboard, Partial, ReceiveError, SendError, encode, from_chunk_ranges, to_chunk_ranges,
};

/// Deterministic bytes that do not repeat within a chunk group.
fn content(size: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn write_file(path: &Path, bytes: &[u8]) -> File {
    std::fs::write(path, bytes).expect("write");
    File::open(path).expect("open")
}

fn encoded(file: &File, outboard: &Outboard, ranges: &ChunkRanges) -> Vec<u8> {
    let mut out = Vec::new();
    encode(file, outboard, ranges, &mut out).expect("encode");
    out
}

const SIZE: usize = (1 << 20) + 12_345;

/// The incoming folder `base/in` and where `copy.bin` lands in it.
fn incoming(base: &Path) -> (Root, std::path::PathBuf) {
    std::fs::create_dir(base.join("in")).expect("mkdir");
    (
        Root::open(&base.join("in")).expect("root"),
        base.join("in/copy.bin"),
    )
}

fn copy() -> WirePath {
    WirePath::parse("copy.bin").expect("path")
}

#[test]
fn a_file_arrives_whole_and_gets_its_name_only_when_complete() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = content(SIZE);
    let source = write_file(&dir.path().join("source.bin"), &bytes);
    let outboard = Outboard::of_file(&source).expect("hash");
    assert_eq!(
        outboard.root(),
        *bao_tree::blake3::hash(&bytes).as_bytes(),
        "the root is BLAKE3"
    );
    assert_eq!(outboard.size(), SIZE as u64);

    let (incoming, target) = incoming(dir.path());
    let mut partial =
        Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("part");
    assert!(dir.path().join("in/copy.bin.part").exists());
    let all = partial.missing().expect("missing");
    assert!(!all.is_empty());
    partial
        .receive(&all, Cursor::new(encoded(&source, &outboard, &all)))
        .expect("verified");
    assert!(partial.missing().expect("missing").is_empty());
    assert!(!target.exists(), "no final name before finish");
    assert!(partial.finish(&incoming).expect("finish"));
    assert_eq!(std::fs::read(&target).expect("read"), bytes);
    assert!(!dir.path().join("in/copy.bin.part").exists());
    assert!(!dir.path().join("in/copy.bin.part.obao").exists());
}

#[test]
fn one_wrong_byte_is_caught_at_its_chunk_group_and_never_completes() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = content(SIZE);
    let source = write_file(&dir.path().join("source.bin"), &bytes);
    let outboard = Outboard::of_file(&source).expect("hash");
    let (incoming, target) = incoming(dir.path());
    let mut partial =
        Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("part");
    let all = partial.missing().expect("missing");
    let mut stream = encoded(&source, &outboard, &all);
    // A hostile sender flips one byte near the end of the stream (file data).
    let at = stream.len() - 5_000;
    stream[at] ^= 0x01;
    match partial.receive(&all, Cursor::new(stream)) {
        Err(ReceiveError::BadData { at }) => {
            assert!(
                at >= (SIZE as u64) - 16_384 * 2,
                "caught in the last groups, at {at}"
            );
        }
        other => panic!("expected bad data, got {other:?}"),
    }
    let missing = partial.missing().expect("missing");
    assert!(!missing.is_empty(), "the bad group is still missing");
    assert!(!partial.finish(&incoming).expect("finish"), "not complete");
    assert!(!target.exists());
}

#[test]
fn after_a_drop_the_transfer_goes_on_from_what_was_verified() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = content(SIZE);
    let source = write_file(&dir.path().join("source.bin"), &bytes);
    let outboard = Outboard::of_file(&source).expect("hash");
    let (incoming, target) = incoming(dir.path());
    let first_half = ChunkRanges::from(ChunkNum(0)..ChunkNum(512));
    {
        let mut partial =
            Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("part");
        partial
            .receive(
                &first_half,
                Cursor::new(encoded(&source, &outboard, &first_half)),
            )
            .expect("half");
        // The receiver is killed here: nothing is synced, nothing renamed.
    }
    let mut partial =
        Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("reopen");
    let missing = partial.missing().expect("missing");
    assert_eq!(missing, ChunkRanges::from(ChunkNum(512)..ChunkNum(1037)));
    let stream = encoded(&source, &outboard, &missing);
    assert!(
        stream.len() < SIZE / 2 + 20_000,
        "only the rest travels: {}",
        stream.len()
    );
    partial
        .receive(&missing, Cursor::new(stream))
        .expect("rest");
    assert!(partial.finish(&incoming).expect("finish"));
    assert_eq!(std::fs::read(&target).expect("read"), bytes);
}

#[test]
fn a_torn_write_is_found_again_as_missing() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = content(SIZE);
    let source = write_file(&dir.path().join("source.bin"), &bytes);
    let outboard = Outboard::of_file(&source).expect("hash");
    let (incoming, _) = incoming(dir.path());
    let mut partial =
        Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("part");
    let all = partial.missing().expect("missing");
    partial
        .receive(&all, Cursor::new(encoded(&source, &outboard, &all)))
        .expect("all");
    drop(partial);
    // A crash left group 3 (bytes 48 KiB..64 KiB) half written.
    let mut part = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("in/copy.bin.part"))
        .expect("part");
    std::io::Seek::seek(&mut part, std::io::SeekFrom::Start(50_000)).expect("seek");
    part.write_all(&[0u8; 100]).expect("tear");
    drop(part);
    let partial = Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("reopen");
    assert_eq!(
        partial.missing().expect("missing"),
        ChunkRanges::from(ChunkNum(48)..ChunkNum(64))
    );
}

#[test]
fn a_file_changed_while_being_sent_is_never_sent_half_old() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("source.bin");
    let mut bytes = content(SIZE);
    let source = write_file(&path, &bytes);
    let outboard = Outboard::of_file(&source).expect("hash");
    bytes[700_000] ^= 0xff;
    std::fs::write(&path, &bytes).expect("rewrite");
    let mut out = Vec::new();
    let result = encode(&source, &outboard, &ChunkRanges::all(), &mut out);
    assert!(matches!(result, Err(SendError::Changed)), "{result:?}");
    assert!(
        out.len() < 720_000,
        "nothing after the changed group was sent"
    );
    // A file that shrank is a change too.
    std::fs::write(&path, &bytes[..1000]).expect("shrink");
    let result = encode(&source, &outboard, &ChunkRanges::all(), &mut Vec::new());
    assert!(matches!(result, Err(SendError::Changed)), "{result:?}");
}

#[test]
fn a_stream_cut_short_is_truncated_and_what_came_is_kept() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = content(SIZE);
    let source = write_file(&dir.path().join("source.bin"), &bytes);
    let outboard = Outboard::of_file(&source).expect("hash");
    let (incoming, _) = incoming(dir.path());
    let mut partial =
        Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("part");
    let all = partial.missing().expect("missing");
    let mut stream = encoded(&source, &outboard, &all);
    stream.truncate(stream.len() / 2);
    assert!(matches!(
        partial.receive(&all, Cursor::new(stream)),
        Err(ReceiveError::Truncated)
    ));
    let missing = partial.missing().expect("missing");
    assert!(missing != all && !missing.is_empty(), "{missing:?}");
}

#[test]
fn wire_range_sets_and_bao_ranges_convert_both_ways() {
    for text in ["0-", "0-16,32-48,64-", "16-32", ""] {
        let set: ChunkRangeSet = text.parse().expect("set");
        let ranges = to_chunk_ranges(&set);
        assert_eq!(from_chunk_ranges(&ranges).expect("fits").to_string(), text);
    }
}

mod confined {
    use std::os::unix::fs::symlink;

    use sixchat_proto::files::WirePath;

    use crate::files::confine::{ConfineError, Root};

    fn wire(text: &str) -> WirePath {
        WirePath::parse(text).expect("path")
    }

    /// A share with a file, a folder, and every kind of entry that must
    /// not be served; a secret outside it.
    fn share() -> (tempfile::TempDir, Root) {
        let base = tempfile::tempdir().expect("tmp");
        let share = base.path().join("share");
        std::fs::create_dir_all(share.join("docs")).expect("mkdir");
        std::fs::write(share.join("docs/a.txt"), b"hello").expect("write");
        std::fs::write(share.join("b.bin"), [7u8; 300]).expect("write");
        std::fs::write(base.path().join("secret"), b"not shared").expect("write");
        symlink(base.path().join("secret"), share.join("out")).expect("symlink");
        symlink("..", share.join("up")).expect("symlink");
        symlink("docs/a.txt", share.join("inside")).expect("symlink");
        symlink("/dev/null", share.join("null")).expect("symlink");
        std::fs::write(share.join("bad:name"), b"x").expect("write");
        let made = std::process::Command::new("mkfifo")
            .arg(share.join("fifo"))
            .status()
            .expect("mkfifo runs");
        assert!(made.success(), "mkfifo");
        let _socket = std::os::unix::net::UnixListener::bind(share.join("sock")).expect("socket");
        let root = Root::open(&share).expect("root");
        (base, root)
    }

    #[test]
    fn regular_files_open_and_symlinks_within_the_root_are_followed() {
        let (_base, root) = share();
        let opened = root.open_file(&wire("docs/a.txt")).expect("open");
        assert_eq!(opened.size, 5);
        assert!(opened.modified > 0);
        assert_eq!(root.open_file(&wire("inside")).expect("open").size, 5);
    }

    #[test]
    fn nothing_outside_the_root_and_nothing_irregular_is_opened() {
        let (_base, root) = share();
        for path in ["out", "up/secret", "null"] {
            let err = root.open_file(&wire(path)).expect_err(path);
            assert!(matches!(err, ConfineError::Escapes(_)), "{path}: {err:?}");
        }
        for path in ["fifo", "sock", "docs"] {
            let err = root.open_file(&wire(path)).expect_err(path);
            assert!(
                matches!(err, ConfineError::NotRegular(_)),
                "{path}: {err:?}"
            );
        }
        let err = root.open_file(&wire("nope.txt")).expect_err("missing");
        assert!(matches!(err, ConfineError::NotFound(_)), "{err:?}");
    }

    #[test]
    fn a_listing_shows_only_what_may_travel_sorted_and_paged() {
        let (_base, root) = share();
        let (entries, next) = root
            .list(&WirePath::root(), 0, 100, usize::MAX)
            .expect("list");
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["b.bin", "docs", "inside"]);
        assert!(next.is_none());
        assert!(entries[1].folder && !entries[0].folder);
        assert_eq!(entries[0].size, 300);
        let (page, next) = root
            .list(&WirePath::root(), 0, 1, usize::MAX)
            .expect("page");
        assert_eq!(page.len(), 1);
        let (rest, _) = root
            .list(
                &WirePath::root(),
                usize::try_from(next.expect("more")).expect("n"),
                100,
                usize::MAX,
            )
            .expect("rest");
        assert_eq!(rest[0].name, "docs");
        let err = root
            .list(&wire("up"), 0, 10, usize::MAX)
            .expect_err("escapes");
        assert!(matches!(err, ConfineError::Escapes(_)), "{err:?}");
    }

    #[test]
    fn every_listing_page_fits_one_record_whatever_the_names() {
        let base = tempfile::tempdir().expect("tmp");
        for i in 0..300 {
            let name = format!("{i:03}{}", "&".repeat(240));
            std::fs::write(base.path().join(name), b"x").expect("write");
        }
        let root = Root::open(base.path()).expect("root");
        let (mut start, mut seen) = (0, 0);
        loop {
            let (entries, next) = root
                .list(&WirePath::root(), start, 400, 60_000)
                .expect("list");
            seen += entries.len();
            let message = sixchat_proto::AppMessage::File {
                id: "x".into(),
                message: sixchat_proto::files::FileMessage::Listing {
                    reference: "r".into(),
                    path: WirePath::root(),
                    entries,
                    next,
                },
            };
            assert!(
                message.to_xml().len() <= 65_536,
                "{}",
                message.to_xml().len()
            );
            match next {
                Some(n) => start = usize::try_from(n).expect("n"),
                None => break,
            }
        }
        assert_eq!(seen, 300);
    }
}

#[test]
fn a_file_received_whole_is_finished_without_reading_it_again_but_only_then() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = content(SIZE);
    let source = write_file(&dir.path().join("source.bin"), &bytes);
    let outboard = Outboard::of_file(&source).expect("hash");
    let (incoming, target) = incoming(dir.path());

    // Half of it received: finishing checks the disk and finds it incomplete.
    let mut partial =
        Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("part");
    let all = partial.missing().expect("missing");
    let half = ChunkRanges::from(ChunkNum(0)..ChunkNum(512));
    partial
        .receive(&half, Cursor::new(encoded(&source, &outboard, &half)))
        .expect("verified");
    assert!(!partial.finish_received(&incoming, &all).expect("finish"));
    assert!(!target.exists());

    // The rest received: complete, with the offered bytes.
    let mut partial =
        Partial::open(&incoming, &copy(), SIZE as u64, outboard.root()).expect("part");
    let rest = partial.missing().expect("missing");
    assert_eq!(rest, all.clone() - half);
    partial
        .receive(&rest, Cursor::new(encoded(&source, &outboard, &rest)))
        .expect("verified");
    assert!(partial.finish_received(&incoming, &rest).expect("finish"));
    assert_eq!(std::fs::read(&target).expect("read"), bytes);
}

#[test]
fn a_file_offered_again_is_not_hashed_again_unless_it_changed() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("big.bin");
    let bytes = content(2 << 20);
    let file = write_file(&path, &bytes);
    let first = Outboard::of_file_cached(&file).expect("hash");
    let again = Outboard::of_file_cached(&File::open(&path).expect("open")).expect("cached");
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "taken from the cache"
    );

    // New content (same size, a new modification time): hashed anew.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut changed = bytes.clone();
    changed[1000] ^= 1;
    let file = write_file(&path, &changed);
    let fresh = Outboard::of_file_cached(&file).expect("hash");
    assert!(!std::sync::Arc::ptr_eq(&first, &fresh));
    assert_eq!(fresh.root(), *bao_tree::blake3::hash(&changed).as_bytes());
}

#[test]
fn an_outboard_kept_on_disk_is_read_back_only_for_the_same_file() {
    use super::cache::{cache_key, disk};
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("large.bin");
    let file = write_file(&path, &content(64 << 20));
    let outboard = Outboard::of_file(&file).expect("hash");
    let key = cache_key(&file.metadata().expect("meta")).expect("key");
    let kept = dir.path().join("outboards");
    disk::save_in(&kept, &key, &outboard);
    let back = disk::load_in(&kept, &key, 64 << 20).expect("kept");
    assert_eq!(back.root(), outboard.root());
    // What it reads back sends the file as the fresh outboard does.
    let ranges = ChunkRanges::all();
    assert_eq!(
        encoded(&file, &back, &ranges),
        encoded(&file, &outboard, &ranges)
    );
    // Another file (another inode, or the same one changed) misses.
    let mut other = key;
    other.4 += 1;
    assert!(disk::load_in(&kept, &other, 64 << 20).is_none());
    // A damaged cache file is not used.
    let name = std::fs::read_dir(&kept)
        .expect("dir")
        .next()
        .expect("one")
        .expect("entry");
    let mut bytes = std::fs::read(name.path()).expect("read");
    bytes[3] ^= 1;
    std::fs::write(name.path(), &bytes).expect("write");
    assert!(disk::load_in(&kept, &key, 64 << 20).is_none());
}
