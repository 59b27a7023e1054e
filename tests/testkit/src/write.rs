//! The write endpoints: `/api/v2/write` and the v1 `/write`.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use influxdb_line_protocol as lp;
use serde_json::json;

use crate::http::{query_param, Head, Response};
use crate::server::Shared;
use crate::store::{FieldValue, Point};
use crate::Mode;

/// The smallest timestamp InfluxDB accepts, in nanoseconds.
const MIN_TS: i64 = -9_223_372_036_854_775_806;
/// The largest timestamp InfluxDB accepts, in nanoseconds.
const MAX_TS: i64 = 9_223_372_036_854_775_806;

/// Which write API a request uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Api {
    /// `/api/v2/write`
    V2,
    /// `/write` (InfluxDB 1.x compatibility)
    V1,
}

/// An error answer in the shape of the API and mode.
pub(crate) fn error(api: Api, mode: Mode, status: u16, code: &str, message: &str) -> Response {
    match api {
        Api::V1 => Response::json(status, json!({ "error": message }))
            .with_header("X-Influxdb-Error", header_safe(message)),
        Api::V2 => {
            let r = Response::json(status, json!({ "code": code, "message": message }));
            if mode == Mode::Oss2 {
                r.with_header("X-Platform-Error-Code", code)
            } else {
                r
            }
        }
    }
}

/// A header value cannot hold line breaks: replace them.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Decodes the body according to `Content-Encoding`; errors are (status, message).
pub(crate) fn decode_body(head: &Head, raw: &[u8], max: usize) -> Result<Vec<u8>, (u16, String)> {
    let enc = head
        .header("content-encoding")
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match enc.as_str() {
        "" | "identity" => Ok(raw.to_vec()),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            let dec = flate2::read::MultiGzDecoder::new(raw);
            match dec.take(max as u64 + 1).read_to_end(&mut out) {
                Ok(_) if out.len() > max => Err((413, "http: request body too large".into())),
                Ok(_) => Ok(out),
                Err(e) => Err((400, format!("failed to decode gzip request body: {e}"))),
            }
        }
        other => Err((415, format!("unsupported content encoding \"{other}\""))),
    }
}

/// The bearer of the request's `Authorization` header (`Token X` or `Bearer X`),
/// `Some("")` for a header of another scheme, `None` without the header.
fn auth_token(head: &Head) -> Option<String> {
    let v = head.header("authorization")?.trim();
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.trim().to_string())
    } else if scheme.eq_ignore_ascii_case("basic") {
        // v1 style `user:password`, the password being the token.
        let decoded = base64_decode(rest.trim()).unwrap_or_default();
        let s = String::from_utf8_lossy(&decoded).into_owned();
        Some(
            s.split_once(':')
                .map(|(_, p)| p.to_string())
                .unwrap_or_default(),
        )
    } else {
        Some(String::new())
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Multiplier from a v2 precision to nanoseconds.
fn v2_precision(p: &str) -> Option<i64> {
    Some(match p {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Multiplier from a v1 precision to nanoseconds.
fn v1_precision(p: &str) -> Option<i64> {
    Some(match p {
        "n" | "ns" => 1,
        "u" | "us" | "µ" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// A line that failed to parse.
#[derive(Debug, Clone)]
pub(crate) struct LineError {
    /// 1-based line number in the body.
    pub(crate) line: usize,
    /// The raw line.
    pub(crate) text: String,
    /// Why it failed.
    pub(crate) reason: String,
}

/// Parses a body into points and per-line errors.
pub(crate) fn parse_body(
    body: &str,
    mult: i64,
    now_ns: i64,
    reject_duplicate_fields: bool,
) -> (Vec<Point>, Vec<LineError>) {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    let mut line_no = 1;
    for raw in lp::split_lines(body) {
        let this_line = line_no;
        line_no += 1 + raw.matches('\n').count();
        let parsed = match lp::parse_lines(raw).next() {
            None => continue,
            Some(p) => p,
        };
        let result = parsed
            .map_err(|e| e.to_string())
            .and_then(|pl| convert(&pl, mult, now_ns, reject_duplicate_fields));
        match result {
            Ok(p) => points.push(p),
            Err(reason) => errors.push(LineError {
                line: this_line,
                text: raw.trim_end_matches('\r').to_string(),
                reason,
            }),
        }
    }
    (points, errors)
}

fn convert(
    pl: &lp::ParsedLine<'_>,
    mult: i64,
    now_ns: i64,
    reject_duplicate_fields: bool,
) -> Result<Point, String> {
    let mut tags = BTreeMap::new();
    if let Some(ts) = &pl.series.tag_set {
        for (k, v) in ts {
            if tags.insert(k.to_string(), v.to_string()).is_some() {
                return Err(format!(
                    "Must not contain duplicate tags, but \"{}\" was repeated",
                    k.as_str()
                ));
            }
        }
    }
    let mut fields = BTreeMap::new();
    for (k, v) in &pl.field_set {
        let value = match v {
            lp::FieldValue::F64(f) if !f.is_finite() => {
                return Err(format!("Unable to parse floating-point value '{f}'"));
            }
            lp::FieldValue::F64(f) => FieldValue::F64(*f),
            lp::FieldValue::I64(i) => FieldValue::I64(*i),
            lp::FieldValue::U64(u) => FieldValue::U64(*u),
            lp::FieldValue::Boolean(b) => FieldValue::Bool(*b),
            lp::FieldValue::String(s) => FieldValue::Str(s.to_string()),
        };
        if fields.insert(k.to_string(), value).is_some() && reject_duplicate_fields {
            return Err(format!(
                "Must not contain duplicate fields, but \"{}\" was repeated",
                k.as_str()
            ));
        }
    }
    let timestamp_ns = match pl.timestamp {
        None => now_ns,
        Some(t) => match t.checked_mul(mult) {
            Some(ns) if (MIN_TS..=MAX_TS).contains(&ns) => ns,
            _ => return Err(format!("timestamp {t} out of range")),
        },
    };
    Ok(Point {
        measurement: pl.series.measurement.to_string(),
        tags,
        fields,
        timestamp_ns,
    })
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Checks the token against the configuration: `Err` is the error answer.
fn authorize(
    shared: &Shared,
    api: Api,
    mode: Mode,
    token: Option<&str>,
    bucket: &str,
) -> Result<(), Response> {
    let cfg = &shared.cfg;
    if cfg.tokens.is_empty() && cfg.bucket_tokens.is_empty() {
        return Ok(());
    }
    let unauthorized = || match (api, mode) {
        (Api::V1, _) => error(api, mode, 401, "unauthorized", "authorization failed"),
        (Api::V2, Mode::Core3) => {
            Response::json(401, json!({"error": "the request was not authenticated"}))
        }
        (Api::V2, _) => error(api, mode, 401, "unauthorized", "unauthorized access"),
    };
    let token = match token {
        Some(t) if !t.is_empty() => t,
        _ => return Err(unauthorized()),
    };
    if cfg.tokens.iter().any(|t| t == token) {
        return Ok(());
    }
    if let Some(list) = cfg.bucket_tokens.get(bucket) {
        if list.iter().any(|t| t == token) {
            return Ok(());
        }
    }
    if cfg
        .bucket_tokens
        .values()
        .any(|l| l.iter().any(|t| t == token))
    {
        return Err(error(
            api,
            mode,
            403,
            "forbidden",
            "insufficient permissions for write",
        ));
    }
    Err(unauthorized())
}

/// Handles a write request whose body has been read and decoded.
/// The checks every write passes before its body is parsed, in the order
/// servers make them: the token, the bucket (or database), UTF-8. Each API
/// words the last two its own way (`not_found`, `not_utf8`).
fn admit<'b>(
    (shared, api, mode): (&Shared, Api, Mode),
    token: Option<&str>,
    bucket: &str,
    body: &'b [u8],
    not_found: impl FnOnce() -> String,
    not_utf8: &str,
) -> Result<&'b str, Response> {
    authorize(shared, api, mode, token, bucket)?;
    if !shared.bucket_allowed(bucket) {
        return Err(error(api, mode, 404, "not found", &not_found()));
    }
    std::str::from_utf8(body)
        .map_err(|e| error(api, mode, 400, "invalid", &format!("{not_utf8}: {e}")))
}

pub(crate) fn handle(shared: &Shared, api: Api, head: &Head, body: &[u8]) -> Response {
    let mode = shared.mode();
    match api {
        Api::V2 => handle_v2(shared, mode, head, body),
        Api::V1 => handle_v1(shared, mode, head, body),
    }
}

fn handle_v2(shared: &Shared, mode: Mode, head: &Head, body: &[u8]) -> Response {
    let api = Api::V2;
    let q = &head.query;
    let token = auth_token(head);
    let has_tokens = !shared.cfg.tokens.is_empty() || !shared.cfg.bucket_tokens.is_empty();
    if has_tokens && !matches!(token.as_deref(), Some(t) if !t.is_empty()) {
        if let Err(r) = authorize(shared, api, mode, None, "") {
            return r;
        }
    }
    let bucket = match query_param(q, "bucket") {
        Some(b) if !b.is_empty() => b,
        _ => return error(api, mode, 400, "invalid", "missing bucket value"),
    };
    if query_param(q, "org").is_some_and(|o| o.is_empty()) {
        return error(
            api,
            mode,
            400,
            "invalid",
            "failed to deserialize org/bucket/precision in request: org must not be empty",
        );
    }
    let precision = query_param(q, "precision").unwrap_or_else(|| "ns".into());
    let mult = match v2_precision(&precision) {
        Some(m) => m,
        None => {
            return error(
                api,
                mode,
                400,
                "invalid",
                &format!(
                    "failed to deserialize org/bucket/precision in request: unknown variant `{precision}`, expected one of `s`, `ms`, `us`, `ns`"
                ),
            )
        }
    };
    let admitted = admit(
        (shared, api, mode),
        token.as_deref(),
        &bucket,
        body,
        || format!("bucket \"{bucket}\" not found"),
        "failed to parse line protocol: request body is not valid UTF-8",
    );
    let text = match admitted {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (points, errors) = parse_body(text, mult, now_ns(), mode != Mode::Oss2);
    if errors.is_empty() {
        shared.store(&bucket, points);
        return Response::empty(204);
    }
    match mode {
        Mode::CloudServerless => {
            shared.store(&bucket, points);
            let listed: Vec<String> = errors
                .iter()
                .take(100)
                .map(|e| format!("error parsing line {} (1-based): {}", e.line, e.reason))
                .collect();
            let message = format!(
                "failed to parse line protocol: errors encountered on line(s):\n{}",
                listed.join("\n")
            );
            Response::json(
                400,
                json!({"code": "invalid", "line": errors.first().map_or(0, |e| e.line), "message": message}),
            )
        }
        Mode::Core3 => {
            let Some(e) = errors.first() else {
                return Response::empty(204);
            };
            error(
                api,
                mode,
                400,
                "invalid",
                &format!(
                    "write buffer error: line protocol parse failed: error parsing line {} (1-based): {}",
                    e.line, e.reason
                ),
            )
        }
        Mode::Oss2 => {
            let listed: Vec<String> = errors
                .iter()
                .map(|e| format!("unable to parse '{}': {}", e.text, e.reason))
                .collect();
            error(api, mode, 400, "invalid", &listed.join("\n"))
        }
    }
}

fn handle_v1(shared: &Shared, mode: Mode, head: &Head, body: &[u8]) -> Response {
    let api = Api::V1;
    let q = &head.query;
    let db = match query_param(q, "db") {
        Some(d) if !d.is_empty() => d,
        _ => return error(api, mode, 400, "invalid", "database is required"),
    };
    let bucket = match query_param(q, "rp") {
        Some(rp) if !rp.is_empty() => format!("{db}/{rp}"),
        _ => db.clone(),
    };
    let precision = query_param(q, "precision").unwrap_or_else(|| "n".into());
    let mult = match v1_precision(&precision) {
        Some(m) => m,
        None => {
            return error(
                api,
                mode,
                400,
                "invalid",
                &format!("invalid precision \"{precision}\" (use n, u, ms, s, m or h)"),
            )
        }
    };
    let token = query_param(q, "p").or_else(|| auth_token(head));
    let admitted = admit(
        (shared, api, mode),
        token.as_deref(),
        &bucket,
        body,
        || format!("database not found: \"{bucket}\""),
        "request body is not valid UTF-8",
    );
    let text = match admitted {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (points, errors) = parse_body(text, mult, now_ns(), false);
    shared.store(&bucket, points);
    if errors.is_empty() {
        return Response::empty(204);
    }
    let listed: Vec<String> = errors
        .iter()
        .map(|e| format!("unable to parse '{}': {}", e.text, e.reason))
        .collect();
    error(
        api,
        mode,
        400,
        "invalid",
        &format!("partial write: {} dropped=0", listed.join("\n")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_physical_lines() {
        let body = "m f=1\n\n# comment\nm f=\"a\nb\" 5\nbad\nm f=2 7\n";
        let (points, errors) = parse_body(body, 1, 42, true);
        assert_eq!(points.len(), 3);
        assert_eq!(points[0].timestamp_ns, 42);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 6);
        assert_eq!(errors[0].text, "bad");
    }

    #[test]
    fn precision_scaling_and_range() {
        let (p, e) = parse_body("m f=1 2\nm f=1 9223372036854775807", 1_000_000_000, 0, true);
        assert_eq!(p[0].timestamp_ns, 2_000_000_000);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 2);
    }

    #[test]
    fn rejects_non_finite_duplicate_tags_and_fields() {
        let (p, e) = parse_body("m f=1e400\nm,t=a,t=b f=1\nm f=1,f=2", 1, 0, true);
        assert!(p.is_empty());
        assert_eq!(e.len(), 3);
        let (p, e) = parse_body("m f=1,f=2", 1, 0, false);
        assert_eq!(p[0].fields["f"], FieldValue::F64(2.0));
        assert!(e.is_empty());
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("dTpzZWNyZXQ=").unwrap(), b"u:secret");
    }
}
