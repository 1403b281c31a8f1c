//! Netfilter connection tracking: table size and per-CPU statistics summed.

use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

/// (column in `/proc/net/stat/nf_conntrack`, metric suffix, help).
const STATS: &[(&str, &str)] = &[
    ("found", "Number of searched entries which were successful."),
    (
        "invalid",
        "Number of packets seen which can not be tracked.",
    ),
    (
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    ("insert", "Number of entries inserted into the list."),
    (
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    (
        "drop",
        "Number of packets dropped due to conntrack failure.",
    ),
    (
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

pub struct Conntrack(pub Arc<Config>);

impl Collector for Conntrack {
    fn name(&self) -> &'static str {
        "conntrack"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let one = |rel: &str| -> Result<f64> {
            let path = self.0.proc(rel);
            let text = read_existing(&path)?;
            parse_f64(&text).ok_or_else(|| Error::parse(&path, 1, "not a number"))
        };
        out.gauge(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            &[],
            one("sys/net/netfilter/nf_conntrack_count")?,
        );
        out.gauge(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            &[],
            one("sys/net/netfilter/nf_conntrack_max")?,
        );
        let path = self.0.proc("net/stat/nf_conntrack");
        let Ok(text) = read_existing(&path) else {
            return Ok(());
        };
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
        let mut sums = vec![0.0; header.len()];
        for (i, line) in lines.enumerate() {
            for (col, v) in line.split_whitespace().enumerate().take(header.len()) {
                let v = u64::from_str_radix(v, 16)
                    .map_err(|_| Error::parse(&path, i + 2, format!("not hex: {v:?}")))?;
                sums[col] += v as f64;
            }
        }
        for (col, help) in STATS {
            if let Some(idx) = header.iter().position(|h| h == col) {
                out.gauge(
                    &format!("node_nf_conntrack_stat_{col}"),
                    help,
                    &[],
                    sums[idx],
                );
            }
        }
        Ok(())
    }
}
