//! The AWS credential chain with an injected environment: keys from the
//! environment, from a shared credentials file profile, and instance
//! profile credentials from an IMDSv2 stand-in on 127.0.0.1 (never the
//! real metadata address).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use beacon_discovery::ec2::credentials::{CredentialChain, EnvLookup};

fn env(vars: &[(&str, &str)]) -> EnvLookup {
    let map: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(move |k| map.get(k).cloned())
}

fn chain(env: EnvLookup, profile: Option<&str>) -> CredentialChain {
    CredentialChain {
        access_key: None,
        secret_key: None,
        profile: profile.map(str::to_owned),
        env,
    }
}

fn token_ok(h: &HeaderMap) -> bool {
    h.get("x-aws-ec2-metadata-token")
        .and_then(|v| v.to_str().ok())
        == Some("tok")
}

#[tokio::test]
async fn env_profile_and_imds_credentials() {
    let http = reqwest::Client::new();
    let c = chain(
        env(&[
            ("AWS_ACCESS_KEY_ID", "EK"),
            ("AWS_SECRET_ACCESS_KEY", "ES"),
            ("AWS_SESSION_TOKEN", "ET"),
        ]),
        None,
    )
    .resolve(&http)
    .await
    .unwrap();
    assert_eq!(
        (c.access_key_id.as_str(), c.session_token.as_deref()),
        ("EK", Some("ET"))
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(&file, "[default]\naws_access_key_id=DK\naws_secret_access_key=DS\n[ops]\naws_access_key_id = OK\naws_secret_access_key = OS\n").unwrap();
    let path = file.display().to_string();
    let c = chain(env(&[("AWS_SHARED_CREDENTIALS_FILE", &path)]), Some("ops"))
        .resolve(&http)
        .await
        .unwrap();
    assert_eq!(c.access_key_id, "OK");
    let c = chain(env(&[("AWS_SHARED_CREDENTIALS_FILE", &path)]), None)
        .resolve(&http)
        .await
        .unwrap();
    assert_eq!(c.access_key_id, "DK");

    let app = Router::new()
        .route(
            "/latest/api/token",
            put(|h: HeaderMap| async move {
                let ttl_given = h.contains_key("x-aws-ec2-metadata-token-ttl-seconds");
                if ttl_given { (StatusCode::OK, "tok") } else { (StatusCode::BAD_REQUEST, "") }
            }),
        )
        .route(
            "/latest/meta-data/iam/security-credentials/",
            get(|h: HeaderMap| async move { if token_ok(&h) { (StatusCode::OK, "node-role\n") } else { (StatusCode::UNAUTHORIZED, "") } }),
        )
        .route(
            "/latest/meta-data/iam/security-credentials/node-role",
            get(|h: HeaderMap| async move {
                if !token_ok(&h) {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                (StatusCode::OK, r#"{"Code":"Success","AccessKeyId":"IK","SecretAccessKey":"IS","Token":"IT","Expiration":"2099-01-01T00:00:00Z"}"#.to_owned())
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let c = chain(
        env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)]),
        None,
    )
    .resolve(&http)
    .await
    .unwrap();
    assert_eq!(
        (c.access_key_id.as_str(), c.session_token.as_deref()),
        ("IK", Some("IT"))
    );
    assert!(!c.expiring());

    let none = chain(env(&[("AWS_EC2_METADATA_DISABLED", "true")]), None)
        .resolve(&http)
        .await;
    assert!(none.unwrap_err().to_string().contains("no AWS credentials"));
}
