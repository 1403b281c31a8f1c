//! `Labels`: a sorted set of label pairs that identifies a series.
//!
//! A server holds one `Labels` per series, so its size decides memory per
//! series. It is one shared allocation holding every name and value,
//! each prefixed by its length as a LEB128 varint, pairs sorted by name.
//! Cloning bumps a reference count; hashing and equality run over the bytes.
//!
//! **Invariant:** the pairs are sorted by name, names are unique, and every
//! name and value is valid UTF-8 (they are only ever copied from `&str`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use smallvec::SmallVec;

use crate::METRIC_NAME;

/// One label pair, borrowed from a `Labels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// A sorted, immutable, cheaply cloned set of label pairs.
#[derive(Clone)]
pub struct Labels {
    data: Arc<[u8]>,
}

impl Default for Labels {
    fn default() -> Self {
        Labels::empty()
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Writes `s` with its varint length prefix at `pos`; returns the next position.
fn put_str_at(buf: &mut [u8], mut pos: usize, s: &str) -> usize {
    let mut n = s.len();
    while n >= 0x80 {
        buf[pos] = (n as u8) | 0x80;
        n >>= 7;
        pos += 1;
    }
    buf[pos] = n as u8;
    pos += 1;
    buf[pos..pos + s.len()].copy_from_slice(s.as_bytes());
    pos + s.len()
}

/// Reads one length-prefixed string at `pos`; returns it and the next position.
#[inline]
fn get_str(data: &[u8], pos: usize) -> (&str, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = pos;
    loop {
        let b = data[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    let bytes = &data[p..p + n];
    debug_assert!(std::str::from_utf8(bytes).is_ok());
    // SAFETY: every string in `data` was copied from a `&str` by `put_str_at`
    // and the varint framing is written only by this module, so `bytes` is
    // exactly one of those strings and therefore valid UTF-8.
    let s = unsafe { std::str::from_utf8_unchecked(bytes) };
    (s, p + n)
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Labels {
        Labels {
            data: Arc::from(&[][..]),
        }
    }

    /// Builds a label set from pairs in any order. Later duplicates of a
    /// name win; pairs with an empty value are dropped, as in Prometheus.
    pub fn from_pairs<'a, I, N, V>(pairs: I) -> Labels
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str> + 'a,
        V: AsRef<str> + 'a,
    {
        let mut b = LabelsBuilder::new();
        for (n, v) in pairs {
            b.set(n.as_ref(), v.as_ref());
        }
        b.build()
    }

    /// Builds from pairs already sorted by name with unique names. Cheaper
    /// than `from_pairs`; the order is checked in debug builds.
    pub fn from_sorted<'a, I>(pairs: I) -> Labels
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        // Two passes (size, then fill) so the shared buffer is allocated
        // exactly once: this runs for every new series a scrape sees.
        let pairs: SmallVec<[(&str, &str); 16]> = pairs.into_iter().collect();
        debug_assert!(
            pairs.windows(2).all(|w| w[0].0 < w[1].0),
            "labels not sorted: {pairs:?}"
        );
        let len: usize = pairs
            .iter()
            .map(|(n, v)| varint_len(n.len()) + n.len() + varint_len(v.len()) + v.len())
            .sum();
        // `repeat_n` has a trusted length, so `collect` allocates the Arc once.
        let mut data: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
        let buf = Arc::get_mut(&mut data).expect("freshly allocated Arc is unique");
        let mut pos = 0;
        for (n, v) in pairs {
            pos = put_str_at(buf, pos, n);
            pos = put_str_at(buf, pos, v);
        }
        debug_assert_eq!(pos, len);
        Labels { data }
    }

    /// Number of label pairs.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The pairs in name order.
    pub fn iter(&self) -> LabelsIter<'_> {
        LabelsIter {
            data: &self.data,
            pos: 0,
        }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        for l in self.iter() {
            match l.name.cmp(name) {
                Ordering::Less => continue,
                Ordering::Equal => return Some(l.value),
                Ordering::Greater => return None,
            }
        }
        None
    }

    /// True when label `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// A stable 64-bit hash of the label set (xxh3 over the encoded bytes).
    pub fn hash64(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.data)
    }

    /// A hash over only the named labels (for `on(...)`/`by(...)` grouping).
    /// `names` must be sorted.
    pub fn hash_for_names(&self, names: &[&str]) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for l in self.iter() {
            if names.binary_search(&l.name).is_ok() {
                h.update(l.name.as_bytes());
                h.update(&[0xff]);
                h.update(l.value.as_bytes());
                h.update(&[0xff]);
            }
        }
        h.digest()
    }

    /// A hash over all labels except the named ones (for `ignoring`/`without`).
    /// `names` must be sorted.
    pub fn hash_without_names(&self, names: &[&str]) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for l in self.iter() {
            if l.name != METRIC_NAME && names.binary_search(&l.name).is_err() {
                h.update(l.name.as_bytes());
                h.update(&[0xff]);
                h.update(l.value.as_bytes());
                h.update(&[0xff]);
            }
        }
        h.digest()
    }

    /// A copy with only the named labels kept.
    pub fn keep(&self, names: &[&str]) -> Labels {
        Labels::from_sorted(
            self.iter()
                .filter(|l| names.contains(&l.name))
                .map(|l| (l.name, l.value)),
        )
    }

    /// A copy with the named labels removed.
    pub fn drop_names(&self, names: &[&str]) -> Labels {
        Labels::from_sorted(
            self.iter()
                .filter(|l| !names.contains(&l.name))
                .map(|l| (l.name, l.value)),
        )
    }

    /// A copy without `__name__`.
    pub fn without_metric_name(&self) -> Labels {
        if !self.has(METRIC_NAME) {
            return self.clone();
        }
        self.drop_names(&[METRIC_NAME])
    }

    /// A builder seeded with these labels.
    pub fn builder(&self) -> LabelsBuilder {
        let mut b = LabelsBuilder::new();
        for l in self.iter() {
            b.pairs.push((l.name.to_owned(), l.value.to_owned()));
        }
        b
    }

    /// The encoded bytes (see the module docs); stable within a process.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Bytes of heap this label set holds (not counting sharing).
    pub fn heap_bytes(&self) -> usize {
        self.data.len() + 2 * std::mem::size_of::<usize>()
    }
}

/// Iterator over the pairs of a `Labels`.
#[derive(Clone)]
pub struct LabelsIter<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = Label<'a>;

    #[inline]
    fn next(&mut self) -> Option<Label<'a>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let (name, p) = get_str(self.data, self.pos);
        let (value, p) = get_str(self.data, p);
        self.pos = p;
        Some(Label { name, value })
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = Label<'a>;
    type IntoIter = LabelsIter<'a>;
    fn into_iter(self) -> LabelsIter<'a> {
        self.iter()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        self.data == other.data
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash64());
    }
}

impl Ord for Labels {
    /// Prometheus's order: pair by pair, name then value; a prefix sorts first.
    fn cmp(&self, other: &Labels) -> Ordering {
        let mut a = self.iter();
        let mut b = other.iter();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => {
                    let o = x.name.cmp(y.name).then_with(|| x.value.cmp(y.value));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
            }
        }
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Writes `s` as a double-quoted string with Go-style escapes for `\`, `"`
/// and newline, as Prometheus prints label values.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\n' => f.write_str("\\n")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Labels {
    /// Prometheus's notation: `name{a="1", b="2"}`, with names outside the
    /// legacy charset quoted (`{"my.metric", a="1"}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        let legacy_name = name.is_some_and(crate::is_valid_legacy_metric_name);
        if let Some(n) = name.filter(|_| legacy_name) {
            f.write_str(n)?;
        }
        let mut first = true;
        let rest = self
            .iter()
            .filter(|l| !(legacy_name && l.name == METRIC_NAME));
        let mut any = false;
        for l in rest {
            if first {
                f.write_str("{")?;
                first = false;
            } else {
                f.write_str(", ")?;
            }
            any = true;
            if l.name == METRIC_NAME {
                write_quoted(f, l.value)?;
                continue;
            }
            if crate::is_valid_legacy_label_name(l.name) {
                f.write_str(l.name)?;
            } else {
                write_quoted(f, l.name)?;
            }
            f.write_str("=")?;
            write_quoted(f, l.value)?;
        }
        if any {
            f.write_str("}")?;
        } else if name.is_none() {
            f.write_str("{}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Builds or edits a label set. Setting an empty value deletes the label.
#[derive(Debug, Clone, Default)]
pub struct LabelsBuilder {
    pairs: Vec<(String, String)>,
}

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> LabelsBuilder {
        LabelsBuilder::default()
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        if let Some(p) = self.pairs.iter_mut().find(|p| p.0 == name) {
            value.clone_into(&mut p.1);
        } else {
            self.pairs.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Removes `name`.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.pairs.retain(|p| p.0 != name);
        self
    }

    /// Keeps only the labels `keep` returns true for.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) -> &mut Self {
        self.pairs.retain(|p| keep(&p.0, &p.1));
        self
    }

    /// The current value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|p| p.0 == name)
            .map(|p| p.1.as_str())
    }

    /// The current pairs, unsorted.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The finished, sorted label set.
    pub fn build(&self) -> Labels {
        let mut refs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|p| !p.1.is_empty())
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        refs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Labels::from_sorted(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sorted_and_printed() {
        let l = Labels::from_pairs([("job", "a"), ("__name__", "up"), ("instance", "x:1")]);
        assert_eq!(l.to_string(), r#"up{instance="x:1", job="a"}"#);
        assert_eq!(l.len(), 3);
        assert_eq!(l.get("job"), Some("a"));
        assert_eq!(l.get("zzz"), None);
        assert_eq!(Labels::empty().to_string(), "{}");
        let utf8 = Labels::from_pairs([("__name__", "my.metric"), ("a.b", "q\"\n")]);
        assert_eq!(utf8.to_string(), r#"{"my.metric", "a.b"="q\"\n"}"#);
    }

    #[test]
    fn empty_values_dropped_and_builder_edits() {
        let l = Labels::from_pairs([("a", ""), ("b", "1")]);
        assert_eq!(l.len(), 1);
        let mut b = l.builder();
        b.set("c", "2").del("b");
        assert_eq!(b.build(), Labels::from_pairs([("c", "2")]));
    }

    #[test]
    fn long_values_use_multibyte_lengths() {
        let v = "x".repeat(100_000);
        let l = Labels::from_pairs([("a", v.as_str()), ("b", "é")]);
        assert_eq!(l.get("a").map(str::len), Some(100_000));
        assert_eq!(l.get("b"), Some("é"));
    }

    #[test]
    fn order_is_pairwise() {
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs([("a", "2")]);
        assert!(a < b && b < c);
    }

    proptest! {
        #[test]
        fn roundtrip(pairs in proptest::collection::btree_map("[a-z_]{1,8}", "\\PC{1,12}", 0..12)) {
            let l = Labels::from_pairs(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
            let back: Vec<(String, String)> = l.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect();
            let want: Vec<(String, String)> = pairs.into_iter().collect();
            prop_assert_eq!(back, want);
        }
    }
}
