//! Byte fixtures for every escaping rule and every refusal of the batch core.

use linewire::{Batch, DefaultTags, Part, PointError, Precision};

type Result<T = ()> = core::result::Result<T, PointError>;
type Build = Box<dyn Fn(&mut Batch<512>) -> Result>;

fn one(build: impl FnOnce(&mut Batch<512>) -> Result) -> String {
    let mut batch = Batch::<512>::new();
    build(&mut batch).expect("point accepted");
    String::from_utf8(batch.as_bytes().to_vec()).unwrap()
}

/// Builds a point in a batch that already holds one line, and checks the
/// refusal leaves the batch exactly as it was.
fn refused(build: impl FnOnce(&mut Batch<512>) -> Result) -> PointError {
    let mut batch = Batch::<512>::new();
    batch
        .point("before")
        .unwrap()
        .field("v", 1i64)
        .unwrap()
        .finish()
        .unwrap();
    let snapshot = batch.as_bytes().to_vec();
    let err = build(&mut batch).expect_err("point refused");
    assert_eq!(
        batch.as_bytes(),
        &snapshot[..],
        "batch changed by a refused point"
    );
    assert_eq!(batch.line_count(), 1);
    // The batch still takes points after a refusal.
    batch
        .point("after")
        .unwrap()
        .field("v", 2i64)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(batch.as_bytes(), b"before v=1i\nafter v=2i\n");
    err
}

#[test]
fn measurement_escapes_comma_and_space_only() {
    assert_eq!(
        one(|b| b.point("a,b c=d")?.field("v", 1i64)?.finish()),
        "a\\,b\\ c=d v=1i\n"
    );
}

#[test]
fn tag_and_field_keys_escape_comma_equals_space() {
    assert_eq!(
        one(|b| b
            .point("m")?
            .tag("k,=k k", "v,=v v")?
            .field("f,=f f", 1i64)?
            .finish()),
        "m,k\\,\\=k\\ k=v\\,\\=v\\ v f\\,\\=f\\ f=1i\n"
    );
}

#[test]
fn literal_backslash_before_ordinary_character_is_written_as_is() {
    assert_eq!(
        one(|b| b
            .point("a\\b")?
            .tag("c\\d", "e\\f")?
            .field("g\\h", 1i64)?
            .finish()),
        "a\\b,c\\d=e\\f g\\h=1i\n"
    );
    // `"` is literal after a backslash in tags: neither parser unescapes it there.
    assert_eq!(
        one(|b| b
            .point("m")?
            .tag("k\\\"", "v\\\"")?
            .field("f", 1i64)?
            .finish()),
        "m,k\\\"=v\\\" f=1i\n"
    );
}

/// Every (element, backslash + character) pair that InfluxDB 1.x/2.x (Go:
/// `escape.Unescape` for measurements, `unescapeTag` for tags,
/// `escape.AppendUnescaped` for field keys) and InfluxDB 3
/// (`influxdb-line-protocol`) read back differently, or that needs escaping.
#[test]
fn backslash_before_what_either_parser_unescapes_is_refused() {
    use Part::*;
    let refused_after_backslash: [(Part, &str); 4] = [
        (Measurement, ",= \"\\"),
        (TagKey, ",= \\"),
        (TagValue, ",= \\"),
        (FieldKey, ",= \"\\"),
    ];
    for (part, chars) in refused_after_backslash {
        for c in chars.chars().chain(['"', 'x', '\'']) {
            let name = format!("a\\{c}b");
            let build = |b: &mut Batch<512>| -> Result {
                match part {
                    Measurement => b.point(name.as_str())?.field("v", 1i64)?.finish(),
                    TagKey => b
                        .point("m")?
                        .tag(name.as_str(), "v")?
                        .field("v", 1i64)?
                        .finish(),
                    TagValue => b
                        .point("m")?
                        .tag("k", name.as_str())?
                        .field("v", 1i64)?
                        .finish(),
                    _ => b.point("m")?.field(name.as_str(), 1i64)?.finish(),
                }
            };
            if chars.contains(c) {
                assert_eq!(
                    refused(build),
                    PointError::AmbiguousBackslash(part),
                    "{part} {name:?}"
                );
            } else {
                let text = one(build);
                assert!(text.contains(&name), "{part} {name:?}: {text:?}");
            }
        }
    }
    // The pairs the issue was confirmed with on InfluxDB 1.6.
    assert_eq!(
        refused(|b| b.point("a\\\"b")?.field("v", 1i64)?.finish()),
        PointError::AmbiguousBackslash(Measurement)
    );
    assert_eq!(
        refused(|b| b.point("a\\=b")?.field("v", 1i64)?.finish()),
        PointError::AmbiguousBackslash(Measurement)
    );
    assert_eq!(
        refused(|b| b.point("m")?.field("a\\\"b", 1i64)?.finish()),
        PointError::AmbiguousBackslash(FieldKey)
    );
}

#[test]
fn string_fields_escape_quote_and_backslash_and_keep_everything_else() {
    assert_eq!(
        one(|b| b.point("m")?.field("s", "a\"b\\c,d=e f\ng\r\th")?.finish()),
        "m s=\"a\\\"b\\\\c,d=e f\ng\r\th\"\n"
    );
    assert_eq!(
        one(|b| b.point("m")?.field("s", "")?.finish()),
        "m s=\"\"\n"
    );
    assert_eq!(
        one(|b| b.point("m")?.field("s", "ends\\")?.finish()),
        "m s=\"ends\\\\\"\n"
    );
}

#[test]
fn unicode_passes_through() {
    assert_eq!(
        one(|b| b
            .point("température")?
            .tag("pièce", "cuisine ☕")?
            .field("é", "ü")?
            .finish()),
        "température,pièce=cuisine\\ ☕ é=\"ü\"\n"
    );
}

#[test]
fn numbers_use_shortest_round_trip_forms() {
    assert_eq!(
        one(|b| b
            .point("m")?
            .field("a", 82.5)?
            .field("b", -0.0)?
            .field("c", 1e300)?
            .field("d", f64::MIN_POSITIVE)?
            .field("e", 0.1 + 0.2)?
            .field("f", 1.0)?
            .finish()),
        "m a=82.5,b=-0.0,c=1e300,d=2.2250738585072014e-308,e=0.30000000000000004,f=1.0\n"
    );
    assert_eq!(
        one(|b| b
            .point("m")?
            .field("i", i64::MIN)?
            .field("j", i64::MAX)?
            .field("u", u64::MAX)?
            .field("z", 0u8)?
            .finish()),
        "m i=-9223372036854775808i,j=9223372036854775807i,u=18446744073709551615u,z=0u\n"
    );
    assert_eq!(
        one(|b| b.point("m")?.field("t", true)?.field("f", false)?.finish()),
        "m t=true,f=false\n"
    );
    assert_eq!(
        one(|b| b.point("m")?.field("x", 1.5f32)?.finish()),
        "m x=1.5\n"
    );
}

#[test]
fn timestamps_in_every_precision() {
    for (precision, ts, wire) in [
        (
            Precision::Nanoseconds,
            1_465_839_830_100_400_200,
            "1465839830100400200",
        ),
        (
            Precision::Microseconds,
            1_465_839_830_100_400,
            "1465839830100400",
        ),
        (Precision::Milliseconds, -1, "-1"),
        (Precision::Seconds, 0, "0"),
        // Minutes and hours go on the wire as seconds.
        (Precision::Minutes, 2, "120"),
        (Precision::Hours, -2, "-7200"),
    ] {
        let mut batch = Batch::<64>::with_precision(precision);
        batch
            .point("m")
            .unwrap()
            .field("v", 1i64)
            .unwrap()
            .timestamp(ts)
            .unwrap();
        assert_eq!(batch.as_str(), format!("m v=1i {wire}\n"), "{precision}");
    }
    let mut batch = Batch::<64>::new();
    batch
        .point("m")
        .unwrap()
        .field("v", 1i64)
        .unwrap()
        .timestamp(linewire::MIN_TIMESTAMP_NS)
        .unwrap();
    assert_eq!(batch.as_str(), "m v=1i -9223372036854775806\n");
}

#[test]
fn tags_keep_caller_order_unless_sorting() {
    let build = |b: &mut Batch<512>| {
        b.point("m")?
            .tag("zeta", "1")?
            .tag("alpha", "2")?
            .tag("mid", "3")?
            .field("v", 1i64)?
            .finish()
    };
    assert_eq!(one(build), "m,zeta=1,alpha=2,mid=3 v=1i\n");
    let mut sorted = Batch::<512>::new().sort_tags(true);
    build(&mut sorted).unwrap();
    assert_eq!(sorted.as_str(), "m,alpha=2,mid=3,zeta=1 v=1i\n");
}

#[test]
fn sorting_uses_unescaped_keys_and_merges_default_tags() -> Result {
    let mut defaults = DefaultTags::<64>::new();
    defaults.add("site", "barn")?.add("device", "d 7")?;
    let mut batch = Batch::<512>::new().sort_tags(true);
    batch
        .point_with(&defaults, "m")?
        // "a b" < "a=b" by raw bytes although "a\ b" vs "a\=b" escaped.
        .tag("a=b", "2")?
        .tag("a b", "1")?
        .tag("zone", "z")?
        .field("v", 1i64)?
        .finish()?;
    assert_eq!(
        batch.as_str(),
        "m,a\\ b=1,a\\=b=2,device=d\\ 7,site=barn,zone=z v=1i\n"
    );
    let mut unsorted = Batch::<512>::new();
    unsorted
        .point_with(&defaults, "m")?
        .tag("x", "y")?
        .field("v", 1i64)?
        .finish()?;
    assert_eq!(unsorted.as_str(), "m,site=barn,device=d\\ 7,x=y v=1i\n");
    Ok(())
}

#[test]
fn refusals_leave_the_batch_unchanged() {
    use Part::*;
    use PointError as E;
    let cases: Vec<(PointError, Build)> = vec![
        (
            E::Empty(Measurement),
            Box::new(|b| b.point("")?.field("v", 1i64)?.finish()),
        ),
        (
            E::Empty(TagKey),
            Box::new(|b| b.point("m")?.tag("", "v")?.field("v", 1i64)?.finish()),
        ),
        (
            E::Empty(TagValue),
            Box::new(|b| b.point("m")?.tag("k", "")?.field("v", 1i64)?.finish()),
        ),
        (
            E::Empty(FieldKey),
            Box::new(|b| b.point("m")?.field("", 1i64)?.finish()),
        ),
        (
            E::ForbiddenCharacter(Measurement),
            Box::new(|b| b.point("a\nb")?.field("v", 1i64)?.finish()),
        ),
        (
            E::ForbiddenCharacter(Measurement),
            Box::new(|b| b.point("a\rb")?.field("v", 1i64)?.finish()),
        ),
        (
            E::ForbiddenCharacter(TagKey),
            Box::new(|b| b.point("m")?.tag("a\tb", "v")?.field("v", 1i64)?.finish()),
        ),
        (
            E::ForbiddenCharacter(TagValue),
            Box::new(|b| b.point("m")?.tag("k", "a\nb")?.field("v", 1i64)?.finish()),
        ),
        (
            E::ForbiddenCharacter(FieldKey),
            Box::new(|b| b.point("m")?.field("a\0b", 1i64)?.finish()),
        ),
        (
            E::TrailingBackslash(Measurement),
            Box::new(|b| b.point("m\\")?.field("v", 1i64)?.finish()),
        ),
        (
            E::TrailingBackslash(TagKey),
            Box::new(|b| b.point("m")?.tag("k\\", "v")?.field("v", 1i64)?.finish()),
        ),
        (
            E::TrailingBackslash(TagValue),
            Box::new(|b| b.point("m")?.tag("k", "v\\")?.field("v", 1i64)?.finish()),
        ),
        (
            E::TrailingBackslash(FieldKey),
            Box::new(|b| b.point("m")?.field("f\\", 1i64)?.finish()),
        ),
        (
            E::AmbiguousBackslash(TagValue),
            Box::new(|b| b.point("m")?.tag("k", "a\\,b")?.field("v", 1i64)?.finish()),
        ),
        (
            E::AmbiguousBackslash(TagKey),
            Box::new(|b| b.point("m")?.tag("a\\\\b", "v")?.field("v", 1i64)?.finish()),
        ),
        (
            E::AmbiguousBackslash(Measurement),
            Box::new(|b| b.point("a\\ b")?.field("v", 1i64)?.finish()),
        ),
        (
            E::AmbiguousBackslash(FieldKey),
            Box::new(|b| b.point("m")?.field("a\\=b", 1i64)?.finish()),
        ),
        (
            E::Reserved(Measurement),
            Box::new(|b| b.point("_m")?.field("v", 1i64)?.finish()),
        ),
        (
            E::Reserved(TagKey),
            Box::new(|b| b.point("m")?.tag("_field", "x")?.field("v", 1i64)?.finish()),
        ),
        (
            E::Reserved(TagKey),
            Box::new(|b| b.point("m")?.tag("time", "x")?.field("v", 1i64)?.finish()),
        ),
        (
            E::Reserved(FieldKey),
            Box::new(|b| b.point("m")?.field("time", 1i64)?.finish()),
        ),
        (
            E::CommentMarker,
            Box::new(|b| b.point("#m")?.field("v", 1i64)?.finish()),
        ),
        (
            E::DuplicateTag,
            Box::new(|b| {
                b.point("m")?
                    .tag("k", "1")?
                    .tag("k", "2")?
                    .field("v", 1i64)?
                    .finish()
            }),
        ),
        (
            E::DuplicateField,
            Box::new(|b| b.point("m")?.field("v", 1i64)?.field("v", 2i64)?.finish()),
        ),
        (
            E::DuplicateField,
            Box::new(|b| {
                b.point("m")?
                    .field("a", "x,v=1")?
                    .field("v", 2i64)?
                    .field("b", 1i64)?
                    .field("v", 3i64)?
                    .finish()
            }),
        ),
        (
            E::NotFinite,
            Box::new(|b| b.point("m")?.field("v", f64::NAN)?.finish()),
        ),
        (
            E::NotFinite,
            Box::new(|b| b.point("m")?.field("v", f64::INFINITY)?.finish()),
        ),
        (
            E::NotFinite,
            Box::new(|b| {
                b.point("m")?
                    .field("ok", 1i64)?
                    .field("v", f64::NEG_INFINITY)?
                    .finish()
            }),
        ),
        (
            E::TimestampOutOfRange,
            Box::new(|b| b.point("m")?.field("v", 1i64)?.timestamp(i64::MAX)),
        ),
        (
            E::TimestampOutOfRange,
            Box::new(|b| b.point("m")?.field("v", 1i64)?.timestamp(i64::MIN)),
        ),
        (
            E::TimestampOutOfRange,
            Box::new(|b| {
                b.point("m")?
                    .field("v", 1i64)?
                    .timestamp(-9_223_372_036_854_775_807)
            }),
        ),
    ];
    for (expected, build) in cases {
        assert_eq!(refused(build), expected);
    }
}

#[test]
fn duplicate_tag_with_a_default_is_refused() {
    let mut defaults = DefaultTags::<64>::new();
    defaults.add("device", "d1").unwrap();
    for sort in [false, true] {
        let mut batch = Batch::<128>::new().sort_tags(sort);
        let err = batch
            .point_with(&defaults, "m")
            .and_then(|p| p.tag("device", "d2"))
            .and_then(|p| p.field("v", 1i64))
            .and_then(|p| p.finish())
            .unwrap_err();
        assert_eq!(err, PointError::DuplicateTag);
        assert!(batch.is_empty());
    }
}

#[test]
fn string_field_limit_is_64_kib() {
    let max = "x".repeat(linewire::MAX_STRING_FIELD_LEN);
    let mut big = Batch::<{ 64 * 1024 + 64 }>::new();
    big.point("m")
        .unwrap()
        .field("s", max.as_str())
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(big.len(), 64 * 1024 + 7);
    let over = "x".repeat(linewire::MAX_STRING_FIELD_LEN + 1);
    assert_eq!(
        refused(|b| b.point("m")?.field("s", over.as_str())?.finish()),
        PointError::StringTooLong
    );
}

#[test]
fn a_point_that_does_not_fit_changes_nothing_at_any_byte() {
    // Every capacity from too small for anything up to exactly enough.
    let line = "weather,station=KORD t=82.5,n=\"a\\\"b\" 1465839830100400200\n";
    fn build<const N: usize>(batch: &mut Batch<N>) -> Result {
        batch
            .point("weather")?
            .tag("station", "KORD")?
            .field("t", 82.5)?
            .field("n", "a\"b")?
            .timestamp(1_465_839_830_100_400_200)
    }
    fn check<const N: usize>(line: &str) {
        let mut batch = Batch::<N>::new();
        let result = build(&mut batch);
        if N >= line.len() {
            assert_eq!(result, Ok(()));
            assert_eq!(batch.as_str(), line);
        } else {
            assert_eq!(result, Err(PointError::BatchFull), "capacity {N}");
            assert!(batch.is_empty());
            assert_eq!(batch.line_count(), 0);
        }
    }
    macro_rules! caps { ($($n:literal)*) => { $( check::<$n>(line); )* } }
    caps!(0 1 5 7 8 20 30 40 50 55 56 57 58 59 60 61 62 63 64 80);
    assert_eq!(line.len(), 57);
}

#[test]
fn abandoned_builder_leaves_no_half_line() {
    let mut batch = Batch::<128>::new();
    batch
        .point("a")
        .unwrap()
        .field("v", 1i64)
        .unwrap()
        .finish()
        .unwrap();
    {
        let half = batch
            .point("b")
            .unwrap()
            .tag("k", "v")
            .unwrap()
            .field("x", 2i64)
            .unwrap();
        drop(half);
    }
    assert_eq!(batch.as_bytes(), b"a v=1i\n");
    assert_eq!(batch.line_count(), 1);
    batch
        .point("c")
        .unwrap()
        .field("v", 3i64)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(batch.as_bytes(), b"a v=1i\nc v=3i\n");
}

#[test]
fn taking_lines_off_the_front() {
    let mut batch = Batch::<256>::new();
    for (i, s) in ["x", "multi\nline", "z"].iter().enumerate() {
        batch
            .point("m")
            .unwrap()
            .field("s", *s)
            .unwrap()
            .timestamp(i as i64)
            .unwrap();
    }
    assert_eq!(batch.lines().count(), 3);
    assert_eq!(batch.first_lines(0), b"");
    assert_eq!(
        batch.first_lines(2),
        b"m s=\"x\" 0\nm s=\"multi\nline\" 1\n"
    );
    assert_eq!(batch.first_lines(9), batch.as_bytes());
    assert_eq!(batch.remove_first_lines(2), 2);
    assert_eq!(batch.as_bytes(), b"m s=\"z\" 2\n");
    assert_eq!(batch.line_count(), 1);
    assert_eq!(batch.remove_first_lines(5), 1);
    assert!(batch.is_empty());
    assert_eq!(batch.remove_first_lines(1), 0);
}

#[test]
fn default_tags_refuse_like_tags_and_change_nothing() {
    let mut defaults = DefaultTags::<16>::new();
    defaults.add("a", "1").unwrap();
    assert_eq!(
        defaults.add("b", "x\ny").unwrap_err(),
        PointError::ForbiddenCharacter(Part::TagValue)
    );
    assert_eq!(
        defaults.add("long", "0123456789").unwrap_err(),
        PointError::BatchFull
    );
    assert_eq!(defaults.len(), 1);
    let mut batch = Batch::<64>::new();
    batch
        .point_with(&defaults, "m")
        .unwrap()
        .field("v", 1i64)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(batch.as_str(), "m,a=1 v=1i\n");
}
