//! The board's network, brought up once: the Ethernet controller, the
//! interface at qemu's user-networking address, and the TCP sockets, with
//! their buffers in statics (RAM the budgets count, not stack).

use core::net::Ipv4Addr;
use core::sync::atomic::{AtomicBool, Ordering};

use smoltcp::iface::{SocketSet, SocketStorage};
use smoltcp::socket::tcp;

use crate::clock;
use crate::net::{self, Stack, SOCKETS};
use crate::stellaris::Enet;

/// qemu's user networking (slirp): the device's address and prefix.
pub const DEVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The prefix of [`DEVICE_IP`]'s network.
pub const PREFIX: u8 = 24;
/// The gateway, which is also the host's loopback.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// Each TCP socket's receive and send buffers.
pub const SOCKET_BUF: usize = 1024;

/// The network stack this board runs.
pub type BoardStack = Stack<'static, 'static, Enet>;

static TAKEN: AtomicBool = AtomicBool::new(false);
static mut ENET: Enet = Enet::new();
static mut STORAGE: [SocketStorage<'static>; SOCKETS] = [SocketStorage::EMPTY; SOCKETS];
static mut BUFFERS: [[u8; SOCKET_BUF]; 2 * SOCKETS] = [[0; SOCKET_BUF]; 2 * SOCKETS];

/// Starts the controller and returns it alone, for a stack of the
/// caller's (embassy-net in `firmware-async`); `None` after the first call
/// of this or [`network`] (they own the controller).
pub fn controller() -> Option<&'static mut Enet> {
    if TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: `TAKEN` lets this run once: this is the only reference to
    // the static.
    let enet = unsafe { &mut *core::ptr::addr_of_mut!(ENET) };
    enet.start();
    Some(enet)
}

/// Starts the controller and returns the stack; `None` after the first
/// call of this or [`controller`] (it owns the controller and the statics).
pub fn network() -> Option<BoardStack> {
    let enet = controller()?;
    // SAFETY: `controller` succeeds once, and only here does this module
    // use the socket statics: these are the only references to them.
    let (storage, buffers) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(STORAGE),
            &mut *core::ptr::addr_of_mut!(BUFFERS),
        )
    };
    let seed = clock::seed();
    let mac = enet.mac();
    let iface = net::interface(enet, mac, DEVICE_IP, PREFIX, GATEWAY, seed);
    let mut sockets = SocketSet::new(&mut storage[..]);
    let [r0, t0, r1, t1] = buffers;
    let mut add = |rx: &'static mut [u8; SOCKET_BUF], tx: &'static mut [u8; SOCKET_BUF]| {
        sockets.add(tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        ))
    };
    let handles = [add(r0, t0), add(r1, t1)];
    Some(Stack::new(iface, enet, sockets, handles, seed))
}
