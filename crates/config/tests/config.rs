//! Loads the fixtures in `testdata/`: every bad file must fail with the
//! exact message at the exact `line:col`, every good file must load with
//! Prometheus's defaults, survive `to_yaml` and never print a secret.

use std::path::{Path, PathBuf};

use beacon_config::*;
use beacon_model::{NameValidation, PromDuration};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn load(rel: &str) -> Config {
    let path = testdata(rel);
    Config::load(&path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every file in `testdata/bad` with the error it must produce.
const BAD: &[(&str, u32, u32, &str)] = &[
    (
        "alertmanager_v1.yml",
        3,
        20,
        "expected Alertmanager api version to be one of [v2] but got v1",
    ),
    (
        "alias_bomb.yml",
        6,
        36,
        "document exceeds the YAML parser's limits (nesting depth 64, 1000000 events, 2000000 nodes, counting alias expansion): budget breached: Events { events: 1000001 }",
    ),
    ("bad_body_size.yml", 2, 20, "units: unknown unit XB in 10XB"),
    (
        "bad_duration.yml",
        2,
        20,
        "not a valid duration string: \"15\"",
    ),
    (
        "bad_external_label.yml",
        2,
        3,
        "\"my.label\" is not a valid label name",
    ),
    (
        "bad_protocol.yml",
        2,
        43,
        "unknown scrape protocol Avro, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]",
    ),
    (
        "bad_regex.yml",
        5,
        16,
        "invalid regular expression \"a(b\": unclosed group",
    ),
    (
        "bad_rule_path.yml",
        2,
        5,
        "invalid rule file path \"rules/*/x.yml\"",
    ),
    ("bad_tls_version.yml", 4, 20, "unknown TLS version: SSL3"),
    ("bad_yaml.yml", 3, 21, "unclosed bracket '['"),
    (
        "basic_auth_two_passwords.yml",
        4,
        7,
        "at most one of basic_auth password & password_file must be configured",
    ),
    (
        "bearer_and_basic.yml",
        2,
        5,
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    ),
    (
        "bool_wrong.yml",
        3,
        19,
        "cannot unmarshal a string \"sometimes\" into a boolean",
    ),
    (
        "consul_sd_alertmanager.yml",
        3,
        7,
        "consul_sd_configs is not supported by Beacon",
    ),
    ("dns_bad_type.yml", 5, 15, "invalid DNS-SD records type TXT"),
    (
        "dns_no_port.yml",
        4,
        9,
        "a port is required in DNS-SD configs for all record types except SRV",
    ),
    (
        "duplicate_job.yml",
        4,
        5,
        "found multiple scrape configs with job name \"a\"",
    ),
    (
        "duplicate_key.yml",
        3,
        3,
        "duplicate mapping key: scrape_interval",
    ),
    (
        "duplicate_protocol.yml",
        2,
        5,
        "duplicated protocol in scrape_protocols, got [PrometheusProto PrometheusProto] for scrape config with job name \"a\"",
    ),
    (
        "duplicate_remote_write.yml",
        4,
        5,
        "found multiple remote write configs with job name \"same\"",
    ),
    ("empty_job_name.yml", 2, 5, "job_name is empty"),
    (
        "file_sd_bad_ext.yml",
        4,
        9,
        "path name \"targets.txt\" is not valid for file discovery",
    ),
    (
        "global_timeout.yml",
        2,
        3,
        "global scrape timeout greater than scrape interval",
    ),
    (
        "hashmod_no_modulus.yml",
        4,
        9,
        "relabel configuration for hashmod requires non-zero modulus",
    ),
    (
        "http_sd_bad_scheme.yml",
        4,
        9,
        "URL scheme must be 'http' or 'https'",
    ),
    (
        "kubernetes_sd.yml",
        3,
        5,
        "kubernetes_sd_configs is not supported by Beacon",
    ),
    (
        "legacy_target_label.yml",
        5,
        9,
        "\"my.label\" is invalid 'target_label' for replace action",
    ),
    (
        "negative_limit.yml",
        3,
        19,
        "cannot unmarshal an integer \"-5\" into an unsigned integer",
    ),
    (
        "not_a_mapping.yml",
        1,
        1,
        "expected a mapping for config, got a sequence",
    ),
    (
        "proxy_from_env_and_url.yml",
        2,
        5,
        "if proxy_from_environment is configured, proxy_url must not be configured",
    ),
    (
        "remote_write_no_url.yml",
        2,
        5,
        "url for remote_write is empty",
    ),
    (
        "reserved_header.yml",
        2,
        5,
        "Content-Type is a reserved header. It must not be changed",
    ),
    ("sigv4.yml", 3, 5, "sigv4 is not supported by Beacon"),
    (
        "timeout_gt_global_interval.yml",
        4,
        5,
        "scrape timeout greater than scrape interval for scrape config with job name \"slow\"",
    ),
    (
        "timeout_gt_interval.yml",
        2,
        5,
        "scrape timeout greater than scrape interval for scrape config with job name \"slow\"",
    ),
    (
        "tls_cert_without_key.yml",
        4,
        7,
        "exactly one of key or key_file must be configured when a client certificate is configured",
    ),
    (
        "tracing_no_endpoint.yml",
        2,
        3,
        "tracing endpoint must be set",
    ),
    (
        "unknown_action.yml",
        4,
        17,
        "unknown relabel action \"delete\"",
    ),
    (
        "unknown_key.yml",
        3,
        5,
        "field scrape_intreval not found in scrape config (did you mean scrape_interval?)",
    ),
    (
        "unknown_top_level.yml",
        3,
        1,
        "field scrape_config not found in config (did you mean scrape_configs?)",
    ),
    (
        "url_in_target.yml",
        2,
        5,
        "\"http://host:9100/metrics\" is not a valid hostname",
    ),
    (
        "wrong_type.yml",
        3,
        19,
        "cannot unmarshal a string \"many\" into an unsigned integer",
    ),
    (
        "wrong_type_list.yml",
        2,
        3,
        "cannot unmarshal a mapping into a sequence",
    ),
];

#[test]
fn bad_configs_fail_with_file_line_col_and_message() {
    let mut on_disk: Vec<String> = std::fs::read_dir(testdata("bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = BAD.iter().map(|b| b.0).collect();
    assert_eq!(
        on_disk, listed,
        "every bad fixture is listed exactly once, in order"
    );
    for &(file, line, col, msg) in BAD {
        let path = testdata("bad").join(file);
        let err = Config::load(&path).expect_err(file);
        let want = format!("{}:{line}:{col}: {msg}", path.display());
        assert_eq!(err.to_string(), want);
        assert_eq!(err.position(), Some((line, col)), "{file}");
        assert_eq!(err.message(), msg, "{file}");
    }
}

#[test]
fn empty_config_has_prometheus_defaults() {
    let c = load("good/empty.yml");
    assert_eq!(c, Config::default());
    let g = &c.global;
    assert_eq!(g.scrape_interval, PromDuration(60_000));
    assert_eq!(g.scrape_timeout, PromDuration(10_000));
    assert_eq!(g.evaluation_interval, PromDuration(60_000));
    assert_eq!(g.rule_query_offset, PromDuration(0));
    assert_eq!(g.scrape_protocols, None);
    assert_eq!(g.metric_name_validation_scheme, NameValidation::Utf8);
    assert_eq!(g.metric_name_escaping_scheme, "");
    assert!(g.external_labels.0.is_empty());
    assert_eq!((g.sample_limit, g.target_limit, g.label_limit), (0, 0, 0));
    assert_eq!(g.body_size_limit, ByteSize(0));
    assert!(!g.scrape_native_histograms && !g.always_scrape_classic_histograms);
    assert!(!g.convert_classic_histograms_to_nhcb && !g.extra_scrape_metrics);
    assert_eq!(c.runtime.gogc, 75);
    assert!(c.tracing.is_none());
    assert_eq!(c.storage, StorageConfig::default());
    assert_eq!(
        c.otlp.translation_strategy,
        "UnderscoreEscapingWithSuffixes"
    );
    assert!(c.otlp.label_name_underscore_sanitization);
    assert!(c.scrape_configs.is_empty() && c.remote_write.is_empty() && c.rule_files.is_empty());
}

#[test]
fn scrape_config_defaults() {
    let c = Config::from_yaml_str("scrape_configs:\n  - job_name: j\n", "p.yml").unwrap();
    let s = &c.scrape_configs[0];
    assert_eq!(s.scrape_interval, PromDuration(60_000));
    assert_eq!(s.scrape_timeout, PromDuration(10_000));
    assert_eq!(s.metrics_path, "/metrics");
    assert_eq!(s.scheme, "http");
    assert!(!s.honor_labels && s.honor_timestamps && !s.track_timestamps_staleness);
    assert!(s.enable_compression);
    assert_eq!(s.scrape_protocols, DEFAULT_SCRAPE_PROTOCOLS);
    assert_eq!(s.fallback_scrape_protocol, None);
    assert_eq!(s.scrape_native_histograms, Some(false));
    assert_eq!(s.always_scrape_classic_histograms, Some(false));
    assert_eq!(s.convert_classic_histograms_to_nhcb, Some(false));
    assert_eq!(s.metric_name_validation_scheme, Some(NameValidation::Utf8));
    assert_eq!(s.metric_name_escaping_scheme, "allow-utf-8");
    assert!(s.http.follow_redirects && s.http.enable_http2);
    assert_eq!(s.http.tls_config, TlsConfig::default());
    assert!(s.service_discovery.is_empty());

    // A short interval lowers the default timeout; native histograms put
    // protobuf first; legacy names escape with underscores.
    let c = Config::from_yaml_str(
        "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: j\n    scrape_native_histograms: true\n    metric_name_validation_scheme: legacy\n",
        "p.yml",
    )
    .unwrap();
    assert_eq!(c.global.scrape_timeout, PromDuration(5_000));
    let s = &c.scrape_configs[0];
    assert_eq!(
        (s.scrape_interval, s.scrape_timeout),
        (PromDuration(5_000), PromDuration(5_000))
    );
    assert_eq!(s.scrape_protocols, PROTO_FIRST_SCRAPE_PROTOCOLS);
    assert_eq!(s.metric_name_escaping_scheme, "underscores");
}

#[test]
fn section_defaults() {
    let c = Config::from_yaml_str(
        "scrape_configs:\n  - job_name: j\n    file_sd_configs: [{files: [a.json]}]\n    dns_sd_configs: [{names: [x]}]\n    ec2_sd_configs: [{region: r}]\n    http_sd_configs: [{url: 'http://sd/'}]\n\
         alerting:\n  alertmanagers: [{static_configs: [{targets: ['am:9093']}]}]\n\
         remote_write: [{url: 'http://rw/'}]\nremote_read: [{url: 'http://rr/'}]\n",
        "p.yml",
    )
    .unwrap();
    let sd = &c.scrape_configs[0].service_discovery;
    assert_eq!(
        sd.file_sd_configs[0].refresh_interval,
        PromDuration(300_000)
    );
    assert_eq!(sd.dns_sd_configs[0].refresh_interval, PromDuration(30_000));
    assert_eq!(sd.dns_sd_configs[0].r#type, DnsRecordType::Srv);
    assert_eq!(sd.ec2_sd_configs[0].refresh_interval, PromDuration(60_000));
    assert_eq!(sd.ec2_sd_configs[0].port, 80);
    assert_eq!(sd.http_sd_configs[0].refresh_interval, PromDuration(60_000));
    let am = &c.alerting.alertmanagers[0];
    assert_eq!(
        (am.scheme.as_str(), am.timeout, am.api_version),
        ("http", PromDuration(10_000), AlertmanagerApiVersion::V2)
    );
    assert_eq!(am.path_prefix, "");
    let rw = &c.remote_write[0];
    assert_eq!(rw.remote_timeout, PromDuration(30_000));
    assert_eq!(rw.protobuf_message, ProtobufMessage::V1);
    assert!(
        rw.http.follow_redirects && !rw.http.enable_http2,
        "remote write disables HTTP/2 by default"
    );
    assert!(!rw.send_exemplars && !rw.send_native_histograms);
    let q = &rw.queue_config;
    assert_eq!(
        (
            q.capacity,
            q.max_shards,
            q.min_shards,
            q.max_samples_per_send
        ),
        (10_000, 50, 1, 2_000)
    );
    assert_eq!(
        (q.batch_send_deadline, q.min_backoff, q.max_backoff),
        (PromDuration(5_000), PromDuration(30), PromDuration(5_000))
    );
    assert!(!q.retry_on_http_429);
    assert_eq!(q.sample_age_limit, PromDuration(0));
    let m = &rw.metadata_config;
    assert_eq!(
        (m.send, m.send_interval, m.max_samples_per_send),
        (true, PromDuration(60_000), 2_000)
    );
    let rr = &c.remote_read[0];
    assert_eq!(rr.remote_timeout, PromDuration(60_000));
    assert!(rr.filter_external_labels && !rr.read_recent);
    assert_eq!(rr.chunked_read_limit, 50_000_000);
    assert!(rr.http.enable_http2);
}

#[test]
fn full_config_reads_every_section() {
    let c = load("good/full.yml");
    let dir = testdata("good");
    let joined = |p: &str| dir.join(p).display().to_string();
    assert_eq!(c.global.external_labels.0["region"], "eu-west-1");
    assert_eq!(c.global.body_size_limit, ByteSize(10 << 20));
    assert_eq!(c.global.query_log_file, joined("query.log"));
    assert_eq!(
        c.rule_files,
        [joined("rules/first.yml"), joined("rules/*.rules.yml")]
    );
    assert_eq!(c.runtime.gogc, 50);

    let p = c.scrape_config("prometheus").unwrap();
    assert_eq!(
        (p.scrape_interval, p.scrape_timeout),
        (PromDuration(15_000), PromDuration(5_000))
    );
    assert_eq!(p.params["match[]"].len(), 2);
    assert_eq!(p.body_size_limit, ByteSize(512 << 10));
    assert_eq!(p.sample_limit, 1000);
    assert_eq!(
        p.scrape_protocols[0],
        ScrapeProtocol::PrometheusProto,
        "from global"
    );
    assert_eq!(
        p.fallback_scrape_protocol,
        Some(ScrapeProtocol::PrometheusText0_0_4)
    );
    assert_eq!(p.native_histogram_min_bucket_factor, 1.1);
    let auth = p.http.authorization.as_ref().unwrap();
    assert_eq!(
        (auth.r#type.as_str(), auth.credentials_file.clone()),
        ("Bearer", joined("secrets/token"))
    );
    assert_eq!(p.http.tls_config.ca_file, joined("certs/ca.pem"));
    assert_eq!(p.http.tls_config.min_version, Some(TlsVersion::Tls12));
    assert_eq!(p.http.proxy.proxy_url, "http://proxy.example:3128");
    assert!(!p.http.follow_redirects && !p.http.enable_http2);
    assert_eq!(
        p.http.http_headers["X-Api-Key"].secrets[0].expose(),
        "header-secret"
    );
    let sd = &p.service_discovery;
    assert_eq!(
        sd.static_configs[0].targets,
        ["localhost:9090", "localhost:9191"]
    );
    assert_eq!(sd.static_configs[0].labels.0["my"], "label");
    assert_eq!(sd.file_sd_configs[0].files[0], joined("targets/foo/*.json"));
    assert_eq!(
        sd.file_sd_configs[1].refresh_interval,
        PromDuration(300_000)
    );
    assert_eq!(p.relabel_configs.len(), 6);
    assert_eq!(p.relabel_configs[4].action, Action::HashMod);
    assert_eq!(p.metric_relabel_configs[3].action, Action::KeepEqual);

    let dns = c.scrape_config("service-dns").unwrap();
    let a = dns.http.authorization.as_ref().unwrap();
    assert_eq!(
        a.credentials.expose(),
        "dns-token",
        "bearer_token becomes authorization"
    );
    assert!(dns.http.bearer_token.is_empty());
    assert_eq!(
        dns.service_discovery.dns_sd_configs[2].r#type,
        DnsRecordType::Mx
    );
    assert_eq!(
        dns.scrape_timeout,
        PromDuration(20_000),
        "global timeout fits the 1m interval"
    );

    let ec2 = &c.scrape_config("service-ec2").unwrap();
    assert_eq!(
        ec2.always_scrape_classic_histograms,
        Some(true),
        "Prometheus 2 spelling"
    );
    let e = &ec2.service_discovery.ec2_sd_configs[0];
    assert_eq!(
        (e.region.as_str(), e.port, e.secret_key.expose()),
        ("us-east-1", 9100, "ec2-secret")
    );
    assert_eq!(e.filters[1].values, ["running", "pending"]);

    let h = c.scrape_config("service-http").unwrap();
    assert_eq!(h.metric_name_escaping_scheme, "underscores");
    assert_eq!(
        h.service_discovery.http_sd_configs[0].url.as_str(),
        "https://sd.example.com/targets"
    );
    let o = h.http.oauth2.as_ref().unwrap();
    assert_eq!(
        (o.client_id.as_str(), o.client_secret.expose()),
        ("beacon", "oauth-secret")
    );

    let am = &c.alerting.alertmanagers[0];
    assert_eq!(
        (am.scheme.as_str(), am.path_prefix.as_str(), am.timeout),
        ("https", "/am", PromDuration(5_000))
    );
    assert_eq!(am.service_discovery.static_configs[0].targets.len(), 2);
    let rw = &c.remote_write[0];
    assert_eq!(rw.protobuf_message, ProtobufMessage::V2);
    assert_eq!(rw.queue_config.min_backoff, PromDuration(50));
    assert!(!rw.metadata_config.send);
    assert_eq!(c.remote_read[0].required_matchers.0["job"], "special");
    assert_eq!(
        c.remote_read[0].http.authorization.as_ref().unwrap().r#type,
        "Token"
    );
    assert_eq!(
        c.storage.tsdb.as_ref().unwrap().out_of_order_time_window,
        PromDuration(1_800_000)
    );
    assert_eq!(c.storage.exemplars.as_ref().unwrap().max_exemplars, 500_000);
    let t = c.tracing.as_ref().unwrap();
    assert_eq!(
        (t.client_type, t.sampling_fraction, t.endpoint.as_str()),
        (TracingClientType::Http, 0.5, "localhost:4317")
    );
    assert_eq!(c.otlp.translation_strategy, "NoUTF8EscapingWithSuffixes");
}

const SECRETS: [&str; 9] = [
    "am-password",
    "header-secret",
    "dns-token",
    "ec2-secret",
    "oauth-secret",
    "rw-password",
    "read-secret",
    "dXNlcjpwYXNz",
    "AKIAEXAMPLE-not-a-secret",
];

#[test]
fn secrets_are_never_printed() {
    let c = load("good/full.yml");
    let yaml = c.to_yaml();
    let debug = format!("{c:?}");
    for s in &SECRETS[..8] {
        assert!(!yaml.contains(s), "to_yaml leaks {s}:\n{yaml}");
        assert!(!debug.contains(s), "Debug leaks {s}");
    }
    assert!(yaml.contains("<secret>"));
    assert_eq!(Secret::new("x").to_string(), "<secret>");
}

#[test]
fn round_trip_load_print_load() {
    for rel in ["good/empty.yml", "good/example.yml"] {
        let c = load(rel);
        let again = Config::from_yaml_str(&c.to_yaml(), "printed.yml")
            .unwrap_or_else(|e| panic!("{rel}: {e}\n{}", c.to_yaml()));
        assert_eq!(again, c, "{rel}");
    }
    // With secrets the reloaded values are `<secret>`; the printed form is
    // a fixed point and every section without secrets compares equal.
    for rel in ["good/full.yml", "good/prometheus_2_42.yml"] {
        let c = load(rel);
        let printed = c.to_yaml();
        let again = Config::from_yaml_str(&printed, "printed.yml")
            .unwrap_or_else(|e| panic!("{rel}: {e}\n{printed}"));
        assert_eq!(again.to_yaml(), printed, "{rel}");
        assert_eq!(again.global, c.global, "{rel}");
        assert_eq!(again.rule_files, c.rule_files, "{rel}");
        assert_eq!(
            (&again.storage, &again.tracing, &again.otlp),
            (&c.storage, &c.tracing, &c.otlp)
        );
        assert_eq!(again.remote_read.len(), c.remote_read.len());
        for (a, b) in again.all_scrape_configs().zip(c.all_scrape_configs()) {
            assert_eq!(a.relabel_configs, b.relabel_configs, "{rel} {}", b.job_name);
            assert_eq!(a.metric_relabel_configs, b.metric_relabel_configs);
            assert_eq!(
                a.service_discovery.static_configs,
                b.service_discovery.static_configs
            );
            assert_eq!(a.http.tls_config.ca_file, b.http.tls_config.ca_file);
            assert_eq!(
                (a.scrape_interval, a.scrape_timeout),
                (b.scrape_interval, b.scrape_timeout)
            );
        }
    }
    let again = Config::from_yaml_str(&load("good/full.yml").to_yaml(), "printed.yml").unwrap();
    let ec2 = &again
        .scrape_config("service-ec2")
        .unwrap()
        .service_discovery
        .ec2_sd_configs[0];
    assert_eq!(ec2.secret_key.expose(), "<secret>");
}

#[test]
fn explicit_null_sets_the_zero_value_like_go() {
    let c = load("good/prometheus_2_42.yml");
    // `regex:` with no value is the empty regex, not the default `(.*)`.
    assert_eq!(c.scrape_configs[0].relabel_configs[3].regex.as_str(), "");
    let c = Config::from_yaml_str(
        "scrape_configs:\n  - job_name: j\n    honor_timestamps:\n    scrape_interval:\n    static_configs:\n",
        "n.yml",
    )
    .unwrap();
    let j = &c.scrape_configs[0];
    assert!(!j.honor_timestamps, "null is false, not the default true");
    assert_eq!(
        j.scrape_interval,
        PromDuration(60_000),
        "a zero interval takes global's"
    );
}

#[test]
fn printed_config_shows_effective_values() {
    let c = Config::from_yaml_str("scrape_configs:\n  - job_name: j\n    relabel_configs:\n      - {target_label: a, replacement: ''}\n", "p.yml").unwrap();
    let y = c.to_yaml();
    for want in [
        "scrape_interval: 1m",
        "scrape_timeout: 10s",
        "metrics_path: /metrics",
        "job_name: j",
        "follow_redirects: true",
        "replacement: \"\"",
    ] {
        assert!(y.contains(want), "missing {want:?} in\n{y}");
    }
}

#[test]
fn scrape_config_files_are_loaded_and_merged() {
    let c = load("scrape_files/main.yml");
    let names: Vec<&str> = c
        .all_scrape_configs()
        .map(|s| s.job_name.as_str())
        .collect();
    assert_eq!(names, ["main", "from-a", "from-b"]);
    let a = c.scrape_config("from-a").unwrap();
    assert_eq!(
        a.scrape_interval,
        PromDuration(20_000),
        "global applies to included jobs"
    );
    let jobs = testdata("scrape_files/jobs");
    assert_eq!(
        a.http.tls_config.ca_file,
        jobs.join("ca.pem").display().to_string(),
        "paths are relative to the included file"
    );
    assert_eq!(c.file_scrape_configs[0].0, jobs.join("a.yml"));
    assert_eq!(
        c.scrape_config("from-b").unwrap().scrape_interval,
        PromDuration(5_000)
    );
    assert!(
        !c.to_yaml().contains("from-a"),
        "to_yaml prints the main file only"
    );

    let err = Config::load(testdata("scrape_files_dup/main.yml")).unwrap_err();
    let file = testdata("scrape_files_dup/jobs/dup.yml");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:4:5: found multiple scrape configs with job name \"main\", first found in main config file",
            file.display()
        )
    );
}

#[test]
fn reload_sees_which_jobs_changed() {
    let text = std::fs::read_to_string(testdata("good/full.yml")).unwrap();
    let old = Config::from_yaml_str(&text, "a.yml").unwrap();
    // Same jobs, different sample limit for one, and everything shifted
    // down by a comment line: only that job changed.
    let edited = format!(
        "# a new comment\n{}",
        text.replace("    sample_limit: 1000\n", "    sample_limit: 2000\n")
    );
    let new = Config::from_yaml_str(&edited, "a.yml").unwrap();
    assert_eq!(old.changed_scrape_configs(&new), ["prometheus"]);
    assert_eq!(
        old.scrape_config("service-dns"),
        new.scrape_config("service-dns")
    );
    assert_ne!(
        old.scrape_config("service-dns").unwrap().source.line_col(),
        new.scrape_config("service-dns").unwrap().source.line_col()
    );
    let removed =
        Config::from_yaml_str("scrape_configs:\n  - job_name: prometheus\n", "b.yml").unwrap();
    let mut changed = old.changed_scrape_configs(&removed);
    changed.sort_unstable();
    assert_eq!(
        changed,
        ["prometheus", "service-dns", "service-ec2", "service-http"]
    );
    assert!(old.changed_scrape_configs(&old.clone()).is_empty());
}

#[test]
fn default_config_and_prometheus_example_load() {
    let c = Config::from_yaml_str(DEFAULT_CONFIG, "<default>").unwrap();
    assert_eq!(c.global.scrape_interval, PromDuration(15_000));
    assert_eq!(c.global.evaluation_interval, PromDuration(15_000));
    assert_eq!(c.global.scrape_timeout, PromDuration(10_000));
    let job = &c.scrape_configs[0];
    assert_eq!(job.job_name, "beacon");
    assert_eq!(
        job.service_discovery.static_configs[0].targets,
        ["localhost:9090"]
    );

    let ex = load("good/example.yml");
    assert_eq!(ex.alerting.alertmanagers.len(), 1);
    assert!(
        ex.alerting.alertmanagers[0]
            .service_discovery
            .static_configs[0]
            .targets
            .is_empty()
    );
    assert!(ex.rule_files.is_empty());
    assert_eq!(
        ex.scrape_configs[0].service_discovery.static_configs[0]
            .labels
            .0["app"],
        "prometheus"
    );
}

#[test]
fn missing_file_names_the_path() {
    let path = testdata("does-not-exist.yml");
    let err = Config::load(&path).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn byte_sizes_parse_like_prometheus() {
    for (s, n) in [
        ("0", 0u64),
        ("100B", 100),
        ("1KB", 1024),
        ("1KiB", 1024),
        ("10MB", 10 << 20),
        ("1.5GB", 3 << 29),
        ("1GB512MB", (1 << 30) + (512 << 20)),
    ] {
        assert_eq!(ByteSize::parse(s), Ok(ByteSize(n)), "{s}");
    }
    for s in ["", "10", "MB", "1XB", "1..5MB", "-1MB"] {
        assert!(ByteSize::parse(s).is_err(), "{s}");
    }
    assert_eq!(ByteSize((1 << 30) + (512 << 20)).to_string(), "1GiB512MiB");
}

#[test]
fn external_labels_expand_environment_variables() {
    // PATH is set in every test environment; an unset variable expands to
    // nothing and the label disappears, as in Prometheus.
    let path = std::env::var("PATH").unwrap();
    let c = Config::from_yaml_str(
        "global:\n  external_labels:\n    p: ${PATH}\n    gone: $BEACON_SURELY_UNSET_VARIABLE\n    lit: a$$b\n",
        "p.yml",
    )
    .unwrap();
    let l = &c.global.external_labels.0;
    assert_eq!(l["p"], path);
    assert_eq!(l["lit"], "a$b");
    assert!(!l.contains_key("gone"));
}

#[test]
fn strings_that_look_like_other_types_survive_printing() {
    let tricky = [
        "null",
        "~",
        "true",
        "yes",
        "1",
        "0x1F",
        "1e3",
        " lead",
        "a: b",
        "#x",
        "- x",
        "'q'",
        "\"dq\"",
        "multi\nline",
        "{x}",
        "[y]",
        "*alias",
        "&anchor",
        "!tag",
        "%x",
        "@x",
        "`x`",
    ];
    let mut text = String::from("global:\n  external_labels:\n");
    for (i, v) in tricky.iter().enumerate() {
        text.push_str(&format!(
            "    l{i:02}: \"{}\"\n",
            v.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        ));
    }
    let c = Config::from_yaml_str(&text, "t.yml").unwrap();
    for (i, v) in tricky.iter().enumerate() {
        assert_eq!(c.global.external_labels.0[&format!("l{i:02}")], *v);
    }
    let printed = c.to_yaml();
    let again =
        Config::from_yaml_str(&printed, "printed.yml").unwrap_or_else(|e| panic!("{e}\n{printed}"));
    assert_eq!(again, c, "{printed}");
}

#[test]
fn non_string_keys_are_named_in_errors() {
    let err = Config::from_yaml_str("global:\n  5: x\n", "k.yml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "k.yml:2:3: field 5 not found in global config"
    );
}

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    /// Fragments of real configs, shuffled into documents that are mostly
    /// valid YAML but rarely valid configs.
    const PIECES: [&str; 16] = [
        "global:\n",
        "  scrape_interval: 5s\n",
        "scrape_configs:\n",
        "  - job_name: a\n",
        "    static_configs: [{targets: [x]}]\n",
        "    relabel_configs:\n",
        "      - action: hashmod\n",
        "        regex: '(('\n",
        "  - ",
        "&a ",
        "*a\n",
        "remote_write: [{url: 'http://x'}]\n",
        "    basic_auth: {username: u}\n",
        "tracing: {}\n",
        "\t",
        "    scrape_timeout: 1x\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_text(s in "\\PC{0,200}") {
            let _ = Config::from_yaml_str(&s, "fuzz.yml");
            let _ = web::WebConfig::from_yaml_str(&s, "fuzz.yml");
        }

        #[test]
        fn shuffled_fragments(idx in proptest::collection::vec(0usize..PIECES.len(), 0..24)) {
            let doc: String = idx.iter().map(|i| PIECES[*i]).collect();
            if let Ok(c) = Config::from_yaml_str(&doc, "fuzz.yml") {
                // Whatever loads must print and load again.
                let printed = c.to_yaml();
                prop_assert!(Config::from_yaml_str(&printed, "printed.yml").is_ok(), "{}", printed);
            }
        }
    }
}

#[test]
fn string_fields_read_numbers_and_booleans_as_written() {
    let c = Config::from_yaml_str(
        "scrape_configs:\n  - job_name: 0x10\n    static_configs:\n      - targets: [10.0.0.1:9100]\n        labels: {version: 1.10, enabled: yes, zero: 007, big: 1e3}\n",
        "s.yml",
    )
    .unwrap();
    let job = &c.scrape_configs[0];
    assert_eq!(job.job_name, "0x10");
    let labels = &job.service_discovery.static_configs[0].labels.0;
    for (k, v) in [
        ("version", "1.10"),
        ("enabled", "yes"),
        ("zero", "007"),
        ("big", "1e3"),
    ] {
        assert_eq!(labels[k], v, "{k}");
    }
    // Through an alias the anchored text is used.
    let c = Config::from_yaml_str("global:\n  external_labels: {a: &v 1.10, b: *v}\n", "s.yml")
        .unwrap();
    assert_eq!(c.global.external_labels.0["b"], "1.10");
}
