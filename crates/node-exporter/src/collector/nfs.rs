//! NFS statistics: the client's from `/proc/net/rpc/nfs` (nfs) and the
//! kernel server's from `/proc/net/rpc/nfsd` (nfsd): network packets, RPC
//! counts and per-procedure request counts for NFS versions 2, 3 and 4.

use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::metric_set::MetricSet;

/// Procedure names of the `proc2` line, in kernel order.
const V2: &[&str] = &[
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];
/// Procedure names of the `proc3` line, in kernel order.
const V3: &[&str] = &[
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];
/// Client procedure names of the `proc4` line, in kernel order; older
/// kernels write fewer and the rest count as 0.
const V4: &[&str] = &[
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

pub struct Nfs(pub Arc<Config>);

impl Collector for Nfs {
    fn name(&self) -> &'static str {
        "nfs"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("net/rpc/nfs");
        let text = read_existing(&path)?;
        let (mut net, mut rpc) = (vec![0.0; 4], vec![0.0; 3]);
        let (mut v2, mut v3, mut v4) = (
            vec![0.0; V2.len()],
            vec![0.0; V3.len()],
            vec![0.0; V4.len()],
        );
        for (i, line) in text.lines().enumerate() {
            let mut it = line.split_whitespace();
            let Some(key) = it.next() else { continue };
            let vals: Vec<f64> = it
                .map(|v| v.parse::<u64>().map(|v| v as f64))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| {
                    Error::parse(&path, i + 1, format!("non-numeric field in {key} line"))
                })?;
            let bad = |msg: &str| Error::parse(&path, i + 1, format!("{key}: {msg}"));
            match key {
                "net" => copy_exact(&mut net, &vals).ok_or_else(|| bad("expected 4 values"))?,
                "rpc" => copy_exact(&mut rpc, &vals).ok_or_else(|| bad("expected 3 values"))?,
                "proc2" => copy_counted(&mut v2, &vals, V2.len())
                    .ok_or_else(|| bad("wrong value count"))?,
                "proc3" => copy_counted(&mut v3, &vals, V3.len())
                    .ok_or_else(|| bad("wrong value count"))?,
                "proc4" => {
                    copy_counted(&mut v4, &vals, 0).ok_or_else(|| bad("wrong value count"))?
                }
                _ => {}
            }
        }
        let packets = "Total NFSd network packets (sent+received) by protocol type.";
        out.counter(
            "node_nfs_packets_total",
            packets,
            &[("protocol", "udp")],
            net[1],
        );
        out.counter(
            "node_nfs_packets_total",
            packets,
            &[("protocol", "tcp")],
            net[2],
        );
        out.counter(
            "node_nfs_connections_total",
            "Total number of NFSd TCP connections.",
            &[],
            net[3],
        );
        out.counter(
            "node_nfs_rpcs_total",
            "Total number of RPCs performed.",
            &[],
            rpc[0],
        );
        out.counter(
            "node_nfs_rpc_retransmissions_total",
            "Number of RPC transmissions performed.",
            &[],
            rpc[1],
        );
        out.counter(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
            &[],
            rpc[2],
        );
        for (proto, names, vals) in [("2", V2, &v2), ("3", V3, &v3), ("4", V4, &v4)] {
            for (method, v) in names.iter().zip(vals.iter()) {
                out.counter(
                    "node_nfs_requests_total",
                    "Number of NFS procedures invoked.",
                    &[("method", method), ("proto", proto)],
                    *v,
                );
            }
        }
        Ok(())
    }
}

fn copy_exact(dst: &mut [f64], vals: &[f64]) -> Option<()> {
    (vals.len() == dst.len()).then(|| dst.copy_from_slice(vals))
}

/// `procN <count> v1 v2 ...`: the count must match the values and be at
/// least `min`; values beyond `dst` are ignored, missing ones stay 0.
fn copy_counted(dst: &mut [f64], vals: &[f64], min: usize) -> Option<()> {
    let (&count, rest) = vals.split_first()?;
    if count as usize != rest.len() || rest.len() < min {
        return None;
    }
    for (d, v) in dst.iter_mut().zip(rest) {
        *d = *v;
    }
    Some(())
}

/// Positions of the `proc4ops` line (after its count) that nfsd exports,
/// with their names; the others (unused slots, PUTPUBFH, PUTROOTFH and
/// the 4.1+ operations) are not exported, as in node_exporter.
const V4_OPS: &[(usize, &str)] = &[
    (3, "Access"),
    (4, "Close"),
    (5, "Commit"),
    (6, "Create"),
    (7, "DelegPurge"),
    (8, "DelegReturn"),
    (9, "GetAttr"),
    (10, "GetFH"),
    (11, "Link"),
    (12, "Lock"),
    (13, "Lockt"),
    (14, "Locku"),
    (15, "Lookup"),
    (16, "LookupRoot"),
    (17, "Nverify"),
    (18, "Open"),
    (19, "OpenAttr"),
    (20, "OpenConfirm"),
    (21, "OpenDgrd"),
    (22, "PutFH"),
    (25, "Read"),
    (26, "ReadDir"),
    (27, "ReadLink"),
    (28, "Remove"),
    (29, "Rename"),
    (30, "Renew"),
    (31, "RestoreFH"),
    (32, "SaveFH"),
    (33, "SecInfo"),
    (34, "SetAttr"),
    (35, "Verify"),
    (36, "Write"),
    (37, "RelLockOwner"),
];
/// `proc4ops` values an NFSv4.0 server writes at least.
const V4_OPS_MIN: usize = 38;

pub struct Nfsd(pub Arc<Config>);

/// The lines of `/proc/net/rpc/nfsd` by key, numbers only (the `th` line
/// carries float histogram values on old kernels; they are skipped).
/// Each key maps to its 1-based line number (for errors) and values.
type NfsdLines = std::collections::HashMap<String, (usize, Vec<f64>)>;

fn nfsd_lines(path: &std::path::Path, text: &str) -> Result<NfsdLines> {
    let mut lines = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_whitespace();
        let Some(key) = it.next() else { continue };
        let vals: Vec<f64> = it
            .map_while(|v| v.parse::<u64>().ok().map(|v| v as f64))
            .collect();
        if vals.is_empty() && key != "th" {
            return Err(Error::parse(
                path,
                i + 1,
                format!("{key}: no numeric values"),
            ));
        }
        lines.insert(key.to_string(), (i + 1, vals));
    }
    Ok(lines)
}

impl Collector for Nfsd {
    fn name(&self) -> &'static str {
        "nfsd"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("net/rpc/nfsd");
        let lines = nfsd_lines(&path, &read_existing(&path)?)?;
        let get = |key: &str, idx: usize| {
            lines
                .get(key)
                .and_then(|(_, v)| v.get(idx))
                .copied()
                .unwrap_or(0.0)
        };
        let c =
            |out: &mut MetricSet, name: &str, help: &str, v: f64| out.counter(name, help, &[], v);
        c(
            out,
            "node_nfsd_reply_cache_hits_total",
            "Total number of NFSd Reply Cache hits (client lost server response).",
            get("rc", 0),
        );
        c(
            out,
            "node_nfsd_reply_cache_misses_total",
            "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
            get("rc", 1),
        );
        c(
            out,
            "node_nfsd_reply_cache_nocache_total",
            "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/\u{2026}).",
            get("rc", 2),
        );
        c(
            out,
            "node_nfsd_file_handles_stale_total",
            "Total number of NFSd stale file handles",
            get("fh", 0),
        );
        c(
            out,
            "node_nfsd_disk_bytes_read_total",
            "Total NFSd bytes read.",
            get("io", 0),
        );
        c(
            out,
            "node_nfsd_disk_bytes_written_total",
            "Total NFSd bytes written.",
            get("io", 1),
        );
        out.gauge(
            "node_nfsd_server_threads",
            "Total number of NFSd kernel threads that are running.",
            &[],
            get("th", 0),
        );
        out.gauge(
            "node_nfsd_read_ahead_cache_size_blocks",
            "How large the read ahead cache is in blocks.",
            &[],
            get("ra", 0),
        );
        c(
            out,
            "node_nfsd_read_ahead_cache_not_found_total",
            "Total number of NFSd read ahead cache not found.",
            get("ra", 11),
        );
        let packets = "Total NFSd network packets (sent+received) by protocol type.";
        out.counter(
            "node_nfsd_packets_total",
            packets,
            &[("proto", "udp")],
            get("net", 1),
        );
        out.counter(
            "node_nfsd_packets_total",
            packets,
            &[("proto", "tcp")],
            get("net", 2),
        );
        c(
            out,
            "node_nfsd_connections_total",
            "Total number of NFSd TCP connections.",
            get("net", 3),
        );
        let errors = "Total number of NFSd RPC errors by error type.";
        for (label, idx) in [("fmt", 2), ("auth", 3), ("cInt", 4)] {
            out.counter(
                "node_nfsd_rpc_errors_total",
                errors,
                &[("error", label)],
                get("rpc", idx),
            );
        }
        c(
            out,
            "node_nfsd_server_rpcs_total",
            "Total number of NFSd RPCs.",
            get("rpc", 0),
        );
        if let Some((line, ops4)) = lines.get("proc4ops")
            && let Some((&n, rest)) = ops4.split_first()
            && (n as usize != rest.len() || rest.len() < V4_OPS_MIN)
        {
            return Err(Error::parse(&path, *line, "proc4ops: wrong value count"));
        }
        let requests = "Total number NFSd Requests by method and protocol.";
        // proc2/proc3 values follow their count; Null is not exported.
        for (proto, key, names) in [("2", "proc2", V2), ("3", "proc3", V3)] {
            for (i, method) in names.iter().enumerate().skip(1) {
                out.counter(
                    "node_nfsd_requests_total",
                    requests,
                    &[("method", method), ("proto", proto)],
                    get(key, i + 1),
                );
            }
        }
        for (idx, method) in V4_OPS {
            out.counter(
                "node_nfsd_requests_total",
                requests,
                &[("method", method), ("proto", "4")],
                get("proc4ops", idx + 1),
            );
        }
        Ok(())
    }
}
