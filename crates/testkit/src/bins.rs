//! The workspace's binaries, found beside the running test or bench.

use std::path::PathBuf;
use std::process::Command;

/// `NAME` in the folder the running test or bench was built into
/// (`target/<profile>/`, the parent of its `deps/`), built or not.
pub fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the running test's path");
    let profile = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>/deps/<test>");
    profile.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The binary `name` of workspace package `package`, built on demand (with
/// `cargo build -p PACKAGE --bin NAME`) when this test's package does not
/// own it and nothing built it yet.
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    let bin = target_bin(name);
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", package, "--bin", name])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building {name} failed");
    }
    bin
}

/// The `sixchat-dir` binary of this build (built on demand if missing).
pub fn sixchat_dir_bin() -> PathBuf {
    workspace_bin("sixchat-dir", "sixchat-dir")
}
