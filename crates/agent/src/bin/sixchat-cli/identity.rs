//! `id …` and `trust …`.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use sixchat_pki::cert::{self, CertInfo};
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::pkcs12;
use sixchat_pki::trust::TrustStore;
use sixchat_proto::{Fingerprint, UserId};
use std::path::PathBuf;

use crate::output::safe;
use crate::{Context, secret};

#[derive(Subcommand)]
pub enum IdCommand {
    /// Make a new RSA key and a self-signed certificate for a UserID.
    New {
        /// The UserID, local@domain in lowercase (e.g. alice@example.org).
        #[arg(long)]
        user: String,
        /// The display name shown to peers (the certificate's CN).
        #[arg(long)]
        name: String,
        /// RSA key size: 2048, 3072 or 4096.
        #[arg(long, default_value_t = 2048)]
        bits: usize,
        /// How long the certificate is valid.
        #[arg(long, default_value_t = 730)]
        days: u32,
    },
    /// Import an identity (one RSA key and its certificates) from a PKCS#12 file.
    /// The file's password also becomes the profile's passphrase.
    Import {
        /// A .p12/.pfx file made by OpenSSL, Java keytool, a browser or SixChat.
        file: PathBuf,
    },
    /// Export this identity as a PKCS#12 file (AES-256, PBKDF2-SHA256 600 000 iterations)
    /// protected by the profile's passphrase.
    Export {
        /// Where to write it (created with mode 0600).
        file: PathBuf,
    },
    /// Show the UserID, name, fingerprint, validity and issuer (no passphrase needed).
    Show,
    /// Store this identity, encrypted here, in the DIR's key backup (`backup_put`).
    /// Prints a new recovery code unless one is given; the DIR never sees the code.
    Backup {
        /// Read the recovery code from the first line of FILE (else SIXCHAT_RECOVERY_CODE,
        /// else a new one is made and printed once).
        #[arg(long, value_name = "FILE")]
        recovery_code_file: Option<PathBuf>,
    },
    /// Fetch an identity from its DIR's key backup into this (empty) profile (`backup_get`).
    Restore {
        /// The UserID to restore.
        user_id: String,
        /// The DIR, HOST:PORT (as in the invite), if this profile does not know it.
        #[arg(long, value_name = "HOST:PORT")]
        dir: Option<String>,
        /// The SHA-256 of the DIR root (the last field of the invite), if this profile does not know it.
        #[arg(long, value_name = "HEX")]
        root_sha256: Option<String>,
        /// Read the recovery code from FILE (else SIXCHAT_RECOVERY_CODE, else a prompt).
        #[arg(long, value_name = "FILE")]
        recovery_code_file: Option<PathBuf>,
    },
    /// Ask the DIR for a new certificate for the same key (`issue`); `run` does this by itself
    /// once two thirds of the certificate's lifetime have passed.
    Renew,
    /// Revoke this identity's certificate at the DIR (`revoke`); peers refuse it from their next CRL.
    Revoke {
        /// unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Trust a directory's root certificate, for one domain only.
    AddRoot {
        /// The root certificate, PEM or DER.
        file: PathBuf,
        /// The domain whose UserIDs this root may vouch for.
        #[arg(long)]
        domain: String,
        /// The domain's DIR (HOST:PORT, IRP port 4604), where the root's CRL is
        /// fetched now and kept current by `run`. Peers of the domain verify only
        /// while a current CRL is held: without one they are refused.
        #[arg(long, value_name = "HOST:PORT")]
        dir: Option<String>,
    },
    /// Pin a peer's certificate by its SHA-256 fingerprint (as `id show` prints it).
    Pin {
        user_id: String,
        /// 64 hex digits, colons allowed.
        fingerprint: String,
    },
    /// Remove a pin.
    Unpin { user_id: String },
    /// Accept files this contact offers (`send`) without asking, into the incoming folder.
    /// `run` accepts offers only from contacts set so; the app asks for the others.
    AutoAccept {
        user_id: String,
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
    /// List trusted roots and pins.
    List,
}

pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// The mail key line of `id show` (mail.md, "Two keys per person"): the
/// newest encryption certificate, or the identity's own when its key usage
/// allows encryption, or none yet.
fn mail_key(info: &CertInfo, identity_der: Option<&[u8]>, mail: &[Vec<u8>]) -> (String, Value) {
    let newest = mail.last().and_then(|der| CertInfo::parse(der).ok());
    match newest {
        Some(key) => {
            let older = mail.len() - 1;
            let human = format!(
                "{} (valid to {}{})",
                key.fingerprint,
                rfc3339(key.not_after_unix),
                if older == 0 {
                    String::new()
                } else {
                    format!(", and {older} older key(s) kept for stored mail")
                }
            );
            let value = json!({
                "fingerprint": key.fingerprint.to_hex(),
                "not_after": rfc3339(key.not_after_unix),
                "older_keys": older,
            });
            (human, value)
        }
        None if identity_der.is_some_and(sixchat_pki::cert::may_encrypt_to) => (
            "the identity key (its certificate allows encryption)".to_owned(),
            json!({ "fingerprint": info.fingerprint.to_hex(), "same_as_identity": true }),
        ),
        None => (
            "none yet: mail to you cannot be encrypted until the DIR issues one (`id renew`)"
                .to_owned(),
            Value::Null,
        ),
    }
}

fn show_info(
    ctx: &Context,
    info: &CertInfo,
    identity_der: Option<&[u8]>,
    mail: &[Vec<u8>],
    verb: &str,
) {
    let (mail_human, mail_value) = mail_key(info, identity_der, mail);
    let value = json!({
        "mail_key": mail_value,
        "user_id": info.user_id.as_str(),
        "name": info.name,
        "fingerprint": info.fingerprint.to_hex(),
        "not_before": rfc3339(info.not_before_unix),
        "not_after": rfc3339(info.not_after_unix),
        "issuer": info.issuer,
        "self_signed": info.is_self_signed,
        "key_bits": info.key_bits,
    });
    let human = format!(
        "{verb}UserID:      {}\nName:        {}\nFingerprint: {}\nValid:       {} to {}\nIssuer:      {}{}\nKey:         RSA {} bits\nMail key:    {mail_human}",
        info.user_id,
        safe(&info.name),
        info.fingerprint,
        rfc3339(info.not_before_unix),
        rfc3339(info.not_after_unix),
        safe(&info.issuer),
        if info.is_self_signed {
            " (self-signed)"
        } else {
            ""
        },
        info.key_bits,
    );
    ctx.out.print(&human, &value);
}

/// `id import FILE`: an identity (and any mail encryption keys) from PKCS#12.
fn import(ctx: &Context, file: &std::path::Path) -> anyhow::Result<()> {
    let bytes = sixchat_agent::profile::read_limited(file, pkcs12::MAX_IMPORT_BYTES)
        .with_context(|| format!("reading {}", file.display()))?;
    let passphrase = secret::passphrase(ctx, &format!("Password of {}: ", file.display()), false)?;
    let imported = pkcs12::import(&bytes, &passphrase)
        .with_context(|| format!("importing {}", file.display()))?;
    let info = ctx.profile.save_identity(
        &imported.key,
        &imported.chain,
        &imported.encryption,
        &passphrase,
    )?;
    let mail: Vec<Vec<u8>> = imported
        .encryption
        .iter()
        .map(|held| held.certificate.clone())
        .collect();
    show_info(
        ctx,
        &info,
        imported.chain.first().map(Vec::as_slice),
        &mail,
        "Imported.\n",
    );
    Ok(())
}

pub fn id(ctx: &Context, command: IdCommand) -> anyhow::Result<u8> {
    match command {
        IdCommand::New {
            user,
            name,
            bits,
            days,
        } => {
            let user_id = UserId::parse(&user)?;
            if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                bail!("--name must be 1-128 printable characters");
            }
            if let Ok((_, existing)) = ctx.profile.public_identity() {
                bail!(
                    "profile {:?} already has an identity ({}); use another --profile",
                    ctx.profile.name,
                    existing.user_id
                );
            }
            let passphrase = secret::passphrase(ctx, "New passphrase for this profile: ", true)?;
            let key = IdentityKey::generate(bits)?;
            let der = cert::self_signed_identity(&key, &user_id, &name, days)?;
            let info = ctx.profile.save_identity(&key, &[der], &[], &passphrase)?;
            show_info(ctx, &info, None, &[], "Created a new identity.\n");
        }
        IdCommand::Import { file } => import(ctx, &file)?,
        IdCommand::Export { file } => {
            let passphrase = secret::passphrase(ctx, "Passphrase: ", false)?;
            let unlocked = ctx.profile.unlock(&passphrase)?;
            let bytes = pkcs12::export_all(
                &unlocked.key,
                &unlocked.chain,
                &unlocked.encryption,
                &passphrase,
            )?;
            sixchat_agent::profile::write_atomically(&file, &bytes, 0o600)?;
            ctx.out.print(
                &format!("Exported {} to {}", unlocked.info.user_id, file.display()),
                &json!({ "exported": file }),
            );
        }
        IdCommand::Show => {
            let (chain, info) = ctx.profile.public_identity()?;
            let mail = ctx.profile.encryption_certificates()?;
            show_info(ctx, &info, chain.first().map(Vec::as_slice), &mail, "");
        }
        IdCommand::Backup { recovery_code_file } => {
            return crate::dir::backup(ctx, recovery_code_file.as_ref());
        }
        IdCommand::Restore {
            user_id,
            dir,
            root_sha256,
            recovery_code_file,
        } => {
            return crate::dir::restore(
                ctx,
                &user_id,
                dir.as_deref(),
                root_sha256.as_deref(),
                recovery_code_file.as_ref(),
            );
        }
        IdCommand::Renew => return crate::dir::renew(ctx),
        IdCommand::Revoke { reason } => return crate::dir::revoke(ctx, &reason),
    }
    Ok(0)
}

#[allow(clippy::too_many_lines)] // one arm per `trust` subcommand, each a few lines
pub fn trust(ctx: &Context, command: TrustCommand) -> anyhow::Result<u8> {
    let store = ctx.profile.open_store()?;
    match command {
        TrustCommand::AddRoot { file, domain, dir } => {
            // A certificate, PEM or DER: a few kilobytes.
            let bytes = sixchat_agent::profile::read_limited(&file, 64 * 1024)
                .with_context(|| format!("reading {}", file.display()))?;
            let der = cert::certificate_from_pem_or_der(&bytes)?;
            // Checked by the trust store before it is kept.
            TrustStore::new().add_root(&domain, &der)?;
            let fp = Fingerprint::of_der(&der);
            store.add_root(&domain, &der, &fp.to_hex())?;
            ctx.out.print(
                &format!("Trusting root {fp} for {domain}"),
                &json!({ "domain": domain, "fingerprint": fp.to_hex() }),
            );
            let Some(address) = dir else {
                if store.dir(&domain)?.is_none() {
                    eprintln!(
                        "sixchat-cli: no CRL is held for this root: peers of {domain} are refused until one is (add the root again with --dir HOST:PORT to fetch it)"
                    );
                }
                return Ok(0);
            };
            let record = sixchat_agent::store::DirRecord {
                domain: domain.clone(),
                address,
                root_der: der,
            };
            let fetched = crate::run::runtime()?.block_on(async {
                tokio::time::timeout(
                    std::time::Duration::from_secs(15),
                    sixchat_agent::irp::directory::fetch_crl(&record),
                )
                .await
            });
            let crl = match fetched {
                Ok(Ok(crl)) => crl,
                Ok(Err(e)) => bail!(
                    "the root is trusted, but its CRL could not be fetched from {}: {e}; peers of {domain} are refused until it is",
                    record.address
                ),
                Err(_) => bail!(
                    "the root is trusted, but {} gave no CRL within 15 s; peers of {domain} are refused until it does",
                    record.address
                ),
            };
            store.set_dir(&record)?;
            store.set_crl(&domain, &crl)?;
            ctx.out.print(
                &format!("Fetched the CRL of {domain} from {}", record.address),
                &json!({ "domain": domain, "crl_from": record.address }),
            );
        }
        TrustCommand::Pin {
            user_id,
            fingerprint,
        } => {
            let user = UserId::parse(&user_id)?;
            let Some(fp) = Fingerprint::parse_hex(&fingerprint) else {
                bail!("{fingerprint:?} is not a SHA-256 fingerprint (64 hex digits)");
            };
            store.pin(user.as_str(), &fp.to_hex())?;
            ctx.out.print(
                &format!("Pinned {user} to {fp}"),
                &json!({ "user_id": user.as_str(), "fingerprint": fp.to_hex() }),
            );
        }
        TrustCommand::Unpin { user_id } => {
            let removed = store.unpin(&user_id)?;
            if !removed {
                bail!("{user_id} is not pinned");
            }
            ctx.out.print(
                &format!("Unpinned {user_id}"),
                &json!({ "unpinned": user_id }),
            );
        }
        TrustCommand::AutoAccept { user_id, setting } => {
            let user_id = sixchat_proto::UserId::parse(&user_id)?.to_string();
            let on = setting == "on";
            store.set_auto_accept(&user_id, on)?;
            ctx.out.print(
                &format!("auto-accept {setting} for {user_id}"),
                &json!({ "auto_accept": on, "user_id": user_id }),
            );
        }
        TrustCommand::List => {
            for user_id in store.auto_accepted()? {
                ctx.out.print(
                    &format!("auto-accept\t{user_id}"),
                    &json!({ "auto_accept": user_id }),
                );
            }
            for root in store.roots()? {
                let (domain, fp) = (root.domain, root.fingerprint);
                ctx.out.print(
                    &format!("root\t{domain}\t{fp}"),
                    &json!({ "root": fp, "domain": domain }),
                );
            }
            for pin in store.pins()? {
                let (user, fp) = (pin.user_id, pin.fingerprint);
                ctx.out.print(
                    &format!("pin\t{user}\t{fp}"),
                    &json!({ "pin": fp, "user_id": user }),
                );
            }
        }
    }
    Ok(0)
}
