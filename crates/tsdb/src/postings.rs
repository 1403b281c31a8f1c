//! Postings: sorted lists of series ids per label pair, the set algebra on
//! them (intersect, union, subtract), and the planner that turns label
//! matchers into one list — shared by the head and by block indexes.

use beacon_model::Matcher;

/// What the planner needs from an index (the head's or a block's).
pub trait PostingsIndex {
    /// Every series id, sorted.
    fn all_postings(&self) -> Vec<u32>;

    /// The union of the postings of `name=v` for each `v` in `values`.
    fn postings_for_values(&self, name: &str, values: &[&str]) -> Vec<u32>;

    /// The union of the postings of every value of `name` that starts with
    /// `prefix` and satisfies `pred`.
    fn postings_matching(&self, name: &str, prefix: &str, pred: &dyn Fn(&str) -> bool) -> Vec<u32>;
}

/// `a ∩ b`.
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    // Galloping pays off when one side is much shorter.
    if small.len() * 16 < large.len() {
        let mut lo = 0;
        for &x in small {
            lo += large[lo..].partition_point(|&y| y < x);
            if large.get(lo) == Some(&x) {
                out.push(x);
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `a \ b`.
pub fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if b.get(j) != Some(&x) {
            out.push(x);
        }
    }
    out
}

/// The union of several sorted lists.
pub fn union(mut lists: Vec<Vec<u32>>) -> Vec<u32> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().unwrap_or_default(),
        2 => union2(&lists[0], &lists[1]),
        _ => {
            let mut all: Vec<u32> = lists.concat();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

fn union2(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Postings of the series whose label `m.name` has a value `m` accepts,
/// counting only series that have the label.
fn postings_with_value(ix: &dyn PostingsIndex, m: &Matcher, invert: bool) -> Vec<u32> {
    if !invert && let Some(values) = m.set_matches() {
        return ix.postings_for_values(&m.name, &values);
    }
    let prefix = if invert || m.is_negative() {
        ""
    } else {
        m.string_matcher().prefix().unwrap_or("")
    };
    ix.postings_matching(&m.name, prefix, &|v| m.matches(v) != invert)
}

/// The sorted ids of the series that satisfy every matcher.
///
/// Matchers that reject the empty string select by value; matchers that
/// accept it (`a!="x"`, `a=~".*"`, `a=""`) also select series without the
/// label, so they are applied by subtracting the series they reject.
pub fn postings_for_matchers(ix: &dyn PostingsIndex, matchers: &[Matcher]) -> Vec<u32> {
    let mut result: Option<Vec<u32>> = None;
    let mut negatives = Vec::new();
    // Positive matchers first: each narrows the result.
    for m in matchers {
        if m.matches_empty() {
            negatives.push(m);
            continue;
        }
        let p = postings_with_value(ix, m, false);
        result = Some(match result {
            None => p,
            Some(r) => intersect(&r, &p),
        });
        if result.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
    }
    let mut result = result.unwrap_or_else(|| ix.all_postings());
    for m in negatives {
        // Series with a value the matcher rejects drop out; series without
        // the label stay, since the missing label reads as "".
        let rejected = postings_with_value(ix, m, true);
        result = subtract(&result, &rejected);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use beacon_model::{Labels, MatchType};
    use std::collections::BTreeMap;

    /// A tiny index over explicit label sets, to check the planner against
    /// plain matcher evaluation.
    struct Fixture {
        series: Vec<Labels>,
        by_pair: BTreeMap<(String, String), Vec<u32>>,
    }

    impl Fixture {
        fn new(series: Vec<Labels>) -> Fixture {
            let mut by_pair: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
            for (i, l) in series.iter().enumerate() {
                for p in l {
                    by_pair
                        .entry((p.name.into(), p.value.into()))
                        .or_default()
                        .push(i as u32);
                }
            }
            Fixture { series, by_pair }
        }
    }

    impl PostingsIndex for Fixture {
        fn all_postings(&self) -> Vec<u32> {
            (0..self.series.len() as u32).collect()
        }
        fn postings_for_values(&self, name: &str, values: &[&str]) -> Vec<u32> {
            union(
                values
                    .iter()
                    .filter_map(|v| self.by_pair.get(&(name.into(), (*v).into())).cloned())
                    .collect(),
            )
        }
        fn postings_matching(
            &self,
            name: &str,
            prefix: &str,
            pred: &dyn Fn(&str) -> bool,
        ) -> Vec<u32> {
            union(
                self.by_pair
                    .iter()
                    .filter(|((n, v), _)| n == name && v.starts_with(prefix) && pred(v))
                    .map(|(_, p)| p.clone())
                    .collect(),
            )
        }
    }

    fn check(matchers: &[(&str, MatchType, &str)], expected: &[u32]) {
        let fx = Fixture::new(vec![
            Labels::from_pairs([("__name__", "up"), ("job", "node")]),
            Labels::from_pairs([("__name__", "up"), ("job", "api"), ("env", "prod")]),
            Labels::from_pairs([("__name__", "cpu"), ("job", "node"), ("env", "dev")]),
            Labels::from_pairs([("__name__", "cpu")]),
        ]);
        let ms: Vec<Matcher> = matchers
            .iter()
            .map(|(n, k, v)| Matcher::new(*k, *n, *v).unwrap())
            .collect();
        let got = postings_for_matchers(&fx, &ms);
        assert_eq!(got, expected, "{matchers:?}");
        let naive: Vec<u32> = (0..fx.series.len() as u32)
            .filter(|&i| ms.iter().all(|m| m.matches_labels(&fx.series[i as usize])))
            .collect();
        assert_eq!(got, naive, "planner disagrees with plain evaluation");
    }

    #[test]
    fn planner_cases() {
        use MatchType::*;
        check(&[], &[0, 1, 2, 3]);
        check(&[("__name__", Equal, "up")], &[0, 1]);
        check(&[("__name__", Equal, "up"), ("job", NotEqual, "api")], &[0]);
        check(&[("env", Equal, "")], &[0, 3]);
        check(&[("env", NotEqual, "")], &[1, 2]);
        check(&[("env", Regex, ".*")], &[0, 1, 2, 3]);
        check(&[("env", Regex, "pr.*")], &[1]);
        check(&[("env", NotRegex, "pr.*")], &[0, 2, 3]);
        check(&[("job", Regex, "node|api")], &[0, 1, 2]);
        check(&[("job", Regex, "no.+|x")], &[0, 2]);
        check(&[("job", Regex, "|node")], &[0, 2, 3]);
        check(&[("missing", Equal, "x")], &[]);
    }

    #[test]
    fn set_algebra() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5]), vec![3, 5]);
        let long: Vec<u32> = (0..1000).collect();
        assert_eq!(intersect(&[5, 999, 2000], &long), vec![5, 999]);
        assert_eq!(subtract(&[1, 2, 3, 4], &[2, 4, 9]), vec![1, 3]);
        assert_eq!(
            union(vec![vec![1, 4], vec![2, 4], vec![0]]),
            vec![0, 1, 2, 4]
        );
        assert_eq!(union(vec![vec![1, 4], vec![2, 4]]), vec![1, 2, 4]);
    }
}
