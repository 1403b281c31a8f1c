//! Golden fixtures: `testdata/v1/db` is a data directory written by format
//! version 1 (a block with float and histogram chunks and tombstones, a WAL
//! checkpoint, WAL segments with series, float and histogram samples,
//! tombstones, metadata and exemplar records). The
//! tests open it and check every sample, and check that today's writer
//! still produces byte-identical index, chunk, tombstone and WAL files, so
//! a format change cannot slip in without a new version.
//!
//! To re-create the fixtures after a deliberate format change (with a new
//! version number and a new `testdata/vN`), run with
//! `BEACON_TSDB_BLESS=1`.

use std::fs;
use std::path::{Path, PathBuf};

use beacon_model::{
    Exemplar, FloatHistogram, Histogram, Labels, Matcher, Metadata, MetricType, SeriesRef, Span,
};
use beacon_storage::{Appendable, Queryable, ValueType};
use beacon_tsdb::{Db, Options};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/v1/db")
}

fn opts() -> Options {
    Options {
        block_range_ms: 1000,
        ..Options::default()
    }
}

fn labels(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "golden"), ("i", &i.to_string())])
}

/// The samples the fixture holds (series i, time t) before deletion.
fn value(i: usize, t: i64) -> f64 {
    if t % 700 == 0 {
        beacon_model::stale_nan()
    } else {
        (t as f64) * 0.25 + i as f64
    }
}

/// Deleted from series 0: `[200, 300]`.
fn deleted(i: usize, t: i64) -> bool {
    i == 0 && (200..=300).contains(&t)
}

fn hist_labels() -> Labels {
    Labels::from_pairs([("__name__", "golden_hist")])
}

/// The histogram sample at `t`: integer and float kinds alternate.
fn histogram(t: i64) -> (Option<Histogram>, Option<FloatHistogram>) {
    let n = (t / 100) as u64;
    let h = Histogram {
        schema: 2,
        count: 4 + n,
        sum: 0.5 * n as f64,
        zero_count: 1,
        zero_threshold: 0.001,
        positive_spans: vec![Span {
            offset: -1,
            length: 2,
        }],
        positive_buckets: vec![1, n as i64 + 1],
        ..Histogram::default()
    };
    if t % 200 == 0 {
        (Some(h), None)
    } else {
        (None, Some(h.to_float()))
    }
}

fn metadata() -> Metadata {
    Metadata {
        metric_type: MetricType::Gauge,
        help: "A golden gauge.".into(),
        unit: "seconds".into(),
    }
}

fn exemplar() -> Exemplar {
    Exemplar {
        labels: Labels::from_pairs([("trace_id", "0af7651916cd43dd")]),
        value: 0.125,
        t: Some(2000),
    }
}

fn write_fixture(dir: &Path) {
    let db = Db::open(dir, opts()).unwrap();
    let mut app = db.appender();
    for t in (0..2500).step_by(100) {
        for i in 0..3 {
            app.append(SeriesRef::NONE, &labels(i), t, value(i, t))
                .unwrap();
        }
        let (h, fh) = histogram(t);
        app.append_histogram(SeriesRef::NONE, &hist_labels(), t, h.as_ref(), fh.as_ref())
            .unwrap();
        if t == 2000 {
            app.update_metadata(SeriesRef::NONE, &labels(1), &metadata())
                .unwrap();
            app.append_exemplar(SeriesRef::NONE, &labels(1), &exemplar())
                .unwrap();
        }
        app.commit().unwrap();
    }
    drop(app);
    db.compact_if_needed().unwrap();
    db.delete(200, 300, &[Matcher::equal("i", "0")]).unwrap();
    db.close().unwrap();
    let _ = fs::remove_file(dir.join("lock"));
    // Scratch space the next open rebuilds; not part of the fixture.
    let _ = fs::remove_dir_all(dir.join("chunks_head"));
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
        } else {
            fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// Files whose bytes must not change, keyed by a path without the ULID.
fn format_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "chunks_head" {
            continue;
        }
        if name == "wal" {
            for w in fs::read_dir(&p).unwrap() {
                let w = w.unwrap().path();
                let wn = w.file_name().unwrap().to_string_lossy().into_owned();
                if w.is_dir() {
                    out.push((
                        format!("wal/{wn}/00000000"),
                        fs::read(w.join("00000000")).unwrap(),
                    ));
                } else {
                    out.push((format!("wal/{wn}"), fs::read(&w).unwrap()));
                }
            }
        } else if p.is_dir() {
            let meta: serde_json::Value =
                serde_json::from_slice(&fs::read(p.join("meta.json")).unwrap()).unwrap();
            let key = format!("block@{}", meta["minTime"]);
            for f in ["index", "tombstones", "chunks/000001"] {
                out.push((format!("{key}/{f}"), fs::read(p.join(f)).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn v1_fixture_opens_with_every_sample() {
    if std::env::var_os("BEACON_TSDB_BLESS").is_some() {
        let _ = fs::remove_dir_all(golden());
        write_fixture(&golden());
    }
    assert!(
        golden().join("wal").exists(),
        "fixture missing at {}",
        golden().display()
    );
    let work = tempfile::tempdir().unwrap();
    copy_dir(&golden(), work.path());
    let db = Db::open(work.path(), opts()).unwrap();
    assert_eq!(db.blocks().len(), 1, "the fixture has one block");
    assert_eq!(db.stats().wal_corruptions_total, 0);
    let q = db.querier(0, 10_000).unwrap();
    let mut hs = q
        .select(&[Matcher::equal("__name__", "golden_hist")])
        .unwrap();
    assert_eq!(hs.len(), 1);
    for t in (0..2500).step_by(100) {
        let (h, fh) = histogram(t);
        match hs[0].samples.next() {
            ValueType::Histogram => assert_eq!(hs[0].samples.at_histogram(), (t, h.unwrap())),
            ValueType::FloatHistogram => {
                assert_eq!(hs[0].samples.at_float_histogram(), (t, fh.unwrap()))
            }
            other => panic!("t={t}: {other:?}"),
        }
    }
    assert_eq!(hs[0].samples.next(), ValueType::None);
    let series = q.select(&[Matcher::equal("__name__", "golden")]).unwrap();
    assert_eq!(series.len(), 3);
    for (i, mut s) in series.into_iter().enumerate() {
        assert_eq!(s.labels, labels(i));
        let mut got = Vec::new();
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            got.push((t, v.to_bits()));
        }
        let want: Vec<(i64, u64)> = (0..2500)
            .step_by(100)
            .filter(|t| !deleted(i, *t))
            .map(|t| (t, value(i, t).to_bits()))
            .collect();
        assert_eq!(got, want, "series {i}");
    }
}

#[test]
fn v1_writer_output_is_byte_identical() {
    let fresh = tempfile::tempdir().unwrap();
    write_fixture(fresh.path());
    let (want, got) = (format_files(&golden()), format_files(fresh.path()));
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want));
    for ((name, a), (_, b)) in got.iter().zip(&want) {
        assert!(
            a == b,
            "{name} differs from the v1 fixture: the format changed"
        );
    }
}
