//! linewire on a Cortex-M3: default tags, a batch of sensor readings, the
//! `/api/v2/write` request over an `embedded-io` stream (hex to the host),
//! and the core's decisions on a 400 partial write, a 429 and a 204.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::entry;
use linewire::http::{Reply, WriteError};
use linewire::PointError;
use linewire_firmware::{exit, stack, Host, Wire};
use linewire_firmware_demo::{describe, exchange, fill_batch, DemoBatch, REPLIES, RESPONSE_BUF};

/// The formatting, in its own frame below the caller's (never inlined, so
/// its stack shows up in the measurement).
#[inline(never)]
fn format(batch: &mut DemoBatch) -> Result<(), PointError> {
    fill_batch(batch)
}

/// One write transaction (request, response, error body, outcome).
#[inline(never)]
fn send<'b>(
    wire: &mut Wire<'_, '_>,
    batch: &DemoBatch,
    buf: &'b mut [u8],
) -> Result<Reply<'b>, WriteError> {
    exchange(wire, batch, buf)
}

#[entry]
fn main() -> ! {
    let mut host = Host::open();
    // The caller's buffers, on this frame: the measurements are below it.
    let mut batch = DemoBatch::new();
    let mut buf = [0u8; RESPONSE_BUF];
    let sp = stack::sp();

    let painted = stack::paint();
    let formatted = format(&mut batch);
    let format_stack = stack::used_below(sp);
    if formatted.is_err() {
        let _ = writeln!(host, "ERROR format");
        exit(false);
    }

    let mut peak = format_stack;
    for (i, reply) in REPLIES.iter().enumerate() {
        let n = i + 1;
        let _ = writeln!(host, "EXCHANGE {n}");
        let mut wire = Wire::new(&mut host, reply);
        stack::paint();
        let result = send(&mut wire, &batch, &mut buf);
        let used = stack::used_below(sp);
        match result {
            Ok(reply) => {
                let _ = write!(host, "OUTCOME {n} ");
                let _ = describe(&reply, &mut host);
                let _ = writeln!(host);
            }
            Err(_) => {
                let _ = writeln!(host, "ERROR exchange {n}");
                exit(false);
            }
        }
        let _ = writeln!(host, "STACK exchange{n} {}", used.unwrap_or(usize::MAX));
        peak = match (peak, used) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    let _ = writeln!(host, "STACK format {}", format_stack.unwrap_or(usize::MAX));
    let _ = writeln!(host, "STACK peak {}", peak.unwrap_or(usize::MAX));
    let _ = writeln!(host, "PAINTED {painted}");
    let _ = writeln!(host, "DONE");
    exit(true)
}
