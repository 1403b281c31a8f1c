//! Exemplar reads: the [`ExemplarQueryable`] trait behind
//! `/api/v1/query_exemplars`, and the append rules every exemplar store
//! shares ([`judge_exemplar`]), so `MemStorage` and the TSDB refuse the
//! same exemplars with the same errors as Prometheus.

use beacon_model::{Exemplar, Labels, Matcher};

use crate::{AppendError, Result, matches_all};

/// Characters (Unicode scalar values) an exemplar's label names and values
/// may hold together: OpenMetrics's limit, which Prometheus enforces.
pub const EXEMPLAR_LABEL_CHARS_MAX: usize = 128;

/// One series' exemplars, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarSeries {
    pub labels: Labels,
    pub exemplars: Vec<Exemplar>,
}

/// Something that keeps exemplars and answers exemplar queries.
pub trait ExemplarQueryable: Send + Sync {
    /// Exemplars with a time in `[mint_ms, maxt_ms]` of the series that
    /// match any one of `matcher_sets` (a set matches when all its
    /// matchers do; no sets select nothing, as in Prometheus). Series are
    /// sorted by labels, each one's exemplars by time.
    fn select_exemplars(
        &self,
        mint_ms: i64,
        maxt_ms: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<ExemplarSeries>>;
}

impl<T: ExemplarQueryable + ?Sized> ExemplarQueryable for std::sync::Arc<T> {
    fn select_exemplars(
        &self,
        mint_ms: i64,
        maxt_ms: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<ExemplarSeries>> {
        (**self).select_exemplars(mint_ms, maxt_ms, matcher_sets)
    }
}

/// True when `labels` match every matcher of at least one set.
pub fn matches_some_set(matcher_sets: &[Vec<Matcher>], labels: &Labels) -> bool {
    matcher_sets.iter().any(|set| matches_all(set, labels))
}

/// What to do with an exemplar that passed [`judge_exemplar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExemplarVerdict {
    /// Store it.
    Add,
    /// It equals the series' newest exemplar: ignore it silently (scrapes
    /// repeat exemplars until a new event replaces them).
    Duplicate,
}

/// Prometheus's rules for adding exemplar `e` (with its time set) to a
/// series whose newest stored exemplar is `newest`: label sets over
/// [`EXEMPLAR_LABEL_CHARS_MAX`] characters are refused; a repeat of the
/// newest is a duplicate; one ordered before the newest by (time, value,
/// label hash) is out of order. Equal times with a larger value or label
/// hash are allowed, since a native histogram's buckets carry several
/// exemplars of one time.
pub fn judge_exemplar(
    newest: Option<&Exemplar>,
    e: &Exemplar,
) -> Result<ExemplarVerdict, AppendError> {
    let chars: usize = e
        .labels
        .iter()
        .map(|l| l.name.chars().count() + l.value.chars().count())
        .sum();
    if chars > EXEMPLAR_LABEL_CHARS_MAX {
        return Err(AppendError::ExemplarLabelLength(chars));
    }
    let Some(prev) = newest else {
        return Ok(ExemplarVerdict::Add);
    };
    if prev.labels == e.labels && prev.t == e.t && prev.value == e.value {
        return Ok(ExemplarVerdict::Duplicate);
    }
    let (t, pt) = (e.t.unwrap_or(i64::MIN), prev.t.unwrap_or(i64::MIN));
    let before = t < pt
        || (t == pt && e.value < prev.value)
        || (t == pt && e.value == prev.value && e.labels.hash64() < prev.labels.hash64());
    if before {
        return Err(AppendError::OutOfOrderExemplar);
    }
    Ok(ExemplarVerdict::Add)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(t: i64, v: f64, trace: &str) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]),
            value: v,
            t: Some(t),
        }
    }

    fn check(
        newest: Option<Exemplar>,
        e: Exemplar,
        expected: Result<ExemplarVerdict, AppendError>,
    ) {
        assert_eq!(
            judge_exemplar(newest.as_ref(), &e),
            expected,
            "{newest:?} then {e:?}"
        );
    }

    #[test]
    fn prometheus_append_rules() {
        use ExemplarVerdict::{Add, Duplicate};
        check(None, ex(10, 1.0, "a"), Ok(Add));
        check(Some(ex(10, 1.0, "a")), ex(10, 1.0, "a"), Ok(Duplicate));
        check(Some(ex(10, 1.0, "a")), ex(11, 0.0, "a"), Ok(Add));
        check(
            Some(ex(10, 1.0, "a")),
            ex(9, 1.0, "a"),
            Err(AppendError::OutOfOrderExemplar),
        );
        check(
            Some(ex(10, 1.0, "a")),
            ex(10, 0.5, "b"),
            Err(AppendError::OutOfOrderExemplar),
        );
        check(Some(ex(10, 1.0, "a")), ex(10, 2.0, "a"), Ok(Add));
        // At equal time and value the label hash decides, one way or the other.
        let (a, b) = (ex(10, 1.0, "a"), ex(10, 1.0, "b"));
        let a_first = a.labels.hash64() < b.labels.hash64();
        let (lo, hi) = if a_first { (a, b) } else { (b, a) };
        check(Some(lo.clone()), hi.clone(), Ok(Add));
        check(Some(hi), lo, Err(AppendError::OutOfOrderExemplar));
        // 128 characters are fine, 129 are not; characters, not bytes.
        let name = "trace_id"; // 8 characters
        let ok = "é".repeat(120);
        check(None, ex(1, 1.0, &ok), Ok(Add));
        let long = "é".repeat(121);
        check(
            None,
            ex(1, 1.0, &long),
            Err(AppendError::ExemplarLabelLength(name.len() + 121)),
        );
    }
}
