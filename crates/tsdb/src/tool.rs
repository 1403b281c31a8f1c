//! The library side of `beacontool tsdb list|analyze|dump`: read-only
//! inspection of a data directory's blocks, written as text to any
//! `Write`. Nothing here takes the directory lock or touches the WAL, so
//! the tools are safe to run beside a live server.

use std::io::Write;
use std::path::Path;

use beacon_model::{Matcher, format_duration_ms};
use beacon_storage::ValueType;

use crate::block::Block;
use crate::iter::join;
use crate::{Error, Result};

fn w(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Opens every block under `dir`, oldest first (read-only).
pub fn open_blocks(dir: &Path) -> Result<Vec<Block>> {
    let mut out = Vec::new();
    for ent in std::fs::read_dir(dir).map_err(w(dir))? {
        let p = ent.map_err(w(dir))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.len() == 26 && p.join("meta.json").exists() {
            out.push(Block::open(&p)?);
        }
    }
    out.sort_by_key(|b| b.meta().min_time);
    Ok(out)
}

/// One line per block: id, time range, duration, samples, chunks, series,
/// bytes.
pub fn list_blocks(dir: &Path, out: &mut dyn Write) -> Result<()> {
    let blocks = open_blocks(dir)?;
    writeln!(
        out,
        "{:<26} {:>14} {:>14} {:>9} {:>12} {:>9} {:>9} {:>12}",
        "BLOCK ULID", "MIN TIME", "MAX TIME", "DURATION", "NUM SAMPLES", "CHUNKS", "SERIES", "SIZE"
    )
    .map_err(w(dir))?;
    for b in &blocks {
        let m = b.meta();
        writeln!(
            out,
            "{:<26} {:>14} {:>14} {:>9} {:>12} {:>9} {:>9} {:>12}",
            m.ulid,
            m.min_time,
            m.max_time,
            format_duration_ms(m.max_time - m.min_time),
            m.stats.num_samples,
            m.stats.num_chunks,
            m.stats.num_series,
            b.size_bytes()
        )
        .map_err(w(dir))?;
    }
    Ok(())
}

/// Cardinality report for one block (the newest when `ulid` is `None`):
/// totals, bytes per sample, and the `limit` biggest label names, label
/// pairs and metric names by series count.
pub fn analyze(dir: &Path, ulid: Option<&str>, limit: usize, out: &mut dyn Write) -> Result<()> {
    let blocks = open_blocks(dir)?;
    let b = match ulid {
        Some(u) => blocks.iter().find(|b| b.meta().ulid == u),
        None => blocks.last(),
    };
    let Some(b) = b else {
        writeln!(out, "no block found in {}", dir.display()).map_err(w(dir))?;
        return Ok(());
    };
    let m = b.meta();
    let ix = b.index();
    let per_sample = b.size_bytes() as f64 / m.stats.num_samples.max(1) as f64;
    writeln!(out, "Block ID: {}", m.ulid).map_err(w(dir))?;
    writeln!(
        out,
        "Duration: {}",
        format_duration_ms(m.max_time - m.min_time)
    )
    .map_err(w(dir))?;
    writeln!(out, "Total Series: {}", ix.series_count()).map_err(w(dir))?;
    writeln!(out, "Total Samples: {}", m.stats.num_samples).map_err(w(dir))?;
    writeln!(out, "Bytes per sample: {per_sample:.3}").map_err(w(dir))?;
    let names = ix.label_names();
    writeln!(out, "Label names: {}", names.len()).map_err(w(dir))?;
    let mut by_values: Vec<(usize, String)> = Vec::new();
    let mut pairs: Vec<(usize, String)> = Vec::new();
    for n in &names {
        let counts = ix.value_counts(n);
        by_values.push((counts.len(), n.clone()));
        for (v, c) in counts {
            pairs.push((c, format!("{n}={v}")));
        }
    }
    section(out, dir, "Highest cardinality labels", by_values, limit)?;
    let metric_names: Vec<(usize, String)> = ix
        .value_counts(beacon_model::METRIC_NAME)
        .into_iter()
        .map(|(v, c)| (c, v))
        .collect();
    section(
        out,
        dir,
        "Highest cardinality metric names",
        metric_names,
        limit,
    )?;
    section(out, dir, "Most common label pairs", pairs, limit)
}

fn section(
    out: &mut dyn Write,
    dir: &Path,
    title: &str,
    mut rows: Vec<(usize, String)>,
    limit: usize,
) -> Result<()> {
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    writeln!(out, "\n{title}:").map_err(w(dir))?;
    for (n, name) in rows.into_iter().take(limit) {
        writeln!(out, "{n} {name}").map_err(w(dir))?;
    }
    Ok(())
}

/// Every sample of the series matching `matchers` in `[mint, maxt]`, one
/// `labels value timestamp` line each, series in label order.
pub fn dump(
    dir: &Path,
    mint: i64,
    maxt: i64,
    matchers: &[Matcher],
    out: &mut dyn Write,
) -> Result<()> {
    let blocks = open_blocks(dir)?;
    let mut by_labels: std::collections::BTreeMap<_, Vec<_>> = Default::default();
    for b in blocks.iter().filter(|b| b.overlaps(mint, maxt)) {
        for (l, p) in b.select(matchers, mint, maxt)? {
            by_labels.entry(l).or_default().push(p);
        }
    }
    for (labels, parts) in by_labels {
        let mut it = join(parts);
        loop {
            match it.next() {
                ValueType::None => break,
                ValueType::Float => {
                    let (t, v) = it.at();
                    writeln!(out, "{labels} {} {t}", beacon_model::format_float(v))
                        .map_err(w(dir))?;
                }
                ValueType::Histogram | ValueType::FloatHistogram => {
                    let (t, h) = it.at_float_histogram();
                    writeln!(out, "{labels} {h:?} {t}").map_err(w(dir))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, Options};
    use beacon_model::{Labels, SeriesRef};
    use beacon_storage::Appendable;

    #[test]
    fn list_analyze_dump() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            Options {
                block_range_ms: 1000,
                ..Options::default()
            },
        )
        .unwrap();
        let mut app = db.appender();
        for t in (0..2000).step_by(100) {
            for i in 0..3 {
                let l = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
                app.append(
                    SeriesRef::NONE,
                    &l,
                    t,
                    if i == 2 { f64::INFINITY } else { 0.5 },
                )
                .unwrap();
            }
        }
        app.commit().unwrap();
        drop(app);
        db.compact_if_needed().unwrap();
        let mut out = Vec::new();
        list_blocks(dir.path(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains(" 30 "), "30 samples in the block: {text}");
        let mut out = Vec::new();
        analyze(dir.path(), None, 5, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Total Series: 3"), "{text}");
        assert!(text.contains("3 __name__=m"), "{text}");
        let mut out = Vec::new();
        dump(dir.path(), 0, 100, &[Matcher::equal("i", "2")], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "m{i=\"2\"} +Inf 0\nm{i=\"2\"} +Inf 100\n"
        );
    }
}
