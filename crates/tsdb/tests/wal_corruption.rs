//! WAL damage: the last segment cut at every byte offset of its last
//! records, flipped bytes, a zero-length segment, garbage segments. Opening
//! never panics, keeps every record before the damage (and every intact
//! record after damage in the middle), and counts what it dropped.

use std::fs;
use std::path::{Path, PathBuf};

use beacon_model::{Labels, SeriesRef};
use beacon_storage::{Appendable, Queryable, ValueType};
use beacon_tsdb::wal::{self, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use beacon_tsdb::{Db, Options};

const BATCHES: i64 = 40;

fn opts() -> Options {
    Options {
        wal_segment_size_bytes: 512,
        ..Options::default()
    }
}

/// Writes `BATCHES` commits of three samples each (one WAL samples record
/// per commit, plus series records) and returns the WAL directory.
fn build(dir: &Path) -> PathBuf {
    let db = Db::open(dir, opts()).unwrap();
    let mut app = db.appender();
    for b in 0..BATCHES {
        for s in 0..3 {
            let l = Labels::from_pairs([("__name__", "m"), ("s", &s.to_string())]);
            app.append(SeriesRef::NONE, &l, b * 10, (b * 3 + s) as f64)
                .unwrap();
        }
        app.commit().unwrap();
    }
    drop(app);
    db.close().unwrap();
    dir.join("wal")
}

/// Timestamps per series after reopening, plus the corruption count.
fn reopen(dir: &Path) -> (Vec<Vec<i64>>, u64) {
    let db = Db::open(dir, opts()).unwrap();
    let mut out = vec![Vec::new(); 3];
    let q = db.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
    for mut s in q.select(&[]).unwrap() {
        let ix: usize = s.labels.get("s").unwrap().parse().unwrap();
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            assert_eq!(v, (t / 10 * 3 + ix as i64) as f64);
            out[ix].push(t);
        }
    }
    let c = db.stats().wal_corruptions_total;
    db.close().unwrap();
    (out, c)
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        // Head chunk files are scratch (rebuilt from the WAL) and large.
        if e.file_name() == "chunks_head" {
            continue;
        }
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else if e.file_name() != "lock" {
            fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// Segments with records in them (the newest is empty after close reopen).
fn segments_with_records(wal_dir: &Path) -> Vec<PathBuf> {
    wal::list_segments(wal_dir)
        .unwrap()
        .into_iter()
        .map(|n| wal_dir.join(wal::segment_name(n)))
        .filter(|p| fs::metadata(p).unwrap().len() > SEGMENT_HEADER_LEN as u64)
        .collect()
}

/// Batches (all series alike) whose samples lie in segments before `seg`
/// or in `seg` before byte `cut`.
fn batches_before(wal_dir: &Path, seg: &Path, cut: usize) -> i64 {
    let mut n = 0;
    for p in segments_with_records(wal_dir) {
        let scan = wal::scan_segment(&p).unwrap();
        for r in &scan.records {
            if p == seg && r.end > cut {
                return n;
            }
            if let Ok(beacon_tsdb::record::Record::Samples(s)) =
                beacon_tsdb::record::decode(scan.payload(r))
            {
                n += (s.len() / 3) as i64;
            }
        }
        if p == seg {
            return n;
        }
    }
    n
}

#[test]
fn truncation_at_every_offset_keeps_everything_before() {
    let base = tempfile::tempdir().unwrap();
    let wal_dir = build(base.path());
    let segs = segments_with_records(&wal_dir);
    let last = segs.last().unwrap().clone();
    let scan = wal::scan_segment(&last).unwrap();
    assert!(
        scan.records.len() >= 3,
        "test needs records in the last segment"
    );
    let from = scan.records[scan.records.len() - 3].start;
    let len = scan.data.len();
    for cut in from..len {
        let work = tempfile::tempdir().unwrap();
        copy_dir(base.path(), work.path());
        let seg = work.path().join("wal").join(last.file_name().unwrap());
        fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let want = batches_before(&base.path().join("wal"), &last, cut);
        let (got, corruptions) = reopen(work.path());
        for s in &got {
            assert_eq!(s.len() as i64, want, "cut at {cut}: wrong sample count");
        }
        let at_boundary = scan.records.iter().any(|r| r.end == cut);
        assert_eq!(
            corruptions > 0,
            !at_boundary,
            "cut at {cut}: corruption count"
        );
        // The repaired WAL opens cleanly a second time.
        assert_eq!(
            reopen(work.path()).1,
            0,
            "cut at {cut}: repair did not stick"
        );
    }
}

#[test]
fn flipped_bytes_lose_only_the_damaged_record() {
    let base = tempfile::tempdir().unwrap();
    let wal_dir = build(base.path());
    let segs = segments_with_records(&wal_dir);
    assert!(segs.len() >= 3, "test needs several segments");
    let victim = segs[1].clone();
    let scan = wal::scan_segment(&victim).unwrap();
    for (i, r) in scan.records.iter().enumerate() {
        for off in [r.start, r.start + 4, r.start + RECORD_HEADER_LEN, r.end - 1] {
            let work = tempfile::tempdir().unwrap();
            copy_dir(base.path(), work.path());
            let seg = work.path().join("wal").join(victim.file_name().unwrap());
            let mut bytes = fs::read(&seg).unwrap();
            bytes[off] ^= 0x5a;
            fs::write(&seg, &bytes).unwrap();
            let (got, corruptions) = reopen(work.path());
            assert!(
                corruptions > 0,
                "record {i} offset {off}: damage not counted"
            );
            // The middle segment holds only samples records, one batch
            // each: exactly that batch is lost, nothing else.
            for s in &got {
                assert_eq!(s.len() as i64, BATCHES - 1, "record {i} offset {off}");
            }
        }
    }
}

#[test]
fn zero_length_and_garbage_segments_open() {
    let base = tempfile::tempdir().unwrap();
    let wal_dir = build(base.path());
    let next = wal::list_segments(&wal_dir).unwrap().last().unwrap() + 1;
    fs::write(wal_dir.join(wal::segment_name(next)), b"").unwrap();
    let (got, c) = reopen(base.path());
    assert_eq!(got[0].len() as i64, BATCHES);
    assert_eq!(c, 0);
    let next = wal::list_segments(&wal_dir).unwrap().last().unwrap() + 1;
    fs::write(wal_dir.join(wal::segment_name(next)), [0xffu8; 100]).unwrap();
    let (got, c) = reopen(base.path());
    assert_eq!(got[0].len() as i64, BATCHES);
    assert!(c > 0);
    let next = wal::list_segments(&wal_dir).unwrap().last().unwrap() + 1;
    fs::write(wal_dir.join(wal::segment_name(next)), [0u8; 3]).unwrap();
    let (got, _) = reopen(base.path());
    assert_eq!(got[0].len() as i64, BATCHES);
}
