//! Server-provided text made safe to show a person.
//!
//! An error body, an `X-Influxdb-Error` header or a redirect's `Location` is
//! written by whoever answered: a server, a proxy, a captive portal, or an
//! attacker in between. Before such text reaches a terminal or a log it is
//! passed through [`for_display`]:
//!
//! - the token is replaced by `[redacted]` wherever it appears (servers and
//!   proxies echo the `Authorization` header in 400 and 401 bodies);
//! - control characters (C0, DEL, C1, which carry terminal escapes such as
//!   `ESC [` and the 8-bit CSI) and the Unicode direction overrides (which
//!   make text read differently from what it is) are replaced: tab, CR and
//!   LF by a space, the others by `U+FFFD`;
//! - the result is cut to a bound, on a character boundary, marked with
//!   `…`.
//!
//! The raw bytes stay available to code that asks (for example
//! [`ServerError::raw_body`](crate::ServerError::raw_body)); only what is
//! shown is changed.

/// What [`for_display`] puts in place of the token.
pub const REDACTED: &str = "[redacted]";

/// The default bound of [`for_display`], in characters: long enough for
/// any message InfluxDB writes, short enough that a hostile body cannot
/// flood a terminal.
pub const DEFAULT_MAX_CHARS: usize = 512;

/// `text` with `secret` redacted, control and direction-override characters
/// replaced, and cut to at most `max_chars` characters (plus `…` when cut).
///
/// A `secret` shorter than 4 bytes is not searched for (it would redact
/// ordinary words); such a token is not a real one.
///
/// ```
/// use linewire_std::server_text::for_display;
///
/// let shown = for_display("bad token s3cr3t-t0k\u{1b}[2J\r\nend", Some("s3cr3t-t0k"), 100);
/// assert_eq!(shown, "bad token [redacted]\u{fffd}[2J  end");
/// assert_eq!(for_display("abcdef", None, 3), "abc…");
/// ```
pub fn for_display(text: &str, secret: Option<&str>, max_chars: usize) -> String {
    let redacted;
    let text = match secret {
        Some(s) if s.len() >= 4 && text.contains(s) => {
            redacted = text.replace(s, REDACTED);
            redacted.as_str()
        }
        _ => text,
    };
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    for (n, c) in text.chars().enumerate() {
        if n >= max_chars {
            out.push('…');
            break;
        }
        out.push(match c {
            '\t' | '\r' | '\n' => ' ',
            c if is_unsafe(c) => '\u{fffd}',
            c => c,
        });
    }
    out
}

/// [`for_display`] for raw bytes: invalid UTF-8 is shown as `U+FFFD`.
///
/// ```
/// use linewire_std::server_text::bytes_for_display;
///
/// assert_eq!(bytes_for_display(b"a\x07b\xffc", None, 100), "a\u{fffd}b\u{fffd}c");
/// ```
pub fn bytes_for_display(bytes: &[u8], secret: Option<&str>, max_chars: usize) -> String {
    for_display(&String::from_utf8_lossy(bytes), secret, max_chars)
}

/// Characters never shown as they are: controls (C0, DEL, C1) and the
/// bidirectional overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_control_character_survives() {
        let every: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let shown = for_display(&every, None, usize::MAX);
        assert!(!shown.chars().any(is_unsafe));
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{9b}') && !shown.contains('\u{7}'));
        assert_eq!(shown.chars().count(), every.chars().count());
    }

    #[test]
    fn the_token_is_redacted_everywhere_and_before_the_cut() {
        let tok = "tok-1234567890";
        let text = format!("Authorization: Token {tok}; again {tok}");
        let shown = for_display(&text, Some(tok), 40);
        assert!(!shown.contains("1234567890"), "{shown}");
        assert!(shown.starts_with("Authorization: Token [redacted]"));
        // A bound that would cut through the token never shows its first part.
        let shown = for_display(&format!("x {tok}"), Some(tok), 6);
        assert_eq!(shown, "x [red…");
    }

    #[test]
    fn short_secrets_are_not_searched() {
        assert_eq!(for_display("a b c", Some("a"), 10), "a b c");
    }

    #[test]
    fn bound_counts_characters_not_bytes() {
        assert_eq!(for_display("ééé", None, 2), "éé…");
        assert_eq!(for_display("ééé", None, 3), "ééé");
        assert_eq!(for_display("", None, 0), "");
        assert_eq!(for_display("a", None, 0), "…");
    }
}
