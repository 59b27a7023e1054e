//! `check_line`: bad lines give the error the builder would give (or a
//! parse error), at the right offset, with a sentence a person reads.
//! The properties (written lines pass; the checker agrees with the
//! builder; what it accepts InfluxDB 3's parser accepts) are in
//! `oracle.rs`, next to the generators they share.

use linewire::{check_line, LineErrorKind as K, Part, PointError as P, Precision};

const NS: Precision = Precision::Nanoseconds;
const S: Precision = Precision::Seconds;

fn pe(e: P) -> K {
    K::Point(e)
}

#[test]
fn good_lines_pass() {
    for line in [
        "m v=1",
        "m v=1i",
        "m v=-9223372036854775808i",
        "m v=18446744073709551615u",
        "m v=1.5,w=-0.0,x=1e-7,y=15E+2,z=2.5e3",
        "m v=t,w=T,x=true,y=True,z=TRUE",
        "m v=f,w=F,x=false,y=False,z=FALSE",
        "m s=\"\"",
        "m s=\"say \\\"hi\\\" \\\\ done\"",
        "m s=\"a\\xb, c=d e\"",
        "m s=\"line\nfeed\"",
        "weather,station=KORD temperature=82.5 1465839830100400200",
        "m\\ x\\,y,k\\ 1\\,\\==v\\ 1\\,\\= f\\ 1\\,\\==1i",
        "m=x\"y v=1",
        "m,k\\\"=v\\\" v=1",
        "m,a=1,b=2 v=1,w=2",
        "m a\\b=1",
        "é,☕=ü ß=\"☃\"",
        "m v=1 -9223372036854775806",
        "m v=1 0",
        "m,k=_v,t=time,h=#x v=1",
    ] {
        assert_eq!(check_line(line, NS), Ok(()), "{line:?}");
    }
    assert_eq!(check_line("m v=1 9223372036", S), Ok(()));
    assert_eq!(check_line("m v=1 -9223372036", S), Ok(()));
}

#[test]
fn bad_lines_give_the_kind_and_offset() {
    use Part::*;
    #[rustfmt::skip]
    let table: &[(&str, Precision, K, usize, &str)] = &[
        // Structure.
        ("", NS, pe(P::Empty(Measurement)), 0, ""),
        ("m", NS, K::NoFields, 1, ""),
        ("m ", NS, K::NoFields, 2, ""),
        ("m,k=v", NS, K::NoFields, 5, ""),
        (" m v=1", NS, pe(P::Empty(Measurement)), 0, ""),
        ("m  v=1", NS, K::ExtraSpace, 2, ""),
        ("m v=1 ", NS, K::ExtraSpace, 5, ""),
        ("m v=1  5", NS, K::ExtraSpace, 5, ""),
        ("m v=1 5 ", NS, K::ExtraSpace, 7, ""),
        ("m v=1 5 x", NS, K::Unexpected, 8, "x"),
        ("m v=1 12a", NS, K::NotATimestamp, 6, "12a"),
        ("m v=1 w=2", NS, K::NotATimestamp, 6, "w=2"),
        ("m v=1 -", NS, K::NotATimestamp, 6, "-"),
        ("m v=1 +5", NS, K::NotATimestamp, 6, "+5"),
        ("m,k v=1", NS, K::MissingTagValue, 2, "k"),
        ("m,k=a=b v=1", NS, K::UnescapedEquals, 5, "a=b"),
        ("m v", NS, K::MissingFieldValue, 2, "v"),
        ("m v=", NS, K::MissingFieldValue, 4, "v"),
        ("m v=,w=1", NS, K::MissingFieldValue, 4, "v"),
        ("m v=1,", NS, pe(P::Empty(FieldKey)), 6, ""),
        ("m v=1,w", NS, K::MissingFieldValue, 6, "w"),
        ("m s=\"abc", NS, K::UnclosedString, 4, "s"),
        ("m s=\"abc\\\"", NS, K::UnclosedString, 4, "s"),
        ("m s=\"abc\\", NS, K::UnclosedString, 4, "s"),
        ("m s=\"a\"b", NS, K::Unexpected, 7, "b"),
        ("m s=\"a\"b,c=1", NS, K::Unexpected, 7, "b"),
        // Values.
        ("m v=oops", NS, K::NotAValue, 4, "oops"),
        ("m v=1.", NS, K::NotAValue, 4, "1."),
        ("m v=.5", NS, K::NotAValue, 4, ".5"),
        ("m v=+1", NS, K::NotAValue, 4, "+1"),
        ("m v=1e", NS, K::NotAValue, 4, "1e"),
        ("m v=0x10", NS, K::NotAValue, 4, "0x10"),
        ("m v=1.5i", NS, K::NotAValue, 4, "1.5i"),
        ("m v=yes", NS, K::NotAValue, 4, "yes"),
        ("m v=tRUE", NS, K::NotAValue, 4, "tRUE"),
        ("m v=NaN", NS, pe(P::NotFinite), 4, "NaN"),
        ("m v=-inf", NS, pe(P::NotFinite), 4, "-inf"),
        ("m v=Infinity", NS, pe(P::NotFinite), 4, "Infinity"),
        ("m v=1e400", NS, pe(P::NotFinite), 4, "1e400"),
        ("m v=9223372036854775808i", NS, K::IntegerOutOfRange, 4, "9223372036854775808i"),
        ("m v=18446744073709551616u", NS, K::IntegerOutOfRange, 4, "18446744073709551616u"),
        ("m v=-1u", NS, K::IntegerOutOfRange, 4, "-1u"),
        // Names, as the builder refuses them.
        ("_m v=1", NS, pe(P::Reserved(Measurement)), 0, "_m"),
        ("#m v=1", NS, pe(P::CommentMarker), 0, "#m"),
        ("m,_k=v v=1", NS, pe(P::Reserved(TagKey)), 2, "_k"),
        ("m,time=v v=1", NS, pe(P::Reserved(TagKey)), 2, "time"),
        ("m _v=1", NS, pe(P::Reserved(FieldKey)), 2, "_v"),
        ("m time=1", NS, pe(P::Reserved(FieldKey)), 2, "time"),
        (",k=v v=1", NS, pe(P::Empty(Measurement)), 0, ""),
        ("m,=v v=1", NS, pe(P::Empty(TagKey)), 2, ""),
        ("m,k= v=1", NS, pe(P::Empty(TagValue)), 4, "k"),
        ("m, v=1", NS, pe(P::Empty(TagKey)), 2, ""),
        ("m =1", NS, pe(P::Empty(FieldKey)), 2, ""),
        ("m\tx v=1", NS, pe(P::ForbiddenCharacter(Measurement)), 1, "m\tx"),
        ("m,k=a\rb v=1", NS, pe(P::ForbiddenCharacter(TagValue)), 5, "a\rb"),
        ("m a\0b=1", NS, pe(P::ForbiddenCharacter(FieldKey)), 3, "a\0b"),
        ("m v=1\\", NS, K::NotAValue, 4, "1\\"),
        ("m\\", NS, pe(P::TrailingBackslash(Measurement)), 1, "m\\"),
        ("m,k=v\\", NS, pe(P::TrailingBackslash(TagValue)), 5, "v\\"),
        ("m\\\\x v=1", NS, pe(P::AmbiguousBackslash(Measurement)), 1, "m\\\\x"),
        ("m\\=x v=1", NS, pe(P::AmbiguousBackslash(Measurement)), 1, "m\\=x"),
        ("m\\\"x v=1", NS, pe(P::AmbiguousBackslash(Measurement)), 1, "m\\\"x"),
        ("m,k\\\\=v v=1", NS, pe(P::AmbiguousBackslash(TagKey)), 3, "k\\\\"),
        ("m,k=v\\\\ w=1", NS, pe(P::AmbiguousBackslash(TagValue)), 5, "v\\\\"),
        ("m a\\\"b=1", NS, pe(P::AmbiguousBackslash(FieldKey)), 3, "a\\\"b"),
        // Repeats.
        ("m,k=1,k=2 v=1", NS, pe(P::DuplicateTag), 6, "k"),
        ("m,a\\ b=1,a\\ b=2 v=1", NS, pe(P::DuplicateTag), 9, "a\\ b"),
        ("m v=1,v=2", NS, pe(P::DuplicateField), 6, "v"),
        ("m v=\"a,v=1\",w=1,v=2i", NS, pe(P::DuplicateField), 16, "v"),
        // Timestamps, per precision.
        ("m v=1 99999999999999999999", S, pe(P::TimestampOutOfRange), 6, "99999999999999999999"),
        ("m v=1 9223372037", S, pe(P::TimestampOutOfRange), 6, "9223372037"),
        ("m v=1 -9223372037", S, pe(P::TimestampOutOfRange), 6, "-9223372037"),
        ("m v=1 9223372036854775807", NS, pe(P::TimestampOutOfRange), 6, "9223372036854775807"),
        ("m v=1 2562048", Precision::Hours, pe(P::TimestampOutOfRange), 6, "2562048"),
    ];
    let mut failures = Vec::new();
    for &(line, precision, kind, offset, text) in table {
        match check_line(line, precision) {
            Err(e) if e.kind() == kind && e.offset() == offset && e.text() == text => {}
            other => failures.push(format!(
                "{line:?}: expected {kind:?} at {offset} on {text:?}, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn messages_are_sentences() {
    let cases = [
        (
            "m v=oops",
            "the field value `oops` is not a number, a string in double quotes, or a boolean",
        ),
        ("m s=\"abc", "the string field `s` is not closed (missing `\"`)"),
        (
            "m v=NaN",
            "the field value `NaN` is not finite: NaN and infinity cannot be written",
        ),
        ("m v=1,v=2", "the field `v` is given twice"),
        ("m,k=1,k=2 v=1", "the tag `k` is given twice"),
        ("_m v=1", "measurement names cannot start with `_`"),
        (
            "m v=1 99999999999999999999",
            "the timestamp 99999999999999999999 is out of range for precision s (1677-09-21 to 2262-04-11)",
        ),
        ("m", "the line has no fields"),
        ("m,k= v=1", "the tag `k` has an empty value"),
        (
            "m,time=x v=1",
            "the tag key `time` is reserved (tag keys cannot start with `_` or be `time`)",
        ),
        (
            "m,k=a=b v=1",
            "the tag value `a=b` has an `=` without a backslash before it",
        ),
        ("m v=1 x", "the timestamp `x` is not an integer"),
        ("m v=1 5 x", "unexpected text `x`"),
        (
            "m v=-1u",
            "the integer field value `-1u` is out of range",
        ),
        (
            "m\\=x v=1",
            "the measurement `m\\=x` has a backslash before a backslash, quote or equals sign, which InfluxDB versions read differently",
        ),
    ];
    for (line, message) in cases {
        let err = check_line(line, S).unwrap_err();
        assert_eq!(err.to_string(), message, "{line:?}");
    }
}

#[test]
fn long_text_is_quoted_bounded() {
    let value = "x".repeat(1000);
    let line = format!("m v={value}");
    let message = check_line(&line, NS).unwrap_err().to_string();
    assert!(
        message.contains(&format!("`{}...`", "x".repeat(40))),
        "{message}"
    );
    assert!(message.len() < 120, "{message}");
    // Cut on a character boundary.
    let line = format!("m v={}", "é".repeat(100));
    let message = check_line(&line, NS).unwrap_err().to_string();
    assert!(
        message.contains(&format!("`{}...`", "é".repeat(40))),
        "{message}"
    );
}

#[test]
fn string_length_counts_unescaped_bytes() {
    let max = linewire::MAX_STRING_FIELD_LEN;
    let at_limit = format!("m s=\"{}\"", "a".repeat(max));
    assert_eq!(check_line(&at_limit, NS), Ok(()));
    // Escapes shrink when read: 64 KiB of `\"` is 32 KiB of quotes.
    let escaped = format!("m s=\"{}\"", "\\\"".repeat(max / 2 + 1));
    assert_eq!(check_line(&escaped, NS), Ok(()));
    let over = format!("m s=\"{}\"", "a".repeat(max + 1));
    let err = check_line(&over, NS).unwrap_err();
    assert_eq!(err.kind(), K::Point(P::StringTooLong));
    assert_eq!((err.offset(), err.text()), (4, "s"));
    assert_eq!(
        err.to_string(),
        "the string field `s` is longer than 64 KiB"
    );
}
