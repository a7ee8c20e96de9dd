//! The administrator's approval mode and the key-backup vault, against a
//! real `sixchat-dir serve` child process.

mod support;

use sixchat_proto::irp::{ErrorCode, Request, Response};
use support::{
    Raw, TestDir, anonymous, as_agent, enroll, enroll_request, loopback, new_key, refused, user,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_mode_holds_enrollment_until_approved() {
    let dir = TestDir::init(&["--require-approval"]);
    let invite = dir.invite("alice@example.org", &[]);
    let served = dir.serve(&[]);
    let key = new_key();
    let mut client = anonymous(&served, &dir).await;
    let held = enroll_request(&mut client, &invite, &key, &invite.user_id).await;
    refused(held, ErrorCode::Pending);
    refused(
        enroll_request(&mut client, &invite, &key, &invite.user_id).await,
        ErrorCode::Pending,
    );
    assert!(
        dir.admin_ok(&["users"])
            .lines()
            .any(|l| l.contains("pending"))
    );
    dir.admin_ok(&["approve", "alice@example.org"]);
    let issued = enroll_request(&mut client, &invite, &key, &invite.user_id).await;
    assert!(matches!(issued, Ok(Response::Enroll { .. })), "{issued:?}");
    assert!(
        !dir.admin(&["approve", "alice@example.org"])
            .status
            .success(),
        "nothing left to approve"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_opens_only_with_its_recovery_secret_and_guessing_is_limited() {
    let dir = TestDir::init(&[]);
    let invite = dir.invite("alice@example.org", &[]);
    let served = dir.serve(&["--public-lookup"]);
    let alice = enroll(&served, &dir, &invite).await;
    let mut client = as_agent(&served, &dir, &alice).await;
    let put = Request::BackupPut {
        pkcs12: vec![42; 3000],
        recovery_secret: "maple tiger 7".into(),
    };
    assert!(matches!(client.call(&put).await, Ok(Response::BackupPut)));

    let mut anon = anonymous(&served, &dir).await;
    // --public-lookup: no certificate needed.
    assert!(matches!(
        anon.call(&Request::Lookup {
            user_id: alice.user_id.clone()
        })
        .await,
        Ok(Response::Lookup(_))
    ));
    let get = |secret: &str| Request::BackupGet {
        user_id: alice.user_id.clone(),
        recovery_secret: secret.into(),
    };
    let wrong = refused(
        anon.call(&get("maple tiger 8")).await,
        ErrorCode::NotAuthorised,
    );
    let none = Request::BackupGet {
        user_id: user("zoe@example.org"),
        recovery_secret: "x".into(),
    };
    let missing = refused(anon.call(&none).await, ErrorCode::NotAuthorised);
    assert_eq!(
        wrong.description, missing.description,
        "no hint whether a backup exists"
    );
    let Ok(Response::BackupGet { pkcs12 }) = anon.call(&get("maple tiger 7")).await else {
        panic!("the right secret opens it");
    };
    assert_eq!(pkcs12, vec![42; 3000]);
    for _ in 0..3 {
        refused(anon.call(&get("guess")).await, ErrorCode::NotAuthorised);
    }
    let limited = refused(
        anon.call(&get("maple tiger 7")).await,
        ErrorCode::RateLimited,
    );
    assert!(limited.retry_after_secs.is_some_and(|s| s > 800));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_over_a_mebibyte_pass_with_a_certificate() {
    let dir = TestDir::init(&[]);
    let alice_invite = dir.invite("alice@example.org", &[]);
    let bob_invite = dir.invite("bob@example.org", &[]);
    let served = dir.serve(&[]);
    let alice = enroll(&served, &dir, &alice_invite).await;
    let bob = enroll(&served, &dir, &bob_invite).await;
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut as_bob = as_agent(&served, &dir, &bob).await;
    let put = Request::StorePut {
        to: alice.user_id.clone(),
        envelope: big.clone(),
        expires_days: Some(90),
    };
    let Ok(Response::StorePut { expires_unix, .. }) = as_bob.call(&put).await else {
        panic!("a 3 MiB envelope is stored");
    };
    let days = (expires_unix - support::now()) / 86_400;
    assert!(
        (29..=30).contains(&days),
        "kept at most 30 days, not {days}"
    );
    // A request other than store_put may not be that large.
    let huge_issue = Request::Issue {
        csr_der: big.clone(),
        encryption_csr_der: None,
    };
    refused(as_bob.call(&huge_issue).await, ErrorCode::TooLarge);
    let mut as_alice = as_agent(&served, &dir, &alice).await;
    let Ok(Response::StoreFetch { envelopes, .. }) =
        as_alice.call(&Request::StoreFetch { limit: 10 }).await
    else {
        panic!("fetch");
    };
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0].data, big);
}

/// A served DIR with alice enrolled and her backup stored under `secret`.
async fn with_a_backup(secret: &str) -> (TestDir, support::Served, support::Agent) {
    let dir = TestDir::init(&[]);
    let invite = dir.invite("alice@example.org", &[]);
    let served = dir.serve(&[]);
    let alice = enroll(&served, &dir, &invite).await;
    let mut client = as_agent(&served, &dir, &alice).await;
    let put = Request::BackupPut {
        pkcs12: vec![42; 3000],
        recovery_secret: secret.into(),
    };
    assert!(matches!(client.call(&put).await, Ok(Response::BackupPut)));
    (dir, served, alice)
}

fn backup_get(user_id: &str, secret: &str) -> Request {
    Request::BackupGet {
        user_id: user(user_id),
        recovery_secret: secret.into(),
    }
}

fn code(response: &Response) -> Option<ErrorCode> {
    match response {
        Response::Error(error) => Some(error.code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_guesses_from_one_source_do_not_lock_out_another() {
    let (dir, served, _alice) = with_a_backup("maple tiger 7").await;
    let mut guesser = Raw::connect_from(loopback(2), &served, &dir, None)
        .await
        .expect("TLS from 127.0.0.2");
    for n in 0..5 {
        let response = guesser
            .call(
                None,
                &backup_get("alice@example.org", "guess"),
                &format!("g{n}"),
            )
            .await;
        assert_eq!(code(&response), Some(ErrorCode::NotAuthorised));
    }
    let locked = guesser
        .call(
            None,
            &backup_get("alice@example.org", "maple tiger 7"),
            "g5",
        )
        .await;
    assert_eq!(
        code(&locked),
        Some(ErrorCode::RateLimited),
        "that source is locked out"
    );

    let mut owner = Raw::connect_from(loopback(3), &served, &dir, None)
        .await
        .expect("TLS from 127.0.0.3");
    let restored = owner
        .call(
            None,
            &backup_get("alice@example.org", "maple tiger 7"),
            "r1",
        )
        .await;
    let Response::BackupGet { pkcs12 } = restored else {
        panic!("the owner, elsewhere, restores: {restored:?}");
    };
    assert_eq!(pkcs12, vec![42; 3000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_for_another_domain_is_refused_before_any_slow_work() {
    let (dir, served, _alice) = with_a_backup("maple tiger 7").await;
    let mut client = Raw::connect_from(loopback(4), &served, &dir, None)
        .await
        .expect("TLS");
    // Three times the slow-request burst: refused as no such user, never
    // rate limited, so none of them reached the hash (or its budget).
    for n in 0..30 {
        let response = client
            .call(
                None,
                &backup_get(&format!("u{n}@elsewhere.org"), "x"),
                &format!("f{n}"),
            )
            .await;
        assert_eq!(code(&response), Some(ErrorCode::NoSuchUser), "{response:?}");
    }
    let restored = client
        .call(
            None,
            &backup_get("alice@example.org", "maple tiger 7"),
            "real",
        )
        .await;
    assert!(
        matches!(restored, Response::BackupGet { .. }),
        "{restored:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_restores_from_one_source_is_limited_and_another_restores() {
    let (dir, served, _alice) = with_a_backup("maple tiger 7").await;
    // Four connections from 127.0.0.5, eight made-up UserIDs each, at once.
    let mut flood = tokio::task::JoinSet::new();
    for c in 0..4 {
        let mut conn = Raw::connect_from(loopback(5), &served, &dir, None)
            .await
            .expect("TLS");
        flood.spawn(async move {
            let mut codes = Vec::new();
            for n in 0..8 {
                let request = backup_get(&format!("nobody{c}x{n}@example.org"), "guess");
                let response = conn.call(None, &request, &format!("{c}.{n}")).await;
                codes.push(code(&response));
            }
            codes
        });
    }
    // Meanwhile the real owner restores from 127.0.0.6.
    let started = std::time::Instant::now();
    let mut owner = Raw::connect_from(loopback(6), &served, &dir, None)
        .await
        .expect("TLS");
    let restored = owner
        .call(
            None,
            &backup_get("alice@example.org", "maple tiger 7"),
            "real",
        )
        .await;
    assert!(
        matches!(restored, Response::BackupGet { .. }),
        "{restored:?}"
    );
    let took = started.elapsed();

    let mut limited = 0;
    let mut hashed = 0;
    while let Some(codes) = flood.join_next().await {
        for code in codes.expect("flood task") {
            match code {
                Some(ErrorCode::RateLimited) => limited += 1,
                Some(ErrorCode::NotAuthorised) => hashed += 1,
                other => panic!("unexpected answer {other:?}"),
            }
        }
    }
    assert_eq!(limited + hashed, 32);
    assert!(
        hashed <= 12,
        "the source's budget is about ten slow requests, not {hashed}"
    );
    assert!(limited >= 20, "{limited} rate limited");
    assert!(
        took < std::time::Duration::from_secs(10),
        "restored in {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sender_cannot_fill_a_recipients_store_for_everyone() {
    let dir = TestDir::init(&[]);
    let invites: Vec<_> = ["y", "x", "z"]
        .iter()
        .map(|name| dir.invite(&format!("{name}@example.org"), &[]))
        .collect();
    let served = dir.serve(&[]);
    let mut agents = Vec::new();
    for invite in &invites {
        agents.push(enroll(&served, &dir, invite).await);
    }
    let (y, x, z) = (&agents[0], &agents[1], &agents[2]);
    let put = |n: usize| Request::StorePut {
        to: y.user_id.clone(),
        envelope: vec![u8::try_from(n % 251).unwrap()],
        expires_days: None,
    };
    // A quarter of Y's 1000 envelopes is X's share.
    let mut as_x = as_agent(&served, &dir, x).await;
    for n in 0..250 {
        let stored = as_x.call(&put(n)).await;
        assert!(
            matches!(stored, Ok(Response::StorePut { .. })),
            "{n}: {stored:?}"
        );
    }
    let full = refused(as_x.call(&put(250)).await, ErrorCode::QuotaExceeded);
    assert!(full.description.contains("share"), "{full:?}");
    // Z still leaves mail for Y.
    let mut as_z = as_agent(&served, &dir, z).await;
    assert!(matches!(
        as_z.call(&put(0)).await,
        Ok(Response::StorePut { .. })
    ));
    // Y sees 251 waiting; acknowledging X's frees X's share again.
    let mut as_y = as_agent(&served, &dir, y).await;
    let Ok(Response::List { waiting, .. }) = as_y.call(&Request::List).await else {
        panic!("list");
    };
    assert_eq!(waiting, 251);
    let Ok(Response::StoreFetch { envelopes, .. }) =
        as_y.call(&Request::StoreFetch { limit: 256 }).await
    else {
        panic!("fetch");
    };
    let from_x: Vec<String> = envelopes
        .iter()
        .filter(|e| e.from == x.user_id.as_str())
        .map(|e| e.id.clone())
        .take(1)
        .collect();
    let ack = Request::StoreAck {
        envelope_ids: from_x,
    };
    assert!(matches!(
        as_y.call(&ack).await,
        Ok(Response::StoreAck { deleted: 1 })
    ));
    assert!(matches!(
        as_x.call(&put(251)).await,
        Ok(Response::StorePut { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_only_for_users_who_can_fetch_it() {
    let dir = TestDir::init(&[]);
    let x_invite = dir.invite("x@example.org", &[]);
    // Invited, never enrolled: nobody would ever fetch what waits for them.
    let _ = dir.invite("ghost@example.org", &[]);
    let served = dir.serve(&[]);
    let x = enroll(&served, &dir, &x_invite).await;
    let mut as_x = as_agent(&served, &dir, &x).await;
    let put = Request::StorePut {
        to: sixchat_proto::UserId::parse("ghost@example.org").unwrap(),
        envelope: vec![1; 16],
        expires_days: None,
    };
    refused(as_x.call(&put).await, ErrorCode::NoSuchUser);
}
