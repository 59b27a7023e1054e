//! Where the server, bucket, org and token come from, as the `influx` CLI
//! finds them: a flag, else its environment variable, else the influx CLI's
//! configs file (`~/.influxdbv2/configs`, the one `influx config create`
//! writes).
//!
//! The configs file is TOML, one table per named config:
//!
//! ```toml
//! [home]
//!   url = "http://localhost:8086"
//!   token = "..."
//!   org = "home"
//!   active = true
//! ```
//!
//! `-c NAME` (`INFLUX_ACTIVE_CONFIG`) picks one; else the one marked
//! `active = true` (or the only one) is used. Unlike `influx -c`, the
//! file is only read, never rewritten. Nothing from the file is ever shown
//! but config names and key names: a broken file is reported by line and
//! column, not by its text, which holds tokens.

use std::fmt;
use std::path::{Path, PathBuf};

use linewire_std::server_text::for_display;

use crate::WriteArgs;

/// The most characters of a config name shown.
const NAME_CHARS: usize = 60;

/// One named config of the configs file (`[name]` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Profile {
    pub(crate) name: String,
    pub(crate) url: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) org: Option<String>,
    pub(crate) active: bool,
}

/// Why the configs file cannot be used. Never holds a value from the
/// file other than config and key names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum FileError {
    /// Not valid TOML, at this place.
    Syntax {
        line: usize,
        column: usize,
        /// The parser's description (no text of the file).
        why: String,
    },
    /// A top-level key that is not a `[name]` table.
    NotATable { name: String },
    /// A key of a config with a value of the wrong type.
    WrongType {
        name: String,
        key: &'static str,
        expected: &'static str,
    },
    /// `-c NAME` names no config of the file.
    NoSuchConfig { name: String, known: Vec<String> },
    /// More than one config is marked `active = true`.
    SeveralActive { names: Vec<String> },
    /// The file could not be read.
    Read(String),
}

fn shown(name: &str) -> String {
    for_display(name, None, NAME_CHARS)
}

fn list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().map(|n| format!("\"{}\"", shown(n))).collect();
    match shown.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { line, column, why } => write!(
                f,
                "it is not valid TOML at line {line}, column {column} ({})",
                for_display(why, None, 120)
            ),
            Self::NotATable { name } => write!(
                f,
                "\"{}\" is not a [name] table of url, token and org",
                shown(name)
            ),
            Self::WrongType {
                name,
                key,
                expected,
            } => write!(f, "`{key}` of config \"{}\" is not {expected}", shown(name)),
            Self::NoSuchConfig { name, known } if known.is_empty() => {
                write!(f, "it has no config \"{}\" (it has none)", shown(name))
            }
            Self::NoSuchConfig { name, known } => write!(
                f,
                "it has no config \"{}\" (it has {})",
                shown(name),
                list(known)
            ),
            Self::SeveralActive { names } => write!(
                f,
                "configs {} are all marked active: pick one with -c NAME",
                list(names)
            ),
            Self::Read(why) => write!(f, "it cannot be read: {why}"),
        }
    }
}

impl std::error::Error for FileError {}

/// The configs of a configs file, in the file's order.
pub(crate) fn parse(text: &str) -> Result<Vec<Profile>, FileError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e.span().map_or(0, |s| s.start);
        let before = text.get(..at).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map_or(1, |l| l.chars().count() + 1);
        FileError::Syntax {
            line,
            column,
            why: e.message().trim_end().to_owned(),
        }
    })?;
    let mut profiles = Vec::with_capacity(table.len());
    for (name, value) in table {
        let toml::Value::Table(config) = value else {
            return Err(FileError::NotATable { name });
        };
        let text = |key: &'static str| match config.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) if s.is_empty() => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(FileError::WrongType {
                name: name.clone(),
                key,
                expected: "a string",
            }),
        };
        let active = match config.get("active") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => {
                return Err(FileError::WrongType {
                    name,
                    key: "active",
                    expected: "true or false",
                })
            }
        };
        profiles.push(Profile {
            url: text("url")?,
            token: text("token")?,
            org: text("org")?,
            active,
            name,
        });
    }
    Ok(profiles)
}

/// The config to use: the one named, else the active one, else the only
/// one; `None` when the file has several and none is active (as when it
/// has none).
pub(crate) fn pick(
    profiles: Vec<Profile>,
    name: Option<&str>,
) -> Result<Option<Profile>, FileError> {
    if let Some(name) = name {
        let known: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
        return match profiles.into_iter().find(|p| p.name == name) {
            Some(p) => Ok(Some(p)),
            None => Err(FileError::NoSuchConfig {
                name: name.to_owned(),
                known,
            }),
        };
    }
    let only = profiles.len() == 1;
    let mut active: Vec<Profile> = Vec::new();
    let mut first = None;
    for p in profiles {
        if p.active {
            active.push(p);
        } else if first.is_none() {
            first = Some(p);
        }
    }
    match active.len() {
        0 if only => Ok(first),
        0 => Ok(None),
        1 => Ok(active.pop()),
        _ => Err(FileError::SeveralActive {
            names: active.into_iter().map(|p| p.name).collect(),
        }),
    }
}

/// The configs file: `--configs-path`, `INFLUX_CONFIGS_PATH` (both through
/// `args`), `INFLUX_CLI_CONFIGS_PATH` (the name older influx CLIs read),
/// else `~/.influxdbv2/configs`; with whether it was given explicitly.
fn configs_path(args: &WriteArgs) -> Option<(PathBuf, bool)> {
    if let Some(p) = &args.configs_path {
        return Some((p.clone(), true));
    }
    if let Some(p) = env("INFLUX_CLI_CONFIGS_PATH") {
        return Some((PathBuf::from(p), true));
    }
    let home = env("HOME").or_else(|| env("USERPROFILE"))?;
    Some((Path::new(&home).join(".influxdbv2").join("configs"), false))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn file_error(path: &Path, e: &FileError) -> String {
    format!(
        "cannot use the influx CLI configs file {}: {e}",
        for_display(&path.display().to_string(), None, 200)
    )
}

/// Fills in the server, bucket, org and token as the `influx` CLI does:
/// flag, else environment variable (clap read both, and the older names
/// `INFLUX_URL` and `INFLUX_BUCKET` come after `INFLUX_HOST` and
/// `INFLUX_BUCKET_NAME`), else the configs file. `--bucket-id` and
/// `--org-id` win over the names and are sent in their place, as `influx
/// write` sends them (InfluxDB 2 reads `bucket=` and `org=` as an ID or a
/// name).
///
/// # Errors
///
/// A sentence for the user (exit status 2): the configs file is broken or
/// has no such config, or no server or bucket was given. Never holds the
/// token.
pub(crate) fn resolve(args: &mut WriteArgs) -> Result<(), String> {
    if args.url.is_none() {
        args.url = env("INFLUX_URL");
    }
    if args.bucket.is_none() {
        args.bucket = env("INFLUX_BUCKET");
    }
    if let Some(id) = args.bucket_id.take() {
        args.bucket = Some(id);
    }
    if let Some(id) = args.org_id.take() {
        args.org = Some(id);
    }
    if args.dry_run {
        return Ok(());
    }
    let missing = args.url.is_none() || args.token.is_none() || args.org.is_none();
    if missing || args.active_config.is_some() {
        if let Some((path, explicit)) = configs_path(args) {
            let name = args.active_config.as_deref();
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let profile = parse(&text)
                        .and_then(|all| pick(all, name))
                        .map_err(|e| file_error(&path, &e))?;
                    if let Some(p) = profile {
                        args.url = args.url.take().or(p.url);
                        args.token = args.token.take().or(p.token);
                        args.org = args.org.take().or(p.org);
                    }
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound && !explicit && name.is_none() => {}
                Err(e) => {
                    return Err(file_error(&path, &FileError::Read(e.to_string())));
                }
            }
        }
    }
    if args.url.is_none() {
        return Err(
            "no server given: use --host URL (or INFLUX_HOST), or an influx CLI config \
                    (~/.influxdbv2/configs, -c NAME)"
                .to_owned(),
        );
    }
    if args.bucket.is_none() {
        return Err(
            "no bucket given: use -b/--bucket NAME (or INFLUX_BUCKET_NAME) or --bucket-id ID"
                .to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[default]
  url = "http://localhost:8086"
  token = "tok-default"
  org = "home"
  active = true

[cloud]
  url = "https://eu-central-1-1.aws.cloud2.influxdata.com"
  token = "tok-cloud"
  org = "work"
  previous = true

# [us-west]
#   url = "https://us-west-2-1.aws.cloud2.influxdata.com"
#   token = "XXX"
"#;

    fn names(p: &[Profile]) -> Vec<&str> {
        p.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn reads_what_influx_config_create_writes() {
        let all = parse(FILE).unwrap();
        assert_eq!(names(&all), ["cloud", "default"]);
        let default = pick(all.clone(), None).unwrap().unwrap();
        assert_eq!(default.url.as_deref(), Some("http://localhost:8086"));
        assert_eq!(default.token.as_deref(), Some("tok-default"));
        assert_eq!(default.org.as_deref(), Some("home"));
        let cloud = pick(all, Some("cloud")).unwrap().unwrap();
        assert_eq!(cloud.org.as_deref(), Some("work"));
        assert!(!cloud.active);
    }

    #[test]
    fn the_only_config_is_used_and_none_of_several_inactive() {
        let one = parse("[a]\nurl = \"http://a:8086\"\n").unwrap();
        assert_eq!(pick(one, None).unwrap().unwrap().name, "a");
        let two = parse("[a]\nurl = \"http://a\"\n[b]\nurl = \"http://b\"\n").unwrap();
        assert_eq!(pick(two, None).unwrap(), None);
        assert_eq!(pick(parse("").unwrap(), None).unwrap(), None);
    }

    #[test]
    fn empty_values_count_as_missing() {
        let p = parse("[a]\nurl = \"http://a\"\ntoken = \"\"\norg = \"\"\n").unwrap();
        let p = pick(p, None).unwrap().unwrap();
        assert_eq!((p.token, p.org), (None, None));
    }

    #[test]
    fn a_missing_config_names_the_ones_there_are() {
        let e = pick(parse(FILE).unwrap(), Some("staging")).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"it has no config "staging" (it has "cloud" and "default")"#
        );
    }

    #[test]
    fn several_active_configs_are_an_error() {
        let e = pick(
            parse("[a]\nactive = true\n[b]\nactive = true\n").unwrap(),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"configs "a" and "b" are all marked active: pick one with -c NAME"#
        );
        // A name given picks one of them.
        let p = parse("[a]\nactive = true\n[b]\nactive = true\n").unwrap();
        assert_eq!(pick(p, Some("b")).unwrap().unwrap().name, "b");
    }

    #[test]
    fn broken_toml_is_reported_by_place_without_its_text() {
        let text = "[default]\n  url = \"http://h\"\n  token = \"s3cret-token\n  org = \"o\"\n";
        let e = parse(text).unwrap_err();
        let FileError::Syntax { line, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(*line, 3);
        let shown = e.to_string();
        assert!(
            shown.starts_with("it is not valid TOML at line 3, column "),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn wrong_types_name_the_key_not_the_value() {
        let e = parse("[a]\ntoken = 123456789\n").unwrap_err();
        assert_eq!(e.to_string(), r#"`token` of config "a" is not a string"#);
        assert!(!e.to_string().contains("123456789"));
        let e = parse("[a]\nactive = \"yes\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"`active` of config "a" is not true or false"#
        );
        let e = parse("url = \"http://h\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#""url" is not a [name] table of url, token and org"#
        );
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let p = parse("[a]\nurl = \"http://a\"\ncookie = \"c\"\nprevious = true\n").unwrap();
        assert_eq!(p[0].url.as_deref(), Some("http://a"));
    }
}
