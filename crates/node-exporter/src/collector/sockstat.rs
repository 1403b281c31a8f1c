//! Socket counts from `/proc/net/sockstat{,6}` (sockstat) and UDP queue
//! memory from `/proc/net/udp{,6}` (udp_queues).

use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

pub struct Sockstat(pub Arc<Config>);

impl Collector for Sockstat {
    fn name(&self) -> &'static str {
        "sockstat"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let page_bytes = rustix::param::page_size() as f64;
        let v4 = read_existing(&self.0.proc("net/sockstat"))?;
        parse_sockstat(&v4, page_bytes, out);
        // IPv6 may be disabled; its file is then missing.
        if let Ok(v6) = read_existing(&self.0.proc("net/sockstat6")) {
            parse_sockstat(&v6, page_bytes, out);
        }
        Ok(())
    }
}

/// Lines `PROTO: key value key value ...`; `mem` is in pages and gets a
/// `mem_bytes` twin.
fn parse_sockstat(text: &str, page_bytes: f64, out: &mut MetricSet) {
    for line in text.lines() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for pair in fields.chunks_exact(2) {
            let Some(v) = parse_f64(pair[1]) else {
                continue;
            };
            if proto == "sockets" {
                if pair[0] == "used" {
                    out.gauge(
                        "node_sockstat_sockets_used",
                        "Number of IPv4 sockets in use.",
                        &[],
                        v,
                    );
                }
                continue;
            }
            let mut emit = |state: &str, v: f64| {
                out.gauge(
                    &format!("node_sockstat_{proto}_{state}"),
                    &format!("Number of {proto} sockets in state {state}."),
                    &[],
                    v,
                );
            };
            emit(pair[0], v);
            if pair[0] == "mem" {
                emit("mem_bytes", v * page_bytes);
            }
        }
    }
}

pub struct UdpQueues(pub Arc<Config>);

impl Collector for UdpQueues {
    fn name(&self) -> &'static str {
        "udp_queues"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let v4 = self.0.proc("net/udp");
        let (tx, rx) = queue_sums(&v4, &read_existing(&v4)?)?;
        emit_queues(out, "v4", tx, rx);
        let v6 = self.0.proc("net/udp6");
        if let Ok(text) = read_existing(&v6) {
            let (tx, rx) = queue_sums(&v6, &text)?;
            emit_queues(out, "v6", tx, rx);
        }
        Ok(())
    }
}

fn emit_queues(out: &mut MetricSet, ip: &str, tx: f64, rx: f64) {
    const HELP: &str = "Number of allocated memory in the kernel for UDP datagrams in bytes.";
    out.gauge("node_udp_queues", HELP, &[("ip", ip), ("queue", "tx")], tx);
    out.gauge("node_udp_queues", HELP, &[("ip", ip), ("queue", "rx")], rx);
}

/// Sums the hex `tx_queue:rx_queue` column (the 5th) over all sockets.
fn queue_sums(path: &std::path::Path, text: &str) -> Result<(f64, f64)> {
    let (mut tx, mut rx) = (0.0, 0.0);
    for (i, line) in text.lines().enumerate().skip(1) {
        let Some(col) = line.split_whitespace().nth(4) else {
            continue;
        };
        let parse = |s: &str| {
            u64::from_str_radix(s, 16)
                .map(|v| v as f64)
                .map_err(|_| Error::parse(path, i + 1, format!("bad queue column {col:?}")))
        };
        let (t, r) = col
            .split_once(':')
            .ok_or_else(|| Error::parse(path, i + 1, format!("bad queue column {col:?}")))?;
        tx += parse(t)?;
        rx += parse(r)?;
    }
    Ok((tx, rx))
}
