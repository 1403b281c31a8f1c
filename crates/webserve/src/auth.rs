//! `basic_auth_users`: bcrypt password checks as the exporter-toolkit does
//! them, with a cache of successful checks so a scraper presenting the same
//! credentials every 15 s pays for bcrypt once. bcrypt runs on the blocking
//! pool, one check at a time (it is deliberately CPU-heavy), and an unknown
//! user is checked against a dummy hash so timing does not reveal which
//! user names exist.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use beacon_config::Secret;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Successful checks remembered; beyond it an arbitrary one is forgotten.
const CACHE_ENTRIES_MAX: usize = 100;
/// A bcrypt hash (cost 10, like typical user hashes) of a random password
/// nobody knows, verified when the user name is unknown.
const DUMMY_HASH: &str = "$2y$10$CLM0p6WwBzCOVTy6i4x7LOKl6oPgD62w1f/B/7POctKlTI7x3v.G.";

/// Checks `Authorization: Basic` headers against bcrypt hashes.
pub(crate) struct Authenticator {
    users: HashMap<String, String>,
    /// SHA-256 of (user, hash, password) for each check that succeeded:
    /// a digest, so the cache never holds a password.
    cache: Mutex<HashSet<[u8; 32]>>,
    /// Serialises bcrypt so a burst of bad passwords costs one core.
    bcrypt_lock: tokio::sync::Mutex<()>,
    bcrypt_runs: AtomicU64,
}

impl Authenticator {
    /// Fails on a hash bcrypt cannot parse, naming the user.
    pub(crate) fn new(users: &BTreeMap<String, Secret>) -> Result<Authenticator> {
        for (user, hash) in users {
            hash.expose()
                .parse::<bcrypt::HashParts>()
                .map_err(|e| Error::PasswordHash {
                    user: user.clone(),
                    reason: e.to_string(),
                })?;
        }
        Ok(Authenticator {
            users: users
                .iter()
                .map(|(u, h)| (u.clone(), h.expose().to_owned()))
                .collect(),
            cache: Mutex::new(HashSet::new()),
            bcrypt_lock: tokio::sync::Mutex::new(()),
            bcrypt_runs: AtomicU64::new(0),
        })
    }

    /// Whether any user is configured (otherwise every request passes).
    pub(crate) fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// How many times bcrypt ran, for tests of the cache.
    #[cfg(test)]
    pub(crate) fn bcrypt_runs(&self) -> u64 {
        self.bcrypt_runs.load(Ordering::Relaxed)
    }

    /// Whether the `Authorization` header value names a user and password
    /// that match.
    pub(crate) async fn check(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.as_str(), true),
            None => (DUMMY_HASH, false),
        };
        let key = cache_key(&user, hash, &password);
        if self.cache.lock().contains(&key) {
            return true;
        }
        let ok = self.bcrypt(password, hash.to_owned()).await && known;
        if ok {
            let mut cache = self.cache.lock();
            if cache.len() >= CACHE_ENTRIES_MAX
                && let Some(old) = cache.iter().next().copied()
            {
                cache.remove(&old);
            }
            cache.insert(key);
        }
        ok
    }

    async fn bcrypt(&self, password: Vec<u8>, hash: String) -> bool {
        let _one_at_a_time = self.bcrypt_lock.lock().await;
        self.bcrypt_runs.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }
}

/// Length-prefixed fields, so ("ab", "c") and ("a", "bc") differ.
fn cache_key(user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [user.as_bytes(), hash.as_bytes(), password] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Go's `Request.BasicAuth`: `Basic ` (any case), standard base64 with
/// padding, then `user:password` split at the first colon.
pub(crate) fn parse_basic(value: &[u8]) -> Option<(String, Vec<u8>)> {
    const PREFIX: &[u8] = b"Basic ";
    if value.len() < PREFIX.len() || !value[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let decoded = base64_decode(&value[PREFIX.len()..])?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

/// Standard-alphabet base64 with mandatory padding, as Go's StdEncoding.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let quads = s.len() / 4;
    for (i, q) in s.chunks_exact(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | sextet(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, expected: Option<(&str, &str)>) {
        let got = parse_basic(header.as_bytes());
        let got = got
            .as_ref()
            .map(|(u, p)| (u.as_str(), std::str::from_utf8(p).unwrap()));
        assert_eq!(got, expected, "{header}");
    }

    #[test]
    fn basic_header_parsing() {
        check("Basic YWxpY2U6c2VjcmV0", Some(("alice", "secret")));
        check("basic YWxpY2U6c2VjcmV0", Some(("alice", "secret")));
        check("Basic YTpiOmM=", Some(("a", "b:c")));
        check("Basic OnA=", Some(("", "p")));
        check("Basic YTo=", Some(("a", "")));
        check("Basic YWxpY2U=", None); // no colon
        check("Basic YWxpY2U6c2VjcmV0=", None); // bad length
        check("Basic YT=6", None); // padding inside
        check("Basic ", None);
        check("Bearer YWxpY2U6c2VjcmV0", None);
        check("Basic", None);
        check("Basic ****", None);
    }

    fn users(pairs: &[(&str, &str)]) -> BTreeMap<String, Secret> {
        pairs
            .iter()
            .map(|(u, h)| (u.to_string(), Secret::new(*h)))
            .collect()
    }

    fn header(user: &str, pass: &str) -> Vec<u8> {
        let raw = format!("{user}:{pass}");
        format!("Basic {}", encode(raw.as_bytes())).into_bytes()
    }

    /// Test-only encoder, the inverse of `base64_decode`.
    fn encode(b: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in b.chunks(3) {
            let n = c.iter().fold(0u32, |n, &x| (n << 8) | u32::from(x)) << (8 * (3 - c.len()));
            for i in 0..=c.len() {
                s.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            }
            s.push_str(&"=".repeat(3 - c.len()));
        }
        s
    }

    #[test]
    fn base64_round_trips() {
        for n in 0..20u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(encode(&data).as_bytes()), Some(data));
        }
    }

    #[test]
    fn invalid_hash_names_the_user() {
        let err = Authenticator::new(&users(&[("bob", "plaintext")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("\"bob\""), "{err}");
    }

    #[tokio::test]
    async fn cache_avoids_bcrypt_for_repeated_success() {
        // Cost 4 keeps the test fast; the cache does not depend on cost.
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let a = Authenticator::new(&users(&[("alice", &hash)])).unwrap();
        let good = header("alice", "s3cret");
        assert!(a.check(Some(&good)).await);
        assert_eq!(a.bcrypt_runs(), 1);
        assert!(a.check(Some(&good)).await);
        assert!(a.check(Some(&good)).await);
        assert_eq!(a.bcrypt_runs(), 1, "cache hit must skip bcrypt");
        // Failures are not cached: each one costs bcrypt.
        assert!(!a.check(Some(&header("alice", "wrong"))).await);
        assert!(!a.check(Some(&header("alice", "wrong"))).await);
        assert_eq!(a.bcrypt_runs(), 3);
        // Unknown users run bcrypt too, against the dummy hash.
        assert!(!a.check(Some(&header("mallory", "s3cret"))).await);
        assert_eq!(a.bcrypt_runs(), 4);
        // No header, or a malformed one, is rejected without bcrypt.
        assert!(!a.check(None).await);
        assert!(!a.check(Some(b"Basic !!")).await);
        assert_eq!(a.bcrypt_runs(), 4);
    }

    #[test]
    fn dummy_hash_is_a_cost_10_bcrypt_hash() {
        let parts: bcrypt::HashParts = DUMMY_HASH.parse().unwrap();
        assert_eq!(parts.get_cost(), 10);
    }
}
