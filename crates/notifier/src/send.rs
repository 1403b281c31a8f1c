//! One batch to every Alertmanager of every set, concurrently.

use std::sync::Arc;
use std::time::{Duration, Instant};

use beacon_config::AlertmanagerConfig;
use beacon_discovery::client::HttpClient;
use beacon_model::Labels;
use reqwest::header::CONTENT_TYPE;
use tokio::task::JoinSet;

use crate::alert::{encode_alerts, relabel_alerts};
use crate::metrics::Metrics;
use crate::{Alert, Error, Result};

/// At most this much of an Alertmanager's response body is read (and
/// discarded) so the connection can be reused; its content is unused.
pub const RESPONSE_BODY_MAX_BYTES: usize = 64 * 1024;

/// What a batch needs of one Alertmanager set, copied out of the lock.
#[derive(Debug, Clone)]
pub(crate) struct SetSnapshot {
    pub(crate) cfg: Arc<AlertmanagerConfig>,
    pub(crate) client: HttpClient,
    pub(crate) urls: Vec<String>,
}

/// Sends `alerts` to every Alertmanager of `sets`. True when every set
/// that was attempted (it has Alertmanagers and its own
/// `alert_relabel_configs` left some alerts) had at least one
/// Alertmanager accept, which is Prometheus's rule.
pub(crate) async fn send_all(sets: Vec<SetSnapshot>, alerts: &[Alert], metrics: &Metrics) -> bool {
    if alerts.is_empty() {
        return true;
    }
    let begin = Instant::now();
    let mut shared_body: Option<Arc<Vec<u8>>> = None;
    let mut tasks = JoinSet::new();
    let mut attempted = vec![false; sets.len()];
    for (i, set) in sets.into_iter().enumerate() {
        if set.urls.is_empty() {
            continue;
        }
        let encoded = if set.cfg.alert_relabel_configs.is_empty() {
            match &shared_body {
                Some(b) => Ok((b.clone(), alerts.len())),
                None => encode_alerts(alerts).map(|b| {
                    let b = Arc::new(b);
                    shared_body = Some(b.clone());
                    (b, alerts.len())
                }),
            }
        } else {
            let own = relabel_alerts(alerts, &Labels::empty(), &set.cfg.alert_relabel_configs);
            if own.is_empty() {
                continue;
            }
            encode_alerts(&own).map(|b| (Arc::new(b), own.len()))
        };
        let (body, count) = match encoded {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "encoding alerts failed");
                return false;
            }
        };
        attempted[i] = true;
        let timeout = set.cfg.timeout.to_std();
        for url in set.urls {
            let (client, body) = (set.client.clone(), body.clone());
            tasks.spawn(async move {
                let res = post(&client, &url, &body, timeout, count).await;
                (i, url, count, res, begin.elapsed().as_secs_f64())
            });
        }
    }
    let mut covered = vec![false; attempted.len()];
    while let Some(joined) = tasks.join_next().await {
        let Ok((i, url, count, res, latency)) = joined else {
            continue;
        };
        metrics.observe(&url, count, res.is_ok(), latency);
        match res {
            Ok(()) => covered[i] = true,
            Err(e) => tracing::error!(error = %e, "error sending alerts"),
        }
    }
    attempted.iter().zip(&covered).all(|(a, c)| !a || *c)
}

/// One `POST` of an encoded batch; any 2xx status is success. `timeout`
/// covers the whole exchange, including an OAuth 2 token fetch.
pub(crate) async fn post(
    client: &HttpClient,
    url: &str,
    body: &[u8],
    timeout: Duration,
    count: usize,
) -> Result<()> {
    let request = client
        .request(reqwest::Method::POST, url)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_vec());
    let exchange = async {
        let mut response = client.send(request).await?;
        // The status decides; a body cut short does not undo an accepted
        // batch. Reading some of it lets the connection be reused.
        let mut read = 0;
        while read < RESPONSE_BODY_MAX_BYTES {
            match response.chunk().await {
                Ok(Some(c)) => read += c.len(),
                _ => break,
            }
        }
        Ok::<_, beacon_discovery::Error>(response.status())
    };
    let status = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            return Err(Error::Timeout {
                url: url.to_owned(),
                count,
                timeout,
            });
        }
        Ok(Err(source)) => {
            return Err(Error::Request {
                url: url.to_owned(),
                count,
                source,
            });
        }
        Ok(Ok(status)) => status,
    };
    if !status.is_success() {
        return Err(Error::Status {
            url: url.to_owned(),
            count,
            status,
        });
    }
    Ok(())
}
