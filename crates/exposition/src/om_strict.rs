//! The rules of OpenMetrics 1.0 that go beyond line syntax, checked as the
//! strict parser reads: families are contiguous and named without clashes,
//! metadata comes once and before the samples, every sample fits its
//! family's type (suffixes, required labels, allowed values, exemplars),
//! samples of one metric are contiguous with non-decreasing timestamps,
//! and every histogram point is complete and consistent.
//!
//! The validator sees entries one at a time and keeps only what the rules
//! need: the names of finished families and of the samples they own, and
//! the group keys of the current family.

use std::collections::{HashMap, HashSet};

use beacon_model::MetricType;

use crate::entry::{Entry, FloatSample, LabelsRef};
use crate::lex::parse_real;

/// Which metadata line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetaKind {
    Help,
    Type,
    Unit,
}

/// The most characters (names and values together) an exemplar's labels
/// may have, per the specification.
pub const EXEMPLAR_LABEL_CHARS_MAX: usize = 128;

/// A sample and what the rules need besides it.
pub(crate) struct SampleFacts<'s, 'a> {
    pub sample: &'s FloatSample<'a>,
    /// The timestamp as written (seconds), before rounding to milliseconds.
    pub timestamp_s: Option<f64>,
}

/// The sample-name suffixes a family of type `t` owns. OpenMetrics puts
/// `_total` on counter samples; text 0.0.4 keeps it in the family name.
pub(crate) fn suffixes(t: MetricType, om: bool) -> &'static [&'static str] {
    match t {
        MetricType::Counter if om => &["_total", "_created"],
        MetricType::Counter | MetricType::Gauge | MetricType::Unknown | MetricType::StateSet => {
            &[""]
        }
        MetricType::Histogram if om => &["_bucket", "_count", "_sum", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum"],
        MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
        MetricType::Summary if om => &["", "_count", "_sum", "_created"],
        MetricType::Summary => &["", "_count", "_sum"],
        MetricType::Info if om => &["_info"],
        MetricType::Info => &[""],
    }
}

/// The suffix by which `sample` belongs to family `family` of type `t`.
pub(crate) fn sample_suffix(
    family: &str,
    t: MetricType,
    sample: &str,
    om: bool,
) -> Option<&'static str> {
    let rest = sample.strip_prefix(family)?;
    suffixes(t, om).iter().copied().find(|s| *s == rest)
}

/// One histogram point: the samples of one group at one timestamp.
#[derive(Debug, Default)]
struct HistPoint {
    active: bool,
    timestamp_bits: Option<u64>,
    bucket: Option<f64>,
    bucket_value: f64,
    count: Option<f64>,
    has_sum: bool,
    has_gsum: bool,
    negative_buckets: bool,
    negative_gsum: bool,
}

impl HistPoint {
    fn check(&self, family: &str) -> Result<(), String> {
        if !self.active {
            return Ok(());
        }
        if self.bucket != Some(f64::INFINITY) {
            return Err(format!("histogram {family} has no +Inf bucket"));
        }
        if self.count.is_some_and(|c| c != self.bucket_value) {
            return Err(format!(
                "histogram {family}: count does not match the +Inf bucket"
            ));
        }
        if (self.has_sum || self.has_gsum) && self.count.is_none() {
            return Err(format!("histogram {family} has a sum but no count"));
        }
        if !(self.has_sum || self.has_gsum) && self.count.is_some() {
            return Err(format!("histogram {family} has a count but no sum"));
        }
        if self.negative_buckets && self.has_sum {
            return Err(format!(
                "histogram {family} has negative buckets, so it may not have a _sum"
            ));
        }
        if !self.negative_buckets && self.negative_gsum {
            return Err(format!(
                "gauge histogram {family} has a negative _gsum but no negative buckets"
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Family {
    name: String,
    metric_type: Option<MetricType>,
    help: bool,
    unit: Option<String>,
    has_samples: bool,
    groups: HashSet<String>,
    group: Option<String>,
    /// The previous sample's timestamp in the current group.
    last_ts: Option<Option<f64>>,
    point: HistPoint,
}

/// The strict-mode state; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Validator {
    families: HashSet<String>,
    /// Sample name -> family that owns it.
    claimed: HashMap<String, String>,
    fam: Option<Family>,
}

impl Validator {
    pub fn metadata(&mut self, e: &Entry<'_>) -> Result<(), String> {
        let (name, kind) = match e {
            Entry::Help { name, .. } => (name, MetaKind::Help),
            Entry::Type { name, .. } => (name, MetaKind::Type),
            Entry::Unit { name, .. } => (name, MetaKind::Unit),
            _ => return Ok(()),
        };
        if self.fam.as_ref().is_none_or(|f| f.name != **name) {
            self.finish()?;
            self.start(name)?;
        }
        let Some(f) = self.fam.as_mut() else {
            return Ok(());
        };
        if f.has_samples {
            return Err(format!("metadata for {name} after its samples"));
        }
        match (kind, e) {
            (MetaKind::Help, _) if f.help => return Err(format!("second HELP for {name}")),
            (MetaKind::Help, _) => f.help = true,
            (MetaKind::Type, _) if f.metric_type.is_some() => {
                return Err(format!("second TYPE for {name}"));
            }
            (MetaKind::Type, Entry::Type { metric_type, .. }) => {
                f.metric_type = Some(*metric_type);
                let t = *metric_type;
                self.claim(name, t)?;
            }
            (MetaKind::Unit, _) if f.unit.is_some() => {
                return Err(format!("second UNIT for {name}"));
            }
            (MetaKind::Unit, Entry::Unit { unit, .. }) => {
                if !unit.is_empty() && !name.ends_with(&format!("_{unit}")) {
                    return Err(format!(
                        "metric name {name} does not end in its unit _{unit}"
                    ));
                }
                f.unit = Some(unit.to_string());
            }
            _ => {}
        }
        let Some(f) = self.fam.as_ref() else {
            return Ok(());
        };
        if f.unit.is_some()
            && matches!(f.metric_type, Some(MetricType::Info | MetricType::StateSet))
        {
            return Err(format!("{name}: info and stateset families have no unit"));
        }
        Ok(())
    }

    fn start(&mut self, name: &str) -> Result<(), String> {
        if !self.families.insert(name.to_owned()) {
            return Err(format!(
                "metric family {name} appears again after another family"
            ));
        }
        if let Some(owner) = self.claimed.get(name).filter(|o| *o != name) {
            return Err(format!("name {name} clashes with family {owner}"));
        }
        self.claimed.insert(name.to_owned(), name.to_owned());
        self.fam = Some(Family {
            name: name.to_owned(),
            ..Family::default()
        });
        Ok(())
    }

    /// Records the sample names a family of type `t` owns.
    fn claim(&mut self, name: &str, t: MetricType) -> Result<(), String> {
        for suffix in suffixes(t, true) {
            let n = format!("{name}{suffix}");
            if let Some(owner) = self.claimed.get(&n).filter(|o| *o != name) {
                return Err(format!("{n} of family {name} clashes with family {owner}"));
            }
            if n != name && self.families.contains(&n) {
                return Err(format!("{n} of family {name} clashes with family {n}"));
            }
            self.claimed.insert(n, name.to_owned());
        }
        Ok(())
    }

    /// Closes the current family.
    pub fn finish(&mut self) -> Result<(), String> {
        match self.fam.take() {
            Some(f) => f.point.check(&f.name),
            None => Ok(()),
        }
    }

    pub fn exemplar_labels(&self, labels: &LabelsRef<'_>) -> Result<(), String> {
        let mut chars = 0;
        labels.for_each(|n, v| chars += n.chars().count() + v.chars().count());
        if chars > EXEMPLAR_LABEL_CHARS_MAX {
            return Err(format!(
                "exemplar labels have {chars} characters, more than {EXEMPLAR_LABEL_CHARS_MAX}"
            ));
        }
        Ok(())
    }

    pub fn sample(&mut self, facts: &SampleFacts<'_, '_>) -> Result<(), String> {
        let s = facts.sample;
        let found = self.fam.as_ref().and_then(|f| {
            let t = f.metric_type.unwrap_or(MetricType::Unknown);
            sample_suffix(&f.name, t, &s.name, true)
        });
        let suffix = match found {
            Some(x) => x,
            None => {
                self.finish()?;
                self.start(&s.name)?;
                ""
            }
        };
        let Some(f) = self.fam.as_mut() else {
            return Ok(());
        };
        f.has_samples = true;
        let t = f.metric_type.unwrap_or(MetricType::Unknown);
        check_exemplar_allowed(t, suffix, s)?;
        let skip = check_value(&f.name, t, suffix, s)?.map(str::to_owned);
        check_group(f, s, skip.as_deref(), facts.timestamp_s)?;
        if matches!(t, MetricType::Histogram | MetricType::GaugeHistogram) {
            update_point(f, suffix, s, facts.timestamp_s)?;
        }
        Ok(())
    }
}

fn check_exemplar_allowed(t: MetricType, suffix: &str, s: &FloatSample<'_>) -> Result<(), String> {
    if s.exemplar.is_none() {
        return Ok(());
    }
    let ok = match t {
        MetricType::Counter => suffix == "_total",
        MetricType::Histogram | MetricType::GaugeHistogram => suffix == "_bucket",
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("exemplars are not allowed on {}", s.name))
    }
}

fn non_negative(name: &str, v: f64) -> Result<(), String> {
    if v.is_nan() || v < 0.0 {
        return Err(format!("{name} must be a non-negative number, not {v}"));
    }
    Ok(())
}

/// Checks the value and the labels a type requires; returns the label
/// that does not identify the metric group (`le`, `quantile`, the state).
fn check_value<'f>(
    family: &'f str,
    t: MetricType,
    suffix: &str,
    s: &FloatSample<'_>,
) -> Result<Option<&'f str>, String> {
    let v = s.value;
    match (t, suffix) {
        (MetricType::Counter, "_total")
        | (MetricType::Summary | MetricType::Histogram, "_count" | "_sum")
        | (MetricType::GaugeHistogram, "_gcount") => non_negative(&s.name, v)?,
        (MetricType::GaugeHistogram, "_gsum") if v.is_nan() => {
            return Err(format!("{} must not be NaN", s.name));
        }
        (MetricType::Info, _) if v != 1.0 => {
            return Err(format!("info value must be 1, not {v}"));
        }
        (MetricType::StateSet, _) => {
            if s.labels.get(family).is_none() {
                return Err(format!("stateset sample needs a label named {family}"));
            }
            if v != 0.0 && v != 1.0 {
                return Err(format!("stateset value must be 0 or 1, not {v}"));
            }
            return Ok(Some(family));
        }
        (MetricType::Summary, "") => {
            let q = s
                .labels
                .get("quantile")
                .ok_or("summary sample needs a quantile label")?;
            match parse_real(q.as_bytes()) {
                Some(q) if (0.0..=1.0).contains(&q) => {}
                _ => return Err(format!("invalid quantile {q:?}")),
            }
            if v < 0.0 {
                return Err(format!("quantile value must not be negative, not {v}"));
            }
            return Ok(Some("quantile"));
        }
        (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => {
            let le = s.labels.get("le").ok_or("bucket needs an le label")?;
            parse_le(&le).ok_or_else(|| format!("invalid le {le:?}"))?;
            non_negative(&s.name, v)?;
            return Ok(Some("le"));
        }
        _ => {}
    }
    Ok(None)
}

/// A bucket bound: a real number or exactly `+Inf`/`-Inf`.
pub(crate) fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => parse_real(s.as_bytes()),
    }
}

/// Samples of one metric (labels minus `skip`) are contiguous, and carry
/// timestamps either always or never, in non-decreasing order.
fn check_group(
    f: &mut Family,
    s: &FloatSample<'_>,
    skip: Option<&str>,
    ts: Option<f64>,
) -> Result<(), String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    s.labels.for_each(|n, v| {
        if Some(n) != skip {
            pairs.push((n.to_owned(), v.to_owned()));
        }
    });
    pairs.sort_unstable();
    let mut key = String::new();
    for (n, v) in &pairs {
        key.push_str(n);
        key.push('\u{1}');
        key.push_str(v);
        key.push('\u{1}');
    }
    if f.group.as_deref() != Some(key.as_str()) {
        if !f.groups.insert(key.clone()) {
            return Err(format!(
                "samples of one metric of {} are not contiguous",
                f.name
            ));
        }
        let old = std::mem::take(&mut f.point);
        old.check(&f.name)?;
        f.group = Some(key);
        f.last_ts = None;
    } else if let Some(prev) = f.last_ts {
        match (prev, ts) {
            (Some(p), Some(t)) if t < p => {
                return Err(format!("timestamp {t} goes backwards from {p}"));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err("a metric mixes samples with and without timestamps".into());
            }
            _ => {}
        }
    }
    f.last_ts = Some(ts);
    Ok(())
}

fn update_point(
    f: &mut Family,
    suffix: &str,
    s: &FloatSample<'_>,
    ts: Option<f64>,
) -> Result<(), String> {
    let bits = ts.map(f64::to_bits);
    if f.point.active && f.point.timestamp_bits != bits {
        let old = std::mem::take(&mut f.point);
        old.check(&f.name)?;
    }
    let p = &mut f.point;
    p.active = true;
    p.timestamp_bits = bits;
    match suffix {
        "_bucket" => {
            let le = s
                .labels
                .get("le")
                .and_then(|l| parse_le(&l))
                .unwrap_or(f64::NAN);
            if le < 0.0 {
                p.negative_buckets = true;
            }
            if p.bucket.is_some_and(|b| le <= b) {
                return Err(format!("buckets of {} are out of order", f.name));
            }
            if s.value < p.bucket_value {
                return Err(format!("bucket counts of {} decrease", f.name));
            }
            p.bucket = Some(le);
            p.bucket_value = s.value;
        }
        "_count" | "_gcount" => p.count = Some(s.value),
        "_sum" => p.has_sum = true,
        "_gsum" => {
            p.has_gsum = true;
            p.negative_gsum |= s.value < 0.0;
        }
        _ => {}
    }
    Ok(())
}
