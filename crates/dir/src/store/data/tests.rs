use super::super::testing::{NOW, store};
use super::super::{Store, users};
use super::*;

const ALICE: &str = "alice@example.org";

fn with_alice() -> (tempfile::TempDir, Store) {
    let (dir, mut store) = store();
    invite(&mut store, ALICE, "Alice", 1);
    (dir, store)
}

/// Makes `user_id` a user of the store, with an invite whose secret hash
/// is all `secret` bytes.
fn invite(store: &mut Store, user_id: &str, name: &str, secret: u8) {
    store
        .write(|tx| users::create_invite(tx, user_id, name, None, &[secret; 32], NOW + 9, NOW))
        .unwrap();
}

fn record(sequence: u64) -> RecordRow {
    RecordRow {
        sequence,
        expires_unix: NOW + 60,
        bytes: vec![u8::try_from(sequence % 256).unwrap()],
        signature: vec![0],
    }
}

#[test]
fn a_record_with_an_equal_or_lower_sequence_is_stale() {
    let (_dir, mut store) = with_alice();
    let mut put = |r: RecordRow| store.write(|tx| put_record(tx, ALICE, &r)).unwrap();
    assert_eq!(put(record(5)), RecordOutcome::Stored);
    assert_eq!(put(record(5)), RecordOutcome::Stale { stored_sequence: 5 });
    assert_eq!(put(record(4)), RecordOutcome::Stale { stored_sequence: 5 });
    assert_eq!(put(record(6)), RecordOutcome::Stored);
    assert_eq!(
        record_of(store.conn(), ALICE).unwrap().unwrap().bytes,
        vec![6]
    );
}

/// A quota with room for everything but what a test looks at.
fn roomy() -> Quota {
    Quota {
        max_envelopes: 1000,
        max_bytes: 1000,
        share_divisor: 1,
        sender_envelopes: 1000,
        sender_bytes: 1000,
        total_bytes: 1000,
    }
}

fn put(
    store: &mut Store,
    quota: Quota,
    (id, from, to): (&str, &str, &str),
    size: usize,
    expires: i64,
) -> PutOutcome {
    let data = vec![0u8; size];
    let envelope = NewEnvelope {
        id,
        to_user: to,
        from_user: from,
        data: &data,
        received_unix: NOW,
        expires_unix: expires,
    };
    store
        .write(|tx| put_envelope(tx, &envelope, quota))
        .unwrap()
}

#[test]
fn the_quota_counts_envelopes_and_bytes_of_unexpired_mail_only() {
    let (_dir, mut store) = with_alice();
    let quota = Quota {
        max_envelopes: 2,
        max_bytes: 10,
        ..roomy()
    };
    let mut put = |id: &str, size: usize, expires: i64| {
        put(
            &mut store,
            quota,
            (id, "bob@example.org", ALICE),
            size,
            expires,
        )
    };
    assert_eq!(
        put("old", 10, NOW),
        PutOutcome::Stored,
        "expires now: does not count later"
    );
    assert_eq!(put("a", 6, NOW + 9), PutOutcome::Stored);
    assert_eq!(
        put("b", 5, NOW + 9),
        PutOutcome::RecipientFull,
        "11 bytes is over 10"
    );
    assert_eq!(put("c", 4, NOW + 9), PutOutcome::Stored);
    assert_eq!(
        put("d", 0, NOW + 9),
        PutOutcome::RecipientFull,
        "a third envelope is over 2"
    );
    assert_eq!(waiting(store.conn(), ALICE, NOW).unwrap(), 2);
    assert_eq!(store.write(|tx| purge_expired(tx, NOW)).unwrap(), 1);
}

#[test]
fn one_sender_fills_only_its_share_of_a_recipient() {
    let (_dir, mut store) = with_alice();
    let quota = Quota {
        max_envelopes: 8,
        max_bytes: 400,
        share_divisor: 4,
        ..roomy()
    };
    assert_eq!((quota.share_envelopes(), quota.share_bytes()), (2, 100));
    let x = "x@example.org";
    let z = "z@example.org";
    assert_eq!(
        put(&mut store, quota, ("x1", x, ALICE), 1, NOW + 9),
        PutOutcome::Stored
    );
    assert_eq!(
        put(&mut store, quota, ("x2", x, ALICE), 1, NOW + 9),
        PutOutcome::Stored
    );
    assert_eq!(
        put(&mut store, quota, ("x3", x, ALICE), 1, NOW + 9),
        PutOutcome::ShareFull,
        "two envelopes are a quarter of eight"
    );
    assert_eq!(
        put(&mut store, quota, ("z1", z, ALICE), 100, NOW + 9),
        PutOutcome::Stored
    );
    assert_eq!(
        put(&mut store, quota, ("z2", z, ALICE), 1, NOW + 9),
        PutOutcome::ShareFull,
        "101 bytes is over a quarter of 400"
    );
    invite(&mut store, "carol@example.org", "Carol", 2);
    assert_eq!(
        put(
            &mut store,
            quota,
            ("x4", x, "carol@example.org"),
            1,
            NOW + 9
        ),
        PutOutcome::Stored,
        "a share is per recipient"
    );
}

#[test]
fn a_sender_has_a_total_across_recipients() {
    let (_dir, mut store) = with_alice();
    invite(&mut store, "carol@example.org", "Carol", 2);
    let quota = Quota {
        sender_envelopes: 3,
        sender_bytes: 50,
        ..roomy()
    };
    let x = "x@example.org";
    assert_eq!(
        put(&mut store, quota, ("1", x, ALICE), 1, NOW + 9),
        PutOutcome::Stored
    );
    assert_eq!(
        put(&mut store, quota, ("2", x, "carol@example.org"), 1, NOW + 9),
        PutOutcome::Stored
    );
    assert_eq!(
        put(&mut store, quota, ("3", x, ALICE), 1, NOW + 9),
        PutOutcome::Stored
    );
    assert_eq!(
        put(&mut store, quota, ("4", x, "carol@example.org"), 1, NOW + 9),
        PutOutcome::SenderFull
    );
    assert_eq!(
        put(
            &mut store,
            quota,
            ("5", "z@example.org", ALICE),
            50,
            NOW + 9
        ),
        PutOutcome::Stored,
        "another sender is not held back"
    );
    assert_eq!(
        put(&mut store, quota, ("6", "z@example.org", ALICE), 1, NOW + 9),
        PutOutcome::SenderFull,
        "51 bytes is over 50"
    );
}

#[test]
fn the_whole_store_has_a_disk_budget_kept_by_triggers() {
    let (_dir, mut store) = with_alice();
    let quota = Quota {
        total_bytes: 100,
        ..roomy()
    };
    assert_eq!(total_bytes(store.conn()).unwrap(), 0);
    assert_eq!(
        put(&mut store, quota, ("a", "x@example.org", ALICE), 60, NOW),
        PutOutcome::Stored
    );
    assert_eq!(
        put(
            &mut store,
            quota,
            ("b", "y@example.org", ALICE),
            40,
            NOW + 9
        ),
        PutOutcome::Stored
    );
    assert_eq!(total_bytes(store.conn()).unwrap(), 100);
    // Full; but "a" has expired: it is purged to make room.
    assert_eq!(
        put(
            &mut store,
            quota,
            ("c", "z@example.org", ALICE),
            60,
            NOW + 9
        ),
        PutOutcome::Stored
    );
    assert_eq!(total_bytes(store.conn()).unwrap(), 100);
    assert_eq!(
        put(&mut store, quota, ("d", "w@example.org", ALICE), 1, NOW + 9),
        PutOutcome::StoreFull
    );
    let ids = vec!["b".to_owned()];
    assert_eq!(store.write(|tx| ack_envelopes(tx, ALICE, &ids)).unwrap(), 1);
    assert_eq!(
        total_bytes(store.conn()).unwrap(),
        60,
        "a delete gives room back"
    );
    assert_eq!(
        put(
            &mut store,
            quota,
            ("d", "w@example.org", ALICE),
            40,
            NOW + 9
        ),
        PutOutcome::Stored
    );
}

#[test]
fn fetch_pages_oldest_first_and_ack_deletes_only_ones_own() {
    let (_dir, mut store) = with_alice();
    for (i, id) in ["e1", "e2", "e3"].iter().enumerate() {
        let data = vec![7u8; 4];
        let envelope = NewEnvelope {
            id,
            to_user: ALICE,
            from_user: "bob@example.org",
            data: &data,
            received_unix: NOW + i64::try_from(i).unwrap(),
            expires_unix: NOW + 99,
        };
        assert_eq!(
            store
                .write(|tx| put_envelope(tx, &envelope, Quota::default()))
                .unwrap(),
            PutOutcome::Stored
        );
    }
    let (page, more) = fetch_envelopes(store.conn(), ALICE, 2, u64::MAX, NOW).unwrap();
    assert_eq!(
        page.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["e1", "e2"]
    );
    assert!(more);
    let (page, more) = fetch_envelopes(store.conn(), ALICE, 10, 5, NOW).unwrap();
    assert_eq!(page.len(), 1, "the byte budget cuts the page");
    assert!(more);
    assert_eq!(page[0].from, "bob@example.org");
    assert_eq!(page[0].data, vec![7u8; 4]);
    let ids = vec!["e1".to_owned(), "e2".to_owned(), "nope".to_owned()];
    assert_eq!(
        store
            .write(|tx| ack_envelopes(tx, "bob@example.org", &ids))
            .unwrap(),
        0,
        "bob cannot delete alice's mail"
    );
    assert_eq!(store.write(|tx| ack_envelopes(tx, ALICE, &ids)).unwrap(), 2);
    let (page, more) = fetch_envelopes(store.conn(), ALICE, 10, u64::MAX, NOW).unwrap();
    assert_eq!(page.len(), 1);
    assert!(!more);
    assert!(
        fetch_envelopes(store.conn(), ALICE, 10, u64::MAX, NOW + 99)
            .unwrap()
            .0
            .is_empty()
    );
}

#[test]
fn a_backup_is_replaced_by_the_next_one() {
    let (_dir, mut store) = with_alice();
    assert!(!has_backup(store.conn(), ALICE).unwrap());
    for byte in [1u8, 2] {
        let backup = BackupRow {
            pkcs12: vec![byte],
            salt: vec![0; 16],
            verifier: vec![0; 32],
            iterations: 600_000,
        };
        store
            .write(|tx| put_backup(tx, ALICE, &backup, NOW))
            .unwrap();
    }
    assert_eq!(
        backup_of(store.conn(), ALICE).unwrap().unwrap().pkcs12,
        vec![2]
    );
    assert!(has_backup(store.conn(), ALICE).unwrap());
}
