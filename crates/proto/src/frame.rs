//! Framing: `kind (1 byte) ‖ length (u32 BE) ‖ body` (protocol.md, "Framing").

/// A plain XML message (messages 1-4, or a plain Alert).
pub const KIND_PLAIN: u8 = 0x01;
/// An encrypted record.
pub const KIND_RECORD: u8 = 0x17;
/// Largest plain body.
pub const MAX_PLAIN_BYTES: usize = 64 * 1024;
/// Largest record body.
pub const MAX_RECORD_BYTES: usize = 65_536 + 256;
/// Bytes of the frame header.
pub const HEADER_BYTES: usize = 5;

/// A complete frame taken off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub body: Vec<u8>,
}

/// The wire was not framed as the protocol says; ends the connection with `decode_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame kind 0x{0:02x}")]
    UnknownKind(u8),
    #[error("frame of {size_bytes} bytes is over the {limit_bytes}-byte limit")]
    TooLarge {
        size_bytes: usize,
        limit_bytes: usize,
    },
}

/// Writes a frame header for `kind` and a body of `len` bytes.
pub fn header(kind: u8, len: usize) -> [u8; HEADER_BYTES] {
    let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    [kind, len[0], len[1], len[2], len[3]]
}

/// Encodes a whole frame.
pub fn encode(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&header(kind, body.len()));
    out.extend_from_slice(body);
    out
}

/// Collects bytes as they arrive and yields whole frames, checking each header
/// as soon as it is complete so an oversized frame is refused before its body
/// is buffered.
#[derive(Debug, Default)]
pub struct FrameReader {
    buffer: Vec<u8>,
}

impl FrameReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the transport.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes held that do not yet make a frame.
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(&[kind, a, b, c, d]) = self.buffer.get(..HEADER_BYTES) else {
            return Ok(None);
        };
        let limit_bytes = match kind {
            KIND_PLAIN => MAX_PLAIN_BYTES,
            KIND_RECORD => MAX_RECORD_BYTES,
            other => return Err(FrameError::UnknownKind(other)),
        };
        let size_bytes = u32::from_be_bytes([a, b, c, d]) as usize;
        if size_bytes > limit_bytes {
            return Err(FrameError::TooLarge {
                size_bytes,
                limit_bytes,
            });
        }
        if self.buffer.len() < HEADER_BYTES + size_bytes {
            return Ok(None);
        }
        let body = self.buffer[HEADER_BYTES..HEADER_BYTES + size_bytes].to_vec();
        self.buffer.drain(..HEADER_BYTES + size_bytes);
        Ok(Some(Frame { kind, body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_arrive_in_pieces() {
        let mut wire = encode(KIND_PLAIN, b"hello");
        wire.extend(encode(KIND_RECORD, &[7; 300]));
        let mut reader = FrameReader::new();
        let mut frames = Vec::new();
        for byte in wire {
            reader.push(&[byte]);
            while let Some(frame) = reader.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0],
            Frame {
                kind: KIND_PLAIN,
                body: b"hello".to_vec()
            }
        );
        assert_eq!(frames[1].body.len(), 300);
        assert_eq!(reader.buffered_bytes(), 0);
    }

    #[test]
    fn oversized_and_unknown_frames_are_refused_from_the_header() {
        let mut reader = FrameReader::new();
        reader.push(&header(KIND_PLAIN, MAX_PLAIN_BYTES + 1));
        assert!(matches!(
            reader.next_frame(),
            Err(FrameError::TooLarge { .. })
        ));
        let mut reader = FrameReader::new();
        reader.push(&header(KIND_RECORD, MAX_RECORD_BYTES + 1));
        assert!(matches!(
            reader.next_frame(),
            Err(FrameError::TooLarge { .. })
        ));
        let mut reader = FrameReader::new();
        reader.push(&[0x42, 0, 0, 0, 0]);
        assert_eq!(reader.next_frame(), Err(FrameError::UnknownKind(0x42)));
    }
}
