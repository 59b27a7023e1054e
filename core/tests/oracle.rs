//! Every line the batch writes is read back by `influxdb-line-protocol`, the
//! parser InfluxDB 3 uses, and by a model of the Go parser of InfluxDB
//! 1.x/2.x (how `models/points.go` cuts a line and which backslashes each
//! element's unescaper drops), and must yield exactly what was given under
//! both. Every refused point must leave the batch unchanged, and be refused
//! for a reason an independent model of the rules agrees with; the
//! backslash pairs refused are derived from what the two readers do.

use influxdb_line_protocol::{parse_lines, FieldValue as Parsed};
use linewire::{
    check_line, Batch, BatchInner, BorrowedBatch, DefaultTags, FieldValue, Name, Part, PointError,
    Precision, Storage,
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

/// The characters written with a backslash before them in `part`.
fn escaped_here(part: Part) -> &'static [char] {
    if part == Part::Measurement {
        &[',', ' ']
    } else {
        &[',', '=', ' ']
    }
}

/// The characters InfluxDB 3 (`influxdb-line-protocol`) drops a backslash
/// before, in `part`.
fn iox_unescapes(part: Part) -> &'static [char] {
    if part == Part::Measurement {
        &[',', ' ', '\\']
    } else {
        &[',', '=', ' ', '\\']
    }
}

/// The characters InfluxDB 1.x/2.x (Go, `models/points.go`) drops a
/// backslash before, in `part`: `escape.Unescape` for the measurement
/// (`Point.Name`), `unescapeTag` for tag keys and values,
/// `escape.AppendUnescaped` for field keys.
fn go_unescapes(part: Part) -> &'static [char] {
    match part {
        Part::TagKey | Part::TagValue => &[',', ' ', '='],
        _ => &[',', '"', ' ', '='],
    }
}

fn name_error(s: &str, part: Part) -> Option<PointError> {
    // A literal backslash is unambiguous only before a character that is
    // neither escaped here nor unescaped by either parser.
    let escapable: Vec<char> = escaped_here(part)
        .iter()
        .chain(iox_unescapes(part))
        .chain(go_unescapes(part))
        .copied()
        .collect();
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
    let tags = expected_tags(p, defaults, sort);
    assert_eq!(parsed_tags(parsed), tags);
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

// ---- The Go reading (InfluxDB 1.x/2.x, `models/points.go`), written
// independently of the crate: how a line is cut into elements, and which
// backslashes each element's unescaper drops.

/// A line as InfluxDB 1.x/2.x reads it back.
#[derive(Debug)]
struct GoLine {
    /// Through `escape.Unescape` (`Point.Name`).
    measurement: Vec<u8>,
    /// Through `unescapeMeasurement` (`ParseKey`, series keys).
    measurement_in_key: Vec<u8>,
    /// Through `unescapeTag`.
    tags: Vec<(Vec<u8>, Vec<u8>)>,
    /// Keys through `escape.AppendUnescaped`; string values through
    /// `unescapeStringField`, other values as written.
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// `bytes.Replace(s, from, to, -1)`: left to right, without overlaps.
fn go_replace(s: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// `unescapeMeasurement` and `unescapeTag`: one `bytes.Replace` of `\c`
/// by `c` for each `c` in turn.
fn go_replace_each(s: &[u8], chars: &[u8]) -> Vec<u8> {
    chars
        .iter()
        .fold(s.to_vec(), |acc, &c| go_replace(&acc, &[b'\\', c], &[c]))
}

/// `escape.Unescape`, `escape.AppendUnescaped`, `unescapeStringField`: one
/// pass dropping a backslash before any of `chars`.
fn go_unescape_pass(s: &[u8], chars: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s.get(i + 1) {
            Some(&next) if s[i] == b'\\' && chars.contains(&next) => {
                out.push(next);
                i += 2;
            }
            _ => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    out
}

fn go_chars(part: Part) -> Vec<u8> {
    go_unescapes(part).iter().map(|&c| c as u8).collect()
}

/// Cuts `line` (no newline) as Go does: in the measurement and tags a stop
/// byte counts unless the byte before it is a backslash (`scanTo`,
/// `scanMeasurement`, `scanTagValue`); field values by `scanFieldValue`.
fn go_read(line: &[u8]) -> Option<GoLine> {
    let scan = |mut i: usize, stops: &[u8]| {
        while i < line.len() && !(stops.contains(&line[i]) && (i == 0 || line[i - 1] != b'\\')) {
            i += 1;
        }
        i
    };
    let m_end = scan(0, b", ");
    let raw_measurement = &line[..m_end];
    let mut tags = Vec::new();
    let mut i = m_end;
    while line.get(i) == Some(&b',') {
        let k_end = scan(i + 1, b"=");
        let v_end = scan(k_end + 1, b", ");
        let chars = go_chars(Part::TagKey);
        tags.push((
            go_replace_each(&line[i + 1..k_end], &chars),
            go_replace_each(&line[k_end + 1..v_end], &chars),
        ));
        i = v_end;
    }
    if line.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let mut fields = Vec::new();
    loop {
        let k_end = scan(i, b"=");
        let mut j = k_end + 1;
        let mut quoted = false;
        while j < line.len() {
            if line[j] == b'\\' && matches!(line.get(j + 1), Some(b'"' | b'\\')) {
                j += 2;
                continue;
            }
            if line[j] == b'"' {
                quoted = !quoted;
            } else if !quoted && (line[j] == b',' || line[j] == b' ') {
                break;
            }
            j += 1;
        }
        let value = &line[k_end + 1..j];
        let value = match value {
            [b'"', inner @ .., b'"'] => go_unescape_pass(inner, b"\\\""),
            _ => value.to_vec(),
        };
        fields.push((
            go_unescape_pass(&line[i..k_end], &go_chars(Part::FieldKey)),
            value,
        ));
        if line.get(j) == Some(&b',') {
            i = j + 1;
        } else {
            break;
        }
    }
    Some(GoLine {
        measurement: go_unescape_pass(raw_measurement, &go_chars(Part::Measurement)),
        measurement_in_key: go_replace_each(raw_measurement, b", "),
        tags,
        fields,
    })
}

/// The tags the Rust line-protocol parser read, in line order.
fn parsed_tags(parsed: &influxdb_line_protocol::ParsedLine<'_>) -> Vec<(String, String)> {
    parsed
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The tags a line written from `p` carries: the default tags first, then
/// the point's own, sorted by key (bytewise) when the writer sorts them.
fn expected_tags(p: &Point, defaults: &[(String, String)], sort: bool) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = defaults
        .iter()
        .cloned()
        .chain(p.tags.iter().cloned())
        .collect();
    if sort {
        tags.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    tags
}

/// What InfluxDB 1.x/2.x reads differently from `p` in `line`, if anything.
fn go_mismatch(
    line: &[u8],
    p: &Point,
    defaults: &[(String, String)],
    sort: bool,
) -> Option<String> {
    let go = go_read(line)?;
    let tags = expected_tags(p, defaults, sort);
    let tags: Vec<(Vec<u8>, Vec<u8>)> = tags
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
        .collect();
    let fields_same = go.fields.len() == p.fields.len()
        && go.fields.iter().zip(&p.fields).all(|((gk, gv), (k, v))| {
            gk == k.as_bytes()
                && match v {
                    Value::S(s) => gv == s.as_bytes(),
                    _ => true,
                }
        });
    let same = go.measurement == p.measurement.as_bytes()
        && go.measurement_in_key == p.measurement.as_bytes()
        && go.tags == tags
        && fields_same;
    (!same).then(|| format!("Go reads {go:?}"))
}

/// Whether InfluxDB 3 reads the names and string values of `p` back from `line`.
fn iox_reads_back(line: &str, p: &Point) -> bool {
    let Some(Ok(parsed)) = parse_lines(line).next() else {
        return false;
    };
    parsed.series.measurement.as_str() == p.measurement
        && parsed_tags(&parsed) == p.tags
        && parsed.field_set.len() == p.fields.len()
        && parsed
            .field_set
            .iter()
            .zip(&p.fields)
            .all(|((gk, _), (k, _))| gk.as_str() == k)
}

/// Every backslash pair, in every element: the pairs the two parsers read
/// back differently are refused; so, as before, is a backslash before a
/// character written escaped or before another backslash (`\\,` is then
/// an escaped backslash to one reader and an escaped comma to the other,
/// even where both happen to end up with the same name). Every other pair
/// is written as it is and read back as given by both.
#[test]
fn backslash_pairs_are_refused_when_a_parser_would_misread_them() {
    let parts = [
        Part::Measurement,
        Part::TagKey,
        Part::TagValue,
        Part::FieldKey,
    ];
    let chars = (0x20u8..0x7f).map(char::from).chain(['é', '☕']);
    let mut misread = Vec::new();
    let mut refused = Vec::new();
    for c in chars {
        for part in parts {
            let name = format!("a\\{c}b");
            // The line as a writer that only escapes would write it.
            let naive: String = name
                .chars()
                .flat_map(|ch| {
                    let esc = escaped_here(part).contains(&ch);
                    esc.then_some('\\').into_iter().chain([ch])
                })
                .collect();
            let naive_line = match part {
                Part::Measurement => format!("{naive} v=1i"),
                Part::TagKey => format!("m,{naive}=v v=1i"),
                Part::TagValue => format!("m,k={naive} v=1i"),
                _ => format!("m {naive}=1i"),
            };
            let point = Point {
                measurement: if part == Part::Measurement {
                    name.clone()
                } else {
                    "m".into()
                },
                tags: match part {
                    Part::TagKey => vec![(name.clone(), "v".into())],
                    Part::TagValue => vec![("k".into(), name.clone())],
                    _ => vec![],
                },
                fields: vec![(
                    if part == Part::FieldKey {
                        name.clone()
                    } else {
                        "v".into()
                    },
                    Value::I(1),
                )],
                timestamp: None,
            };
            let pair = format!("{part} \\{c}");
            if !iox_reads_back(&naive_line, &point)
                || go_mismatch(naive_line.as_bytes(), &point, &[], false).is_some()
            {
                misread.push(pair.clone());
            }
            let mut batch = Batch::<256>::new();
            let built = build(&mut batch, &DefaultTags::<0>::new(), &point, false);
            // The line checker gives the builder's verdict on the line.
            assert_eq!(
                check_line(&naive_line, Precision::Nanoseconds).map_err(|e| e.kind()),
                built.map_err(linewire::LineErrorKind::Point),
                "{pair}: {naive_line:?}"
            );
            match built {
                Ok(()) => {
                    assert_eq!(batch.as_str(), format!("{naive_line}\n"), "{pair}");
                    assert!(iox_reads_back(&naive_line, &point), "{pair}");
                    assert_eq!(
                        go_mismatch(naive_line.as_bytes(), &point, &[], false),
                        None,
                        "{pair}"
                    );
                }
                Err(e) => {
                    assert_eq!(e, PointError::AmbiguousBackslash(part), "{pair}");
                    assert!(batch.is_empty());
                    refused.push(pair.clone());
                }
            }
            assert_eq!(
                refused.last() == Some(&pair),
                name_error(&name, part).is_some(),
                "the model disagrees on {pair}"
            );
        }
    }
    // What the two readers imply, spelled out: a space after a backslash
    // (InfluxDB 3 reads `\\\ ` as `\` then an escaped space), a comma
    // where it ends the element (measurement, tag value), `=` where it ends
    // it (keys), and a backslash pair (InfluxDB 3 unescapes it, Go does
    // not); and from Go, `"` in a measurement or field key and `=` in a
    // measurement, which `escape.Unescape` unescapes and InfluxDB 3 keeps.
    assert_eq!(
        misread,
        [
            "measurement \\ ",
            "tag key \\ ",
            "tag value \\ ",
            "field key \\ ",
            "measurement \\\"",
            "field key \\\"",
            "measurement \\,",
            "tag value \\,",
            "measurement \\=",
            "tag key \\=",
            "field key \\=",
            "measurement \\\\",
            "tag key \\\\",
            "tag value \\\\",
            "field key \\\\",
        ]
    );
    for pair in &misread {
        assert!(refused.contains(pair), "{pair} is misread but accepted");
    }
    // Refused beyond that, as before: a backslash before a character that
    // is written escaped.
    let extra: Vec<&String> = refused.iter().filter(|p| !misread.contains(p)).collect();
    assert_eq!(extra, ["tag key \\,", "field key \\,", "tag value \\="]);
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
        // InfluxDB 1.x/2.x reads every accepted line back the same way too.
        for (line, p) in batch.lines().zip(&kept) {
            prop_assert_eq!(go_mismatch(line, p, &accepted_defaults, sort), None, "{:?}", text);
        }
        // And `check_line` passes every line written, in the precision of
        // its timestamps (minutes and hours are written as seconds).
        for line in batch.lines() {
            let line = std::str::from_utf8(line).unwrap();
            prop_assert_eq!(check_line(line, precision.wire()), Ok(()), "{:?}", line);
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

// ---- `check_line` against the builder and against InfluxDB 3's parser.

/// `s` escaped as the builder writes it in `part`, whatever it holds.
fn naive_name(s: &str, part: Part) -> String {
    s.chars()
        .flat_map(|ch| {
            let esc = escaped_here(part).contains(&ch);
            esc.then_some('\\').into_iter().chain([ch])
        })
        .collect()
}

fn naive_value(v: &Value) -> String {
    match v {
        Value::F(f) => format!("{f}"),
        Value::I(i) => format!("{i}i"),
        Value::U(u) => format!("{u}u"),
        Value::B(b) => format!("{b}"),
        Value::S(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

/// The line a writer that escapes but checks nothing would write for `p`.
fn naive_line(p: &Point) -> String {
    let mut line = naive_name(&p.measurement, Part::Measurement);
    for (k, v) in &p.tags {
        line += &format!(
            ",{}={}",
            naive_name(k, Part::TagKey),
            naive_name(v, Part::TagValue)
        );
    }
    for (i, (k, v)) in p.fields.iter().enumerate() {
        line.push(if i == 0 { ' ' } else { ',' });
        line += &format!("{}={}", naive_name(k, Part::FieldKey), naive_value(v));
    }
    if let Some(ts) = p.timestamp {
        line += &format!(" {ts}");
    }
    line
}

/// Short text over the bytes that matter to line protocol, built from
/// pieces so that valid lines are common.
fn line_ish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "m",
        "k",
        "v",
        "x",
        "=",
        "=",
        ",",
        ",",
        " ",
        " ",
        "\\",
        "\"",
        "\"",
        "1",
        "-1",
        "1.5",
        "2e3",
        "-",
        ".",
        "i",
        "u",
        "t",
        "F",
        "true",
        "e",
        "NaN",
        "inf",
        "é",
        "_",
        "#",
        "time",
        "\t",
        "\n",
        "\r",
        "\0",
        "99999999999999999999",
        "9223372036",
        "=1",
        " v=1",
        "=\"",
    ]);
    let loose = prop::collection::vec(pieces, 0..14).prop_map(|v| v.concat());
    // Lines shaped right, with escapes and near-escapes in every name.
    let name = || {
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", "é", "_", "#", "t", "time", "\"", "=", ",", " ", "\t", "\\,", "\\ ",
                "\\=", "\\\\", "\\\"", "\\a", "\\",
            ]),
            1..4,
        )
        .prop_map(|v| v.concat())
    };
    let value = prop::sample::select(vec![
        "1",
        "-1.5",
        "2e3",
        "1i",
        "-3i",
        "4u",
        "t",
        "FALSE",
        "\"s\"",
        "\"a\\\"b\"",
        "\"a\\\\\"",
        "\"x\\y\"",
        "\"\"",
        "\"a,b=c d\"",
        "NaN",
        "oops",
        "1e999",
        "\"open",
    ]);
    let shaped = (
        name(),
        prop::collection::vec((name(), name()), 0..3),
        prop::collection::vec((name(), value), 1..4),
        prop::option::of(prop::sample::select(vec![
            "0",
            "-5",
            "1700000000",
            "99999999999",
        ])),
    )
        .prop_map(|(m, tags, fields, ts)| {
            let mut line = m;
            for (k, v) in tags {
                line += &format!(",{k}={v}");
            }
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line += &format!(" {}", fields.join(","));
            if let Some(ts) = ts {
                line += &format!(" {ts}");
            }
            line
        });
    prop_oneof![loose, shaped]
}

proptest! {
    // Points without fields are set aside (`prop_assume!`); proptest's
    // default limit of 1,024 rejections in all made a run fail now and then
    // at 4,000 cases.
    #![proptest_config(ProptestConfig { cases: 4000, max_global_rejects: 40_000, ..ProptestConfig::default() })]

    /// On a line escaped as the builder escapes but not checked, `check_line`
    /// gives the builder's verdict: the same error, or none. (Names with a
    /// backslash are left out: escaping alone does not make their line
    /// mean them, e.g. a measurement `m\\` before tags.)
    #[test]
    fn check_line_gives_the_builders_verdict(p in point(), precision in precision()) {
        prop_assume!(!p.fields.is_empty());
        let plain = |s: &String| s.replace('\\', "");
        let p = Point {
            measurement: plain(&p.measurement),
            tags: p.tags.iter().map(|(k, v)| (plain(k), plain(v))).collect(),
            fields: p.fields.iter().map(|(k, v)| (plain(k), v.clone())).collect(),
            timestamp: p.timestamp,
        };
        let line = naive_line(&p);
        let mut batch = Batch::<8192>::with_precision(precision);
        let built = build(&mut batch, &DefaultTags::<0>::new(), &p, false);
        prop_assume!(built != Err(PointError::BatchFull));
        let checked = check_line(&line, precision).map_err(|e| e.kind());
        prop_assert_eq!(checked, built.map_err(linewire::LineErrorKind::Point), "{:?}", line);
    }

    /// What `check_line` accepts, InfluxDB 3's parser accepts too, as one
    /// line, and InfluxDB 1.x/2.x (the Go model) reads the same names and
    /// strings from it.
    #[test]
    fn what_check_line_accepts_influxdb_3_parses(line in line_ish(), precision in precision()) {
        if check_line(&line, precision).is_ok() {
            let parsed: Vec<_> = parse_lines(&line).collect();
            prop_assert_eq!(parsed.len(), 1, "{:?}", line);
            let l = match &parsed[0] {
                Ok(l) => l,
                Err(e) => return Err(TestCaseError::fail(format!("{line:?}: {e}"))),
            };
            let go = go_read(line.as_bytes());
            prop_assert!(go.is_some(), "{:?}", line);
            let go = go.unwrap();
            let m = l.series.measurement.as_str().as_bytes();
            prop_assert_eq!(&go.measurement[..], m, "{:?}", line);
            prop_assert_eq!(&go.measurement_in_key[..], m, "{:?}", line);
            let tags: Vec<(Vec<u8>, Vec<u8>)> = parsed_tags(l)
                .into_iter()
                .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
                .collect();
            prop_assert_eq!(&go.tags, &tags, "{:?}", line);
            prop_assert_eq!(go.fields.len(), l.field_set.len(), "{:?}", line);
            for ((gk, gv), (k, v)) in go.fields.iter().zip(&l.field_set) {
                prop_assert_eq!(&gk[..], k.as_str().as_bytes(), "{:?}", line);
                if let Parsed::String(s) = v {
                    prop_assert_eq!(&gv[..], s.as_str().as_bytes(), "{:?}", line);
                }
            }
        }
    }
}

/// The pieces do make valid lines, so the property above tests something.
#[test]
fn line_ish_text_is_often_a_valid_line() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = line_ish();
    let valid = (0..20_000)
        .filter(|_| {
            let line = strategy.new_tree(&mut runner).unwrap().current();
            check_line(&line, Precision::Seconds).is_ok()
        })
        .count();
    assert!(valid > 20, "only {valid} valid lines in 20000");
}
