//! `node_memory_*` from `/proc/meminfo`: `kB` values become `_bytes`,
//! `Active(anon)` becomes `Active_anon`.

use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

pub struct Meminfo(pub Arc<Config>);

impl Collector for Meminfo {
    fn name(&self) -> &'static str {
        "meminfo"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("meminfo");
        let text = read_existing(&path)?;
        let mut name = String::with_capacity(64);
        for (i, line) in text.lines().enumerate() {
            let Some((key, rest)) = line.split_once(':') else {
                continue;
            };
            let mut parts = rest.split_whitespace();
            let value = parts
                .next()
                .and_then(parse_f64)
                .ok_or_else(|| Error::parse(&path, i + 1, format!("no value for {key}")))?;
            name.clear();
            name.push_str("node_memory_");
            for c in key.chars() {
                match c {
                    '(' => name.push('_'),
                    ')' => {}
                    c => name.push(c),
                }
            }
            let value = if parts.next() == Some("kB") {
                name.push_str("_bytes");
                value * 1024.0
            } else {
                value
            };
            let help = format!(
                "Memory information field {}.",
                &name["node_memory_".len()..]
            );
            out.gauge(&name, &help, &[], value);
        }
        Ok(())
    }
}
