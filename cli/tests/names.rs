//! The `influx` CLI's names: its flags, environment variables and configs
//! file (`~/.influxdbv2/configs`), with the `linewire` binary as a
//! subprocess against the test kit and `HOME` in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use linewire_testkit::TestServer;

const TOKEN: &str = "names-secret-77zz";
const LINES: &str = "m,host=a v=1i 1700000000\nm,host=b v=2i 1700000001\n";

/// Every variable the binary reads for its names, so that the caller's
/// environment does not leak into a test.
const VARS: [&str; 12] = [
    "INFLUX_HOST",
    "INFLUX_URL",
    "INFLUX_TOKEN",
    "INFLUX_ORG",
    "INFLUX_ORG_ID",
    "INFLUX_BUCKET",
    "INFLUX_BUCKET_NAME",
    "INFLUX_BUCKET_ID",
    "INFLUX_PRECISION",
    "INFLUX_CONFIGS_PATH",
    "INFLUX_CLI_CONFIGS_PATH",
    "INFLUX_ACTIVE_CONFIG",
];

/// A temporary directory standing in for `HOME`, removed on drop.
struct Home(PathBuf);

impl Home {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "linewire-names-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `~/.influxdbv2/configs`.
    fn configs(&self, text: &str) -> PathBuf {
        let dir = self.0.join(".influxdbv2");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("configs");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn linewire(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_linewire"));
        for v in VARS {
            c.env_remove(v);
        }
        c.env("HOME", &self.0).env_remove("USERPROFILE");
        c
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(c: &mut Command) -> (Option<i32>, String) {
    let out: Output = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stderr.contains(TOKEN) && !stdout.contains(TOKEN),
        "token leaked: {stdout} {stderr}"
    );
    (out.status.code(), stderr)
}

/// The one write request the server saw: its query parameters and token.
fn request(server: &TestServer) -> (String, Option<String>, Option<String>, Option<String>) {
    let writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v2/write")
        .collect();
    assert_eq!(writes.len(), 1, "one write request");
    let r = &writes[0];
    (
        r.query_param("bucket").unwrap_or_default(),
        r.query_param("org"),
        r.query_param("precision"),
        r.header("authorization").map(str::to_owned),
    )
}

fn server() -> TestServer {
    TestServer::builder().token(TOKEN).start()
}

#[test]
fn influx_flags_write() {
    let server = server();
    let home = Home::new();
    let f = home.file("m.lp", LINES);
    let (code, stderr) = run(home.linewire().args([
        "write",
        &f,
        "--host",
        &server.url(),
        "-b",
        "farm",
        "-o",
        "acme",
        "-t",
        TOKEN,
        "-p",
        "s",
    ]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.points("farm").len(), 2);
    assert_eq!(
        server.points("farm")[0].timestamp_ns,
        1_700_000_000_000_000_000
    );
    let (bucket, org, precision, auth) = request(&server);
    assert_eq!(bucket, "farm");
    assert_eq!(org.as_deref(), Some("acme"));
    assert_eq!(precision.as_deref(), Some("s"));
    assert_eq!(auth, Some(format!("Token {TOKEN}")));
}

#[test]
fn influx_environment_variables_write() {
    let server = server();
    let home = Home::new();
    let f = home.file("m.lp", LINES);
    let (code, stderr) = run(home
        .linewire()
        .args(["write", &f])
        .env("INFLUX_HOST", server.url())
        .env("INFLUX_BUCKET_NAME", "farm")
        .env("INFLUX_ORG", "acme")
        .env("INFLUX_TOKEN", TOKEN)
        .env("INFLUX_PRECISION", "s"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.points("farm").len(), 2);
    let (bucket, org, precision, _) = request(&server);
    assert_eq!(
        (bucket.as_str(), org.as_deref(), precision.as_deref()),
        ("farm", Some("acme"), Some("s"))
    );
}

#[test]
fn older_names_still_work_and_influx_names_win() {
    let server = server();
    let home = Home::new();
    let f = home.file("m.lp", LINES);
    // `--url`, INFLUX_BUCKET: linewire's names until now.
    let (code, stderr) = run(home
        .linewire()
        .args(["write", &f, "--url", &server.url(), "--token", TOKEN])
        .env("INFLUX_BUCKET", "old"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.points("old").len(), 2);
    // INFLUX_HOST before INFLUX_URL, INFLUX_BUCKET_NAME before INFLUX_BUCKET.
    let (code, stderr) = run(home
        .linewire()
        .args(["write", &f, "-t", TOKEN])
        .env("INFLUX_URL", "http://127.0.0.1:1")
        .env("INFLUX_HOST", server.url())
        .env("INFLUX_BUCKET", "old")
        .env("INFLUX_BUCKET_NAME", "new"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.points("new").len(), 2);
}

#[test]
fn ids_are_sent_in_place_of_the_names() {
    let server = server();
    let home = Home::new();
    let f = home.file("m.lp", LINES);
    let (code, stderr) = run(home.linewire().args([
        "write",
        &f,
        "--host",
        &server.url(),
        "-t",
        TOKEN,
        "-b",
        "farm",
        "--bucket-id",
        "0a1b2c3d4e5f6789",
        "-o",
        "acme",
        "--org-id",
        "9876f5e4d3c2b1a0",
    ]));
    assert_eq!(code, Some(0), "{stderr}");
    let (bucket, org, _, _) = request(&server);
    assert_eq!(bucket, "0a1b2c3d4e5f6789");
    assert_eq!(org.as_deref(), Some("9876f5e4d3c2b1a0"));
}

fn configs(url: &str) -> String {
    format!(
        r#"[default]
  url = "{url}"
  token = "{TOKEN}"
  org = "home-org"
  active = true

[other]
  url = "{url}"
  token = "{TOKEN}"
  org = "other-org"
"#
    )
}

#[test]
fn the_configs_file_supplies_host_token_and_org() {
    let server = server();
    let home = Home::new();
    home.configs(&configs(&server.url()));
    let f = home.file("m.lp", LINES);
    let (code, stderr) = run(home.linewire().args(["write", &f, "-b", "farm", "-p", "s"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.points("farm").len(), 2);
    let (_, org, _, auth) = request(&server);
    assert_eq!(org.as_deref(), Some("home-org"));
    assert_eq!(auth, Some(format!("Token {TOKEN}")));
}

#[test]
fn dash_c_picks_a_named_config() {
    let server = server();
    let home = Home::new();
    home.configs(&configs(&server.url()));
    let f = home.file("m.lp", LINES);
    let (code, stderr) = run(home
        .linewire()
        .args(["write", &f, "-b", "farm", "-c", "other"]));
    assert_eq!(code, Some(0), "{stderr}");
    let (_, org, _, _) = request(&server);
    assert_eq!(org.as_deref(), Some("other-org"));

    // INFLUX_ACTIVE_CONFIG does the same; a config that does not exist is
    // a configuration error naming the file and the configs it has.
    let (code, stderr) = run(home
        .linewire()
        .args(["write", &f, "-b", "farm"])
        .env("INFLUX_ACTIVE_CONFIG", "staging"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(".influxdbv2/configs"), "{stderr}");
    assert!(
        stderr.contains(r#"no config "staging" (it has "default" and "other")"#),
        "{stderr}"
    );
    assert_eq!(server.points("farm").len(), 2, "nothing more was written");
}

#[test]
fn flags_and_variables_override_the_file() {
    let good = server();
    let home = Home::new();
    // The file points at a closed port with a wrong token.
    home.configs(
        "[default]\n  url = \"http://127.0.0.1:1\"\n  token = \"wrong\"\n  org = \"file-org\"\n  active = true\n",
    );
    let f = home.file("m.lp", LINES);
    let (code, stderr) = run(home.linewire().args([
        "write",
        &f,
        "--host",
        &good.url(),
        "-t",
        TOKEN,
        "-o",
        "flag-org",
        "-b",
        "farm",
    ]));
    assert_eq!(code, Some(0), "{stderr}");
    let (_, org, _, auth) = request(&good);
    assert_eq!(org.as_deref(), Some("flag-org"));
    assert_eq!(auth, Some(format!("Token {TOKEN}")));

    // The same through the environment; the file still gives the org.
    let other = server();
    let (code, stderr) = run(home
        .linewire()
        .args(["write", &f, "-b", "farm"])
        .env("INFLUX_HOST", other.url())
        .env("INFLUX_TOKEN", TOKEN));
    assert_eq!(code, Some(0), "{stderr}");
    let (_, org, _, _) = request(&other);
    assert_eq!(org.as_deref(), Some("file-org"));
}

#[test]
fn configs_path_points_elsewhere() {
    let server = server();
    let home = Home::new();
    let path = home.file("my-configs", &configs(&server.url()));
    let f = home.file("m.lp", LINES);
    let (code, stderr) =
        run(home
            .linewire()
            .args(["write", &f, "-b", "farm", "--configs-path", &path]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(server.points("farm").len(), 2);
    // A configs path given that does not exist is an error, not ignored.
    let missing = home.0.join("nope").to_str().unwrap().to_owned();
    let (code, stderr) = run(home
        .linewire()
        .args(["write", &f, "-b", "farm"])
        .env("INFLUX_CONFIGS_PATH", &missing));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot be read"), "{stderr}");
}

#[test]
fn a_broken_configs_file_is_a_clear_error_without_the_token() {
    let home = Home::new();
    let path: &Path = &home.configs(&format!(
        "[default]\n  url = \"http://127.0.0.1:1\"\n  token = \"{TOKEN}\n  active = true\n"
    ));
    let f = home.file("m.lp", LINES);
    let (code, stderr) = run(home.linewire().args(["write", &f, "-b", "farm"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("not valid TOML at line 3"), "{stderr}");
}

#[test]
fn no_server_anywhere_is_a_usage_error() {
    let home = Home::new();
    let f = home.file("m.lp", LINES);
    let (code, stderr) = run(home.linewire().args(["write", &f, "-b", "farm"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no server given: use --host"), "{stderr}");
    let (code, stderr) = run(home
        .linewire()
        .args(["write", &f, "--host", "http://127.0.0.1:1"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no bucket given"), "{stderr}");
}
