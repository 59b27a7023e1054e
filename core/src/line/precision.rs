//! Timestamp precision and checked conversion between precisions.

use core::fmt;

/// The smallest timestamp InfluxDB accepts, in nanoseconds (1677-09-21).
pub const MIN_TIMESTAMP_NS: i64 = -9_223_372_036_854_775_806;
/// The largest timestamp InfluxDB accepts, in nanoseconds (2262-04-11).
pub const MAX_TIMESTAMP_NS: i64 = 9_223_372_036_854_775_806;

/// The unit of the timestamps in a batch and of the `precision` query parameter.
///
/// ```
/// use linewire::Precision;
///
/// assert_eq!(Precision::Milliseconds.as_str(), "ms");
/// assert_eq!(Precision::Milliseconds.convert(1_500, Precision::Seconds)?, 1);
/// assert_eq!(Precision::Seconds.convert(2, Precision::Nanoseconds)?, 2_000_000_000);
/// # Ok::<(), linewire::TimestampError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Precision {
    /// Nanoseconds (`ns`), the server default.
    #[default]
    Nanoseconds,
    /// Microseconds (`us`).
    Microseconds,
    /// Milliseconds (`ms`).
    Milliseconds,
    /// Seconds (`s`).
    Seconds,
    /// Minutes (`m`). Sent on the wire as seconds: see [`Precision::wire`].
    Minutes,
    /// Hours (`h`). Sent on the wire as seconds: see [`Precision::wire`].
    Hours,
}

/// A timestamp that InfluxDB cannot store, or that a conversion would overflow.
///
/// ```
/// use linewire::{Precision, TimestampError};
///
/// assert_eq!(
///     Precision::Seconds.convert(i64::MAX, Precision::Nanoseconds),
///     Err(TimestampError::OutOfRange)
/// );
/// # Ok::<(), TimestampError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TimestampError {
    /// Outside 1677-09-21 ..= 2262-04-11, the range InfluxDB stores.
    OutOfRange,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange => f.write_str(
                "timestamp outside the range InfluxDB stores (1677-09-21 to 2262-04-11)",
            ),
        }
    }
}

impl core::error::Error for TimestampError {}

impl Precision {
    /// Every precision, finest first.
    ///
    /// ```
    /// assert_eq!(linewire::Precision::ALL.len(), 6);
    /// ```
    pub const ALL: [Precision; 6] = [
        Precision::Nanoseconds,
        Precision::Microseconds,
        Precision::Milliseconds,
        Precision::Seconds,
        Precision::Minutes,
        Precision::Hours,
    ];

    /// The `precision` value of the v2 API: `ns`, `us`, `ms`, `s`, `m` or `h`.
    ///
    /// ```
    /// assert_eq!(linewire::Precision::Microseconds.as_str(), "us");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Nanoseconds => "ns",
            Self::Microseconds => "us",
            Self::Milliseconds => "ms",
            Self::Seconds => "s",
            Self::Minutes => "m",
            Self::Hours => "h",
        }
    }

    /// The `precision` value of the v1 `/write` API: `n`, `u`, `ms`, `s`, `m` or `h`.
    ///
    /// ```
    /// assert_eq!(linewire::Precision::Nanoseconds.v1_str(), "n");
    /// ```
    pub const fn v1_str(self) -> &'static str {
        match self {
            Self::Nanoseconds => "n",
            Self::Microseconds => "u",
            Self::Milliseconds => "ms",
            Self::Seconds => "s",
            Self::Minutes => "m",
            Self::Hours => "h",
        }
    }

    /// Parses a v2 (`ns us ms s m h`) or v1 (`n u`) precision name.
    ///
    /// ```
    /// use linewire::Precision;
    /// assert_eq!(Precision::parse("ms"), Some(Precision::Milliseconds));
    /// assert_eq!(Precision::parse("u"), Some(Precision::Microseconds));
    /// assert_eq!(Precision::parse("x"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Precision> {
        Some(match name {
            "ns" | "n" => Self::Nanoseconds,
            "us" | "u" => Self::Microseconds,
            "ms" => Self::Milliseconds,
            "s" => Self::Seconds,
            "m" => Self::Minutes,
            "h" => Self::Hours,
            _ => return None,
        })
    }

    /// How many nanoseconds one unit of this precision is.
    ///
    /// ```
    /// assert_eq!(linewire::Precision::Minutes.nanos_per_unit(), 60_000_000_000);
    /// ```
    pub const fn nanos_per_unit(self) -> i64 {
        match self {
            Self::Nanoseconds => 1,
            Self::Microseconds => 1_000,
            Self::Milliseconds => 1_000_000,
            Self::Seconds => 1_000_000_000,
            Self::Minutes => 60_000_000_000,
            Self::Hours => 3_600_000_000_000,
        }
    }

    /// The precision a batch of this precision carries on the wire.
    ///
    /// The API page lists `m` and `h`, but the same servers' own error
    /// message accepts only `s ms us ns`, so minute and hour timestamps are
    /// written as seconds (exactly, no rounding) and sent with `precision=s`.
    ///
    /// ```
    /// use linewire::Precision;
    /// assert_eq!(Precision::Hours.wire(), Precision::Seconds);
    /// assert_eq!(Precision::Milliseconds.wire(), Precision::Milliseconds);
    /// ```
    pub const fn wire(self) -> Precision {
        match self {
            Self::Minutes | Self::Hours => Self::Seconds,
            other => other,
        }
    }

    /// Converts `timestamp` from this precision to `to`.
    ///
    /// Going to a finer unit multiplies, and a result outside the range
    /// InfluxDB stores is an error rather than a wrap. Going to a coarser unit
    /// rounds towards negative infinity (the start of the unit it falls in),
    /// so a timestamp before 1970 stays in the right second.
    ///
    /// ```
    /// use linewire::Precision;
    /// assert_eq!(Precision::Milliseconds.convert(-1, Precision::Seconds)?, -1);
    /// assert_eq!(Precision::Hours.convert(1, Precision::Seconds)?, 3600);
    /// # Ok::<(), linewire::TimestampError>(())
    /// ```
    pub fn convert(self, timestamp: i64, to: Precision) -> Result<i64, TimestampError> {
        check_range(timestamp, self)?;
        let from_ns = self.nanos_per_unit();
        let to_ns = to.nanos_per_unit();
        if from_ns >= to_ns {
            // Both are whole multiples of one another: every unit divides the next.
            let factor = from_ns / to_ns;
            timestamp
                .checked_mul(factor)
                .ok_or(TimestampError::OutOfRange)
        } else {
            Ok(timestamp.div_euclid(to_ns / from_ns))
        }
    }

    /// `timestamp`, in this precision, as written on the wire (in
    /// [`Precision::wire`]): what `self.convert(timestamp, self.wire())`
    /// gives, without its divisions.
    #[inline]
    pub(crate) fn to_wire(self, timestamp: i64) -> Result<i64, TimestampError> {
        check_range(timestamp, self)?;
        let factor = match self {
            Self::Minutes => 60,
            Self::Hours => 3_600,
            _ => return Ok(timestamp),
        };
        timestamp
            .checked_mul(factor)
            .ok_or(TimestampError::OutOfRange)
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks that `timestamp`, in `precision`, lies within what InfluxDB stores.
pub(crate) fn check_range(timestamp: i64, precision: Precision) -> Result<(), TimestampError> {
    // The bounds are symmetric, so the limit in a unit is the ns limit
    // divided; spelled out per unit so that no division runs per point.
    let limit = match precision {
        Precision::Nanoseconds => MAX_TIMESTAMP_NS,
        Precision::Microseconds => MAX_TIMESTAMP_NS / 1_000,
        Precision::Milliseconds => MAX_TIMESTAMP_NS / 1_000_000,
        Precision::Seconds => MAX_TIMESTAMP_NS / 1_000_000_000,
        Precision::Minutes => MAX_TIMESTAMP_NS / 60_000_000_000,
        Precision::Hours => MAX_TIMESTAMP_NS / 3_600_000_000_000,
    };
    if (-limit..=limit).contains(&timestamp) {
        Ok(())
    } else {
        Err(TimestampError::OutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_wire_is_convert_to_wire() {
        for p in Precision::ALL {
            let limit = MAX_TIMESTAMP_NS / p.nanos_per_unit();
            for ts in [
                0,
                1,
                -1,
                1_700_000_000,
                59,
                -61,
                3_601,
                limit,
                -limit,
                limit + 1,
                -limit - 1,
                i64::MIN,
                i64::MAX,
            ] {
                assert_eq!(p.to_wire(ts), p.convert(ts, p.wire()), "{p} {ts}");
            }
        }
    }

    #[test]
    fn range_edges_per_precision() {
        assert_eq!(
            check_range(MAX_TIMESTAMP_NS, Precision::Nanoseconds),
            Ok(())
        );
        assert_eq!(
            check_range(MIN_TIMESTAMP_NS, Precision::Nanoseconds),
            Ok(())
        );
        assert!(check_range(MAX_TIMESTAMP_NS + 1, Precision::Nanoseconds).is_err());
        assert!(check_range(MIN_TIMESTAMP_NS - 1, Precision::Nanoseconds).is_err());
        assert!(check_range(i64::MIN, Precision::Nanoseconds).is_err());
        assert_eq!(check_range(9_223_372_036, Precision::Seconds), Ok(()));
        assert!(check_range(9_223_372_037, Precision::Seconds).is_err());
        assert_eq!(check_range(-9_223_372_036, Precision::Seconds), Ok(()));
        assert!(check_range(-9_223_372_037, Precision::Seconds).is_err());
        assert!(check_range(2_562_048, Precision::Hours).is_err());
        assert_eq!(check_range(2_562_047, Precision::Hours), Ok(()));
    }

    #[test]
    fn convert_round_trips_and_floors() {
        for p in Precision::ALL {
            for q in Precision::ALL {
                let ts = 400_000i64;
                let there = p.convert(ts, q);
                if p.nanos_per_unit() >= q.nanos_per_unit() {
                    assert_eq!(q.convert(there.unwrap(), p), Ok(ts), "{p} -> {q}");
                }
            }
        }
        assert_eq!(
            Precision::Nanoseconds.convert(-1, Precision::Seconds),
            Ok(-1)
        );
        assert_eq!(
            Precision::Nanoseconds.convert(999_999_999, Precision::Seconds),
            Ok(0)
        );
        assert_eq!(
            Precision::Hours.convert(2_562_047, Precision::Nanoseconds),
            Ok(2_562_047 * 3_600_000_000_000)
        );
        assert_eq!(
            Precision::Seconds.convert(9_300_000_000, Precision::Nanoseconds),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn names_parse_back() {
        for p in Precision::ALL {
            assert_eq!(Precision::parse(p.as_str()), Some(p));
            assert_eq!(Precision::parse(p.v1_str()), Some(p));
        }
    }
}
