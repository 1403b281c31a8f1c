//! Property test: the TSDB against `MemStorage`, the naive model. Random
//! batches of appends (including ones that must be refused), commits and
//! rollbacks, restarts, compactions and queries with every matcher kind;
//! every accept/refuse decision and every query answer must agree.

use beacon_model::{
    FloatHistogram, Histogram, Labels, MatchType, Matcher, SeriesRef, Span, stale_nan,
};
use beacon_storage::{
    AppendError, Appendable, LabelHints, MemStorage, Queryable, Series, ValueType,
};
use beacon_tsdb::{Db, Options};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// (series, time offset back from the clock, value kind), then commit?
    Batch(Vec<(usize, i64, u8)>, bool),
    Advance(i64),
    Restart,
    Compact,
    Query(Vec<(usize, u8, usize)>, i64, i64),
}

const NAMES: [&str; 2] = ["a", "b"];
const JOBS: [&str; 3] = ["x", "y", ""];
const RANGE_MS: i64 = 1000;

fn series_labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", NAMES[i % 2]),
        ("job", JOBS[(i / 2) % 3]),
        ("inst", &((i / 6) % 2).to_string()),
        ("kind", if i >= HIST_SERIES_FROM { "hist" } else { "" }),
    ])
}

fn value(kind: u8, t: i64) -> f64 {
    match kind % 6 {
        0 => 1.0,
        1 => t as f64 * 0.5,
        2 => stale_nan(),
        3 => f64::INFINITY,
        4 => -(t as f64),
        _ => 42.0,
    }
}

fn matcher(name_ix: usize, kind: u8, val_ix: usize) -> Matcher {
    let name = ["__name__", "job", "inst", "missing"][name_ix % 4];
    let vals = ["a", "x", "x|y", ".*", ".+", "", "a.*", "0", "y.*|b"];
    let v = vals[val_ix % vals.len()];
    let mt = [
        MatchType::Equal,
        MatchType::NotEqual,
        MatchType::Regex,
        MatchType::NotRegex,
    ][kind as usize % 4];
    Matcher::new(mt, name, v).expect("valid matcher")
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prop::collection::vec((0usize..15, 0i64..60, any::<u8>()), 1..20), prop::bool::weighted(0.85))
            .prop_map(|(v, c)| Op::Batch(v, c)),
        3 => (1i64..900).prop_map(Op::Advance),
        1 => Just(Op::Restart),
        2 => Just(Op::Compact),
        2 => (prop::collection::vec((0usize..4, any::<u8>(), 0usize..9), 0..3), 0i64..14000, 0i64..14000)
            .prop_map(|(m, a, b)| Op::Query(m, a.min(b), a.max(b))),
    ]
}

fn opts() -> Options {
    Options {
        block_range_ms: RANGE_MS,
        retention_ms: 1_000_000_000,
        ..Options::default()
    }
}

/// Samples as (time, bits of a float, or the histogram's debug text).
fn drain(s: &mut Series) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    loop {
        let item = match s.samples.next() {
            ValueType::None => break,
            ValueType::Float => {
                let (t, v) = s.samples.at();
                (t, format!("{:x}", v.to_bits()))
            }
            ValueType::Histogram => {
                let (t, h) = s.samples.at_histogram();
                (t, format!("{h:?}"))
            }
            ValueType::FloatHistogram => {
                let (t, h) = s.samples.at_float_histogram();
                (t, format!("{h:?}"))
            }
        };
        out.push(item);
    }
    assert!(s.samples.err().is_none());
    out
}

/// A small native histogram; `kind` varies its counts and its type.
fn histogram(kind: u8) -> (Option<Histogram>, Option<FloatHistogram>) {
    let n = u64::from(kind % 3);
    let h = Histogram {
        schema: 1,
        count: 4 + n,
        sum: 2.5 * n as f64,
        zero_count: 1,
        zero_threshold: 0.001,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![1, n as i64],
        ..Histogram::default()
    };
    if kind.is_multiple_of(2) {
        (Some(h), None)
    } else {
        (None, Some(h.to_float()))
    }
}

/// Series 12..15 carry only native histograms.
const HIST_SERIES_FROM: usize = 12;

fn answer(
    q: &dyn Queryable,
    mint: i64,
    maxt: i64,
    ms: &[Matcher],
) -> Vec<(String, Vec<(i64, String)>)> {
    let q = q.querier(mint, maxt).unwrap();
    q.select(ms)
        .unwrap()
        .into_iter()
        .map(|mut s| (s.labels.to_string(), drain(&mut s)))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let model = MemStorage::new();
    let mut db = Some(Db::open(dir.path(), opts()).unwrap());
    let mut clock = 0i64;
    for op in ops {
        let d = db.as_ref().unwrap();
        match op {
            Op::Advance(n) => clock += n,
            Op::Batch(items, commit) => {
                let min_valid = d.min_valid_time();
                let mut app = d.appender();
                let mut mapp = model.appender();
                for (s, back, kind) in items {
                    let l = series_labels(s);
                    let t = clock - back;
                    let v = value(kind, t);
                    let (h, fh) = histogram(kind);
                    let is_hist = s >= HIST_SERIES_FROM;
                    let got = if is_hist {
                        app.append_histogram(SeriesRef::NONE, &l, t, h.as_ref(), fh.as_ref())
                    } else {
                        app.append(SeriesRef::NONE, &l, t, v)
                    };
                    match got {
                        Err(beacon_storage::Error::Append(AppendError::OutOfBounds)) => {
                            assert!(
                                t < min_valid,
                                "out of bounds at {t} but min valid {min_valid}"
                            );
                        }
                        got => {
                            let want = if is_hist {
                                mapp.append_histogram(
                                    SeriesRef::NONE,
                                    &l,
                                    t,
                                    h.as_ref(),
                                    fh.as_ref(),
                                )
                            } else {
                                mapp.append(SeriesRef::NONE, &l, t, v)
                            };
                            assert_eq!(
                                got.as_ref().err().map(|e| e.to_string()),
                                want.as_ref().err().map(|e| e.to_string()),
                                "append {l} t={t} v={v}"
                            );
                        }
                    }
                }
                if commit {
                    app.commit().unwrap();
                    mapp.commit().unwrap();
                } else {
                    app.rollback().unwrap();
                    mapp.rollback().unwrap();
                }
            }
            Op::Restart => {
                db.take().unwrap().close().unwrap();
                db = Some(Db::open(dir.path(), opts()).unwrap());
            }
            Op::Compact => {
                d.compact_if_needed().unwrap();
            }
            Op::Query(ms, mint, maxt) => {
                let ms: Vec<Matcher> = ms.into_iter().map(|(n, k, v)| matcher(n, k, v)).collect();
                assert_eq!(
                    answer(d, mint, maxt, &ms),
                    answer(&model, mint, maxt, &ms),
                    "{ms:?} [{mint},{maxt}]"
                );
                let h = LabelHints::default();
                let (a, b) = (
                    d.querier(mint, maxt).unwrap(),
                    model.querier(mint, maxt).unwrap(),
                );
                assert_eq!(
                    a.label_values("job", &ms, &h).unwrap(),
                    b.label_values("job", &ms, &h).unwrap()
                );
                assert_eq!(
                    a.label_names(&ms, &h).unwrap(),
                    b.label_names(&ms, &h).unwrap()
                );
            }
        }
    }
    // A final restart and full comparison.
    db.take().unwrap().close().unwrap();
    let d = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(
        answer(&d, i64::MIN / 2, i64::MAX / 2, &[]),
        answer(&model, i64::MIN / 2, i64::MAX / 2, &[])
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn tsdb_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}

#[test]
fn stale_marker_replaces_value_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let l = series_labels(0);
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        let mut app = db.appender();
        app.append(SeriesRef::NONE, &l, 10, 1.0).unwrap();
        app.commit().unwrap();
        app.append(SeriesRef::NONE, &l, 10, stale_nan()).unwrap();
        app.commit().unwrap();
        drop(app);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = answer(&db, 0, 100, &[]);
    assert_eq!(got[0].1, vec![(10, format!("{:x}", stale_nan().to_bits()))]);
}
