//! Fake connections for the http tests: scripted input delivered `read_chunk`
//! bytes per read, output accepted `write_chunk` bytes per write.
#![allow(dead_code)]

use embedded_io::{ErrorKind, ErrorType, Read, Write};

#[derive(Debug)]
pub struct FakeError(pub ErrorKind);

impl core::fmt::Display for FakeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl std::error::Error for FakeError {}
impl embedded_io::Error for FakeError {
    fn kind(&self) -> ErrorKind {
        self.0
    }
}

pub struct Fake<'a> {
    pub input: &'a [u8],
    pub read_chunk: usize,
    pub write_chunk: usize,
    pub written: Vec<u8>,
    pub reads: usize,
    pub writes: usize,
    /// Fail reads once this many input bytes were delivered.
    pub fail_read_after: Option<usize>,
    /// Fail writes once this many bytes were accepted.
    pub fail_write_after: Option<usize>,
    /// `Ok(0)` from write (a stream that cannot accept bytes).
    pub write_zero: bool,
    /// Offsets no read crosses (where one response ends and the next,
    /// sent only after the next request, begins).
    pub boundaries: Vec<usize>,
    delivered: usize,
}

impl<'a> Fake<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            read_chunk: usize::MAX,
            write_chunk: usize::MAX,
            written: Vec::new(),
            reads: 0,
            writes: 0,
            fail_read_after: None,
            fail_write_after: None,
            write_zero: false,
            boundaries: Vec::new(),
            delivered: 0,
        }
    }
    /// One byte per read and per write.
    pub fn trickle(input: &'a [u8]) -> Self {
        let mut f = Self::new(input);
        f.read_chunk = 1;
        f.write_chunk = 1;
        f
    }
    pub fn remaining(&self) -> &'a [u8] {
        self.input
    }
}

impl ErrorType for Fake<'_> {
    type Error = FakeError;
}

impl Read for Fake<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, FakeError> {
        self.reads += 1;
        if let Some(limit) = self.fail_read_after {
            if self.delivered >= limit {
                return Err(FakeError(ErrorKind::ConnectionReset));
            }
        }
        let mut n = buf.len().min(self.read_chunk).min(self.input.len());
        if let Some(limit) = self.fail_read_after {
            n = n.min(limit - self.delivered);
        }
        if let Some(b) = self.boundaries.iter().find(|b| **b > self.delivered) {
            n = n.min(b - self.delivered);
        }
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        self.delivered += n;
        Ok(n)
    }
}

impl Write for Fake<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, FakeError> {
        self.writes += 1;
        if self.write_zero {
            return Ok(0);
        }
        if let Some(limit) = self.fail_write_after {
            if self.written.len() >= limit {
                return Err(FakeError(ErrorKind::BrokenPipe));
            }
        }
        let n = buf.len().min(self.write_chunk);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), FakeError> {
        Ok(())
    }
}
