//! The async variant: writes [`BATCHES`] batches to the test kit with
//! `linewire::Writer::poll_async` over an embassy-net `TcpSocket`, on the
//! same Ethernet controller as `firmware-net`, under
//! `embassy_futures::block_on` (no executor), then exits with success when
//! every batch was delivered.
//!
//! Each batch is pushed into the writer's queue and polled until the
//! writer has delivered it, at most [`MAX_POLLS`] polls; the writer's
//! backoff (capped at [`MAX_BACKOFF_MS`]) is slept with embassy-time.
//! Output, besides `firmware-net`'s records (see the library's docs):
//!
//! ```text
//! POLL <n> <poll> connects=<c> <event> reconnect=<bool>   a poll's result
//! POLL <n> <poll> connects=<c> error=<text>                 a failed poll (the stream failed)
//! POLL <n> <poll> connects=<c> connect-failed <event>       the socket could not connect
//! ```
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::entry;
use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};
use linewire::http::Target;
use linewire::{Batch, Event, Precision, RetryPolicy, Writer, XorShift32};
use linewire_firmware_net::async_net;
use linewire_firmware_net::batches::{self, BATCHES, BUCKET, CAPACITY, HOST, TOKEN};
use linewire_firmware_net::board;
use linewire_firmware_net::clock;
use linewire_firmware_net::host::{self, stack, Console};

/// Polls of one batch before the run gives up on it.
const MAX_POLLS: u32 = 3;
/// The longest backoff between tries: the lane's faults ask for no long
/// wait (a device keeps the default, up to 125 s).
const MAX_BACKOFF_MS: u32 = 200;
/// A socket that hears nothing this long fails the request.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);
/// The writer's queue: one batch at a time here.
const QUEUE: usize = 1024;
const RESPONSE_BUF: usize = 512;

#[entry]
fn main() -> ! {
    let painted = stack::paint();
    let sp = stack::sp();
    let mut out = Console::open();
    let port = host::server_port(&mut out, &mut [0u8; 160]);
    let ok = run(&mut out, port);
    host::finish(&mut out, sp, painted, ok)
}

/// Brings the network up and runs it next to the delivery; `true` when
/// every batch was delivered.
#[inline(never)]
fn run(out: &mut Console, port: u16) -> bool {
    let Some(net) = async_net::network() else {
        let _ = writeln!(out, "ERROR the network was already brought up");
        return false;
    };
    let mut runner = net.runner;
    let app = deliver(out, net.stack, port, net.rx, net.tx);
    match embassy_futures::block_on(select(runner.run(), app)) {
        Either::First(never) => never,
        Either::Second(ok) => ok,
    }
}

/// Writes the batches over one socket, reconnecting when the writer asks.
async fn deliver(
    out: &mut Console,
    stack: Stack<'_>,
    port: u16,
    rx: &mut [u8],
    tx: &mut [u8],
) -> bool {
    let target = match Target::v2(HOST, BUCKET, TOKEN) {
        Ok(t) => t.port(port),
        Err(e) => {
            let _ = writeln!(out, "ERROR the target is invalid: {e}");
            return false;
        }
    };
    let policy = RetryPolicy::new().max_interval_ms(MAX_BACKOFF_MS);
    // The seed spreads a fleet's retries; any word does here.
    let seed = clock::seed() as u32;
    let mut writer =
        Writer::<QUEUE>::new(target, Precision::Seconds, policy, XorShift32::new(seed));
    let mut socket = TcpSocket::new(stack, rx, tx);
    socket.set_timeout(Some(SOCKET_TIMEOUT));
    let server = (board::GATEWAY, port);
    let mut connected = false;
    let mut connects = 0u32;
    let mut batch = Batch::<CAPACITY>::new();
    let mut buf = [0u8; RESPONSE_BUF];
    let mut all_delivered = true;

    for n in 0..BATCHES {
        let queued = batches::fill(&mut batch, n)
            .map_err(|_| ())
            .and_then(|()| writer.push(&batch).map(|_| ()).map_err(|_| ()));
        if queued.is_err() {
            let _ = writeln!(out, "ERROR batch {n} could not be formatted or queued");
            all_delivered = false;
            continue;
        }
        let mut polls = 0;
        // Until the queue is empty: the batch was delivered (or dropped).
        while let Some(due) = writer.next_wakeup(now_ms()) {
            if polls == MAX_POLLS {
                all_delivered = false;
                break;
            }
            polls += 1;
            Timer::at(Instant::from_millis(due)).await;
            let now = now_ms();
            let _ = write!(out, "POLL {n} {polls} ");
            if !connected {
                if socket.connect(server).await.is_err() {
                    reset(&mut socket).await;
                    let poll = writer.connect_failed(now);
                    let _ = write!(out, "connects={connects} connect-failed ");
                    let _ = event(out, poll.event);
                    let _ = writeln!(out);
                    continue;
                }
                connected = true;
                connects = connects.saturating_add(1);
            }
            let _ = write!(out, "connects={connects} ");
            match writer.poll_async(now, &mut socket, &mut buf).await {
                Ok(poll) => {
                    let _ = event(out, poll.event);
                    let _ = writeln!(out, " reconnect={}", poll.reconnect);
                    if !matches!(poll.event, Event::Delivered { .. } | Event::Retrying { .. }) {
                        all_delivered = false;
                    }
                    if poll.reconnect {
                        reset(&mut socket).await;
                        connected = false;
                    }
                }
                Err(e) => {
                    // The writer kept the batch; the stream is in an
                    // unknown state: a new connection.
                    let _ = writeln!(out, "error={e}");
                    reset(&mut socket).await;
                    connected = false;
                }
            }
        }
    }
    all_delivered
}

/// A poll's event, without the times (they differ from run to run).
fn event(out: &mut Console, event: Event) -> core::fmt::Result {
    match event {
        Event::Delivered { lines } => write!(out, "Delivered lines={lines}"),
        Event::Retrying { .. } => out.write_str("Retrying"),
        Event::Waiting { .. } => out.write_str("Waiting"),
        Event::Idle => out.write_str("Idle"),
        Event::Halted => out.write_str("Halted"),
        Event::GaveUp { lines } => write!(out, "GaveUp lines={lines}"),
        other => write!(out, "{other:?}"),
    }
}

/// Milliseconds on embassy-time's clock (the writer's clock).
fn now_ms() -> u64 {
    Instant::now().as_millis()
}

/// Drops the connection at once (a reset, no lingering close), so that the
/// socket can connect again.
async fn reset(socket: &mut TcpSocket<'_>) {
    socket.abort();
    let _ = socket.flush().await;
}
