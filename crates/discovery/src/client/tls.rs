//! The rustls client configuration behind every outgoing HTTPS request:
//! trusted roots (webpki's plus a configured CA bundle), a client
//! certificate, TLS version bounds, ALPN, and a certificate verifier that
//! checks the chain against `tls_config.server_name` when one is set
//! (Prometheus's `ServerName`), or skips verification entirely with
//! `insecure_skip_verify`.
//!
//! We build the config ourselves and hand it to reqwest because reqwest
//! always verifies against the URL's host and has no name override.

use std::sync::Arc;

use beacon_config::TlsVersion;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::TlsSettings;
use crate::{Error, Result};

fn tls_err(reason: impl Into<String>) -> Error {
    Error::Config {
        provider: "tls_config".into(),
        reason: reason.into(),
    }
}

/// Builds the client config. `enable_http2` decides whether `h2` is
/// offered through ALPN before `http/1.1`.
pub fn client_config(s: &TlsSettings, enable_http2: bool) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = protocol_versions(s.min_version, s.max_version)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| tls_err(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = if s.insecure_skip_verify {
        Arc::new(SkipVerify {
            algorithms: provider.signature_verification_algorithms,
        })
    } else {
        let roots = Arc::new(root_store(s.ca_pem.as_deref())?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| tls_err(e.to_string()))?;
        match &s.server_name {
            Some(name) => Arc::new(NameOverride {
                inner: webpki,
                name: ServerName::try_from(name.clone())
                    .map_err(|e| tls_err(format!("server_name {name:?}: {e}")))?,
            }),
            None => webpki,
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&s.cert_pem, &s.key_pem) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| tls_err(format!("client certificate: {e}")))?;
            if chain.is_empty() {
                return Err(tls_err(
                    "client certificate: no certificate in the PEM data",
                ));
            }
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| tls_err(format!("client key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls_err(format!("client certificate and key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(tls_err("cert and key must be given together")),
    };
    config.alpn_protocols = if enable_http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// rustls offers TLS 1.2 and 1.3 only. A minimum of 1.0 or 1.1 is met by
/// offering 1.2 and up; a maximum below 1.2 cannot be met and is an error.
fn protocol_versions(
    min: Option<TlsVersion>,
    max: Option<TlsVersion>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>> {
    let min = min.unwrap_or(TlsVersion::Tls12);
    let max = max.unwrap_or(TlsVersion::Tls13);
    if max < TlsVersion::Tls12 {
        return Err(tls_err(format!(
            "max_version {} is not offered; TLS 1.2 is the lowest version supported",
            max.as_str()
        )));
    }
    let mut v = Vec::new();
    if min <= TlsVersion::Tls12 {
        v.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::Tls13 {
        v.push(&rustls::version::TLS13);
    }
    Ok(v)
}

/// webpki's roots plus every certificate of the configured CA bundle.
fn root_store(ca_pem: Option<&str>) -> Result<RootCertStore> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| tls_err(format!("ca: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| tls_err(format!("ca certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(tls_err("ca: no certificate in the PEM data"));
        }
    }
    Ok(roots)
}

/// Verifies the chain as webpki does, but for the configured name rather
/// than the one the connection was made to.
#[derive(Debug)]
struct NameOverride {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NameOverride {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _url_host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any chain and name are accepted, as Go's
/// `InsecureSkipVerify` does, but handshake signatures are still checked
/// so the peer must hold the key of the certificate it sent.
#[derive(Debug)]
struct SkipVerify {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_bounds() {
        use TlsVersion::*;
        let names = |v: Vec<&'static rustls::SupportedProtocolVersion>| {
            v.iter()
                .map(|p| format!("{:?}", p.version))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(protocol_versions(None, None).unwrap()),
            ["TLSv1_2", "TLSv1_3"]
        );
        assert_eq!(
            names(protocol_versions(Some(Tls13), None).unwrap()),
            ["TLSv1_3"]
        );
        assert_eq!(
            names(protocol_versions(Some(Tls10), Some(Tls12)).unwrap()),
            ["TLSv1_2"]
        );
        let e = protocol_versions(None, Some(Tls11))
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_version TLS11"), "{e}");
    }

    #[test]
    fn bad_pem_is_a_config_error() {
        let s = TlsSettings {
            ca_pem: Some("not a certificate".into()),
            ..TlsSettings::default()
        };
        let e = client_config(&s, true).unwrap_err().to_string();
        assert!(e.contains("ca: no certificate"), "{e}");
    }
}
