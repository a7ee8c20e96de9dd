//! The administrator's approval mode and the key-backup vault, against a
//! real `sixchat-dir serve` child process.

mod support;

use sixchat_proto::irp::{ErrorCode, Request, Response};
use support::{TestDir, anonymous, as_agent, enroll, enroll_request, new_key, refused, user};

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
