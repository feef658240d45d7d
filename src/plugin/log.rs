//! Logs in Terraform's own format: hclog JSON lines on stderr with `@level`,
//! `@message`, `@module` and `@timestamp`, which Terraform parses and shows
//! under `TF_LOG`. The level comes from `TF_LOG_PROVIDER`, else `TF_LOG`;
//! with neither set nothing is written. Never pass credentials or secrets.

use std::io::Write;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Off,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_uppercase().as_str() {
            "TRACE" | "JSON" => Some(Level::Trace),
            "DEBUG" => Some(Level::Debug),
            "INFO" => Some(Level::Info),
            "WARN" => Some(Level::Warn),
            "ERROR" => Some(Level::Error),
            "OFF" => Some(Level::Off),
            // Terraform treats any other non-empty value as TRACE.
            "" => None,
            _ => Some(Level::Trace),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Off => "off",
        }
    }
}

static LEVEL: OnceLock<Level> = OnceLock::new();

/// The level from the environment (read once).
pub fn level() -> Level {
    *LEVEL.get_or_init(|| {
        let from = |k: &str| std::env::var(k).ok().and_then(|v| Level::parse(&v));
        from("TF_LOG_PROVIDER")
            .or_else(|| from("TF_LOG"))
            .unwrap_or(Level::Off)
    })
}

/// Renders one log line (without the newline).
pub fn render(level: Level, message: &str, fields: &[(&str, &str)]) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("@level".into(), level.as_str().into());
    obj.insert("@message".into(), message.into());
    obj.insert("@module".into(), "provider".into());
    // Exactly 6 fractional digits: go-plugin parses "2006-01-02T15:04:05.000000Z07:00"
    // and shows a line it cannot parse as raw text, losing its level.
    let now = time::OffsetDateTime::now_utc();
    let ts = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    );
    obj.insert("@timestamp".into(), ts.into());
    for (k, v) in fields {
        obj.insert((*k).into(), (*v).into());
    }
    serde_json::Value::Object(obj).to_string()
}

pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let min = self::level();
    if min == Level::Off || level < min {
        return;
    }
    let line = render(level, message, fields);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

pub fn trace(message: &str, fields: &[(&str, &str)]) {
    log(Level::Trace, message, fields)
}
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    log(Level::Debug, message, fields)
}
pub fn info(message: &str, fields: &[(&str, &str)]) {
    log(Level::Info, message, fields)
}
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, message, fields)
}
pub fn error(message: &str, fields: &[(&str, &str)]) {
    log(Level::Error, message, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_hclog_json() {
        let line = render(Level::Info, "creating", &[("tf_resource_type", "x")]);
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["@level"], "info");
        assert_eq!(v["@message"], "creating");
        assert_eq!(v["@module"], "provider");
        assert_eq!(v["tf_resource_type"], "x");
        let ts = v["@timestamp"].as_str().unwrap_or_default().to_string();
        assert!(ts.ends_with('Z'), "{ts}");
        // go-plugin's layout: 6 fractional digits exactly.
        let frac = ts.split('.').nth(1).unwrap_or_default();
        assert_eq!(frac.len(), 7, "{ts}");
    }

    #[test]
    fn levels_parse_like_terraform() {
        assert_eq!(Level::parse("debug"), Some(Level::Debug));
        assert_eq!(Level::parse("JSON"), Some(Level::Trace));
        assert_eq!(Level::parse("yes"), Some(Level::Trace));
        assert_eq!(Level::parse(""), None);
        assert!(Level::Debug < Level::Info);
    }
}
