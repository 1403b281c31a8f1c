//! Client-certificate verifiers rustls lacks: one that accepts any
//! certificate (Go's `RequestClientCert` / `RequireAnyClientCert`, which
//! still prove key possession) and one that adds the exporter-toolkit's
//! `client_allowed_sans` check, with the small DER walk that reads a
//! certificate's subject alternative names. Certificates come from
//! untrusted peers, so the walk bounds-checks every length and never panics.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// DER tags used by the walk.
const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
const TAG_BOOLEAN: u8 = 0x01;
const TAG_OCTET_STRING: u8 = 0x04;
/// `[3] EXPLICIT Extensions` inside `TBSCertificate`.
const TAG_EXTENSIONS: u8 = 0xa3;
/// GeneralName choices (context-specific, primitive).
const TAG_RFC822: u8 = 0x81;
const TAG_DNS: u8 = 0x82;
const TAG_URI: u8 = 0x86;
const TAG_IP: u8 = 0x87;
/// `id-ce-subjectAltName`, 2.5.29.17, as OID content bytes.
const OID_SAN: [u8; 3] = [0x55, 0x1d, 0x11];
/// Longest DER length field accepted (4 bytes: 4 GiB, far past any cert).
const LENGTH_BYTES_MAX: usize = 4;

/// A reader over consecutive DER elements.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element's tag and content, or `None` at the end or on a
    /// malformed length.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > LENGTH_BYTES_MAX || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Some((tag, content))
    }

    /// The content of the next element if it has `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        self.next().filter(|(t, _)| *t == tag).map(|(_, c)| c)
    }
}

/// The subject alternative names of a DER certificate as Go prints them
/// (DNS names, e-mail addresses, IP addresses, URIs); empty when there are
/// none or the certificate cannot be read.
pub(crate) fn subject_alt_names(cert: &[u8]) -> Vec<String> {
    san_extension(cert).map(general_names).unwrap_or_default()
}

/// The `extnValue` of the subjectAltName extension.
fn san_extension(cert: &[u8]) -> Option<&[u8]> {
    let cert = Der(cert).expect(TAG_SEQUENCE)?;
    let mut tbs = Der(Der(cert).expect(TAG_SEQUENCE)?);
    let exts = loop {
        let (tag, content) = tbs.next()?;
        if tag == TAG_EXTENSIONS {
            break content;
        }
    };
    let mut exts = Der(Der(exts).expect(TAG_SEQUENCE)?);
    while let Some(ext) = exts.expect(TAG_SEQUENCE) {
        let mut ext = Der(ext);
        if ext.expect(TAG_OID)? != OID_SAN {
            continue;
        }
        let (mut tag, mut content) = ext.next()?;
        if tag == TAG_BOOLEAN {
            (tag, content) = ext.next()?;
        }
        return (tag == TAG_OCTET_STRING).then_some(content);
    }
    None
}

fn general_names(value: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(seq) = Der(value).expect(TAG_SEQUENCE) else {
        return out;
    };
    let mut names = Der(seq);
    while let Some((tag, content)) = names.next() {
        match tag {
            TAG_RFC822 | TAG_DNS | TAG_URI => {
                out.push(String::from_utf8_lossy(content).into_owned());
            }
            TAG_IP => {
                if let Some(ip) = ip_address(content) {
                    out.push(ip.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// Go prints an IPv4-mapped IPv6 address in dotted form; so do we.
fn ip_address(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?);
    Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
}

/// Accepts any client certificate without checking its chain, but still
/// verifies the handshake signature, so the client holds the key.
pub(crate) struct AnyClientCert {
    provider: Arc<CryptoProvider>,
    mandatory: bool,
}

impl AnyClientCert {
    pub(crate) fn new(provider: Arc<CryptoProvider>, mandatory: bool) -> Self {
        AnyClientCert {
            provider,
            mandatory,
        }
    }
}

impl fmt::Debug for AnyClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyClientCert {{ mandatory: {} }}", self.mandatory)
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Wraps a verifier and then requires one of the certificate's SANs to be
/// in `client_allowed_sans` (exact string match, as the toolkit does).
pub(crate) struct SanCheck {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl SanCheck {
    pub(crate) fn new(inner: Arc<dyn ClientCertVerifier>, allowed: Vec<String>) -> Self {
        SanCheck { inner, allowed }
    }
}

impl fmt::Debug for SanCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SanCheck {{ allowed: {:?} }}", self.allowed)
    }
}

impl ClientCertVerifier for SanCheck {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let names = subject_alt_names(end_entity);
        if names.iter().any(|n| self.allowed.contains(n)) {
            return Ok(verified);
        }
        tracing::debug!(
            "could not find allowed SANs in client cert, found: {names:?}, allowed: {:?}",
            self.allowed
        );
        Err(rustls::Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, SanType};

    fn cert_with(sans: Vec<SanType>) -> Vec<u8> {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names = sans;
        p.self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .to_vec()
    }

    #[test]
    fn reads_every_san_kind_as_go_prints_it() {
        let der = cert_with(vec![
            SanType::DnsName("client.example".try_into().unwrap()),
            SanType::Rfc822Name("ops@example.org".try_into().unwrap()),
            SanType::IpAddress("10.1.2.3".parse().unwrap()),
            SanType::IpAddress("2001:db8::1".parse().unwrap()),
            SanType::IpAddress("::ffff:192.0.2.1".parse().unwrap()),
            SanType::URI("spiffe://example.org/scraper".try_into().unwrap()),
        ]);
        assert_eq!(
            subject_alt_names(&der),
            [
                "client.example",
                "ops@example.org",
                "10.1.2.3",
                "2001:db8::1",
                "192.0.2.1",
                "spiffe://example.org/scraper"
            ]
        );
    }

    #[test]
    fn no_sans_and_garbage_give_nothing() {
        assert!(subject_alt_names(&cert_with(Vec::new())).is_empty());
        assert!(subject_alt_names(b"").is_empty());
        assert!(subject_alt_names(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_empty());
        assert!(subject_alt_names(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_empty());
    }

    #[test]
    fn truncated_or_corrupted_certificates_never_panic() {
        let der = cert_with(vec![SanType::DnsName("a.example".try_into().unwrap())]);
        for len in 0..der.len() {
            let _ = subject_alt_names(&der[..len]);
        }
        for i in 0..der.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = der.clone();
                bad[i] ^= flip;
                let _ = subject_alt_names(&bad);
            }
        }
    }
}
