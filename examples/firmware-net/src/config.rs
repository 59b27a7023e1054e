//! The run's settings from its command line (`firmware-net port=8086`):
//! space-separated `key=value` words. The host test includes this file and
//! checks it.

use core::fmt;

/// Why the command line gives no usable server port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PortError {
    /// No `port=` word.
    Missing,
    /// `port=` is not a number from 1 to 65535.
    Invalid,
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "the command line names no server port (pass port=N)",
            Self::Invalid => "the command line's port is not a number from 1 to 65535",
        })
    }
}

/// The value of the first `key=value` word.
pub fn arg<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .filter_map(|w| w.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The server's port: `port=N`, 1 to 65535.
///
/// # Errors
///
/// [`PortError`] when it is missing or not such a number.
pub fn port(line: &str) -> Result<u16, PortError> {
    arg(line, "port")
        .ok_or(PortError::Missing)?
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or(PortError::Invalid)
}
