//! Every `file-*` message through `AppMessage`, and what a hostile one gets.

use std::fmt::Write as _;

use super::messages::*;
use super::{FileErrorCode, FileMessage, ListEntry, Offer, OfferedFile, Want, WirePath};
use crate::AppMessage;

fn path(text: &str) -> WirePath {
    WirePath::parse(text).expect("path")
}

fn every_message() -> Vec<FileMessage> {
    let transfer = "7d3c0f1e-0000-4000-8000-00000000000a".to_owned();
    vec![
        FileMessage::List {
            path: WirePath::root(),
            start: 0,
        },
        FileMessage::Listing {
            reference: "req-1".into(),
            path: path("photos"),
            entries: vec![
                ListEntry {
                    name: "2026".into(),
                    folder: true,
                    size: 0,
                    modified: 1_790_000_000,
                },
                ListEntry {
                    name: "a & b (c).jpg".into(),
                    folder: false,
                    size: 1 << 40,
                    modified: -5,
                },
            ],
            next: Some(400),
        },
        FileMessage::Get {
            path: path("photos/2026"),
        },
        FileMessage::Offer(Offer {
            transfer: transfer.clone(),
            reference: Some("req-2".into()),
            files: 2,
            bytes: 12,
            entries: vec![OfferedFile {
                index: 0,
                path: path("2026/x.txt"),
                size: 12,
                modified: 1_790_000_000,
                hash: [0xab; 32],
            }],
            last: false,
        }),
        FileMessage::Accept {
            transfer: transfer.clone(),
        },
        FileMessage::Decline {
            transfer: transfer.clone(),
            reason: "no room".into(),
        },
        FileMessage::Request {
            transfer: transfer.clone(),
            wants: vec![Want {
                stream: 9,
                index: 0,
                ranges: "0-16,64-".parse().expect("ranges"),
            }],
        },
        FileMessage::Progress {
            transfer: transfer.clone(),
            verified: 65_536,
        },
        FileMessage::Done {
            transfer: transfer.clone(),
            index: 0,
        },
        FileMessage::Pause {
            transfer: transfer.clone(),
        },
        FileMessage::Cancel {
            transfer: transfer.clone(),
            reason: "stopped by the person".into(),
        },
        FileMessage::Error {
            reference: transfer,
            index: Some(3),
            code: FileErrorCode::BadData,
            reason: "data does not match the offered file".into(),
        },
    ]
}

#[test]
fn every_file_message_round_trips_as_an_application_message() {
    for (n, message) in every_message().into_iter().enumerate() {
        let app = AppMessage::File {
            id: format!("id-{n}"),
            message,
        };
        assert_eq!(app.required_capabilities(), &["file-transfer"]);
        let xml = app.to_xml();
        assert!(xml.len() < 65_536);
        assert_eq!(AppMessage::parse(&xml).expect("parses"), app);
    }
    for code in FileErrorCode::ALL {
        assert_eq!(FileErrorCode::parse(code.as_str()), Some(code));
    }
}

fn offer_with(file: &str) -> Vec<u8> {
    format!(
        r#"<message xmlns="urn:sixchat:direct" version="2" type="file-offer" id="o1"><transfer>t1</transfer><files>1</files><bytes>1</bytes>{file}<last>true</last></message>"#
    )
    .into_bytes()
}

#[test]
fn an_offer_with_an_unsafe_path_or_a_bad_hash_is_refused_by_id() {
    let hash = "ab".repeat(32);
    for (file, why) in [
        (
            format!(r#"<file index="0" size="1" modified="0" hash="{hash}">../../.bashrc</file>"#),
            "path",
        ),
        (
            format!(r#"<file index="0" size="1" modified="0" hash="{hash}">/etc/passwd</file>"#),
            "absolute",
        ),
        (
            format!(r#"<file index="0" size="1" modified="0" hash="{hash}">a/CON.txt</file>"#),
            "device",
        ),
        (
            r#"<file index="0" size="1" modified="0" hash="abc">x</file>"#.to_owned(),
            "hash",
        ),
        (
            format!(r#"<file index="-1" size="1" modified="0" hash="{hash}">x</file>"#),
            "index",
        ),
        (
            format!(r#"<file index="0" size="big" modified="0" hash="{hash}">x</file>"#),
            "size",
        ),
    ] {
        let err = AppMessage::parse(&offer_with(&file)).expect_err(why);
        assert_eq!(err.id.as_deref(), Some("o1"), "{why}");
        assert!(
            err.reason.starts_with("file-offer: "),
            "{why}: {}",
            err.reason
        );
    }
}

#[test]
fn more_entries_than_a_message_may_hold_are_refused() {
    let hash = "00".repeat(32);
    let mut files = String::new();
    for i in 0..=MAX_ENTRIES_PER_MESSAGE {
        let _ = write!(
            files,
            r#"<file index="{i}" size="0" modified="0" hash="{hash}">f{i}</file>"#
        );
    }
    let err = AppMessage::parse(&offer_with(&files)).expect_err("too many");
    assert!(err.reason.contains("more than"), "{}", err.reason);
}

#[test]
fn peer_text_with_controls_is_refused_and_unknown_file_types_are_named() {
    let cancel = br#"<message xmlns="urn:sixchat:direct" version="2" type="file-cancel" id="c1"><transfer>t</transfer><reason>ok&#x1b;[2J</reason></message>"#;
    assert!(AppMessage::parse(cancel).is_err());
    let unknown =
        br#"<message xmlns="urn:sixchat:direct" version="2" type="file-teleport" id="u1"/>"#;
    let err = AppMessage::parse(unknown).expect_err("unknown");
    assert_eq!(err.id.as_deref(), Some("u1"));
    assert!(err.reason.contains("unknown message type"));
}
