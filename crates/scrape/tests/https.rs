//! A job read from prometheus.yml scraping an HTTPS target on 127.0.0.1
//! whose certificate names only `scrape.example.internal` (CA and
//! certificate generated here), with an `oauth2` token from a local token
//! server: `tls_config.server_name` decides whether the scrape verifies,
//! and the token reaches the target.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::routing::post;
use beacon_config::Config;
use beacon_discovery::TargetGroup;
use beacon_discovery::manager::JobGroups;
use beacon_model::{Labels, Matcher};
use beacon_scrape::{ManagerOptions, ScrapeManager};
use beacon_storage::{MemStorage, Queryable, ValueType};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T0: i64 = 1_700_000_000_000;
/// Request heads larger than this are refused by the test target.
const REQUEST_HEAD_MAX_BYTES: usize = 64 << 10;

/// A CA (PEM) and a server config for `scrape.example.internal` only.
fn pki() -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["scrape.example.internal".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let der_key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], der_key)
    .unwrap();
    (ca.pem(), Arc::new(server))
}

/// An HTTPS target that answers 200 with a metric only to requests
/// carrying `Authorization: Bearer good-token`, 401 otherwise.
async fn tls_target(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                    if head.len() > REQUEST_HEAD_MAX_BYTES {
                        return;
                    }
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let (status, body) = if text.contains("authorization: bearer good-token\r\n") {
                    ("200 OK", "tls_metric 1\n")
                } else {
                    ("401 Unauthorized", "")
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

async fn token_server() -> SocketAddr {
    let app = Router::new().route(
        "/token",
        post(|| async {
            r#"{"access_token":"good-token","token_type":"Bearer","expires_in":3600}"#
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

/// Scrapes the target once under a job with `tls_extra` in its
/// `tls_config`; returns `up`, `tls_metric` if stored, and the error.
async fn scrape_with(
    dir: &std::path::Path,
    target: SocketAddr,
    token: SocketAddr,
    tls_extra: &str,
) -> (f64, Option<f64>, String) {
    let yaml = format!(
        r#"
scrape_configs:
  - job_name: tls
    scheme: https
    tls_config:
      ca_file: ca.pem
{tls_extra}
    oauth2:
      client_id: beacon
      client_secret_file: secret
      token_url: http://{token}/token
"#
    );
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, yaml).unwrap();
    let cfg = Config::load(&path).unwrap();
    let db = Arc::new(MemStorage::new());
    let now = Arc::new(AtomicI64::new(T0));
    let m = ScrapeManager::new(
        db.clone(),
        ManagerOptions {
            run_loops: false,
            clock: Arc::new(move || now.fetch_add(1000, Ordering::SeqCst)),
            offset_seed: 0,
            hostname: "host".into(),
        },
    );
    m.apply_config(&cfg).await.unwrap();
    let mut g = JobGroups::new();
    let addr = target.to_string();
    g.insert(
        "tls".into(),
        vec![TargetGroup::from_addresses(
            "0",
            [addr.as_str()],
            Labels::empty(),
        )],
    );
    m.sync(&g).await;
    m.scrape_all().await;
    let last = |name: &str| {
        let q = db.querier(0, i64::MAX / 2).unwrap();
        let mut out = None;
        for mut s in q.select(&[Matcher::equal("__name__", name)]).unwrap() {
            while s.samples.next() == ValueType::Float {
                out = Some(s.samples.at().1);
            }
        }
        out
    };
    let error = m.targets().active[0].last_error.clone();
    (last("up").unwrap(), last("tls_metric"), error)
}

#[tokio::test]
async fn server_name_and_oauth2_from_prometheus_yml() {
    let (ca_pem, server) = pki();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
    let target = tls_target(server).await;
    let token = token_server().await;

    let (up, v, err) = scrape_with(dir.path(), target, token, "").await;
    assert_eq!((up, v), (0.0, None));
    assert!(
        err.contains("certificate not valid for name \"127.0.0.1\""),
        "{err}"
    );

    let good = "      server_name: scrape.example.internal";
    let (up, v, err) = scrape_with(dir.path(), target, token, good).await;
    assert_eq!((up, v, err.as_str()), (1.0, Some(1.0), ""));

    let wrong = "      server_name: wrong.example.internal";
    let (up, _, err) = scrape_with(dir.path(), target, token, wrong).await;
    assert_eq!(up, 0.0);
    assert!(
        err.contains("certificate not valid for name \"wrong.example.internal\""),
        "{err}"
    );
}
