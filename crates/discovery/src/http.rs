//! `http_sd_configs`: target groups fetched from an HTTP endpoint that
//! returns the file SD JSON format, polled every `refresh_interval`.

use std::time::Duration;

use crate::client::{HttpClient, HttpClientSettings};
use crate::{Error, Result, TargetGroup, parse_groups_json};

/// Bodies larger than this are refused.
pub const HTTP_SD_BODY_MAX_BYTES: usize = 64 << 20;
/// A request that takes longer than this fails (and is retried next tick).
pub const HTTP_SD_TIMEOUT: Duration = Duration::from_secs(30);
/// The label holding the URL a target came from.
pub const META_URL: &str = "__meta_url";

/// Settings of one `http_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSdConfig {
    pub url: String,
    pub refresh_interval: Duration,
    pub client: HttpClientSettings,
}

/// One HTTP SD provider.
#[derive(Debug)]
pub struct HttpProvider {
    config: HttpSdConfig,
    client: HttpClient,
}

impl HttpProvider {
    pub fn new(config: HttpSdConfig) -> Result<HttpProvider> {
        let client = HttpClient::new(&config.client, "Beacon/http_sd")?;
        Ok(HttpProvider { config, client })
    }

    pub fn config(&self) -> &HttpSdConfig {
        &self.config
    }

    /// Fetches and parses the current groups.
    pub async fn refresh(&self) -> Result<Vec<TargetGroup>> {
        let url = &self.config.url;
        let http = |e: reqwest::Error| Error::Http {
            url: url.clone(),
            reason: e.to_string(),
        };
        let req = self
            .client
            .get(url)
            .header(
                "X-Prometheus-Refresh-Interval-Seconds",
                self.config.refresh_interval.as_secs_f64().to_string(),
            )
            .timeout(HTTP_SD_TIMEOUT);
        let mut resp = self.client.send(req).await?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(Error::HttpStatus {
                url: url.clone(),
                status: resp.status().as_u16(),
            });
        }
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ctype.starts_with("application/json") {
            return Err(Error::Http {
                url: url.clone(),
                reason: format!("unsupported content type {ctype:?}"),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > HTTP_SD_BODY_MAX_BYTES {
                return Err(Error::BodyTooLarge {
                    url: url.clone(),
                    limit_bytes: HTTP_SD_BODY_MAX_BYTES,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let mut groups = parse_groups_json(&body, url)?;
        for g in &mut groups {
            let mut b = g.labels.builder();
            b.set(META_URL, url);
            g.labels = b.build();
        }
        Ok(groups)
    }
}
