//! What happens to each request before the application sees it, in the
//! exporter-toolkit's order: the rate limit (429), the configured response
//! headers, basic auth (401), then node_exporter's concurrency limit (503).
//! The request body is also given a read deadline here, since hyper's own
//! timeout covers only the headers.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use axum::http::{Request, Response, StatusCode};
use beacon_config::web::RateLimitConfig;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::reload::{LiveConfig, WebState};
use crate::{Result, ServeOptions};

/// The per-server state every request passes through.
pub(crate) struct Guard {
    pub(crate) live: LiveConfig,
    limiter: Option<Mutex<TokenBucket>>,
    in_flight: Option<Arc<Semaphore>>,
    in_flight_max: usize,
    read_timeout: Option<Duration>,
}

impl Guard {
    pub(crate) fn new(opts: &ServeOptions, alpn: Vec<Vec<u8>>) -> Result<Guard> {
        let web = opts.web_config.clone().unwrap_or_default();
        Ok(Guard {
            live: LiveConfig::new(&web, opts.web_config_file.clone(), alpn)?,
            limiter: TokenBucket::new(&web.rate_limit).map(Mutex::new),
            in_flight: (opts.max_concurrent_requests > 0)
                .then(|| Arc::new(Semaphore::new(opts.max_concurrent_requests))),
            in_flight_max: opts.max_concurrent_requests,
            read_timeout: opts.read_timeout,
        })
    }

    /// Runs the checks, then `app`.
    pub(crate) async fn handle(
        self: Arc<Self>,
        app: axum::Router,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> Result<Response<Body>, Infallible> {
        if let Some(l) = &self.limiter
            && !l.lock().allow(Instant::now())
        {
            return Ok(plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"));
        }
        let web = self.live.current();
        let mut resp = self.admitted(&web, app, req, remote).await;
        for (name, value) in &web.headers {
            // The toolkit sets them before the handler runs, so a handler's
            // own value wins.
            resp.headers_mut()
                .entry(name)
                .or_insert_with(|| value.clone());
        }
        Ok(resp)
    }

    async fn admitted(
        &self,
        web: &WebState,
        app: axum::Router,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> Response<Body> {
        if web.auth.enabled() {
            let header = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
            if !web.auth.check(header).await {
                let mut resp = plain(StatusCode::UNAUTHORIZED, "Unauthorized");
                resp.headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
                return resp;
            }
        }
        let permit = match &self.in_flight {
            None => None,
            Some(s) => match s.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    let msg = format!(
                        "Limit of concurrent requests reached ({}), try again later.",
                        self.in_flight_max
                    );
                    return plain(StatusCode::SERVICE_UNAVAILABLE, &msg);
                }
            },
        };
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(ConnectInfo(remote));
        let deadline = self.read_timeout.map(|d| tokio::time::Instant::now() + d);
        let req = Request::from_parts(parts, Body::new(DeadlineBody::new(body, deadline)));
        let resp = match app.oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
        // The slot stays taken until the response body is sent, as the
        // limit in Go covers the whole handler, writing included.
        match permit {
            None => resp,
            Some(permit) => resp.map(|inner| {
                Body::new(HoldingBody {
                    inner,
                    _permit: permit,
                })
            }),
        }
    }
}

/// A response body that keeps a concurrency slot until it is dropped.
struct HoldingBody {
    inner: Body,
    _permit: OwnedSemaphorePermit,
}

impl HttpBody for HoldingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A text response like Go's `http.Error`.
fn plain(status: StatusCode, msg: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(format!("{msg}\n")));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut().insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Go's `rate.Limiter` as the toolkit uses it: one token per `interval`,
/// at most `burst` saved up, starting full.
pub(crate) struct TokenBucket {
    tokens: f64,
    burst: f64,
    interval_s: f64,
    last: Instant,
}

impl TokenBucket {
    /// `None` when disabled (a zero interval; a negative one means an
    /// infinite rate, which is the same).
    pub(crate) fn new(c: &RateLimitConfig) -> Option<TokenBucket> {
        (c.interval.ms() > 0).then(|| TokenBucket {
            tokens: c.burst as f64,
            burst: c.burst as f64,
            interval_s: c.interval.ms() as f64 / 1000.0,
            last: Instant::now(),
        })
    }

    /// Takes a token if one is available at `now`.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed / self.interval_s).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The request body, failing once its read deadline passes: Go's
/// `ReadTimeout` covers the body, hyper's header timeout does not.
struct DeadlineBody {
    inner: Incoming,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, deadline: Option<tokio::time::Instant>) -> Self {
        DeadlineBody {
            inner,
            sleep: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        }
    }
}

/// Returned by a body read that passed the read timeout.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within the read timeout")]
struct BodyReadTimeout;

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if let Some(sleep) = &mut self.sleep
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Some(Err(Box::new(BodyReadTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beacon_model::PromDuration;

    #[test]
    fn token_bucket_follows_go_rate_limiter() {
        let cfg = RateLimitConfig {
            burst: 2,
            interval: PromDuration(1000),
        };
        let mut b = TokenBucket::new(&cfg).unwrap();
        let t0 = b.last;
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(b.allow(at(0)));
        assert!(b.allow(at(0)));
        assert!(!b.allow(at(0)), "burst spent");
        assert!(!b.allow(at(999)));
        assert!(b.allow(at(1000)), "one token per interval");
        assert!(!b.allow(at(1500)));
        // A long pause refills only up to the burst.
        assert!(b.allow(at(10_000)));
        assert!(b.allow(at(10_000)));
        assert!(!b.allow(at(10_000)));
    }

    #[test]
    fn token_bucket_disabled_or_empty() {
        assert!(TokenBucket::new(&RateLimitConfig::default()).is_none());
        let zero_burst = RateLimitConfig {
            burst: 0,
            interval: PromDuration(1000),
        };
        let mut b = TokenBucket::new(&zero_burst).unwrap();
        assert!(
            !b.allow(b.last + Duration::from_secs(60)),
            "Go allows nothing with burst 0"
        );
    }
}
