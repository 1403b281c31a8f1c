//! Providers against local servers on 127.0.0.1: HTTP SD (axum), DNS SD
//! (a small UDP responder built on hickory's message types), and the
//! manager running file SD with reloads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use beacon_discovery::dns::{DnsProvider, DnsRecordType, DnsSdConfig};
use beacon_discovery::file::FileSdConfig;
use beacon_discovery::http::{HttpProvider, HttpSdConfig};
use beacon_discovery::manager::JobGroups;
use beacon_discovery::{DiscoveryManager, Error, SdConfig, TargetGroup};
use beacon_model::Labels;
use hickory_resolver::proto::op::{Message, MessageType};
use hickory_resolver::proto::rr::rdata::{A, MX, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::sync::watch;

/// Generous: the machine running tests may be slow.
const READY_WAIT: Duration = Duration::from_secs(30);

async fn serve(app: Router) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

fn http_config(url: String) -> HttpSdConfig {
    HttpSdConfig {
        url,
        refresh_interval: Duration::from_secs(60),
        client: Default::default(),
    }
}

#[tokio::test]
async fn http_sd_reads_groups_and_rejects_bad_answers() {
    let app = Router::new()
        .route(
            "/sd",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"[{"targets":["10.0.0.1:9080","10.0.0.2:9080"],"labels":{"env":"prod"}}]"#,
                )
            }),
        )
        .route(
            "/html",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<p>") }),
        )
        .route(
            "/broken",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], "[{") }),
        );
    let addr = serve(app).await;
    let url = format!("http://{addr}/sd");
    let p = HttpProvider::new(http_config(url.clone())).unwrap();
    let g = p.refresh().await.unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].source, format!("{url}:0"));
    assert_eq!(g[0].labels.get("__meta_url"), Some(url.as_str()));
    assert_eq!(g[0].labels.get("env"), Some("prod"));
    assert_eq!(g[0].targets[1].get("__address__"), Some("10.0.0.2:9080"));
    let html = HttpProvider::new(http_config(format!("http://{addr}/html"))).unwrap();
    assert!(
        html.refresh()
            .await
            .unwrap_err()
            .to_string()
            .contains("content type")
    );
    let broken = HttpProvider::new(http_config(format!("http://{addr}/broken"))).unwrap();
    assert!(matches!(
        broken.refresh().await,
        Err(Error::InvalidGroups { .. })
    ));
    let missing = HttpProvider::new(http_config(format!("http://{addr}/nope"))).unwrap();
    assert!(matches!(
        missing.refresh().await,
        Err(Error::HttpStatus { status: 404, .. })
    ));
}

/// Answers every query from a fixed table.
async fn dns_server() -> SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp = Message::new();
            resp.set_id(q.id());
            resp.set_message_type(MessageType::Response);
            resp.set_recursion_desired(q.recursion_desired());
            resp.set_recursion_available(true);
            for query in q.queries() {
                resp.add_query(query.clone());
                let name = query.name().clone();
                let rdatas: Vec<RData> = match query.query_type() {
                    RecordType::SRV => vec![
                        RData::SRV(SRV::new(
                            0,
                            0,
                            9080,
                            Name::from_ascii("node1.example.").unwrap(),
                        )),
                        RData::SRV(SRV::new(
                            0,
                            0,
                            9081,
                            Name::from_ascii("node2.example.").unwrap(),
                        )),
                    ],
                    RecordType::A => vec![RData::A(A::new(10, 1, 2, 3))],
                    RecordType::MX => vec![RData::MX(MX::new(
                        10,
                        Name::from_ascii("mail.example.").unwrap(),
                    ))],
                    _ => vec![],
                };
                for r in rdatas {
                    resp.add_answer(Record::from_rdata(name.clone(), 60, r));
                }
            }
            let _ = sock.send_to(&resp.to_vec().unwrap(), peer).await;
        }
    });
    addr
}

#[tokio::test]
async fn dns_sd_record_types() {
    let ns = dns_server().await;
    let check = |rt: DnsRecordType, want: Vec<(&'static str, &'static str, &'static str)>| async move {
        let p = DnsProvider::new(DnsSdConfig {
            names: vec!["_node._tcp.example.".into()],
            record_type: rt,
            port: 9100,
            refresh_interval: Duration::from_secs(30),
            nameservers: vec![ns],
        })
        .unwrap();
        let g = p.refresh().await.unwrap();
        let got: Vec<(String, String, String)> = g[0]
            .targets
            .iter()
            .map(|t| {
                let get = |n: &str| t.get(n).unwrap_or("").to_owned();
                let extra = format!(
                    "{}|{}",
                    get("__meta_dns_srv_record_port"),
                    get("__meta_dns_mx_record_target")
                );
                (get("__address__"), get("__meta_dns_name"), extra)
            })
            .collect();
        let want: Vec<(String, String, String)> = want
            .into_iter()
            .map(|(a, b, c)| (a.into(), b.into(), c.into()))
            .collect();
        assert_eq!(got, want, "{rt:?}");
    };
    check(
        DnsRecordType::Srv,
        vec![
            ("node1.example:9080", "_node._tcp.example.", "9080|"),
            ("node2.example:9081", "_node._tcp.example.", "9081|"),
        ],
    )
    .await;
    check(
        DnsRecordType::A,
        vec![("10.1.2.3:9100", "_node._tcp.example.", "|")],
    )
    .await;
    check(
        DnsRecordType::Mx,
        vec![("mail.example:9100", "_node._tcp.example.", "|mail.example")],
    )
    .await;
}

async fn wait_for(
    rx: &mut watch::Receiver<JobGroups>,
    what: &str,
    f: impl Fn(&JobGroups) -> bool,
) -> JobGroups {
    let got = tokio::time::timeout(READY_WAIT, rx.wait_for(|g| f(g)))
        .await
        .map(|r| r.map(|g| g.clone()));
    match got {
        Ok(Ok(g)) => g,
        _ => panic!(
            "timed out waiting for {what}; last: {:?}",
            rx.borrow().clone()
        ),
    }
}

fn addresses(g: &JobGroups, job: &str) -> Vec<String> {
    g.get(job)
        .map(|groups| {
            groups
                .iter()
                .flat_map(|g| {
                    g.targets
                        .iter()
                        .map(|t| t.get("__address__").unwrap().to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn manager_runs_file_sd_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    std::fs::write(&file, r#"[{"targets":["a:1"]}]"#).unwrap();
    let file_sd = SdConfig::File(FileSdConfig {
        files: vec![file.display().to_string()],
        refresh_interval: Duration::from_secs(300),
    });
    let static_sd = SdConfig::Static(vec![TargetGroup::from_addresses(
        "0",
        ["s:1"],
        Labels::empty(),
    )]);
    let mut m = DiscoveryManager::new();
    let mut rx = m.subscribe();
    m.apply_config(BTreeMap::from([
        ("files".to_owned(), vec![file_sd.clone()]),
        ("static".to_owned(), vec![static_sd.clone()]),
    ]));
    wait_for(&mut rx, "first groups", |g| {
        addresses(g, "files") == ["a:1"] && addresses(g, "static") == ["s:1"]
    })
    .await;
    // The file changes: the poller notices.
    std::fs::write(&file, r#"[{"targets":["a:1","b:2"]}]"#).unwrap();
    wait_for(&mut rx, "file change", |g| {
        addresses(g, "files") == ["a:1", "b:2"]
    })
    .await;
    // (A broken write keeping the last good groups is checked directly on
    // the provider in the unit tests, without waiting on the poller.)
    // Reload: one job changes, one is removed.
    let static2 = SdConfig::Static(vec![TargetGroup::from_addresses(
        "0",
        ["s:2"],
        Labels::empty(),
    )]);
    m.apply_config(BTreeMap::from([("static".to_owned(), vec![static2])]));
    let g = wait_for(&mut rx, "reload", |g| addresses(g, "static") == ["s:2"]).await;
    assert!(!g.contains_key("files"));
    m.stop();
}
