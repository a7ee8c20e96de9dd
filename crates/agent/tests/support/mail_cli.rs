//! `sixchat-cli mail` as the mail tests drive it: JSON lines out, a body on
//! standard input, profiles enrolled with the world's DIR.
#![allow(dead_code)]

use std::io::Write as _;
use std::process::{Child, Output, Stdio};

use super::procs::text;
use super::world::World;

pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// `mail send` started with `body` on standard input (not waited for).
pub fn start_send(world: &World, profile: &str, args: &[&str], body: &str) -> Child {
    let mut child = world
        .cli(profile)
        .args(["--json", "mail", "send"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sixchat-cli runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("body written");
    child
}

/// `mail send` with `body` on standard input.
pub fn send(world: &World, profile: &str, args: &[&str], body: &str) -> Output {
    start_send(world, profile, args, body)
        .wait_with_output()
        .expect("sixchat-cli ends")
}

pub fn enroll(world: &World, user: &str, name: &str) {
    let invite = world
        .admin(&["invite", user, "--name", name])
        .trim()
        .to_owned();
    let profile = user.split('@').next().expect("local part");
    ok(&world.cli_run(profile, &["--json", "enroll", &invite]));
}

/// The rows of `mail list --folder FOLDER`.
pub fn list(world: &World, profile: &str, folder: &str) -> Vec<serde_json::Value> {
    json_lines(&world.cli_run(profile, &["--json", "mail", "list", "--folder", folder]))
}
