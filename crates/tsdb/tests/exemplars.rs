//! Exemplar storage through the database: queries by matcher sets, the
//! bounded buffer and its resizing, Prometheus's append errors, the
//! self-metrics, and survival of restarts (WAL replay, checkpoints, a torn
//! WAL tail).

use std::fs;
use std::path::Path;

use beacon_model::{Exemplar, Labels, Matcher, SeriesRef};
use beacon_storage::{AppendError, Appendable, Error as StorageError, ExemplarQueryable};
use beacon_tsdb::{Db, Options};

fn l(name: &str) -> Labels {
    Labels::from_pairs([("__name__", name)])
}

fn ex(t: i64, trace: &str) -> Exemplar {
    Exemplar {
        labels: Labels::from_pairs([("trace_id", trace)]),
        value: t as f64 / 10.0,
        t: Some(t),
    }
}

fn opts(max_exemplars: usize) -> Options {
    Options {
        max_exemplars,
        ..Options::default()
    }
}

/// One commit per step: a sample and an exemplar for each series.
fn ingest(db: &Db, names: &[&str], steps: std::ops::Range<i64>) {
    for k in steps {
        let mut app = db.appender();
        for name in names {
            let t = k * 10;
            let r = app.append(SeriesRef::NONE, &l(name), t, 1.0).unwrap();
            app.append_exemplar(r, &l(name), &ex(t, &format!("{name}{k}")))
                .unwrap();
        }
        app.commit().unwrap();
    }
}

/// Every exemplar of every series, as (series name, exemplar times).
fn all(db: &Db) -> Vec<(String, Vec<i64>)> {
    db.select_exemplars(i64::MIN, i64::MAX, &[vec![]])
        .unwrap()
        .into_iter()
        .map(|s| {
            let name = s.labels.get("__name__").unwrap_or("").to_owned();
            (name, s.exemplars.iter().filter_map(|e| e.t).collect())
        })
        .collect()
}

#[test]
fn select_by_matcher_sets_sorted_by_labels_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(100)).unwrap();
    ingest(&db, &["c", "a", "b"], 0..3);
    let sets = [
        vec![Matcher::equal("__name__", "c")],
        vec![Matcher::equal("__name__", "a")],
    ];
    let got = db.select_exemplars(10, 20, &sets).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels, l("a"));
    assert_eq!(got[0].exemplars, vec![ex(10, "a1"), ex(20, "a2")]);
    assert_eq!(got[1].labels, l("c"));
    assert!(db.select_exemplars(0, 100, &[]).unwrap().is_empty());
    assert!(db.select_exemplars(0, 100, &[vec![]]).unwrap().len() == 3);
    assert!(db.select_exemplars(5, 4, &[vec![]]).is_err());
}

#[test]
fn prometheus_errors_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(100)).unwrap();
    let mut app = db.appender();
    let r = app.append(SeriesRef::NONE, &l("m"), 100, 1.0).unwrap();
    app.append_exemplar(r, &l("m"), &ex(100, "a")).unwrap();
    app.commit().unwrap();
    // A scrape repeats the exemplar: silently ignored, not stored twice.
    app.append_exemplar(r, &l("m"), &ex(100, "a")).unwrap();
    let e = app.append_exemplar(r, &l("m"), &ex(90, "b")).unwrap_err();
    assert!(
        matches!(e, StorageError::Append(AppendError::OutOfOrderExemplar)),
        "{e}"
    );
    let long = "é".repeat(121);
    let e = app
        .append_exemplar(r, &l("m"), &ex(200, &long))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("label length for exemplar exceeds maximum of 128 UTF-8 characters"),
        "{e}"
    );
    // Out of order inside one batch: refused at commit and counted.
    app.append_exemplar(r, &l("m"), &ex(300, "c")).unwrap();
    app.append_exemplar(r, &l("m"), &ex(250, "d")).unwrap();
    app.commit().unwrap();
    drop(app);
    assert_eq!(all(&db), vec![("m".into(), vec![100, 300])]);
    let s = db.stats();
    assert_eq!(s.exemplars_appended_total, 2);
    assert_eq!(s.exemplars_in_storage, 2);
    assert_eq!(s.series_with_exemplars_in_storage, 1);
    assert_eq!(s.max_exemplars, 100);
    assert_eq!(s.exemplars_oldest_seconds, Some(0.1));
    assert_eq!(s.exemplars_out_of_order_total, 1);
}

#[test]
fn bounded_buffer_resizes_and_disables() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(4)).unwrap();
    ingest(&db, &["a", "b"], 0..5);
    assert_eq!(
        all(&db),
        vec![("a".into(), vec![30, 40]), ("b".into(), vec![30, 40])]
    );
    db.set_max_exemplars(3).unwrap();
    assert_eq!(
        all(&db),
        vec![("a".into(), vec![40]), ("b".into(), vec![30, 40])]
    );
    db.set_max_exemplars(0).unwrap();
    assert!(all(&db).is_empty());
    ingest(&db, &["a"], 5..6);
    assert!(all(&db).is_empty(), "0 disables storage without errors");
    assert_eq!(db.stats().max_exemplars, 0);
    assert!(db.set_max_exemplars(usize::MAX).is_err());
    assert!(Db::open(tempfile::tempdir().unwrap().path(), opts(usize::MAX)).is_err());
}

#[test]
fn replayed_after_restart_and_through_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = Db::open(dir.path(), opts(5)).unwrap();
        ingest(&db, &["a", "b"], 0..4);
        let got = all(&db);
        db.close().unwrap();
        got
    };
    assert_eq!(
        before,
        vec![("a".into(), vec![20, 30]), ("b".into(), vec![10, 20, 30])]
    );
    {
        // The same buffer size keeps the same exemplars after replay.
        let db = Db::open(dir.path(), opts(5)).unwrap();
        assert_eq!(all(&db), before);
        db.close().unwrap();
    }
    let small = Options {
        block_range_ms: 100,
        ..opts(100)
    };
    {
        let db = Db::open(dir.path(), small.clone()).unwrap();
        ingest(&db, &["a"], 20..30);
        // Cuts [0, 100) into a block and checkpoints the WAL: exemplars
        // from 100 on stay.
        db.compact_head(0, 100).unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), small).unwrap();
    let a: Vec<i64> = (20..30).map(|k| k * 10).collect();
    assert_eq!(all(&db), vec![("a".into(), a)]);
}

fn last_segment(wal: &Path) -> std::path::PathBuf {
    let segs = beacon_tsdb::wal::list_segments(wal).unwrap();
    segs.iter()
        .rev()
        .map(|n| wal.join(beacon_tsdb::wal::segment_name(*n)))
        .find(|p| fs::metadata(p).unwrap().len() > 8)
        .expect("a segment with records")
}

#[test]
fn torn_wal_tail_keeps_earlier_exemplars() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts(100)).unwrap();
        ingest(&db, &["a"], 0..3);
        db.close().unwrap();
    }
    // The last record written is the last commit's exemplar record.
    let seg = last_segment(&dir.path().join("wal"));
    let len = fs::metadata(&seg).unwrap().len();
    for cut in [1, 5, 12] {
        let copy = tempfile::tempdir().unwrap();
        fs::create_dir_all(copy.path().join("wal")).unwrap();
        for ent in fs::read_dir(dir.path().join("wal")).unwrap() {
            let p = ent.unwrap().path();
            fs::copy(&p, copy.path().join("wal").join(p.file_name().unwrap())).unwrap();
        }
        let torn = copy.path().join("wal").join(seg.file_name().unwrap());
        fs::OpenOptions::new()
            .write(true)
            .open(&torn)
            .unwrap()
            .set_len(len - cut)
            .unwrap();
        let db = Db::open(copy.path(), opts(100)).unwrap();
        assert_eq!(all(&db), vec![("a".into(), vec![0, 10])], "cut {cut}");
        assert_eq!(db.stats().wal_corruptions_total, 1);
        // The database goes on taking exemplars after the repair.
        ingest(&db, &["a"], 3..4);
        assert_eq!(all(&db), vec![("a".into(), vec![0, 10, 30])]);
    }
}
