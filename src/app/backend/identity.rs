//! The identity and its trust settings: renewal, the key backup at the
//! DIR, PKCS#12 export, pins and roots, the keyring.

use std::sync::Arc;

use sixchat_agent::irp::directory::{self, Directory};

use super::running::{Running, other};
use crate::app::command::IdentityCommand;
use crate::app::event::{Event, Failure, IdentityInfo, Notice, Task, TrustInfo};

impl Running {
    pub(super) async fn identity_command(
        self: &Arc<Self>,
        command: IdentityCommand,
    ) -> Result<(), Failure> {
        match command {
            IdentityCommand::Renew => {
                tokio::spawn(self.clone().renew());
            }
            IdentityCommand::Backup => {
                tokio::spawn(self.clone().backup());
            }
            IdentityCommand::ExportPkcs12 { path, password } => {
                if password.chars().count() < 8 {
                    return Err(Failure::Invalid(
                        "the password needs at least 8 characters".into(),
                    ));
                }
                let (key, chain, sink) = (self.agent.key(), self.agent.chain(), self.sink.clone());
                let mail_keys = self.agent.mail_keys();
                sink.emit(Event::Busy(Some(Task::Exporting))).await;
                let written = tokio::task::spawn_blocking(move || {
                    // The identity and every mail encryption key (mail.md).
                    let bytes =
                        sixchat_pki::pkcs12::export_all(&key, &chain, &mail_keys, &password)
                            .map_err(other)?;
                    sixchat_agent::profile::write_atomically(&path, &bytes, 0o600)
                        .map_err(other)?;
                    Ok::<_, Failure>(path)
                })
                .await
                .map_err(other)?;
                match written {
                    Ok(path) => {
                        sink.emit(Event::Busy(None)).await;
                        sink.emit(Event::Notice(Notice::Exported {
                            path: path.display().to_string(),
                        }))
                        .await;
                    }
                    Err(failure) => sink.fail(Some(Task::Exporting), failure).await,
                }
            }
            IdentityCommand::Unpin { user_id } => {
                self.agent
                    .with_store(|s| s.unpin(&user_id))
                    .map_err(other)?;
                self.sink.emit(Event::Trust(self.trust_info())).await;
            }
            IdentityCommand::RemoveRoot {
                domain,
                fingerprint,
            } => {
                self.agent
                    .with_store(|s| s.remove_root(&domain, &fingerprint))
                    .map_err(other)?;
                self.sink.emit(Event::Trust(self.trust_info())).await;
            }
            IdentityCommand::ForgetPassphrase => {
                let profile = self.profile.clone();
                let _ = tokio::task::spawn_blocking(move || crate::app::keyring::forget(&profile))
                    .await;
                self.sink
                    .emit(Event::Notice(Notice::PassphraseForgotten))
                    .await;
            }
        }
        Ok(())
    }

    pub(super) fn identity_info(&self) -> Result<IdentityInfo, Failure> {
        let (_, info) = self.profile.public_identity().map_err(other)?;
        let dir_address = self
            .agent
            .with_store(|s| s.dir(info.user_id.domain()))
            .ok()
            .flatten()
            .map(|d| d.address);
        Ok(IdentityInfo {
            user_id: info.user_id.to_string(),
            name: info.name,
            issuer: info.issuer,
            not_before_unix: info.not_before_unix,
            not_after_unix: info.not_after_unix,
            fingerprint: info.fingerprint.to_hex(),
            self_signed: info.is_self_signed,
            dir_address,
        })
    }

    pub(super) fn trust_info(&self) -> TrustInfo {
        self.agent.with_store(|s| TrustInfo {
            roots: s
                .roots()
                .unwrap_or_default()
                .into_iter()
                .map(|root| (root.domain, root.fingerprint))
                .collect(),
            pins: s
                .pins()
                .unwrap_or_default()
                .into_iter()
                .map(|pin| (pin.user_id, pin.fingerprint))
                .collect(),
        })
    }

    fn directory(&self) -> Result<Directory, Failure> {
        self.agent
            .dir()
            .map(|link| link.directory())
            .ok_or(Failure::NoDirectory)
    }

    async fn renew(self: Arc<Self>) {
        self.sink.emit(Event::Busy(Some(Task::Renewing))).await;
        let result = async {
            let directory = self.directory()?;
            let identity = self.identity_info()?;
            let key = self.agent.key();
            let renewed = directory.renew(&key, &identity.name).await.map_err(other)?;
            self.profile
                .keep_renewal(&key, &renewed, &self.passphrase)
                .map_err(other)?;
            let not_after = renewed
                .chain
                .first()
                .and_then(|leaf| sixchat_pki::cert::CertInfo::parse(leaf).ok())
                .map_or(0, |info| info.not_after_unix);
            self.agent.replace_chain(renewed.chain);
            Ok::<_, Failure>(not_after)
        }
        .await;
        match result {
            Ok(not_after_unix) => {
                self.sink.emit(Event::Busy(None)).await;
                if let Ok(identity) = self.identity_info() {
                    self.sink.emit(Event::Identity(identity)).await;
                }
                self.sink
                    .emit(Event::Notice(Notice::Renewed { not_after_unix }))
                    .await;
            }
            Err(failure) => self.sink.fail(Some(Task::Renewing), failure).await,
        }
    }

    async fn backup(self: Arc<Self>) {
        self.sink.emit(Event::Busy(Some(Task::BackingUp))).await;
        let result = async {
            let directory = self.directory()?;
            let code = directory::new_recovery_code();
            let (auth, password) = directory::recovery_values(&code);
            let (key, chain) = (self.agent.key(), self.agent.chain());
            let bytes = tokio::task::spawn_blocking(move || {
                sixchat_pki::pkcs12::export(&key, &chain, &password)
            })
            .await
            .map_err(other)?
            .map_err(other)?;
            directory.backup_put(bytes, &auth).await.map_err(other)?;
            Ok::<_, Failure>(code)
        }
        .await;
        match result {
            Ok(code) => {
                self.sink.emit(Event::Busy(None)).await;
                self.sink
                    .emit(Event::Notice(Notice::BackedUp {
                        recovery_code: code.to_string(),
                    }))
                    .await;
            }
            Err(failure) => self.sink.fail(Some(Task::BackingUp), failure).await,
        }
    }
}
