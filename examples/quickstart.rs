//! The quickstart: write a handful of points to InfluxDB.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With `INFLUX_URL`, `INFLUX_TOKEN` and `INFLUX_BUCKET` (and optionally
//! `INFLUX_ORG`) set, the points go to that server. With none set, a local
//! fake InfluxDB (the `linewire-testkit` endpoint) is started on loopback,
//! the points are written to it, and what it stored is printed.

use std::io::Write;

use linewire_std::{Batch, DefaultTags, Precision};
use linewire_std::{Client, Error};

#[allow(dead_code)] // the quickstart test includes this file as a module
fn main() {
    if let Err(e) = run(Client::from_env(), &mut std::io::stdout()) {
        eprintln!("quickstart failed: {e}");
        std::process::exit(1);
    }
}

/// Writes five points with `client` (from the environment), or to a local
/// test endpoint when there is none; reports to `out`.
pub fn run(
    client: Option<Result<Client, Error>>,
    out: &mut dyn Write,
) -> Result<(), Box<dyn std::error::Error>> {
    // A real server from the environment, or a local test endpoint.
    let mut local = None;
    let client = match client {
        Some(client) => client?,
        None => {
            let server = linewire_testkit::TestServer::start();
            writeln!(
                out,
                "INFLUX_URL not set: using a local test endpoint at {}",
                server.url()
            )?;
            let client = Client::new(&server.url(), Some("quickstart-token"))?.bucket("quickstart");
            local = Some(server);
            client
        }
    };

    // Tags every point carries.
    let mut device = DefaultTags::<64>::new();
    device.add("host", "quickstart")?.add("site", "lab")?;

    // Five points at one-second precision, formatted into a fixed batch.
    let now = linewire_std::now(Precision::Seconds);
    let mut batch = Batch::<2048>::with_precision(Precision::Seconds);
    for (i, room) in ["kitchen", "hall", "loft", "cellar", "porch"]
        .iter()
        .enumerate()
    {
        let i = i as i64;
        batch
            .point_with(&device, "env")?
            .tag("room", room)?
            .field("temperature", 18.5 + i as f64)?
            .field("humidity", 40 + i)?
            .field("ok", true)?
            .timestamp(now - 4 + i)?;
    }
    write!(
        out,
        "sending {} points:\n{}",
        batch.line_count(),
        batch.as_str()
    )?;

    let written = client.write(&batch)?;
    writeln!(
        out,
        "written: HTTP {} ({} bytes, {} on the wire with gzip)",
        written.status, written.body_len, written.wire_len
    )?;

    if let Some(server) = local {
        writeln!(out, "the server stored:")?;
        for p in server.points("quickstart") {
            let tags: Vec<String> = p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let fields: Vec<String> = p.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(
                out,
                "  {} {} {} {}",
                p.measurement,
                tags.join(","),
                fields.join(","),
                p.timestamp_ns
            )?;
        }
    }
    Ok(())
}
