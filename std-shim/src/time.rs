//! The current time as a timestamp: [`now`].

use std::time::{SystemTime, UNIX_EPOCH};

use linewire::{Precision, MAX_TIMESTAMP_NS};

/// The system clock's current time as a timestamp in `precision`: whole
/// units since the Unix epoch (1970-01-01 UTC), rounded down, ready for
/// [`timestamp`](linewire::PointBuilder::timestamp) on a batch of that
/// precision.
///
/// Saturating, never panicking: a clock set before 1970 gives the negative
/// time before the epoch, and one beyond what InfluxDB stores (2262-04-11)
/// gives the last timestamp it accepts, so that a wrong clock shows up as
/// wrong data rather than as a crash.
///
/// ```
/// use linewire_std::{now, Batch, Client, Precision};
///
/// # let server = linewire_testkit::TestServer::start();
/// # let url = server.url();
/// let client = Client::new(&url, None)?.bucket("home");
/// let mut batch = Batch::<256>::with_precision(Precision::Seconds);
/// batch.point("env")?.field("temp", 21.5)?.timestamp(now(Precision::Seconds))?;
/// client.write(&batch)?;
/// # let stored = server.points("home")[0].timestamp_ns;
/// # assert_eq!(stored % 1_000_000_000, 0);
/// # assert!(stored > 1_700_000_000_000_000_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn now(precision: Precision) -> i64 {
    at(SystemTime::now(), precision)
}

/// `time` as a timestamp in `precision` (see [`now`]).
pub(crate) fn at(time: SystemTime, precision: Precision) -> i64 {
    let per_unit = u128::from(precision.nanos_per_unit().unsigned_abs());
    let limit = u128::from(MAX_TIMESTAMP_NS.unsigned_abs()) / per_unit;
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => {
            let units = (since.as_nanos() / per_unit).min(limit);
            i64::try_from(units).unwrap_or(i64::MAX)
        }
        Err(before) => {
            // Rounded down, as after the epoch: 1.5 units before is -2.
            let nanos = before.duration().as_nanos();
            let units = nanos.div_ceil(per_unit).min(limit);
            i64::try_from(units).map_or(i64::MIN, |u| -u)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn units_since_the_epoch_rounded_down() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 987_654_321);
        assert_eq!(at(t, Precision::Nanoseconds), 1_700_000_000_987_654_321);
        assert_eq!(at(t, Precision::Microseconds), 1_700_000_000_987_654);
        assert_eq!(at(t, Precision::Milliseconds), 1_700_000_000_987);
        assert_eq!(at(t, Precision::Seconds), 1_700_000_000);
        assert_eq!(at(t, Precision::Minutes), 28_333_333);
        assert_eq!(at(t, Precision::Hours), 472_222);
    }

    #[test]
    fn before_the_epoch_is_negative_and_rounded_down() {
        let t = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(at(t, Precision::Seconds), -2);
        assert_eq!(at(t, Precision::Milliseconds), -1_500);
    }

    #[test]
    fn saturates_at_what_influxdb_stores() {
        let far = UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
        assert_eq!(at(far, Precision::Nanoseconds), MAX_TIMESTAMP_NS);
        assert_eq!(
            at(far, Precision::Seconds),
            MAX_TIMESTAMP_NS / 1_000_000_000
        );
        let Some(long_ago) = UNIX_EPOCH.checked_sub(Duration::from_secs(1 << 40)) else {
            return; // the platform's SystemTime cannot go that far back
        };
        assert_eq!(at(long_ago, Precision::Nanoseconds), -MAX_TIMESTAMP_NS);
    }

    #[test]
    fn now_follows_the_clock() {
        let before = at(SystemTime::now(), Precision::Milliseconds);
        let n = now(Precision::Milliseconds);
        let after = at(SystemTime::now(), Precision::Milliseconds);
        assert!(before <= n && n <= after, "{before} {n} {after}");
        assert!(n > 1_700_000_000_000, "the clock is set after 2023");
    }
}
