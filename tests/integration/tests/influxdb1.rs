//! A real InfluxDB 1.x (`influxd`, Debian package `influxdb`) on free
//! loopback ports: batches written through `linewire::nal::NalStream` to the
//! v1 `/write` endpoint (`Target::v1`) come back from `/query` identical,
//! including strings with quotes, backslashes and unicode and tags with
//! spaces, commas and equals signs.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use linewire::http::{Action, Outcome, Target};
use linewire::nal::NalStream;
use linewire::{Batch, Precision};
use linewire_integration::{
    encode_query, free_port, http_get, http_post, nal_conn, patient, require_binary, NalConn,
    ServerProcess, TempDir,
};

fn start() -> Option<ServerProcess> {
    start_with("")
}

/// `influxd` with extra lines in its `[http]` section.
fn start_with(http_extra: &str) -> Option<ServerProcess> {
    let bin = require_binary("/usr/bin/influxd", "influxdb")?;
    // The tests start servers in parallel: a port found free may be taken
    // before influxd binds it. Try again on other ports.
    let mut last = String::new();
    for _ in 0..5 {
        match try_start(&bin, http_extra) {
            Ok(server) => return Some(server),
            Err(log) if log.contains("address already in use") => last = log,
            Err(log) => panic!("influxd exited during startup:\n{log}"),
        }
    }
    panic!("influxd found no free ports in 5 tries:\n{last}");
}

fn try_start(bin: &std::path::Path, http_extra: &str) -> Result<ServerProcess, String> {
    let dir = TempDir::new("influxdb1");
    let http = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), free_port());
    let rpc = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), free_port());
    let d = dir.path();
    let conf = format!(
        r#"reporting-disabled = true
bind-address = "{rpc}"

[meta]
  dir = "{meta}"
  logging-enabled = false

[data]
  dir = "{data}"
  wal-dir = "{wal}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{http}"
  log-enabled = false
  pprof-enabled = false
{http_extra}

[ifql]
  enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false
"#,
        meta = d.join("meta").display(),
        data = d.join("data").display(),
        wal = d.join("wal").display(),
    );
    let conf_path = d.join("influxdb.conf");
    fs::write(&conf_path, conf).expect("write influxdb.conf");
    let mut cmd = Command::new(bin);
    cmd.arg("-config").arg(&conf_path);
    ServerProcess::try_start("influxd", cmd, dir, http, "/ping", Duration::from_secs(60))
}

fn query(db: &ServerProcess, q: &str) -> serde_json::Value {
    let (status, body) = http_get(
        db.addr,
        &format!("/query?db=x&epoch=ns&q={}", encode_query(q)),
    )
    .expect("query");
    assert_eq!(status, 200, "{q}: {body}");
    serde_json::from_str(&body).expect("query answer is JSON")
}

/// One row of a `SELECT * ... GROUP BY *` answer.
#[derive(Debug, PartialEq)]
struct Row {
    measurement: String,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, serde_json::Value>,
}

fn rows(answer: &serde_json::Value) -> Vec<Row> {
    let mut out = Vec::new();
    for series in answer["results"][0]["series"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let tags: BTreeMap<String, String> = series["tags"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            // GROUP BY * lists the tags of other series as empty strings.
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let columns: Vec<&str> = series["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c.as_str().expect("column name"))
            .collect();
        for values in series["values"].as_array().expect("values") {
            let fields = columns
                .iter()
                .zip(values.as_array().expect("row"))
                .filter(|(_, v)| !v.is_null())
                .map(|(c, v)| (c.to_string(), v.clone()))
                .collect();
            out.push(Row {
                measurement: series["name"].as_str().expect("name").to_string(),
                tags: tags.clone(),
                fields,
            });
        }
    }
    out
}

#[test]
fn influxdb1_returns_escaped_strings_and_tags_identical() {
    let Some(db) = start() else { return };
    let (status, body) = http_post(
        db.addr,
        &format!("/query?q={}", encode_query("CREATE DATABASE x")),
    )
    .expect("create database");
    assert_eq!(status, 200, "CREATE DATABASE: {body}");

    let target = Target::v1("127.0.0.1", "x").unwrap().port(db.addr.port());
    let mut conn = NalStream::new(
        std_embedded_nal::Stack,
        db.addr,
        patient(Duration::from_secs(20)),
    );
    let note = "say \"hi\" \\ C:\\dir\\file \\\" é ✓ 日本 🙂";
    let mut buf = [0u8; 512];

    let mut batch = Batch::<1024>::with_precision(Precision::Seconds);
    batch
        .point("wx st,1")
        .unwrap()
        .tag("room name", "loft, north=2")
        .unwrap()
        .tag("k=v", "a b,c=d")
        .unwrap()
        .tag("unit", "°C ✓")
        .unwrap()
        .field("note", note)
        .unwrap()
        .field("temp", 21.5)
        .unwrap()
        .field("count", -3i64)
        .unwrap()
        .field("ok", true)
        .unwrap()
        .timestamp(1_700_000_000)
        .unwrap();
    let reply = conn.write_batch(&target, &batch, &mut buf).unwrap();
    assert_eq!(
        reply.outcome,
        Outcome::Written,
        "status {} {:?}\n{}",
        reply.status,
        reply.error.message,
        db.log()
    );

    // A second batch on the same connection; its bad line is a 1.x partial write.
    // Plain bytes go out at the target's precision.
    let target_s = target.precision(Precision::Seconds);
    let reply = conn
        .write_batch(
            &target_s,
            b"wx\\ st\\,1,room\\ name=cellar temp=-1.25 1700000001\nbad-line-no-fields\n"
                .as_slice(),
            &mut buf,
        )
        .unwrap();
    let Outcome::PartiallyWritten(p) = reply.outcome else {
        panic!("1.x partial write expected, got {reply:?}");
    };
    assert_eq!(p.dropped, Some(0));
    assert_eq!(reply.outcome.action(), Action::Drop);
    assert!(
        reply
            .influxdb_error
            .is_some_and(|e| e.starts_with("partial write")),
        "{:?}",
        reply.influxdb_error
    );
    assert_eq!(conn.connects(), 1, "keep-alive across both batches");

    let answer = query(&db, "SELECT * FROM /.*/ GROUP BY *");
    let mut got = rows(&answer);
    got.sort_by_key(|r| r.fields.get("time").and_then(|t| t.as_i64()));
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let fields = |pairs: Vec<(&str, serde_json::Value)>| -> BTreeMap<String, serde_json::Value> {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    };
    let want = vec![
        Row {
            measurement: "wx st,1".into(),
            tags: tags(&[
                ("k=v", "a b,c=d"),
                ("room name", "loft, north=2"),
                ("unit", "°C ✓"),
            ]),
            fields: fields(vec![
                ("time", 1_700_000_000_000_000_000i64.into()),
                ("note", note.into()),
                ("temp", 21.5.into()),
                ("count", (-3).into()),
                ("ok", true.into()),
            ]),
        },
        Row {
            measurement: "wx st,1".into(),
            tags: tags(&[("room name", "cellar")]),
            fields: fields(vec![
                ("time", 1_700_000_001_000_000_000i64.into()),
                ("temp", (-1.25).into()),
            ]),
        },
    ];
    assert_eq!(got, want, "{answer:#}");
}

fn create_database(db: &ServerProcess) {
    let (status, body) = http_post(
        db.addr,
        &format!("/query?q={}", encode_query("CREATE DATABASE x")),
    )
    .expect("create database");
    assert_eq!(status, 200, "CREATE DATABASE: {body}");
}

/// The v1 target of database `x` (seconds) and a connection to `db`.
fn database_x(db: &ServerProcess) -> (Target<'static>, NalConn) {
    let target = Target::v1("127.0.0.1", "x")
        .unwrap()
        .port(db.addr.port())
        .precision(Precision::Seconds);
    (target, nal_conn(db.addr))
}

fn count_rows(db: &ServerProcess, measurement: &str) -> usize {
    rows(&query(db, &format!("SELECT * FROM \"{measurement}\""))).len()
}

/// InfluxDB 1.x quotes the whole bad line in `X-Influxdb-Error` (and in
/// the body) on a partial write: with a 3 KiB line the head is far larger
/// than a 512-byte buffer. The status still decides: the good line is
/// stored, the batch is dropped, nothing is retried.
#[test]
fn influxdb1_partial_write_with_a_long_line_is_decided_by_its_status() {
    let Some(db) = start() else { return };
    create_database(&db);
    let (target, mut conn) = database_x(&db);
    let long_bad = format!("bad{} x\n", "y".repeat(3000));
    let body = format!("good v=1 1700000000\n{long_bad}");
    let mut buf = [0u8; 512];
    let reply = conn
        .write_batch(&target, body.as_bytes(), &mut buf)
        .unwrap_or_else(|e| panic!("the status line arrived, so no error: {e}"));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.outcome.action(), Action::Drop, "{reply:?}");
    assert!(
        !reply.reusable,
        "a head that did not fit closes the connection"
    );
    assert_eq!(count_rows(&db, "good"), 1, "the good line is stored");

    // The next request goes out on a fresh connection and is written.
    let reply = conn
        .write_batch(&target, b"good v=2 1700000001\n".as_slice(), &mut buf)
        .unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(count_rows(&db, "good"), 2);
}

/// With `max-body-size` set, InfluxDB 1.x answers 413 as soon as it has
/// read a request head whose `Content-Length` is over the limit, and
/// closes the connection without reading the body. The writer must hear
/// that 413 (and so split), not report a transport error from the reset.
#[test]
fn influxdb1_early_413_on_a_large_body_is_heard() {
    let Some(db) = start_with("  max-body-size = 65536") else {
        return;
    };
    create_database(&db);
    let (target, mut conn) = database_x(&db);
    let mut body = String::new();
    for i in 0..200_000 {
        body.push_str(&format!(
            "big,host=h{} value={i} {}\n",
            i % 7,
            1_700_000_000 + i
        ));
    }
    assert!(body.len() > 6_000_000);
    let mut buf = [0u8; 512];
    let reply = conn
        .write_batch(&target, body.as_bytes(), &mut buf)
        .unwrap_or_else(|e| panic!("the 413 must be heard, not {e}"));
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(reply.outcome.action(), Action::Split);
    assert_eq!(count_rows(&db, "big"), 0);
}

/// Every name made of `a`, `\`, `"`, `=`, `,` and space (up to four
/// characters) in each role: the builder either refuses it, or InfluxDB
/// 1.x (Go's reading of line protocol) stores exactly that name. A
/// backslash that 1.x and InfluxDB 3 read differently must be refused.
#[test]
fn influxdb1_stores_every_name_the_builder_accepts_as_given() {
    use std::collections::BTreeSet;

    let Some(db) = start() else { return };
    create_database(&db);
    let alphabet = ['a', '\\', '"', '=', ',', ' '];
    let mut names = Vec::new();
    for len in 1..=4u32 {
        for mut n in 0..alphabet.len().pow(len) {
            let mut s = String::new();
            for _ in 0..len {
                s.push(alphabet[n % alphabet.len()]);
                n /= alphabet.len();
            }
            names.push(s);
        }
    }
    // Accepted names by role: measurement, tag key, tag value, field key.
    let mut accepted: [BTreeSet<String>; 4] = Default::default();
    let mut body = Vec::new();
    let mut refused = 0;
    let mut ts = 1_700_000_000i64;
    for name in &names {
        let n = name.as_str();
        let roles = [
            (n, "k", "v", "f"),
            ("tk", n, "v", "f"),
            ("tv", "k", n, "f"),
            ("fk", "k", "v", n),
        ];
        for (role, (m, k, v, f)) in roles.into_iter().enumerate() {
            ts += 1;
            let mut b = Batch::<256>::with_precision(Precision::Seconds);
            let built = b
                .point(m)
                .and_then(|p| p.tag(k, v))
                .and_then(|p| p.field(f, ts))
                .and_then(|p| p.timestamp(ts));
            if built.is_err() {
                assert!(b.is_empty(), "a refused point leaves the batch empty");
                refused += 1;
                continue;
            }
            body.extend_from_slice(b.as_bytes());
            accepted[role].insert(name.clone());
        }
    }
    assert!(refused > 0 && accepted.iter().all(|a| !a.is_empty()));
    let (target, mut conn) = database_x(&db);
    let mut buf = [0u8; 1024];
    let reply = conn
        .write_batch(&target, body.as_slice(), &mut buf)
        .unwrap();
    assert_eq!(reply.outcome, Outcome::Written, "{reply:?}");

    // The first string of each row of a SHOW answer (or the one at `col`).
    let shown = |q: &str, col: usize| -> BTreeSet<String> {
        let answer = query(&db, q);
        answer["results"][0]["series"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
            .map(|row| row[col].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let mut measurements = shown("SHOW MEASUREMENTS", 0);
    for fixed in ["tk", "tv", "fk"] {
        assert!(measurements.remove(fixed));
    }
    let tag_keys = shown("SHOW TAG KEYS FROM \"tk\"", 0);
    let tag_values = shown("SHOW TAG VALUES FROM \"tv\" WITH KEY = \"k\"", 1);
    let field_keys = shown("SHOW FIELD KEYS FROM \"fk\"", 0);
    let got = [measurements, tag_keys, tag_values, field_keys];
    for (role, (got, want)) in ["measurement", "tag key", "tag value", "field key"]
        .iter()
        .zip(got.iter().zip(&accepted))
    {
        let extra: Vec<_> = got.difference(want).collect();
        let missing: Vec<_> = want.difference(got).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{role}: 1.x stored names the builder was not given: {extra:?}; \
             names the builder accepted that 1.x read differently: {missing:?}"
        );
    }
}
