//! The DIR as agents meet it: a real `sixchat-dir serve` child process on a
//! loopback port, spoken to with the agent's own IRP client.

mod support;

use sixchat_pki::cert::CertInfo;
use sixchat_pki::keys::IdentityKey;
use sixchat_proto::HandshakeSigner as _;
use sixchat_proto::irp::{AddressRecord, CertState, ErrorCode, Request, Response, SignedRecord};
use support::{
    Agent, TestDir, anonymous, as_agent, enroll, enroll_request, new_key, now, refused, user,
};

fn record(agent: &Agent, signer: &IdentityKey, sequence: u64) -> SignedRecord {
    let bytes = AddressRecord {
        user_id: agent.user_id.clone(),
        sequence,
        expires_unix: now() + 3600,
        addresses: vec![
            "[2001:db8::7]:4605".parse().unwrap(),
            "192.0.2.7:4605".parse().unwrap(),
        ],
    }
    .to_bytes();
    let signature = signer
        .sign_pss_sha256(&AddressRecord::signed_data(&bytes))
        .expect("signature");
    SignedRecord { bytes, signature }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // each refusal against the same running DIR, in the order the rules are written
async fn enrollment_follows_the_invite_rules() {
    let dir = TestDir::init(&[]);
    let alice_invite = dir.invite("alice@example.org", &[]);
    let bob_invite = dir.invite("bob@example.org", &[]);
    let carol_invite = dir.invite("carol@example.org", &["--valid-secs", "0"]);
    let dave_invite = dir.invite("dave@example.org", &["--email", "dave@mail.example"]);
    let served = dir.serve(&[]);

    let alice = enroll(&served, &dir, &alice_invite).await;
    let info = CertInfo::parse(&alice.chain[0]).unwrap();
    assert_eq!(info.user_id, alice.user_id);
    assert!(
        info.not_after_unix - now() > 364 * 86_400,
        "a year by default"
    );

    let mut client = anonymous(&served, &dir).await;
    // The same invite again, even with a new key: used.
    let again = enroll_request(&mut client, &alice_invite, &new_key(), &alice.user_id).await;
    assert!(
        refused(again, ErrorCode::BadInvite)
            .description
            .contains("used")
    );
    // An invite made already expired.
    let late = enroll_request(
        &mut client,
        &carol_invite,
        &new_key(),
        &carol_invite.user_id,
    )
    .await;
    assert!(
        refused(late, ErrorCode::BadInvite)
            .description
            .contains("expired")
    );
    // A wrong secret.
    let mut forged = bob_invite.clone();
    forged.secret = "AAAAAAAAAAAAAAAAAAAAAA".into();
    let wrong = enroll_request(&mut client, &forged, &new_key(), &forged.user_id).await;
    assert!(
        refused(wrong, ErrorCode::BadInvite)
            .description
            .contains("invalid")
    );
    // Bob's invite, a CSR for Alice.
    let other = enroll_request(&mut client, &bob_invite, &new_key(), &alice.user_id).await;
    refused(other, ErrorCode::UserIdMismatch);
    // Dave's invite with Alice's key.
    let reused = enroll_request(&mut client, &dave_invite, &alice.key, &dave_invite.user_id).await;
    refused(reused, ErrorCode::KeyReused);
    // A CSR that is not one.
    let junk = client
        .call(&Request::Enroll {
            user_id: dave_invite.user_id.clone(),
            secret: dave_invite.secret.clone(),
            csr_der: vec![0x30, 0x03, 1, 2, 3],
            encryption_csr_der: None,
        })
        .await;
    refused(junk, ErrorCode::BadCsr);
    // Bob's and Dave's invites still work after those refusals.
    let bob = enroll(&served, &dir, &bob_invite).await;
    let dave = enroll(&served, &dir, &dave_invite).await;

    // Without a certificate: lookup and list need one.
    let nobody = client
        .call(&Request::Lookup {
            user_id: alice.user_id.clone(),
        })
        .await;
    refused(nobody, ErrorCode::AuthRequired);
    refused(client.call(&Request::List).await, ErrorCode::AuthRequired);
    assert!(matches!(
        client.call(&Request::Crl).await,
        Ok(Response::Crl { .. })
    ));

    let mut as_bob = as_agent(&served, &dir, &bob).await;
    let unknown = as_bob
        .call(&Request::Lookup {
            user_id: user("zoe@example.org"),
        })
        .await;
    refused(unknown, ErrorCode::NoSuchUser);
    let elsewhere = as_bob
        .call(&Request::Lookup {
            user_id: user("alice@other.org"),
        })
        .await;
    refused(elsewhere, ErrorCode::NoSuchUser);
    let never_enrolled = as_bob
        .call(&Request::Lookup {
            user_id: user("carol@example.org"),
        })
        .await;
    refused(never_enrolled, ErrorCode::NoSuchUser);
    let Ok(Response::Lookup(found)) = as_bob
        .call(&Request::Lookup {
            user_id: dave.user_id.clone(),
        })
        .await
    else {
        panic!("lookup of dave");
    };
    assert_eq!(found.chain, dave.chain);
    assert_eq!(found.name, CertInfo::parse(&dave.chain[0]).unwrap().name);
    assert_eq!(found.state, CertState::Valid);
    assert_eq!(found.email.as_deref(), Some("dave@mail.example"));
    assert!(found.record.is_none());

    // Renewal with the same key, then re-key; a key of another user is refused.
    let name = "Bob";
    let same = sixchat_pki::cert::csr_for(&bob.key, &bob.user_id, name).unwrap();
    let Ok(Response::Issue { chain, .. }) = as_bob
        .call(&Request::Issue {
            csr_der: same,
            encryption_csr_der: None,
        })
        .await
    else {
        panic!("renewal");
    };
    assert_ne!(chain[0], bob.chain[0]);
    assert_eq!(
        CertInfo::parse(&chain[0]).unwrap().name,
        "Test User",
        "the administrator's name (invite --name), not the CSR's"
    );
    let fresh = sixchat_pki::cert::csr_for(&new_key(), &bob.user_id, name).unwrap();
    assert!(matches!(
        as_bob
            .call(&Request::Issue {
                csr_der: fresh,
                encryption_csr_der: None,
            })
            .await,
        Ok(Response::Issue { .. })
    ));
    let stolen = sixchat_pki::cert::csr_for(&alice.key, &bob.user_id, name).unwrap();
    refused(
        as_bob
            .call(&Request::Issue {
                csr_der: stolen,
                encryption_csr_der: None,
            })
            .await,
        ErrorCode::KeyReused,
    );
    let for_alice = sixchat_pki::cert::csr_for(&new_key(), &alice.user_id, name).unwrap();
    refused(
        as_bob
            .call(&Request::Issue {
                csr_der: for_alice,
                encryption_csr_der: None,
            })
            .await,
        ErrorCode::UserIdMismatch,
    );
    let Ok(Response::List { certificates, .. }) = as_bob.call(&Request::List).await else {
        panic!("list");
    };
    assert_eq!(certificates.len(), 3, "the old certificates stay valid");
    assert!(certificates.iter().all(|c| c.state == CertState::Valid));

    let users = dir.admin_ok(&["users"]);
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("alice@example.org") && l.contains("active"))
    );
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("carol@example.org") && l.contains("invited"))
    );

    assert!(served.terminate().success(), "SIGTERM: clean exit 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certified_name_is_the_administrators_not_the_enrollees() {
    let dir = TestDir::init(&[]);
    let line = dir.admin_ok(&["invite", "bob@example.org", "--name", "Bob B"]);
    let bob_invite = sixchat_proto::irp::Invite::parse(line.trim()).expect("invite");
    let alice_invite = dir.invite("alice@example.org", &[]);
    let served = dir.serve(&[]);
    let alice = enroll(&served, &dir, &alice_invite).await;

    // Bob asks to be "Alice A".
    let key = new_key();
    let csr_der = sixchat_pki::cert::csr_for(&key, &bob_invite.user_id, "Alice A").unwrap();
    let mut client = anonymous(&served, &dir).await;
    let response = client
        .call(&Request::Enroll {
            user_id: bob_invite.user_id.clone(),
            secret: bob_invite.secret.clone(),
            csr_der,
            encryption_csr_der: None,
        })
        .await;
    let Ok(Response::Enroll { chain, .. }) = response else {
        panic!("enrolment: {response:?}");
    };
    let issued = CertInfo::parse(&chain[0]).unwrap();
    assert_eq!(issued.name, "Bob B", "the invite's name is certified");
    assert_eq!(issued.user_id, bob_invite.user_id);

    let mut as_alice = as_agent(&served, &dir, &alice).await;
    let Ok(Response::Lookup(found)) = as_alice
        .call(&Request::Lookup {
            user_id: bob_invite.user_id.clone(),
        })
        .await
    else {
        panic!("lookup of bob");
    };
    assert_eq!(found.name, "Bob B", "lookup agrees with the certificate");
    assert_eq!(found.chain[0], chain[0]);

    // Renewal and re-key keep the administrator's name too.
    let bob = Agent {
        user_id: bob_invite.user_id.clone(),
        key: key.clone(),
        chain,
    };
    let mut as_bob = as_agent(&served, &dir, &bob).await;
    for csr_key in [key, new_key()] {
        let csr_der = sixchat_pki::cert::csr_for(&csr_key, &bob.user_id, "Alice A").unwrap();
        let Ok(Response::Issue { chain, .. }) = as_bob
            .call(&Request::Issue {
                csr_der,
                encryption_csr_der: None,
            })
            .await
        else {
            panic!("renewal");
        };
        assert_eq!(CertInfo::parse(&chain[0]).unwrap().name, "Bob B");
    }
    let users = dir.admin_ok(&["users", "--json"]);
    assert!(users.contains("\"Bob B\""), "{users}");
    assert!(!users.contains("Alice A"), "{users}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_records_must_be_signed_fresh_and_newer() {
    let dir = TestDir::init(&[]);
    let alice_invite = dir.invite("alice@example.org", &[]);
    let bob_invite = dir.invite("bob@example.org", &[]);
    let served = dir.serve(&[]);
    let alice = enroll(&served, &dir, &alice_invite).await;
    let bob = enroll(&served, &dir, &bob_invite).await;
    let mut client = as_agent(&served, &dir, &alice).await;

    let first = record(&alice, &alice.key, 5);
    let stored = client
        .call(&Request::Register {
            record: first.clone(),
        })
        .await;
    assert!(
        matches!(stored, Ok(Response::Register { sequence: 5, .. })),
        "{stored:?}"
    );
    let replay = client
        .call(&Request::Register {
            record: first.clone(),
        })
        .await;
    refused(replay, ErrorCode::StaleRecord);
    let older = client
        .call(&Request::Register {
            record: record(&alice, &alice.key, 4),
        })
        .await;
    refused(older, ErrorCode::StaleRecord);
    let forged = client
        .call(&Request::Register {
            record: record(&alice, &bob.key, 6),
        })
        .await;
    let refusal = refused(forged, ErrorCode::NotAuthorised);
    assert_eq!(refusal.description, "bad signature");
    let mut for_bob = record(&bob, &alice.key, 9);
    for_bob.signature = alice
        .key
        .sign_pss_sha256(&AddressRecord::signed_data(&for_bob.bytes))
        .unwrap();
    refused(
        client.call(&Request::Register { record: for_bob }).await,
        ErrorCode::UserIdMismatch,
    );
    let mut too_long = AddressRecord::parse(&first.bytes).unwrap();
    too_long.sequence = 7;
    too_long.expires_unix = now() + 3 * 86_400;
    let bytes = too_long.to_bytes();
    let signature = alice
        .key
        .sign_pss_sha256(&AddressRecord::signed_data(&bytes))
        .unwrap();
    let long = client
        .call(&Request::Register {
            record: SignedRecord { bytes, signature },
        })
        .await;
    refused(long, ErrorCode::StaleRecord);

    let mut as_bob = as_agent(&served, &dir, &bob).await;
    let Ok(Response::Lookup(found)) = as_bob
        .call(&Request::Lookup {
            user_id: alice.user_id.clone(),
        })
        .await
    else {
        panic!("lookup");
    };
    assert_eq!(found.record, Some(first), "the accepted record, verbatim");
    assert!(found.last_seen_unix.is_some_and(|t| (now() - t).abs() < 60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_is_refused_at_once() {
    let dir = TestDir::init(&[]);
    let alice_invite = dir.invite("alice@example.org", &[]);
    let bob_invite = dir.invite("bob@example.org", &[]);
    let served = dir.serve(&[]);
    let alice = enroll(&served, &dir, &alice_invite).await;
    let bob = enroll(&served, &dir, &bob_invite).await;
    let serial = CertInfo::parse(&alice.chain[0]).unwrap().serial_hex;

    let mut client = as_agent(&served, &dir, &alice).await;
    assert!(matches!(
        client.call(&Request::List).await,
        Ok(Response::List { .. })
    ));
    let out = dir.admin_ok(&["revoke", "alice@example.org", "--reason", "keyCompromise"]);
    assert!(out.contains(&serial), "{out}");
    // The DIR looks for commits by other processes every 100 ms.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    // The same connection, the next request.
    let refusal = refused(client.call(&Request::List).await, ErrorCode::NotAuthorised);
    assert_eq!(refusal.description, "certificate revoked");
    let mut again = as_agent(&served, &dir, &alice).await;
    refused(again.call(&Request::List).await, ErrorCode::NotAuthorised);

    // Everyone sees it: lookup says revoked, the CRL lists the serial.
    let mut as_bob = as_agent(&served, &dir, &bob).await;
    let Ok(Response::Lookup(found)) = as_bob
        .call(&Request::Lookup {
            user_id: alice.user_id.clone(),
        })
        .await
    else {
        panic!("lookup");
    };
    assert_eq!(found.state, CertState::Revoked);
    let Ok(Response::Crl {
        crl_der,
        next_update_unix,
    }) = as_bob.call(&Request::Crl).await
    else {
        panic!("crl");
    };
    assert!(next_update_unix > now() + 6 * 86_400);
    let serial_bytes = hex::decode(&serial).unwrap();
    assert!(
        crl_der
            .windows(serial_bytes.len())
            .any(|w| w == serial_bytes.as_slice())
    );
    // Revoked users cannot be re-enrolled with a left-over invite.
    assert!(
        dir.admin_ok(&["users"])
            .lines()
            .any(|l| l.starts_with("alice@") && l.contains("revoked"))
    );

    // A user revokes its own key by SKI; an unknown SKI is 1302.
    let ski = CertInfo::parse(&bob.chain[0])
        .unwrap()
        .subject_key_id_hex
        .unwrap();
    let unknown = as_bob
        .call(&Request::Revoke {
            ski_hex: "00ff".into(),
            reason: "superseded".into(),
        })
        .await;
    refused(unknown, ErrorCode::NoSuchKey);
    let own = as_bob
        .call(&Request::Revoke {
            ski_hex: ski,
            reason: "superseded".into(),
        })
        .await;
    assert!(matches!(own, Ok(Response::Revoke { .. })), "{own:?}");
    refused(as_bob.call(&Request::List).await, ErrorCode::NotAuthorised);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_its_rate_is_told_to_wait() {
    let dir = TestDir::init(&[]);
    let served = dir.serve(&["--rate", "2", "--burst", "3"]);
    let mut client = anonymous(&served, &dir).await;
    let mut limited = None;
    for _ in 0..20 {
        if let Err(e) = client.call(&Request::Crl).await {
            limited = Some(e);
            break;
        }
    }
    let error = refused(
        Err(limited.expect("a refusal within 20 requests")),
        ErrorCode::RateLimited,
    );
    assert!(
        error.retry_after_secs.is_some_and(|s| (1..=2).contains(&s)),
        "{error:?}"
    );
    // The connection stays usable once the bucket refills.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(matches!(
        client.call(&Request::Crl).await,
        Ok(Response::Crl { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = TestDir::init(&[]);
    let alice_invite = dir.invite("alice@example.org", &[]);
    let bob_invite = dir.invite("bob@example.org", &[]);
    let served = dir.serve(&[]);
    let alice = enroll(&served, &dir, &alice_invite).await;
    let bob = enroll(&served, &dir, &bob_invite).await;

    let mut as_bob = as_agent(&served, &dir, &bob).await;
    let mut ids = Vec::new();
    for i in 0..20u8 {
        let put = Request::StorePut {
            to: alice.user_id.clone(),
            envelope: vec![i; 1000],
            expires_days: None,
        };
        let Ok(Response::StorePut { envelope_id, .. }) = as_bob.call(&put).await else {
            panic!("store_put {i}");
        };
        ids.push(envelope_id);
    }
    let signed = record(&bob, &bob.key, 1);
    assert!(
        as_bob
            .call(&Request::Register {
                record: signed.clone()
            })
            .await
            .is_ok()
    );
    // Killed the instant after the last acknowledgement.
    served.kill9();

    let served = dir.serve(&[]);
    let mut as_alice = as_agent(&served, &dir, &alice).await;
    let Ok(Response::StoreFetch { envelopes, more }) =
        as_alice.call(&Request::StoreFetch { limit: 256 }).await
    else {
        panic!("store_fetch");
    };
    assert!(!more);
    assert_eq!(
        envelopes.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        ids,
        "oldest first"
    );
    assert!(envelopes.iter().all(|e| e.from == "bob@example.org"));
    assert_eq!(envelopes[7].data, vec![7u8; 1000]);
    let Ok(Response::Lookup(found)) = as_alice
        .call(&Request::Lookup {
            user_id: bob.user_id.clone(),
        })
        .await
    else {
        panic!("lookup");
    };
    assert_eq!(found.record, Some(signed));
    // Acknowledged envelopes are gone; others' ids delete nothing.
    let ack = Request::StoreAck {
        envelope_ids: ids[..15].to_vec(),
    };
    assert!(matches!(
        as_alice.call(&ack).await,
        Ok(Response::StoreAck { deleted: 15 })
    ));
    assert!(matches!(
        as_bob_ack(&served, &dir, &bob, &ids).await,
        Response::StoreAck { deleted: 0 }
    ));
    let Ok(Response::List { waiting, .. }) = as_alice.call(&Request::List).await else {
        panic!("list");
    };
    assert_eq!(waiting, 5);
    let to_nobody = Request::StorePut {
        to: user("zoe@example.org"),
        envelope: vec![1],
        expires_days: None,
    };
    refused(as_alice.call(&to_nobody).await, ErrorCode::NoSuchUser);
}

async fn as_bob_ack(
    served: &support::Served,
    dir: &TestDir,
    bob: &Agent,
    ids: &[String],
) -> Response {
    let mut client = as_agent(served, dir, bob).await;
    client
        .call(&Request::StoreAck {
            envelope_ids: ids.to_vec(),
        })
        .await
        .expect("ack")
}
