//! The firmware's scaffolding without linewire: the same console, stream,
//! canned replies, stack painting and kind of output, no linewire call.
//! Its sizes subtracted from the firmware's are the library's cost.
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::hint::black_box;

use cortex_m_rt::entry;
use embedded_io::{Read as _, Write as _};
use linewire::http::RetryAfter;
use linewire_firmware::{exit, stack, Host, Wire};
// Data and the printing only (the canned replies, sizes, `Summary::write`):
// no linewire code is linked.
use linewire_firmware_demo::{Summary, BATCH_CAPACITY, READINGS, REPLIES, RESPONSE_BUF};

/// Stands in for the formatting: the same sensor arithmetic (application
/// code, not the library's: soft-float division and multiplication), the
/// values' bits and some bytes copied into the caller's batch.
#[inline(never)]
fn format(batch: &mut [u8; BATCH_CAPACITY]) -> usize {
    let mut n = 0;
    for r in black_box(&READINGS) {
        for v in [r.temperature_c(), r.pressure_hpa(), r.vcc_v()] {
            batch[n..n + 8].copy_from_slice(&v.to_bits().to_le_bytes());
            n += 8;
        }
    }
    let src = black_box(REPLIES[0]);
    let m = src.len().min(batch.len() - n);
    batch[n..n + m].copy_from_slice(&src[..m]);
    n + m
}

/// Stands in for the transaction: writes the bytes, reads the reply.
#[inline(never)]
fn send(wire: &mut Wire<'_, '_>, body: &[u8], buf: &mut [u8]) -> usize {
    if wire.write_all(body).is_err() || wire.flush().is_err() {
        exit(false);
    }
    let mut total = 0;
    loop {
        let Ok(n) = wire.read(&mut buf[total..]);
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

#[entry]
fn main() -> ! {
    let mut host = Host::open();
    let mut batch = [0u8; BATCH_CAPACITY];
    let mut buf = [0u8; RESPONSE_BUF];
    let sp = stack::sp();

    let painted = stack::paint();
    let len = format(&mut batch);
    let format_stack = stack::used_below(sp);

    for (i, reply) in REPLIES.iter().enumerate() {
        let n = i + 1;
        let _ = writeln!(host, "EXCHANGE {n}");
        let mut wire = Wire::new(&mut host, reply);
        stack::paint();
        let got = send(&mut wire, &batch[..len], &mut buf);
        let used = stack::used_below(sp);
        // The firmware's printing of the decision, on made-up values.
        let rejected = [black_box(2u32), black_box(got as u32)];
        let summary = Summary {
            status: black_box(204),
            outcome: black_box("Written"),
            action: black_box("Done"),
            retry_after: black_box(Some(RetryAfter::At(got as u32))),
            rejected: black_box(&rejected[..]),
            dropped: black_box(Some(got as u32)),
            complete: black_box(got > 0),
        };
        let _ = write!(host, "OUTCOME {n} ");
        let _ = summary.write(&mut host);
        let _ = writeln!(host);
        let _ = writeln!(host, "STACK exchange{n} {}", used.unwrap_or(usize::MAX));
    }
    let _ = writeln!(host, "STACK format {}", format_stack.unwrap_or(usize::MAX));
    let _ = writeln!(host, "PAINTED {painted}");
    let _ = writeln!(host, "DONE");
    exit(true)
}
