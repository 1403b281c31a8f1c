//! The head's in-memory postings: for each label name, its values in sorted
//! order (so prefix matchers scan a range) and each value's sorted series
//! ids. Names and values are stored once each, however many series share
//! them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use beacon_model::Labels;
use hashbrown::HashMap;

use crate::series::MemSeries;

#[derive(Default)]
pub struct MemPostings {
    pub by_name: HashMap<Box<str>, BTreeMap<Box<str>, Vec<u32>>>,
    pub all: Vec<u32>,
}

/// Inserts `id` keeping `list` sorted (ids mostly arrive in order).
fn insert_sorted(list: &mut Vec<u32>, id: u32) {
    match list.last() {
        Some(&last) if last >= id => {
            if let Err(pos) = list.binary_search(&id) {
                list.insert(pos, id);
            }
        }
        _ => list.push(id),
    }
}

impl MemPostings {
    pub fn add(&mut self, id: u32, labels: &Labels) {
        insert_sorted(&mut self.all, id);
        for l in labels {
            let values = match self.by_name.get_mut(l.name) {
                Some(v) => v,
                None => self.by_name.entry(l.name.into()).or_default(),
            };
            match values.get_mut(l.value) {
                Some(list) => insert_sorted(list, id),
                None => {
                    values.insert(l.value.into(), vec![id]);
                }
            }
        }
    }

    /// Removes the series in `ids` (whose labels are among `series`).
    pub fn remove(&mut self, ids: &HashSet<u32>, series: &[Arc<MemSeries>]) {
        if ids.is_empty() {
            return;
        }
        self.all.retain(|id| !ids.contains(id));
        let mut touched: HashSet<(&str, &str)> = HashSet::new();
        for s in series.iter().filter(|s| ids.contains(&s.id)) {
            for l in &s.labels {
                touched.insert((l.name, l.value));
            }
        }
        for (name, value) in touched {
            let Some(values) = self.by_name.get_mut(name) else {
                continue;
            };
            if let Some(list) = values.get_mut(value) {
                list.retain(|id| !ids.contains(id));
                if list.is_empty() {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                self.by_name.remove(name);
            }
        }
    }

    /// Heap bytes held (an estimate).
    pub fn heap_bytes(&self) -> usize {
        let mut n = self.all.capacity() * 4;
        for (name, values) in &self.by_name {
            n += name.len() + 64;
            for (v, list) in values {
                n += v.len() + 16 + 40 + list.capacity() * 4;
            }
        }
        n
    }
}
