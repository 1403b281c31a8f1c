//! Prometheus durations: `1h30m`, `5m`, `90s`, `100ms`, `2d`, `1w`, `1y`
//! (`y` is 365 days, `w` 7 days, `d` 24 hours), and a bare `0`.
//!
//! Units must appear from largest to smallest, each at most once, as in
//! Prometheus's `model.ParseDuration`.

use std::fmt;

use crate::{Error, Result};

const UNITS: [(&str, i64); 8] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
    ("", 0),
];

/// Parses a Prometheus duration into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64> {
    let bad = || Error::InvalidDuration(s.to_owned());
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last_unit = usize::MAX; // index into UNITS of the previous unit
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(bad());
        }
        let n: i64 = s[start..i].parse().map_err(|_| bad())?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let idx = UNITS[..7]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(bad)?;
        if last_unit != usize::MAX && idx <= last_unit {
            return Err(bad());
        }
        last_unit = idx;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Formats milliseconds as Prometheus prints durations (`1h30m`, `0s`).
pub fn format_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs() as i64;
    for (unit, size) in &UNITS[..7] {
        if rest >= *size {
            let n = rest / size;
            rest %= size;
            out.push_str(&n.to_string());
            out.push_str(unit);
        }
    }
    out
}

/// A duration in milliseconds that parses and prints the Prometheus way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub i64);

impl PromDuration {
    /// Milliseconds.
    pub fn ms(self) -> i64 {
        self.0
    }

    /// As a std duration (negative clamps to zero).
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.max(0) as u64)
    }
}

impl std::str::FromStr for PromDuration {
    type Err = Error;
    fn from_str(s: &str) -> Result<PromDuration> {
        parse_duration_ms(s).map(PromDuration)
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration_ms(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        for (s, ms) in [
            ("0", 0),
            ("1s", 1000),
            ("1h30m", 5_400_000),
            ("100ms", 100),
            ("1y", 31_536_000_000),
            ("2w1d", 15 * 86_400_000),
        ] {
            assert_eq!(parse_duration_ms(s).unwrap(), ms, "{s}");
        }
        for bad in [
            "",
            "1",
            "1x",
            "m",
            "1m1h",
            "1s1s",
            "-1s",
            "1.5s",
            "99999999999999999999y",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration_ms(5_400_000), "1h30m");
        assert_eq!(format_duration_ms(15_000), "15s");
        assert_eq!(format_duration_ms(0), "0s");
        assert_eq!(format_duration_ms(86_400_000 * 8), "1w1d");
    }
}
