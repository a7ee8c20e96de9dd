//! `enroll`, and the `id` commands that talk to the DIR: `backup`,
//! `restore`, `renew`, `revoke`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::json;
use sixchat_agent::UnlockedIdentity;
use sixchat_agent::irp::directory::{self, Directory};
use sixchat_agent::irp::{DirError, DirTrust};
use sixchat_agent::store::DirRecord;
use sixchat_pki::keys::IdentityKey;
use sixchat_pki::pkcs12;
use sixchat_proto::irp::Invite;
use sixchat_proto::irp::messages::REVOKE_REASONS;
use sixchat_proto::{Fingerprint, UserId};
use zeroize::Zeroizing;

use crate::output::safe;
use crate::run::runtime;
use crate::{Context, secret};

/// The DIR this profile enrolled with (for its own domain).
pub fn own_dir(ctx: &Context, user_id: &UserId) -> anyhow::Result<Option<DirRecord>> {
    Ok(ctx.profile.open_store()?.dir(user_id.domain())?)
}

/// The profile's DIR, reached with the unlocked identity (which it keeps),
/// and what the certificate says.
fn require_dir(ctx: &Context, identity: UnlockedIdentity) -> anyhow::Result<(Directory, Held)> {
    let Some(dir) = own_dir(ctx, &identity.info.user_id)? else {
        bail!(
            "profile {:?} has not enrolled with a DIR: run `sixchat-cli --profile {} enroll INVITE` first",
            ctx.profile.name,
            ctx.profile.name
        );
    };
    Ok((
        Directory::new(dir, identity.chain, Arc::new(identity.key)),
        Held {
            info: identity.info,
            encryption: identity.encryption,
        },
    ))
}

/// What the profile holds beside the DIR link: what its certificate says,
/// and its mail encryption keys.
struct Held {
    info: sixchat_pki::cert::CertInfo,
    encryption: Vec<sixchat_pki::pkcs12::EncryptionKey>,
}

/// The invite: the argument, or with `-` (as the argument or as
/// `--invite-file`) the first line of standard input, or the first line of
/// the file. An invite read from a terminal is not echoed. Surrounding
/// whitespace is dropped.
pub fn read_invite(
    argument: Option<&str>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Zeroizing<String>> {
    use std::io::{BufRead as _, IsTerminal as _};
    let stdin = || -> anyhow::Result<Zeroizing<String>> {
        if std::io::stdin().is_terminal() {
            return Ok(Zeroizing::new(
                rpassword::prompt_password("Invite: ")
                    .context("reading the invite from the terminal")?,
            ));
        }
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the invite from standard input")?;
        Ok(line)
    };
    let text = match (argument, file) {
        (Some("-"), _) => stdin()?,
        (Some(invite), _) => Zeroizing::new(invite.to_owned()),
        (None, Some(path)) if path.as_os_str() == "-" => stdin()?,
        (None, Some(path)) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            );
            Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
        }
        (None, None) => {
            bail!("no invite: give it as the argument, `-` for standard input, or --invite-file")
        }
    };
    let invite = text.trim();
    if invite.is_empty() {
        bail!("the invite is empty: expected sixchat-invite:1:…");
    }
    Ok(Zeroizing::new(invite.to_owned()))
}

pub fn enroll(
    ctx: &Context,
    invite: &str,
    name: Option<String>,
    bits: usize,
    wait_secs: u64,
) -> anyhow::Result<u8> {
    let invite = Invite::parse(invite)?;
    if let Ok((_, existing)) = ctx.profile.public_identity() {
        bail!(
            "profile {:?} already has an identity ({}); enroll into a new --profile",
            ctx.profile.name,
            existing.user_id
        );
    }
    let name = name.unwrap_or_else(|| invite.user_id.local_part().to_owned());
    let passphrase = secret::passphrase(ctx, "New passphrase for this profile: ", true)?;
    let key = IdentityKey::generate(bits)?;
    let enrolled = runtime()?.block_on(directory::enroll(
        &invite,
        &name,
        key,
        Duration::from_secs(wait_secs),
    ));
    let enrolled = match enrolled {
        Ok(enrolled) => enrolled,
        Err(DirError::Pending) => {
            bail!(
                "the DIR holds the request for its administrator's approval; run this command again once approved"
            )
        }
        Err(e) => return Err(e.into()),
    };
    let info = directory::save_enrollment(&ctx.profile, &invite, enrolled, &passphrase)?;
    ctx.out.print(
        &format!(
            "Enrolled {} ({}) with the DIR at {}\nFingerprint: {}\nValid until: {}",
            info.user_id,
            safe(&info.name),
            invite.dir_address,
            info.fingerprint,
            crate::identity::rfc3339(info.not_after_unix)
        ),
        &json!({
            "enrolled": info.user_id.as_str(),
            "name": info.name,
            "dir": invite.dir_address,
            "fingerprint": info.fingerprint.to_hex(),
            "not_after": info.not_after_unix,
        }),
    );
    Ok(0)
}

fn recovery_code(file: Option<&PathBuf>) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or_default().trim().to_owned();
        if line.len() < 16 {
            bail!("the recovery code in {} is too short", path.display());
        }
        return Ok(Some(Zeroizing::new(line)));
    }
    Ok(std::env::var("SIXCHAT_RECOVERY_CODE")
        .ok()
        .filter(|v| !v.is_empty())
        .map(Zeroizing::new))
}

pub fn backup(ctx: &Context, code_file: Option<&PathBuf>) -> anyhow::Result<u8> {
    let passphrase = secret::passphrase(ctx, "Passphrase: ", false)?;
    let (directory, held) = require_dir(ctx, ctx.profile.unlock(&passphrase)?)?;
    let info = held.info;
    let (code, generated) = if let Some(code) = recovery_code(code_file)? {
        (code, false)
    } else {
        (directory::new_recovery_code(), true)
    };
    let (auth, p12_password) = directory::recovery_values(&code);
    // Every mail encryption key goes into the backup (mail.md).
    let bytes = pkcs12::export_all(
        &directory.auth.key,
        &directory.auth.chain,
        &held.encryption,
        &p12_password,
    )?;
    runtime()?.block_on(directory.backup_put(bytes, &auth))?;
    let mut line = format!(
        "Backed up {} to the DIR at {} (encrypted here; the DIR cannot open it).",
        info.user_id, directory.dir.address
    );
    if generated {
        line.push_str("\nRecovery code: ");
        line.push_str(&code);
        line.push_str(
            "\nWrite it down and keep it safe: `id restore` needs it, and it is shown only now.",
        );
    }
    ctx.out.print(
        &line,
        &json!({ "backed_up": info.user_id.as_str(), "recovery_code": generated.then(|| code.to_string()) }),
    );
    Ok(0)
}

pub fn restore(
    ctx: &Context,
    user: &str,
    dir_address: Option<&str>,
    root_sha256: Option<&str>,
    code_file: Option<&PathBuf>,
) -> anyhow::Result<u8> {
    let user_id = UserId::parse(user)?;
    if let Ok((_, existing)) = ctx.profile.public_identity() {
        bail!(
            "profile {:?} already has an identity ({}); restore into a new --profile",
            ctx.profile.name,
            existing.user_id
        );
    }
    let known = own_dir(ctx, &user_id)?;
    let address = dir_address
        .map(str::to_owned)
        .or_else(|| known.as_ref().map(|d| d.address.clone()))
        .context("which DIR? pass --dir HOST:PORT (and --root-sha256)")?;
    let fingerprint = match (root_sha256, &known) {
        (Some(hex), _) => Fingerprint::parse_hex(hex).context(
            "--root-sha256 must be 64 hex digits (the root fingerprint from the invite)",
        )?,
        (None, Some(dir)) => Fingerprint::of_der(&dir.root_der),
        (None, None) => bail!(
            "pass --root-sha256 with the DIR root's fingerprint (it is the last field of your invite)"
        ),
    };
    let code = recovery_code(code_file)?.map_or_else(
        || rpassword::prompt_password("Recovery code: ").map(Zeroizing::new),
        Ok,
    )?;
    let (auth, p12_password) = directory::recovery_values(&code);
    let bytes = runtime()?.block_on(directory::backup_get(
        &address,
        DirTrust::Fingerprint(fingerprint),
        &user_id,
        &auth,
    ))?;
    let imported = pkcs12::import(&bytes, &p12_password).context("opening the backup")?;
    let root = imported
        .chain
        .iter()
        .find(|der| Fingerprint::of_der(der).ct_eq(&fingerprint))
        .cloned()
        .context("the backup does not carry the DIR root")?;
    let passphrase = secret::passphrase(ctx, "New passphrase for this profile: ", true)?;
    let info = ctx.profile.save_identity(
        &imported.key,
        &imported.chain,
        &imported.encryption,
        &passphrase,
    )?;
    let store = ctx.profile.open_store()?;
    store.add_root(user_id.domain(), &root, &fingerprint.to_hex())?;
    let record = DirRecord {
        domain: user_id.domain().to_owned(),
        address: address.clone(),
        root_der: root,
    };
    store.set_dir(&record)?;
    // The root counts for peers only with its CRL; `run` keeps it current.
    match runtime()?.block_on(directory::fetch_crl(&record)) {
        Ok(crl) => store.set_crl(user_id.domain(), &crl)?,
        Err(e) => eprintln!("sixchat-cli: the DIR's CRL could not be fetched yet: {e}"),
    }
    ctx.out.print(
        &format!(
            "Restored {} from the DIR at {address}\nFingerprint: {}",
            info.user_id, info.fingerprint
        ),
        &json!({ "restored": info.user_id.as_str(), "fingerprint": info.fingerprint.to_hex() }),
    );
    Ok(0)
}

pub fn renew(ctx: &Context) -> anyhow::Result<u8> {
    let passphrase = secret::passphrase(ctx, "Passphrase: ", false)?;
    let (directory, held) = require_dir(ctx, ctx.profile.unlock(&passphrase)?)?;
    let renewed = runtime()?.block_on(directory.renew(&directory.auth.key, &held.info.name))?;
    let mut encryption = held.encryption;
    encryption.extend(renewed.encryption);
    let info = ctx.profile.replace_identity(
        &directory.auth.key,
        &renewed.chain,
        &encryption,
        &passphrase,
    )?;
    ctx.out.print(
        &format!(
            "Renewed {}: valid until {}",
            info.user_id,
            crate::identity::rfc3339(info.not_after_unix)
        ),
        &json!({ "renewed": info.user_id.as_str(), "not_after": info.not_after_unix, "fingerprint": info.fingerprint.to_hex() }),
    );
    Ok(0)
}

pub fn revoke(ctx: &Context, reason: &str) -> anyhow::Result<u8> {
    if !REVOKE_REASONS.contains(&reason) {
        bail!("--reason must be one of {}", REVOKE_REASONS.join(", "));
    }
    let passphrase = secret::passphrase(ctx, "Passphrase: ", false)?;
    let (directory, Held { info, .. }) = require_dir(ctx, ctx.profile.unlock(&passphrase)?)?;
    let ski = info
        .subject_key_id_hex
        .clone()
        .context("this certificate has no subject key identifier to revoke it by")?;
    let serial = runtime()?.block_on(directory.revoke(&ski, reason))?;
    ctx.out.print(
        &format!(
            "Revoked {}'s certificate (serial {serial}); enroll again with a new invite to get a new one",
            info.user_id
        ),
        &json!({ "revoked": info.user_id.as_str(), "serial": serial }),
    );
    Ok(0)
}
