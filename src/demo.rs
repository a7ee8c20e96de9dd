//! `sixchat demo`: a DIR on loopback with the domain `demo.sixchat.test`,
//! two enrolled profiles (alice and bob) that know each other, and a window
//! for each. Everything lives in one folder, removed at the end unless `--keep`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sixchat_agent::Profile;
use sixchat_agent::irp::directory;
use sixchat_pki::keys::IdentityKey;
use sixchat_proto::irp::Invite;

pub const DOMAIN: &str = "demo.sixchat.test";
/// The passphrase of both demo profiles (the windows get it through `SIXCHAT_PASSWORD`).
pub const PASSPHRASE: &str = "sixchat-demo";
const PEOPLE: [(&str, &str); 2] = [("alice", "Alice"), ("bob", "Bob")];

/// A child process killed (by its own PID) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("where is this program?")?;
    let path = exe.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        bail!(
            "{} is missing: build the whole workspace (`cargo build --release --workspace`)",
            path.display()
        );
    }
    Ok(path)
}

fn admin(dir_bin: &Path, data: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(dir_bin)
        .arg("--data")
        .arg(data)
        .args(args)
        .env("SIXCHAT_DIR_PASSPHRASE", "sixchat-demo-dir")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", dir_bin.display()))?;
    if !out.status.success() {
        bail!(
            "sixchat-dir {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn wait_for_port(addr: SocketAddr, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the DIR did not start listening on {addr}")
}

/// A new folder `sixchat-demo-<random>` under `parent`, made for this run
/// only: the name is unpredictable, the folder is created (never an existing
/// one reused, so nobody can have prepared it or a link in its place) and
/// only its owner may enter it (mode 0700). It is not removed when this
/// returns; `run` removes it at the end unless asked to keep it.
pub fn fresh_private_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("sixchat-demo-").rand_bytes(12);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = builder
        .tempdir_in(parent)
        .with_context(|| format!("creating the demo's folder in {}", parent.display()))?;
    let path = dir.keep();
    #[cfg(unix)]
    {
        // The mode asked for above, whatever the umask made of it.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(path)
}

/// Runs the demo. With `windows`, opens two windows and returns when both close.
pub fn run(data_dir: Option<&Path>, keep: bool, windows: bool) -> anyhow::Result<()> {
    let base = match data_dir {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                bail!(
                    "{} is not empty; the demo needs a new folder",
                    dir.display()
                );
            }
            dir.to_owned()
        }
        None => fresh_private_dir(&std::env::temp_dir())?,
    };
    std::fs::create_dir_all(&base)?;
    let result = prepare_and_open(&base, windows);
    if keep || !windows {
        eprintln!("The demo's folder is kept: {}", base.display());
    } else {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}

/// A running demo DIR (stopped when dropped) and the two enrolled profiles.
pub struct DemoWorld {
    _server: Guard,
    /// The folder holding the profiles `alice` and `bob` (pass as `--data-dir`).
    pub profiles: PathBuf,
    /// Where the DIR listens.
    pub address: SocketAddr,
}

/// Starts the DIR (`dir_bin`) under `base`, enrolls alice and bob, and makes
/// them each other's contacts, listening on loopback.
pub fn prepare(base: &Path, dir_bin: &Path) -> anyhow::Result<DemoWorld> {
    let dir_data = base.join("dir");
    let profiles = base.join("profiles");
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    eprintln!("Starting a DIR for {DOMAIN} on {address} …");
    admin(
        dir_bin,
        &dir_data,
        &[
            "init",
            "--domain",
            DOMAIN,
            "--address",
            &address.to_string(),
        ],
    )?;
    let mut invites = Vec::new();
    for (user, name) in PEOPLE {
        invites.push(admin(
            dir_bin,
            &dir_data,
            &["invite", &format!("{user}@{DOMAIN}"), "--name", name],
        )?);
    }
    let server = Guard(
        Command::new(dir_bin)
            .arg("--data")
            .arg(&dir_data)
            .args(["serve", "--listen", &address.to_string()])
            .env("SIXCHAT_DIR_PASSPHRASE", "sixchat-demo-dir")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("starting sixchat-dir serve")?,
    );
    wait_for_port(address, Duration::from_secs(10))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for ((user, name), invite) in PEOPLE.iter().zip(&invites) {
        eprintln!("Enrolling {user}@{DOMAIN} …");
        let invite = Invite::parse(invite)?;
        let profile = Profile::locate(user, Some(&profiles))?;
        let key = IdentityKey::generate(crate::app::backend::KEY_BITS)?;
        let enrolled = runtime.block_on(directory::enroll(
            &invite,
            name,
            key,
            Duration::from_secs(5),
        ))?;
        directory::save_enrollment(&profile, &invite, enrolled, PASSPHRASE)?;
        let store = profile.open_store()?;
        // Both on loopback, each on a port of its own; the DIR learns which.
        store.set_setting("listen", "127.0.0.1:0")?;
        for (other, other_name) in PEOPLE.iter().filter(|(u, _)| u != user) {
            store.add_contact(&format!("{other}@{DOMAIN}"), other_name)?;
        }
    }
    Ok(DemoWorld {
        _server: server,
        profiles,
        address,
    })
}

fn prepare_and_open(base: &Path, windows: bool) -> anyhow::Result<()> {
    let world = prepare(base, &sibling("sixchat-dir")?)?;
    let profiles = &world.profiles;
    if !windows {
        eprintln!(
            "Ready. Open the windows with:\n  SIXCHAT_PASSWORD={PASSPHRASE} sixchat --data-dir {} --profile alice\n  SIXCHAT_PASSWORD={PASSPHRASE} sixchat --data-dir {} --profile bob\nCtrl-C stops the DIR.",
            profiles.display(),
            profiles.display()
        );
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for (user, _) in PEOPLE {
        children.push(Guard(
            Command::new(&exe)
                .arg("--data-dir")
                .arg(profiles)
                .args(["--profile", user])
                .env("SIXCHAT_PASSWORD", PASSPHRASE)
                .stdin(Stdio::null())
                .spawn()
                .with_context(|| format!("opening {user}'s window"))?,
        ));
    }
    eprintln!(
        "Two windows open: Alice and Bob. Pick the other person in the list and write; the first \
         message asks the receiver to accept (Incoming Chat, with the verified badge). Close both windows to end."
    );
    for child in &mut children {
        let _ = child.0.wait();
    }
    drop(world);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_demo_gets_a_new_private_folder() {
        let parent = tempfile::tempdir().expect("tmp");
        let first = fresh_private_dir(parent.path()).expect("first");
        let second = fresh_private_dir(parent.path()).expect("second");
        assert_ne!(first, second);
        for dir in [&first, &second] {
            assert_eq!(dir.parent(), Some(parent.path()));
            let name = dir.file_name().and_then(|n| n.to_str()).expect("name");
            assert!(name.starts_with("sixchat-demo-"), "{name}");
            assert!(
                !name.contains(&std::process::id().to_string()),
                "{name} is predictable"
            );
            assert!(dir.is_dir());
            assert_eq!(std::fs::read_dir(dir).expect("readable").count(), 0);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(dir)
                    .expect("metadata")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o700, "{mode:o}");
            }
        }
    }
}
