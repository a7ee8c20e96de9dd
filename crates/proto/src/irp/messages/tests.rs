use super::*;
use crate::irp::Header;

fn header() -> Header {
    Header::new(Some("alice@example.org"), Some("example.org"), "r1")
}

fn alice() -> UserId {
    UserId::parse("alice@example.org").unwrap()
}

#[test]
fn every_request_round_trips() {
    let record = SignedRecord {
        bytes: b"<address_record/>".to_vec(),
        signature: vec![9; 256],
    };
    let requests = vec![
        Request::Enroll {
            user_id: alice(),
            secret: "s3cret".into(),
            csr_der: vec![1, 2, 3],
            encryption_csr_der: Some(vec![7]),
        },
        Request::List,
        Request::Issue {
            csr_der: vec![4],
            encryption_csr_der: None,
        },
        Request::Issue {
            csr_der: vec![4],
            encryption_csr_der: Some(vec![5]),
        },
        Request::Revoke {
            ski_hex: "abcd".into(),
            reason: "keyCompromise".into(),
        },
        Request::Register { record },
        Request::Lookup { user_id: alice() },
        Request::Crl,
        Request::BackupPut {
            pkcs12: vec![5; 40],
            recovery_secret: "a <b> & c".into(),
        },
        Request::BackupGet {
            user_id: alice(),
            recovery_secret: "x".into(),
        },
        Request::StorePut {
            to: alice(),
            envelope: vec![7; 100],
            expires_days: Some(3),
        },
        Request::StoreFetch { limit: 10 },
        Request::StoreAck {
            envelope_ids: vec!["e1".into(), "e2".into()],
        },
    ];
    for request in requests {
        let bytes = request.to_xml(&header());
        let (parsed_header, parsed) = Request::parse(&bytes).unwrap();
        assert_eq!(parsed_header, header());
        assert_eq!(parsed, request, "{}", String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn every_response_round_trips() {
    let record = SignedRecord {
        bytes: b"r".to_vec(),
        signature: vec![1],
    };
    let responses = vec![
        Response::Enroll {
            chain: vec![vec![1], vec![2]],
            root_der: vec![3],
            encryption_certificate: Some(vec![4]),
        },
        Response::List {
            certificates: vec![CertStatus {
                usage: CertUsage::Encryption,
                serial_hex: "0a".into(),
                ski_hex: "bb".into(),
                not_before_unix: 1,
                not_after_unix: 2,
                state: CertState::Revoked,
                der: vec![8],
            }],
            record: Some(record.clone()),
            backup_stored: true,
            waiting: 3,
        },
        Response::Issue {
            chain: vec![vec![1]],
            encryption_certificate: None,
        },
        Response::Revoke {
            serial_hex: "0a".into(),
        },
        Response::Register {
            sequence: 4,
            expires_unix: 5,
        },
        Response::Lookup(Box::new(LookupResult {
            user_id: alice(),
            name: "Alice".into(),
            email: Some("alice@mail.example".into()),
            chain: vec![vec![1], vec![2]],
            state: CertState::Valid,
            encryption_certificate: Some(vec![3]),
            record: Some(record),
            last_seen_unix: Some(6),
        })),
        Response::Crl {
            crl_der: vec![1],
            next_update_unix: 7,
        },
        Response::BackupPut,
        Response::BackupGet { pkcs12: vec![2] },
        Response::StorePut {
            envelope_id: "e1".into(),
            expires_unix: 8,
        },
        Response::StoreFetch {
            envelopes: vec![StoredEnvelope {
                id: "e1".into(),
                from: "bob@example.org".into(),
                received_unix: 9,
                data: vec![0; 3],
            }],
            more: false,
        },
        Response::StoreAck { deleted: 2 },
        Response::Error(ErrorResponse {
            code: ErrorCode::RateLimited,
            description: "slow down".into(),
            retry_after_secs: Some(30),
        }),
    ];
    for response in responses {
        let bytes = response.to_xml(&header().reply());
        let (_, parsed) = Response::parse(&bytes).unwrap();
        assert_eq!(parsed, response, "{}", String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn error_response_has_the_shape_irp_md_gives() {
    let bytes = Response::Error(ErrorResponse::new(ErrorCode::NoSuchUser, "no such user"))
        .to_xml(&Header::new(Some("example.org"), None, "q"));
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains(
            r#"<status>1201</status><description xml:lang="en">no such user</description>"#
        )
    );
}

#[test]
fn bad_requests_name_their_fault() {
    let unknown = br#"<message xmlns="urn:sixchat:irp" version="1" type="launch" id="1"/>"#;
    assert_eq!(
        Request::parse(unknown).unwrap_err().code(),
        ErrorCode::UnknownRequest
    );
    let bad_reason = Request::Revoke {
        ski_hex: "ab".into(),
        reason: "because".into(),
    }
    .to_xml(&header());
    assert!(Request::parse(&bad_reason).is_err());
    let bad_base64 = br#"<message xmlns="urn:sixchat:irp" version="1" type="issue" id="1"><csr>!!</csr></message>"#;
    assert!(matches!(
        Request::parse(bad_base64),
        Err(IrpError::Malformed { .. })
    ));
}

#[test]
fn a_refused_request_comes_with_the_header_to_answer_it_under() {
    let header_of = |bytes: &[u8]| Request::parse_answerable(bytes).unwrap_err().0;
    assert_eq!(header_of(b"garbage").id, "0");
    let version =
        br#"<message xmlns="urn:sixchat:irp" version="2" type="crl" id="v1" sender="a@b.org"/>"#;
    let (answer_to, error) = Request::parse_answerable(version).unwrap_err();
    assert_eq!((answer_to.id.as_str(), answer_to.sender), ("v1", None));
    assert_eq!(error.code(), ErrorCode::Version);
    let long_id = format!(
        r#"<message xmlns="urn:sixchat:irp" version="1" type="crl" id="{}"/>"#,
        "x".repeat(65)
    );
    assert_eq!(header_of(long_id.as_bytes()).id, "0");
    let bad_body = br#"<message xmlns="urn:sixchat:irp" version="1" sender="alice@example.org" recipient="example.org" type="lookup" id="r1"><user_id>nope</user_id></message>"#;
    let (answer_to, error) = Request::parse_answerable(bad_body).unwrap_err();
    assert_eq!(answer_to, header());
    assert!(matches!(error, IrpError::Malformed { .. }));
    let good = Request::Crl.to_xml(&header());
    assert_eq!(
        Request::parse_answerable(&good).unwrap(),
        (header(), Request::Crl)
    );
}
