//! HttShark's Go-style command line (ripgrep's `parse`): the argv rewrite that lets
//! `-device eth0`, `-hosts=:80` and bare `-split-by-host` parse like clap's `--name=value`,
//! the one-line translation of clap's errors naming flags as `-name`, and the value parsers
//! the flags use (Go durations and bools, byte sizes, with their ranges).
//!
//! What it does not do: define the flags (`flags`) or the value syntaxes themselves
//! (`crate::go_syntax`, shared with the logger).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;

use super::{Cli, CliError};
use crate::go_syntax::format_byte_size;
pub use crate::go_syntax::{format_duration, parse_byte_size, parse_go_bool, parse_go_duration};

/// A flag value that is a duration, shown in `-help` as Go prints it (`5m0s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// A flag value that is a byte size, shown in `-help` in its largest exact binary unit
/// (`32MiB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize<T>(pub T);

impl<T: Copy + TryInto<u64>> fmt::Display for ByteSize<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.try_into() {
            Ok(n) => f.write_str(&format_byte_size(n)),
            Err(_) => f.write_str("out of range"),
        }
    }
}

/// A duration parser for clap, its result wrapped for `-help`.
pub fn go_duration(
    parse: fn(&str) -> Result<Duration, String>,
) -> impl Fn(&str) -> Result<GoDuration, String> + Clone + Send + Sync + 'static {
    move |s| parse(s).map(GoDuration)
}

/// A byte-size parser for clap, its result wrapped for `-help`.
pub fn byte_size<T: Send + Sync + Clone + 'static>(
    parse: fn(&str) -> Result<T, String>,
) -> impl Fn(&str) -> Result<ByteSize<T>, String> + Clone + Send + Sync + 'static {
    move |s| parse(s).map(ByteSize)
}

/// Rewrites HttShark's Go-style arguments into clap's spelling. The first item (the program
/// name) is kept as is. A token `-name`, `--name`, `-name=v` or `--name=v` where `name` is a
/// long flag of `Cli` becomes `--name` or `--name=v`; a flag that takes a value and has no
/// `=` takes the next token as its value whatever it looks like (Go's rule), and the pair
/// becomes `--name=next`. Bool flags never take the next token. Everything else (`-`, `-h`,
/// `-V`, values, unknown flags) is left for clap; after `--` nothing is rewritten.
pub fn go_style_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let flags = long_flags();
    let mut out = Vec::new();
    let mut args = args.into_iter().map(Into::into);
    if let Some(program) = args.next() {
        out.push(program);
    }
    while let Some(token) = args.next() {
        if token == "--" {
            out.push(token);
            out.extend(args.by_ref());
            break;
        }
        let Some((name, has_value)) = split_flag(&token) else {
            out.push(token);
            continue;
        };
        let Some(kind) = flags.iter().find(|(n, _)| n == name).map(|(_, k)| *k) else {
            // An unknown `-word`: clap would read it as the short flags -w -o -r -d and
            // report '-w'. As `--word` clap names the whole flag and suggests a near one.
            let is_word = name.len() > 1 && name.starts_with(|c: char| c.is_ascii_alphabetic());
            if is_word && !token.as_encoded_bytes().starts_with(b"--") {
                let mut long = OsString::from("-");
                long.push(&token);
                out.push(long);
            } else {
                out.push(token);
            }
            continue;
        };
        // `-name[=v]` -> `--name[=v]`: a dash in front keeps any value bytes as they are.
        let mut rewritten = if token.as_encoded_bytes().starts_with(b"--") {
            OsString::new()
        } else {
            OsString::from("-")
        };
        rewritten.push(&token);
        if kind == FlagKind::Value && !has_value {
            // Go's rule: the next token is the value even when it starts with '-'.
            if let Some(next) = args.next() {
                rewritten.push("=");
                rewritten.push(next);
            }
        }
        out.push(rewritten);
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FlagKind {
    /// Takes a value, after '=' or as the next token.
    Value,
    /// Takes a value only after '=' (Go's bool flags).
    Bool,
    /// Takes no value (help, version).
    NoValue,
}

/// Every long flag of `Cli`, with how it takes its value; read from clap's own definition so
/// the rewrite can't drift from it.
pub(super) fn long_flags() -> Vec<(String, FlagKind)> {
    let mut cmd = Cli::command();
    cmd.build();
    cmd.get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            let kind = if !a.get_action().takes_values() {
                FlagKind::NoValue
            } else if a.is_require_equals_set() {
                FlagKind::Bool
            } else {
                FlagKind::Value
            };
            Some((long.to_string(), kind))
        })
        .collect()
}

/// `-name[=value]` or `--name[=value]` -> (name, whether a value follows '='). None for
/// anything else: values, `-`, `--`, `---x`, `-=x`, and names that are not UTF-8.
fn split_flag(token: &OsStr) -> Option<(&str, bool)> {
    let bytes = token.as_encoded_bytes();
    let body = bytes
        .strip_prefix(b"--")
        .or_else(|| bytes.strip_prefix(b"-"))?;
    if body.is_empty() || body.starts_with(b"-") || body.starts_with(b"=") {
        return None;
    }
    let (name, has_value) = match body.iter().position(|&b| b == b'=') {
        Some(eq) => (body.get(..eq)?, true),
        None => (body, false),
    };
    Some((std::str::from_utf8(name).ok()?, has_value))
}

/// `-split-by-host false` is a mistake in Go (a bool flag never takes a separate value: Go
/// stops parsing flags at `false` and silently ignores the rest). Say so instead of letting
/// clap report "unexpected argument 'false'".
pub(super) fn check_bool_separate_values(args: &[OsString]) -> Result<(), CliError> {
    let bools: Vec<String> = long_flags()
        .into_iter()
        .filter(|(_, k)| *k == FlagKind::Bool)
        .map(|(n, _)| format!("--{n}"))
        .collect();
    let before_dashdash = args.iter().position(|a| a == "--").unwrap_or(args.len());
    for pair in args[..before_dashdash].windows(2) {
        let [flag, value] = pair else { continue };
        let (Some(flag), Some(value)) = (flag.to_str(), value.to_str()) else {
            continue;
        };
        if bools.iter().any(|b| b == flag) && parse_go_bool(value).is_ok() {
            let name = flag.trim_start_matches('-');
            return Err(CliError::Usage(format!(
                "-{name} takes its value only after '=': write -{name}={value}, not -{name} {value}"
            )));
        }
    }
    Ok(())
}

/// Turns a clap error into ours: help and version stay clap's; usage errors become one line
/// naming the flag the way HttShark users spell it (`-name`).
pub(super) fn clap_error(err: clap::Error) -> CliError {
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => return CliError::Display(err),
        _ => {}
    }
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(go_flag_name(s)),
        _ => None,
    };
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let message = match (err.kind(), arg, value) {
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let why = std::error::Error::source(&err)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "invalid".into());
            format!("{arg}: invalid value '{value}': {why}")
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) if value.is_empty() => {
            format!("{arg}: needs a value")
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            let valid = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => format!(" (valid: {})", v.join(", ")),
                _ => String::new(),
            };
            format!("{arg}: invalid value '{value}'{valid}")
        }
        (ErrorKind::UnknownArgument, Some(arg), _) if !arg.starts_with('-') => {
            format!("unexpected argument '{arg}': httshark takes only flags; see -help")
        }
        (ErrorKind::UnknownArgument, Some(arg), _) => {
            let mut m = format!("unknown flag '{arg}'");
            let suggested = match err.get(ContextKind::SuggestedArg) {
                Some(ContextValue::String(s)) => Some(s.as_str()),
                Some(ContextValue::Strings(v)) => v.first().map(String::as_str),
                _ => None,
            };
            if let Some(s) = suggested {
                m.push_str(&format!(" (did you mean {}?)", go_flag_name(s)));
            }
            m.push_str("; see -help");
            m
        }
        _ => condense(&err.render().to_string()),
    };
    CliError::Usage(message)
}

/// An unknown flag is echoed as the user typed it: `--nosuch` stays `--nosuch` (clap saw
/// `--nosuch` either way, and `clap_error` names flags the Go way, `-nosuch`).
pub(super) fn unknown_as_typed(err: CliError, typed: &[OsString]) -> CliError {
    let CliError::Usage(message) = err else {
        return err;
    };
    let Some(rest) = message.strip_prefix("unknown flag '-") else {
        return CliError::Usage(message);
    };
    let name = rest.split('\'').next().unwrap_or_default();
    let double = format!("--{name}");
    let typed_double = typed.iter().skip(1).any(|t| {
        let t = t.to_string_lossy();
        t == double || t.starts_with(&format!("{double}="))
    });
    let typed_single = typed.iter().skip(1).any(|t| {
        let t = t.to_string_lossy();
        t == double[1..] || t.starts_with(&format!("{}=", &double[1..]))
    });
    if typed_double && !typed_single {
        CliError::Usage(message.replacen(&format!("'-{name}'"), &format!("'{double}'"), 1))
    } else {
        CliError::Usage(message)
    }
}

/// `--export-interval <DURATION>` -> `-export-interval`. Short flags and other text as is.
fn go_flag_name(clap_arg: &str) -> String {
    let name = clap_arg.split([' ', '=', '[']).next().unwrap_or(clap_arg);
    match name.strip_prefix("--") {
        Some(long) => format!("-{long}"),
        None => name.to_string(),
    }
}

/// clap's multi-line message as one line: the `error: ` prefix, the usage block and the
/// "for more information" line dropped, the rest joined.
fn condense(rendered: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        if line.starts_with("Usage:") {
            break;
        }
        parts.push(line.strip_prefix("error: ").unwrap_or(line));
    }
    let joined = parts.join(" ");
    if joined.is_empty() {
        "bad command line; see -help".to_string()
    } else {
        joined
    }
}

/// A Go duration that must be greater than zero (intervals and timeouts).
/// A Go duration that may be zero (but not negative).
pub fn parse_go_duration_std(s: &str) -> Result<Duration, String> {
    let ns = parse_go_duration(s)?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| "must not be negative".to_string())
}

pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let ns = parse_go_duration(s)?;
    match u64::try_from(ns) {
        Ok(ns) if ns > 0 => Ok(Duration::from_nanos(ns)),
        _ => Err("must be greater than zero".to_string()),
    }
}

/// `-buffer-size`: libpcap takes an `int`, and a zero buffer captures nothing.
pub fn parse_buffer_size(s: &str) -> Result<i32, String> {
    match i32::try_from(parse_byte_size(s)?) {
        Ok(0) => Err("must be greater than zero".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("at most {} bytes (2GiB - 1)", i32::MAX)),
    }
}

/// `-max-body-size`: any size the address space can hold; 0 keeps no body bytes.
/// `-memory-limit`: below 8 MiB a worker could not hold a few heads of 64 KiB.
pub fn parse_memory_limit(s: &str) -> Result<usize, String> {
    let n = parse_body_size(s)?;
    if n < MIN_MEMORY_LIMIT {
        return Err("must be at least 8MiB".to_string());
    }
    Ok(n)
}

/// Smallest `-memory-limit` accepted.
pub const MIN_MEMORY_LIMIT: usize = 8 << 20;

/// Smallest share of the budget a worker may get: a few connections with heads and bodies
/// in progress. Below it `-memory-limit` is refused as too small for `-workers`.
pub const MIN_WORKER_SHARE: usize = 1 << 20;

pub fn parse_body_size(s: &str) -> Result<usize, String> {
    usize::try_from(parse_byte_size(s)?).map_err(|_| "too large for this machine".to_string())
}
