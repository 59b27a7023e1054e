//! The README's first command, `cargo run --example quickstart`: its logic,
//! included from `examples/quickstart.rs`, run against the test kit.

#[path = "../../examples/quickstart.rs"]
mod quickstart;

use linewire_std::Client;
use linewire_testkit::{FieldValue, TestServer};

fn run(client: Option<Result<Client, linewire_std::Error>>) -> (Result<(), String>, String) {
    let mut out = Vec::new();
    let result = quickstart::run(client, &mut out).map_err(|e| e.to_string());
    (result, String::from_utf8(out).expect("utf-8 output"))
}

#[test]
fn without_a_server_it_writes_to_a_local_endpoint_and_prints_the_points() {
    let (result, out) = run(None);
    result.expect("quickstart runs");
    assert!(out.contains("written: HTTP 204"), "{out}");
    let stored: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "the server stored:")
        .skip(1)
        .collect();
    assert_eq!(stored.len(), 5, "{out}");
    assert!(
        stored[0].starts_with(
            "  env host=quickstart,room=kitchen,site=lab humidity=40i,ok=true,temperature=18.5 "
        ),
        "{out}"
    );
    assert!(stored[4].contains("room=porch") && stored[4].contains("temperature=22.5"));
    assert!(!out.contains("quickstart-token"));
}

#[test]
fn with_a_configured_server_it_writes_there() {
    let server = TestServer::builder().token("env-token").start();
    let client =
        Client::new(&server.url(), Some("env-token")).map(|c| c.bucket("farm").org("home"));
    let (result, out) = run(Some(client));
    result.expect("quickstart runs");
    let points = server.points("farm");
    assert_eq!(points.len(), 5);
    let kitchen = points.iter().find(|p| p.tags["room"] == "kitchen").unwrap();
    assert_eq!(kitchen.fields["temperature"], FieldValue::F64(18.5));
    assert_eq!(kitchen.fields["humidity"], FieldValue::I64(40));
    assert_eq!(kitchen.fields["ok"], FieldValue::Bool(true));
    assert_eq!(kitchen.tags["host"], "quickstart");
    let req = &server.write_requests()[0];
    assert_eq!(req.query_param("org").as_deref(), Some("home"));
    assert_eq!(req.query_param("precision").as_deref(), Some("s"));
    assert_eq!(req.header("content-encoding"), Some("gzip"));
    assert!(!out.contains("env-token"));
    assert!(
        !out.contains("the server stored"),
        "only the local endpoint is listed"
    );
}

#[test]
fn a_wrong_token_fails_with_the_server_message_and_without_the_token() {
    let server = TestServer::builder().token("right").start();
    let client = Client::new(&server.url(), Some("wrong-secret-token")).map(|c| c.bucket("farm"));
    let (result, out) = run(Some(client));
    let err = result.expect_err("401");
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(err.contains("unauthorized access"), "{err}");
    assert!(!format!("{err}{out}").contains("wrong-secret-token"));
    assert_eq!(server.point_count("farm"), 0);
}
