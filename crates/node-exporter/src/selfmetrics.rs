//! The exporter's own metrics: `node_exporter_build_info` and the
//! `process_*` family set Prometheus client libraries expose.

use crate::metric_set::MetricSet;

/// The crate version, for `node_exporter_build_info` and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Go's name for this architecture, so dashboards that group by `goarch`
/// keep working.
fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

pub fn build_info(out: &mut MetricSet) {
    out.gauge(
        "node_exporter_build_info",
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which node_exporter was built, and the goos and goarch for the build.",
        &[
            ("branch", ""),
            ("goarch", goarch()),
            ("goos", std::env::consts::OS),
            ("goversion", "rust"),
            ("revision", option_env!("BEACON_REVISION").unwrap_or("unknown")),
            ("version", VERSION),
        ],
        1.0,
    );
}

/// `process_*` metrics of this process from `/proc/self`.
pub fn process(out: &mut MetricSet) {
    let proc_self = std::path::Path::new("/proc/self");
    if let Ok(stat) = crate::fsread::read_string(&proc_self.join("stat")) {
        // Fields after the parenthesised command name, which may hold spaces.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        // Indices are field number - 3 (pid and comm come before `rest`).
        let ticks = 100.0;
        out.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            &[],
            (num(11) + num(12)) / ticks,
        );
        out.gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            &[],
            num(20),
        );
        out.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            &[],
            num(21) * rustix::param::page_size() as f64,
        );
        if let Some(btime) = boot_time() {
            out.gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                &[],
                btime + num(19) / ticks,
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir(proc_self.join("fd")) {
        out.gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            &[],
            fds.count() as f64,
        );
    }
    // An unlimited address space is reported as the largest u64, as the
    // Go client does.
    let as_max = rustix::process::getrlimit(rustix::process::Resource::As).current;
    out.gauge(
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        &[],
        as_max.unwrap_or(u64::MAX) as f64,
    );
    if let Some(lim) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        out.gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            &[],
            lim as f64,
        );
    }
}

/// The boot time, read once: `/proc/stat` is costly to generate (it walks
/// every CPU and interrupt) and `btime` never changes.
fn boot_time() -> Option<f64> {
    static BOOT_TIME: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    *BOOT_TIME.get_or_init(|| {
        let stat = crate::fsread::read_string(std::path::Path::new("/proc/stat")).ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    })
}
