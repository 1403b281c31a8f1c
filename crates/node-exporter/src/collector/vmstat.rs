//! `node_vmstat_*` from `/proc/vmstat`, filtered by `--collector.vmstat.fields`.

use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::Result;
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

pub struct Vmstat(pub Arc<Config>);

impl Collector for Vmstat {
    fn name(&self) -> &'static str {
        "vmstat"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = read_existing(&self.0.proc("vmstat"))?;
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(key), Some(v)) = (it.next(), it.next().and_then(parse_f64)) else {
                continue;
            };
            if !self.0.vmstat_fields.is_match(key) {
                continue;
            }
            out.untyped(
                &format!("node_vmstat_{key}"),
                &format!("/proc/vmstat information field {key}."),
                &[],
                v,
            );
        }
        Ok(())
    }
}
