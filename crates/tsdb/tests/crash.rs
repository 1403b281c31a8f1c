//! Crash test: a child process (this test binary, re-run with an
//! environment variable) appends batches and reports each acknowledged one
//! on stdout; the parent kills it with SIGKILL at random moments — mid
//! write, mid compaction, mid checkpoint — and after every restart checks
//! that each acknowledged batch is there, whole, and that nothing
//! unacknowledged is partial or wrong.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use beacon_model::{Labels, SeriesRef};
use beacon_storage::{Appendable, Queryable, ValueType};
use beacon_tsdb::{Db, Options};

const CHILD_DIR: &str = "BEACON_TSDB_CRASH_DIR";
const CHILD_START: &str = "BEACON_TSDB_CRASH_START";
const SERIES: usize = 20;
const STEP_MS: i64 = 100;
const ITERATIONS: usize = 60;

fn opts() -> Options {
    Options {
        // Small ranges and segments so crashes hit compaction, checkpoints
        // and segment rotation too.
        block_range_ms: 3_000,
        wal_segment_size_bytes: 16 * 1024,
        ..Options::default()
    }
}

fn labels(s: usize) -> Labels {
    Labels::from_pairs([("__name__", "crash"), ("s", &s.to_string())])
}

fn value(batch: i64, s: usize) -> f64 {
    (batch * 1000 + s as i64) as f64
}

/// The child: appends batches from `start` on, forever, until killed.
fn child(dir: &Path, start: i64, out: &mut dyn Write) {
    let db = Db::open(dir, opts()).expect("child opens db");
    let mut refs = [SeriesRef::NONE; SERIES];
    let mut app = db.appender();
    for batch in start.. {
        for (s, r) in refs.iter_mut().enumerate() {
            *r = app
                .append(*r, &labels(s), batch * STEP_MS, value(batch, s))
                .expect("append");
        }
        app.commit().expect("commit");
        writeln!(out, "ack {batch}").expect("report");
        out.flush().expect("flush");
        if batch % 7 == 0 {
            db.compact_if_needed().expect("compact");
        }
    }
}

/// Batches present per series, checked for whole-batch atomicity.
fn present_batches(dir: &Path) -> Vec<i64> {
    let db = Db::open(dir, opts()).expect("reopen after kill");
    let q = db.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
    let mut per_series: Vec<Vec<i64>> = vec![Vec::new(); SERIES];
    for mut s in q.select(&[]).unwrap() {
        let ix: usize = s.labels.get("s").unwrap().parse().unwrap();
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            let batch = t / STEP_MS;
            assert_eq!(v, value(batch, ix), "wrong value at t={t}");
            per_series[ix].push(batch);
        }
        assert!(s.samples.err().is_none());
    }
    for p in &per_series[1..] {
        assert_eq!(p, &per_series[0], "a batch is only partly present");
    }
    let got = per_series.swap_remove(0);
    let want: Vec<i64> = (0..got.len() as i64).collect();
    assert_eq!(got, want, "batches missing in the middle");
    db.close().unwrap();
    got
}

#[test]
fn kill9_loses_no_acknowledged_batch() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let start = std::env::var(CHILD_START).unwrap().parse().unwrap();
        child(Path::new(&dir), start, &mut std::io::stdout());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = 0i64;
    let mut acked_total = 0;
    for _ in 0..ITERATIONS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let wait_acks = (rng % 25) as i64;
        let mut proc = Command::new(&exe)
            .args([
                "--exact",
                "kill9_loses_no_acknowledged_batch",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_START, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut last_ack = next - 1;
        let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
        while last_ack < next + wait_acks {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(n) = line.strip_prefix("ack ") {
                last_ack = n.parse().unwrap();
            }
        }
        // SIGKILL, possibly mid-commit of the batch after `last_ack`.
        proc.kill().unwrap();
        let _ = proc.wait();
        // Acks sent before the kill but not yet read still count.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("ack ") {
                last_ack = n.parse().unwrap();
            }
        }
        let present = present_batches(dir.path());
        let max_present = present.last().copied().unwrap_or(-1);
        assert!(
            max_present >= last_ack,
            "acknowledged batch {last_ack} lost (have up to {max_present})"
        );
        acked_total += last_ack - next + 1;
        next = max_present + 1;
    }
    assert!(
        acked_total > ITERATIONS as i64,
        "children acknowledged too little to test anything"
    );
}
