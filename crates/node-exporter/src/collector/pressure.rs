//! Pressure stall information from `/proc/pressure/{cpu,io,memory}`.

use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

/// (resource, line kind, metric, help). CPU "full" is not exported, as in
/// node_exporter 1.5.
const SERIES: &[(&str, &str, &str, &str)] = &[
    (
        "cpu",
        "some",
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "io",
        "some",
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        "full",
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        "some",
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        "full",
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
];

pub struct Pressure(pub Arc<Config>);

impl Collector for Pressure {
    fn name(&self) -> &'static str {
        "pressure"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        for resource in ["cpu", "io", "memory"] {
            let path = self.0.proc(&format!("pressure/{resource}"));
            let text = read_existing(&path)?;
            for (i, line) in text.lines().enumerate() {
                let mut it = line.split_whitespace();
                let Some(kind) = it.next() else { continue };
                let Some(&(_, _, metric, help)) = SERIES
                    .iter()
                    .find(|(r, k, _, _)| *r == resource && *k == kind)
                else {
                    continue;
                };
                let total_us = it
                    .find_map(|f| f.strip_prefix("total="))
                    .and_then(parse_f64)
                    .ok_or_else(|| Error::parse(&path, i + 1, "no total= field"))?;
                out.counter(metric, help, &[], total_us / 1000.0 / 1000.0);
            }
        }
        Ok(())
    }
}
