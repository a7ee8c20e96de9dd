//! An established session: application messages and bulk data in records,
//! key updates, alerts, and the hold on application data for `new` and
//! `anonymous` peers until the person has compared the short authentication
//! string.

use std::collections::VecDeque;

use crate::AlertCode;
use crate::entropy::Entropy;
use crate::frame::{Frame, KIND_RECORD};
use crate::handshake::core_alert_from_record;
use crate::identity::TrustLevel;
use crate::record::{ContentType, RecordError, RecordReader, RecordWriter};

/// Which side of the handshake this session was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Initiator,
    Responder,
}

/// Something the peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// One application XML message (parse it with [`crate::app::AppMessage::parse`]).
    Application(Vec<u8>),
    /// File data: stream id, offset, bytes.
    Bulk {
        stream_id: u32,
        offset: u64,
        bytes: Vec<u8>,
    },
    /// The peer updated its key; nothing for the application to do.
    KeyUpdated,
    /// The peer closed cleanly (close_notify).
    Closed,
    /// The peer ended the session with a fatal alert.
    PeerAlert(AlertCode),
}

/// The session must end; send `alert` (if any) and close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SessionError {
    pub alert: AlertCode,
    pub reason: String,
}

impl SessionError {
    fn new(alert: AlertCode, reason: impl Into<String>) -> Self {
        Self {
            alert,
            reason: reason.into(),
        }
    }
}

/// Most inbound application messages held while a `new`/`anonymous` peer awaits confirmation.
pub const MAX_HELD_MESSAGES: usize = 256;

/// The record layer of one established connection.
pub struct Session {
    role: Role,
    writer: RecordWriter,
    reader: RecordReader,
    /// The peer's handshake key, for one alert until its first application-key record.
    handshake_reader: Option<RecordReader>,
    entropy: Box<dyn Entropy>,
    capabilities: Vec<String>,
    confirmed: bool,
    held: VecDeque<SessionEvent>,
}

impl Session {
    pub(crate) fn new(
        role: Role,
        writer: RecordWriter,
        reader: RecordReader,
        handshake_reader: Option<RecordReader>,
        entropy: Box<dyn Entropy>,
        capabilities: Vec<String>,
        level: TrustLevel,
    ) -> Self {
        Self {
            role,
            writer,
            reader,
            handshake_reader,
            entropy,
            capabilities,
            confirmed: !level.needs_sas_confirmation(),
            held: VecDeque::new(),
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// True once application data may flow (always for `known` and `verified`).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }

    /// The person compared the code and accepted: application data may flow,
    /// and what the peer sent meanwhile is released.
    pub fn confirm_peer(&mut self) -> Vec<SessionEvent> {
        self.confirmed = true;
        self.held.drain(..).collect()
    }

    /// The person declined: the alert to send before closing.
    pub fn decline(&mut self) -> Vec<u8> {
        self.seal_alert(AlertCode::UserDeclined)
    }

    /// Seals one application XML message (with a key update first when due).
    pub fn seal_application(&mut self, xml: &[u8]) -> Result<Vec<u8>, SessionError> {
        if !self.confirmed {
            return Err(SessionError::new(
                AlertCode::InternalError,
                "the peer's code has not been confirmed",
            ));
        }
        self.seal_with_update(ContentType::Application, xml)
    }

    /// Seals a chunk of file data.
    pub fn seal_bulk(
        &mut self,
        stream_id: u32,
        offset: u64,
        bytes: &[u8],
    ) -> Result<Vec<u8>, SessionError> {
        if !self.confirmed {
            return Err(SessionError::new(
                AlertCode::InternalError,
                "the peer's code has not been confirmed",
            ));
        }
        let mut ids = [0u8; 12];
        ids[..4].copy_from_slice(&stream_id.to_be_bytes());
        ids[4..].copy_from_slice(&offset.to_be_bytes());
        self.seal_parts_with_update(ContentType::Bulk, &[&ids, bytes])
    }

    /// Updates the write key now: returns the key update record.
    pub fn update_key(&mut self) -> Result<Vec<u8>, SessionError> {
        let out = self.seal(ContentType::KeyUpdate, &[])?;
        self.writer.update_key();
        Ok(out)
    }

    /// Seals an alert (close_notify to end cleanly).
    pub fn seal_alert(&mut self, alert: AlertCode) -> Vec<u8> {
        self.seal(ContentType::Alert, &[alert.level(), alert.code()])
            .unwrap_or_default()
    }

    fn seal_with_update(
        &mut self,
        content_type: ContentType,
        content: &[u8],
    ) -> Result<Vec<u8>, SessionError> {
        self.seal_parts_with_update(content_type, &[content])
    }

    /// Seals the concatenation of `parts` (a key update record first when
    /// due), copying each part once, straight into the record.
    fn seal_parts_with_update(
        &mut self,
        content_type: ContentType,
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, SessionError> {
        if !self.writer.needs_key_update() {
            return self.seal_parts(content_type, parts);
        }
        let mut out = self.update_key()?;
        out.extend(self.seal_parts(content_type, parts)?);
        Ok(out)
    }

    fn seal(&mut self, content_type: ContentType, content: &[u8]) -> Result<Vec<u8>, SessionError> {
        self.seal_parts(content_type, &[content])
    }

    fn seal_parts(
        &mut self,
        content_type: ContentType,
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, SessionError> {
        self.writer
            .seal_parts(content_type, parts, self.entropy.as_mut())
            .map_err(|e| SessionError::new(AlertCode::InternalError, e.to_string()))
    }

    /// Handles one frame from the peer. `Ok(None)` when the event is being held
    /// until the peer is confirmed.
    pub fn handle(&mut self, frame: &Frame) -> Result<Option<SessionEvent>, SessionError> {
        if frame.kind != KIND_RECORD {
            return Err(SessionError::new(
                AlertCode::UnexpectedMessage,
                "plain frame after the handshake",
            ));
        }
        let (content_type, content) = match self.reader.open(&frame.body) {
            Ok(opened) => {
                self.handshake_reader = None;
                opened
            }
            Err(err) => return self.try_handshake_alert(&frame.body, err),
        };
        let event = match content_type {
            ContentType::Application => SessionEvent::Application(content),
            ContentType::Bulk => {
                if !self.has_capability("file-transfer") {
                    return Err(SessionError::new(
                        AlertCode::UnexpectedMessage,
                        "file data without file-transfer",
                    ));
                }
                let (Some(stream), Some(offset)) = (content.get(..4), content.get(4..12)) else {
                    return Err(SessionError::new(
                        AlertCode::DecodeError,
                        "short bulk record",
                    ));
                };
                SessionEvent::Bulk {
                    stream_id: u32::from_be_bytes(stream.try_into().unwrap_or_default()),
                    offset: u64::from_be_bytes(offset.try_into().unwrap_or_default()),
                    bytes: content[12..].to_vec(),
                }
            }
            ContentType::KeyUpdate => {
                if !content.is_empty() {
                    return Err(SessionError::new(
                        AlertCode::DecodeError,
                        "key update with content",
                    ));
                }
                self.reader.update_key();
                SessionEvent::KeyUpdated
            }
            ContentType::Alert => match core_alert_from_record(&content) {
                AlertCode::CloseNotify => SessionEvent::Closed,
                alert => SessionEvent::PeerAlert(alert),
            },
            ContentType::Handshake => {
                return Err(SessionError::new(
                    AlertCode::UnexpectedMessage,
                    "handshake message after Session_Ready",
                ));
            }
        };
        if !self.confirmed
            && matches!(
                event,
                SessionEvent::Application(_) | SessionEvent::Bulk { .. }
            )
        {
            if self.held.len() >= MAX_HELD_MESSAGES {
                return Err(SessionError::new(
                    AlertCode::UnexpectedMessage,
                    "too much data before the code was confirmed",
                ));
            }
            self.held.push_back(event);
            return Ok(None);
        }
        Ok(Some(event))
    }

    fn try_handshake_alert(
        &mut self,
        body: &[u8],
        err: RecordError,
    ) -> Result<Option<SessionEvent>, SessionError> {
        if let Some(reader) = self.handshake_reader.as_mut() {
            if let Ok((ContentType::Alert, content)) = reader.open(body) {
                return Ok(Some(SessionEvent::PeerAlert(core_alert_from_record(
                    &content,
                ))));
            }
        }
        let alert = if err == RecordError::UnknownContentType {
            AlertCode::UnexpectedMessage
        } else {
            AlertCode::BadRecordMac
        };
        Err(SessionError::new(alert, err.to_string()))
    }
}
