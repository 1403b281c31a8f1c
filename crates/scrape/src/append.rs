//! From a scraped body to appended samples: parse, label, relabel, check
//! limits, append, and write staleness markers for vanished series.
//!
//! This is the hot path. A steady-state sample costs one parse of its
//! line, one cache lookup by its raw series text, one duplicate check and
//! one `append` with a cached `SeriesRef`. Everything else (building
//! `Labels`, target labels, `metric_relabel_configs`, limits, hashing)
//! happens once per new series.

use beacon_config::relabel::{self, RelabelConfig};
use beacon_exposition::ProtobufParser;
use beacon_exposition::parser::{ParseFormat, Parser};
use beacon_exposition::{Entry, NativeHistogram};
use beacon_model::{Exemplar, Labels, Metadata, MetricType, SeriesRef, stale_nan};
use beacon_storage::{AppendError, Appender};

use crate::cache::{CacheEntry, CachedSeries, MetaEntry, MetricMetadata, ScrapeCache};
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
    /// Protobuf bodies: also yield the classic buckets of native
    /// histograms (`always_scrape_classic_histograms`).
    pub classic_histograms: bool,
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
#[derive(Clone, Copy)]
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
    let parser = match format {
        ParseFormat::Protobuf => Parser::Protobuf(
            ProtobufParser::new(body).with_classic_histograms(s.classic_histograms),
        ),
        _ => Parser::new(format, body),
    };
    let mut family = Family::default();
    for entry in parser {
        let entry = entry.map_err(|source| Error::Parse {
            format: format_name,
            source,
        })?;
        match entry {
            Entry::Help { name, help } => {
                let changed = cache.set_help(&name, &help);
                family.enter(&name, changed);
            }
            Entry::Type { name, metric_type } => {
                let changed = cache.set_type(&name, metric_type);
                family.enter(&name, changed);
            }
            Entry::Unit { name, unit } => {
                let changed = cache.set_unit(&name, &unit);
                family.enter(&name, changed);
            }
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
                    &family,
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
                    &family,
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
    family: &Family,
) -> Result<Appended> {
    let iter = cache.iter;
    let ts = match explicit_t {
        Some(et) if s.honor_timestamps => et,
        _ => t,
    };
    // Series with their own timestamps are left out of staleness
    // tracking unless the job asks for it, as in Prometheus.
    let tracked = explicit_t.is_none() || s.track_timestamps_staleness || !s.honor_timestamps;
    // Fast path: a known series text. The entry is updated in place, so a
    // cache hit costs no label clone and no map insert but `seen`.
    if let Some(e) = cache.entries.get_mut(key) {
        e.last_iter = iter;
        let Some(c) = e.series.as_mut() else {
            return Ok(Appended::Dropped);
        };
        if !cache.seen.insert(c.hash) {
            return Err(Error::DuplicateSeries {
                series: c.labels.to_string(),
            });
        }
        let Some(r) = store(app, c.r, &c.labels, ts, value, stats)? else {
            return Ok(Appended::Cached);
        };
        c.r = r;
        after_append(
            app,
            r,
            &c.labels,
            exemplars,
            family,
            cache_meta(&cache.metadata, family, false),
        );
        if tracked {
            e.track(iter);
        }
        return Ok(Appended::Cached);
    }
    let Some(lset) = sample_labels(labels(), s)? else {
        cache
            .entries
            .insert(key.into(), CacheEntry::new(None, iter));
        return Ok(Appended::Dropped);
    };
    check_limits(&lset, &s.limits, stats)?;
    let hash = lset.hash64();
    if !cache.seen.insert(hash) {
        return Err(Error::DuplicateSeries {
            series: lset.to_string(),
        });
    }
    let Some(r) = store(app, SeriesRef::NONE, &lset, ts, value, stats)? else {
        return Ok(Appended::New);
    };
    after_append(
        app,
        r,
        &lset,
        exemplars,
        family,
        cache_meta(&cache.metadata, family, true),
    );
    let mut entry = CacheEntry::new(
        Some(CachedSeries {
            r,
            labels: lset,
            hash,
        }),
        iter,
    );
    if tracked {
        entry.track(iter);
    }
    cache.entries.insert(key.into(), entry);
    Ok(Appended::New)
}

/// Appends the value; `None` when storage refused it for a reason that
/// skips the sample but not the scrape.
fn store(
    app: &mut dyn Appender,
    r: SeriesRef,
    lset: &Labels,
    ts: i64,
    value: Value<'_>,
    stats: &ScrapeStats,
) -> Result<Option<SeriesRef>> {
    let result = match value {
        Value::Float(v) => app.append(r, lset, ts, v),
        Value::Histogram(NativeHistogram::Int(h)) => {
            app.append_histogram(r, lset, ts, Some(h), None)
        }
        Value::Histogram(NativeHistogram::Float(h)) => {
            app.append_histogram(r, lset, ts, None, Some(h))
        }
    };
    match result {
        Ok(nr) => Ok(Some(nr)),
        // Prometheus skips samples the storage refuses for ordering
        // reasons and goes on with the scrape.
        Err(e) if count_ignorable(&e, stats) => Ok(None),
        Err(e) => Err(Error::Storage(e.to_string())),
    }
}

/// The family's metadata when this series must get it written: new
/// series, or the family changed in this scrape.
fn cache_meta<'m>(
    metadata: &'m hashbrown::HashMap<String, MetaEntry>,
    family: &Family,
    new_series: bool,
) -> Option<&'m MetricMetadata> {
    if !(new_series || family.changed) || family.name.is_empty() {
        return None;
    }
    metadata.get(family.name.as_str()).map(|e| &e.meta)
}

/// Exemplars and metadata of a sample just appended as `r`.
fn after_append(
    app: &mut dyn Appender,
    r: SeriesRef,
    lset: &Labels,
    exemplars: &[Exemplar],
    family: &Family,
    meta: Option<&MetricMetadata>,
) {
    for ex in exemplars {
        // Exemplar errors never fail a scrape.
        let _ = app.append_exemplar(r, lset, ex);
    }
    if let Some(m) = meta {
        family.write_metadata(m, app, r, lset);
    }
}

/// The metric family the last `HELP`/`TYPE`/`UNIT` line named: the
/// metadata of the samples that follow.
#[derive(Default)]
struct Family {
    name: String,
    /// Its metadata changed in this scrape, so every series of it gets
    /// the new metadata written, not only new series.
    changed: bool,
}

impl Family {
    fn enter(&mut self, name: &str, changed: bool) {
        if self.name != name {
            self.name.clear();
            self.name.push_str(name);
        }
        self.changed = changed;
    }

    /// Passes the family's metadata to storage for one series, as
    /// Prometheus's metadata cache does: for new series and after a
    /// change. A series that does not belong to the family (a body that
    /// left out `TYPE` for the next family) gets nothing rather than
    /// wrong metadata. Refusals never fail a scrape.
    fn write_metadata(
        &self,
        m: &MetricMetadata,
        app: &mut dyn Appender,
        r: SeriesRef,
        lset: &Labels,
    ) {
        let series_name = lset.metric_name().unwrap_or("");
        if !is_series_of_family(series_name, &self.name, m.metric_type) {
            return;
        }
        let meta = Metadata {
            metric_type: m.metric_type,
            help: m.help.clone(),
            unit: m.unit.clone(),
        };
        let _ = app.update_metadata(r, lset, &meta);
    }
}

/// Whether a series named `series` is part of family `family` of type
/// `t`: the same name, or the name plus a suffix the type allows
/// (`_bucket`/`_sum`/`_count` of a histogram, ...). Counters and info
/// metrics may carry `_total`/`_info` in the family name or not.
pub fn is_series_of_family(series: &str, family: &str, t: MetricType) -> bool {
    fn cut<'a>(name: &'a str, suffixes: &[&str]) -> &'a str {
        suffixes
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name)
    }
    if !series.starts_with(family) {
        return false;
    }
    let (fam, got) = match t {
        MetricType::Counter => (cut(family, &["_total"]), cut(series, &["_total"])),
        MetricType::Info => (cut(family, &["_info"]), cut(series, &["_info"])),
        MetricType::Histogram => (family, cut(series, &["_bucket", "_sum", "_count"])),
        MetricType::GaugeHistogram => (family, cut(series, &["_bucket", "_gsum", "_gcount"])),
        MetricType::Summary => (family, cut(series, &["_sum", "_count"])),
        _ => (family, series),
    };
    fam == got
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
fn append_stale_markers(cache: &ScrapeCache, app: &mut dyn Appender, t: i64) {
    for labels in cache.vanished() {
        // A refused marker (the series moved on already) is harmless.
        let _ = app.append(SeriesRef::NONE, labels, t, stale_nan());
    }
}

/// After a failed scrape (its batch rolled back): every series of the
/// previous scrape goes stale at `t`.
pub fn append_failure(cache: &mut ScrapeCache, app: &mut dyn Appender, t: i64) {
    for labels in cache.prev_series() {
        let _ = app.append(SeriesRef::NONE, labels, t, stale_nan());
    }
    cache.fail();
}

#[cfg(test)]
mod tests {
    use super::*;
    use beacon_model::{FloatHistogram, Histogram, is_stale_nan};

    /// Keeps `(series, t)` of every staleness marker appended.
    #[derive(Default)]
    struct Markers(Vec<(String, i64)>);

    impl Appender for Markers {
        fn append(
            &mut self,
            _: SeriesRef,
            l: &Labels,
            t: i64,
            v: f64,
        ) -> beacon_storage::Result<SeriesRef> {
            if is_stale_nan(v) {
                self.0.push((l.metric_name().unwrap_or("").to_owned(), t));
            }
            Ok(SeriesRef(1))
        }
        fn append_histogram(
            &mut self,
            _: SeriesRef,
            _: &Labels,
            _: i64,
            _: Option<&Histogram>,
            _: Option<&FloatHistogram>,
        ) -> beacon_storage::Result<SeriesRef> {
            Ok(SeriesRef(1))
        }
        fn commit(&mut self) -> beacon_storage::Result<()> {
            Ok(())
        }
        fn rollback(&mut self) -> beacon_storage::Result<()> {
            Ok(())
        }
    }

    /// One scrape of `body` at `t`, as the loop does it; returns the
    /// markers written, sorted.
    fn scrape(cache: &mut ScrapeCache, body: &str, t: i64) -> Vec<(String, i64)> {
        let target = Labels::from_pairs([("job", "j")]);
        let s = AppendSettings {
            target_labels: &target,
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            metric_relabel_configs: &[],
            limits: Limits::default(),
            classic_histograms: false,
        };
        let mut app = Markers::default();
        let stats = ScrapeStats::default();
        let r = append_body(
            cache,
            &mut app,
            body.as_bytes(),
            ParseFormat::Text,
            t,
            &s,
            &stats,
        );
        if r.is_err() {
            app.0.clear();
            append_failure(cache, &mut app, t);
        }
        app.0.sort();
        app.0
    }

    #[test]
    fn staleness_follows_the_previous_successful_scrape() {
        let mut c = ScrapeCache::new();
        let none: Vec<(String, i64)> = Vec::new();
        assert_eq!(scrape(&mut c, "a 1\nb 1\nc 1 5\n", 10), none);
        // b vanishes; c has its own timestamp and is not tracked.
        assert_eq!(scrape(&mut c, "a 1\n", 20), [("b".into(), 20)]);
        assert_eq!(scrape(&mut c, "a 1\nb 1\n", 30), none);
        // Fails after appending a: both series of the last good scrape
        // go stale, a included.
        assert_eq!(
            scrape(&mut c, "a 1\nbad{ 1\n", 40),
            [("a".into(), 40), ("b".into(), 40)]
        );
        // Already marked: the next good scrape marks nothing again, and
        // fails with nothing to mark.
        assert_eq!(scrape(&mut c, "a 1\n", 50), none);
        assert_eq!(scrape(&mut c, "a 1\na 2\n", 60), [("a".into(), 60)]);
        assert_eq!(scrape(&mut c, "bad{", 70), none);
    }

    fn check(series: &str, family: &str, t: MetricType, expected: bool) {
        assert_eq!(
            is_series_of_family(series, family, t),
            expected,
            "{series} in {family} ({t})"
        );
    }

    #[test]
    fn series_of_family() {
        use MetricType::*;
        for (series, family, t, expected) in [
            ("temp", "temp", Gauge, true),
            ("temp_c", "temp", Gauge, false),
            ("reqs_total", "reqs_total", Counter, true),
            ("reqs_total", "reqs", Counter, true),
            ("reqs", "reqs_total", Counter, false),
            ("reqs_created", "reqs", Counter, false),
            ("lat_bucket", "lat", Histogram, true),
            ("lat_sum", "lat", Histogram, true),
            ("lat_count", "lat", Histogram, true),
            ("lat", "lat", Histogram, true),
            ("lat_gsum", "lat", Histogram, false),
            ("lat_gsum", "lat", GaugeHistogram, true),
            ("q_sum", "q", Summary, true),
            ("q_bucket", "q", Summary, false),
            ("build_info", "build", Info, true),
            ("build_info", "build_info", Info, true),
            ("other", "reqs", Counter, false),
            ("x_total", "x", Unknown, false),
        ] {
            check(series, family, t, expected);
        }
    }
}
