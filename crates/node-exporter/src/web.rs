//! Serving the router on each listen address: through `beacon-webserve`
//! with the exporter-toolkit `--web.config.file` (TLS, basic auth,
//! response headers) when the `web-config` feature is on (the default),
//! or plain HTTP in a build without it, which refuses the flag rather than
//! serve without the protection the operator asked for.
//!
//! The feature exists because TLS, HTTP/2 and the YAML reader roughly
//! double the binary, and resident memory grows with it.

use std::future::Future;

use crate::error::{Error, Result};

/// How to serve, from `--web.config.file` (empty: plain HTTP, no auth).
#[derive(Debug, Clone)]
pub struct WebOptions {
    #[cfg(feature = "web-config")]
    opts: beacon_webserve::ServeOptions,
}

impl WebOptions {
    /// Reads and checks the web config file (certificates, keys, bcrypt
    /// hashes), so a bad one fails at start-up.
    #[cfg(feature = "web-config")]
    pub fn new(web_config_file: &str) -> Result<WebOptions> {
        let mut opts = beacon_webserve::ServeOptions::node_exporter(None);
        // The metrics handler applies --web.max-requests itself, to
        // scrapes only, as node_exporter does; the landing page is never
        // refused.
        opts.max_concurrent_requests = 0;
        if !web_config_file.is_empty() {
            let err = |e: beacon_webserve::Error| Error::WebConfig {
                path: web_config_file.into(),
                msg: e.to_string(),
            };
            opts = opts.with_web_config_file(web_config_file).map_err(err)?;
            beacon_webserve::validate(&opts).map_err(err)?;
        }
        Ok(WebOptions { opts })
    }

    /// Plain HTTP only: a web config file is refused.
    #[cfg(not(feature = "web-config"))]
    pub fn new(web_config_file: &str) -> Result<WebOptions> {
        if !web_config_file.is_empty() {
            return Err(Error::WebConfig {
                path: web_config_file.into(),
                msg:
                    "this build has no TLS or basic auth (built without the `web-config` feature); \
                      remove the flag or use a default build"
                        .into(),
            });
        }
        Ok(WebOptions {})
    }
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    web: &WebOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let io = |source| Error::Sys {
        call: "serving HTTP",
        source,
    };
    #[cfg(feature = "web-config")]
    {
        beacon_webserve::serve(listener, app, web.opts.clone(), shutdown)
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))
    }
    #[cfg(not(feature = "web-config"))]
    {
        let _ = web;
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_web_config_serves_plain_http() {
        assert!(WebOptions::new("").is_ok());
    }

    #[cfg(not(feature = "web-config"))]
    #[test]
    fn lean_build_refuses_a_web_config() {
        let e = WebOptions::new("web.yml").expect_err("refused").to_string();
        assert!(
            e.starts_with("--web.config.file web.yml: this build has no TLS"),
            "{e}"
        );
    }

    #[cfg(feature = "web-config")]
    #[test]
    fn missing_web_config_names_the_file() {
        let e = WebOptions::new("no/such/web.yml")
            .expect_err("missing file")
            .to_string();
        assert!(e.starts_with("--web.config.file no/such/web.yml: "), "{e}");
    }
}
