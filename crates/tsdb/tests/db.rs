//! Database behaviour beyond the model test: bad input, the out-of-order
//! window, deletion and tombstone cleaning, retention, the directory lock,
//! snapshots, and stats.

use beacon_model::{Labels, Matcher, SeriesRef, Timestamp};
use beacon_storage::{AppendError, Appendable, Error as StorageError, Queryable, ValueType};
use beacon_tsdb::{Db, Error, Options};

fn l(name: &str) -> Labels {
    Labels::from_pairs([("__name__", name)])
}

fn samples(db: &Db, mint: i64, maxt: i64, name: &str) -> Vec<(i64, u64)> {
    let q = db.querier(mint, maxt).unwrap();
    let mut out = Vec::new();
    for mut s in q.select(&[Matcher::equal("__name__", name)]).unwrap() {
        while s.samples.next() == ValueType::Float {
            let (t, v) = s.samples.at();
            out.push((t, v.to_bits()));
        }
    }
    out
}

fn append_err(db: &Db, labels: &Labels, t: i64, v: f64) -> Option<StorageError> {
    let mut app = db.appender();
    let r = app.append(SeriesRef::NONE, labels, t, v).err();
    app.commit().unwrap();
    r
}

fn check_rejected(labels: Labels, t: i64, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let e = append_err(&db, &labels, t, 1.0).expect("append must fail");
    assert!(
        e.to_string().contains(expected),
        "{e} does not mention {expected:?}"
    );
}

#[test]
fn bad_input_is_refused_clearly() {
    check_rejected(Labels::empty(), 0, "empty label set");
    let many: Vec<(String, String)> = (0..1100)
        .map(|i| (format!("l{i:04}"), "v".into()))
        .collect();
    check_rejected(
        Labels::from_pairs(many.iter().map(|(a, b)| (a.as_str(), b.as_str()))),
        0,
        "1100 labels",
    );
    let long = "x".repeat(70_000);
    check_rejected(
        Labels::from_pairs([("__name__", "m"), ("big", long.as_str())]),
        0,
        "longer than",
    );
    check_rejected(l("m"), i64::MIN, "out of bounds");
    check_rejected(l("m"), i64::MAX, "out of bounds");
}

#[test]
fn special_values_and_extreme_valid_times_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let vals = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        f64::MAX,
        f64::MIN_POSITIVE,
    ];
    let mut app = db.appender();
    let mut want = Vec::new();
    for (i, v) in vals.iter().enumerate() {
        let t = Timestamp::MIN.0 + i as i64;
        app.append(SeriesRef::NONE, &l("lo"), t, *v).unwrap();
        want.push((t, v.to_bits()));
    }
    app.append(SeriesRef::NONE, &l("hi"), Timestamp::MAX.0, 1.0)
        .unwrap();
    app.commit().unwrap();
    drop(app);
    assert_eq!(samples(&db, i64::MIN, i64::MAX, "lo"), want);
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(samples(&db, i64::MIN, i64::MAX, "lo"), want);
    assert_eq!(
        samples(&db, i64::MIN, i64::MAX, "hi"),
        vec![(Timestamp::MAX.0, 1f64.to_bits())]
    );
}

#[test]
fn out_of_order_window() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        ooo_window_ms: 1000,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let mut app = db.appender();
    app.append(SeriesRef::NONE, &l("m"), 10_000, 1.0).unwrap();
    app.commit().unwrap();
    app.append(SeriesRef::NONE, &l("m"), 9_500, 2.0).unwrap();
    app.commit().unwrap();
    let e = app
        .append(SeriesRef::NONE, &l("m"), 8_000, 3.0)
        .unwrap_err();
    assert!(
        matches!(e, StorageError::Append(AppendError::OutOfOrderSample)),
        "{e}"
    );
    drop(app);
    let want = vec![(9_500, 2f64.to_bits()), (10_000, 1f64.to_bits())];
    assert_eq!(samples(&db, 0, 20_000, "m"), want);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(samples(&db, 0, 20_000, "m"), want, "after replay");
}

fn fill(db: &Db, names: &[&str], from: i64, to: i64, step: i64) {
    let mut app = db.appender();
    let mut t = from;
    while t < to {
        for name in names {
            app.append(SeriesRef::NONE, &l(name), t, t as f64).unwrap();
        }
        t += step;
    }
    app.commit().unwrap();
}

fn small_opts() -> Options {
    Options {
        block_range_ms: 1000,
        retention_ms: 100_000,
        ..Options::default()
    }
}

#[test]
fn delete_and_clean_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    fill(&db, &["m", "keep"], 0, 5000, 100);
    assert!(db.compact_if_needed().unwrap());
    assert!(!db.blocks().is_empty());
    db.delete(500, 3500, &[Matcher::equal("__name__", "m")])
        .unwrap();
    let check = |db: &Db| {
        let got: Vec<i64> = samples(db, 0, 10_000, "m").iter().map(|s| s.0).collect();
        let want: Vec<i64> = (0..50)
            .map(|i| i * 100)
            .filter(|t| !(500..=3500).contains(t))
            .collect();
        assert_eq!(got, want);
        assert_eq!(samples(db, 0, 10_000, "keep").len(), 50);
    };
    check(&db);
    db.clean_tombstones().unwrap();
    assert!(db.blocks().iter().all(|b| !b.has_tombstones()));
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    check(&db);
}

fn retention_opts() -> Options {
    // Compaction levels 1 s and 3 s; blocks older than 30 s go.
    Options {
        retention_ms: 30_000,
        ..small_opts()
    }
}

#[test]
fn retention_by_time_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), retention_opts()).unwrap();
    for k in 0..12 {
        fill(&db, &["m"], k * 5000, (k + 1) * 5000, 100);
        db.compact_if_needed().unwrap();
    }
    let oldest = db.blocks().first().unwrap().meta().min_time;
    assert!(
        oldest >= 60_000 - 30_000 - 3_000,
        "time retention kept {oldest}"
    );
    assert!(db.stats().retention_deletions_total > 0);
    assert!(
        db.blocks().iter().any(|b| b.meta().compaction.level > 1),
        "no leveled compaction"
    );
    drop(db);
    let total: u64 = Db::open(dir.path(), retention_opts())
        .unwrap()
        .stats()
        .blocks_bytes;
    let opts = Options {
        retention_bytes: total / 2,
        ..retention_opts()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    fill(&db, &["m"], 60_000, 61_000, 100);
    db.compact_if_needed().unwrap();
    assert!(db.stats().blocks_bytes <= total / 2);
}

#[test]
fn directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), Options::default()).unwrap();
    let e = Db::open(dir.path(), Options::default()).unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
}

#[test]
fn snapshot_links_blocks_and_persists_head() {
    let dir = tempfile::tempdir().unwrap();
    let snap = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    fill(&db, &["m"], 0, 5000, 100);
    db.compact_if_needed().unwrap();
    db.snapshot(snap.path().join("s"), true).unwrap();
    let opts = Options {
        wal: false,
        ..small_opts()
    };
    let copy = Db::open(snap.path().join("s"), opts).unwrap();
    assert_eq!(samples(&copy, 0, 10_000, "m"), samples(&db, 0, 10_000, "m"));
    assert_eq!(samples(&copy, 0, 10_000, "m").len(), 50);
}

#[test]
fn wal_off_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        wal: false,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, &["m"], 0, 1000, 10);
    let st = db.stats();
    assert_eq!(st.head_series, 1);
    assert_eq!(st.head_chunks, 1);
    assert_eq!(st.head_samples_appended_total, 100);
    assert_eq!(st.head_min_time, Some(0));
    db.close().unwrap();
    assert!(!dir.path().join("wal").exists());
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(db.stats().head_series, 0);
}

/// A block directory after `fill` and compaction, closed.
fn one_block() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    fill(&db, &["m"], 0, 5000, 100);
    db.compact_if_needed().unwrap();
    let block = db.blocks()[0].dir().to_path_buf();
    db.close().unwrap();
    (dir, block)
}

fn flip(path: &std::path::Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    let at = at.min(b.len() - 1);
    b[at] ^= 0x20;
    std::fs::write(path, b).unwrap();
}

#[test]
fn damaged_block_files_are_errors_naming_the_file() {
    // A damaged chunk surfaces when read, as an error naming the file.
    let (dir, block) = one_block();
    flip(&block.join("chunks/000001"), 20);
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let e = db.querier(0, 10_000).unwrap().select(&[]).unwrap_err();
    assert!(e.to_string().contains("000001"), "{e}");
    drop(db);
    // A damaged index, tombstones file or meta.json stops the open.
    for (file, at) in [("index", 30), ("tombstones", 9), ("meta.json", 3)] {
        let (dir, block) = one_block();
        flip(&block.join(file), at);
        let e = Db::open(dir.path(), small_opts()).unwrap_err();
        assert!(matches!(e, Error::Corruption { .. }), "{file}: {e}");
        assert!(e.to_string().contains(file), "{file}: {e}");
    }
}

#[test]
fn db_is_shareable_across_threads() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Db>();
    check::<std::sync::Arc<Db>>();
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Db::open(dir.path(), Options::default()).unwrap());
    let writers: Vec<_> = (0..4)
        .map(|k| {
            let db = db.clone();
            std::thread::spawn(move || {
                let name = format!("w{k}");
                fill(&db, &[name.as_str()], 0, 1000, 10);
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(db.stats().head_samples_appended_total, 400);
}

#[test]
fn metadata_is_logged_and_replayed() {
    use beacon_model::{Metadata, MetricType};
    let dir = tempfile::tempdir().unwrap();
    let m = Metadata {
        metric_type: MetricType::Counter,
        help: "Requests served.".into(),
        unit: "requests".into(),
    };
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut app = db.appender();
        let r = app
            .update_metadata(SeriesRef::NONE, &l("reqs"), &m)
            .unwrap();
        app.append(r, &l("reqs"), 10, 1.0).unwrap();
        app.commit().unwrap();
        drop(app);
        assert_eq!(db.head().metadata(&l("reqs")), Some(m.clone()));
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.head().metadata(&l("reqs")), Some(m));
    assert_eq!(db.head().metadata(&l("other")), None);
}

#[test]
fn exemplars_are_stored_ordered_and_replayed() {
    use beacon_model::Exemplar;
    let dir = tempfile::tempdir().unwrap();
    let ex = |t: i64, trace: &str| Exemplar {
        labels: Labels::from_pairs([("trace_id", trace)]),
        value: 0.25,
        t: Some(t),
    };
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut app = db.appender();
        let r = app.append(SeriesRef::NONE, &l("lat"), 100, 1.0).unwrap();
        app.append_exemplar(r, &l("lat"), &ex(100, "a")).unwrap();
        // Without a time, an exemplar takes its sample's.
        let untimed = Exemplar {
            t: None,
            ..ex(0, "b")
        };
        app.append(r, &l("lat"), 200, 2.0).unwrap();
        app.append_exemplar(r, &l("lat"), &untimed).unwrap();
        app.commit().unwrap();
        let e = app.append_exemplar(r, &l("lat"), &ex(50, "c")).unwrap_err();
        assert!(
            matches!(e, StorageError::Append(AppendError::OutOfOrderExemplar)),
            "{e}"
        );
        let long = "x".repeat(200);
        assert!(app.append_exemplar(r, &l("lat"), &ex(300, &long)).is_err());
        drop(app);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let got = db
        .head()
        .exemplars(&[Matcher::equal("__name__", "lat")], 0, 1000);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, vec![ex(100, "a"), ex(200, "b")]);
    assert!(db.head().exemplars(&[], 150, 1000)[0].1.len() == 1);
}

#[test]
fn replay_progress_walks_the_segments() {
    use beacon_tsdb::record::{RefSample, encode_samples};
    use beacon_tsdb::wal::{ReplayProgress, Wal, WalOptions, replay_with_progress};
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::create(dir.path(), 0, WalOptions::default()).unwrap();
    for i in 0..5 {
        let mut buf = Vec::new();
        encode_samples(
            &mut buf,
            &[RefSample {
                id: 1,
                t: i,
                v: 0.0,
            }],
        );
        w.log(&[&buf]).unwrap();
        w.rotate().unwrap();
    }
    drop(w);
    let progress = ReplayProgress::new();
    let mut seen = Vec::new();
    let stats =
        replay_with_progress(dir.path(), &progress, |_| seen.push(progress.status())).unwrap();
    assert_eq!(stats.records, 5);
    assert_eq!(seen.len(), 5);
    for (i, s) in seen.iter().enumerate() {
        assert_eq!((s.min, s.max, s.done), (1, 6, false), "{s:?}");
        // The reader runs ahead of the applier, never behind it.
        assert!(s.current > i as u32 && s.current <= 6, "{s:?}");
    }
    assert!(seen.windows(2).all(|w| w[0].current <= w[1].current));
}

#[test]
fn db_open_reports_replay_progress_to_another_thread() {
    use beacon_tsdb::ReplayProgress;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        wal_segment_size_bytes: 4096,
        ..Options::default()
    };
    {
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        for k in 0..20 {
            fill(&db, &["a", "b", "c"], k * 1000, (k + 1) * 1000, 10);
        }
        db.close().unwrap();
    }
    let segments = beacon_tsdb::wal::list_segments(&dir.path().join("wal")).unwrap();
    assert!(segments.len() > 3, "{segments:?}");
    let progress = Arc::new(ReplayProgress::new());
    let opener = {
        let (p, path, opts) = (progress.clone(), dir.path().to_path_buf(), opts.clone());
        std::thread::spawn(move || Db::open_with_progress(path, opts, &p))
    };
    let mut last = 0;
    // Stops when open returns, also if it failed without marking done.
    while !progress.status().done && !opener.is_finished() {
        let s = progress.status();
        assert!(
            s.current >= last && s.current <= s.max.max(s.current),
            "{s:?}"
        );
        last = s.current;
        std::thread::yield_now();
    }
    let db = opener.join().unwrap().unwrap();
    let s = progress.status();
    assert_eq!(
        (s.min, s.max, s.current),
        (segments[0], *segments.last().unwrap(), s.max)
    );
    assert!(s.done && s.seconds > 0.0);
    assert_eq!(db.stats().head_samples_appended_total, 3 * 2000);
}
