//! Kernel-wide counters: `/proc/stat` (stat), `/proc/net/softnet_stat`
//! (softnet) and `/proc/schedstat` (schedstat).

use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

/// Boot time, context switches, forks, interrupts and process counts.
pub struct Stat(pub Arc<Config>);

impl Collector for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = read_existing(&self.0.proc("stat"))?;
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(key), Some(v)) = (it.next(), it.next().and_then(parse_f64)) else {
                continue;
            };
            match key {
                "intr" => out.counter(
                    "node_intr_total",
                    "Total number of interrupts serviced.",
                    &[],
                    v,
                ),
                "ctxt" => out.counter(
                    "node_context_switches_total",
                    "Total number of context switches.",
                    &[],
                    v,
                ),
                "btime" => out.gauge(
                    "node_boot_time_seconds",
                    "Node boot time, in unixtime.",
                    &[],
                    v,
                ),
                "processes" => out.counter("node_forks_total", "Total number of forks.", &[], v),
                "procs_running" => out.gauge(
                    "node_procs_running",
                    "Number of processes in runnable state.",
                    &[],
                    v,
                ),
                "procs_blocked" => out.gauge(
                    "node_procs_blocked",
                    "Number of processes blocked waiting for I/O to complete.",
                    &[],
                    v,
                ),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Per-CPU packet processing from `/proc/net/softnet_stat` (hex columns).
pub struct Softnet(pub Arc<Config>);

impl Collector for Softnet {
    fn name(&self) -> &'static str {
        "softnet"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("net/softnet_stat");
        let text = read_existing(&path)?;
        for (i, line) in text.lines().enumerate() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // Kernels since 2.6 write at least processed, dropped and
            // time_squeezed; older layouts are not worth guessing at.
            if cols.len() < 3 {
                return Err(Error::parse(&path, i + 1, "fewer than 3 columns"));
            }
            let hex = |s: &str| {
                u64::from_str_radix(s, 16)
                    .map(|v| v as f64)
                    .map_err(|_| Error::parse(&path, i + 1, format!("not hex: {s:?}")))
            };
            let cpu = i.to_string();
            let l = [("cpu", cpu.as_str())];
            out.counter(
                "node_softnet_processed_total",
                "Number of processed packets",
                &l,
                hex(cols[0])?,
            );
            out.counter(
                "node_softnet_dropped_total",
                "Number of dropped packets",
                &l,
                hex(cols[1])?,
            );
            out.counter(
                "node_softnet_times_squeezed_total",
                "Number of times processing packets ran out of quota",
                &l,
                hex(cols[2])?,
            );
        }
        Ok(())
    }
}

/// Per-CPU scheduler statistics from `/proc/schedstat`.
pub struct Schedstat(pub Arc<Config>);

impl Collector for Schedstat {
    fn name(&self) -> &'static str {
        "schedstat"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("schedstat");
        let text = read_existing(&path)?;
        for (i, line) in text.lines().enumerate() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let Some(cpu) = cols.first().and_then(|c| c.strip_prefix("cpu")) else {
                continue;
            };
            // cpuN followed by 9 counters; the last three are running time
            // (ns), waiting time (ns) and timeslices.
            if cols.len() < 10 {
                return Err(Error::parse(
                    &path,
                    i + 1,
                    "cpu line with fewer than 9 fields",
                ));
            }
            let num = |s: &str| {
                parse_f64(s)
                    .ok_or_else(|| Error::parse(&path, i + 1, format!("not a number: {s:?}")))
            };
            let l = [("cpu", cpu)];
            out.counter(
                "node_schedstat_running_seconds_total",
                "Number of seconds CPU spent running a process.",
                &l,
                num(cols[7])? / 1e9,
            );
            out.counter(
                "node_schedstat_waiting_seconds_total",
                "Number of seconds spent by processing waiting for this CPU.",
                &l,
                num(cols[8])? / 1e9,
            );
            out.counter(
                "node_schedstat_timeslices_total",
                "Number of timeslices executed by CPU.",
                &l,
                num(cols[9])?,
            );
        }
        Ok(())
    }
}
