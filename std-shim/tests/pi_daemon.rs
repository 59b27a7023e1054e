//! The pi_daemon example (included as a module) against the test kit:
//! samples, an outage, and SIGTERM with a flush.

#[allow(dead_code)]
#[path = "../../examples/pi_daemon.rs"]
mod pi_daemon;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use linewire_testkit::{DownMode, FieldValue, TestServer};

fn options(server: &TestServer, extra: &[&str]) -> pi_daemon::Options {
    let mut args: Vec<String> = [
        "--url",
        &server.url(),
        "--bucket",
        "pi",
        "--token",
        "daemon-token",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    pi_daemon::parse_args(&args).expect("valid arguments")
}

fn count(server: &TestServer, measurement: &str) -> usize {
    server
        .points("pi")
        .iter()
        .filter(|p| p.measurement == measurement)
        .count()
}

#[test]
fn samples_are_tagged_and_written() {
    let server = TestServer::start();
    let opts = options(&server, &["--iterations", "2", "--interval", "0.05"]);
    assert_eq!(opts.iterations, Some(2));
    let stats = pi_daemon::run(&opts, &AtomicBool::new(false)).expect("run");
    assert_eq!(stats.lost(), 0);
    assert_eq!(stats.sent, stats.accepted);
    assert!(
        stats.sent >= 8,
        "load, memory, disk, uptime twice: {stats:?}"
    );
    for m in ["load", "memory", "disk", "system"] {
        assert_eq!(count(&server, m), 2, "{m}");
    }
    let host = pi_daemon::hostname();
    let points = server.points("pi");
    assert!(points.iter().all(|p| p.tags["host"] == host));
    let mem = points.iter().find(|p| p.measurement == "memory").unwrap();
    let FieldValue::U64(total) = mem.fields["total"] else {
        panic!("{mem:?}")
    };
    assert!(total > 1 << 20);
    let disk = points.iter().find(|p| p.measurement == "disk").unwrap();
    assert_eq!(disk.tags["path"], "/");
    let FieldValue::F64(used) = disk.fields["used_percent"] else {
        panic!()
    };
    assert!((0.0..=100.0).contains(&used));
    assert_eq!(
        count(&server, "cpu_temperature") > 0,
        pi_daemon::cpu_temperature().is_some()
    );
    assert_eq!(
        server.write_requests()[0].header("authorization"),
        Some("Token daemon-token")
    );
}

#[test]
fn once_takes_one_sample() {
    let server = TestServer::start();
    let stats = pi_daemon::run(&options(&server, &["--once"]), &AtomicBool::new(false)).unwrap();
    assert_eq!(count(&server, "load"), 1);
    assert_eq!(stats.lost(), 0);
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        &["--bucket", "b", "--url"][..],
        &["--url", "http://h", "--bucket", "b", "--interval", "x"],
        &["--frobnicate"],
    ] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        assert!(pi_daemon::parse_args(&args).is_err(), "{args:?}");
    }
}

#[test]
fn an_outage_loses_nothing() {
    let server = TestServer::start();
    server.set_down(DownMode::CloseImmediately);
    let opts = options(&server, &["--interval", "0.05"]);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let daemon =
        std::thread::spawn(move || pi_daemon::run(&opts, &flag).map_err(|e| e.to_string()));
    // The first batch (after the 1 s flush interval) meets the outage, and
    // so does the client's resend at once on a new connection.
    assert!(server.wait_for_faults(2, Duration::from_secs(20)));
    server.set_up().unwrap();
    assert!(server.wait_for_points("pi", 4, Duration::from_secs(20)));
    stop.store(true, Ordering::SeqCst);
    let stats = daemon.join().unwrap().unwrap();
    assert_eq!(stats.lost(), 0, "{stats:?}");
    assert!(stats.retries >= 1, "{stats:?}");
    assert_eq!(stats.sent, stats.accepted);
    assert_eq!(server.points("pi").len() as u64, stats.sent);
}

#[test]
fn sigterm_stops_the_daemon_after_a_flush() {
    let server = TestServer::start();
    // Long interval and batches: only the shutdown flush sends the samples.
    let opts = options(&server, &["--interval", "60"]);
    let stop = Arc::new(AtomicBool::new(false));
    pi_daemon::install_signal_handler(Arc::clone(&stop)).unwrap();
    let flag = Arc::clone(&stop);
    let daemon =
        std::thread::spawn(move || pi_daemon::run(&opts, &flag).map_err(|e| e.to_string()));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.point_count("pi"),
        0,
        "nothing sent before the flush interval"
    );
    // SAFETY: sending a signal to this process; the handler only sets a flag.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
    let stats = daemon.join().unwrap().unwrap();
    assert!(stop.load(Ordering::SeqCst));
    assert_eq!(stats.lost(), 0);
    assert!(stats.sent >= 4);
    assert_eq!(server.points("pi").len() as u64, stats.sent);
}
