//! What the TLS variants share (feature `tls`): their command line
//! ([`Settings`]), the CA and the record buffers ([`parts`]), and what
//! `embedded-tls` 0.19 needs: the random numbers and the certificate check
//! ([`Provider`]), the time the certificates' dates are checked against
//! ([`HostClock`]); and for the blocking variant, [`Shared`]: the
//! connection a session runs over, reachable between polls so that the
//! network stack keeps being polled while the writer backs off.

use core::cell::RefCell;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, Ordering};

use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CryptoProvider, CryptoRngCore, TlsClock, TlsError, TlsVerifier,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::host::{self, Console};
use crate::{clock, config};

/// Room for the server's certificate chain, kept from the `Certificate`
/// message to check the `CertificateVerify` signature.
pub const CHAIN_BUF: usize = 2048;
/// A TLS record's largest size (16 KiB of plaintext, its header, tag and
/// padding): the server chooses how large its records are, so the read
/// buffer takes the largest.
pub const TLS_READ_BUF: usize = 16_640;
/// Records the firmware sends: a request's head and body in a few records.
pub const TLS_WRITE_BUF: usize = 2048;
/// The largest CA certificate (DER) read from the host.
pub const CA_BUF: usize = 2048;

/// embedded-tls's crypto for one handshake: a random number generator and
/// the certificate check (the CA, the server's name, the validity dates).
pub struct Provider<'r, 'c> {
    rng: &'r mut ChaCha20Rng,
    verifier: CertVerifier<'c, Aes128GcmSha256, HostClock, CHAIN_BUF>,
}

impl<'r, 'c> Provider<'r, 'c> {
    /// Draws from `rng` and trusts `ca` (a DER certificate); the server's
    /// name is the `TlsConfig`'s.
    pub fn new(rng: &'r mut ChaCha20Rng, ca: &'c [u8]) -> Self {
        Provider {
            rng,
            verifier: CertVerifier::new(Certificate::X509(ca)),
        }
    }
}

impl CryptoProvider for Provider<'_, '_> {
    type CipherSuite = Aes128GcmSha256;
    type Signature = &'static [u8];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// The random numbers' generator. Not secret on this board: it has no
/// hardware RNG, and the seed is the time. A device seeds it from its TRNG.
pub fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(clock::seed())
}

/// The certificates' validity dates are checked against the host's wall
/// clock (`SYS_TIME`); a device uses its RTC or SNTP time.
pub struct HostClock;

impl TlsClock for HostClock {
    fn now() -> Option<u64> {
        // SAFETY: SYS_TIME takes no argument.
        let secs = unsafe { cortex_m_semihosting::syscall1(cortex_m_semihosting::nr::TIME, 0) };
        // The host answers -1 on error; then the dates go unchecked.
        (secs != usize::MAX).then_some(secs as u64)
    }
}

/// The command line's settings: `port=N ca=PATH name=HOST`.
pub struct Settings<'a> {
    /// The server's port.
    pub port: u16,
    /// The host's DER file of the CA that signed the server's certificate.
    pub ca_path: &'a str,
    /// The server's name: SNI, the name checked in its certificate, and
    /// the `Host` header.
    pub name: &'a str,
}

impl<'a> Settings<'a> {
    /// Reads them from the command line (into `line`), or says what is
    /// wrong.
    pub fn read(out: &mut Console, line: &'a mut [u8]) -> Option<Self> {
        let Some(line) = host::command_line(line) else {
            let _ = writeln!(out, "ERROR the command line cannot be read");
            return None;
        };
        let port = match config::port(line) {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(out, "ERROR {e}");
                return None;
            }
        };
        let _ = writeln!(out, "CONFIG port={port}");
        let (Some(ca_path), Some(name)) = (config::arg(line, "ca"), config::arg(line, "name"))
        else {
            let _ = writeln!(
                out,
                "ERROR the command line names no CA file or server name (pass ca=PATH name=HOST)"
            );
            return None;
        };
        Some(Settings {
            port,
            ca_path,
            name,
        })
    }
}

// The record buffers and the CA in statics: RAM the budgets count, not
// stack.
static TAKEN: AtomicBool = AtomicBool::new(false);
static mut TLS_RX: [u8; TLS_READ_BUF] = [0; TLS_READ_BUF];
static mut TLS_TX: [u8; TLS_WRITE_BUF] = [0; TLS_WRITE_BUF];
static mut CA: [u8; CA_BUF] = [0; CA_BUF];

/// The CA and the record buffers: [`parts`] hands them out.
pub struct Parts {
    /// The CA certificate (DER), read from the host.
    pub ca: &'static [u8],
    /// The record read buffer.
    pub rx: &'static mut [u8],
    /// The record write buffer.
    pub tx: &'static mut [u8],
}

/// Reads the CA named by `settings` (and says how long it is) and hands
/// out the record buffers; says what is wrong and returns `None` when the
/// file cannot be read, or on a second call.
pub fn parts(out: &mut Console, settings: &Settings<'_>) -> Option<Parts> {
    if TAKEN.swap(true, Ordering::AcqRel) {
        let _ = writeln!(out, "ERROR the TLS buffers were already taken");
        return None;
    }
    // SAFETY: `TAKEN` lets this run once: these are the only references
    // to the statics.
    let (ca_buf, rx, tx) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(CA),
            &mut *core::ptr::addr_of_mut!(TLS_RX),
            &mut *core::ptr::addr_of_mut!(TLS_TX),
        )
    };
    let Some(ca) = host::read_file(settings.ca_path, ca_buf) else {
        let _ = writeln!(
            out,
            "ERROR the CA file cannot be read (or is over {CA_BUF} bytes)"
        );
        return None;
    };
    let _ = writeln!(out, "CA bytes={}", ca.len());
    Some(Parts {
        ca,
        rx: &mut rx[..],
        tx: &mut tx[..],
    })
}

/// A stream a `TlsConnection` runs over while its owner keeps reaching it
/// (`embedded-tls` has no way back to its socket but `close`, which sends
/// a `close_notify`): between polls the blocking firmware borrows the
/// `NalStream` to poll the network stack during the writer's backoff.
/// A borrow that fails (it never does: the session and the wait take
/// turns) is an I/O error, not a panic.
pub struct Shared<'a, S>(pub &'a RefCell<S>);

impl<S: embedded_io::ErrorType> Shared<'_, S> {
    /// Runs `op` on the stream, its error reduced to a kind.
    fn with<T>(
        &self,
        op: impl FnOnce(&mut S) -> Result<T, S::Error>,
    ) -> Result<T, embedded_io::ErrorKind> {
        use embedded_io::Error as _;
        let mut s = self
            .0
            .try_borrow_mut()
            .map_err(|_| embedded_io::ErrorKind::Other)?;
        op(&mut s).map_err(|e| e.kind())
    }
}

impl<S: embedded_io::ErrorType> embedded_io::ErrorType for Shared<'_, S> {
    type Error = embedded_io::ErrorKind;
}

impl<S: embedded_io::Read> embedded_io::Read for Shared<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.with(|s| s.read(buf))
    }
}

impl<S: embedded_io::Write> embedded_io::Write for Shared<'_, S> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.with(|s| s.write(buf))
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.with(|s| s.flush())
    }
}
