//! Every line the batch writes is read back by `influxdb-line-protocol`, the
//! parser InfluxDB 3 uses, and must yield exactly what was given. Every
//! refused point must leave the batch unchanged, and be refused for a
//! reason an independent model of the rules agrees with.

use influxdb_line_protocol::{parse_lines, FieldValue as Parsed};
use linewire::{
    Batch, BatchInner, BorrowedBatch, DefaultTags, FieldValue, Name, Part, PointError, Precision,
    Storage,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Value {
    F(f64),
    I(i64),
    U(u64),
    B(bool),
    S(String),
}

#[derive(Debug, Clone)]
struct Point {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, Value)>,
    timestamp: Option<i64>,
}

/// Text made mostly of the characters line protocol treats specially.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z]{1,6}",
        3 => "[a-zA-Z0-9 ,=\"\\\\_#é☕\\-.]{0,8}",
        1 => "[ ,=\\\\\n\r\t\u{0}a]{0,4}",
        1 => any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<f64>().prop_map(Value::F),
        // Short decimals, the shape of sensor readings (a separate fast path).
        (any::<i64>(), 0i32..6)
            .prop_map(|(n, k)| Value::F((n % 10_000_000_000_000) as f64 / 10f64.powi(k))),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1e300,
            -1e-300,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            5e-324,
            82.5,
            f64::NAN,
            f64::INFINITY,
        ])
        .prop_map(Value::F),
        any::<i64>().prop_map(Value::I),
        prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1]).prop_map(Value::I),
        any::<u64>().prop_map(Value::U),
        Just(Value::U(u64::MAX)),
        any::<bool>().prop_map(Value::B),
        text().prop_map(Value::S),
    ]
}

fn timestamp() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        Just(None),
        any::<i64>().prop_map(Some),
        (-3_000_000_000i64..3_000_000_000).prop_map(Some),
        prop::sample::select(vec![
            i64::MIN,
            i64::MAX,
            linewire::MIN_TIMESTAMP_NS,
            linewire::MAX_TIMESTAMP_NS,
            linewire::MAX_TIMESTAMP_NS + 1,
            9_223_372_036,
            -9_223_372_037,
            2_562_047,
            -2_562_048,
        ])
        .prop_map(Some),
    ]
}

fn point() -> impl Strategy<Value = Point> {
    (
        text(),
        prop::collection::vec((text(), text()), 0..4),
        prop::collection::vec((text(), value()), 0..5),
        timestamp(),
    )
        .prop_map(|(measurement, tags, fields, timestamp)| Point {
            measurement,
            tags,
            fields,
            timestamp,
        })
}

fn precision() -> impl Strategy<Value = Precision> {
    prop::sample::select(Precision::ALL.to_vec())
}

// ---- The model: what must be refused, written independently of the crate.

fn name_error(s: &str, part: Part) -> Option<PointError> {
    let escapable: &[char] = if part == Part::Measurement {
        &[',', ' ', '\\']
    } else {
        &[',', '=', ' ', '\\']
    };
    if s.is_empty() {
        return Some(PointError::Empty(part));
    }
    if part != Part::TagValue && (s.starts_with('_') || (part != Part::Measurement && s == "time"))
    {
        return Some(PointError::Reserved(part));
    }
    if part == Part::Measurement && s.starts_with('#') {
        return Some(PointError::CommentMarker);
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        match c {
            '\n' | '\r' | '\t' | '\0' => return Some(PointError::ForbiddenCharacter(part)),
            '\\' => match chars.get(i + 1) {
                None => return Some(PointError::TrailingBackslash(part)),
                Some(n) if escapable.contains(n) => {
                    return Some(PointError::AmbiguousBackslash(part))
                }
                _ => {}
            },
            _ => {}
        }
    }
    None
}

fn expected_error(
    p: &Point,
    defaults: &[(String, String)],
    precision: Precision,
) -> Option<PointError> {
    if let Some(e) = name_error(&p.measurement, Part::Measurement) {
        return Some(e);
    }
    let mut keys: Vec<&str> = defaults.iter().map(|(k, _)| k.as_str()).collect();
    for (k, v) in &p.tags {
        if let Some(e) = name_error(k, Part::TagKey).or_else(|| name_error(v, Part::TagValue)) {
            return Some(e);
        }
        if keys.contains(&k.as_str()) {
            return Some(PointError::DuplicateTag);
        }
        keys.push(k);
    }
    if p.fields.is_empty() {
        return None; // not buildable: the test skips it
    }
    let mut field_keys: Vec<&str> = Vec::new();
    for (k, v) in &p.fields {
        if let Some(e) = name_error(k, Part::FieldKey) {
            return Some(e);
        }
        match v {
            Value::F(f) if !f.is_finite() => return Some(PointError::NotFinite),
            Value::S(s) if s.len() > linewire::MAX_STRING_FIELD_LEN => {
                return Some(PointError::StringTooLong)
            }
            _ => {}
        }
        if field_keys.contains(&k.as_str()) {
            return Some(PointError::DuplicateField);
        }
        field_keys.push(k);
    }
    if let Some(ts) = p.timestamp {
        let limit = linewire::MAX_TIMESTAMP_NS / precision.nanos_per_unit();
        if ts < -limit || ts > limit {
            return Some(PointError::TimestampOutOfRange);
        }
    }
    None
}

fn to_field(v: &Value) -> FieldValue<'_> {
    match v {
        Value::F(f) => FieldValue::F64(*f),
        Value::I(i) => FieldValue::I64(*i),
        Value::U(u) => FieldValue::U64(*u),
        Value::B(b) => FieldValue::Bool(*b),
        Value::S(s) => FieldValue::Str(s),
    }
}

/// The name as a `&str`, or as a checked [`Name`] when `plain` and it is one:
/// both must write the same bytes.
fn name(s: &str, plain: bool) -> Name<'_> {
    match Name::try_new(s) {
        Some(checked) if plain => checked,
        _ => Name::from(s),
    }
}

fn build<S: Storage, const D: usize>(
    batch: &mut BatchInner<S>,
    defaults: &DefaultTags<D>,
    p: &Point,
    plain: bool,
) -> Result<(), PointError> {
    let mut b = batch.point_with(defaults, name(&p.measurement, plain))?;
    for (k, v) in &p.tags {
        b = b.tag(name(k, plain), name(v, plain))?;
    }
    let Some(((k0, v0), rest)) = p.fields.split_first() else {
        unreachable!("points without fields are filtered out");
    };
    let mut b = b.field(name(k0, plain), to_field(v0))?;
    for (k, v) in rest {
        b = b.field(name(k, plain), to_field(v))?;
    }
    match p.timestamp {
        Some(ts) => b.timestamp(ts),
        None => b.finish(),
    }
}

fn check_parsed(
    parsed: &influxdb_line_protocol::ParsedLine<'_>,
    p: &Point,
    defaults: &[(String, String)],
    sort: bool,
    precision: Precision,
) {
    assert_eq!(parsed.series.measurement.as_str(), p.measurement);
    let mut tags: Vec<(String, String)> = defaults
        .iter()
        .cloned()
        .chain(p.tags.iter().cloned())
        .collect();
    if sort {
        tags.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    let got_tags: Vec<(String, String)> = parsed
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got_tags, tags);
    assert_eq!(parsed.field_set.len(), p.fields.len());
    for ((gk, gv), (k, v)) in parsed.field_set.iter().zip(&p.fields) {
        assert_eq!(gk.as_str(), k);
        match (gv, v) {
            (Parsed::F64(g), Value::F(f)) => assert_eq!(g.to_bits(), f.to_bits(), "{f}"),
            (Parsed::I64(g), Value::I(i)) => assert_eq!(g, i),
            (Parsed::U64(g), Value::U(u)) => assert_eq!(g, u),
            (Parsed::Boolean(g), Value::B(b)) => assert_eq!(g, b),
            (Parsed::String(g), Value::S(s)) => assert_eq!(g.as_str(), s),
            (g, v) => panic!("field {k}: parsed {g:?}, gave {v:?}"),
        }
    }
    let expected_ts = p
        .timestamp
        .map(|ts| precision.convert(ts, precision.wire()).unwrap());
    assert_eq!(parsed.timestamp, expected_ts);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_written_line_parses_back_identically(
        points in prop::collection::vec(point(), 1..6),
        raw_defaults in prop::collection::vec(("[a-z ,=]{1,5}", "[a-z ,=é]{1,5}"), 0..3),
        sort in any::<bool>(),
        precision in precision(),
        plain in any::<bool>(),
        small_capacity in 0usize..700,
    ) {
        let mut defaults = DefaultTags::<128>::new();
        let mut accepted_defaults = Vec::new();
        for (k, v) in &raw_defaults {
            let valid = name_error(k, Part::TagKey).is_none()
                && name_error(v, Part::TagValue).is_none()
                && !accepted_defaults.iter().any(|(dk, _): &(String, String)| dk == k);
            prop_assert_eq!(defaults.add(k, v).is_ok(), valid, "default tag {:?}={:?}", k, v);
            if valid {
                accepted_defaults.push((k.clone(), v.clone()));
            }
        }
        let mut batch = Batch::<4096>::with_precision(precision).sort_tags(sort);
        // Twins in borrowed buffers: one as large, which must write the same
        // bytes, and one small, which must refuse whole points when full.
        let mut twin_buf = vec![0u8; 4096];
        let mut twin = BorrowedBatch::with_precision(&mut twin_buf, precision).sort_tags(sort);
        let mut small_buf = vec![0u8; small_capacity];
        let mut small = BorrowedBatch::with_precision(&mut small_buf, precision).sort_tags(sort);
        let mut kept = Vec::new();
        for p in points.iter().filter(|p| !p.fields.is_empty()) {
            let before = batch.as_bytes().to_vec();
            let lines_before = batch.line_count();
            let expected = expected_error(p, &accepted_defaults, precision);
            let twin_result = build(&mut twin, &defaults, p, plain);
            let small_before = small.as_bytes().to_vec();
            let small_result = build(&mut small, &defaults, p, plain);
            if small_result.is_err() {
                prop_assert_eq!(small.as_bytes(), &small_before[..], "refused point changed a full batch");
            }
            let result = build(&mut batch, &defaults, p, plain);
            prop_assert_eq!(&twin_result, &result);
            prop_assert_eq!(twin.as_bytes(), batch.as_bytes());
            match (&small_result, &result) {
                (Ok(()), Ok(())) => prop_assert_eq!(
                    small.as_bytes().get(small_before.len()..),
                    batch.as_bytes().get(before.len()..)
                ),
                (Ok(()), Err(e)) => prop_assert_eq!(e, &PointError::BatchFull),
                (Err(e), Ok(())) => prop_assert_eq!(e, &PointError::BatchFull),
                (Err(a), Err(b)) => prop_assert!(*a == PointError::BatchFull || a == b),
            }
            match result {
                Ok(()) => {
                    prop_assert_eq!(expected, None, "accepted {:?}", p);
                    kept.push(p.clone());
                }
                Err(e) => {
                    prop_assert_eq!(batch.as_bytes(), &before[..], "refused point changed the batch");
                    prop_assert_eq!(batch.line_count(), lines_before);
                    if e != PointError::BatchFull {
                        prop_assert_eq!(Some(e), expected, "{:?}", p);
                    }
                }
            }
        }
        let text = batch.as_str();
        let parsed: Vec<_> = parse_lines(text).collect();
        prop_assert_eq!(parsed.len(), kept.len(), "{}", text);
        prop_assert_eq!(batch.lines().count(), kept.len());
        for (line, p) in parsed.iter().zip(&kept) {
            match line {
                Ok(line) => check_parsed(line, p, &accepted_defaults, sort, precision),
                Err(e) => prop_assert!(false, "{} for {:?} in {:?}", e, p, text),
            }
        }
    }

    #[test]
    fn taking_lines_off_the_front_keeps_the_rest_parsable(
        points in prop::collection::vec(point(), 1..8),
        k in 0usize..9,
        plain in any::<bool>(),
    ) {
        let defaults = DefaultTags::<0>::new();
        let mut batch = Batch::<4096>::new();
        for p in points.iter().filter(|p| !p.fields.is_empty()) {
            let _ = build(&mut batch, &defaults, p, plain);
        }
        let all: Vec<Vec<u8>> = batch.lines().map(<[u8]>::to_vec).collect();
        let removed = batch.remove_first_lines(k);
        prop_assert_eq!(removed, k.min(all.len()));
        let rest: Vec<Vec<u8>> = batch.lines().map(<[u8]>::to_vec).collect();
        prop_assert_eq!(&rest[..], &all[removed..]);
        prop_assert_eq!(batch.line_count(), all.len() - removed);
        prop_assert!(parse_lines(batch.as_str()).all(|l| l.is_ok()));
    }
}
