//! Before the agent runs: the wizard's three ways in, and unlocking.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sixchat_agent::irp::DirError;
use sixchat_agent::irp::directory;
use sixchat_agent::{Profile, ProfileError};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::pkcs12::{self, Pkcs12Error};
use sixchat_proto::UserId;
use sixchat_proto::irp::Invite;
use zeroize::Zeroizing;

use super::Sink;
use super::running::Running;
use crate::app::command::SetupCommand;
use crate::app::event::{Event, Failure, Notice, Task};
use crate::app::keyring;

/// RSA key size for new identities (as `sixchat-cli id new`).
pub const KEY_BITS: usize = 3072;
/// Validity of a standalone identity's self-signed certificate.
const SELF_SIGNED_DAYS: u32 = 730;
/// How long enrollment waits for an administrator's approval.
const APPROVAL_WAIT: Duration = Duration::from_secs(20);

/// Handles a command that comes before the agent runs; returns the running
/// agent once there is one.
pub(super) async fn handle(
    profile: &Profile,
    command: SetupCommand,
    sink: &Sink,
) -> Option<Arc<Running>> {
    let (task, passphrase, result) = match command {
        SetupCommand::Unlock {
            passphrase,
            remember,
        } => {
            let running = unlock(profile, passphrase.clone(), sink).await;
            if running.is_some() {
                keep_in_keyring(profile, passphrase, remember, sink).await;
            }
            return running;
        }
        SetupCommand::CreateIdentity {
            user_id,
            name,
            passphrase,
        } => {
            sink.emit(Event::Busy(Some(Task::Creating))).await;
            let profile = profile.clone();
            let secret = passphrase.clone();
            let result = blocking(move || create(&profile, &user_id, &name, &secret)).await;
            (Task::Creating, passphrase, result)
        }
        SetupCommand::ImportPkcs12 {
            path,
            password,
            passphrase,
        } => {
            sink.emit(Event::Busy(Some(Task::Importing))).await;
            // The profile is protected by the file's password unless the person chose another.
            let passphrase = if passphrase.is_empty() {
                password.clone()
            } else {
                passphrase
            };
            let profile = profile.clone();
            let secret = passphrase.clone();
            let result = blocking(move || import(&profile, &path, &password, &secret)).await;
            (Task::Importing, passphrase, result)
        }
        SetupCommand::Enroll {
            invite,
            name,
            passphrase,
        } => {
            sink.emit(Event::Busy(Some(Task::Enrolling))).await;
            let result = enroll(profile, &invite, &name, &passphrase).await;
            (Task::Enrolling, passphrase, result)
        }
    };
    match result {
        Ok(()) => unlock(profile, passphrase, sink).await,
        Err(failure) => {
            sink.fail(Some(task), failure).await;
            None
        }
    }
}

/// Runs `work` on the blocking pool (key generation, PKCS#12, files).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(Failure::Other(e.to_string())))
}

fn check_passphrase(passphrase: &str) -> Result<(), Failure> {
    if passphrase.chars().count() < 8 {
        return Err(Failure::Invalid(
            "the passphrase needs at least 8 characters".into(),
        ));
    }
    Ok(())
}

fn profile_failure(e: ProfileError) -> Failure {
    match e {
        ProfileError::WrongPassphrase(_) => Failure::WrongPassphrase,
        ProfileError::IdentityExists(..) => Failure::Invalid(e.to_string()),
        other => Failure::Other(other.to_string()),
    }
}

fn create(profile: &Profile, user_id: &str, name: &str, passphrase: &str) -> Result<(), Failure> {
    let user_id = UserId::parse(user_id.trim()).map_err(|e| Failure::Invalid(e.to_string()))?;
    let name = name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(Failure::Invalid(
            "the name must be 1-128 printable characters".into(),
        ));
    }
    check_passphrase(passphrase)?;
    let key = IdentityKey::generate(KEY_BITS).map_err(|e| Failure::Other(e.to_string()))?;
    let der = sixchat_pki::cert::self_signed_identity(&key, &user_id, name, SELF_SIGNED_DAYS)
        .map_err(|e| Failure::Other(e.to_string()))?;
    profile
        .save_identity(&key, &[der], &[], passphrase)
        .map_err(profile_failure)?;
    Ok(())
}

fn import(profile: &Profile, path: &Path, password: &str, passphrase: &str) -> Result<(), Failure> {
    let bytes = sixchat_agent::profile::read_limited(path, pkcs12::MAX_IMPORT_BYTES)
        .map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?;
    let imported = pkcs12::import(&bytes, password).map_err(|e| match e {
        Pkcs12Error::WrongPassword => Failure::WrongPassword,
        Pkcs12Error::NotPkcs12 => Failure::NotPkcs12,
        other => Failure::Invalid(other.to_string()),
    })?;
    check_passphrase(passphrase)?;
    profile
        .save_identity(
            &imported.key,
            &imported.chain,
            &imported.encryption,
            passphrase,
        )
        .map_err(profile_failure)?;
    Ok(())
}

async fn enroll(
    profile: &Profile,
    invite: &str,
    name: &str,
    passphrase: &str,
) -> Result<(), Failure> {
    let invite = Invite::parse(invite.trim()).map_err(|e| Failure::Invalid(e.to_string()))?;
    check_passphrase(passphrase)?;
    let name = match name.trim() {
        "" => invite.user_id.local_part().to_owned(),
        name => name.to_owned(),
    };
    let key =
        blocking(|| IdentityKey::generate(KEY_BITS).map_err(|e| Failure::Other(e.to_string())))
            .await?;
    let enrolled = directory::enroll(&invite, &name, key, APPROVAL_WAIT)
        .await
        .map_err(|e| match e {
            DirError::Pending => Failure::Other(
                "the directory holds the request for its administrator's approval; try again once approved".into(),
            ),
            other => Failure::Other(other.to_string()),
        })?;
    let profile = profile.clone();
    let secret = Zeroizing::new(passphrase.to_owned());
    blocking(move || {
        directory::save_enrollment(&profile, &invite, enrolled, &secret)
            .map(|_| ())
            .map_err(profile_failure)
    })
    .await
}

/// Keeps (or forgets) the passphrase in the OS keyring, on the blocking pool.
async fn keep_in_keyring(
    profile: &Profile,
    passphrase: Zeroizing<String>,
    remember: bool,
    sink: &Sink,
) {
    let profile = profile.clone();
    let kept = tokio::task::spawn_blocking(move || {
        if remember {
            keyring::remember(&profile, &passphrase)
        } else {
            keyring::forget_if_kept(&profile);
            Ok(())
        }
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(detail) = kept {
        sink.emit(Event::Notice(Notice::KeyringFailed { detail }))
            .await;
    }
}

/// The passphrase remembered in the OS keyring, if any (never blocks the caller's thread).
pub(super) async fn recall(profile: &Profile) -> Option<Zeroizing<String>> {
    let profile = profile.clone();
    tokio::task::spawn_blocking(move || keyring::recall(&profile))
        .await
        .ok()
        .flatten()
}

/// Unlocks the identity and starts the agent.
pub(super) async fn unlock(
    profile: &Profile,
    passphrase: Zeroizing<String>,
    sink: &Sink,
) -> Option<Arc<Running>> {
    sink.emit(Event::Busy(Some(Task::Unlocking))).await;
    let opened = {
        let profile = profile.clone();
        let secret = passphrase.clone();
        blocking(move || profile.unlock(&secret).map_err(profile_failure)).await
    };
    let identity = match opened {
        Ok(identity) => identity,
        Err(failure) => {
            sink.fail(Some(Task::Unlocking), failure).await;
            return None;
        }
    };
    match Running::start(profile.clone(), identity, passphrase, sink.clone()).await {
        Ok(running) => {
            sink.emit(Event::Busy(None)).await;
            Some(running)
        }
        Err(failure) => {
            sink.fail(Some(Task::Unlocking), failure).await;
            None
        }
    }
}
