//! Durations (`timeout "1h30m"`) and sizes (`memory="2GiB"`) as people write them.

use std::time::Duration;

/// A duration or size that does not read. Each message names what would: the manifest shows
/// it under the value's span.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("a duration cannot be empty")]
    EmptyDuration,
    #[error("`{0}` is not a duration like `90s`, `5m` or `1h30m`")]
    NotADuration(String),
    #[error("`{text}` needs a unit after `{number}` (s, m, h or d)")]
    NoTimeUnit { text: String, number: String },
    #[error("unknown time unit `{0}`: use ms, s, m, h or d")]
    UnknownTimeUnit(String),
    #[error("a duration must be greater than zero")]
    NotPositive,
    #[error("{0}")]
    DurationOutOfRange(String),
    #[error("`{0}` is not a size like `512MiB` or `2GiB`")]
    NotASize(String),
    #[error("unknown size unit `{0}`: use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)")]
    UnknownSizeUnit(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
}

/// Parses `90`, `90s`, `5m`, `2h`, `1d`, `1h30m`, `1.5h`. A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UnitError::EmptyDuration);
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds_to_duration(seconds);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let value: f64 = number
            .parse()
            .map_err(|_| UnitError::NotADuration(text.to_string()))?;
        let scale = match unit {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" => 86400.0,
            "" => {
                return Err(UnitError::NoTimeUnit {
                    text: text.to_string(),
                    number: number.to_string(),
                });
            }
            other => return Err(UnitError::UnknownTimeUnit(other.to_string())),
        };
        total += value * scale;
        rest = after.trim_start();
    }
    seconds_to_duration(total)
}

fn seconds_to_duration(seconds: f64) -> Result<Duration, UnitError> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(UnitError::NotPositive);
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| UnitError::DurationOutOfRange(e.to_string()))
}

/// Parses `512MiB`, `2GiB`, `1.5G`, `100MB`, `1024`. Bare numbers are bytes; SI suffixes are
/// powers of 1000 and binary ones (`Ki`, `Mi`, …) powers of 1024, as in Kubernetes and Slurm.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let text = text.trim();
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let value: f64 = number
        .parse()
        .map_err(|_| UnitError::NotASize(text.to_string()))?;
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "K" | "KB" | "k" | "kB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "Ki" | "KiB" => 1024.0,
        "Mi" | "MiB" => 1024.0 * 1024.0,
        "Gi" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "Ti" | "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(UnitError::UnknownSizeUnit(other.to_string()));
        }
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(UnitError::TooLarge(text.to_string()));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_mins(5));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_mins(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_mins(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5G").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("2 parsecs").is_err());
        assert!(parse_size("GiB").is_err());
    }
}
