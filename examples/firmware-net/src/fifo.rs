//! The Stellaris Ethernet FIFO's framing, apart from the registers (the
//! host test includes this file and checks it): how a received record's
//! first word gives its length, where each word's bytes go, and the words
//! that send a frame.
//!
//! Receive: a record is a 16-bit little-endian length (the frame plus the
//! 2 length bytes plus the 4-byte FCS), the frame, the FCS, read a 32-bit
//! word at a time. Transmit: the first word holds the payload length (the
//! frame minus its 14-byte header) and the frame's first two bytes, the
//! next words the rest of the frame, the last one padded with zeros.

/// The Ethernet header: destination, source, type.
pub const HEADER: usize = 14;
/// The largest frame without its FCS.
pub const MAX_FRAME: usize = 1514;
/// What the FIFO adds around a received frame: the length, the FCS.
pub const RX_OVERHEAD: usize = 2 + 4;
/// The FIFO's size: no record is longer.
pub const FIFO: usize = 2048;

/// What a received record's first word says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxRecord {
    /// Words to read to drain the record (its first included), whatever
    /// its length says: at least 1, at most the FIFO's.
    pub words: usize,
    /// The frame's length, or `None` when the record's length is
    /// impossible (shorter than a header, longer than [`MAX_FRAME`]): the
    /// record is drained and dropped.
    pub frame_len: Option<usize>,
}

/// Reads a record's first word.
pub fn rx_record(first: u32) -> RxRecord {
    let record = (first & 0xffff) as usize;
    let frame_len = record
        .checked_sub(RX_OVERHEAD)
        .filter(|len| (HEADER..=MAX_FRAME).contains(len));
    RxRecord {
        words: record.clamp(4, FIFO).div_ceil(4),
        frame_len,
    }
}

/// Puts the frame bytes of the record's word `index` (from 0) into
/// `frame`; bytes outside `frame` (the length, the FCS, padding, a frame
/// longer than `frame`) are skipped.
pub fn unpack(index: usize, word: u32, frame: &mut [u8]) {
    for (j, b) in word.to_le_bytes().into_iter().enumerate() {
        let at = (index * 4 + j).checked_sub(2);
        if let Some(slot) = at.and_then(|at| frame.get_mut(at)) {
            *slot = b;
        }
    }
}

/// The words that send `frame` (header included, FCS excluded), or `None`
/// when it is shorter than a header or longer than [`MAX_FRAME`].
pub fn tx_words(frame: &[u8]) -> Option<TxWords<'_>> {
    if !(HEADER..=MAX_FRAME).contains(&frame.len()) {
        return None;
    }
    Some(TxWords { frame, next: 0 })
}

/// The words of one frame to send, in order.
#[derive(Debug, Clone)]
pub struct TxWords<'a> {
    frame: &'a [u8],
    next: usize,
}

impl Iterator for TxWords<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let byte = |i: usize| self.frame.get(i).copied().unwrap_or(0);
        let word = if self.next == 0 {
            // Fits: the frame is at most MAX_FRAME long.
            let [l0, l1] = ((self.frame.len() - HEADER) as u16).to_le_bytes();
            [l0, l1, byte(0), byte(1)]
        } else {
            let at = self.next * 4 - 2;
            if at >= self.frame.len() {
                return None;
            }
            [byte(at), byte(at + 1), byte(at + 2), byte(at + 3)]
        };
        self.next += 1;
        Some(u32::from_le_bytes(word))
    }
}
