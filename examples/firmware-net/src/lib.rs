//! linewire over a real TCP/IP stack on a Cortex-M3: the LM3S6965's
//! Ethernet controller ([`stellaris`]) under `smoltcp` 0.13, a blocking
//! `embedded-nal` stack over it ([`net`]), time from the host ([`clock`]),
//! and the semihosting scaffolding ([`host`]). Every networked binary
//! delivers the batches of [`batches`] through one `linewire::Writer`
//! ([`delivery`]: its queue, retry policy and decisions) to the test kit on
//! the host's loopback, reached through qemu's user networking (slirp: the
//! device is 10.0.2.15, the host 10.0.2.2): `firmware-net` with
//! `Writer::poll` over `linewire::nal::NalStream`; with feature `async`,
//! `firmware-async` with `Writer::poll_async` over embassy-net on the same
//! controller (module `async_net`); with feature `tls`, `firmware-tls`
//! with `Writer::poll` over a TLS 1.3 session (`embedded-tls`) to the test
//! kit's HTTPS server, the certificate verified against its CA (module
//! `tls`); with both, `firmware-async-tls` with `Writer::poll_async` over
//! a TLS session on embassy-net.
//!
//! Output protocol (semihosting stdout, one record a line):
//!
//! ```text
//! CONFIG port=<n>                                   the server port from the command line
//! POLL <n> <poll> connects=<c> <event> reconnect=<b> a poll of the writer, batch n (see `delivery`)
//! POLL <n> <poll> connects=<c> error=<text>         a poll that failed on the stream
//! POLL <n> <poll> connects=<c> connect-failed <ev>  connecting or the TLS handshake failed
//! STATS accepted=<a> sent=<s> ...                   the writer's counters at the end
//! HANDSHAKE <s> ok ms=<ms>|error=<e>                a TLS session's handshake (the TLS variants)
//! BASELINE status=204|failed                        the baseline's one request (baseline-net)
//! ENET dropped=<n> unsent=<n>                       the driver's counters (the blocking variants)
//! ERROR <sentence>                                  why the run cannot go on
//! STACK run <bytes>                                 stack high-water mark below main's frame
//! PAINTED <bytes>                                   how much stack was painted
//! DONE ok|failed                                    every batch was (or was not) stored
//! ```
//!
//! The run's exit status is 0 exactly when it printed `DONE ok`.
#![no_std]

#[cfg(feature = "async")]
pub mod async_net;
pub mod batches;
pub mod board;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod fifo;
pub mod host;
pub mod net;
pub mod stellaris;
#[cfg(feature = "tls")]
pub mod tls;
