//! `SSL_CERT_FILE` names the trust store of a client given no CA. Its own
//! test binary: the platform's store is read once per process, and the
//! environment is process-wide.

use linewire_std::Client;
use linewire_testkit::TestServer;

#[test]
fn ssl_cert_file_is_the_trust_store_by_default() {
    let server = TestServer::builder().https().start();
    let path =
        std::env::temp_dir().join(format!("linewire-ssl-cert-file-{}.pem", std::process::id()));
    std::fs::write(&path, server.ca_pem()).unwrap();
    // The only test of this binary: no other thread reads the environment.
    std::env::set_var("SSL_CERT_FILE", &path);
    std::env::remove_var("SSL_CERT_DIR");
    let client = Client::new(&server.url(), None).unwrap().bucket("farm");
    let result = client.write_line_protocol("m v=1i 1\n");
    let _ = std::fs::remove_file(&path);
    result.unwrap();
    assert_eq!(server.write_requests()[0].body_text(), "m v=1i 1\n");
    assert_eq!(server.points("farm").len(), 1);
}
