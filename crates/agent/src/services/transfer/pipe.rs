//! Byte pipes between the session driver (async) and the blocking threads
//! that encode and decode verified streams: bounded, so nothing is read
//! from disk faster than the socket drains and nothing is taken from the
//! socket faster than the disk writes (files.md, "a bounded window per
//! stream").

use std::io::{self, Read, Write};

use tokio::sync::mpsc;

/// Most file bytes one bulk record carries (record content is at most
/// 65 536 bytes, 12 of them the stream id and offset).
pub const BULK_BYTES: usize = 65_536 - 12;
/// Records in flight per stream, each direction: 32 × 64 KiB = 2 MiB.
pub const WINDOW_RECORDS: usize = 32;

/// The writing end of an encoder: cuts the encoded stream into record-sized
/// pieces and hands each to the driver, waiting while the window is full.
pub struct ChunkWriter {
    buffer: Vec<u8>,
    out: mpsc::Sender<Vec<u8>>,
}

impl ChunkWriter {
    pub fn new(out: mpsc::Sender<Vec<u8>>) -> Self {
        Self {
            buffer: Vec::with_capacity(BULK_BYTES),
            out,
        }
    }

    fn ship(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(BULK_BYTES));
        self.out
            .blocking_send(full)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the session ended"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = BULK_BYTES - self.buffer.len();
        let taken = room.min(bytes.len());
        self.buffer.extend_from_slice(&bytes[..taken]);
        if self.buffer.len() == BULK_BYTES {
            self.ship()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ship()
    }
}

/// The reading end of a decoder: the bulk records of one stream, in order.
pub struct ChunkReader {
    current: Vec<u8>,
    at: usize,
    input: mpsc::Receiver<Vec<u8>>,
}

impl ChunkReader {
    pub fn new(input: mpsc::Receiver<Vec<u8>>) -> Self {
        Self {
            current: Vec::new(),
            at: 0,
            input,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            match self.input.blocking_recv() {
                Some(next) => {
                    self.current = next;
                    self.at = 0;
                }
                // The stream (or the session) ended: end of input.
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
