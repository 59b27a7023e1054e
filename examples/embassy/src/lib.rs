//! linewire on embassy-net: a sensor sampled every 10 s, its points queued
//! in a [`Writer`] and delivered to InfluxDB over a `TcpSocket` with
//! [`Writer::poll_async`], through Wi-Fi drops, server restarts and
//! throttling, without losing what fits in the queue.
//!
//! Chip-independent on purpose: everything here takes an
//! [`embassy_net::Stack`], so the same code runs on an ESP32-C3 (esp-hal,
//! esp-radio), a Pico W (embassy-rp, cyw43) or anything else embassy-net
//! drives. The chip's `main` brings up the radio and the stack and spawns a
//! task that calls [`run`]:
//!
//! ```ignore
//! #[embassy_executor::task]
//! async fn telemetry(stack: embassy_net::Stack<'static>, sensor: Sensor) {
//!     let config = Config { host: "influx.lan", port: 8086, bucket: "sensors", token: TOKEN };
//!     let delivery = linewire_embassy_example::run(stack, &config, boot_epoch_ms, seed, || sensor.read(), |_| {});
//!     if let Err(e) = delivery.await {
//!         defmt::error!("bad configuration: {}", e); // linewire feature `defmt`
//!     }
//! }
//! ```
//!
//! The clock is embassy-time's (`Instant`, `Timer`): the writer itself
//! reads no clock and starts no timer.
#![no_std]

use core::convert::Infallible;

use embassy_futures::select::{select, Either};
use embassy_net::dns::DnsQueryType;
use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Ticker, Timer};
use linewire::http::{ConfigError, Target};
use linewire::{Batch, Event, Precision, RetryPolicy, Writer, XorShift32};

/// Where the points go.
pub struct Config {
    /// The InfluxDB host name (or address).
    pub host: &'static str,
    /// Its port (8086).
    pub port: u16,
    /// The bucket.
    pub bucket: &'static str,
    /// An API token with write access to the bucket.
    pub token: &'static str,
}

/// One sample of the sensor.
#[derive(Clone, Copy)]
pub struct Reading {
    /// Degrees Celsius.
    pub celsius: f32,
    /// Relative humidity, percent.
    pub humidity: f32,
}

/// What the device shows (an LED, a display): how delivery is doing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The last batch was stored.
    Delivering,
    /// The server or the network failed; the points are kept and sent
    /// again after a backoff.
    Retrying,
    /// The server refused the token, bucket or organization (401, 403,
    /// 404): nothing is sent until the configuration changes; the points
    /// are kept (up to the queue's size, then the oldest go).
    Misconfigured,
    /// Points were dropped (bad data, or the retry policy gave up).
    Dropping,
}

/// 16 KiB of line protocol: at about 60 bytes a point, 45 minutes of one
/// point every 10 s kept through an outage.
const QUEUE_BYTES: usize = 16 * 1024;
/// The sampling period.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// A socket that hears nothing this long is reset: the request fails on
/// the stream, and the writer backs off.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(20);

/// The Unix time in ms at `Instant` 0, from SNTP or an RTC; the points
/// carry their sampling time, so late deliveries keep the right time.
pub type BootEpochMs = u64;

/// Samples the sensor every 10 s and delivers the points to `config`'s
/// server over `stack`, for ever. `seed` (a hardware RNG word) spreads
/// the retries of a fleet of devices; `indicate` is told how delivery is
/// doing after each request.
///
/// # Errors
///
/// Returns only if `config` is not a valid target (an empty host or
/// bucket, a token with a line break).
pub async fn run(
    stack: Stack<'_>,
    config: &Config,
    boot_epoch_ms: BootEpochMs,
    seed: u32,
    mut sample: impl FnMut() -> Reading,
    mut indicate: impl FnMut(Health),
) -> Result<Infallible, ConfigError> {
    let target = Target::v2(config.host, config.bucket, config.token)?.port(config.port);
    let mut writer = Writer::<QUEUE_BYTES>::new(
        target,
        Precision::Milliseconds,
        RetryPolicy::new(),
        XorShift32::new(seed),
    );

    let mut rx = [0u8; 1024];
    let mut tx = [0u8; 1024];
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    let mut connected = false;
    // The answer's head and error body (the request body goes straight
    // from the queue to the socket).
    let mut buf = [0u8; 1024];
    let mut ticker = Ticker::every(SAMPLE_EVERY);
    let mut point = Batch::<128>::with_precision(Precision::Milliseconds);

    loop {
        // Sleep until the next sample or the writer's next try, whichever
        // comes first.
        let wakeup = writer.next_wakeup(now_ms());
        match select(ticker.next(), sleep_until(wakeup)).await {
            Either::First(()) => {
                let reading = sample();
                let at = boot_epoch_ms.saturating_add(now_ms());
                point.clear();
                let built = point
                    .point("climate")
                    .and_then(|p| p.tag("room", "greenhouse"))
                    .and_then(|p| p.field("celsius", reading.celsius))
                    .and_then(|p| p.field("humidity", reading.humidity))
                    .and_then(|p| p.timestamp(i64::try_from(at).unwrap_or(i64::MAX)));
                // A reading that cannot be written (NaN from a broken
                // sensor) is skipped; a full queue drops its oldest lines
                // (counted in `writer.stats()`).
                if built.is_ok() {
                    let _ = writer.push(&point);
                }
            }
            Either::Second(()) => {}
        }

        // Deliver what is due now: one batch per loop, so sampling goes on
        // between requests.
        let now = now_ms();
        let due = writer.next_wakeup(now).is_some_and(|t| t <= now);
        if !due {
            continue;
        }
        if !connected {
            if connect(stack, &mut socket, config).await.is_err() {
                // No Wi-Fi, no DNS, refused: keep the points, back off.
                indicate(health(writer.connect_failed(now).event));
                continue;
            }
            connected = true;
        }
        match writer.poll_async(now, &mut socket, &mut buf).await {
            Ok(poll) => {
                indicate(health(poll.event));
                if poll.reconnect {
                    reset(&mut socket).await;
                    connected = false;
                }
            }
            Err(_) => {
                // The request failed on the stream (a reset, the timeout)
                // or the answer was not HTTP: the writer kept the batch.
                indicate(Health::Retrying);
                reset(&mut socket).await;
                connected = false;
            }
        }
    }
}

/// How a poll's event shows on the device.
fn health(event: Event) -> Health {
    match event {
        Event::Delivered { .. } | Event::Split { .. } | Event::Idle => Health::Delivering,
        Event::Halted => Health::Misconfigured,
        Event::PartiallyDelivered { .. }
        | Event::Rejected { .. }
        | Event::TooLarge { .. }
        | Event::GaveUp { .. }
        | Event::Misconfigured { .. } => Health::Dropping,
        _ => Health::Retrying,
    }
}

/// Milliseconds since boot: the writer's clock.
fn now_ms() -> u64 {
    Instant::now().as_millis()
}

/// Sleeps until `at_ms` on [`now_ms`]'s clock, or for ever for `None`.
async fn sleep_until(at_ms: Option<u64>) {
    match at_ms {
        Some(at) => Timer::at(Instant::from_millis(at)).await,
        None => core::future::pending().await,
    }
}

/// Why the socket could not connect.
enum ConnectFailed {
    /// No network yet (no Wi-Fi association, no DHCP lease).
    NoNetwork,
    /// The name did not resolve.
    Dns,
    /// The server refused, or did not answer.
    Tcp,
}

/// Resolves the host and connects the socket to it.
async fn connect(
    stack: Stack<'_>,
    socket: &mut TcpSocket<'_>,
    config: &Config,
) -> Result<(), ConnectFailed> {
    // Not `wait_config_up`: sampling goes on while the Wi-Fi is down, and
    // the writer's backoff paces the next try.
    if !stack.is_config_up() {
        return Err(ConnectFailed::NoNetwork);
    }
    let addrs = stack
        .dns_query(config.host, DnsQueryType::A)
        .await
        .map_err(|_| ConnectFailed::Dns)?;
    let addr = addrs.first().copied().ok_or(ConnectFailed::Dns)?;
    socket.set_timeout(Some(SOCKET_TIMEOUT));
    socket
        .connect((addr, config.port))
        .await
        .map_err(|_| ConnectFailed::Tcp)
}

/// Drops the connection at once (a reset: no lingering close), so that the
/// socket can connect again.
async fn reset(socket: &mut TcpSocket<'_>) {
    socket.abort();
    let _ = socket.flush().await;
}
