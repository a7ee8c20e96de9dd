//! Fetching from a peer's shared folder with the real `sixchat-cli`: `share
//! set`, `run`, `ls`, `get` (a file and a folder), a resume after the
//! receiver is killed halfway, and the refusals a share must make.

#[path = "support/cli_env.rs"]
mod cli_env;
#[path = "support/procs.rs"]
mod procs;

use std::path::Path;
use std::process::Stdio;

use cli_env::Env;
use procs::free_port;

/// Two pinned standalone profiles; bob shares `share/` and runs.
struct World {
    env: Env,
    addr: String,
    share: std::path::PathBuf,
    bob: cli_env::Agent,
}

fn world() -> World {
    let env = Env::new();
    let alice_fp = env.new_identity("alice", "alice@a.example", "Alice A");
    let bob_fp = env.new_identity("bob", "bob@b.example", "Bob B");
    env.ok("alice", &["trust", "pin", "bob@b.example", &bob_fp]);
    env.ok("bob", &["trust", "pin", "alice@a.example", &alice_fp]);
    let share = env.data().join("share");
    std::fs::create_dir_all(share.join("photos/2026")).expect("mkdir");
    std::fs::write(share.join("notes.txt"), b"hello from bob\n").expect("write");
    std::fs::write(share.join("photos/a.jpg"), pattern(100_000, 1)).expect("write");
    std::fs::write(share.join("photos/2026/b.jpg"), pattern(300_000, 2)).expect("write");
    std::fs::write(share.join("photos/empty"), b"").expect("write");
    env.ok("bob", &["share", "set", share.to_str().expect("utf-8")]);
    let port = free_port();
    let bob = env.start_agent("bob", port);
    World {
        env,
        addr: format!("127.0.0.1:{port}"),
        share,
        bob,
    }
}

fn pattern(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect()
}

fn same_tree(a: &Path, b: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(a)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    let mut other: Vec<_> = std::fs::read_dir(b)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    other.sort();
    assert_eq!(names, other, "{} and {}", a.display(), b.display());
    for name in names {
        let (x, y) = (a.join(&name), b.join(&name));
        if x.is_dir() {
            same_tree(&x, &y);
        } else {
            assert_eq!(
                std::fs::read(&x).expect("read"),
                std::fs::read(&y).expect("read"),
                "{}",
                x.display()
            );
        }
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario with real processes, read top to bottom
fn a_trusted_contact_lists_and_fetches_files_and_folders_verified() {
    let w = world();
    let listing = w
        .env
        .ok("alice", &["ls", "bob@b.example", "--addr", &w.addr]);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert!(
        lines[0].starts_with("file") && lines[0].ends_with(" notes.txt"),
        "{listing}"
    );
    assert!(
        lines[1].starts_with("folder") && lines[1].ends_with(" photos"),
        "{listing}"
    );
    let json = w.env.ok(
        "alice",
        &["--json", "ls", "bob@b.example", "photos", "--addr", &w.addr],
    );
    let names: Vec<String> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["name"]
                .as_str()
                .expect("name")
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["2026", "a.jpg", "empty"]);

    let into = w.env.data().join("got");
    let out = w.env.ok(
        "alice",
        &[
            "get",
            "bob@b.example",
            "notes.txt",
            "--addr",
            &w.addr,
            "--to",
            into.to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.contains("received 1 files, 15 bytes, every one verified"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(into.join("notes.txt")).expect("got"),
        b"hello from bob\n"
    );

    let out = w.env.ok(
        "alice",
        &[
            "get",
            "bob@b.example",
            "photos",
            "--addr",
            &w.addr,
            "--to",
            into.to_str().expect("utf-8"),
        ],
    );
    assert!(out.contains("received 3 files, 400000 bytes"), "{out}");
    same_tree(&w.share.join("photos"), &into.join("photos"));
    let leftovers: Vec<_> = walk(&into)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The same again: nothing changes; a file with other content keeps its
    // place and the new one is named beside it.
    std::fs::write(into.join("notes.txt"), b"mine").expect("write");
    w.env.ok(
        "alice",
        &[
            "get",
            "bob@b.example",
            "notes.txt",
            "--addr",
            &w.addr,
            "--to",
            into.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        std::fs::read(into.join("notes.txt")).expect("kept"),
        b"mine"
    );
    assert_eq!(
        std::fs::read(into.join("notes (2).txt")).expect("beside"),
        b"hello from bob\n"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn nothing_outside_the_share_and_nothing_for_strangers() {
    let w = world();
    std::fs::write(w.env.data().join("secret.txt"), b"not shared").expect("write");
    std::os::unix::fs::symlink(w.env.data().join("secret.txt"), w.share.join("link"))
        .expect("symlink");
    let into = w.env.data().join("got");
    let to = into.to_str().expect("utf-8");
    for (path, why) in [
        ("link", "leads out of the shared folder"),
        ("missing.txt", "does not exist"),
        ("../secret.txt", "component"),
    ] {
        let out = w.env.run(
            "alice",
            &["get", "bob@b.example", path, "--addr", &w.addr, "--to", to],
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(0), "{path}: {text}");
        assert!(text.contains(why), "{path}: {text}");
    }
    assert!(!into.join("secret.txt").exists() && !into.join("link").exists());

    // A symlinked folder is listed but not walked into: a loop costs nothing.
    std::os::unix::fs::symlink("..", w.share.join("photos/up")).expect("symlink");
    std::os::unix::fs::symlink(".", w.share.join("photos/here")).expect("symlink");
    let out = w.env.ok(
        "alice",
        &[
            "get",
            "bob@b.example",
            "photos",
            "--addr",
            &w.addr,
            "--to",
            to,
        ],
    );
    assert!(out.contains("received 3 files, 400000 bytes"), "{out}");

    // A stranger whose key bob never pinned gets no session at all; carol
    // pinned by bob but with nothing shared (share off) is told so.
    let carol_fp = w.env.new_identity("carol", "carol@c.example", "Carol");
    let bob_fp = {
        let shown = w.env.ok("bob", &["--json", "id", "show"]);
        serde_json::from_str::<serde_json::Value>(shown.trim()).expect("json")["fingerprint"]
            .as_str()
            .expect("fp")
            .to_owned()
    };
    w.env
        .ok("carol", &["trust", "pin", "bob@b.example", &bob_fp]);
    let out = w
        .env
        .run("carol", &["ls", "bob@b.example", "--addr", &w.addr]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    w.env
        .ok("bob", &["trust", "pin", "carol@c.example", &carol_fp]);
    w.env.ok("bob", &["share", "off"]);
    let out = w
        .env
        .run("carol", &["ls", "bob@b.example", "--addr", &w.addr]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("nothing is shared"), "{text}");
}

/// Sends `signal` to `pid` with kill(1).
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}");
}

#[test]
fn a_get_killed_halfway_goes_on_from_what_was_verified() {
    let w = world();
    let big = pattern(128 << 20, 7);
    std::fs::write(w.share.join("big.bin"), &big).expect("write");
    let into = w.env.data().join("got");
    let to = into.to_str().expect("utf-8");
    let mut child = w
        .env
        .command("alice")
        .args([
            "--json",
            "get",
            "bob@b.example",
            "big.bin",
            "--addr",
            &w.addr,
            "--to",
            to,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("get runs");
    // Once data is verified on disk (the receiver reports progress), the
    // sender is stopped where it is (so the transfer is surely halfway) and
    // the receiver is killed.
    let progress = child.stderr.take().expect("stderr");
    let verified_some = std::io::BufRead::lines(std::io::BufReader::new(progress))
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .any(|v| v["progress"].as_u64().is_some_and(|p| p > 0));
    assert!(verified_some, "no data came");
    signal(w.bob.pid(), "-STOP");
    let _ = child.kill();
    let _ = child.wait();
    signal(w.bob.pid(), "-CONT");
    let part = into.join("big.bin.part");
    assert!(part.exists(), "the part file stays after the kill");
    assert!(
        !into.join("big.bin").exists(),
        "no final name for an incomplete file"
    );

    let out = w.env.ok(
        "alice",
        &[
            "--json",
            "get",
            "bob@b.example",
            "big.bin",
            "--addr",
            &w.addr,
            "--to",
            to,
        ],
    );
    let offered: serde_json::Value = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["event"] == "offered")
        .expect("offered line");
    let resumed = offered["resumed"].as_u64().expect("resumed");
    assert!(
        resumed > 0 && resumed < big.len() as u64,
        "resumed from {resumed} of {}",
        big.len()
    );
    eprintln!("resumed from {resumed} of {} bytes", big.len());
    assert!(out.contains("\"finished\""), "{out}");
    assert!(
        std::fs::read(into.join("big.bin")).expect("complete") == big,
        "the same bytes"
    );
    assert!(!part.exists());
}

#[test]
fn a_name_taken_by_other_content_is_renamed_skipped_or_overwritten_as_asked() {
    let w = world();
    let into = w.env.data().join("conflicts");
    std::fs::create_dir_all(&into).expect("mkdir");
    std::fs::write(into.join("notes.txt"), b"alice's own notes\n").expect("write");
    let get = |choice: Option<&str>| {
        let mut args = vec![
            "get",
            "bob@b.example",
            "notes.txt",
            "--addr",
            &w.addr,
            "--to",
            into.to_str().expect("utf-8"),
        ];
        if let Some(choice) = choice {
            args.extend(["--on-conflict", choice]);
        }
        w.env.ok("alice", &args)
    };
    let read = |name: &str| std::fs::read(into.join(name)).expect(name);
    // The default keeps hers and names bob's `notes (2).txt`.
    get(None);
    assert_eq!(read("notes.txt"), b"alice's own notes\n");
    assert_eq!(read("notes (2).txt"), b"hello from bob\n");
    std::fs::remove_file(into.join("notes (2).txt")).expect("rm");
    // Skip keeps hers and fetches nothing.
    get(Some("skip"));
    assert_eq!(read("notes.txt"), b"alice's own notes\n");
    assert!(!into.join("notes (2).txt").exists());
    // Overwrite puts bob's, verified, in its place.
    get(Some("overwrite"));
    assert_eq!(read("notes.txt"), b"hello from bob\n");
    let names: Vec<_> = std::fs::read_dir(&into)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["notes.txt"], "no .part left, no copy");
    // A word that is no choice is refused before anything happens.
    let out = w
        .env
        .command("alice")
        .args([
            "get",
            "bob@b.example",
            "notes.txt",
            "--on-conflict",
            "merge",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rename, overwrite or skip"));
}
