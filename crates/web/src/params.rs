//! Request parameters as Prometheus reads them: from the URL query and,
//! for `POST` with a form body, from the body too (body values first, as Go's
//! `r.FormValue` sees them), with its time, duration and limit syntaxes.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};

use crate::error::ApiError;

/// The largest form body accepted, so a client cannot make us buffer
/// without bound (Prometheus's Go server allows 10 MiB of form data).
pub const FORM_BODY_BYTES_MAX: usize = 10 << 20;

/// Go's `MinTime`/`MaxTime` in milliseconds: the default bounds of the
/// metadata endpoints, and what clients send to mean "everything".
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// All form values of a request, in order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses urlencoded `body` then `query` (the body wins for `get`).
    pub fn from_parts(query: Option<&str>, body: &[u8]) -> Params {
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Params { pairs }
    }

    /// The first value of `name`, or "" like Go's `FormValue`.
    pub fn get(&self, name: &str) -> &str {
        self.opt(name).unwrap_or("")
    }

    /// The first value of `name`, if given.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (for `match[]`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Params, ApiError> {
        let query = req.uri().query().map(str::to_owned);
        let is_form = req.method() != Method::GET
            && req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = if is_form {
            Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_data(format!("error parsing form values: {e}")))?
        } else {
            Bytes::new()
        };
        Ok(Params::from_parts(query.as_deref(), &body))
    }
}

/// Parses a time: Unix seconds as a float (rounded to milliseconds) or
/// RFC 3339, into milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = parse_go_float(s) {
        let secs = f.trunc();
        let ms = ((f - secs) * 1000.0).round();
        let t = secs * 1000.0 + ms;
        if t.is_finite() && t >= i64::MIN as f64 && t <= i64::MAX as f64 {
            return Ok(t as i64);
        }
    } else if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    match s {
        MIN_TIME_FORMATTED => Ok(MIN_TIME_MS),
        MAX_TIME_FORMATTED => Ok(MAX_TIME_MS),
        _ => Err(format!("cannot parse {s:?} to a valid timestamp")),
    }
}

/// Reads time parameter `name`, `default` when absent.
pub fn time_param(p: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match p.opt(name) {
        None | Some("") => Ok(default),
        Some(s) => parse_time(s).map_err(|e| {
            ApiError::invalid_param(name, format!("Invalid time value for '{name}': {e}"))
        }),
    }
}

/// Parses a duration: float seconds or a Prometheus duration (`5m`), into
/// milliseconds (Go keeps nanoseconds; sub-millisecond parts are dropped).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(d) = parse_go_float(s) {
        let ns = d * 1e9;
        if !(ns <= i64::MAX as f64 && ns >= i64::MIN as f64) {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok((d * 1000.0) as i64);
    }
    beacon_model::parse_duration_ms(s)
        .map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

/// Parses a `limit` parameter: empty means 0 (no limit).
pub fn parse_limit(s: &str) -> Result<usize, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let n: i64 = s
        .parse()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: invalid syntax"))?;
    usize::try_from(n).map_err(|_| "limit must be non-negative".to_owned())
}

/// Go's `strconv.ParseFloat` grammar as far as clients use it: decimal
/// floats, `Inf`/`Infinity`/`NaN` with optional sign, case-insensitive.
/// Rust's parser accepts the same set apart from hex floats.
fn parse_go_float(s: &str) -> Result<f64, ()> {
    if s.is_empty() || s.contains('_') {
        return Err(());
    }
    s.parse::<f64>().map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_time(s: &str, want: Result<i64, &str>) {
        assert_eq!(parse_time(s), want.map_err(str::to_owned), "{s}");
    }

    #[test]
    fn times() {
        check_time("1.5", Ok(1500));
        check_time("1435781451.781", Ok(1_435_781_451_781));
        check_time("-1", Ok(-1000));
        check_time("2015-07-01T20:10:51.781Z", Ok(1_435_781_451_781));
        check_time("2015-07-01T22:10:51+02:00", Ok(1_435_781_451_000));
        check_time(MAX_TIME_FORMATTED, Ok(MAX_TIME_MS));
        check_time(MIN_TIME_FORMATTED, Ok(MIN_TIME_MS));
        check_time("foo", Err("cannot parse \"foo\" to a valid timestamp"));
        check_time("", Err("cannot parse \"\" to a valid timestamp"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(
            parse_duration("x"),
            Err("cannot parse \"x\" to a valid duration".to_owned())
        );
        assert!(
            parse_duration("1e300")
                .unwrap_err()
                .contains("overflows int64")
        );
    }

    #[test]
    fn params_body_first() {
        let p = Params::from_parts(Some("a=1&m%5B%5D=x&m%5B%5D=y"), b"a=2");
        assert_eq!(p.get("a"), "2");
        assert_eq!(p.all("m[]"), vec!["x", "y"]);
        assert_eq!(p.get("missing"), "");
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(""), Ok(0));
        assert_eq!(parse_limit("5"), Ok(5));
        assert_eq!(
            parse_limit("-1"),
            Err("limit must be non-negative".to_owned())
        );
        assert!(parse_limit("x").is_err());
    }
}
