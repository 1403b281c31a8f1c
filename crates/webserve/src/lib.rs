//! Serving an [`axum::Router`] the way Prometheus, Alertmanager and
//! node_exporter serve HTTP: with the exporter-toolkit `web.config.yml`
//! (TLS with client-certificate policies, bcrypt basic auth, extra response
//! headers, HTTP/2 on/off, a rate limit) and Go's server limits
//! (`--web.max-connections`, `--web.read-timeout`, header size,
//! `--web.max-requests`).
//!
//! A binary validates at start-up, so a bad certificate path fails with one
//! line, then serves until its shutdown signal fires:
//!
//! ```no_run
//! # async fn run() -> beacon_webserve::Result<()> {
//! use beacon_webserve::{ServeOptions, serve, validate};
//!
//! let web_config_file: Option<&str> = None; // --web.config.file
//! let mut opts = ServeOptions::prometheus(None);
//! if let Some(path) = web_config_file {
//!     opts = opts.with_web_config_file(path)?;
//! }
//! validate(&opts)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await.unwrap();
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
//! serve(listener, app, opts, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Per request, in the exporter-toolkit's order: the rate limit (429), the
//! configured headers, basic auth (401), then the concurrency limit (503)
//! and the application, which can extract `ConnectInfo<SocketAddr>`.
//! Certificates are re-read when their files change, and the web config
//! file too when [`ServeOptions::web_config_file`] is set, so rotating
//! certificates or editing users needs no restart.

mod auth;
mod error;
mod guard;
mod reload;
mod san;
mod server;
mod tls;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use beacon_config::web::WebConfig;

pub use error::{Error, Result};

/// Go's `http.DefaultMaxHeaderBytes`: the request line and headers together.
pub const MAX_HEADER_BYTES_DEFAULT: usize = 1 << 20;
/// Prometheus's `--web.max-connections` default.
pub const PROMETHEUS_MAX_CONNECTIONS_DEFAULT: usize = 512;
/// Prometheus's `--web.read-timeout` default.
pub const PROMETHEUS_READ_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5 * 60);
/// node_exporter's `--web.max-requests` default: concurrent scrapes.
pub const NODE_EXPORTER_MAX_REQUESTS_DEFAULT: usize = 40;

/// How to serve: the parsed `web.config.yml` and the server limits.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The `--web.config.file` contents; `None` serves plain HTTP, no auth.
    pub web_config: Option<WebConfig>,
    /// The file `web_config` was read from. When set, it is re-read when it
    /// changes, so users, headers and TLS files update without a restart
    /// (as the exporter-toolkit does); an edit that fails to load is logged
    /// and the previous settings stay.
    pub web_config_file: Option<PathBuf>,
    /// Open connections at most; accepting pauses while full. 0: unlimited.
    pub max_connections: usize,
    /// Time allowed to read a request's headers, and again its body.
    /// A client slower than this is disconnected. `None`: no limit.
    pub read_timeout: Option<Duration>,
    /// Request line plus headers at most; larger heads get 431. 0: the
    /// default, [`MAX_HEADER_BYTES_DEFAULT`].
    pub max_header_bytes: usize,
    /// Requests handled at once; beyond it the answer is 503. 0: unlimited.
    /// It covers every route (node_exporter limits `/metrics` only, its
    /// only busy route).
    pub max_concurrent_requests: usize,
}

impl Default for ServeOptions {
    /// No web config and no limits except Go's header size.
    fn default() -> Self {
        ServeOptions {
            web_config: None,
            web_config_file: None,
            max_connections: 0,
            read_timeout: None,
            max_header_bytes: MAX_HEADER_BYTES_DEFAULT,
            max_concurrent_requests: 0,
        }
    }
}

impl ServeOptions {
    /// The `beacon` server's defaults (`--web.max-connections=512`,
    /// `--web.read-timeout=5m`).
    pub fn prometheus(web_config: Option<WebConfig>) -> Self {
        ServeOptions {
            web_config,
            max_connections: PROMETHEUS_MAX_CONNECTIONS_DEFAULT,
            read_timeout: Some(PROMETHEUS_READ_TIMEOUT_DEFAULT),
            ..ServeOptions::default()
        }
    }

    /// `beacon-node-exporter`'s defaults (`--web.max-requests=40`).
    pub fn node_exporter(web_config: Option<WebConfig>) -> Self {
        ServeOptions {
            web_config,
            max_concurrent_requests: NODE_EXPORTER_MAX_REQUESTS_DEFAULT,
            ..ServeOptions::default()
        }
    }

    /// Loads `path` as the web config and watches it while serving (see
    /// [`ServeOptions::web_config_file`]).
    pub fn with_web_config_file(mut self, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        self.web_config = Some(WebConfig::load(&path).map_err(Error::Config)?);
        self.web_config_file = Some(path);
        Ok(self)
    }

    /// Whether connections will speak TLS, e.g. to pick the scheme of an
    /// external URL.
    pub fn tls_enabled(&self) -> bool {
        self.web_config
            .as_ref()
            .is_some_and(|w| tls::configured(&w.tls_server_config))
    }
}

/// Checks everything that can fail before serving: reads and parses the
/// certificate, key and client CA, maps TLS versions, cipher suites and
/// curves to rustls, parses every bcrypt hash and header.
pub fn validate(opts: &ServeOptions) -> Result<()> {
    let Some(web) = &opts.web_config else {
        return Ok(());
    };
    reload::WebState::new(web, &[]).map(drop)
}

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting and waits for in-flight requests to finish (idle keep-alive
/// connections close at once). Validates `opts` first, so a caller that
/// skipped [`validate`] still fails before accepting anything. Accept errors
/// (such as running out of file descriptors) are logged and retried.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    server::run(listener, app, opts, shutdown).await
}
