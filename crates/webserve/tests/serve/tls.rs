//! TLS: certificates made per test with rcgen (a CA, a server certificate
//! for 127.0.0.1, a client certificate the CA signed and one it did not),
//! every `client_auth_type` with and without a client certificate,
//! `client_allowed_sans`, versions, ALPN, reload on change, and start-up
//! errors that name the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::*;

/// PEM files of one test's certificates, in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

/// One certificate and key, as PEM.
struct Leaf {
    cert: String,
    key: String,
}

fn ca() -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "beacon test CA");
    (p.self_signed(&key).unwrap(), key)
}

fn leaf(
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: Option<&(rcgen::Certificate, KeyPair)>,
) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(names).unwrap();
    p.extended_key_usages = vec![usage];
    let cert = match issuer {
        Some((ca, ca_key)) => p.signed_by(&key, ca, ca_key).unwrap(),
        None => p.self_signed(&key).unwrap(),
    };
    Leaf {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

impl Pki {
    /// A CA, `server.crt`/`server.key` and `ca.crt` on disk, and two
    /// client identities: one signed by the CA, one self-signed.
    fn new() -> (Pki, Leaf, Leaf) {
        let ca = ca();
        let server = leaf(
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
            Some(&ca),
        );
        let trusted = leaf(
            &["client.example"],
            ExtendedKeyUsagePurpose::ClientAuth,
            Some(&ca),
        );
        let stranger = leaf(
            &["client.example"],
            ExtendedKeyUsagePurpose::ClientAuth,
            None,
        );
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki {
            dir,
            ca_pem: ca.0.pem(),
        };
        pki.write("server.crt", &server.cert);
        pki.write("server.key", &server.key);
        pki.write("ca.crt", &pki.ca_pem);
        (pki, trusted, stranger)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    /// A web config serving `server.crt` with extra `tls_server_config` lines.
    fn opts(&self, extra: &str) -> ServeOptions {
        let yaml = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra}",
            self.path("server.crt").display(),
            self.path("server.key").display()
        );
        with_web(&yaml)
    }

    fn ca_line(&self) -> String {
        format!("  client_ca_file: {}\n", self.path("ca.crt").display())
    }
}

/// A client trusting the test CA, optionally presenting `identity`.
fn client(
    pki: &Pki,
    identity: Option<&Leaf>,
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let b = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match identity {
        None => b.with_no_client_auth(),
        Some(id) => {
            let chain = vec![CertificateDer::from_pem_slice(id.cert.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(id.key.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
    };
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(cfg))
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Connects over TLS and GETs `/`: the status, or the error that ended it.
async fn tls_get(addr: SocketAddr, connector: &TlsConnector) -> Result<u16, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut s = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    // With TLS 1.3 a rejected client certificate shows only on first read.
    let req = "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let read = timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("no reply");
    if buf.is_empty() {
        return Err(format!("no response: {read:?}"));
    }
    Ok(parse_reply(&buf).status)
}

#[tokio::test]
async fn plain_server_certificate() {
    let (pki, _, _) = Pki::new();
    assert!(pki.opts("").tls_enabled());
    assert!(!ServeOptions::default().tls_enabled());
    let srv = start(app(Arc::default()), pki.opts("")).await;
    assert_eq!(
        tls_get(srv.addr, &client(&pki, None, BOTH, &[])).await,
        Ok(200)
    );
    srv.stop().await;
}

#[tokio::test]
async fn silent_client_is_dropped_during_the_handshake() {
    let (pki, _, _) = Pki::new();
    let mut opts = pki.opts("");
    opts.read_timeout = Some(Duration::from_millis(300));
    let srv = start(app(Arc::default()), opts).await;
    let mut silent = TcpStream::connect(srv.addr).await.unwrap();
    assert_eq!(
        tls_get(srv.addr, &client(&pki, None, BOTH, &[])).await,
        Ok(200)
    );
    let mut buf = Vec::new();
    let read = timeout(WAIT, silent.read_to_end(&mut buf))
        .await
        .expect("silent client was not dropped");
    assert!(read.is_err() || buf.is_empty(), "{buf:?}");
    srv.stop().await;
}

#[tokio::test]
async fn every_client_auth_type_with_and_without_a_client_cert() {
    let (pki, trusted, stranger) = Pki::new();
    // (client_auth_type, needs client_ca_file, none, trusted, self-signed)
    let cases = [
        ("NoClientCert", false, true, true, true),
        ("RequestClientCert", false, true, true, true),
        ("RequireAnyClientCert", false, false, true, true),
        ("VerifyClientCertIfGiven", true, true, true, false),
        ("RequireAndVerifyClientCert", true, false, true, false),
    ];
    for (kind, ca, none_ok, trusted_ok, stranger_ok) in cases {
        let mut extra = format!("  client_auth_type: {kind}\n");
        if ca {
            extra.push_str(&pki.ca_line());
        }
        let srv = start(app(Arc::default()), pki.opts(&extra)).await;
        let ids = [
            (None, none_ok),
            (Some(&trusted), trusted_ok),
            (Some(&stranger), stranger_ok),
        ];
        for (i, (id, ok)) in ids.into_iter().enumerate() {
            let got = tls_get(srv.addr, &client(&pki, id, BOTH, &[])).await;
            assert_eq!(got.is_ok(), ok, "{kind}, client #{i}: {got:?}");
            if ok {
                assert_eq!(got, Ok(200));
            }
        }
        srv.stop().await;
    }
}

#[tokio::test]
async fn client_allowed_sans() {
    let (pki, trusted, _) = Pki::new();
    for (allowed, ok) in [("client.example", true), ("someone.else", false)] {
        let extra = format!(
            "  client_auth_type: RequireAndVerifyClientCert\n{}  client_allowed_sans: [{allowed}]\n",
            pki.ca_line()
        );
        let srv = start(app(Arc::default()), pki.opts(&extra)).await;
        let got = tls_get(srv.addr, &client(&pki, Some(&trusted), BOTH, &[])).await;
        assert_eq!(got.is_ok(), ok, "{allowed}: {got:?}");
        srv.stop().await;
    }
    // Without a mandatory client certificate there is nothing to match.
    let opts = pki.opts("  client_auth_type: RequestClientCert\n  client_allowed_sans: [x]\n");
    let err = beacon_webserve::validate(&opts).unwrap_err().to_string();
    assert!(err.contains("client_allowed_sans requires"), "{err}");
}

#[tokio::test]
async fn min_and_max_version() {
    let (pki, _, _) = Pki::new();
    let tls12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
    let srv = start(app(Arc::default()), pki.opts("  min_version: TLS13\n")).await;
    assert!(
        tls_get(srv.addr, &client(&pki, None, tls12, &[]))
            .await
            .is_err()
    );
    assert_eq!(
        tls_get(srv.addr, &client(&pki, None, BOTH, &[])).await,
        Ok(200)
    );
    srv.stop().await;
    let srv = start(app(Arc::default()), pki.opts("  max_version: TLS12\n")).await;
    let tcp = TcpStream::connect(srv.addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let s = client(&pki, None, BOTH, &[])
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    drop(s);
    srv.stop().await;
}

#[tokio::test]
async fn alpn_offers_h2_only_when_http2_is_on() {
    let (pki, _, _) = Pki::new();
    for (http2, want) in [
        ("true", b"h2".as_slice()),
        ("false", b"http/1.1".as_slice()),
    ] {
        let mut opts = pki.opts("");
        opts.web_config.as_mut().unwrap().http_server_config.http2 = http2 == "true";
        let srv = start(app(Arc::default()), opts).await;
        let tcp = TcpStream::connect(srv.addr).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let connector = client(&pki, None, BOTH, &[b"h2", b"http/1.1"]);
        let s = connector.connect(name, tcp).await.unwrap();
        assert_eq!(s.get_ref().1.alpn_protocol(), Some(want), "http2: {http2}");
        drop(s);
        srv.stop().await;
    }
}

#[tokio::test]
async fn http2_request_over_tls_gets_headers_and_auth() {
    let (pki, _, _) = Pki::new();
    let mut opts = pki.opts("");
    let web = WebConfig::from_yaml_str(&auth_yaml(), "web.yml").unwrap();
    let cfg = opts.web_config.as_mut().unwrap();
    cfg.basic_auth_users = web.basic_auth_users;
    cfg.http_server_config.headers = web.http_server_config.headers;
    let srv = start(app(Arc::default()), opts).await;
    let tcp = TcpStream::connect(srv.addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tls = client(&pki, None, BOTH, &[b"h2"])
        .connect(name, tcp)
        .await
        .unwrap();
    let io = hyper_util::rt::TokioIo::new(tls);
    let exec = hyper_util::rt::TokioExecutor::new();
    let (mut send, conn) = hyper::client::conn::http2::handshake(exec, io)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    for (auth, status) in [(None, 401), (Some("Basic YWxpY2U6czNjcmV0"), 200)] {
        let mut req = axum::http::Request::get(format!("https://127.0.0.1:{}/", srv.addr.port()));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let req = req.body(axum::body::Body::empty()).unwrap();
        let resp = timeout(WAIT, send.send_request(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resp.version(), axum::http::Version::HTTP_2);
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()["x-frame-options"], "deny");
    }
    drop(send);
    let _ = timeout(WAIT, conn).await.unwrap();
    srv.stop().await;
}

#[tokio::test]
async fn certificate_files_are_reread_when_they_change() {
    let (pki, _, _) = Pki::new();
    let srv = start(app(Arc::default()), pki.opts("")).await;
    let served_cert = || async {
        let tcp = TcpStream::connect(srv.addr).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let s = client(&pki, None, BOTH, &[])
            .connect(name, tcp)
            .await
            .unwrap();
        s.get_ref().1.peer_certificates().unwrap()[0].to_vec()
    };
    let before = served_cert().await;
    // A new certificate from a new CA; the client trusts the new CA.
    let ca = ca();
    let next = leaf(
        &["127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
        Some(&ca),
    );
    let pki = Pki {
        dir: pki.dir,
        ca_pem: ca.0.pem(),
    };
    pki.write("server.crt", &next.cert);
    pki.write("server.key", &next.key);
    let after = {
        let tcp = TcpStream::connect(srv.addr).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let s = client(&pki, None, BOTH, &[])
            .connect(name, tcp)
            .await
            .unwrap();
        s.get_ref().1.peer_certificates().unwrap()[0].to_vec()
    };
    assert_ne!(before, after);
    assert_eq!(
        after,
        CertificateDer::from_pem_slice(next.cert.as_bytes())
            .unwrap()
            .to_vec()
    );
    srv.stop().await;
}

/// `validate` errors: each names the file or setting at fault.
fn check_invalid(pki: &Pki, extra: &str, cert: Option<&Path>, expected: &[&str]) {
    let mut opts = pki.opts(extra);
    if let Some(p) = cert {
        opts.web_config
            .as_mut()
            .unwrap()
            .tls_server_config
            .cert_file = p.display().to_string();
    }
    let err = beacon_webserve::validate(&opts).unwrap_err().to_string();
    for e in expected {
        assert!(err.contains(e), "{err}\nwanted {e}");
    }
}

#[test]
fn validate_names_what_is_wrong() {
    let (pki, _, _) = Pki::new();
    let missing = pki.path("nope.crt");
    let missing_s = missing.display().to_string();
    check_invalid(&pki, "", Some(&missing), &["cert_file", &missing_s]);
    pki.write("garbage.crt", "not a certificate\n");
    let garbage = pki.path("garbage.crt");
    check_invalid(
        &pki,
        "",
        Some(&garbage),
        &["no PEM certificate", "garbage.crt"],
    );
    check_invalid(
        &pki,
        "  min_version: TLS11\n",
        None,
        &["min_version TLS11", "rustls"],
    );
    check_invalid(
        &pki,
        "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
        None,
        &["TLS_RSA_WITH_AES_128_CBC_SHA", "not supported by rustls"],
    );
    check_invalid(
        &pki,
        "  curve_preferences: [CurveP521]\n",
        None,
        &["CurveP521"],
    );
    check_invalid(
        &pki,
        "  client_auth_type: VerifyClientCertIfGiven\n",
        None,
        &["client_ca_file is required"],
    );
    // A key that does not belong to the certificate.
    pki.write("other.key", &KeyPair::generate().unwrap().serialize_pem());
    let mut opts = pki.opts("");
    opts.web_config.as_mut().unwrap().tls_server_config.key_file =
        pki.path("other.key").display().to_string();
    assert!(beacon_webserve::validate(&opts).is_err());
    // A correct config passes, with a supported cipher suite and curve.
    let good = "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519]\n";
    beacon_webserve::validate(&pki.opts(good)).unwrap();
}
