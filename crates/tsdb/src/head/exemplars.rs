//! Exemplars: the newest `max` exemplars of all series in one circular
//! buffer, as Prometheus keeps them, with a per-series index so queries and
//! ordering checks never scan the whole buffer.
//!
//! Each slot links to the next (newer) slot of the same series, and the
//! index holds every series' oldest and newest slot. Writing into a full
//! buffer evicts the globally oldest exemplar, which is always the oldest
//! of its series (slots are written in order), so eviction only advances
//! that series' head of chain. Removing a series leaves holes, which later
//! writes fill. The append rules are `beacon_storage::judge_exemplar`'s.

use beacon_model::Exemplar;
use beacon_storage::{AppendError, ExemplarVerdict, judge_exemplar};
use std::collections::HashSet;

use hashbrown::HashMap;
use parking_lot::Mutex;

/// Exemplars kept by default (Prometheus 3.x's `max_exemplars` default).
pub const EXEMPLARS_MAX_DEFAULT: usize = 100_000;
/// The largest buffer a configuration may ask for: each slot costs about
/// 48 bytes plus its labels, so this caps the buffer near 1 GiB.
pub const EXEMPLARS_MAX_LIMIT: usize = 20_000_000;

/// "No slot" in a chain link.
const NONE: u32 = u32::MAX;

struct Slot {
    series: u32,
    e: Exemplar,
    /// The next newer slot of the same series, or `NONE`.
    next: u32,
}

/// A series' chain of slots.
#[derive(Clone, Copy)]
struct Chain {
    oldest: u32,
    newest: u32,
}

#[derive(Default)]
struct Inner {
    /// Grows to `max` slots, then wraps; `None` is a hole left by a
    /// removed series.
    slots: Vec<Option<Slot>>,
    /// Where the next exemplar goes once `slots` is full.
    next: usize,
    index: HashMap<u32, Chain>,
    max: usize,
    stored: usize,
    appended_total: u64,
    out_of_order_total: u64,
}

/// The figures behind the `prometheus_tsdb_exemplar_*` metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExemplarStats {
    pub appended_total: u64,
    pub in_storage: u64,
    pub series_in_storage: u64,
    pub max: u64,
    /// Time of the oldest exemplar kept (ms), which tells how far back
    /// the buffer reaches.
    pub oldest_t: Option<i64>,
    pub out_of_order_total: u64,
}

impl Inner {
    fn with_max(max: usize) -> Inner {
        Inner {
            max,
            ..Inner::default()
        }
    }

    fn newest(&self, id: u32) -> Option<&Exemplar> {
        let c = self.index.get(&id)?;
        self.slots[c.newest as usize].as_ref().map(|s| &s.e)
    }

    /// Empties slot `pos`, unlinking it from its series' chain (it is that
    /// chain's oldest, since slots are written in order).
    fn evict(&mut self, pos: usize) {
        let Some(old) = self.slots[pos].take() else {
            return;
        };
        self.stored -= 1;
        if old.next == NONE {
            self.index.remove(&old.series);
        } else if let Some(c) = self.index.get_mut(&old.series) {
            debug_assert_eq!(c.oldest as usize, pos);
            c.oldest = old.next;
        }
    }

    /// Writes `e` for series `id` into the next slot.
    fn push(&mut self, id: u32, e: Exemplar) {
        let pos = if self.slots.len() < self.max {
            self.slots.push(None);
            self.slots.len() - 1
        } else {
            let pos = self.next;
            self.next = (self.next + 1) % self.max;
            self.evict(pos);
            pos
        };
        let pos32 = pos as u32;
        match self.index.get_mut(&id) {
            Some(c) => {
                if let Some(prev) = self.slots[c.newest as usize].as_mut() {
                    prev.next = pos32;
                }
                c.newest = pos32;
            }
            None => {
                self.index.insert(
                    id,
                    Chain {
                        oldest: pos32,
                        newest: pos32,
                    },
                );
            }
        }
        self.slots[pos] = Some(Slot {
            series: id,
            e,
            next: NONE,
        });
        self.stored += 1;
    }

    /// Slot positions from the oldest written to the newest.
    fn ring_order(&self) -> impl Iterator<Item = usize> + '_ {
        let start = if self.slots.len() < self.max {
            0
        } else {
            self.next
        };
        let n = self.slots.len();
        (0..n).map(move |i| (start + i) % n)
    }

    fn chain(&self, id: u32) -> impl Iterator<Item = &Exemplar> + '_ {
        let mut pos = self.index.get(&id).map_or(NONE, |c| c.oldest);
        std::iter::from_fn(move || {
            let s = self.slots.get(pos as usize)?.as_ref()?;
            pos = s.next;
            Some(&s.e)
        })
    }
}

/// The head's exemplar storage.
pub struct ExemplarStore {
    inner: Mutex<Inner>,
}

impl Default for ExemplarStore {
    fn default() -> Self {
        ExemplarStore::new(EXEMPLARS_MAX_DEFAULT)
    }
}

impl ExemplarStore {
    /// A store of at most `max` exemplars (0 disables storage).
    pub fn new(max: usize) -> ExemplarStore {
        ExemplarStore {
            inner: Mutex::new(Inner::with_max(max.min(EXEMPLARS_MAX_LIMIT))),
        }
    }

    /// Checks `e` (its time set) for series `id` against the stored
    /// newest. `Duplicate` also when storage is disabled, so the appender
    /// drops it silently, as Prometheus does.
    pub fn check(&self, id: u32, e: &Exemplar) -> Result<ExemplarVerdict, AppendError> {
        let inner = self.inner.lock();
        if inner.max == 0 {
            return Ok(ExemplarVerdict::Duplicate);
        }
        judge_exemplar(inner.newest(id), e)
    }

    /// Stores `e` for series `id`, evicting the oldest exemplar when full.
    /// Rechecks the rules, since exemplars of one batch (or of a WAL being
    /// replayed) were checked only against what was stored before.
    pub fn add(&self, id: u32, e: Exemplar) -> Result<ExemplarVerdict, AppendError> {
        let mut inner = self.inner.lock();
        if inner.max == 0 {
            return Ok(ExemplarVerdict::Duplicate);
        }
        match judge_exemplar(inner.newest(id), &e) {
            Ok(ExemplarVerdict::Add) => {
                inner.push(id, e);
                inner.appended_total += 1;
                Ok(ExemplarVerdict::Add)
            }
            Err(AppendError::OutOfOrderExemplar) => {
                inner.out_of_order_total += 1;
                Err(AppendError::OutOfOrderExemplar)
            }
            other => other,
        }
    }

    /// Exemplars of series `ids` with a time in `[mint, maxt]`, oldest
    /// first; series without any are left out.
    pub fn query(
        &self,
        ids: impl Iterator<Item = u32>,
        mint: i64,
        maxt: i64,
    ) -> Vec<(u32, Vec<Exemplar>)> {
        let inner = self.inner.lock();
        let in_range = |e: &&Exemplar| e.t.is_some_and(|t| (mint..=maxt).contains(&t));
        ids.filter_map(|id| {
            let found: Vec<Exemplar> = inner.chain(id).filter(in_range).cloned().collect();
            (!found.is_empty()).then_some((id, found))
        })
        .collect()
    }

    /// Drops the exemplars of removed series (their slots become holes).
    pub fn forget(&self, ids: &HashSet<u32>) {
        let mut inner = self.inner.lock();
        for id in ids {
            let Some(c) = inner.index.remove(id) else {
                continue;
            };
            let mut pos = c.oldest;
            while let Some(s) = inner.slots.get_mut(pos as usize).and_then(Option::take) {
                inner.stored -= 1;
                pos = s.next;
            }
        }
    }

    /// Changes the capacity (on configuration reload), keeping the newest
    /// exemplars that fit; 0 drops them all and disables storage.
    pub fn resize(&self, max: usize) {
        let max = max.min(EXEMPLARS_MAX_LIMIT);
        let mut inner = self.inner.lock();
        if max == inner.max {
            return;
        }
        let order: Vec<usize> = inner.ring_order().collect();
        let mut kept: Vec<(u32, Exemplar)> = order
            .into_iter()
            .filter_map(|p| inner.slots[p].take().map(|s| (s.series, s.e)))
            .collect();
        let drop_n = kept.len().saturating_sub(max);
        kept.drain(..drop_n);
        let mut fresh = Inner::with_max(max);
        fresh.appended_total = inner.appended_total;
        fresh.out_of_order_total = inner.out_of_order_total;
        for (id, e) in kept {
            fresh.push(id, e);
        }
        *inner = fresh;
    }

    /// Current figures.
    pub fn stats(&self) -> ExemplarStats {
        let inner = self.inner.lock();
        let oldest_t = inner
            .ring_order()
            .find_map(|p| inner.slots[p].as_ref())
            .and_then(|s| s.e.t);
        ExemplarStats {
            appended_total: inner.appended_total,
            in_storage: inner.stored as u64,
            series_in_storage: inner.index.len() as u64,
            max: inner.max as u64,
            oldest_t,
            out_of_order_total: inner.out_of_order_total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beacon_model::Labels;

    fn ex(t: i64) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs([("trace_id", "x")]),
            value: t as f64,
            t: Some(t),
        }
    }

    fn times(store: &ExemplarStore, id: u32) -> Vec<i64> {
        store
            .query([id].into_iter(), i64::MIN, i64::MAX)
            .pop()
            .map(|(_, v)| v.iter().filter_map(|e| e.t).collect())
            .unwrap_or_default()
    }

    #[test]
    fn ring_evicts_oldest_and_keeps_chains() {
        let s = ExemplarStore::new(4);
        for t in 0..6 {
            s.add((t % 2) as u32, ex(t)).unwrap();
        }
        assert_eq!(times(&s, 0), vec![2, 4]);
        assert_eq!(times(&s, 1), vec![3, 5]);
        let st = s.stats();
        assert_eq!((st.in_storage, st.series_in_storage, st.max), (4, 2, 4));
        assert_eq!((st.appended_total, st.oldest_t), (6, Some(2)));
        // One series fills the ring: the other's chain is gone.
        for t in 10..14 {
            s.add(0, ex(t)).unwrap();
        }
        assert_eq!(times(&s, 1), Vec::<i64>::new());
        assert_eq!(s.stats().series_in_storage, 1);
    }

    #[test]
    fn duplicates_ignored_out_of_order_counted() {
        let s = ExemplarStore::new(10);
        assert_eq!(s.add(1, ex(5)), Ok(ExemplarVerdict::Add));
        assert_eq!(s.add(1, ex(5)), Ok(ExemplarVerdict::Duplicate));
        assert_eq!(s.add(1, ex(4)), Err(AppendError::OutOfOrderExemplar));
        assert_eq!(s.check(1, &ex(3)), Err(AppendError::OutOfOrderExemplar));
        let st = s.stats();
        assert_eq!((st.appended_total, st.out_of_order_total), (1, 1));
    }

    #[test]
    fn forget_leaves_holes_that_fill() {
        let s = ExemplarStore::new(3);
        s.add(1, ex(1)).unwrap();
        s.add(2, ex(2)).unwrap();
        s.add(1, ex(3)).unwrap();
        s.forget(&[1].into_iter().collect());
        assert_eq!(s.stats().in_storage, 1);
        assert_eq!(s.stats().oldest_t, Some(2));
        for t in 4..8 {
            s.add(3, ex(t)).unwrap();
        }
        assert_eq!(times(&s, 3), vec![5, 6, 7]);
        assert_eq!(times(&s, 2), Vec::<i64>::new());
    }

    #[test]
    fn resize_keeps_the_newest_and_zero_disables() {
        let s = ExemplarStore::new(5);
        for t in 0..5 {
            s.add((t % 2) as u32, ex(t)).unwrap();
        }
        s.resize(3);
        assert_eq!(times(&s, 0), vec![2, 4]);
        assert_eq!(times(&s, 1), vec![3]);
        s.resize(10);
        s.add(1, ex(9)).unwrap();
        assert_eq!(times(&s, 1), vec![3, 9]);
        assert_eq!(s.stats().in_storage, 4);
        s.resize(0);
        assert_eq!(s.stats().in_storage, 0);
        assert_eq!(s.add(1, ex(20)), Ok(ExemplarVerdict::Duplicate));
        assert_eq!(s.stats().in_storage, 0);
    }
}
