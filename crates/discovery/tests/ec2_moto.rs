//! EC2 discovery against moto's server mode on 127.0.0.1: instances are
//! created through moto's EC2 API with a small boto3 script, discovered
//! with our SigV4-signed client, and relabelled the way a fleet scraping
//! node exporters on port 9080 would.
//!
//! Needs `moto_server` on PATH: `pip install "moto[server]"` (boto3 comes
//! with it). Without it this test fails and says so.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beacon_config::relabel::{self, Action, Regex, RelabelConfig};
use beacon_discovery::ec2::{Ec2Provider, Ec2SdConfig};
use beacon_model::Labels;

const READY_WAIT: Duration = Duration::from_secs(60);

/// Stops moto by PID when the test ends, however it ends.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_moto() -> (Moto, String) {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "ec2 discovery test: MOTO NOT FOUND ({e}); install it with: pip install \"moto[server]\""
            )
        });
    let moto = Moto(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < READY_WAIT,
            "moto_server did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (moto, format!("http://127.0.0.1:{port}"))
}

const CREATE: &str = r#"
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
image = ec2.describe_images()["Images"][0]["ImageId"]
def run(name, role):
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "Name", "Value": name}, {"Key": "Role", "Value": role},
            {"Key": "team-owner", "Value": "obs"}]}])
run("node-1", "node")
run("node-2", "node")
run("db-1", "db")
"#;

fn create_instances(endpoint: &str) {
    let out = Command::new("python3")
        .args(["-c", CREATE, endpoint])
        .output()
        .expect("python3 with boto3 (installed with moto[server])");
    assert!(
        out.status.success(),
        "creating instances: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// RelabelConfig has private fields, so no struct update syntax.
#[allow(clippy::field_reassign_with_default)]
fn rule(
    source: &str,
    regex: &str,
    target: &str,
    replacement: &str,
    action: Action,
) -> RelabelConfig {
    let mut r = RelabelConfig::default();
    r.source_labels = vec![source.into()];
    r.regex = Regex::new(regex).unwrap();
    r.target_label = target.into();
    r.replacement = replacement.into();
    r.action = action;
    r
}

#[tokio::test]
async fn discovers_tagged_instances_from_moto() {
    let (_moto, endpoint) = start_moto();
    create_instances(&endpoint);
    let config = Ec2SdConfig {
        region: "us-east-1".into(),
        endpoint: Some(endpoint.clone()),
        access_key: Some("testing".into()),
        secret_key: Some("testing".into()),
        port: 9080,
        filters: vec![("tag:Role".into(), vec!["node".into()])],
        ..Ec2SdConfig::default()
    };
    let p = Ec2Provider::new(config.clone()).unwrap();
    let groups = p.refresh().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].source, "us-east-1");
    let targets = &groups[0].targets;
    assert_eq!(targets.len(), 2, "{targets:?}");
    for t in targets {
        let ip = t.get("__meta_ec2_private_ip").unwrap();
        assert_eq!(t.get("__address__"), Some(format!("{ip}:9080").as_str()));
        assert_eq!(t.get("__meta_ec2_instance_state"), Some("running"));
        assert_eq!(t.get("__meta_ec2_instance_type"), Some("t3.small"));
        assert_eq!(t.get("__meta_ec2_region"), Some("us-east-1"));
        assert_eq!(t.get("__meta_ec2_tag_team_owner"), Some("obs"));
        for name in [
            "instance_id",
            "ami",
            "availability_zone",
            "availability_zone_id",
            "owner_id",
            "vpc_id",
            "private_dns_name",
        ] {
            assert!(
                t.get(&format!("__meta_ec2_{name}"))
                    .is_some_and(|v| !v.is_empty()),
                "{name} missing in {t}"
            );
        }
        assert!(
            t.get("__meta_ec2_subnet_id")
                .is_some_and(|s| s.starts_with(',') && s.ends_with(','))
        );
    }
    // Relabel as a node-exporter fleet would.
    let rules = [
        rule(
            "__meta_ec2_tag_Name",
            "(.*)",
            "instance",
            "$1",
            Action::Replace,
        ),
        rule(
            "__meta_ec2_availability_zone",
            "(.*)",
            "zone",
            "$1",
            Action::Replace,
        ),
        rule(
            "__meta_ec2_instance_state",
            "running",
            "",
            "$1",
            Action::Keep,
        ),
        #[allow(clippy::field_reassign_with_default)]
        {
            let mut r = RelabelConfig::default();
            r.regex = Regex::new("__meta_ec2_tag_(.+)").unwrap();
            r.replacement = "tag_$1".into();
            r.action = Action::LabelMap;
            r
        },
    ];
    let mut names: Vec<String> = targets
        .iter()
        .map(|t| {
            let l: Labels = relabel::process(t, &rules).unwrap();
            assert_eq!(l.get("tag_Role"), Some("node"));
            assert!(l.get("zone").is_some_and(|z| z.starts_with("us-east-1")));
            l.get("instance").unwrap().to_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["node-1", "node-2"]);
    // Without the filter all three show up; with a role to assume, STS
    // (also served by moto) hands out the credentials.
    let all = Ec2Provider::new(Ec2SdConfig {
        filters: Vec::new(),
        role_arn: Some("arn:aws:iam::123456789012:role/discovery".into()),
        ..config
    })
    .unwrap();
    assert_eq!(all.refresh().await.unwrap()[0].targets.len(), 3);
}
