//! The parts of `web.config.yml` that follow the file while serving, as the
//! exporter-toolkit re-reads it for every request and handshake: users,
//! response headers and TLS settings. A `stat` per request notices an edit;
//! an edit that does not load keeps the previous settings and is logged.
//! Whether TLS is on, HTTP/2 and the rate limit are fixed at start, as in
//! the toolkit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::header::{HeaderName, HeaderValue};
use beacon_config::web::WebConfig;
use parking_lot::Mutex;

use crate::auth::Authenticator;
use crate::tls::{self, Reloader};
use crate::{Error, Result};

/// One loaded version of the reloadable settings.
pub(crate) struct WebState {
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) auth: Authenticator,
    /// Present exactly when the server speaks TLS.
    pub(crate) tls: Option<Reloader>,
}

impl WebState {
    /// Reads the TLS files and checks users and headers.
    pub(crate) fn new(web: &WebConfig, alpn: &[Vec<u8>]) -> Result<WebState> {
        let mut headers = Vec::new();
        for (name, value) in &web.http_server_config.headers {
            let bad = |reason: String| Error::Header {
                name: name.clone(),
                reason,
            };
            let n = HeaderName::try_from(name.as_str()).map_err(|e| bad(e.to_string()))?;
            let v = HeaderValue::try_from(value.as_str()).map_err(|e| bad(e.to_string()))?;
            headers.push((n, v));
        }
        let tls = if tls::configured(&web.tls_server_config) {
            Some(Reloader::new(web.tls_server_config.clone(), alpn.to_vec())?)
        } else {
            None
        };
        Ok(WebState {
            headers,
            auth: Authenticator::new(&web.basic_auth_users)?,
            tls,
        })
    }
}

/// The current [`WebState`], reloaded from the file when it changes.
pub(crate) struct LiveConfig {
    file: Option<PathBuf>,
    alpn: Vec<Vec<u8>>,
    current: Mutex<Current>,
}

struct Current {
    /// The file's bytes when last looked at (`None`: unreadable).
    bytes: Option<Vec<u8>>,
    state: Arc<WebState>,
}

impl LiveConfig {
    /// Starts from the already parsed `web`; `file`, when given, is
    /// watched from now on.
    pub(crate) fn new(web: &WebConfig, file: Option<PathBuf>, alpn: Vec<Vec<u8>>) -> Result<Self> {
        let bytes = file.as_ref().and_then(|f| std::fs::read(f).ok());
        let state = Arc::new(WebState::new(web, &alpn)?);
        Ok(LiveConfig {
            file,
            alpn,
            current: Mutex::new(Current { bytes, state }),
        })
    }

    /// Whether connections speak TLS (fixed for the server's life).
    pub(crate) fn tls(&self) -> bool {
        self.current.lock().state.tls.is_some()
    }

    /// The settings as of now.
    pub(crate) fn current(&self) -> Arc<WebState> {
        let Some(file) = &self.file else {
            return self.current.lock().state.clone();
        };
        let bytes = std::fs::read(file).ok();
        let mut cur = self.current.lock();
        if cur.bytes != bytes {
            cur.bytes = bytes;
            match self.load(file, cur.state.tls.is_some()) {
                Ok(state) => {
                    cur.state = Arc::new(state);
                    tracing::info!(file = %file.display(), "reloaded web config");
                }
                Err(e) => tracing::error!(
                    file = %file.display(),
                    "keeping previous web config: {e}"
                ),
            }
        }
        cur.state.clone()
    }

    fn load(&self, file: &Path, tls_on: bool) -> Result<WebState> {
        let web = WebConfig::load(file).map_err(Error::Config)?;
        if tls::configured(&web.tls_server_config) != tls_on {
            return Err(Error::TlsPolicy(
                "turning TLS on or off needs a restart".into(),
            ));
        }
        WebState::new(&web, &self.alpn)
    }
}
