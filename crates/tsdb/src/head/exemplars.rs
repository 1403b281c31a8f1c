//! Exemplars: the newest `EXEMPLARS_MAX` exemplars of all series in one
//! ring, as Prometheus keeps them, with per-series ordering checks.

use std::collections::{HashSet, VecDeque};

use beacon_model::Exemplar;
use beacon_storage::AppendError;
use hashbrown::HashMap;
use parking_lot::Mutex;

/// Exemplars kept in memory (Prometheus's default maximum).
pub const EXEMPLARS_MAX: usize = 100_000;
/// Characters an exemplar's label set may hold (OpenMetrics's limit).
pub const EXEMPLAR_LABEL_CHARS_MAX: usize = 128;

#[derive(Default)]
struct Inner {
    ring: VecDeque<(u32, Exemplar)>,
    /// The newest exemplar per series, for the ordering check.
    last: HashMap<u32, Exemplar>,
}

/// The head's exemplar storage.
#[derive(Default)]
pub struct ExemplarStore {
    inner: Mutex<Inner>,
}

impl ExemplarStore {
    /// Checks `e` for series `id`: Ok(false) for a repeat of the newest.
    pub fn check(&self, id: u32, e: &Exemplar) -> Result<bool, AppendError> {
        let chars: usize = e
            .labels
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if chars > EXEMPLAR_LABEL_CHARS_MAX {
            return Err(AppendError::LimitExceeded(format!(
                "exemplar labels have {chars} characters, more than {EXEMPLAR_LABEL_CHARS_MAX}"
            )));
        }
        let inner = self.inner.lock();
        match inner.last.get(&id) {
            Some(prev) if prev == e => Ok(false),
            Some(prev) if e.t < prev.t => Err(AppendError::OutOfOrderExemplar),
            _ => Ok(true),
        }
    }

    /// Stores `e` (already checked), evicting the oldest when full.
    pub fn add(&self, id: u32, e: Exemplar) {
        let mut inner = self.inner.lock();
        if inner.last.get(&id).is_some_and(|p| *p == e || e.t < p.t) {
            return;
        }
        inner.last.insert(id, e.clone());
        inner.ring.push_back((id, e));
        if inner.ring.len() > EXEMPLARS_MAX {
            inner.ring.pop_front();
        }
    }

    /// Exemplars of the series in `ids` within `[mint, maxt]`, by series,
    /// oldest first.
    pub fn query(&self, ids: &HashSet<u32>, mint: i64, maxt: i64) -> HashMap<u32, Vec<Exemplar>> {
        let inner = self.inner.lock();
        let mut out: HashMap<u32, Vec<Exemplar>> = HashMap::new();
        for (id, e) in &inner.ring {
            if ids.contains(id) && e.t.is_some_and(|t| (mint..=maxt).contains(&t)) {
                out.entry(*id).or_default().push(e.clone());
            }
        }
        out
    }

    /// Forgets the ordering state of removed series.
    pub fn forget(&self, ids: &HashSet<u32>) {
        let mut inner = self.inner.lock();
        inner.last.retain(|id, _| !ids.contains(id));
        inner.ring.retain(|(id, _)| !ids.contains(id));
    }
}
