//! Float formatting shared by every place that prints sample values the
//! Prometheus way.

/// Formats `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)`, which the
/// HTTP API, PromQL's printer and `promtool` output use: shortest
/// round-trip digits and never an exponent (Rust's `Display` for finite
/// `f64` does exactly that), with `NaN`, `+Inf` and `-Inf`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go_f_format() {
        for (v, want) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (1e21, "1000000000000000000000"),
            (1.5e-7, "0.00000015"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(format_float(v), want);
        }
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
    }
}
