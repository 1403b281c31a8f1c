//! Collectors that read one small file or make one system call: arp,
//! entropy, filefd, loadavg, os, selinux and uname.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

/// `node_arp_entries` per device from `/proc/net/arp`.
pub struct Arp(pub Arc<Config>);

impl Collector for Arp {
    fn name(&self) -> &'static str {
        "arp"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = read_existing(&self.0.proc("net/arp"))?;
        let mut per_device: BTreeMap<&str, f64> = BTreeMap::new();
        // The first line is the column header; the device is the 6th column.
        for line in text.lines().skip(1) {
            if let Some(dev) = line.split_whitespace().nth(5) {
                *per_device.entry(dev).or_default() += 1.0;
            }
        }
        for (dev, n) in per_device {
            out.gauge(
                "node_arp_entries",
                "ARP entries by device",
                &[("device", dev)],
                n,
            );
        }
        Ok(())
    }
}

/// The kernel entropy pool from `/proc/sys/kernel/random`.
pub struct Entropy(pub Arc<Config>);

impl Collector for Entropy {
    fn name(&self) -> &'static str {
        "entropy"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let avail = read_number(&self.0.proc("sys/kernel/random/entropy_avail"))?;
        out.gauge(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            &[],
            avail,
        );
        let pool = read_number(&self.0.proc("sys/kernel/random/poolsize"))?;
        out.gauge(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            &[],
            pool,
        );
        Ok(())
    }
}

fn read_number(path: &std::path::Path) -> Result<f64> {
    let text = read_existing(path)?;
    parse_f64(&text).ok_or_else(|| Error::parse(path, 1, format!("not a number: {text:?}")))
}

/// Open file handles from `/proc/sys/fs/file-nr`.
pub struct Filefd(pub Arc<Config>);

impl Collector for Filefd {
    fn name(&self) -> &'static str {
        "filefd"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("sys/fs/file-nr");
        let text = read_existing(&path)?;
        let f: Vec<f64> = text.split_whitespace().filter_map(parse_f64).collect();
        if f.len() != 3 {
            return Err(Error::parse(&path, 1, "expected 3 numbers"));
        }
        out.gauge(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            &[],
            f[0],
        );
        out.gauge(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            &[],
            f[2],
        );
        Ok(())
    }
}

/// Load averages from `/proc/loadavg`.
pub struct Loadavg(pub Arc<Config>);

impl Collector for Loadavg {
    fn name(&self) -> &'static str {
        "loadavg"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("loadavg");
        let text = read_existing(&path)?;
        let f: Vec<f64> = text
            .split_whitespace()
            .take(3)
            .filter_map(parse_f64)
            .collect();
        if f.len() != 3 {
            return Err(Error::parse(&path, 1, "expected 3 load averages"));
        }
        out.gauge("node_load1", "1m load average.", &[], f[0]);
        out.gauge("node_load5", "5m load average.", &[], f[1]);
        out.gauge("node_load15", "15m load average.", &[], f[2]);
        Ok(())
    }
}

/// The keys of os-release that become `node_os_info` labels.
const OS_INFO_KEYS: &[(&str, &str)] = &[
    ("BUILD_ID", "build_id"),
    ("ID", "id"),
    ("ID_LIKE", "id_like"),
    ("IMAGE_ID", "image_id"),
    ("IMAGE_VERSION", "image_version"),
    ("NAME", "name"),
    ("PRETTY_NAME", "pretty_name"),
    ("VARIANT", "variant"),
    ("VARIANT_ID", "variant_id"),
    ("VERSION", "version"),
    ("VERSION_CODENAME", "version_codename"),
    ("VERSION_ID", "version_id"),
];

/// The distribution from `os-release` under `--path.rootfs`.
pub struct Os(pub Arc<Config>);

impl Collector for Os {
    fn name(&self) -> &'static str {
        "os"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = match read_existing(&self.0.root("etc/os-release")) {
            Err(e) if e.is_no_data() => read_existing(&self.0.root("usr/lib/os-release"))?,
            r => r?,
        };
        let fields = parse_os_release(&text);
        let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
        let pairs: Vec<(&str, &str)> = OS_INFO_KEYS.iter().map(|(k, l)| (*l, get(k))).collect();
        out.gauge(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            &pairs,
            1.0,
        );
        out.gauge(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            &[
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("name", get("NAME")),
            ],
            major_minor(get("VERSION_ID")),
        );
        Ok(())
    }
}

/// The leading `major[.minor]` of a version string as a number; 0 when
/// there is none.
fn major_minor(v: &str) -> f64 {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let major = digits(v);
    if major == 0 {
        return 0.0;
    }
    let mut end = major;
    if v[major..].starts_with('.') {
        end = major + 1 + digits(&v[major + 1..]);
    }
    v[..end].trim_end_matches('.').parse().unwrap_or(0.0)
}

/// `KEY=value` lines, values unquoted as a shell would.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        m.insert(k.trim().to_string(), unquote(v.trim()));
    }
    m
}

fn unquote(v: &str) -> String {
    let bytes = v.as_bytes();
    if bytes.len() >= 2 && bytes[0] == bytes[bytes.len() - 1] && matches!(bytes[0], b'"' | b'\'') {
        let inner = &v[1..v.len() - 1];
        if bytes[0] == b'\'' {
            return inner.to_string();
        }
        let mut s = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    s.push(n);
                }
            } else {
                s.push(c);
            }
        }
        return s;
    }
    v.to_string()
}

/// SELinux state from selinuxfs under `--path.sysfs`.
pub struct Selinux(pub Arc<Config>);

impl Collector for Selinux {
    fn name(&self) -> &'static str {
        "selinux"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        const ENABLED_HELP: &str = "SELinux is enabled, 1 is true, 0 is false";
        let enforce = self.0.sys("fs/selinux/enforce");
        let Ok(current) = crate::fsread::read_f64(&enforce) else {
            out.gauge("node_selinux_enabled", ENABLED_HELP, &[], 0.0);
            return Ok(());
        };
        out.gauge("node_selinux_enabled", ENABLED_HELP, &[], 1.0);
        out.gauge(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
            &[],
            current,
        );
        let config = read_existing(&self.0.root("etc/selinux/config")).unwrap_or_default();
        let mode = match parse_os_release(&config).get("SELINUX").map(String::as_str) {
            Some("enforcing") => 1.0,
            Some("permissive") => 0.0,
            _ => -1.0,
        };
        out.gauge(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
            &[],
            mode,
        );
        Ok(())
    }
}

/// `node_uname_info` from the uname system call.
pub struct Uname;

impl Collector for Uname {
    fn name(&self) -> &'static str {
        "uname"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let u = rustix::system::uname();
        let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
        let (sysname, release, version) = (s(u.sysname()), s(u.release()), s(u.version()));
        let (machine, nodename, domainname) = (s(u.machine()), s(u.nodename()), s(u.domainname()));
        out.gauge(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            &[
                ("domainname", &domainname),
                ("machine", &machine),
                ("nodename", &nodename),
                ("release", &release),
                ("sysname", &sysname),
                ("version", &version),
            ],
            1.0,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_version_takes_major_minor() {
        for (v, want) in [
            ("12", 12.0),
            ("22.04", 22.04),
            ("9.3.1", 9.3),
            ("", 0.0),
            ("rolling", 0.0),
        ] {
            assert_eq!(major_minor(v), want, "{v:?}");
        }
    }

    #[test]
    fn os_release_unquotes() {
        let m = parse_os_release("A=\"x \\\"y\\\"\"\nB='z'\n#C=1\nD=plain\n");
        assert_eq!(m["A"], "x \"y\"");
        assert_eq!(m["B"], "z");
        assert_eq!(m["D"], "plain");
        assert!(!m.contains_key("#C"));
    }
}
