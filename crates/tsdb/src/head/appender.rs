//! The head's appender: checks each sample as it is added (so scrape
//! errors name the bad sample), buffers the batch, and on `commit` logs it
//! to the WAL and applies it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use beacon_model::{Exemplar, FloatHistogram, Histogram, Labels, Metadata, SeriesRef, Timestamp};
use beacon_storage::{AppendError, Appender, ExemplarVerdict};

use super::Head;
use crate::Result;
use crate::chunk::histogram::HistSample;
use crate::record::{self, RefSample};
use crate::series::{MemSeries, Value, Verdict};

/// Most label pairs a series may have.
pub const LABELS_PER_SERIES_MAX: usize = 1024;
/// Longest label name or value, in bytes.
pub const LABEL_BYTES_MAX: usize = 64 * 1024;
/// Samples per WAL record; a bigger batch is split so records stay far
/// below the WAL's record size limit.
const SAMPLES_PER_RECORD_MAX: usize = 500_000;

/// Batch ids: each appender batch gets a fresh one (see
/// `MemSeries::batch_mark`).
static BATCH_IDS: AtomicU64 = AtomicU64::new(1);

fn next_batch_id() -> u64 {
    BATCH_IDS.fetch_add(1, Ordering::Relaxed)
}

/// Buffers one batch for the head. Holding each series' `Arc` keeps
/// truncation from removing a series with uncommitted samples.
pub struct HeadAppender<'a> {
    head: &'a Head,
    batch: u64,
    samples: Vec<(Arc<MemSeries>, i64, Value)>,
    /// Series seen without a WAL series record yet (noted while their
    /// memory is hot, re-checked under the WAL lock at commit).
    unlogged: Vec<Arc<MemSeries>>,
    /// Metadata changes of this batch.
    metadata: Vec<(Arc<MemSeries>, Metadata)>,
    /// Exemplars of this batch.
    exemplars: Vec<(Arc<MemSeries>, Exemplar)>,
}

/// Checks a new series' labels against the limits.
pub fn validate_labels(labels: &Labels) -> Result<(), AppendError> {
    if labels.is_empty() {
        return Err(AppendError::EmptyLabels);
    }
    let mut n = 0;
    for l in labels {
        n += 1;
        if l.name.is_empty() {
            return Err(AppendError::LimitExceeded("empty label name".into()));
        }
        if l.name.len() > LABEL_BYTES_MAX || l.value.len() > LABEL_BYTES_MAX {
            return Err(AppendError::LimitExceeded(format!(
                "label {:?} longer than {LABEL_BYTES_MAX} bytes",
                truncate(l.name)
            )));
        }
    }
    if n > LABELS_PER_SERIES_MAX {
        return Err(AppendError::LimitExceeded(format!(
            "{n} labels, more than {LABELS_PER_SERIES_MAX}"
        )));
    }
    Ok(())
}

/// Label equality that first checks whether both share one allocation, as
/// a scrape cache's labels and the series created from them do: the common
/// case then never reads the (rarely cached) label bytes.
fn same_labels(a: &Labels, b: &Labels) -> bool {
    std::ptr::eq(a.as_bytes(), b.as_bytes()) || a == b
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl<'a> HeadAppender<'a> {
    pub(super) fn new(head: &'a Head) -> HeadAppender<'a> {
        HeadAppender {
            head,
            batch: next_batch_id(),
            samples: Vec::new(),
            unlogged: Vec::new(),
            metadata: Vec::new(),
            exemplars: Vec::new(),
        }
    }

    fn resolve(&self, r: SeriesRef, labels: &Labels) -> Result<Arc<MemSeries>> {
        if let Ok(id) = u32::try_from(r.0)
            && id != 0
            && let Some(s) = self.head.series_by_ref(id)
            && (labels.is_empty() || same_labels(&s.labels, labels))
        {
            return Ok(s);
        }
        validate_labels(labels)?;
        Ok(self.head.create_series(None, labels.clone()))
    }

    /// The newest sample this batch holds for `s`, if any (as `last()`
    /// shows it: a histogram as `HIST_SENTINEL_BITS`).
    fn pending(&self, s: &MemSeries) -> Option<(i64, u64)> {
        let mark = s.batch_mark.load(Ordering::Relaxed);
        if mark >> 32 != self.batch & 0xffff_ffff {
            return None;
        }
        let held = self.samples.get((mark & 0xffff_ffff) as usize)?;
        if held.0.id != s.id {
            return None;
        }
        let bits = match &held.2 {
            Value::Float(v) => v.to_bits(),
            Value::Hist(_) => crate::series::HIST_SENTINEL_BITS,
        };
        Some((held.1, bits))
    }

    /// Buffers an accepted sample, marking it as the series' newest in this
    /// batch when it is in order.
    fn hold(&mut self, s: Arc<MemSeries>, t: i64, v: Value, newest: bool) {
        if newest {
            let mark = (self.batch << 32) | (self.samples.len() as u64 & 0xffff_ffff);
            s.batch_mark.store(mark, Ordering::Relaxed);
        }
        if !s.logged.load(Ordering::Relaxed) {
            self.unlogged.push(s.clone());
        }
        self.samples.push((s, t, v));
    }

    fn add(&mut self, r: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef> {
        if !(Timestamp::MIN.0..=Timestamp::MAX.0).contains(&t) {
            return Err(AppendError::OutOfBounds.into());
        }
        let s = self.resolve(r, labels)?;
        let id = SeriesRef(u64::from(s.id));
        let last = self.pending(&s).or_else(|| s.published_last());
        let verdict = self.head.judge_float(last, t, v)?;
        if verdict == Verdict::Duplicate {
            return Ok(id);
        }
        let newest = matches!(verdict, Verdict::InOrder | Verdict::ReplaceLast);
        self.hold(s, t, Value::Float(v), newest);
        Ok(id)
    }

    fn add_hist(
        &mut self,
        r: SeriesRef,
        labels: &Labels,
        t: i64,
        h: HistSample,
    ) -> Result<SeriesRef> {
        if !(Timestamp::MIN.0..=Timestamp::MAX.0).contains(&t) {
            return Err(AppendError::OutOfBounds.into());
        }
        let s = self.resolve(r, labels)?;
        let id = SeriesRef(u64::from(s.id));
        let pending = self.pending(&s);
        if self.head.judge_hist_against(&s, pending, t, &h)? == Verdict::Duplicate {
            // Equal to a sample of this batch, or to the committed one.
            let held = self
                .samples
                .iter()
                .rev()
                .find(|x| x.0.id == s.id && x.1 == t);
            return match held {
                Some((_, _, Value::Hist(prev))) if **prev == h => Ok(id),
                Some(_) => Err(AppendError::DuplicateSampleForTimestamp.into()),
                None => Ok(id),
            };
        }
        self.hold(s, t, Value::Hist(Box::new(h)), true);
        Ok(id)
    }

    fn clear(&mut self) {
        self.samples.clear();
        self.unlogged.clear();
        self.metadata.clear();
        self.exemplars.clear();
        // A fresh id makes this batch's pending marks stale.
        self.batch = next_batch_id();
    }
}

/// Encodes a run of same-kind samples as WAL records.
fn encode_run(payloads: &mut Vec<Vec<u8>>, run: &[(Arc<MemSeries>, i64, Value)]) {
    for group in run.chunks(SAMPLES_PER_RECORD_MAX) {
        let mut buf = Vec::new();
        if matches!(group[0].2, Value::Float(_)) {
            let refs = group.iter().map(|(s, t, v)| RefSample {
                id: s.id,
                t: *t,
                v: match v {
                    Value::Float(f) => *f,
                    Value::Hist(_) => unreachable!("runs hold one kind"),
                },
            });
            record::encode_samples_iter(&mut buf, refs);
        } else {
            let hists = group.iter().filter_map(|(s, t, v)| match v {
                Value::Hist(h) => Some((s.id, *t, &**h)),
                Value::Float(_) => None,
            });
            record::encode_hist_samples(&mut buf, hists);
        }
        payloads.push(buf);
    }
}

impl Head {
    /// Logs a batch to the WAL, then applies it. Nothing is applied when
    /// logging fails. Float and histogram samples go in separate records,
    /// one per run of the same kind, so replay keeps the batch's order.
    fn commit_batch(
        &self,
        samples: &mut [(Arc<MemSeries>, i64, Value)],
        unlogged: &mut Vec<Arc<MemSeries>>,
    ) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut wal = self.wal.lock();
        if let Some(w) = wal.as_mut() {
            unlogged.retain(|s| !s.logged.load(Ordering::Relaxed));
            unlogged.sort_by_key(|s| s.id);
            unlogged.dedup_by_key(|s| s.id);
            let new_series = &*unlogged;
            let mut payloads: Vec<Vec<u8>> = Vec::new();
            for group in new_series.chunks(10_000) {
                let mut buf = Vec::new();
                record::encode_series(&mut buf, group.iter().map(|s| (s.id, &s.labels)));
                payloads.push(buf);
            }
            let is_float = |v: &Value| matches!(v, Value::Float(_));
            for run in samples.chunk_by(|a, b| is_float(&a.2) == is_float(&b.2)) {
                encode_run(&mut payloads, run);
            }
            let slices: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            w.log(&slices)?;
            for s in new_series {
                s.logged.store(true, Ordering::Relaxed);
            }
        }
        self.apply_samples(samples.iter_mut().map(|(s, t, v)| {
            let v = std::mem::replace(v, Value::Float(0.0));
            (&**s, *t, v)
        }));
        Ok(())
    }
}

impl Head {
    /// Logs metadata changes and exemplars (with series records for series
    /// not yet in the WAL), then applies them.
    fn commit_extras(
        &self,
        items: &[(Arc<MemSeries>, Metadata)],
        exemplars: &[(Arc<MemSeries>, Exemplar)],
    ) -> Result<()> {
        if items.is_empty() && exemplars.is_empty() {
            return Ok(());
        }
        let mut wal = self.wal.lock();
        if let Some(w) = wal.as_mut() {
            let mut new_series: Vec<&Arc<MemSeries>> = items
                .iter()
                .map(|(s, _)| s)
                .chain(exemplars.iter().map(|(s, _)| s))
                .filter(|s| !s.logged.load(Ordering::Relaxed))
                .collect();
            new_series.sort_by_key(|s| s.id);
            new_series.dedup_by_key(|s| s.id);
            let mut series = Vec::new();
            record::encode_series(&mut series, new_series.iter().map(|s| (s.id, &s.labels)));
            let mut meta = Vec::new();
            let by_id: Vec<(u32, Metadata)> =
                items.iter().map(|(s, m)| (s.id, m.clone())).collect();
            record::encode_metadata(&mut meta, &by_id);
            let mut ex = Vec::new();
            let ex_by_id: Vec<(u32, Exemplar)> =
                exemplars.iter().map(|(s, e)| (s.id, e.clone())).collect();
            record::encode_exemplars(&mut ex, &ex_by_id);
            let mut payloads: Vec<&[u8]> = Vec::new();
            if !new_series.is_empty() {
                payloads.push(&series);
            }
            if !by_id.is_empty() {
                payloads.push(&meta);
            }
            if !ex_by_id.is_empty() {
                payloads.push(&ex);
            }
            w.log(&payloads)?;
            for s in new_series {
                s.logged.store(true, Ordering::Relaxed);
            }
        }
        for (s, m) in items {
            s.data.lock().meta = Some(Box::new(m.clone()));
        }
        for (s, e) in exemplars {
            // An exemplar refused here (out of order within its batch) is
            // counted by the store; its WAL record is refused again at
            // replay, so the two agree.
            let _ = self.exemplars.add(s.id, e.clone());
        }
        Ok(())
    }
}

impl Appender for HeadAppender<'_> {
    fn append_exemplar(
        &mut self,
        r: SeriesRef,
        labels: &Labels,
        e: &Exemplar,
    ) -> beacon_storage::Result<SeriesRef> {
        let s = self.resolve(r, labels)?;
        let id = SeriesRef(u64::from(s.id));
        let mut e = e.clone();
        if e.t.is_none() {
            // An exemplar without its own time belongs to the sample it
            // came with: the series' newest.
            e.t = self
                .samples
                .iter()
                .rev()
                .find(|x| x.0.id == s.id)
                .map(|x| x.1)
                .or_else(|| s.data.lock().last().map(|l| l.0));
        }
        if e.t.is_none() {
            return Err(AppendError::OutOfOrderExemplar.into());
        }
        if self.head.exemplars.check(s.id, &e)? == ExemplarVerdict::Add {
            self.exemplars.push((s, e));
        }
        Ok(id)
    }

    fn update_metadata(
        &mut self,
        r: SeriesRef,
        labels: &Labels,
        m: &Metadata,
    ) -> beacon_storage::Result<SeriesRef> {
        let s = self.resolve(r, labels)?;
        let id = SeriesRef(u64::from(s.id));
        // Scrapes repeat metadata every time; only changes are logged.
        if s.data.lock().meta.as_deref() != Some(m) {
            self.metadata.push((s, m.clone()));
        }
        Ok(id)
    }

    fn append(
        &mut self,
        r: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> beacon_storage::Result<SeriesRef> {
        Ok(self.add(r, labels, t, v)?)
    }

    fn append_histogram(
        &mut self,
        r: SeriesRef,
        labels: &Labels,
        t: i64,
        h: Option<&Histogram>,
        fh: Option<&FloatHistogram>,
    ) -> beacon_storage::Result<SeriesRef> {
        let sample = match (h, fh) {
            (Some(h), _) => {
                h.validate()
                    .map_err(|e| AppendError::InvalidHistogram(e.to_string()))?;
                HistSample::Int(h.clone())
            }
            (None, Some(fh)) => {
                fh.validate()
                    .map_err(|e| AppendError::InvalidHistogram(e.to_string()))?;
                HistSample::Float(fh.clone())
            }
            (None, None) => {
                return Err(AppendError::InvalidHistogram("no histogram given".into()).into());
            }
        };
        Ok(self.add_hist(r, labels, t, sample)?)
    }

    fn commit(&mut self) -> beacon_storage::Result<()> {
        let mut unlogged = std::mem::take(&mut self.unlogged);
        let mut samples = std::mem::take(&mut self.samples);
        let res = self
            .head
            .commit_batch(&mut samples, &mut unlogged)
            .and_then(|()| self.head.commit_extras(&self.metadata, &self.exemplars));
        self.unlogged = unlogged;
        self.samples = samples;
        self.clear();
        Ok(res?)
    }

    fn rollback(&mut self) -> beacon_storage::Result<()> {
        self.clear();
        Ok(())
    }
}

impl Drop for HeadAppender<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}
