//! The core write transaction (`linewire::nal::NalStream` over real TCP)
//! against the test kit's misbehaving answers: nothing unstored is ever
//! reported written, and once a status line is read the status decides,
//! whatever the headers or the body do after it.

use linewire::http::{Action, Outcome, Target, Truncation};
use linewire_integration::{nal_conn, NalConn};
use linewire_testkit::{Fault, FaultPlan, TestServer};

fn conn(server: &TestServer) -> NalConn {
    nal_conn(server.addr())
}

fn target(server: &TestServer) -> Target<'static> {
    Target::v2("127.0.0.1", "b", "")
        .unwrap()
        .port(server.addr().port())
}

fn serve(fault: Fault) -> TestServer {
    TestServer::builder()
        .fault_plan(FaultPlan::new().always(fault))
        .start()
}

fn lines(n: usize) -> String {
    (0..n)
        .map(|i| format!("m,host=h{} v={i} {}\n", i % 5, 1_700_000_000 + i))
        .collect()
}

#[test]
fn a_redirect_is_never_written_and_stops() {
    for status in [301, 302, 303, 307, 308] {
        let server = serve(Fault::Redirect { status });
        let mut c = conn(&server);
        let mut buf = [0u8; 512];
        let reply = c
            .write_batch(&target(&server), b"m v=1 1\n".as_slice(), &mut buf)
            .unwrap();
        assert_eq!(reply.status, status);
        assert_eq!(reply.outcome, Outcome::Unexpected);
        assert_eq!(reply.outcome.action(), Action::Stop);
        assert_eq!(server.point_count("b"), 0);
        assert_eq!(server.request_count(), 1, "the portal is never asked");
    }
}

#[test]
fn an_early_413_then_close_on_a_large_body_is_heard() {
    for drain in [false, true] {
        let server = serve(Fault::TooLargeBeforeBody {
            over: 64 * 1024,
            drain,
        });
        let body = lines(260_000);
        assert!(body.len() > 6_000_000);
        let mut c = conn(&server);
        let mut buf = [0u8; 512];
        let reply = c
            .write_batch(&target(&server), body.as_bytes(), &mut buf)
            .unwrap_or_else(|e| panic!("drain {drain}: the 413 must be heard, not {e}"));
        assert_eq!(reply.status, 413);
        assert_eq!(reply.outcome.action(), Action::Split);
        assert!(!reply.reusable);
        // The halves that fit are stored.
        let small = lines(100);
        let reply = c
            .write_batch(&target(&server), small.as_bytes(), &mut buf)
            .unwrap();
        assert_eq!(reply.outcome, Outcome::Written);
        assert_eq!(server.point_count("b"), 100);
    }
}

#[test]
fn long_and_many_headers_on_a_204_are_written() {
    for (count, len) in [(1, 4096), (40, 20), (300, 8)] {
        let server = serve(Fault::ManyHeaders { count, len });
        let mut c = conn(&server);
        let mut buf = [0u8; 256];
        let reply = c
            .write_batch(&target(&server), lines(3).as_bytes(), &mut buf)
            .unwrap_or_else(|e| panic!("{count}x{len}: a 204 is written, not {e}"));
        assert_eq!(reply.outcome, Outcome::Written, "{count}x{len}");
        assert_eq!(server.point_count("b"), 3);
    }
}

#[test]
fn a_1x_partial_write_with_a_long_error_header_drops_only_what_was_refused() {
    let server = serve(Fault::AnswerAsV1);
    let bad = format!("bad{} x", "y".repeat(2000));
    let body = format!("m v=1 1\n{bad}\nm v=3 3\n");
    for len in [256usize, 512, 4096] {
        server.clear();
        let mut c = conn(&server);
        let mut buf = vec![0u8; len];
        let reply = c
            .write_batch(&target(&server), body.as_bytes(), &mut buf)
            .unwrap_or_else(|e| panic!("{len} B: a 400 is a 400, not {e}"));
        assert_eq!(reply.status, 400);
        assert_eq!(reply.outcome.action(), Action::Drop, "{len} B");
        assert_eq!(server.point_count("b"), 2, "the good lines are stored");
        if len < 1024 {
            assert!(reply.truncation.is_some(), "{len} B: the cut is reported");
        }
    }
}

#[test]
fn an_error_body_over_the_buffer_keeps_its_status() {
    let server = TestServer::builder()
        .token("right")
        .fault_plan(FaultPlan::new().always(Fault::PadErrorBody { bytes: 100_000 }))
        .start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let t = Target::v2("127.0.0.1", "b", "wrong")
        .unwrap()
        .port(server.addr().port());
    let reply = c
        .write_batch(&t, b"m v=1 1\n".as_slice(), &mut buf)
        .unwrap();
    assert_eq!(reply.outcome, Outcome::Unauthorized);
    assert!(reply.body_truncated);
}

#[test]
fn a_broken_chunked_body_after_the_status_keeps_the_status() {
    let server = serve(Fault::BrokenChunkedResponse);
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let reply = c
        .write_batch(&target(&server), lines(4).as_bytes(), &mut buf)
        .unwrap_or_else(|e| panic!("the 200 is written, not {e}"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.outcome, Outcome::Written);
    assert!(!reply.reusable);
    assert_eq!(reply.truncation, Some(Truncation::Body));
    assert_eq!(server.point_count("b"), 4);

    // After a 400 the status decides too.
    let reply = c
        .write_batch(
            &target(&server),
            b"m,k=a v=1 1\nbad-line\n".as_slice(),
            &mut buf,
        )
        .unwrap_or_else(|e| panic!("the 400 is a 400, not {e}"));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.outcome.action(), Action::Drop);
}
