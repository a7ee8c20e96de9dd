//! The DIR upkeep: what a running agent keeps up with its DIR: its
//! registered addresses, its certificate (renewed after two thirds of its
//! lifetime), the CRL, the messages waiting in the store, and its own outbox.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sixchat_pki::cert::CertInfo;

use crate::agent::{Agent, AgentEvent};
use crate::job::AbortOnDrop;
use crate::store::{Registration, now_unix};

/// Saves a renewal (the new chain, and the new mail encryption key beside
/// the old ones) into the profile.
pub type PersistChain =
    Box<dyn Fn(&crate::irp::directory::Renewed) -> Result<(), String> + Send + Sync>;

/// How often each duty runs.
#[derive(Debug, Clone)]
pub struct UpkeepOptions {
    /// The address the agent listens on; an unspecified one (`[::]`,
    /// `0.0.0.0`) registers the machine's own addresses instead.
    pub listen: SocketAddr,
    /// Lifetime of a registered address record (at most 24 h).
    pub record_lifetime_secs: i64,
    /// How often the store is polled and the outbox retried.
    pub poll_secs: u64,
    /// How often the CRL is fetched.
    pub crl_secs: u64,
    /// How often the machine's addresses are compared with the registered ones.
    pub address_check_secs: u64,
}

impl UpkeepOptions {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            record_lifetime_secs: 3600,
            poll_secs: 30,
            crl_secs: 60,
            address_check_secs: 30,
        }
    }
}

/// The addresses to register: exactly the listening one, or for an
/// unspecified address every non-loopback address of the machine (IPv6
/// first), all with the listening port.
pub fn current_addresses(listen: SocketAddr) -> Vec<SocketAddr> {
    if !listen.ip().is_unspecified() {
        return vec![listen];
    }
    let mut found: Vec<SocketAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|iface| !iface.is_loopback())
        .filter(|iface| listen.is_ipv6() || iface.ip().is_ipv4())
        .map(|iface| match iface.ip() {
            IpAddr::V6(v6) => {
                let scope = if (v6.segments()[0] & 0xffc0) == 0xfe80 {
                    iface.index.unwrap_or(0)
                } else {
                    0
                };
                SocketAddr::V6(std::net::SocketAddrV6::new(v6, listen.port(), 0, scope))
            }
            ip @ IpAddr::V4(_) => SocketAddr::new(ip, listen.port()),
        })
        .collect();
    found.sort_by_key(|a| (a.is_ipv4(), a.to_string()));
    found.dedup();
    found.truncate(sixchat_proto::irp::record::MAX_ADDRESSES);
    found
}

/// Why a duty of the upkeep failed this time (it is tried again on its
/// schedule).
#[derive(Debug, thiserror::Error)]
pub enum UpkeepError {
    #[error("this profile has no DIR")]
    NoDir,
    #[error("no address to register")]
    NoAddress,
    #[error("no certificate")]
    NoCertificate,
    #[error(transparent)]
    Dir(#[from] crate::irp::directory::DirError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the certificate: {0}")]
    Certificate(#[from] sixchat_pki::cert::CertError),
    #[error("saving the renewed certificate: {0}")]
    Persist(String),
    /// The domains whose CRL could not be fetched, and why.
    #[error("{}", crl_failures(.0))]
    Crl(Vec<(String, String)>),
}

fn crl_failures(failed: &[(String, String)]) -> String {
    failed
        .iter()
        .map(|(domain, why)| format!("{domain}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Registers the addresses if `at_start`, if they changed, or if the record
/// is a third of its lifetime from expiry.
async fn keep_registered(
    agent: &Agent,
    options: &UpkeepOptions,
    at_start: bool,
) -> Result<(), UpkeepError> {
    let addresses = current_addresses(options.listen);
    if addresses.is_empty() {
        return Err(UpkeepError::NoAddress);
    }
    let last = agent.with_store(crate::store::Store::registration)?;
    let now = now_unix();
    if let Some(last) = &last {
        let refresh_at = last.expires_unix - options.record_lifetime_secs / 3;
        if !at_start && last.addresses == addresses && now < refresh_at {
            return Ok(());
        }
    }
    // Strictly increasing even across restarts and clock steps backwards.
    let now_ms = u64::try_from(now).unwrap_or(0).saturating_mul(1000);
    let sequence = last.map_or(now_ms, |l| now_ms.max(l.sequence + 1));
    let expires_unix = own_dir(agent)?
        .directory()
        .register(&addresses, sequence, options.record_lifetime_secs)
        .await?;
    agent.with_store(|s| {
        s.set_registration(&Registration {
            sequence,
            addresses: addresses.clone(),
            expires_unix,
        })
    })?;
    agent
        .emit(AgentEvent::Registered {
            addresses,
            expires: expires_unix,
        })
        .await;
    Ok(())
}

/// Renews the certificate once two thirds of its lifetime have passed.
async fn keep_certified(agent: &Agent, persist: &PersistChain) -> Result<(), UpkeepError> {
    let chain = agent.chain();
    let leaf = chain.first().ok_or(UpkeepError::NoCertificate)?;
    let info = CertInfo::parse(leaf)?;
    let renew_at = info.not_before_unix + (info.not_after_unix - info.not_before_unix) * 2 / 3;
    if now_unix() < renew_at {
        return Ok(());
    }
    let renewed = own_dir(agent)?
        .directory()
        .renew(&agent.key(), &info.name)
        .await?;
    persist(&renewed).map_err(UpkeepError::Persist)?;
    let not_after = renewed
        .chain
        .first()
        .and_then(|leaf| CertInfo::parse(leaf).ok())
        .map_or(0, |info| info.not_after_unix);
    agent.replace_chain(renewed.chain);
    if let Some(key) = renewed.encryption {
        agent.add_mail_key(key);
    }
    agent.emit(AgentEvent::Renewed { not_after }).await;
    Ok(())
}

/// The CRL of every DIR the profile knows (its own and the roots added with
/// a DIR address), each fetch bounded.
async fn refresh_crl(agent: &Agent) -> Result<(), UpkeepError> {
    let failed = agent.refresh_crls(Duration::from_secs(10)).await;
    if failed.is_empty() {
        return Ok(());
    }
    Err(UpkeepError::Crl(failed))
}

fn own_dir(agent: &Agent) -> Result<&std::sync::Arc<crate::dirlink::DirLink>, UpkeepError> {
    agent.dir().ok_or(UpkeepError::NoDir)
}

/// Runs every duty on its schedule until `shutdown` resolves, at once even
/// in the middle of a duty. The mailbox (store fetch and outbox) runs as its
/// own task, so a slow or hostile envelope never holds up registration,
/// renewal or the CRL, and they never hold up the mailbox.
pub async fn run(
    agent: Agent,
    options: UpkeepOptions,
    persist: PersistChain,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mailbox = AbortOnDrop(tokio::spawn(mailbox(agent.clone(), options.poll_secs)));
    // Reading mail is a task of its own: how long a mail takes to read never
    // shows in when the next fetch (and its receipts) happens.
    let reader = AbortOnDrop(tokio::spawn(read_mail(agent.clone())));
    tokio::select! {
        () = shutdown => {}
        () = duties(&agent, &options, &persist) => {}
    }
    drop(mailbox);
    drop(reader);
}

/// Reads the mail stored since, every second.
async fn read_mail(agent: Agent) {
    loop {
        match agent.index_mail().await {
            Ok(read) if read > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!("reading stored mail: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Fetches what waits in the store, retries the outbox and leaves queued
/// mail at its recipients' DIRs, every `poll_secs`.
async fn mailbox(agent: Agent, poll_secs: u64) {
    loop {
        if let Some(mailbox) = agent.mailbox() {
            if let Err(e) = mailbox.fetch().await {
                agent.dir_problem("fetch", &e.to_string()).await;
            }
        }
        agent.deliver_outbox(Some(Duration::from_secs(30))).await;
        for (recipient, outcome) in agent.deliver_mail().await {
            if let Err(e) = outcome {
                agent
                    .dir_problem("mail", &format!("to {recipient}: {e}"))
                    .await;
            }
        }

        tokio::time::sleep(Duration::from_secs(poll_secs.max(1))).await;
    }
}

/// Registration, renewal and the CRL, each on its schedule.
async fn duties(agent: &Agent, options: &UpkeepOptions, persist: &PersistChain) {
    let mut next_address_check = 0;
    let mut next_crl = 0;
    let mut next_renew_check = 0;
    let mut registered_once = false;
    loop {
        let now = now_unix();
        if now >= next_renew_check {
            if let Err(e) = keep_certified(agent, persist).await {
                agent.dir_problem("renew", &e.to_string()).await;
            }
            next_renew_check = now + 600;
        }
        if now >= next_address_check {
            match keep_registered(agent, options, !registered_once).await {
                Ok(()) => registered_once = true,
                Err(e) => agent.dir_problem("register", &e.to_string()).await,
            }
            next_address_check = now + i64::try_from(options.address_check_secs).unwrap_or(30);
        }
        if now >= next_crl {
            if let Err(e) = refresh_crl(agent).await {
                agent.dir_problem("crl", &e.to_string()).await;
            }
            next_crl = now + i64::try_from(options.crl_secs).unwrap_or(60);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
