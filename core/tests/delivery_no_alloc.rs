//! The per-point path (format, push, evict) and a poll (send, read, act)
//! touch no heap: a counting global allocator sees every allocation.

mod counting_alloc;

use counting_alloc::{allocations, Counting};
use linewire::http::Target;
use linewire::{Batch, Event, Precision, RetryPolicy, Writer, XorShift32};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A stream over fixed arrays: answers each request with `reply`.
struct Fixed {
    reply: &'static [u8],
    at: usize,
    sent: usize,
}

impl embedded_io::ErrorType for Fixed {
    type Error = core::convert::Infallible;
}
impl embedded_io::Read for Fixed {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let rest = &self.reply[self.at..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}
impl embedded_io::Write for Fixed {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.sent += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn pushing_evicting_and_polling_allocate_nothing() {
    let target = Target::v2("h", "b", "t").unwrap();
    let mut writer = Writer::<2048>::new(
        target,
        Precision::Seconds,
        RetryPolicy::new(),
        XorShift32::new(5),
    );
    let mut scratch = Batch::<128>::with_precision(Precision::Seconds);
    let mut buf = [0u8; 1024];
    let before = allocations();

    let mut evicted = 0;
    for i in 0..500i64 {
        scratch
            .point("env")
            .and_then(|p| p.tag("dev", "d1"))
            .and_then(|p| p.field("t", 20.5 + i as f64))
            .and_then(|p| p.field("note", "a\nb"))
            .and_then(|p| p.timestamp(1_700_000_000 + i))
            .unwrap();
        evicted += writer.push(&scratch).unwrap();
        scratch.clear();
    }
    let mut throttled = Fixed {
        reply: b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 45\r\n\r\n{\"code\":\"too many requests\",\"message\":\"slow\"}",
        at: 0,
        sent: 0,
    };
    let first = writer.poll(0, &mut throttled, &mut buf).unwrap().event;
    let mut ok = Fixed {
        reply: b"HTTP/1.1 204 No Content\r\n\r\n",
        at: 0,
        sent: 0,
    };
    let second = writer.poll(1_000, &mut ok, &mut buf).unwrap().event;
    let stats = writer.stats();

    let after = allocations();
    assert!(evicted > 400, "{evicted}");
    assert_eq!(first, Event::Retrying { until_ms: 1_000 });
    assert!(matches!(second, Event::Delivered { .. }), "{second:?}");
    assert!(ok.sent > 0);
    assert_eq!(stats.last_message.as_str(), "slow");
    assert_eq!(after - before, 0, "allocations on the delivery path");
}

#[test]
fn the_counter_sees_allocations() {
    counting_alloc::assert_the_counter_counts();
}

#[test]
fn the_machine_over_a_borrowed_queue_allocates_nothing() {
    use linewire::http::Outcome;
    use linewire::{BorrowedQueue, Completion, Delivery, LastError, Next};

    let mut ring = [0u8; 512];
    let mut machine = Delivery::new(
        BorrowedQueue::with_precision(&mut ring, Precision::Seconds),
        RetryPolicy::new().max_retries(None).max_elapsed_ms(None),
        XorShift32::new(9),
    );
    machine.set_max_lines(7);
    let mut scratch = Batch::<64>::with_precision(Precision::Seconds);
    let before = allocations();
    let mut now = 0u64;
    for i in 0..300i64 {
        scratch
            .point("m")
            .and_then(|p| p.field("v", i))
            .and_then(|p| p.timestamp(i))
            .unwrap();
        machine.push(&scratch).unwrap();
        scratch.clear();
        if let Next::Send { .. } = machine.next(now) {
            let _ = machine.upcoming();
            let done = match i % 4 {
                0 => Completion::answered(503, Outcome::Unavailable { retry_after: None }, "busy"),
                1 => Completion::Failed {
                    error: LastError::Connect,
                    received: false,
                    reused: false,
                },
                2 => Completion::answered(413, Outcome::TooLarge { max_length: None }, ""),
                _ => Completion::answered(204, Outcome::Written, ""),
            };
            machine.complete(now, done);
        }
        now += 20_000;
    }
    assert_eq!(allocations(), before);
    let s = machine.stats();
    assert!(s.sent > 0 && s.retries > 0);
    assert_eq!(s.settled(), s.accepted);
}
