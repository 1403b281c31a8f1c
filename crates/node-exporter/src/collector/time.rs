//! The system clock (time) and the kernel's NTP discipline state (timex).

use std::sync::Arc;

use crate::collector::{Collector, Config};
use crate::error::{Error, Result};
use crate::fsread::{list_dir, read_trimmed};
use crate::metric_set::MetricSet;

/// `node_time_seconds`, the local zone's offset, and clocksources.
pub struct Time(pub Arc<Config>);

impl Collector for Time {
    fn name(&self) -> &'static str {
        "time"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        out.gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            &[],
            now.as_nanos() as f64 / 1e9,
        );
        let (zone, offset_s) = local_zone(now.as_secs() as i64);
        out.gauge(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            &[("time_zone", &zone)],
            offset_s as f64,
        );
        clocksources(&self.0, out);
        Ok(())
    }
}

/// The local zone's abbreviation and UTC offset at `unix_s`.
fn local_zone(unix_s: i64) -> (String, i64) {
    let t: libc::time_t = unix_s as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills; a zeroed tm is a
    // valid value for it to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the
    // re-entrant variant and keeps no reference to them.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok || tm.tm_zone.is_null() {
        return ("UTC".to_string(), 0);
    }
    // SAFETY: tm_zone points at a NUL-terminated string owned by libc's
    // zone tables, valid for the life of the process.
    let zone = unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) };
    (zone.to_string_lossy().into_owned(), tm.tm_gmtoff as i64)
}

fn clocksources(cfg: &Config, out: &mut MetricSet) {
    let base = cfg.sys("devices/system/clocksource");
    let Ok(names) = list_dir(&base) else { return };
    for name in names {
        let Some(device) = name.strip_prefix("clocksource") else {
            continue;
        };
        let dir = base.join(&name);
        if let Ok(avail) = read_trimmed(&dir.join("available_clocksource")) {
            for cs in avail.split_whitespace() {
                out.gauge(
                    "node_time_clocksource_available_info",
                    "Available clocksources read from '/sys/devices/system/clocksource'.",
                    &[("clocksource", cs), ("device", device)],
                    1.0,
                );
            }
        }
        if let Ok(cur) = read_trimmed(&dir.join("current_clocksource")) {
            out.gauge(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                &[("clocksource", &cur), ("device", device)],
                1.0,
            );
        }
    }
}

/// The kernel's NTP state from `adjtimex(2)`, queried read-only.
pub struct Timex;

/// `adjtimex` status bit: offsets are in nanoseconds instead of microseconds.
const STA_NANO: i32 = 0x2000;
/// `adjtimex` return value meaning the clock is not synchronised.
const TIME_ERROR: i32 = 5;
/// Frequencies are ppm scaled by 2^16.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;

impl Collector for Timex {
    fn name(&self) -> &'static str {
        "timex"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        // SAFETY: timex is plain data; modes = 0 makes adjtimex read only.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: `tx` is a valid, exclusively borrowed timex.
        let state = unsafe { libc::adjtimex(&mut tx) };
        if state == -1 {
            return Err(Error::Sys {
                call: "adjtimex",
                source: std::io::Error::last_os_error(),
            });
        }
        let divisor = if tx.status & STA_NANO != 0 { 1e9 } else { 1e6 };
        let sync = if state == TIME_ERROR { 0.0 } else { 1.0 };
        let g = |out: &mut MetricSet, n: &str, h: &str, v: f64| out.gauge(n, h, &[], v);
        g(
            out,
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            sync,
        );
        g(
            out,
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            tx.offset as f64 / divisor,
        );
        g(
            out,
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + tx.freq as f64 / PPM16FRAC,
        );
        g(
            out,
            "node_timex_maxerror_seconds",
            "Maximum error in seconds.",
            tx.maxerror as f64 / 1e6,
        );
        g(
            out,
            "node_timex_estimated_error_seconds",
            "Estimated error in seconds.",
            tx.esterror as f64 / 1e6,
        );
        g(
            out,
            "node_timex_status",
            "Value of the status array bits.",
            tx.status as f64,
        );
        g(
            out,
            "node_timex_loop_time_constant",
            "Phase-locked loop time constant.",
            tx.constant as f64,
        );
        g(
            out,
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            tx.tick as f64 / 1e6,
        );
        g(
            out,
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            tx.ppsfreq as f64 / PPM16FRAC,
        );
        g(
            out,
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            tx.jitter as f64 / divisor,
        );
        g(
            out,
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            tx.shift as f64,
        );
        g(
            out,
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            tx.stabil as f64 / PPM16FRAC,
        );
        g(
            out,
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            tx.tai as f64,
        );
        let c = |out: &mut MetricSet, n: &str, h: &str, v: f64| out.counter(n, h, &[], v);
        c(
            out,
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            tx.jitcnt as f64,
        );
        c(
            out,
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            tx.calcnt as f64,
        );
        c(
            out,
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            tx.errcnt as f64,
        );
        c(
            out,
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            tx.stbcnt as f64,
        );
        Ok(())
    }
}
