//! Scriptable misbehaviour: what can go wrong, when, and a record of what did.

use std::ops::RangeInclusive;
use std::time::Duration;

/// One way the server can misbehave on a write request.
///
/// Faults apply to write requests only (`POST /api/v2/write` and `POST /write`).
/// Several faults can hit the same request; they combine as follows:
/// the delays are slept first; [`Fault::CloseBeforeBody`] then ends the connection;
/// otherwise the body is read, the first *status* fault ([`Fault::TooManyRequests`],
/// [`Fault::ServiceUnavailable`], [`Fault::InternalError`], [`Fault::BadGateway`],
/// [`Fault::PayloadTooLarge`], [`Fault::Redirect`], [`Fault::ControlCharacters`]) replaces
/// the normal answer (nothing is stored);
/// [`Fault::CloseAfterBody`] then ends the connection without an answer; the
/// *response* faults ([`Fault::ChunkedResponse`], [`Fault::ConnectionClose`],
/// [`Fault::SplitWrites`], [`Fault::ManyHeaders`], [`Fault::PadErrorBody`],
/// [`Fault::EchoAuthorization`], [`Fault::BrokenChunkedResponse`]) change how the answer is
/// sent. [`Fault::TooLargeBeforeBody`] acts right after the head (after the delays and
/// [`Fault::CloseBeforeBody`]; on a chunked body, once the chunks read pass its limit); [`Fault::AnswerAsV1`] changes how the write is handled.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 Too Many Requests with `Retry-After: <secs>` and a Cloud-style JSON body.
    TooManyRequests {
        /// The `Retry-After` value in whole seconds.
        retry_after_secs: u64,
    },
    /// 503 Service Unavailable, with `Retry-After: <secs>` when given.
    ServiceUnavailable {
        /// The `Retry-After` value in whole seconds, or `None` for no header.
        retry_after_secs: Option<u64>,
    },
    /// 500 Internal Server Error with a JSON body `{"code":"internal error",...}`.
    InternalError,
    /// 502 Bad Gateway with an HTML body, as a proxy or load balancer sends it.
    BadGateway,
    /// 413 with the Telegraf/Cloud-like JSON body, whatever the body size.
    PayloadTooLarge,
    /// Sleep this long before reading the body and answering.
    Delay(Duration),
    /// Close the connection after the request head, before reading the body. Nothing is stored.
    CloseBeforeBody,
    /// Read and process the body (the points are stored), then close without answering.
    CloseAfterBody,
    /// Send the response body with `Transfer-Encoding: chunked` (only for answers that have a body).
    ChunkedResponse,
    /// Answer with `Connection: close` and close the connection afterwards.
    ConnectionClose,
    /// Send the response one byte per TCP write.
    SplitWrites,
    /// A 3xx redirect (`status`: 301, 302, 303, 307 or 308) with `Location` pointing at
    /// `/portal/login` on this server, which answers `200 OK` with an HTML page to any method,
    /// as a login proxy or captive portal does. The body is read; nothing is stored. A client
    /// that follows the redirect gets a 200 for data that was never stored.
    Redirect {
        /// The redirect status.
        status: u16,
    },
    /// When the request body is larger than `over` bytes, answer 413 (with `maxLength` =
    /// `over`) straight after the request head, before reading the body, and close the
    /// connection, as Go's `net/http` does for an InfluxDB whose limit is exceeded. With
    /// `drain: false` the unread body is not drained: the client still writing it gets a
    /// connection reset, and may lose the 413 (Go closes once more than 256 KiB are unread).
    /// With `drain: true` what is left of the body is read and discarded after the 413 (all
    /// of a `Content-Length` body, a chunked one through its last chunk; each read waits up
    /// to the server's read timeout), so that the 413 reliably arrives. A chunked body
    /// (length unknown from the head) is read chunk by chunk while the chunks fit in `over`
    /// bytes: the 413 comes when the next chunk's size line would pass it. Nothing is stored. Smaller bodies are served normally.
    /// An `Expect: 100-continue` request over the limit gets the 413 instead of `100 Continue`.
    TooLargeBeforeBody {
        /// The largest body accepted, in bytes on the wire.
        over: usize,
        /// Discard the unread body before closing (deterministic) or not (a reset).
        drain: bool,
    },
    /// Answer the `/api/v2/write` request as InfluxDB 1.x answers `/write`: bucket as
    /// database, `{"error": ...}` bodies with the same text in `X-Influxdb-Error`, bad lines a
    /// 400 partial write (`partial write: unable to parse '<line>': <reason> dropped=0`,
    /// quoting each bad line whole) with the good lines stored.
    AnswerAsV1,
    /// Add `count` headers `X-Testkit-Filler-<i>`, each with a value of `len` bytes, to the
    /// answer, whatever it is (a 204 too). What is stored does not change.
    ManyHeaders {
        /// How many headers.
        count: usize,
        /// The length of each value.
        len: usize,
    },
    /// Pad a non-2xx JSON answer to at least `bytes` bytes with a trailing `"padding"`
    /// member (after `code`, `line`, `message`, so a client reading only the start still
    /// sees them); a body that is not a JSON object is padded with `.` bytes. What is stored
    /// does not change.
    PadErrorBody {
        /// The smallest size of the padded body.
        bytes: usize,
    },
    /// Send the answer chunked and break the chunking after the first chunk (an invalid chunk
    /// size), then close. A 204 becomes `200 OK` with the JSON body `{"status":"ok",...}`,
    /// so that there is a body to break; the points are stored as without the fault. A
    /// non-2xx answer keeps its status and what it stored.
    BrokenChunkedResponse,
    /// A non-2xx answer's message (`message` or `error`; a body that is not a JSON object
    /// itself) and its `X-Influxdb-Error` header end with the request's `Authorization`
    /// header, quoted: `(request had Authorization: "<value>")`, as some proxies and servers
    /// echo it in 400 and 401 bodies. What is stored does not change.
    EchoAuthorization,
    /// 400 whose message holds terminal control sequences: ESC `[2J` (clear screen), BEL, CR,
    /// and the 8-bit CSI U+009B `31m`; `X-Platform-Error-Code` also carries a U+009B. With
    /// `json_escaped` the body is valid JSON with `\u001b`-style escapes; without, the
    /// control bytes are raw in the JSON string (invalid JSON, as a careless server sends
    /// it). The body is read; nothing is stored.
    ControlCharacters {
        /// Escape the control characters as JSON `\uXXXX` (true) or send them raw (false).
        json_escaped: bool,
    },
    /// The server was switched down with [`DownMode::CloseImmediately`](crate::DownMode) and
    /// closed a connection without reading a request. Only ever recorded, never scripted.
    ClosedWhileDown,
}

impl Fault {
    pub(crate) fn is_status(&self) -> bool {
        matches!(
            self,
            Fault::TooManyRequests { .. }
                | Fault::ServiceUnavailable { .. }
                | Fault::InternalError
                | Fault::BadGateway
                | Fault::PayloadTooLarge
                | Fault::Redirect { .. }
                | Fault::ControlCharacters { .. }
        )
    }
}

/// A fault that happened, for tests to assert on.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedFault {
    /// The sequence number of the request it hit (as in
    /// [`RecordedRequest::seq`](crate::RecordedRequest::seq)), when a request head was read.
    pub request_seq: Option<u64>,
    /// The write-request number, counted since the fault plan was installed (1-based),
    /// when the fault hit a write request.
    pub write_number: Option<u64>,
    /// What happened.
    pub fault: Fault,
}

#[derive(Debug, Clone)]
enum Rule {
    Requests(RangeInclusive<u64>, Fault),
    Every(Fault),
    Random(f64, Fault),
}

/// Which faults hit which write requests.
///
/// Write requests are numbered from 1, counting from the moment the plan was installed
/// (server start, or [`TestServer::set_faults`](crate::TestServer::set_faults)).
/// Random rules are deterministic: whether rule `i` hits request `n` depends only on
/// the seed, `i` and `n`, not on timing or on the order connections arrive in.
///
/// ```
/// use linewire_testkit::{Fault, FaultPlan};
/// use std::time::Duration;
/// let plan = FaultPlan::new()
///     .on_request(1, Fault::ServiceUnavailable { retry_after_secs: Some(1) })
///     .on_requests(3..=4, Fault::InternalError)
///     .random(0.1, Fault::CloseAfterBody)
///     .always(Fault::Delay(Duration::from_millis(5)))
///     .seed(42);
/// assert_eq!(plan.faults_for(1).len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct FaultPlan {
    rules: Vec<Rule>,
    seed: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultPlan {
    /// An empty plan: the server behaves.
    pub fn new() -> Self {
        FaultPlan {
            rules: Vec::new(),
            seed: 0x5eed_1e55_c0ff_ee00,
        }
    }

    /// Apply `fault` to write request number `n` (1-based).
    pub fn on_request(self, n: u64, fault: Fault) -> Self {
        self.on_requests(n..=n, fault)
    }

    /// Apply `fault` to every write request whose number is in `range`.
    pub fn on_requests(mut self, range: RangeInclusive<u64>, fault: Fault) -> Self {
        self.rules.push(Rule::Requests(range, fault));
        self
    }

    /// Apply `fault` to every write request.
    pub fn always(mut self, fault: Fault) -> Self {
        self.rules.push(Rule::Every(fault));
        self
    }

    /// Apply `fault` to each write request with probability `p` (0.0 to 1.0), drawn from the seed.
    pub fn random(mut self, p: f64, fault: Fault) -> Self {
        self.rules.push(Rule::Random(p, fault));
        self
    }

    /// Set the seed of the random rules.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// True when the plan has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The faults that hit write request number `n`, in rule order.
    pub fn faults_for(&self, n: u64) -> Vec<Fault> {
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            match rule {
                Rule::Requests(r, f) if r.contains(&n) => out.push(f.clone()),
                Rule::Every(f) => out.push(f.clone()),
                Rule::Random(p, f) if unit(self.seed, i as u64, n) < *p => out.push(f.clone()),
                _ => {}
            }
        }
        out
    }
}

/// A uniform number in [0, 1) from (seed, rule, request): xorshift64* over a mixed state.
fn unit(seed: u64, rule: u64, n: u64) -> f64 {
    let mut x = seed
        ^ rule.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ n.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ 0x94D0_49BB_1331_11EB;
    if x == 0 {
        x = 0x2545_F491_4F6C_DD1D;
    }
    let mut r = 0;
    for _ in 0..4 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    }
    (r >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_rule_is_deterministic_and_roughly_calibrated() {
        let a = FaultPlan::new().random(0.25, Fault::InternalError).seed(7);
        let b = FaultPlan::new().random(0.25, Fault::InternalError).seed(7);
        let c = FaultPlan::new().random(0.25, Fault::InternalError).seed(8);
        let hits = |p: &FaultPlan| {
            (1..=4000)
                .filter(|&n| !p.faults_for(n).is_empty())
                .collect::<Vec<_>>()
        };
        assert_eq!(hits(&a), hits(&b));
        assert_ne!(hits(&a), hits(&c));
        let n = hits(&a).len();
        assert!((800..1200).contains(&n), "{n} hits of 4000 at p=0.25");
    }

    #[test]
    fn scripted_rules_hit_their_numbers_only() {
        let p = FaultPlan::new()
            .on_request(2, Fault::InternalError)
            .on_requests(4..=5, Fault::BadGateway);
        assert!(p.faults_for(1).is_empty());
        assert_eq!(p.faults_for(2), vec![Fault::InternalError]);
        assert!(p.faults_for(3).is_empty());
        assert_eq!(p.faults_for(5), vec![Fault::BadGateway]);
        assert!(p.faults_for(6).is_empty());
    }
}
