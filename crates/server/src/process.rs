//! Process metrics with the Go client's names (`process_*`), read from
//! `/proc/self` on Linux; elsewhere only the start time is known.

use beacon_exposition::family::MetricFamily;
use beacon_model::{Labels, MetricType};

fn gauge(out: &mut Vec<MetricFamily>, name: &str, help: &str, t: MetricType, v: f64) {
    let mut f = MetricFamily::new(name, help, t);
    f.push_value(Labels::empty(), v);
    out.push(f);
}

/// Appends the `process_*` families; `start_time_s` is when the server
/// started, in Unix seconds.
pub fn collect(out: &mut Vec<MetricFamily>, start_time_s: f64) {
    gauge(
        out,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        MetricType::Gauge,
        start_time_s,
    );
    if let Some((cpu_s, rss, vsize)) = stat() {
        gauge(
            out,
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            MetricType::Counter,
            cpu_s,
        );
        gauge(
            out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            MetricType::Gauge,
            rss,
        );
        gauge(
            out,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            MetricType::Gauge,
            vsize,
        );
    }
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            out,
            "process_open_fds",
            "Number of open file descriptors.",
            MetricType::Gauge,
            rd.count() as f64,
        );
    }
    if let Some(max) = max_fds() {
        gauge(
            out,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            MetricType::Gauge,
            max,
        );
    }
}

/// (cpu seconds, rss bytes, vsize bytes) from `/proc/self/stat`.
fn stat() -> Option<(f64, f64, f64)> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name is in parentheses and may hold spaces; fields
    // after it are positional.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields from `state` (3rd in proc(5)) on: utime 14, stime 15,
    // vsize 23, rss 24, so indices 11, 12, 20, 21 here.
    let ticks = clock_ticks();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let vsize: f64 = f.get(20)?.parse().ok()?;
    let rss_pages: f64 = f.get(21)?.parse().ok()?;
    Some(((utime + stime) / ticks, rss_pages * page_size(), vsize))
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as f64 } else { 4096.0 }
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_process_families() {
        let mut out = Vec::new();
        collect(&mut out, 12.5);
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert!(names.contains(&"process_start_time_seconds"));
        if cfg!(target_os = "linux") {
            assert!(names.contains(&"process_cpu_seconds_total"), "{names:?}");
            assert!(names.contains(&"process_resident_memory_bytes"));
            assert!(names.contains(&"process_open_fds"));
        }
    }
}
