//! Alerts (protocol.md, "Element names" and the alert code table).

use std::fmt;

/// An alert code. `close_notify` is a warning (level 1); every other one here is fatal (level 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertCode {
    CloseNotify,
    UnexpectedMessage,
    BadRecordMac,
    HandshakeFailure,
    BadCertificate,
    CertificateRevoked,
    CertificateExpired,
    UnknownCa,
    DecodeError,
    InsufficientSecurity,
    InternalError,
    UserIdMismatch,
    UnknownRecipient,
    UserDeclined,
}

const ALL: [AlertCode; 14] = [
    AlertCode::CloseNotify,
    AlertCode::UnexpectedMessage,
    AlertCode::BadRecordMac,
    AlertCode::HandshakeFailure,
    AlertCode::BadCertificate,
    AlertCode::CertificateRevoked,
    AlertCode::CertificateExpired,
    AlertCode::UnknownCa,
    AlertCode::DecodeError,
    AlertCode::InsufficientSecurity,
    AlertCode::InternalError,
    AlertCode::UserIdMismatch,
    AlertCode::UnknownRecipient,
    AlertCode::UserDeclined,
];

impl AlertCode {
    pub fn code(self) -> u8 {
        match self {
            Self::CloseNotify => 0,
            Self::UnexpectedMessage => 10,
            Self::BadRecordMac => 20,
            Self::HandshakeFailure => 40,
            Self::BadCertificate => 42,
            Self::CertificateRevoked => 44,
            Self::CertificateExpired => 45,
            Self::UnknownCa => 48,
            Self::DecodeError => 50,
            Self::InsufficientSecurity => 71,
            Self::InternalError => 80,
            Self::UserIdMismatch => 120,
            Self::UnknownRecipient => 121,
            Self::UserDeclined => 122,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::CloseNotify => "close_notify",
            Self::UnexpectedMessage => "unexpected_message",
            Self::BadRecordMac => "bad_record_mac",
            Self::HandshakeFailure => "handshake_failure",
            Self::BadCertificate => "bad_certificate",
            Self::CertificateRevoked => "certificate_revoked",
            Self::CertificateExpired => "certificate_expired",
            Self::UnknownCa => "unknown_ca",
            Self::DecodeError => "decode_error",
            Self::InsufficientSecurity => "insufficient_security",
            Self::InternalError => "internal_error",
            Self::UserIdMismatch => "user_id_mismatch",
            Self::UnknownRecipient => "unknown_recipient",
            Self::UserDeclined => "user_declined",
        }
    }

    /// 1 (warning) for close_notify, 2 (fatal) for the rest.
    pub fn level(self) -> u8 {
        if self == Self::CloseNotify { 1 } else { 2 }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        ALL.into_iter().find(|a| a.code() == code)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|a| a.name() == name)
    }

    /// A sentence for a person reading why a session ended.
    pub fn describe(self) -> &'static str {
        match self {
            Self::CloseNotify => "the peer closed the session",
            Self::UnexpectedMessage => "unexpected message",
            Self::BadRecordMac => "a record failed its integrity check",
            Self::HandshakeFailure => "handshake failure",
            Self::BadCertificate => "bad certificate",
            Self::CertificateRevoked => "certificate revoked",
            Self::CertificateExpired => "certificate expired",
            Self::UnknownCa => "untrusted certificate",
            Self::DecodeError => "malformed message",
            Self::InsufficientSecurity => "no acceptable algorithms in common",
            Self::InternalError => "the peer had an internal error",
            Self::UserIdMismatch => "UserID mismatch",
            Self::UnknownRecipient => "the peer is not the UserID that was dialled",
            Self::UserDeclined => "the peer's user declined the session",
        }
    }
}

impl fmt::Display for AlertCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for a in ALL {
            assert_eq!(AlertCode::from_code(a.code()), Some(a));
            assert_eq!(AlertCode::from_name(a.name()), Some(a));
        }
        assert_eq!(AlertCode::from_code(99), None);
        assert_eq!(AlertCode::CloseNotify.level(), 1);
        assert_eq!(AlertCode::UserDeclined.level(), 2);
    }
}
