//! AWS credentials for EC2 discovery, found the way the Go SDK finds them:
//! keys from the configuration, else the named profile in the shared
//! credentials file, else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! (+ `AWS_SESSION_TOKEN`), else the default profile, else the instance
//! profile through IMDSv2. With `role_arn` the found credentials assume
//! that role through STS.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::{Error, Result};

/// The instance metadata service, unless `AWS_EC2_METADATA_SERVICE_ENDPOINT`
/// says otherwise.
pub const IMDS_DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// IMDS answers locally; anything slower means there is no IMDS.
pub const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
/// Lifetime asked for an IMDSv2 session token.
pub const IMDS_TOKEN_TTL_SECS: u32 = 21_600;
/// Bodies from IMDS and STS larger than this are refused.
pub const SMALL_BODY_MAX_BYTES: usize = 1 << 20;

/// A set of AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// When temporary credentials stop working.
    pub expires: Option<SystemTime>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets into logs.
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AwsCredentials {
    /// True when the credentials expire within a minute.
    pub fn expiring(&self) -> bool {
        self.expires
            .is_some_and(|e| e <= SystemTime::now() + Duration::from_secs(60))
    }
}

/// Reads an environment variable; injectable so tests need not mutate the
/// process environment.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn process_env() -> EnvLookup {
    Arc::new(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// Where credentials may come from.
#[derive(Clone)]
pub struct CredentialChain {
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub profile: Option<String>,
    pub env: EnvLookup,
}

impl std::fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialChain")
            .field("access_key", &self.access_key)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

fn no_creds(reason: impl Into<String>) -> Error {
    Error::NoCredentials {
        reason: reason.into(),
    }
}

impl CredentialChain {
    /// The IMDS base URL.
    pub fn imds_endpoint(&self) -> String {
        (self.env)("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or_else(|| IMDS_DEFAULT_ENDPOINT.to_owned())
            .trim_end_matches('/')
            .to_owned()
    }

    /// Finds credentials, trying each source in order.
    pub async fn resolve(&self, http: &reqwest::Client) -> Result<AwsCredentials> {
        if let (Some(a), Some(s)) = (&self.access_key, &self.secret_key) {
            return Ok(AwsCredentials {
                access_key_id: a.clone(),
                secret_access_key: s.clone(),
                session_token: None,
                expires: None,
            });
        }
        if let Some(p) = &self.profile {
            return self.profile_credentials(p);
        }
        if let (Some(a), Some(s)) = (
            (self.env)("AWS_ACCESS_KEY_ID"),
            (self.env)("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Ok(AwsCredentials {
                access_key_id: a,
                secret_access_key: s,
                session_token: (self.env)("AWS_SESSION_TOKEN"),
                expires: None,
            });
        }
        let profile = (self.env)("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
        if let Ok(c) = self.profile_credentials(&profile) {
            return Ok(c);
        }
        if (self.env)("AWS_EC2_METADATA_DISABLED").as_deref() == Some("true") {
            return Err(no_creds("no keys, no profile, and IMDS is disabled"));
        }
        self.imds_credentials(http).await
    }

    fn credentials_file(&self) -> Option<String> {
        (self.env)("AWS_SHARED_CREDENTIALS_FILE")
            .or_else(|| (self.env)("HOME").map(|h| format!("{h}/.aws/credentials")))
    }

    fn profile_credentials(&self, profile: &str) -> Result<AwsCredentials> {
        let path = self
            .credentials_file()
            .ok_or_else(|| no_creds("no shared credentials file (HOME unset)"))?;
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone().into(),
            source,
        })?;
        let get = |key: &str| ini_value(&text, profile, key);
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(a), Some(s)) => Ok(AwsCredentials {
                access_key_id: a,
                secret_access_key: s,
                session_token: get("aws_session_token"),
                expires: None,
            }),
            _ => Err(no_creds(format!(
                "profile {profile:?} has no keys in {path}"
            ))),
        }
    }

    /// Instance-profile credentials through IMDSv2 (session token first).
    async fn imds_credentials(&self, http: &reqwest::Client) -> Result<AwsCredentials> {
        let base = self.imds_endpoint();
        let token = imds_token(http, &base).await?;
        let roles = imds_get(
            http,
            &base,
            &token,
            "/latest/meta-data/iam/security-credentials/",
        )
        .await?;
        let role = roles
            .lines()
            .next()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| no_creds("IMDS lists no instance profile role"))?;
        let path = format!("/latest/meta-data/iam/security-credentials/{role}");
        let body = imds_get(http, &base, &token, &path).await?;
        parse_imds_credentials(&body)
    }
}

/// Asks IMDS for a session token (the IMDSv2 handshake).
pub async fn imds_token(http: &reqwest::Client, base: &str) -> Result<String> {
    let url = format!("{base}/latest/api/token");
    let resp = http
        .put(&url)
        .header(
            "X-aws-ec2-metadata-token-ttl-seconds",
            IMDS_TOKEN_TTL_SECS.to_string(),
        )
        .timeout(IMDS_TIMEOUT)
        .send()
        .await
        .map_err(|e| no_creds(format!("IMDS token from {url}: {e}")))?;
    read_ok_body(resp, &url).await
}

/// GETs an IMDS path with a session token.
pub async fn imds_get(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
) -> Result<String> {
    let url = format!("{base}{path}");
    let resp = http
        .get(&url)
        .header("X-aws-ec2-metadata-token", token)
        .timeout(IMDS_TIMEOUT)
        .send()
        .await
        .map_err(|e| no_creds(format!("IMDS {url}: {e}")))?;
    read_ok_body(resp, &url).await
}

/// Reads a small successful body as text.
pub(crate) async fn read_ok_body(mut resp: reqwest::Response, url: &str) -> Result<String> {
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Error::Http {
        url: url.to_owned(),
        reason: e.to_string(),
    })? {
        if body.len() + chunk.len() > SMALL_BODY_MAX_BYTES {
            return Err(Error::BodyTooLarge {
                url: url.to_owned(),
                limit_bytes: SMALL_BODY_MAX_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        return Err(Error::Http {
            url: url.to_owned(),
            reason: format!(
                "HTTP {}: {}",
                status.as_u16(),
                text.chars().take(300).collect::<String>()
            ),
        });
    }
    Ok(text)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImdsCredentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration: Option<String>,
}

fn parse_imds_credentials(body: &str) -> Result<AwsCredentials> {
    let c: ImdsCredentials = serde_json::from_str(body)
        .map_err(|e| no_creds(format!("IMDS credentials document: {e}")))?;
    Ok(AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.token,
        expires: c.expiration.as_deref().and_then(parse_rfc3339),
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (the form AWS uses), ignoring fractions.
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(secs)
        .ok()
        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

/// Looks up `key` in `[section]` of an INI-style AWS credentials file.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_section = name == section || name.strip_prefix("profile ") == Some(section);
            continue;
        }
        if in_section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_lookup() {
        let text = "[default]\naws_access_key_id = A\n\n[profile prod]\naws_access_key_id=B\n# c\naws_secret_access_key = S\n";
        assert_eq!(
            ini_value(text, "default", "aws_access_key_id").as_deref(),
            Some("A")
        );
        assert_eq!(
            ini_value(text, "prod", "aws_access_key_id").as_deref(),
            Some("B")
        );
        assert_eq!(
            ini_value(text, "prod", "aws_secret_access_key").as_deref(),
            Some("S")
        );
        assert_eq!(ini_value(text, "default", "aws_secret_access_key"), None);
    }

    #[test]
    fn rfc3339() {
        let t = parse_rfc3339("2024-02-29T12:00:00Z").unwrap();
        let s = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(s, 1_709_208_000);
        assert!(parse_rfc3339("2024-02").is_none());
        assert!(parse_rfc3339("xxxx-02-29T12:00:00Z").is_none());
    }

    #[test]
    fn imds_document() {
        let c = parse_imds_credentials(
            r#"{"Code":"Success","AccessKeyId":"AK","SecretAccessKey":"SK","Token":"T","Expiration":"2030-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id, "AK");
        assert_eq!(c.session_token.as_deref(), Some("T"));
        assert!(!c.expiring());
        assert!(parse_imds_credentials("{}").is_err());
    }
}
