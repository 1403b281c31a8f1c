//! `node_netstat_*` from `/proc/net/netstat`, `/proc/net/snmp` and
//! `/proc/net/snmp6`, filtered by `--collector.netstat.fields`.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

pub struct Netstat(pub Arc<Config>);

impl Collector for Netstat {
    fn name(&self) -> &'static str {
        "netstat"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let mut stats: Vec<(String, String, f64)> = Vec::new();
        for rel in ["net/netstat", "net/snmp"] {
            let path = self.0.proc(rel);
            parse_paired(&path, &read_existing(&path)?, &mut stats)?;
        }
        if let Ok(text) = read_existing(&self.0.proc("net/snmp6")) {
            parse_snmp6(&text, &mut stats);
        }
        for (proto, field, v) in stats {
            let key = format!("{proto}_{field}");
            if !self.0.netstat_fields.is_match(&key) {
                continue;
            }
            out.untyped(
                &format!("node_netstat_{key}"),
                &format!("Statistic {proto}{field}."),
                &[],
                v,
            );
        }
        Ok(())
    }
}

/// `Proto: names...` followed by `Proto: values...`.
fn parse_paired(path: &Path, text: &str, out: &mut Vec<(String, String, f64)>) -> Result<()> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, pair) in lines.chunks(2).enumerate() {
        let [names, values] = pair else {
            return Err(Error::parse(path, i * 2 + 1, "header line without values"));
        };
        let (Some((proto, names)), Some((proto2, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            return Err(Error::parse(path, i * 2 + 1, "missing protocol prefix"));
        };
        if proto != proto2 {
            return Err(Error::parse(path, i * 2 + 2, "protocol of values differs"));
        }
        let names: Vec<&str> = names.split_whitespace().collect();
        let values: Vec<&str> = values.split_whitespace().collect();
        if names.len() != values.len() {
            return Err(Error::parse(
                path,
                i * 2 + 2,
                "value count differs from header",
            ));
        }
        for (n, v) in names.iter().zip(values) {
            if let Some(v) = parse_f64(v) {
                out.push((proto.to_string(), n.to_string(), v));
            }
        }
    }
    Ok(())
}

/// `Ip6InReceives 123` lines; the protocol ends at its `6`.
fn parse_snmp6(text: &str, out: &mut Vec<(String, String, f64)>) {
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(key), Some(v)) = (it.next(), it.next().and_then(parse_f64)) else {
            continue;
        };
        let Some(six) = key.find('6') else { continue };
        let (proto, field) = key.split_at(six + 1);
        out.push((proto.to_string(), field.to_string(), v));
    }
}
