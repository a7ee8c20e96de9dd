//! Mail over a real session on loopback (docs/mail.md, "Directly, over a
//! live session") against a sender who speaks the protocol herself: what
//! bob's agent stores and answers for a good mail inline and streamed, and
//! for every hostile offer and stream: a wrong digest, records out of order
//! or past the size, a stream nobody was given, a fifth mail at once, more
//! than a session's share of the budget, more than a day's quota, an offer
//! over 40 MiB. Bob stores a mail only when it is whole and right,
//! once, and says `mail-stored` only then.

use sixchat_agent::conn::Conn;
use sixchat_agent::store::MailFolder;
use sixchat_agent::{Agent, AgentOptions};
use sixchat_proto::mail::{MAIL_STREAM_BIT, MAX_MAIL_BYTES, MailMessage};
use sixchat_proto::{AppMessage, Established, Fingerprint};

#[path = "support/agents.rs"]
mod agents;
use agents::{agent, dial_by_hand, identity, next_application, pinning, serve};

struct Mallory {
    bob: Agent,
    /// Bob's events, kept so his agent keeps running.
    _events: tokio::sync::mpsc::Receiver<sixchat_agent::AgentEvent>,
    conn: Conn,
    established: Box<Established>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn mallory(dir: &std::path::Path, capabilities: &[&str]) -> Mallory {
    mallory_with(dir, capabilities, AgentOptions::default()).await
}

async fn mallory_with(
    dir: &std::path::Path,
    capabilities: &[&str],
    options: AgentOptions,
) -> Mallory {
    let mallory = identity("rsa2048-a", "mallory@a.example", "Mallory");
    let bob_id = identity("rsa2048-b", "bob@b.example", "Bob B");
    let bob_pinned = pinning(&[&bob_id]);
    let (bob, events) = agent(dir, "b.db", bob_id, pinning(&[&mallory]), options);
    let (address, stop) = serve(bob.clone());
    let (conn, established) =
        dial_by_hand(mallory, bob_pinned, &address, "bob@b.example", capabilities).await;
    Mallory {
        bob,
        _events: events,
        conn,
        established,
        _stop: stop,
    }
}

impl Mallory {
    async fn send(&mut self, id: &str, message: MailMessage) {
        let message = AppMessage::Mail {
            id: id.to_owned(),
            message,
        };
        let record = self
            .established
            .session
            .seal_application(&message.to_xml())
            .expect("sealed");
        self.conn.write(&record).await.expect("written");
    }

    async fn offer(&mut self, id: &str, raw: &[u8], inline: bool) {
        let message = MailMessage::Offer {
            size: raw.len() as u64,
            sha256: Fingerprint::of_der(raw).0,
            data: inline.then(|| raw.to_vec()),
        };
        self.send(id, message).await;
    }

    async fn bulk(&mut self, stream: u32, offset: u64, bytes: &[u8]) {
        let record = self
            .established
            .session
            .seal_bulk(stream, offset, bytes)
            .expect("sealed");
        self.conn.write(&record).await.expect("written");
    }

    /// All of `bytes` on `stream`, in order, 32 KiB per record.
    async fn stream_all(&mut self, stream: u32, bytes: &[u8]) {
        for (n, chunk) in bytes.chunks(32 << 10).enumerate() {
            self.bulk(stream, (n * (32 << 10)) as u64, chunk).await;
        }
    }

    /// A ping answered: bob's driver has handled all that was sent before.
    async fn sync(&mut self) {
        let ping = AppMessage::Ping {
            id: "sync-1".into(),
        };
        let record = self
            .established
            .session
            .seal_application(&ping.to_xml())
            .expect("sealed");
        self.conn.write(&record).await.expect("written");
        let pong = self.answer().await;
        assert!(
            matches!(&pong, AppMessage::Pong { reference, .. } if reference == "sync-1"),
            "{pong:?}"
        );
    }

    async fn answer(&mut self) -> AppMessage {
        next_application(&mut self.conn, &mut self.established.session).await
    }

    /// Bob's answer to an offer: `mail-accept` gives the stream.
    async fn accepted(&mut self, offer: &str) -> u32 {
        match self.answer().await {
            AppMessage::Mail {
                message: MailMessage::Accept { reference, stream },
                ..
            } if reference == offer => stream,
            other => panic!("expected mail-accept for {offer}, got {other:?}"),
        }
    }

    async fn expect(&mut self, offer: &str, stored: bool) -> String {
        match self.answer().await {
            AppMessage::Mail {
                message: MailMessage::Stored { reference },
                ..
            } if stored && reference == offer => String::new(),
            AppMessage::Mail {
                message: MailMessage::Refuse { reference, reason },
                ..
            } if !stored && reference == offer => reason,
            AppMessage::Error {
                reference, reason, ..
            } if !stored && reference == offer => reason,
            other => panic!(
                "expected {} for {offer}, got {other:?}",
                if stored { "mail-stored" } else { "a refusal" }
            ),
        }
    }

    fn inbox(&self) -> Vec<Vec<u8>> {
        self.bob.with_store(|s| {
            s.mail_list(Some(MailFolder::Inbox), None)
                .expect("list")
                .iter()
                .map(|row| s.mail(row.id).expect("mail").expect("there").1)
                .collect()
        })
    }
}

/// Something shaped like a mail; bob stores it before reading it.
fn mail(size: usize, seed: u8) -> Vec<u8> {
    let mut raw = b"Message-ID: <m@a.example>\r\nSubject: [...]\r\n\r\n".to_vec();
    raw.extend((0..size).map(|i| b'a' + ((i + usize::from(seed)) % 26) as u8));
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_stores_a_mail_only_when_whole_and_says_so_only_then() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut m = mallory(dir.path(), &["mail", "file-transfer"]).await;

    // Inline: stored, then mail-stored.
    let small = mail(1000, 0);
    m.offer("o1", &small, true).await;
    m.expect("o1", true).await;
    assert_eq!(m.inbox(), std::slice::from_ref(&small));

    // Streamed, in two records: a stream id with the high bit, stored whole.
    let large = mail(100_000, 2);
    m.offer("o3", &large, false).await;
    let stream = m.accepted("o3").await;
    assert_ne!(
        stream & MAIL_STREAM_BIT,
        0,
        "mail streams never meet file streams"
    );
    m.bulk(stream, 0, &large[..60_000]).await;
    m.sync().await;
    assert_eq!(m.inbox().len(), 1, "not stored before it is whole");
    m.bulk(stream, 60_000, &large[60_000..]).await;
    m.expect("o3", true).await;

    // The same mail again: stored once, answered the same.
    m.offer("o4", &large, false).await;
    let stream = m.accepted("o4").await;
    m.stream_all(stream, &large).await;
    m.expect("o4", true).await;
    let mut inbox = m.inbox();
    inbox.sort();
    let mut both = vec![small, large];
    both.sort();
    assert_eq!(
        inbox, both,
        "each once: a second copy is known by its SHA-256"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_offers_and_streams_store_nothing_and_the_session_goes_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut m = mallory(dir.path(), &["mail", "file-transfer"]).await;

    // Inline with a digest that is not its own.
    let other = mail(1000, 1);
    m.send(
        "o2",
        MailMessage::Offer {
            size: other.len() as u64,
            sha256: [0; 32],
            data: Some(other.clone()),
        },
    )
    .await;
    let why = m.expect("o2", false).await;
    assert!(why.contains("SHA-256"), "{why}");

    // A record that skips ahead, and one past the offered size: dropped.
    let skipped = mail(50_000, 3);
    m.offer("o5", &skipped, false).await;
    let stream = m.accepted("o5").await;
    m.bulk(stream, 10, &skipped[10..]).await;
    let why = m.expect("o5", false).await;
    assert!(why.contains("in order"), "{why}");
    m.offer("o6", &skipped, false).await;
    let stream = m.accepted("o6").await;
    let mut longer = skipped.clone();
    longer.extend_from_slice(b"more");
    m.bulk(stream, 0, &longer).await;
    let why = m.expect("o6", false).await;
    assert!(why.contains("in order"), "{why}");
    // Records of a stream already dropped, or never given, change nothing.
    m.bulk(stream, 0, &skipped).await;
    m.bulk(MAIL_STREAM_BIT | 0x3e7, 0, &skipped).await;
    // Whole, but not the offered bytes.
    let mut wrong = skipped.clone();
    wrong[20_000] ^= 1;
    m.offer("o7", &skipped, false).await;
    let stream = m.accepted("o7").await;
    m.bulk(stream, 0, &wrong).await;
    let why = m.expect("o7", false).await;
    assert!(why.contains("SHA-256"), "{why}");

    // Four at once are taken; a fifth is refused.
    for n in 0..4 {
        m.offer(&format!("p{n}"), &mail(40_000, n), false).await;
        m.accepted(&format!("p{n}")).await;
    }
    m.offer("p4", &mail(40_000, 4), false).await;
    let why = m.expect("p4", false).await;
    assert!(why.contains("busy"), "{why}");

    // Over 40 MiB: an error before any work.
    m.send(
        "big",
        MailMessage::Offer {
            size: MAX_MAIL_BYTES + 1,
            sha256: [1; 32],
            data: None,
        },
    )
    .await;
    let why = m.expect("big", false).await;
    assert!(why.contains("over the limit"), "{why}");

    // The session still works.
    m.sync().await;
    assert!(m.inbox().is_empty(), "nothing hostile was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_file_transfer_only_inline_mail_goes_directly() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut m = mallory(dir.path(), &["mail"]).await;
    let small = mail(1000, 0);
    m.offer("o1", &small, true).await;
    m.expect("o1", true).await;
    let large = mail(100_000, 1);
    m.offer("o2", &large, false).await;
    let why = m.expect("o2", false).await;
    assert!(why.contains("file-transfer"), "{why}");
    assert_eq!(m.inbox(), [small]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_over_40_mib_that_comes_in_is_kept_and_shown_as_too_large() {
    let dir = tempfile::tempdir().expect("tmp");
    let bob_id = identity("rsa2048-b", "bob@b.example", "Bob B");
    let (bob, _events) = agent(
        dir.path(),
        "b.db",
        bob_id,
        pinning(&[]),
        AgentOptions::default(),
    );
    // What the DIR store hands over may be up to its 48 MiB envelopes.
    let huge = mail(41 << 20, 0);
    bob.receive_mail(huge.clone(), Some("mallory@a.example".into()))
        .await
        .expect("stored as it is");
    assert_eq!(bob.index_mail().await.expect("read"), 1);
    let rows = bob.with_store(|s| s.mail_list(Some(MailFolder::Inbox), None).expect("list"));
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].index.status.starts_with("too large to read"),
        "{}",
        rows[0].index.status
    );
    let kept = bob.with_store(|s| s.mail(rows[0].id).expect("mail").expect("there").1);
    assert_eq!(kept, huge, "kept byte for byte");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_peer_takes_neither_the_whole_budget_nor_unbounded_space() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut options = AgentOptions::default();
    options.limits.mail_per_peer_per_day = 2;
    let mut m = mallory_with(dir.path(), &["mail", "file-transfer"], options).await;
    // One 40 MiB mail on its way: a second large one does not fit the
    // session's 48 MiB, a small streamed one does.
    let size = 40 << 20;
    m.send(
        "huge",
        MailMessage::Offer {
            size,
            sha256: [2; 32],
            data: None,
        },
    )
    .await;
    m.accepted("huge").await;
    m.send(
        "more",
        MailMessage::Offer {
            size: 9 << 20,
            sha256: [3; 32],
            data: None,
        },
    )
    .await;
    let why = m.expect("more", false).await;
    assert!(why.contains("busy"), "{why}");
    // Two mails a day from this peer, then the DIR's quotas apply.
    for n in 0..2 {
        let small = mail(2000, n);
        m.offer(&format!("q{n}"), &small, true).await;
        m.expect(&format!("q{n}"), true).await;
    }
    m.offer("q2", &mail(2000, 2), true).await;
    let why = m.expect("q2", false).await;
    assert!(why.contains("quota"), "{why}");
    assert_eq!(m.inbox().len(), 2);
}
