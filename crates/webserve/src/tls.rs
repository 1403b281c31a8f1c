//! `tls_server_config` to a rustls `ServerConfig` (ring provider), with the
//! exporter-toolkit's client-certificate policies, and a [`Reloader`] that
//! rebuilds it when the certificate, key or CA files change. The toolkit
//! re-reads and parses them on every handshake; we re-read them (a few KiB)
//! and rebuild only when the bytes differ. Comparing bytes rather than
//! modification times catches a rewrite within the file system's timestamp
//! granularity.

use std::fs;
use std::sync::Arc;

use beacon_config::TlsVersion;
use beacon_config::web::TlsServerConfig;
use parking_lot::Mutex;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

use crate::san::{AnyClientCert, SanCheck};
use crate::{Error, Result};

/// Go cipher-suite names rustls (ring) implements. The others Go knows
/// (CBC, RC4, 3DES, static RSA key exchange) are refused with an error.
const CIPHER_SUITES: [(&str, SupportedCipherSuite); 6] = [
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// Go curve names rustls (ring) implements; CurveP521 and X25519MLKEM768
/// are refused with an error.
const CURVES: [(&str, &dyn SupportedKxGroup); 3] = [
    ("CurveP256", ring::kx_group::SECP256R1),
    ("CurveP384", ring::kx_group::SECP384R1),
    ("X25519", ring::kx_group::X25519),
];

/// Whether any TLS setting is present (the toolkit's `IsEnabled`): a
/// client CA without a certificate is an error, not plain HTTP.
pub(crate) fn configured(t: &TlsServerConfig) -> bool {
    !t.cert_file.is_empty()
        || !t.cert.is_empty()
        || !t.key_file.is_empty()
        || !t.key.is_empty()
        || !t.client_ca_file.is_empty()
        || !t.client_ca.is_empty()
        || !t.client_auth_type.is_empty()
}

/// The PEM text of the certificate, key and client CAs, each with the name
/// an error shows (the path, or "inline cert").
#[derive(PartialEq)]
struct Pems {
    cert: (Vec<u8>, String),
    key: (Vec<u8>, String),
    ca: Option<(Vec<u8>, String)>,
}

impl Pems {
    fn read(t: &TlsServerConfig) -> Result<Pems> {
        if t.cert_file.is_empty() && t.cert.is_empty() {
            return Err(Error::TlsPolicy("missing one of cert or cert_file".into()));
        }
        if t.key_file.is_empty() && t.key.is_empty() {
            return Err(Error::TlsPolicy("missing one of key or key_file".into()));
        }
        let has_ca = !t.client_ca_file.is_empty() || !t.client_ca.is_empty();
        Ok(Pems {
            cert: pem_source("cert_file", &t.cert_file, &t.cert)?,
            key: pem_source("key_file", &t.key_file, t.key.expose())?,
            ca: if has_ca {
                Some(pem_source(
                    "client_ca_file",
                    &t.client_ca_file,
                    &t.client_ca,
                )?)
            } else {
                None
            },
        })
    }
}

fn build_from(t: &TlsServerConfig, pems: &Pems) -> Result<ServerConfig> {
    let provider = Arc::new(provider(t)?);
    let chain = parse_certs("cert_file", &pems.cert.0, &pems.cert.1)?;
    let key = load_key(pems)?;
    let verifier = client_verifier(t, load_roots(pems)?, &provider)?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(t)?)
        .map_err(|source| Error::Rustls {
            context: "protocol versions",
            source,
        })?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|source| Error::Rustls {
            context: "certificate and key",
            source,
        })?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites;
    Ok(cfg)
}

/// The ring provider narrowed to the configured cipher suites and curves.
/// TLS 1.3 suites stay enabled: like Go, they are not configurable.
fn provider(t: &TlsServerConfig) -> Result<CryptoProvider> {
    let mut p = ring::default_provider();
    if !t.cipher_suites.is_empty() {
        let mut suites: Vec<SupportedCipherSuite> = p
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| s.tls13().is_some())
            .collect();
        for name in &t.cipher_suites {
            let Some((_, suite)) = CIPHER_SUITES.iter().find(|(n, _)| n == name) else {
                let names: Vec<&str> = CIPHER_SUITES.iter().map(|(n, _)| *n).collect();
                return Err(Error::TlsPolicy(format!(
                    "cipher suite {name} is not supported by rustls; supported: {}",
                    names.join(", ")
                )));
            };
            suites.push(*suite);
        }
        p.cipher_suites = suites;
    }
    if !t.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &t.curve_preferences {
            let Some((_, group)) = CURVES.iter().find(|(n, _)| n == name) else {
                return Err(Error::TlsPolicy(format!(
                    "curve {name} is not supported by rustls; supported: CurveP256, CurveP384, X25519"
                )));
            };
            groups.push(*group);
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

/// `min_version..=max_version`; rustls implements TLS 1.2 and 1.3 only.
fn versions(t: &TlsServerConfig) -> Result<Vec<&'static SupportedProtocolVersion>> {
    for (field, v) in [
        ("min_version", t.min_version),
        ("max_version", t.max_version),
    ] {
        if v < TlsVersion::Tls12 {
            return Err(Error::TlsPolicy(format!(
                "{field} {} is not supported: rustls implements only TLS12 and TLS13",
                v.as_str()
            )));
        }
    }
    let mut out = Vec::new();
    if t.min_version <= TlsVersion::Tls12 && t.max_version >= TlsVersion::Tls12 {
        out.push(&rustls::version::TLS12);
    }
    if t.max_version >= TlsVersion::Tls13 {
        out.push(&rustls::version::TLS13);
    }
    Ok(out)
}

/// The PEM text of an inline value or a file, with the name an error shows.
fn pem_source(field: &'static str, path: &str, inline: &str) -> Result<(Vec<u8>, String)> {
    if path.is_empty() {
        return Ok((
            inline.as_bytes().to_vec(),
            format!("inline {}", inline_name(field)),
        ));
    }
    let bytes = fs::read(path).map_err(|source| Error::ReadFile {
        field,
        path: path.into(),
        source,
    })?;
    Ok((bytes, path.to_owned()))
}

/// `cert_file` → `cert`: the inline key of the same setting.
fn inline_name(field: &'static str) -> &'static str {
    field.strip_suffix("_file").unwrap_or(field)
}

/// Every certificate in PEM text; none is an error.
fn parse_certs(
    field: &'static str,
    pem: &[u8],
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            field,
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            field,
            origin: origin.to_owned(),
            reason: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

fn load_key(pems: &Pems) -> Result<PrivateKeyDer<'static>> {
    let (pem, origin) = &pems.key;
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| Error::Pem {
        field: "key_file",
        origin: origin.clone(),
        reason: format!("no usable private key: {e}"),
    })
}

/// The client CAs, if configured.
fn load_roots(pems: &Pems) -> Result<Option<RootCertStore>> {
    let Some((pem, origin)) = &pems.ca else {
        return Ok(None);
    };
    let mut roots = RootCertStore::empty();
    for cert in parse_certs("client_ca_file", pem, origin)? {
        roots.add(cert).map_err(|source| Error::Rustls {
            context: "client_ca_file",
            source,
        })?;
    }
    Ok(Some(roots))
}

/// The verifier for `client_auth_type`, with the `client_allowed_sans`
/// check on top when configured.
fn client_verifier(
    t: &TlsServerConfig,
    roots: Option<RootCertStore>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>> {
    let kind = t.client_auth_type.as_str();
    let verifying = |allow_missing: bool| -> Result<Arc<dyn ClientCertVerifier>> {
        let Some(roots) = roots.clone() else {
            return Err(Error::TlsPolicy(format!(
                "client_ca_file is required for client_auth_type {kind}"
            )));
        };
        let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        if allow_missing {
            b = b.allow_unauthenticated();
        }
        b.build()
            .map_err(|e| Error::TlsPolicy(format!("client certificate verifier: {e}")))
    };
    let verifier: Arc<dyn ClientCertVerifier> = match kind {
        "" | "NoClientCert" => {
            if roots.is_some() {
                return Err(Error::TlsPolicy(
                    "client CA's have been configured without a Client Auth Policy".into(),
                ));
            }
            WebPkiClientVerifier::no_client_auth()
        }
        "RequestClientCert" => Arc::new(AnyClientCert::new(provider.clone(), false)),
        "RequireAnyClientCert" | "RequireClientCert" => {
            Arc::new(AnyClientCert::new(provider.clone(), true))
        }
        "VerifyClientCertIfGiven" => verifying(true)?,
        "RequireAndVerifyClientCert" => verifying(false)?,
        other => return Err(Error::TlsPolicy(format!("invalid ClientAuth: {other}"))),
    };
    if t.client_allowed_sans.is_empty() {
        return Ok(verifier);
    }
    if !matches!(
        kind,
        "RequireAnyClientCert" | "RequireClientCert" | "RequireAndVerifyClientCert"
    ) {
        return Err(Error::TlsPolicy(
            "client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert or RequireAndVerifyClientCert".into(),
        ));
    }
    Ok(Arc::new(SanCheck::new(
        verifier,
        t.client_allowed_sans.clone(),
    )))
}

/// The server config of the files as they are now, rebuilt on change.
pub(crate) struct Reloader {
    settings: TlsServerConfig,
    alpn: Vec<Vec<u8>>,
    current: Mutex<Current>,
}

struct Current {
    pems: Pems,
    config: Arc<ServerConfig>,
    /// The last reload error, logged once rather than per connection.
    error: Option<String>,
}

impl Reloader {
    /// Reads the files and builds the first config.
    pub(crate) fn new(settings: TlsServerConfig, alpn: Vec<Vec<u8>>) -> Result<Reloader> {
        let pems = Pems::read(&settings)?;
        let mut cfg = build_from(&settings, &pems)?;
        cfg.alpn_protocols = alpn.clone();
        Ok(Reloader {
            settings,
            alpn,
            current: Mutex::new(Current {
                pems,
                config: Arc::new(cfg),
                error: None,
            }),
        })
    }

    /// The config to handshake with. When a file changed it is rebuilt;
    /// if that fails the previous config stays in use and the error is
    /// logged (once until it changes).
    pub(crate) fn current(&self) -> Arc<ServerConfig> {
        let mut cur = self.current.lock();
        let rebuilt = Pems::read(&self.settings).and_then(|pems| {
            if pems == cur.pems {
                return Ok(None);
            }
            let mut cfg = build_from(&self.settings, &pems)?;
            cfg.alpn_protocols = self.alpn.clone();
            Ok(Some((pems, cfg)))
        });
        match rebuilt {
            Ok(None) => {}
            Ok(Some((pems, cfg))) => {
                *cur = Current {
                    pems,
                    config: Arc::new(cfg),
                    error: None,
                };
                tracing::info!("reloaded TLS certificates");
            }
            Err(e) => {
                let msg = e.to_string();
                if cur.error.as_ref() != Some(&msg) {
                    tracing::error!("keeping previous TLS certificates: {msg}");
                    cur.error = Some(msg);
                }
            }
        }
        cur.config.clone()
    }
}
