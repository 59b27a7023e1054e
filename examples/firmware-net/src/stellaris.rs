//! The Stellaris (LM3S6965) Ethernet controller as a `smoltcp`
//! [`Device`]: a register FIFO, no DMA, polled (no interrupts).
//!
//! Receive: [`Enet::receive`] drains a whole record from the FIFO into
//! the driver's buffer before handing the frame to `smoltcp`, so a record
//! with an impossible length is drained and dropped (counted in
//! [`Enet::dropped`]), never indexed out of bounds. Transmit: the frame's
//! words go into the FIFO, then writing `TR` sends it; the MAC pads short
//! frames and appends the FCS. The framing is in [`fifo`].
//!
//! Registers as in the LM3S6965 data sheet (section 15) and qemu's
//! `hw/net/stellaris_enet.c`.

use core::ptr::{read_volatile, write_volatile};

use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

use crate::fifo;

const BASE: usize = 0x4004_8000;
/// Raw interrupt status / acknowledge.
const RIS: usize = 0x00;
/// Receive control.
const RCTL: usize = 0x08;
/// Transmit control.
const TCTL: usize = 0x0c;
/// The FIFO's data register.
const DATA: usize = 0x10;
/// Individual address (MAC) bytes 0..4 and 4..6.
const IA0: usize = 0x14;
const IA1: usize = 0x18;
/// Number of frames in the receive FIFO.
const NP: usize = 0x34;
/// Transmit request.
const TR: usize = 0x38;

const RCTL_RXEN: u32 = 1 << 0;
const RCTL_RSTFIFO: u32 = 1 << 4;
const TCTL_TXEN: u32 = 1 << 0;
const TCTL_PADEN: u32 = 1 << 1;
const TCTL_CRC: u32 = 1 << 2;
const TR_NEWTX: u32 = 1 << 0;

pub use crate::fifo::MAX_FRAME;
/// How often to look at `TR` for the previous frame to leave.
const TX_SPINS: u32 = 100_000;

fn read(offset: usize) -> u32 {
    // SAFETY: an aligned MMIO register of the Ethernet controller.
    unsafe { read_volatile((BASE + offset) as *const u32) }
}

fn write(offset: usize, value: u32) {
    // SAFETY: an aligned MMIO register of the Ethernet controller.
    unsafe { write_volatile((BASE + offset) as *mut u32, value) }
}

/// The controller and its two frame buffers (3 KiB: put it in a static).
pub struct Enet {
    rx: [u8; MAX_FRAME],
    rx_len: usize,
    dropped: u32,
    tx: TxBuf,
}

/// The transmit side: a frame buffer and a count of frames not sent.
struct TxBuf {
    frame: [u8; MAX_FRAME],
    stalls: u32,
}

impl Enet {
    /// The driver, not yet started (`const`: it can be built in a
    /// static, not on the stack).
    pub const fn new() -> Self {
        Enet {
            rx: [0; MAX_FRAME],
            rx_len: 0,
            dropped: 0,
            tx: TxBuf {
                frame: [0; MAX_FRAME],
                stalls: 0,
            },
        }
    }

    /// Resets the receive FIFO and enables the receiver and transmitter
    /// (padding and FCS by the MAC). Only one `Enet` may be started: it
    /// owns the controller's registers.
    pub fn start(&mut self) {
        write(RCTL, RCTL_RSTFIFO);
        write(RCTL, RCTL_RXEN);
        write(TCTL, TCTL_TXEN | TCTL_PADEN | TCTL_CRC);
    }

    /// The MAC address the controller was given (qemu: `-nic ...,mac=`).
    pub fn mac(&self) -> [u8; 6] {
        let [a, b, c, d] = read(IA0).to_le_bytes();
        let [e, f, _, _] = read(IA1).to_le_bytes();
        [a, b, c, d, e, f]
    }

    /// Received frames dropped for an impossible length.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Frames not sent: the previous one never left the FIFO, or the
    /// length was impossible.
    pub fn unsent(&self) -> u32 {
        self.tx.stalls
    }

    /// The length of the next frame, moved into `rx`; dropped frames are
    /// skipped, at most a FIFO's worth per call.
    fn next_frame(&mut self) -> Option<usize> {
        for _ in 0..32 {
            if self.pull_frame() {
                return Some(self.rx_len);
            }
            if read(NP) == 0 {
                return None;
            }
        }
        None
    }

    /// Moves the next frame from the FIFO into `rx`; `false` when none is
    /// waiting or it was dropped.
    fn pull_frame(&mut self) -> bool {
        if read(NP) == 0 {
            return false;
        }
        let first = read(DATA);
        let record = fifo::rx_record(first);
        fifo::unpack(0, first, &mut self.rx);
        for index in 1..record.words {
            fifo::unpack(index, read(DATA), &mut self.rx);
        }
        match record.frame_len {
            Some(len) => {
                self.rx_len = len;
                true
            }
            None => {
                self.dropped = self.dropped.saturating_add(1);
                false
            }
        }
    }
}

impl TxBuf {
    /// Lets `f` write a frame of `len` bytes, then sends it. The network
    /// stack asks for at most `MAX_FRAME` bytes (the capabilities); a
    /// longer request is given the whole buffer and not sent.
    fn fill_and_send<R>(&mut self, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        match self.frame.get_mut(..len) {
            Some(buf) => {
                let r = f(buf);
                self.send(len);
                r
            }
            None => {
                self.stalls = self.stalls.saturating_add(1);
                f(&mut self.frame[..])
            }
        }
    }

    /// Sends the first `len` bytes of `frame` (header included, FCS
    /// excluded) through the FIFO.
    fn send(&mut self, len: usize) {
        let Some(words) = self.frame.get(..len).and_then(fifo::tx_words) else {
            self.stalls = self.stalls.saturating_add(1);
            return;
        };
        // The previous frame must have left the FIFO.
        let mut spins = 0u32;
        while read(TR) & TR_NEWTX != 0 {
            spins += 1;
            if spins > TX_SPINS {
                self.stalls = self.stalls.saturating_add(1);
                return;
            }
        }
        for word in words {
            write(DATA, word);
        }
        write(TR, TR_NEWTX);
        // Acknowledge what the controller raised; nothing waits on it.
        write(RIS, read(RIS));
    }
}

impl Default for Enet {
    fn default() -> Self {
        Self::new()
    }
}

/// A received frame, borrowed from the driver.
pub struct Rx<'a>(&'a [u8]);

/// Room for one frame to send.
pub struct Tx<'a>(&'a mut TxBuf);

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.fill_and_send(len, f)
    }
}

impl Device for Enet {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let len = self.next_frame()?;
        let frame = self.rx.get(..len).unwrap_or(&[]);
        Some((Rx(frame), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(1);
        caps
    }
}

/// The same controller for `embassy-net` (feature `embassy`): the async
/// variant runs the same driver. There is no interrupt: a `receive` that
/// finds nothing wakes its task at once, to be polled again.
#[cfg(feature = "embassy")]
mod embassy {
    use core::task::Context;

    use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};

    use super::{Enet, TxBuf, MAX_FRAME};

    /// A received frame, borrowed from the driver.
    pub struct Rx<'a>(&'a mut [u8]);

    /// Room for one frame to send.
    pub struct Tx<'a>(&'a mut TxBuf);

    impl embassy_net_driver::RxToken for Rx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
            f(self.0)
        }
    }

    impl embassy_net_driver::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            self.0.fill_and_send(len, f)
        }
    }

    impl Driver for Enet {
        type RxToken<'a> = Rx<'a>;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Rx<'_>, Tx<'_>)> {
            let Some(len) = self.next_frame() else {
                cx.waker().wake_by_ref();
                return None;
            };
            let frame = self.rx.get_mut(..len).unwrap_or(&mut []);
            Some((Rx(frame), Tx(&mut self.tx)))
        }

        fn transmit(&mut self, _cx: &mut Context<'_>) -> Option<Tx<'_>> {
            Some(Tx(&mut self.tx))
        }

        fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
            LinkState::Up
        }

        fn capabilities(&self) -> Capabilities {
            let mut caps = Capabilities::default();
            caps.max_transmission_unit = MAX_FRAME;
            caps.max_burst_size = Some(1);
            caps
        }

        fn hardware_address(&self) -> HardwareAddress {
            HardwareAddress::Ethernet(self.mac())
        }
    }
}
