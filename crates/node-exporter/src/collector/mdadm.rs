//! Linux software RAID state from `/proc/mdstat`.

use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::metric_set::MetricSet;

/// One md device as `/proc/mdstat` describes it.
#[derive(Debug, PartialEq)]
struct MdStat {
    name: String,
    /// `active`, `inactive`, `recovering`, `resync` or `check`.
    state: &'static str,
    disks_active: f64,
    disks_total: f64,
    disks_failed: f64,
    disks_spare: f64,
    blocks_total: f64,
    blocks_synced: f64,
}

const STATES: &[&str] = &["active", "inactive", "recovering", "resync", "check"];

pub struct Mdadm(pub Arc<Config>);

impl Collector for Mdadm {
    fn name(&self) -> &'static str {
        "mdadm"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("mdstat");
        let text = read_existing(&path)?;
        let devices = parse(&text).map_err(|(line, msg)| Error::parse(&path, line, msg))?;
        for d in devices {
            let dev = d.name.as_str();
            for s in STATES {
                out.gauge(
                    "node_md_state",
                    "Indicates the state of md-device.",
                    &[("device", dev), ("state", s)],
                    if d.state == *s { 1.0 } else { 0.0 },
                );
            }
            for (state, v) in [
                ("active", d.disks_active),
                ("failed", d.disks_failed),
                ("spare", d.disks_spare),
            ] {
                out.gauge(
                    "node_md_disks",
                    "Number of active/failed/spare disks of device.",
                    &[("device", dev), ("state", state)],
                    v,
                );
            }
            let l = [("device", dev)];
            out.gauge(
                "node_md_disks_required",
                "Total number of disks of device.",
                &l,
                d.disks_total,
            );
            out.gauge(
                "node_md_blocks",
                "Total number of blocks on device.",
                &l,
                d.blocks_total,
            );
            out.gauge(
                "node_md_blocks_synced",
                "Number of blocks synced on device.",
                &l,
                d.blocks_synced,
            );
        }
        Ok(())
    }
}

/// Parses `/proc/mdstat`; errors carry the 1-based line.
fn parse(text: &str) -> std::result::Result<Vec<MdStat>, (usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with([' ', '\t'])
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            return Err((i + 1, format!("expected 3+ fields, got {line:?}")));
        }
        let status = lines
            .get(i + 1)
            .ok_or((i + 1, "device without status line".to_string()))?;
        let (active, total, size) =
            status_line(line, status).ok_or((i + 2, format!("bad status line {status:?}")))?;
        // A bitmap line may sit between the status and the sync progress.
        let mut sync_idx = i + 2;
        if lines.get(sync_idx).is_some_and(|l| l.contains("bitmap")) {
            sync_idx += 1;
        }
        let sync = lines.get(sync_idx).copied().unwrap_or("");
        let mut state = if fields[2] == "inactive" {
            "inactive"
        } else {
            "active"
        };
        let mut synced = size;
        let (recovering, resyncing, checking) = (
            sync.contains("recovery"),
            sync.contains("resync"),
            sync.contains("check"),
        );
        if recovering || resyncing || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "check"
            } else {
                "resync"
            };
            synced = if sync.contains("PENDING") || sync.contains("DELAYED") {
                0.0
            } else {
                synced_blocks(sync).ok_or((sync_idx + 1, format!("bad progress line {sync:?}")))?
            };
        }
        out.push(MdStat {
            name: fields[0].to_string(),
            state,
            disks_active: active,
            disks_total: total,
            disks_failed: line.matches("(F)").count() as f64,
            disks_spare: line.matches("(S)").count() as f64,
            blocks_total: size,
            blocks_synced: synced,
        });
    }
    Ok(out)
}

/// (active disks, total disks, size in blocks) from the line after the
/// device line, e.g. `1953382400 blocks super 1.2 [2/2] [UU]`.
fn status_line(device_line: &str, status: &str) -> Option<(f64, f64, f64)> {
    let size: f64 = status.split_whitespace().next()?.parse().ok()?;
    if device_line.contains("raid0") || device_line.contains("linear") {
        // Members carry their role number in brackets: `sda1[0]`.
        let n = device_line.matches('[').count() as f64;
        return Some((n, n, size));
    }
    if device_line.contains("inactive") {
        return Some((0.0, 0.0, size));
    }
    let open = status.find(" [")? + 2;
    let close = open + status[open..].find(']')?;
    let (total, active) = status[open..close].split_once('/')?;
    Some((active.parse().ok()?, total.parse().ok()?, size))
}

/// The synced blocks of a progress line: `... (1220096/1953382400) ...`.
fn synced_blocks(line: &str) -> Option<f64> {
    let open = line.find('(')? + 1;
    let close = open + line[open..].find(')')?;
    line[open..close].split_once('/')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let got = match parse(input) {
            Ok(ds) => ds
                .iter()
                .map(|d| {
                    format!(
                        "{} {} active={} total={} failed={} spare={} blocks={} synced={}\n",
                        d.name,
                        d.state,
                        d.disks_active,
                        d.disks_total,
                        d.disks_failed,
                        d.disks_spare,
                        d.blocks_total,
                        d.blocks_synced
                    )
                })
                .collect(),
            Err((line, msg)) => format!("error at line {line}: {msg}\n"),
        };
        assert_eq!(got, expected, "input:\n{input}");
    }

    #[test]
    fn parses_mdstat() {
        check(
            "Personalities : [raid1] [raid0]\n\
             md1 : active raid1 sdb1[1] sda1[0](F) sdc1[2](S)\n      \
             1953382400 blocks super 1.2 [2/1] [U_]\n      \
             [>....................]  recovery =  0.1% (1220096/1953382400) finish=161.4min speed=201628K/sec\n      \
             bitmap: 0/15 pages [0KB], 65536KB chunk\n\n\
             md0 : active raid0 sdd1[1] sde1[0]\n      \
             4190208 blocks super 1.2 512k chunks\n\n\
             md2 : inactive sdf1[0](S)\n      \
             2095104 blocks super 1.2\n\n\
             unused devices: <none>\n",
            "md1 recovering active=1 total=2 failed=1 spare=1 blocks=1953382400 synced=1220096\n\
             md0 active active=2 total=2 failed=0 spare=0 blocks=4190208 synced=4190208\n\
             md2 inactive active=0 total=0 failed=0 spare=1 blocks=2095104 synced=2095104\n",
        );
        check(
            "md3 : active raid1 sda2[0] sdb2[1]\n      10 blocks [2/2] [UU]\n      resync=DELAYED\n",
            "md3 resync active=2 total=2 failed=0 spare=0 blocks=10 synced=0\n",
        );
        check(
            "md4 : active\n",
            "error at line 1: device without status line\n",
        );
        check(
            "md4 : active raid1 sda[0]\n      x blocks\n",
            "error at line 2: bad status line \"      x blocks\"\n",
        );
        check(
            "md5\n",
            "error at line 1: expected 3+ fields, got \"md5\"\n",
        );
    }
}
