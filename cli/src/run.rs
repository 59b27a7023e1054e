//! One `linewire write` run: read, batch, send, settle.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::time::{Duration, Instant};

use linewire_std::cli::{self, Failed, Line, Settled};
use linewire_std::linewire::http::{Action, Outcome};
use linewire_std::linewire::RetryPolicy;
use linewire_std::server_text::for_display;
use linewire_std::{Client, FailureReason, GaveUp, Retried, ServerError};

use crate::check;
use crate::errors_file::ErrorsFile;
use crate::input::{self, untag};
use crate::output::{say, say_out};
use crate::progress::Progress;
use crate::rate::Pacer;
use crate::report::{thousands, Fate, Report, Summary, SERVER_LIST_CAP};
use crate::WriteArgs;

/// The most bytes of line protocol in one request (servers' default limit
/// is 10 MiB).
pub(crate) const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// The most characters of one server message shown.
pub(crate) const MESSAGE_CHARS: usize = 240;

/// The most characters of one log line.
pub(crate) const LOG_CHARS: usize = 400;

/// A source's decompressed bytes, buffered for reading lines.
type Reader = BufReader<Box<dyn Read>>;

/// Everything one run reports.
pub(crate) struct Run {
    pub(crate) summary: Summary,
    pub(crate) report: Report,
    pub(crate) token: Option<String>,
    /// The sources' display names, by source index.
    pub(crate) names: Vec<String>,
    /// `--errors-file`.
    pub(crate) errors: Option<ErrorsFile>,
    /// `--rate-limit`.
    pub(crate) pacer: Option<Pacer>,
    pub(crate) progress: Progress,
}

impl Run {
    /// `line 7`, or `metrics.lp line 7` when there is more than one source.
    pub(crate) fn place(&self, tag: u64) -> String {
        let (source, line) = untag(tag);
        match self.names.get(source) {
            Some(name) if self.names.len() > 1 => format!("{name} line {line}"),
            _ => format!("line {line}"),
        }
    }

    /// Writes the lines not stored so far to the errors file (in input
    /// order): call it when no line read is waiting to be sent.
    pub(crate) fn flush_errors(&mut self) {
        if let Some(e) = self.errors.as_mut() {
            e.flush();
        }
    }

    /// Adds a line not stored to the errors file, if there is one.
    pub(crate) fn not_stored(&mut self, tag: u64, fate: Fate, reason: &str, line: &[u8]) {
        if let Some(e) = self.errors.as_mut() {
            e.add(tag, fate.word(), reason, line);
        }
    }
}

pub(crate) fn write(args: &WriteArgs) -> Result<Summary, String> {
    // Every source is opened, and its first lines checked (CSV is
    // refused), before anything is sent.
    let kinds = input::resolve(args.input.as_deref(), &args.files).map_err(|e| e.to_string())?;
    // Regular files are opened again when their turn comes: thousands of
    // `-f`s never hold thousands of descriptors. Pipes stay open.
    let mut sources: Vec<Option<input::Source>> = Vec::with_capacity(kinds.len());
    let mut names = Vec::with_capacity(kinds.len());
    let mut total_bytes = Some(0u64);
    for kind in &kinds {
        let source = input::open(kind, args.format).map_err(|e| e.to_string())?;
        names.push(source.name.clone());
        total_bytes = total_bytes
            .zip(source.len)
            .map(|(t, n)| t.saturating_add(n));
        sources.push(if source.reopenable {
            None
        } else {
            Some(source)
        });
    }

    let client = if args.dry_run {
        None
    } else {
        let url = args.url.as_deref().ok_or("--url is required")?;
        let bucket = args.bucket.as_deref().ok_or("--bucket is required")?;
        let mut c = Client::new(url, args.token.as_deref())
            .map_err(|e| {
                let why = match e {
                    linewire_std::Error::Config(m) => m,
                    other => other.to_string(),
                };
                format!(
                    "cannot write to {}: {}",
                    for_display(url, None, MESSAGE_CHARS),
                    for_display(&why, args.token.as_deref(), LOG_CHARS)
                )
            })?
            .bucket(bucket)
            .precision(args.precision.into())
            .gzip(args.gzip_body())
            .timeout(Duration::from_secs(args.timeout));
        if let Some(org) = &args.org {
            c = c.org(org);
        }
        Some(crate::tls::configure(c, args)?)
    };
    let mut policy = RetryPolicy::new()
        .first_interval_ms(args.retry_interval_ms)
        .max_retries(Some(args.max_retries));
    if let Some(secs) = args.max_retry_wait {
        // No single wait longer than the cap: neither the server's
        // Retry-After nor the backoff. A cap
        // above the default also lets the retries run that long (the
        // policy gives up on a batch once its next try would start more
        // than `max_elapsed` after its first failure).
        let ms = secs.saturating_mul(1000);
        let retries = args.max_retries.saturating_add(1);
        let elapsed = policy
            .get_max_elapsed_ms()
            .map(|e| e.max(ms.saturating_mul(retries)));
        policy = policy
            .max_interval_ms(ms.min(policy.get_max_interval_ms()))
            .max_elapsed_ms(elapsed)
            .max_retry_after_ms(ms);
    }
    let mut sender = client
        .as_ref()
        .map(|c| cli::Sender::new(c, policy).on_retry(crate::progress::note_retry));
    let errors = match &args.errors_file {
        Some(path) => {
            // Writing the errors file back to the same path is natural
            // (`-f errors.lp --errors-file errors.lp`): creating it would
            // empty the input before it is read.
            if let Some(same) = input::same_file(path, &kinds) {
                return Err(format!(
                    "the errors file is also an input ({same}): it would be emptied before it is read; choose another path"
                ));
            }
            Some(ErrorsFile::create(path, names.clone())?)
        }
        None => None,
    };

    let started = Instant::now();
    let mut run = Run {
        summary: Summary {
            dry_run: args.dry_run,
            ..Summary::default()
        },
        report: Report {
            sources: if names.len() > 1 {
                names.clone()
            } else {
                Vec::new()
            },
            ..Report::default()
        },
        token: args.token.clone(),
        names,
        errors,
        pacer: args.rate_limit.map(Pacer::new),
        progress: Progress::start(io::stderr().is_terminal(), total_bytes),
    };
    let mut batch: Vec<Line> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut raw = Vec::new();
    let batch_lines = usize::try_from(args.batch_lines).unwrap_or(usize::MAX);
    let count = sources.len();
    let mut sources = sources.into_iter().zip(&kinds).enumerate();
    // The source being read: its index, name and reader.
    let mut current: Option<(usize, String, Reader)> = None;
    let mut line = 0u64;
    loop {
        let Some((index, shown_file, reader)) = current.as_mut() else {
            let Some((index, (source, kind))) = sources.next() else {
                break;
            };
            // A file is opened again (its content was checked already).
            match source.map_or_else(|| input::open(kind, Some(input::Format::Lp)), Ok) {
                Ok(s) => {
                    let reader = BufReader::with_capacity(256 * 1024, s.reader);
                    current = Some((index, s.name, reader));
                    line = 0;
                    continue;
                }
                Err(e) => {
                    run.summary.read_error = Some(e.to_string());
                    break;
                }
            }
        };
        raw.clear();
        let n = match reader.read_until(b'\n', &mut raw) {
            Ok(n) => n,
            Err(e) => {
                run.summary.read_error = Some(format!(
                    "cannot read {shown_file} after line {line}: {}",
                    input::read_text(&e)
                ));
                break;
            }
        };
        if n == 0 {
            current = None;
            continue;
        }
        line += 1;
        // The line's tag: its number, and its source's (see `input::tag`).
        let line_no = input::tag(*index, line);
        run.progress.read(n);
        let text = match std::str::from_utf8(&raw) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(_) => {
                run.summary.lines += 1;
                run.summary.rejected += 1;
                let fate = if args.dry_run {
                    Fate::Invalid
                } else {
                    Fate::Rejected
                };
                run.report
                    .add(fate, "not valid UTF-8 (not sent)", [line_no]);
                let original = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let original = original.strip_suffix(b"\r").unwrap_or(original);
                run.not_stored(line_no, fate, "not valid UTF-8 (not sent)", original);
                if batch.is_empty() {
                    run.flush_errors();
                }
                continue;
            }
        };
        let start = text.trim_start();
        if start.is_empty() || start.starts_with('#') {
            continue;
        }
        run.summary.lines += 1;
        // The same check in a dry run and before sending (see check.rs).
        let text = check::trimmed(text);
        if check::refused(text, args.precision.into(), line_no, args.dry_run, &mut run) {
            if batch.is_empty() {
                run.flush_errors();
            }
            continue;
        }
        if args.dry_run {
            continue;
        }
        batch_bytes += text.len() + 1;
        batch.push(Line::new(line_no, text.to_owned()));
        if batch.len() >= batch_lines || batch_bytes >= MAX_BATCH_BYTES {
            if let Some(s) = sender.as_mut() {
                send(s, std::mem::take(&mut batch), &mut run);
            }
            batch_bytes = 0;
            run.flush_errors();
            if run.summary.stopped.is_some() {
                if *index + 1 < count || reader.fill_buf().map_or(true, |b| !b.is_empty()) {
                    run.summary.unread_after = Some(line_no);
                }
                break;
            }
        }
    }
    if !batch.is_empty() && run.summary.stopped.is_none() {
        if let Some(s) = sender.as_mut() {
            send(s, batch, &mut run);
        }
    }
    run.progress.finish();
    let secs = started.elapsed().as_secs_f64();
    run.report.print();
    if let Some(mut errors) = run.errors.take() {
        if let Some(tag) = run.summary.unread_after {
            errors.note(&format!(
                "the run stopped after {}: the rest of the input was not read",
                run.place(tag)
            ));
        }
        if let Some(e) = &run.summary.read_error {
            errors.note(e);
        }
        if let Err(m) = errors.finish() {
            // A resource error: exit status 2, as for a read error.
            match &run.summary.read_error {
                None => run.summary.read_error = Some(m),
                Some(_) => say(&m),
            }
        }
    }
    let s = &run.summary;
    if let Some(why) = &s.stopped {
        match s.unread_after {
            Some(tag) => say(&format!(
                "stopped after {}, the rest was not read: {why}",
                run.place(tag)
            )),
            None => say(&format!("stopped: {why}")),
        }
    }
    if s.unnamed > 0 {
        say(&format!(
            "{} more {} rejected: the server counted them without saying which",
            thousands(s.unnamed),
            if s.unnamed == 1 {
                "line was"
            } else {
                "lines were"
            }
        ));
    }
    if s.unsure > 0 {
        say(&format!(
            "the server listed only the first {SERVER_LIST_CAP} bad lines of some requests: up to {} of the lines counted written may have been rejected too",
            thousands(s.unsure)
        ));
    }
    if args.dry_run {
        say_out(&format!(
            "{} {} checked: {} valid, {} invalid ({secs:.2} s)",
            s.lines,
            if s.lines == 1 { "line" } else { "lines" },
            s.lines.saturating_sub(s.rejected),
            s.rejected
        ));
    } else {
        // With a cut list of bad lines, `written` is an upper bound.
        let (up_to, or_more) = if s.unsure > 0 {
            ("up to ", " or more")
        } else {
            ("", "")
        };
        say_out(&format!(
            "{} {}: {up_to}{} written, {}{or_more} rejected, {} not sent{} ({secs:.2} s)",
            s.lines,
            if s.lines == 1 { "line" } else { "lines" },
            s.written,
            s.rejected,
            s.not_sent,
            if s.unread_after.is_some() {
                "; stopped early, the rest of the input was not read"
            } else {
                ""
            }
        ));
    }
    if let Some(e) = &s.read_error {
        say(e);
    }
    Ok(run.summary)
}

pub(crate) fn send(sender: &mut cli::Sender<'_>, batch: Vec<Line>, run: &mut Run) {
    if let Some(pacer) = run.pacer.as_mut() {
        pacer.wait(batch.iter().map(|l| l.text().len() + 1).sum());
    }
    let started = Instant::now();
    for settled in sender.send(batch) {
        match settled {
            Settled::Sent(n) => {
                run.summary.written += n as u64;
                run.progress.written(n as u64);
            }
            Settled::Failed(f) => settle(f, started.elapsed(), run),
        }
    }
    run.progress.sent();
}

/// Counts and reports lines that were not stored.
pub(crate) fn settle(f: Failed, took: Duration, run: &mut Run) {
    let token = run.token.as_deref();
    let n = f.lines.len() as u64;
    let written = f.written as u64;
    if let FailureReason::Server(e) = &f.reason {
        if matches!(e.outcome, Outcome::PartiallyWritten(_)) {
            // The server counted more rejected lines than it named
            // (`dropped=N`, a larger count); which lines they are is unknown.
            let unnamed = f.unnamed as u64;
            run.summary.rejected += unnamed;
            run.summary.unnamed += unnamed;
            // A server that lists a fixed number of bad lines (Cloud
            // Serverless: 100) may have rejected more than it listed.
            if n >= SERVER_LIST_CAP as u64 {
                run.summary.unsure += written;
            }
        }
    }
    run.summary.written += written;
    run.progress.written(written);
    let (what, stopped) = match &f.reason {
        FailureReason::Server(e) if matches!(e.action(), Action::Drop | Action::Split) => {
            return rejected(&f, e, run);
        }
        FailureReason::Server(e) => {
            let (what, advice) = refusal(e, token);
            (what, Some(advice))
        }
        FailureReason::GaveUp(g) => (
            gave_up(g, took, token),
            Some("the server did not take the data: run again later".to_owned()),
        ),
        FailureReason::Config(m) => (
            for_display(m, token, MESSAGE_CHARS),
            Some("fix the configuration and run again".to_owned()),
        ),
        FailureReason::Tls(t) => (
            crate::tls::problem(t),
            Some("fix the TLS configuration and run again".to_owned()),
        ),
        other => (for_display(&other.to_string(), token, MESSAGE_CHARS), None),
    };
    run.summary.not_sent += n;
    run.report
        .add(Fate::NotSent, &what, f.lines.iter().map(Line::tag));
    for line in &f.lines {
        run.not_stored(line.tag(), Fate::NotSent, &what, line.text().as_bytes());
    }
    if stopped.is_some() {
        run.summary.stopped = stopped;
    }
}

/// Counts and reports lines the server refused (each under its own reason
/// when the server gave one).
pub(crate) fn rejected(f: &Failed, e: &ServerError, run: &mut Run) {
    let token = run.token.as_deref();
    run.summary.rejected += f.lines.len() as u64;
    let mut whole = server_message(e, token);
    if matches!(e.outcome, Outcome::Rejected) && f.reasons.iter().any(Option::is_some) {
        // InfluxDB 3 Core and 2.x refuse a whole request for its
        // bad lines: the others may be fine.
        whole = format!("with the whole request, for the bad lines named: {whole}");
    }
    // Each line under its own reason when the server gave one, the
    // others under the answer's message; line numbers in order.
    let mut tagged: Vec<(u64, Option<String>, &str)> = f
        .lines
        .iter()
        .zip(f.reasons.iter().chain(std::iter::repeat(&None)))
        .map(|(line, reason)| {
            let msg = reason
                .as_deref()
                .map(|r| for_display(r, token, MESSAGE_CHARS));
            (line.tag(), msg, line.text())
        })
        .collect();
    tagged.sort_by_key(|(tag, _, _)| *tag);
    for (tag, msg, text) in &tagged {
        let msg = msg.as_deref().unwrap_or(&whole);
        run.report.add(Fate::Rejected, msg, [*tag]);
        run.not_stored(*tag, Fate::Rejected, msg, text.as_bytes());
    }
}

/// `HTTP 400 (invalid): message; detail; X-Influxdb-Error: ...`, every
/// part from the server passed through [`for_display`].
pub(crate) fn server_message(e: &ServerError, token: Option<&str>) -> String {
    let show = |s: &str| for_display(s, token, MESSAGE_CHARS);
    let mut s = format!("HTTP {}", e.status);
    if let Some(code) = e.code.as_deref().filter(|c| !c.is_empty()) {
        let _ = write!(s, " ({})", for_display(code, token, 40));
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = e.message.as_deref().filter(|m| !m.is_empty()) {
        parts.push(show(m));
    }
    if let Some(d) = e.detail.as_deref().filter(|d| !d.is_empty()) {
        if e.message.as_deref() != Some(d) {
            parts.push(show(d));
        }
    }
    if let Some(h) = e.influxdb_error.as_deref().filter(|h| !h.is_empty()) {
        if e.message.as_deref() != Some(h) {
            parts.push(format!("X-Influxdb-Error: {}", show(h)));
        }
    }
    if let Some(p) = e.platform_error_code.as_deref().filter(|p| !p.is_empty()) {
        parts.push(format!(
            "X-Platform-Error-Code: {}",
            for_display(p, token, 40)
        ));
    }
    if !parts.is_empty() {
        s.push_str(": ");
        s.push_str(&parts.join("; "));
    }
    if e.body_truncated {
        s.push_str(" (answer cut)");
    }
    s
}

/// What a refusal that stops the run means, and the advice.
pub(crate) fn refusal(e: &ServerError, token: Option<&str>) -> (String, String) {
    let fix = "fix the configuration and run again".to_owned();
    let msg = server_message(e, token);
    match e.outcome {
        Outcome::Unauthorized => (format!("the server refused the token: {msg}"), fix),
        Outcome::Forbidden => (
            format!("the token may not write to this bucket: {msg}"),
            fix,
        ),
        Outcome::NotFound => (
            format!("the bucket, org or endpoint does not exist: {msg}"),
            fix,
        ),
        Outcome::InvalidRequest => (format!("the server refused the request: {msg}"), fix),
        _ if (300..400).contains(&e.status) => {
            let to = e.location.as_deref().map_or_else(
                || "an unknown location (no Location header)".to_owned(),
                |l| for_display(l, token, MESSAGE_CHARS),
            );
            (
                format!(
                    "the server redirected the write (HTTP {}) to {to}; redirects are never followed for writes",
                    e.status
                ),
                "fix the configuration (--url should be the final address) and run again"
                    .to_owned(),
            )
        }
        _ => (format!("unexpected answer: {msg}"), fix),
    }
}

/// What giving up means: unreachable, throttled or a server error, how
/// often and for how long it was tried.
pub(crate) fn gave_up(g: &GaveUp, took: Duration, token: Option<&str>) -> String {
    let kind = match g.kind {
        Retried::Unreachable => "the server is unreachable".to_owned(),
        Retried::Throttled => "the server is throttling writes (HTTP 429)".to_owned(),
        Retried::Unavailable => "the server is unavailable (HTTP 503)".to_owned(),
        Retried::ServerError(status) => format!("the server keeps failing (HTTP {status})"),
        _ => "the server did not take the data".to_owned(),
    };
    format!(
        "{kind}: gave up after {} {} over {}; last error: {}",
        g.tries,
        if g.tries == 1 { "try" } else { "tries" },
        span(took.max(g.waited)),
        for_display(&g.last_error, token, MESSAGE_CHARS)
    )
}

/// `25 ms`, `3.2 s`.
pub(crate) fn span(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
