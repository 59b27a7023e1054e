//! The code the firmware proof runs twice: on a Cortex-M3 under qemu
//! (`examples/firmware`) and on the host (`tests/firmware`), so their bytes
//! and decisions can be compared one for one.
//!
//! It formats a batch of simulated sensor readings ([`fill_batch`]), sends
//! it with [`linewire::http::write_batch`] over any `embedded-io` stream
//! ([`exchange`]), and describes the [`Reply`] the core decided on
//! ([`describe`]). [`REPLIES`] are the canned server answers the firmware
//! feeds back: a 400 partial write, a 429 with `Retry-After`, a 204.
//!
//! Every value is computed with integer and IEEE-754 basic arithmetic only,
//! which is exact-rounded on every target (soft float on the M3 included),
//! so the same code gives the same bytes everywhere.
//!
//! ```
//! use linewire_firmware_demo::{describe, exchange, fill_batch, DemoBatch, REPLIES};
//!
//! struct Stream<'r> { reply: &'r [u8], sent: Vec<u8> }
//! impl embedded_io::ErrorType for Stream<'_> { type Error = core::convert::Infallible; }
//! impl embedded_io::Read for Stream<'_> {
//!     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> { self.reply.read(buf) }
//! }
//! impl embedded_io::Write for Stream<'_> {
//!     fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> { self.sent.extend_from_slice(buf); Ok(buf.len()) }
//!     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
//! }
//!
//! let mut batch = DemoBatch::new();
//! fill_batch(&mut batch)?;
//! let mut stream = Stream { reply: REPLIES[2], sent: Vec::new() };
//! let mut buf = [0u8; 512];
//! let reply = exchange(&mut stream, &batch, &mut buf)?;
//! let mut text = String::new();
//! describe(&reply, &mut text)?;
//! assert_eq!(text, "status=204 outcome=Written action=Done retry_after=- rejected=- dropped=- complete=true");
//! assert!(stream.sent.ends_with(batch.as_bytes()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use core::fmt;

use linewire::http::{write_batch, Action, Outcome, Reply, RetryAfter, Target, WriteError};
use linewire::{Batch, DefaultTags, PointError, Precision};

/// Bytes of line protocol the demo batch can hold.
pub const BATCH_CAPACITY: usize = 1024;

/// The batch type the demo fills (caller-owned: the firmware keeps it on
/// its own stack frame).
pub type DemoBatch = Batch<BATCH_CAPACITY>;

/// Bytes of the response buffer the firmware and the host use (it stages
/// the request head, then holds the response head and error body).
pub const RESPONSE_BUF: usize = 512;

/// Server host in the request's `Host` header.
pub const HOST: &str = "influx.local";
/// Port in the `Host` header.
pub const PORT: u16 = 8086;
/// Bucket the demo writes to.
pub const BUCKET: &str = "sensors";
/// API token the demo sends.
pub const TOKEN: &str = "demo-token";
/// Measurement of the reading points (escaped on the wire: it has a space
/// and a comma).
pub const MEASUREMENT: &str = "env sensor,v2";
/// Measurement of the status point.
pub const STATUS_MEASUREMENT: &str = "status";
/// The device's default tags, on every point: key, value.
pub const DEFAULT_TAGS: [(&str, &str); 2] = [("device", "lm3s6965 #1"), ("site", "north barn")];
/// First timestamp, Unix seconds (the batch is at second precision).
pub const T0: i64 = 1_700_000_000;
/// Seconds between readings.
pub const PERIOD: i64 = 60;

/// One simulated sensor reading, as raw as a driver would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Room tag (has characters tag values escape: space, comma, `=`).
    pub room: &'static str,
    /// Temperature in 1/16 °C, as a DS18B20 reports it.
    pub raw_temp: i16,
    /// Pressure in pascal.
    pub pressure_pa: u32,
    /// Supply voltage in millivolt.
    pub vcc_mv: u16,
    /// Relative humidity, percent.
    pub humidity: i64,
    /// Uptime counter.
    pub uptime_s: u64,
    /// Door contact.
    pub door_open: bool,
    /// Free text (quotes, backslashes, a line feed, non-ASCII).
    pub note: &'static str,
}

impl Reading {
    /// Temperature in °C (exact: a sixteenth is a power of two).
    pub fn temperature_c(&self) -> f64 {
        f64::from(self.raw_temp) / 16.0
    }

    /// Pressure in hPa (not exact in binary: the shortest round-trip form
    /// goes on the wire).
    pub fn pressure_hpa(&self) -> f64 {
        f64::from(self.pressure_pa) / 100.0
    }

    /// Supply voltage in volt, `mv * 0.001` (a product that is not the
    /// nearest double to the decimal, e.g. `3.2970000000000002`).
    pub fn vcc_v(&self) -> f64 {
        f64::from(self.vcc_mv) * 0.001
    }
}

/// The simulated readings, one point each.
pub const READINGS: [Reading; 4] = [
    Reading {
        room: "loft, north=2",
        raw_temp: 344,
        pressure_pa: 101_325,
        vcc_mv: 3297,
        humidity: 48,
        uptime_s: 86_400,
        door_open: false,
        note: "ok",
    },
    Reading {
        room: "loft, north=2",
        raw_temp: -37,
        pressure_pa: 100_837,
        vcc_mv: 3301,
        humidity: 51,
        uptime_s: 86_460,
        door_open: true,
        note: "door \"open\" at C:\\barn\\door",
    },
    Reading {
        room: "cellar",
        raw_temp: 201,
        pressure_pa: 99_999,
        vcc_mv: 2999,
        humidity: -1,
        uptime_s: u64::MAX,
        door_open: false,
        note: "two\nlines, 21.5 °C",
    },
    Reading {
        room: "cellar",
        raw_temp: 0,
        pressure_pa: 1,
        vcc_mv: 1,
        humidity: i64::MIN,
        uptime_s: 0,
        door_open: true,
        note: "",
    },
];

/// The status point's boot counter.
pub const BOOT_COUNT: i64 = 3;
/// The status point's message.
pub const STATUS_MESSAGE: &str = "booted, \\o/ \"fine\"";

/// Fills `batch` (cleared first) with one point per [`READINGS`] entry and
/// a status point, all carrying [`DEFAULT_TAGS`], at second precision.
///
/// # Errors
///
/// A [`PointError`] if a point is refused (it is not: the test proves it).
pub fn fill_batch(batch: &mut DemoBatch) -> Result<(), PointError> {
    *batch = Batch::with_precision(Precision::Seconds).sort_tags(true);
    let mut device = DefaultTags::<64>::new();
    for (k, v) in DEFAULT_TAGS {
        device.add(k, v)?;
    }
    let mut t = T0;
    for r in &READINGS {
        batch
            .point_with(&device, MEASUREMENT)?
            .tag("room", r.room)?
            .field("temp c", r.temperature_c())?
            .field("pressure,hpa", r.pressure_hpa())?
            .field("vcc=v", r.vcc_v())?
            .field("humidity", r.humidity)?
            .field("uptime", r.uptime_s)?
            .field("door", r.door_open)?
            .field("note", r.note)?
            .timestamp(t)?;
        t += PERIOD;
    }
    batch
        .point_with(&device, STATUS_MEASUREMENT)?
        .field("boot_count", BOOT_COUNT)?
        .field("message", STATUS_MESSAGE)?
        .timestamp(t)?;
    Ok(())
}

/// The demo's write target: `/api/v2/write` on [`HOST`]:[`PORT`], bucket
/// [`BUCKET`], token [`TOKEN`].
///
/// # Errors
///
/// A [`WriteError::Config`] if the constants were invalid (they are not).
pub fn target() -> Result<Target<'static>, WriteError> {
    Ok(Target::v2(HOST, BUCKET, TOKEN)?.port(PORT))
}

/// One write transaction: the request for `batch` onto `stream`, then the
/// answer read from it into `buf` and classified
/// ([`linewire::http::write_batch`]).
///
/// # Errors
///
/// As [`linewire::http::write_batch`].
pub fn exchange<'b, S>(
    stream: &mut S,
    batch: &DemoBatch,
    buf: &'b mut [u8],
) -> Result<Reply<'b>, WriteError>
where
    S: embedded_io::Read + embedded_io::Write,
{
    write_batch(stream, &target()?, batch, buf)
}

/// The canned server answers, in the order the firmware replays them.
pub const REPLIES: [&[u8]; 3] = [REPLY_PARTIAL, REPLY_THROTTLED, REPLY_WRITTEN];

/// An InfluxDB 3 partial write: lines 2 and 5 rejected.
pub const REPLY_PARTIAL: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
content-type: application/json\r\n\
content-length: 232\r\n\
date: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
\r\n\
{\"error\":\"partial write of line protocol occurred\",\"data\":[\
{\"original_line\":\"env\\\\ sensor\\\\,v2 ...\",\"line_number\":2,\"error_message\":\"invalid column type\"},\
{\"original_line\":\"status ...\",\"line_number\":5,\"error_message\":\"table full\"}]}";

/// Cloud Serverless rate limiting: 429, `Retry-After: 30`.
pub const REPLY_THROTTLED: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
Content-Type: application/json; charset=utf-8\r\n\
Retry-After: 30\r\n\
Content-Length: 99\r\n\
\r\n\
{\"code\":\"too many requests\",\"message\":\"org 04014de4ed590000 has exceeded limited_write plan limit\"}";

/// Success.
pub const REPLY_WRITTEN: &[u8] = b"HTTP/1.1 204 No Content\r\n\
Date: Tue, 14 Nov 2023 22:13:21 GMT\r\n\
X-Influxdb-Version: v2.7.4\r\n\
\r\n";

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Written => "Written",
        Outcome::PartiallyWritten(_) => "PartiallyWritten",
        Outcome::Rejected => "Rejected",
        Outcome::InvalidRequest => "InvalidRequest",
        Outcome::Unauthorized => "Unauthorized",
        Outcome::Forbidden => "Forbidden",
        Outcome::NotFound => "NotFound",
        Outcome::TooLarge { .. } => "TooLarge",
        Outcome::Throttled { .. } => "Throttled",
        Outcome::Unavailable { .. } => "Unavailable",
        Outcome::ServerError { .. } => "ServerError",
        Outcome::Unexpected => "Unexpected",
        _ => "Other",
    }
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Done => "Done",
        Action::Drop => "Drop",
        Action::Stop => "Stop",
        Action::Split => "Split",
        Action::RetryLater => "RetryLater",
        Action::Retry => "Retry",
        _ => "Other",
    }
}

/// What [`describe`] prints about a [`Reply`], as plain data: the printing
/// ([`Summary::write`]) uses no linewire code, so the firmware's baseline
/// links the same `core::fmt` printing with made-up values and the
/// library's measured cost excludes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary<'a> {
    /// The status code.
    pub status: u16,
    /// The outcome's name (`Written`, `Throttled`, ...).
    pub outcome: &'static str,
    /// The action's name (`Done`, `RetryLater`, ...).
    pub action: &'static str,
    /// `Retry-After`: delta seconds, an HTTP date (Unix seconds), or none.
    pub retry_after: Option<RetryAfter>,
    /// The rejected line numbers kept.
    pub rejected: &'a [u32],
    /// `dropped=N` from the message.
    pub dropped: Option<u32>,
    /// The body was read completely.
    pub complete: bool,
}

impl<'a> Summary<'a> {
    /// The summary of `reply`.
    pub fn of(reply: &'a Reply<'_>) -> Self {
        Summary {
            status: reply.status,
            outcome: outcome_name(&reply.outcome),
            action: action_name(reply.outcome.action()),
            retry_after: reply.outcome.retry_after(),
            rejected: reply.error.rejected.lines(),
            dropped: reply.error.dropped,
            complete: !reply.body_truncated,
        }
    }

    /// Writes the line:
    /// `status=429 outcome=Throttled action=RetryLater retry_after=30s rejected=- dropped=- complete=true`.
    ///
    /// # Errors
    ///
    /// Those of `out`.
    pub fn write(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(
            out,
            "status={} outcome={} action={} retry_after=",
            self.status, self.outcome, self.action
        )?;
        match self.retry_after {
            Some(RetryAfter::Seconds(s)) => write!(out, "{s}s")?,
            Some(RetryAfter::At(t)) => write!(out, "@{t}")?,
            None => out.write_str("-")?,
        }
        out.write_str(" rejected=")?;
        if self.rejected.is_empty() {
            out.write_str("-")?;
        }
        for (i, line) in self.rejected.iter().enumerate() {
            if i > 0 {
                out.write_str(",")?;
            }
            write!(out, "{line}")?;
        }
        out.write_str(" dropped=")?;
        match self.dropped {
            Some(d) => write!(out, "{d}")?,
            None => out.write_str("-")?,
        }
        write!(out, " complete={}", self.complete)
    }
}

/// Writes one line describing what the core decided ([`Summary::write`]):
/// `status=429 outcome=Throttled action=RetryLater retry_after=30s rejected=- dropped=- complete=true`.
///
/// # Errors
///
/// Those of `out`.
pub fn describe(reply: &Reply<'_>, out: &mut impl fmt::Write) -> fmt::Result {
    Summary::of(reply).write(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_length(reply: &[u8]) -> (usize, usize) {
        let text = core::str::from_utf8(reply).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        (declared, body.len())
    }

    #[test]
    fn canned_replies_declare_their_body_length() {
        for reply in REPLIES {
            let (declared, actual) = content_length(reply);
            assert_eq!(declared, actual, "{}", core::str::from_utf8(reply).unwrap());
        }
    }

    #[test]
    fn the_demo_batch_fits() {
        let mut batch = DemoBatch::new();
        fill_batch(&mut batch).unwrap();
        assert_eq!(batch.line_count(), READINGS.len() + 1);
        assert!(batch.len() <= BATCH_CAPACITY);
    }
}
