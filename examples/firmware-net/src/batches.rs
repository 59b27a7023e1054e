//! The points the network firmware writes. The host test includes this
//! file (`#[path]`), so both sides compute them from the same code.

use linewire::{Batch, PointError, Precision};

/// How many batches the firmware writes.
pub const BATCHES: u32 = 3;
/// Points in each batch.
pub const POINTS_PER_BATCH: u32 = 3;
/// The bucket written to.
pub const BUCKET: &str = "netlane";
/// The token sent (the test kit accepts any).
pub const TOKEN: &str = "qemu-token";
/// The `Host` header: the name the firmware would resolve.
pub const HOST: &str = "influx.local";
/// The measurement (with a space, escaped on the wire).
pub const MEASUREMENT: &str = "qemu net";
/// The `device` tag.
pub const DEVICE: &str = "lm3s6965evb";
/// The `link` tag (with a comma and a space, escaped on the wire).
pub const LINK: &str = "slirp, user";
/// The `note` field (quotes and a backslash, escaped on the wire).
pub const NOTE: &str = "said \"hi\" \\o/";
/// The first point's timestamp, Unix seconds.
pub const T0: i64 = 1_750_000_000;
/// The batch buffer's size.
pub const CAPACITY: usize = 512;

/// The values of point `k` (counted over all batches, from 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// `seq`, an integer field.
    pub seq: i64,
    /// `temp`, a float field.
    pub temp: f64,
    /// `ok`, a boolean field.
    pub ok: bool,
    /// The timestamp, Unix seconds.
    pub time: i64,
}

/// The values of point `k`.
pub fn reading(k: u32) -> Reading {
    Reading {
        seq: i64::from(k),
        temp: 20.5 + f64::from(k) * 0.25,
        ok: k & 1 == 0,
        time: T0 + i64::from(k),
    }
}

/// Fills `batch` (cleared first) with the points of batch `n` (from 0):
/// points `n * POINTS_PER_BATCH ..` at second precision.
///
/// # Errors
///
/// A [`PointError`] if a point is refused (it is not: the host test
/// formats the same batches).
pub fn fill(batch: &mut Batch<CAPACITY>, n: u32) -> Result<(), PointError> {
    *batch = Batch::with_precision(Precision::Seconds);
    for i in 0..POINTS_PER_BATCH {
        let r = reading(n * POINTS_PER_BATCH + i);
        batch
            .point(MEASUREMENT)?
            .tag("device", DEVICE)?
            .tag("link", LINK)?
            .field("seq", r.seq)?
            .field("temp", r.temp)?
            .field("ok", r.ok)?
            .field("note", NOTE)?
            .timestamp(r.time)?;
    }
    Ok(())
}
