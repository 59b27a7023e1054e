//! A blocking [`embedded_nal::TcpClientStack`] over a `smoltcp`
//! [`Interface`] and [`SocketSet`], for `linewire::nal::NalStream`.
//!
//! Why not the `smoltcp-nal` crate: its newest release (0.7) is built on
//! `smoltcp` 0.12 and enables DHCP, DNS, UDP and IPv6 (flash this firmware
//! does not need). This stack is the part of it a TCP client uses: a fixed
//! set of TCP sockets, each connection on one of them, every call polling
//! the interface once so the caller's loop (the adapter's [`Wait`]) drives
//! the network.
//!
//! Semantics `linewire::nal` expects of a `smoltcp`-based stack:
//! `receive` never returns `Ok(0)` while the connection is open (nothing
//! yet is `WouldBlock`), and the peer's close is an error of kind
//! [`TcpErrorKind::PipeClosed`] (use [`ZeroRead::NoData`](linewire::nal::ZeroRead)).

use core::fmt;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use embedded_nal::{nb, TcpClientStack, TcpError, TcpErrorKind};
use linewire::nal::{Op, Wait};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr};

use crate::clock;

/// How many connections can be open (or closing) at once.
pub const SOCKETS: usize = 2;

/// The first ephemeral port (RFC 6335).
const EPHEMERAL: u16 = 49152;

/// Why a stack call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// Every socket is in use.
    NoSocket,
    /// Only IPv4 servers can be reached (the stack has no IPv6).
    Unaddressable,
    /// The socket cannot connect from its state (a bug of the caller).
    InvalidState,
    /// The server refused or reset the connection while it was opening.
    Refused,
    /// The connection is closed: the peer closed it or it was reset.
    Closed,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoSocket => "every socket is in use",
            Self::Unaddressable => "the server's address is not IPv4",
            Self::InvalidState => "the socket cannot connect in its state",
            Self::Refused => "the server refused the connection",
            Self::Closed => "the connection is closed",
        })
    }
}

impl TcpError for NetError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            Self::Closed => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

/// A connection handed out by [`Stack::socket`].
#[derive(Debug)]
pub struct Socket {
    slot: usize,
    handle: SocketHandle,
    /// `connect` has been called on the `smoltcp` socket.
    started: bool,
}

/// The interface, the device and the TCP sockets.
pub struct Stack<'d, 's, D: Device> {
    iface: Interface,
    device: &'d mut D,
    sockets: SocketSet<'s>,
    slots: [(SocketHandle, bool); SOCKETS],
    next_port: u16,
}

/// The interface for `device` with `mac`, address `ip`/`prefix` and a
/// default route through `gateway`.
pub fn interface<D: Device>(
    device: &mut D,
    mac: [u8; 6],
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
    seed: u64,
) -> Interface {
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    config.random_seed = seed;
    let mut iface = Interface::new(config, device, clock::now());
    iface.update_ip_addrs(|addrs| {
        // One address in an empty list: it fits.
        let _ = addrs.push(IpCidr::new(ip.into(), prefix));
    });
    // The route table is empty: the default route fits.
    let _ = iface.routes_mut().add_default_ipv4_route(gateway);
    iface
}

impl<'d, 's, D: Device> Stack<'d, 's, D> {
    /// A stack over `iface` and `device`; `sockets` holds the TCP sockets
    /// `handles` name (the connections it can open at once).
    pub fn new(
        iface: Interface,
        device: &'d mut D,
        sockets: SocketSet<'s>,
        handles: [SocketHandle; SOCKETS],
        seed: u64,
    ) -> Self {
        Stack {
            iface,
            device,
            sockets,
            slots: handles.map(|h| (h, false)),
            // Spread over the ephemeral range: a restarted device does not
            // reuse its last run's port.
            next_port: EPHEMERAL + (seed % u64::from(u16::MAX - EPHEMERAL)) as u16,
        }
    }

    /// Lets the interface send and receive what it can.
    pub fn poll(&mut self) {
        // What changed is seen through the sockets' states.
        let _ = self
            .iface
            .poll(clock::now(), &mut *self.device, &mut self.sockets);
    }

    /// The device.
    pub fn device(&self) -> &D {
        self.device
    }

    fn tcp(&mut self, socket: &Socket) -> &mut tcp::Socket<'s> {
        self.sockets.get_mut::<tcp::Socket>(socket.handle)
    }

    fn ephemeral_port(&mut self) -> u16 {
        let port = self.next_port;
        self.next_port = if port == u16::MAX {
            EPHEMERAL
        } else {
            port + 1
        };
        port
    }
}

/// Still opening: the handshake has not finished.
fn opening(state: State) -> bool {
    matches!(state, State::SynSent | State::SynReceived)
}

impl<D: Device> TcpClientStack for Stack<'_, '_, D> {
    type TcpSocket = Socket;
    type Error = NetError;

    fn socket(&mut self) -> Result<Socket, NetError> {
        self.poll();
        // A free socket that has finished closing; else one still closing
        // (TIME-WAIT, or a peer slow to answer our FIN), reset.
        let mut pick = None;
        for (slot, &(handle, used)) in self.slots.iter().enumerate() {
            if used {
                continue;
            }
            let closed = self.sockets.get::<tcp::Socket>(handle).state() == State::Closed;
            if closed {
                pick = Some((slot, handle));
                break;
            }
            pick = pick.or(Some((slot, handle)));
        }
        let (slot, handle) = pick.ok_or(NetError::NoSocket)?;
        let sock = self.sockets.get_mut::<tcp::Socket>(handle);
        if sock.state() != State::Closed {
            sock.abort();
        }
        if let Some(s) = self.slots.get_mut(slot) {
            s.1 = true;
        }
        Ok(Socket {
            slot,
            handle,
            started: false,
        })
    }

    fn connect(&mut self, socket: &mut Socket, remote: SocketAddr) -> nb::Result<(), NetError> {
        let SocketAddr::V4(remote) = remote else {
            return Err(nb::Error::Other(NetError::Unaddressable));
        };
        if !socket.started {
            let port = self.ephemeral_port();
            let cx = self.iface.context();
            let sock = self.sockets.get_mut::<tcp::Socket>(socket.handle);
            sock.connect(cx, SocketAddrV4::new(*remote.ip(), remote.port()), port)
                .map_err(|e| {
                    nb::Error::Other(match e {
                        tcp::ConnectError::Unaddressable => NetError::Unaddressable,
                        _ => NetError::InvalidState,
                    })
                })?;
            socket.started = true;
        }
        self.poll();
        match self.tcp(socket).state() {
            s if opening(s) => Err(nb::Error::WouldBlock),
            // A reset during the handshake (or a timeout) closes it.
            State::Closed => Err(nb::Error::Other(NetError::Refused)),
            _ => Ok(()),
        }
    }

    fn send(&mut self, socket: &mut Socket, buffer: &[u8]) -> nb::Result<usize, NetError> {
        self.poll();
        let sock = self.tcp(socket);
        if sock.can_send() {
            let n = sock
                .send_slice(buffer)
                .map_err(|_| nb::Error::Other(NetError::Closed))?;
            // Put it on the wire now, not at the next call.
            self.poll();
            return if n == 0 {
                Err(nb::Error::WouldBlock)
            } else {
                Ok(n)
            };
        }
        if sock.may_send() || opening(sock.state()) {
            Err(nb::Error::WouldBlock)
        } else {
            Err(nb::Error::Other(NetError::Closed))
        }
    }

    fn receive(&mut self, socket: &mut Socket, buffer: &mut [u8]) -> nb::Result<usize, NetError> {
        self.poll();
        let sock = self.tcp(socket);
        if sock.can_recv() {
            return match sock.recv_slice(buffer) {
                Ok(0) => Err(nb::Error::WouldBlock),
                Ok(n) => Ok(n),
                Err(_) => Err(nb::Error::Other(NetError::Closed)),
            };
        }
        if sock.may_recv() || opening(sock.state()) {
            Err(nb::Error::WouldBlock)
        } else {
            Err(nb::Error::Other(NetError::Closed))
        }
    }

    fn close(&mut self, socket: Socket) -> Result<(), NetError> {
        // A graceful close (FIN): the socket finishes closing while the
        // interface is polled, and is reused once closed.
        self.tcp(&socket).close();
        if let Some(s) = self.slots.get_mut(socket.slot) {
            s.1 = false;
        }
        self.poll();
        Ok(())
    }
}

/// The [`Wait`] for this stack: polls the interface and gives up when one
/// operation has made no progress for `timeout_ms` (or, should the host's
/// clock be missing, after `max_polls` polls).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    timeout_ms: u64,
    max_polls: u32,
    since: Instant,
}

impl Deadline {
    /// Ten seconds without progress (the test kit's read timeout is 5 s,
    /// the host test's 50 s), or five million polls should the host's
    /// clock be missing.
    pub fn standard() -> Self {
        Self::new(10_000, 5_000_000)
    }

    /// Gives up after `timeout_ms` without progress, or `max_polls` polls.
    pub fn new(timeout_ms: u64, max_polls: u32) -> Self {
        Deadline {
            timeout_ms,
            max_polls,
            since: Instant::ZERO,
        }
    }
}

impl<D: Device> Wait<Stack<'_, '_, D>> for Deadline {
    fn wait(&mut self, stack: &mut Stack<'_, '_, D>, _op: Op, attempt: u32) -> bool {
        let now = clock::now();
        if attempt <= 1 {
            self.since = now;
        }
        stack.poll();
        attempt < self.max_polls && (now - self.since).total_millis() < self.timeout_ms
    }
}
