//! The head's appender: checks each sample as it is added (so scrape
//! errors name the bad sample), buffers the batch, and on `commit` logs it
//! to the WAL and applies it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use beacon_model::{FloatHistogram, Histogram, Labels, SeriesRef, Timestamp};
use beacon_storage::{AppendError, Appender};
use hashbrown::HashMap;

use super::Head;
use crate::record::{self, RefSample};
use crate::series::{MemSeries, Verdict};
use crate::{Error, Result};

/// Most label pairs a series may have.
pub const LABELS_PER_SERIES_MAX: usize = 1024;
/// Longest label name or value, in bytes.
pub const LABEL_BYTES_MAX: usize = 64 * 1024;
/// Samples per WAL record; a bigger batch is split so records stay far
/// below the WAL's record size limit.
const SAMPLES_PER_RECORD_MAX: usize = 500_000;

/// Buffers one batch for the head.
pub struct HeadAppender<'a> {
    head: &'a Head,
    samples: Vec<(Arc<MemSeries>, i64, f64)>,
    /// Series held by this batch, with their newest pending in-order sample.
    last: HashMap<u32, Option<(i64, u64)>>,
    /// Series whose `pending` count this batch raised.
    touched: Vec<Arc<MemSeries>>,
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
            samples: Vec::new(),
            last: HashMap::new(),
            touched: Vec::new(),
        }
    }

    fn resolve(&self, r: SeriesRef, labels: &Labels) -> Result<Arc<MemSeries>> {
        if let Ok(id) = u32::try_from(r.0)
            && id != 0
            && let Some(s) = self.head.series_by_ref(id)
            && (labels.is_empty() || s.labels == *labels)
        {
            return Ok(s);
        }
        validate_labels(labels)?;
        Ok(self.head.create_series(None, labels.clone()))
    }

    /// Marks `s` as having uncommitted samples so truncation keeps it,
    /// re-resolving when truncation removed it in between.
    fn hold(&mut self, mut s: Arc<MemSeries>) -> Result<Arc<MemSeries>> {
        loop {
            s.pending.fetch_add(1, Ordering::AcqRel);
            match self.head.series_by_ref(s.id) {
                Some(cur) if Arc::ptr_eq(&cur, &s) => {
                    self.touched.push(s.clone());
                    return Ok(s);
                }
                _ => {
                    s.pending.fetch_sub(1, Ordering::AcqRel);
                    s = self.resolve(SeriesRef::NONE, &s.labels.clone())?;
                }
            }
        }
    }

    fn add(&mut self, r: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef> {
        if !(Timestamp::MIN.0..=Timestamp::MAX.0).contains(&t) {
            return Err(AppendError::OutOfBounds.into());
        }
        let mut s = self.resolve(r, labels)?;
        let held = self.last.get(&s.id).copied();
        let verdict = self.head.judge_against(&s, held.flatten(), t, v)?;
        if held.is_none() {
            s = self.hold(s)?;
            self.last.insert(s.id, None);
        }
        let id = s.id;
        match verdict {
            Verdict::Duplicate => return Ok(SeriesRef(u64::from(id))),
            Verdict::InOrder | Verdict::ReplaceLast => {
                self.last.insert(id, Some((t, v.to_bits())));
            }
            Verdict::OutOfOrder => {}
        }
        self.samples.push((s, t, v));
        Ok(SeriesRef(u64::from(id)))
    }

    fn clear(&mut self) {
        self.samples.clear();
        self.last.clear();
        for s in self.touched.drain(..) {
            s.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Head {
    /// Logs a batch to the WAL, then applies it. Nothing is applied when
    /// logging fails.
    fn commit_batch(&self, samples: &[(Arc<MemSeries>, i64, f64)]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut wal = self.wal.lock();
        if let Some(w) = wal.as_mut() {
            let mut new_series: Vec<&Arc<MemSeries>> = samples
                .iter()
                .map(|(s, _, _)| s)
                .filter(|s| !s.logged.load(Ordering::Relaxed))
                .collect();
            new_series.sort_by_key(|s| s.id);
            new_series.dedup_by_key(|s| s.id);
            let mut payloads: Vec<Vec<u8>> = Vec::new();
            for group in new_series.chunks(10_000) {
                let mut buf = Vec::new();
                record::encode_series(&mut buf, group.iter().map(|s| (s.id, &s.labels)));
                payloads.push(buf);
            }
            for group in samples.chunks(SAMPLES_PER_RECORD_MAX) {
                let refs: Vec<RefSample> = group
                    .iter()
                    .map(|(s, t, v)| RefSample {
                        id: s.id,
                        t: *t,
                        v: *v,
                    })
                    .collect();
                let mut buf = Vec::with_capacity(refs.len() * 12 + 8);
                record::encode_samples(&mut buf, &refs);
                payloads.push(buf);
            }
            let slices: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            w.log(&slices)?;
            for s in new_series {
                s.logged.store(true, Ordering::Relaxed);
            }
        }
        for (s, t, v) in samples {
            self.apply_sample(s, *t, *v);
        }
        Ok(())
    }
}

impl Appender for HeadAppender<'_> {
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
        _r: SeriesRef,
        _labels: &Labels,
        _t: i64,
        _h: Option<&Histogram>,
        _fh: Option<&FloatHistogram>,
    ) -> beacon_storage::Result<SeriesRef> {
        Err(Error::from(AppendError::InvalidHistogram(
            "native histograms are not stored by this TSDB version".into(),
        ))
        .into())
    }

    fn commit(&mut self) -> beacon_storage::Result<()> {
        let res = self.head.commit_batch(&self.samples);
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
