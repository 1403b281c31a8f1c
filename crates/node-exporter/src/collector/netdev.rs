//! `node_network_{receive,transmit}_*_total` from `/proc/net/dev`, plus
//! `receive_nohandler` from sysfs where the kernel has it.

use std::sync::Arc;

use crate::collector::{Collector, Config, device_filtered, read_existing};
use crate::error::{Error, Result};
use crate::fsread::{parse_f64, read_f64};
use crate::metric_set::MetricSet;

/// The 16 columns of `/proc/net/dev`, in order.
const FIELDS: &[&str] = &[
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

pub struct Netdev(pub Arc<Config>);

impl Collector for Netdev {
    fn name(&self) -> &'static str {
        "netdev"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let cfg = &self.0;
        let path = cfg.proc("net/dev");
        let text = read_existing(&path)?;
        // Two header lines, then `name: 16 numbers`.
        for (i, line) in text.lines().enumerate().skip(2) {
            let Some((dev, rest)) = line.split_once(':') else {
                return Err(Error::parse(&path, i + 1, "no device name"));
            };
            let dev = dev.trim();
            if device_filtered(
                cfg.netdev_include.as_ref(),
                cfg.netdev_exclude.as_ref(),
                dev,
            ) {
                continue;
            }
            let vals: Vec<f64> = rest.split_whitespace().filter_map(parse_f64).collect();
            if vals.len() != FIELDS.len() {
                return Err(Error::parse(&path, i + 1, "expected 16 counters"));
            }
            for (field, v) in FIELDS.iter().zip(vals) {
                emit(out, dev, field, v);
            }
            let nohandler = cfg.sys(&format!("class/net/{dev}/statistics/rx_nohandler"));
            if let Ok(v) = read_f64(&nohandler) {
                emit(out, dev, "receive_nohandler", v);
            }
        }
        Ok(())
    }
}

fn emit(out: &mut MetricSet, dev: &str, field: &str, v: f64) {
    out.counter(
        &format!("node_network_{field}_total"),
        &format!("Network device statistic {field}."),
        &[("device", dev)],
        v,
    );
}
