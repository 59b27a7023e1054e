//! `--ca-cert`, `--skip-verify` and `--header`: the client's TLS trust and
//! extra headers, and what a failed TLS handshake tells the user.

use linewire_std::server_text::for_display;
use linewire_std::{Client, Error, TlsError, TlsErrorKind};

use crate::output::say;
use crate::run::MESSAGE_CHARS;
use crate::WriteArgs;

/// `client` with the CA file, verification and headers of `args`; a
/// sentence for the user when one of them is unusable.
pub(crate) fn configure(mut client: Client, args: &WriteArgs) -> Result<Client, String> {
    let why = |e: Error| match e {
        Error::Config(m) => m,
        other => other.to_string(),
    };
    if let Some(path) = &args.ca_cert {
        let shown = for_display(path, None, MESSAGE_CHARS);
        let pem = std::fs::read(path).map_err(|e| format!("cannot read --ca-cert {shown}: {e}"))?;
        client = client
            .ca_certificate(&pem)
            .map_err(|e| format!("cannot use --ca-cert {shown}: {}", why(e)))?;
    }
    if args.skip_verify {
        say(
            "WARNING: --skip-verify: the server's TLS certificate is NOT verified; anyone on \
             the path can read and change the data and see the token. For tests only: give \
             a private CA with --ca-cert FILE instead.",
        );
        // The warning above replaces the library's log line saying the same.
        let level = log::max_level();
        log::set_max_level(log::LevelFilter::Error);
        client = client.danger_accept_invalid_certs(true);
        log::set_max_level(level);
    }
    for header in &args.header {
        let shown = for_display(header, args.token.as_deref(), MESSAGE_CHARS);
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("--header {shown:?} is not \"Name: value\""))?;
        client = client
            .header(name, value.trim_start_matches([' ', '\t']))
            .map_err(|e| format!("cannot use --header {shown:?}: {}", why(e)))?;
    }
    Ok(client)
}

/// A failed handshake as the CLI reports it, with the CLI's advice.
pub(crate) fn problem(e: &TlsError) -> String {
    match e.kind {
        TlsErrorKind::Certificate => format!(
            "{} (use --ca-cert FILE for a private CA, or SSL_CERT_FILE)",
            e.problem()
        ),
        _ => format!(
            "{} (check that the URL's scheme and port lead to a TLS server)",
            e.problem()
        ),
    }
}
