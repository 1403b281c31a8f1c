//! From a scraped body to appended samples: parse, label, relabel, check
//! limits, append, and write staleness markers for vanished series.
//!
//! This is the hot path. A steady-state sample costs one parse of its
//! line, one cache lookup by its raw series text, one duplicate check and
//! one `append` with a cached `SeriesRef`. Everything else (building
//! `Labels`, target labels, `metric_relabel_configs`, limits, hashing)
//! happens once per new series.

use beacon_config::relabel::{self, RelabelConfig};
use beacon_exposition::parser::{ParseFormat, Parser};
use beacon_exposition::{Entry, NativeHistogram};
use beacon_model::{Exemplar, Labels, SeriesRef, stale_nan};
use beacon_storage::{AppendError, Appender};

use crate::cache::{CacheEntry, CachedSeries, ScrapeCache};
use crate::options::Limits;
use crate::stats::ScrapeStats;
use crate::{Error, Result};

/// The settings the append step needs, borrowed from the loop.
#[derive(Debug, Clone, Copy)]
pub struct AppendSettings<'a> {
    /// The target's public labels, added to every series.
    pub target_labels: &'a Labels,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    pub metric_relabel_configs: &'a [RelabelConfig],
    pub limits: Limits,
}

/// Counts reported through the synthetic `scrape_*` series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// `scrape_samples_scraped`: samples in the body.
    pub scraped: usize,
    /// `scrape_samples_post_metric_relabeling`.
    pub post_relabel: usize,
    /// `scrape_series_added`: series new to this target's cache.
    pub added: usize,
}

/// A sample's value, float or native histogram.
enum Value<'e> {
    Float(f64),
    Histogram(&'e NativeHistogram),
}

/// Appends one scraped body at default time `t`. On error the caller must
/// roll back `app` and call [`append_failure`].
pub fn append_body(
    cache: &mut ScrapeCache,
    app: &mut dyn Appender,
    body: &[u8],
    format: ParseFormat,
    t: i64,
    s: &AppendSettings<'_>,
    stats: &ScrapeStats,
) -> Result<AppendOutcome> {
    cache.begin();
    let mut out = AppendOutcome::default();
    let format_name = format_name(format);
    for entry in Parser::new(format, body) {
        let entry = entry.map_err(|source| Error::Parse {
            format: format_name,
            source,
        })?;
        match entry {
            Entry::Help { name, help } => cache.set_help(&name, &help),
            Entry::Type { name, metric_type } => cache.set_type(&name, metric_type),
            Entry::Unit { name, unit } => cache.set_unit(&name, &unit),
            Entry::Sample(sample) => {
                out.scraped += 1;
                let ts = sample.timestamp_ms;
                let exemplar = sample.exemplar.as_ref().map(|e| e.to_model());
                let appended = append_one(
                    cache,
                    app,
                    sample.series.as_bytes(),
                    || sample.to_labels(),
                    Value::Float(sample.value),
                    (t, ts),
                    s,
                    stats,
                    exemplar.as_slice(),
                )?;
                out.count(appended, s.limits.sample_limit, stats)?;
            }
            Entry::Histogram(h) => {
                out.scraped += 1;
                let appended = append_one(
                    cache,
                    app,
                    h.series.as_bytes(),
                    || {
                        let mut b = h.labels.builder();
                        b.set(beacon_model::METRIC_NAME, &h.name);
                        b.build()
                    },
                    Value::Histogram(&h.histogram),
                    (t, h.timestamp_ms),
                    s,
                    stats,
                    &h.exemplars,
                )?;
                out.count(appended, s.limits.sample_limit, stats)?;
            }
            Entry::Eof => break,
        }
    }
    append_stale_markers(cache, app, t);
    cache.finish();
    Ok(out)
}

impl AppendOutcome {
    fn count(
        &mut self,
        appended: Appended,
        sample_limit: usize,
        stats: &ScrapeStats,
    ) -> Result<()> {
        if appended == Appended::Dropped {
            return Ok(());
        }
        self.post_relabel += 1;
        if appended == Appended::New {
            self.added += 1;
        }
        if sample_limit > 0 && self.post_relabel > sample_limit {
            ScrapeStats::inc(&stats.exceeded_sample_limit);
            return Err(Error::SampleLimit {
                limit: sample_limit,
            });
        }
        Ok(())
    }
}

fn format_name(f: ParseFormat) -> &'static str {
    match f {
        ParseFormat::Text => "text",
        ParseFormat::OpenMetrics | ParseFormat::OpenMetricsStrict => "OpenMetrics",
        ParseFormat::Protobuf => "protobuf",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Appended {
    Dropped,
    Cached,
    New,
}

/// Appends one sample, through the cache when it knows the series.
#[allow(clippy::too_many_arguments)]
fn append_one(
    cache: &mut ScrapeCache,
    app: &mut dyn Appender,
    key: &[u8],
    labels: impl FnOnce() -> Labels,
    value: Value<'_>,
    (t, explicit_t): (i64, Option<i64>),
    s: &AppendSettings<'_>,
    stats: &ScrapeStats,
    exemplars: &[Exemplar],
) -> Result<Appended> {
    let iter = cache.iter;
    let (r, lset, hash, kind) = match cache.entries.get_mut(key) {
        Some(e) => {
            e.last_iter = iter;
            match &e.series {
                None => return Ok(Appended::Dropped),
                Some(c) => (c.r, c.labels.clone(), c.hash, Appended::Cached),
            }
        }
        None => {
            let Some(lset) = sample_labels(labels(), s)? else {
                cache.entries.insert(
                    key.into(),
                    CacheEntry {
                        series: None,
                        last_iter: iter,
                    },
                );
                return Ok(Appended::Dropped);
            };
            check_limits(&lset, &s.limits, stats)?;
            let hash = lset.hash64();
            (SeriesRef::NONE, lset, hash, Appended::New)
        }
    };
    if !cache.seen.insert(hash) {
        return Err(Error::DuplicateSeries {
            series: lset.to_string(),
        });
    }
    let ts = match explicit_t {
        Some(et) if s.honor_timestamps => et,
        _ => t,
    };
    let result = match value {
        Value::Float(v) => app.append(r, &lset, ts, v),
        Value::Histogram(NativeHistogram::Int(h)) => {
            app.append_histogram(r, &lset, ts, Some(h), None)
        }
        Value::Histogram(NativeHistogram::Float(h)) => {
            app.append_histogram(r, &lset, ts, None, Some(h))
        }
    };
    let new_ref = match result {
        Ok(nr) => nr,
        Err(e) => {
            // Prometheus skips samples the storage refuses for ordering
            // reasons and goes on with the scrape.
            if count_ignorable(&e, stats) {
                return Ok(kind);
            }
            return Err(Error::Storage(e.to_string()));
        }
    };
    for ex in exemplars {
        // Exemplar errors never fail a scrape.
        let _ = app.append_exemplar(new_ref, &lset, ex);
    }
    if explicit_t.is_none() || s.track_timestamps_staleness || !s.honor_timestamps {
        cache.series_cur.insert(hash, lset.clone());
    }
    if kind == Appended::New || new_ref != r {
        cache.entries.insert(
            key.into(),
            CacheEntry {
                series: Some(CachedSeries {
                    r: new_ref,
                    labels: lset,
                    hash,
                }),
                last_iter: iter,
            },
        );
    }
    Ok(kind)
}

fn count_ignorable(e: &beacon_storage::Error, stats: &ScrapeStats) -> bool {
    let counter = match e {
        beacon_storage::Error::Append(AppendError::OutOfOrderSample) => &stats.sample_out_of_order,
        beacon_storage::Error::Append(AppendError::DuplicateSampleForTimestamp) => {
            &stats.sample_duplicate_timestamp
        }
        beacon_storage::Error::Append(AppendError::OutOfBounds) => &stats.sample_out_of_bounds,
        _ => return false,
    };
    ScrapeStats::inc(counter);
    true
}

/// Adds the target's labels to a scraped series and applies
/// `metric_relabel_configs`; `None` when relabelling dropped it.
///
/// With `honor_labels` the scraped value wins a conflict; otherwise the
/// target's wins and the scraped one moves to `exported_<name>` (more
/// `exported_` prefixes while that name is taken too).
pub fn sample_labels(scraped: Labels, s: &AppendSettings<'_>) -> Result<Option<Labels>> {
    let mut b = scraped.builder();
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for l in s.target_labels {
        match b.get(l.name) {
            Some(v) if !v.is_empty() => {
                if s.honor_labels {
                    continue;
                }
                if v != l.value {
                    conflicts.push((l.name.to_owned(), v.to_owned()));
                }
                b.set(l.name, l.value);
            }
            _ => {
                b.set(l.name, l.value);
            }
        }
    }
    // Shorter names first, as Prometheus resolves them.
    conflicts.sort_by_key(|c| c.0.len());
    for (name, value) in conflicts {
        let mut new_name = format!("exported_{name}");
        while b.get(&new_name).is_some_and(|v| !v.is_empty()) {
            new_name.insert_str(0, "exported_");
        }
        b.set(&new_name, &value);
    }
    let lset = b.build();
    let lset = if s.metric_relabel_configs.is_empty() {
        lset
    } else {
        match relabel::process(&lset, s.metric_relabel_configs) {
            Some(l) => l,
            None => return Ok(None),
        }
    };
    if lset.metric_name().is_none_or(str::is_empty) {
        return Err(Error::NoMetricName {
            series: lset.to_string(),
        });
    }
    Ok(Some(lset))
}

fn check_limits(lset: &Labels, limits: &Limits, stats: &ScrapeStats) -> Result<()> {
    let metric = || lset.metric_name().unwrap_or("").to_owned();
    let fail = |e: Error| {
        ScrapeStats::inc(&stats.exceeded_label_limits);
        Err(e)
    };
    if limits.label_limit > 0 && lset.len() > limits.label_limit {
        return fail(Error::LabelLimit {
            metric: metric(),
            count: lset.len(),
            limit: limits.label_limit,
        });
    }
    for l in lset {
        if limits.label_name_length_limit > 0 && l.name.len() > limits.label_name_length_limit {
            return fail(Error::LabelNameLength {
                metric: metric(),
                name: l.name.to_owned(),
                limit: limits.label_name_length_limit,
            });
        }
        if limits.label_value_length_limit > 0 && l.value.len() > limits.label_value_length_limit {
            return fail(Error::LabelValueLength {
                metric: metric(),
                name: l.name.to_owned(),
                limit: limits.label_value_length_limit,
            });
        }
    }
    Ok(())
}

/// Writes staleness markers at `t` for series of the previous scrape that
/// the current one did not produce.
fn append_stale_markers(cache: &mut ScrapeCache, app: &mut dyn Appender, t: i64) {
    for (hash, labels) in &cache.series_prev {
        if !cache.series_cur.contains_key(hash) {
            // A refused marker (the series moved on already) is harmless.
            let _ = app.append(SeriesRef::NONE, labels, t, stale_nan());
        }
    }
}

/// After a failed scrape (its batch rolled back): every series of the
/// previous scrape goes stale at `t`.
pub fn append_failure(cache: &mut ScrapeCache, app: &mut dyn Appender, t: i64) {
    cache.fail();
    for labels in cache.take_prev().values() {
        let _ = app.append(SeriesRef::NONE, labels, t, stale_nan());
    }
}
