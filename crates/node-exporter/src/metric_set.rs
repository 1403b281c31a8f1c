//! [`MetricSet`]: the families one collector produces, built by name so a
//! collector can add samples in the order it reads them.

use std::collections::HashMap;

use beacon_exposition::family::MetricFamily;
use beacon_model::{Labels, MetricType};

/// Families under construction, looked up by name.
#[derive(Debug, Default)]
pub struct MetricSet {
    families: Vec<MetricFamily>,
    index: HashMap<String, usize>,
}

/// Builds a label set from pairs in any order. Unlike
/// `Labels::from_pairs`, empty values are kept: node_exporter writes
/// `ifalias=""`, and label-name comparisons with it rely on that.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut sorted: Vec<(&str, &str)> = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted.dedup_by(|later, earlier| later.0 == earlier.0);
    Labels::from_sorted(sorted)
}

impl MetricSet {
    pub fn new() -> MetricSet {
        MetricSet::default()
    }

    /// Adds one sample to family `name`, creating it with `help` and `typ`
    /// on first use.
    pub fn add(
        &mut self,
        name: &str,
        help: &str,
        typ: MetricType,
        label_pairs: &[(&str, &str)],
        value: f64,
    ) {
        let fam = self.family(name, help, typ);
        fam.push_value(labels(label_pairs), value);
    }

    pub fn gauge(&mut self, name: &str, help: &str, label_pairs: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Gauge, label_pairs, value);
    }

    pub fn counter(&mut self, name: &str, help: &str, label_pairs: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Counter, label_pairs, value);
    }

    pub fn untyped(&mut self, name: &str, help: &str, label_pairs: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Unknown, label_pairs, value);
    }

    /// The family `name`, created empty when absent.
    pub fn family(&mut self, name: &str, help: &str, typ: MetricType) -> &mut MetricFamily {
        // Collectors mostly add a family's samples one after another, so
        // the last family is worth checking before hashing.
        if self.families.last().is_some_and(|f| f.name == name) {
            let last = self.families.len() - 1;
            return &mut self.families[last];
        }
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.families.push(MetricFamily::new(name, help, typ));
                self.index.insert(name.to_string(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        &mut self.families[i]
    }

    /// True when a family of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Moves all families of `other` into `self`; metrics of a family both
    /// hold are appended to the existing one.
    pub fn merge(&mut self, other: MetricSet) {
        for fam in other.families {
            match self.index.get(&fam.name) {
                Some(&i) => self.families[i].metrics.extend(fam.metrics),
                None => {
                    self.index.insert(fam.name.clone(), self.families.len());
                    self.families.push(fam);
                }
            }
        }
    }

    /// The families sorted by name, each one's metrics sorted by labels,
    /// as Prometheus's client libraries expose them.
    pub fn into_sorted(self) -> Vec<MetricFamily> {
        let mut fams = self.families;
        fams.sort_by(|a, b| a.name.cmp(&b.name));
        for f in &mut fams {
            f.metrics.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        fams
    }
}
