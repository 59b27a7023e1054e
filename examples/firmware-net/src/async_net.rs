//! The async variant's network (feature `async`): `embassy-net` 0.9 over
//! the same Ethernet controller ([`crate::stellaris`] implements
//! `embassy_net_driver::Driver`), its resources and socket buffers in
//! statics, and the time driver `embassy-time` needs, on the semihosting
//! clock ([`crate::clock`]).
//!
//! There is no executor and no interrupt: `embassy_futures::block_on`
//! polls the network's runner and the application in a loop, so a timer
//! only has to report the time; a wake-up it is asked for is given at once.

use core::task::Waker;

use embassy_net::{Config, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};

use crate::board::{self, SOCKET_BUF};
use crate::clock;
use crate::stellaris::Enet;

/// The one TCP socket's receive and send buffers, and the stack's
/// resources (one socket).
static mut RESOURCES: StackResources<1> = StackResources::new();
static mut RX: [u8; SOCKET_BUF] = [0; SOCKET_BUF];
static mut TX: [u8; SOCKET_BUF] = [0; SOCKET_BUF];

/// What [`network`] hands out.
pub struct Network {
    /// The stack, for sockets.
    pub stack: Stack<'static>,
    /// Drives the interface: run it next to the application.
    pub runner: Runner<'static, &'static mut Enet>,
    /// The socket's receive buffer.
    pub rx: &'static mut [u8],
    /// The socket's send buffer.
    pub tx: &'static mut [u8],
}

/// Starts the controller and an embassy-net stack at qemu's
/// user-networking address; `None` when the controller was already taken.
pub fn network() -> Option<Network> {
    let enet = board::controller()?;
    // SAFETY: `board::controller` succeeds once, and only here are these
    // statics used: these are the only references to them.
    let (resources, rx, tx) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(RESOURCES),
            &mut *core::ptr::addr_of_mut!(RX),
            &mut *core::ptr::addr_of_mut!(TX),
        )
    };
    let config = Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(board::DEVICE_IP, board::PREFIX),
        gateway: Some(board::GATEWAY),
        dns_servers: Default::default(),
    });
    let (stack, runner) = embassy_net::new(enet, config, resources, clock::seed());
    Some(Network {
        stack,
        runner,
        rx: &mut rx[..],
        tx: &mut tx[..],
    })
}

/// `embassy-time`'s clock: the semihosting clock in microsecond ticks
/// (the default tick rate).
struct SemihostingTime;

impl embassy_time_driver::Driver for SemihostingTime {
    fn now(&self) -> u64 {
        // Non-negative: the clock counts from zero.
        (clock::now().total_millis() as u64).saturating_mul(1000)
    }

    fn schedule_wake(&self, _at: u64, waker: &Waker) {
        // `block_on` polls again at once anyway; the timer compares the
        // time on that poll.
        waker.wake_by_ref();
    }
}

embassy_time_driver::time_driver_impl!(static TIME: SemihostingTime = SemihostingTime);
