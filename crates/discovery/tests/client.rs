//! The HTTP client against local servers on 127.0.0.1: the oauth2
//! client-credentials flow (an axum token server and a resource server
//! that checks the token), `http_headers`, and TLS verification with
//! `server_name` against certificates generated here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use beacon_config::Config;
use beacon_discovery::Error;
use beacon_discovery::client::{HttpClient, HttpClientSettings, OAuth2Settings, TlsSettings};
use beacon_discovery::from_config::http_settings;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve(app: Router) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

/// The token server's state: tokens issued so far and the lifetime it
/// announces.
struct Tokens {
    issued: AtomicUsize,
    expires_in: u64,
    last_form: parking_lot::Mutex<String>,
    last_auth: parking_lot::Mutex<String>,
}

impl Tokens {
    fn current(&self) -> String {
        format!("Bearer tok-{}", self.issued.load(Ordering::SeqCst))
    }
}

async fn token(State(t): State<Arc<Tokens>>, headers: HeaderMap, body: String) -> String {
    *t.last_form.lock() = body;
    *t.last_auth.lock() = headers[header::AUTHORIZATION].to_str().unwrap().to_owned();
    let n = t.issued.fetch_add(1, Ordering::SeqCst) + 1;
    format!(
        r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":{}}}"#,
        t.expires_in
    )
}

/// Accepts only the newest token; `/revoke` makes the server forget it,
/// as a token server that rotated its keys would.
async fn resource(State(t): State<Arc<Tokens>>, headers: HeaderMap) -> (StatusCode, String) {
    let got = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    if got == t.current() {
        (StatusCode::OK, got)
    } else {
        (StatusCode::UNAUTHORIZED, got)
    }
}

async fn oauth_setup(expires_in: u64) -> (Arc<Tokens>, HttpClient, String) {
    let tokens = Arc::new(Tokens {
        issued: AtomicUsize::new(0),
        expires_in,
        last_form: Default::default(),
        last_auth: Default::default(),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/data", get(resource))
        .with_state(tokens.clone());
    let addr = serve(app).await;
    let settings = HttpClientSettings {
        oauth2: Some(OAuth2Settings {
            client_id: "beacon id".into(),
            client_secret: beacon_config::Secret::new("s3cr&t"),
            scopes: vec!["read".into(), "write".into()],
            token_url: format!("http://{addr}/token"),
            endpoint_params: BTreeMap::from([("audience".into(), "metrics".into())]),
            ..OAuth2Settings::default()
        }),
        ..HttpClientSettings::default()
    };
    let debug = format!("{settings:?}");
    assert!(!debug.contains("s3cr&t"), "secret leaked: {debug}");
    let client = HttpClient::new(&settings, "test").unwrap();
    (tokens, client, format!("http://{addr}/data"))
}

async fn fetch(client: &HttpClient, url: &str) -> (u16, String) {
    let r = client.send(client.get(url)).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn oauth2_token_is_fetched_once_cached_and_renewed_on_401() {
    let (tokens, client, url) = oauth_setup(3600).await;
    assert_eq!(fetch(&client, &url).await, (200, "Bearer tok-1".into()));
    assert_eq!(fetch(&client, &url).await, (200, "Bearer tok-1".into()));
    assert_eq!(tokens.issued.load(Ordering::SeqCst), 1, "token cached");
    // The form and the client authentication follow RFC 6749.
    let form = tokens.last_form.lock().clone();
    assert_eq!(
        form,
        "grant_type=client_credentials&scope=read+write&audience=metrics"
    );
    // base64("beacon+id:s3cr%26t")
    assert_eq!(
        tokens.last_auth.lock().as_str(),
        "Basic YmVhY29uK2lkOnMzY3IlMjZ0"
    );
    // A plain request carries the cached token too.
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The server stops accepting tok-1: the client gets a 401, fetches
    // tok-2 and retries once.
    tokens.issued.fetch_add(1, Ordering::SeqCst);
    assert_eq!(fetch(&client, &url).await, (200, "Bearer tok-3".into()));
    assert_eq!(tokens.issued.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn oauth2_token_near_expiry_is_renewed() {
    // 5 s is inside the renewal margin: every request needs a new token.
    let (tokens, client, url) = oauth_setup(5).await;
    assert_eq!(fetch(&client, &url).await, (200, "Bearer tok-1".into()));
    assert_eq!(fetch(&client, &url).await, (200, "Bearer tok-2".into()));
    assert_eq!(tokens.issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn oauth2_token_server_failure_is_readable() {
    let app = Router::new().route(
        "/token",
        post(|| async { (StatusCode::BAD_REQUEST, r#"{"error":"invalid_client"}"#) }),
    );
    let addr = serve(app).await;
    let settings = HttpClientSettings {
        oauth2: Some(OAuth2Settings {
            client_id: "x".into(),
            token_url: format!("http://{addr}/token"),
            ..OAuth2Settings::default()
        }),
        ..HttpClientSettings::default()
    };
    let client = HttpClient::new(&settings, "test").unwrap();
    let e = client
        .send(client.get(&format!("http://{addr}/data")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::OAuth2 { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("/token: token server returned HTTP status 400")
            && msg.contains("invalid_client"),
        "{msg}"
    );
}

#[tokio::test]
async fn http_headers_from_config_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), "from-file\n").unwrap();
    let yaml = r#"
scrape_configs:
  - job_name: j
    http_headers:
      X-Multi:
        values: [a, b]
      X-Api-Key:
        secrets: [hidden-value]
      X-File:
        files: [key]
"#;
    // Loaded from a file so `files: [key]` resolves beside it.
    let path = dir.path().join("p.yml");
    std::fs::write(&path, yaml).unwrap();
    let cfg = Config::load(&path).unwrap();
    assert!(!cfg.to_yaml().contains("hidden-value"));
    let settings = http_settings(&cfg.scrape_config("j").unwrap().http).unwrap();
    assert!(!format!("{settings:?}").contains("hidden-value"));
    let app = Router::new().route(
        "/",
        get(|h: HeaderMap| async move {
            let mut out = Vec::new();
            for name in ["x-multi", "x-api-key", "x-file"] {
                for v in h.get_all(name) {
                    out.push(format!("{name}={}", v.to_str().unwrap()));
                }
            }
            out.join(",")
        }),
    );
    let addr = serve(app).await;
    let client = HttpClient::new(&settings, "test").unwrap();
    let (_, body) = fetch(&client, &format!("http://{addr}/")).await;
    assert_eq!(
        body,
        "x-multi=a,x-multi=b,x-api-key=hidden-value,x-file=from-file"
    );
}

/// A CA and a server certificate for `scrape.example.internal` only.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
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
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// A TLS server answering every request with a fixed HTTP/1.1 response.
async fn tls_server(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "up_from_tls 1\n";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

async fn tls_get(tls: TlsSettings, url: &str) -> Result<String, Error> {
    let settings = HttpClientSettings {
        tls,
        ..HttpClientSettings::default()
    };
    let client = HttpClient::new(&settings, "test")?;
    let r = client.send(client.get(url)).await?;
    Ok(r.text().await.unwrap())
}

#[tokio::test]
async fn tls_server_name_decides_which_name_is_verified() {
    let pki = pki();
    let addr = tls_server(pki.server.clone()).await;
    let url = format!("https://127.0.0.1:{}/metrics", addr.port());
    let with = |name: Option<&str>| TlsSettings {
        ca_pem: Some(pki.ca_pem.clone()),
        server_name: name.map(str::to_owned),
        ..TlsSettings::default()
    };
    let e = tls_get(with(None), &url).await.unwrap_err().to_string();
    assert!(e.contains("certificate not valid for name"), "{e}");
    assert_eq!(
        tls_get(with(Some("scrape.example.internal")), &url)
            .await
            .unwrap(),
        "up_from_tls 1\n"
    );
    let e = tls_get(with(Some("other.example.internal")), &url)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("certificate not valid for name \"other.example.internal\""),
        "{e}"
    );
    // Without the CA the chain is unknown, whatever the name.
    let e = tls_get(
        TlsSettings {
            server_name: Some("scrape.example.internal".into()),
            ..TlsSettings::default()
        },
        &url,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("UnknownIssuer"), "{e}");
    // insecure_skip_verify accepts it all.
    let insecure = TlsSettings {
        insecure_skip_verify: true,
        ..TlsSettings::default()
    };
    assert_eq!(tls_get(insecure, &url).await.unwrap(), "up_from_tls 1\n");
}
