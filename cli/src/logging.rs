//! The log lines of a run, sanitized.

use linewire_std::server_text::for_display;

use crate::output::say;
use crate::run::LOG_CHARS;

/// The log: retries, waits and errors of the delivery, each line passed
/// through [`for_display`] (it may quote the server) and printed above the
/// progress bar.
pub(crate) struct Logger {
    filter: env_logger::Logger,
    token: Option<String>,
    /// Leave out the delivery's error lines (without `-v` or `RUST_LOG`):
    /// the report at the end has each of them, once per distinct message.
    hide_delivery_errors: bool,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        if self.hide_delivery_errors
            && record.level() == log::Level::Error
            && record.target().starts_with("linewire_std")
        {
            return;
        }
        let text = for_display(&record.args().to_string(), self.token.as_deref(), LOG_CHARS);
        match record.level() {
            log::Level::Error => say(&format!("error: {text}")),
            log::Level::Warn => say(&format!("warning: {text}")),
            level => say(&format!(
                "{} {}: {text}",
                level.as_str().to_ascii_lowercase(),
                for_display(record.target(), None, 80)
            )),
        }
    }

    fn flush(&self) {}
}

pub(crate) fn init_logging(verbose: u8, token: Option<&str>) {
    let quiet = verbose == 0 && std::env::var_os("RUST_LOG").is_none();
    let filter = if verbose == 0 {
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).build()
    } else {
        let (ours, others) = match verbose {
            1 => (log::LevelFilter::Info, log::LevelFilter::Info),
            2 => (log::LevelFilter::Debug, log::LevelFilter::Info),
            _ => (log::LevelFilter::Trace, log::LevelFilter::Trace),
        };
        env_logger::Builder::new()
            .filter_level(others)
            .filter_module("linewire", ours)
            .filter_module("linewire_std", ours)
            .build()
    };
    let max = filter.filter();
    let logger = Logger {
        filter,
        token: token.map(str::to_owned),
        hide_delivery_errors: quiet,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
}
