//! The counter-reset hints a histogram series reads back with from
//! Prometheus's TSDB, which the scripts' expectations assume.
//!
//! The TSDB does not keep the hint a histogram was written with. It stores
//! histograms in chunks and derives the hint when reading: in a gauge chunk
//! every histogram is a gauge; in a counter chunk every histogram after the
//! first is "not a reset" (a reset would have started a new chunk), and
//! the first one is "unknown", even when a reset started the chunk (the
//! previous chunk might be gone). A new chunk starts at the first histogram after a
//! float sample, after a stale marker, on a change of schema or zero
//! threshold, on a switch between gauge and counter, on a counter reset,
//! and when the head cuts a chunk for time or length (see [`ChunkClock`]).
//! The head also cuts histogram chunks by encoded size; that depends on
//! the bit-level encoding and is not modelled, which matters only for long
//! series with many buckets.
//!
//! `MemStorage` keeps hints as given, so the loader rewrites them with
//! these rules before appending; the engine then sees what it would see
//! reading the same script's data from Prometheus.

use beacon_model::{CounterResetHint, FloatHistogram, Span, is_stale_nan};

use crate::series::Slot;

/// The head's target number of samples per chunk.
const SAMPLES_PER_CHUNK: usize = 120;
/// The head's chunk range (the default block duration, 2h): chunks end at
/// multiples of it at the latest.
const CHUNK_RANGE_MS: i64 = 2 * 3_600_000;

/// When the TSDB head cuts a chunk regardless of its contents: at the end
/// of the chunk range, or earlier once a quarter full, at a time predicted
/// to spread the range's samples evenly over chunks of the target length;
/// and always at twice the target length.
#[derive(Debug, Clone, Copy)]
struct ChunkClock {
    min_t: i64,
    max_t: i64,
    samples: usize,
    next_at: i64,
}

impl ChunkClock {
    fn start(t: i64) -> ChunkClock {
        ChunkClock {
            min_t: t,
            max_t: t,
            samples: 1,
            next_at: range_end(t),
        }
    }

    /// Registers a sample at `t`; returns `false` when it starts a new
    /// chunk (and the clock has restarted).
    fn advance(&mut self, t: i64) -> bool {
        if self.samples == SAMPLES_PER_CHUNK / 4 {
            self.next_at = predicted_end(self.min_t, self.max_t, self.next_at);
        }
        if t >= self.next_at || self.samples >= SAMPLES_PER_CHUNK * 2 {
            *self = ChunkClock::start(t);
            return false;
        }
        self.samples += 1;
        self.max_t = t;
        true
    }
}

/// The end of the chunk range holding `t`.
fn range_end(t: i64) -> i64 {
    (t / CHUNK_RANGE_MS) * CHUNK_RANGE_MS + CHUNK_RANGE_MS
}

/// Where a quarter-full chunk should end so that the samples up to `max`
/// are spread evenly over chunks of the target length.
fn predicted_end(start: i64, cur: i64, max: i64) -> i64 {
    let n = (max - start) as f64 / ((cur - start + 1) as f64 * 4.0);
    if n <= 1.0 {
        return max;
    }
    start + ((max - start) as f64 / n.floor()) as i64
}

/// What the previous sample of the series left behind.
enum Previous {
    /// Nothing yet, or a float sample: the next histogram starts a chunk
    /// with no predecessor.
    Nothing,
    /// A stale marker written into a histogram chunk.
    Stale,
    Gauge,
    /// A counter histogram, and the clock of its chunk.
    Counter(FloatHistogram, ChunkClock),
}

/// Rewrites the hints of the histograms in `slots` (one every `step_ms`,
/// from 0), in place.
pub fn apply_storage_hints(slots: &mut [Slot], step_ms: i64) {
    let mut prev = Previous::Nothing;
    for (i, slot) in slots.iter_mut().enumerate() {
        let t = (i as i64).saturating_mul(step_ms);
        match slot {
            Slot::Empty => {}
            Slot::Float(v) => {
                let after_histogram = matches!(prev, Previous::Gauge | Previous::Counter(..));
                prev = if is_stale_nan(*v) && after_histogram {
                    Previous::Stale
                } else {
                    Previous::Nothing
                };
            }
            Slot::Histogram(hv) => {
                let h = &mut hv.h;
                if h.counter_reset_hint == CounterResetHint::Gauge {
                    prev = Previous::Gauge;
                    continue;
                }
                let explicit_reset = h.counter_reset_hint == CounterResetHint::CounterReset;
                let (hint, clock) = match &prev {
                    Previous::Nothing | Previous::Stale | Previous::Gauge => {
                        (CounterResetHint::Unknown, ChunkClock::start(t))
                    }
                    Previous::Counter(last, clock) => {
                        let mut clock = *clock;
                        let continues = clock.advance(t)
                            && !explicit_reset
                            && matches!(appendable(last, h), Append::Ok);
                        if continues {
                            (CounterResetHint::NotCounterReset, clock)
                        } else {
                            (CounterResetHint::Unknown, ChunkClock::start(t))
                        }
                    }
                };
                h.counter_reset_hint = hint;
                prev = Previous::Counter(h.clone(), clock);
            }
        }
    }
}

/// Whether a counter histogram continues the chunk of `last`. (The TSDB
/// tells a reset from a mere layout change, but both read back the same.)
enum Append {
    Ok,
    /// A layout change that needs a new chunk.
    NewChunk,
    Reset,
}

fn appendable(last: &FloatHistogram, h: &FloatHistogram) -> Append {
    if h.count < last.count {
        return Append::Reset;
    }
    if h.schema != last.schema || h.zero_threshold != last.zero_threshold {
        return Append::NewChunk;
    }
    if h.uses_custom_buckets() && h.custom_values != last.custom_values {
        return Append::Reset;
    }
    if h.zero_count < last.zero_count
        || bucket_dropped(
            &last.positive_spans,
            &last.positive_buckets,
            &h.positive_spans,
            &h.positive_buckets,
        )
        || bucket_dropped(
            &last.negative_spans,
            &last.negative_buckets,
            &h.negative_spans,
            &h.negative_buckets,
        )
    {
        return Append::Reset;
    }
    Append::Ok
}

/// Absolute bucket indexes with their counts.
fn indexed(spans: &[Span], counts: &[f64]) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx: i64 = 0;
    let mut counts = counts.iter();
    for (n, s) in spans.iter().enumerate() {
        idx = if n == 0 {
            i64::from(s.offset)
        } else {
            idx + i64::from(s.offset)
        };
        for _ in 0..s.length {
            if let Some(c) = counts.next() {
                out.push((idx, *c));
            }
            idx += 1;
        }
    }
    out
}

/// Did any bucket in use before lose count, or disappear?
fn bucket_dropped(last_spans: &[Span], last: &[f64], spans: &[Span], now: &[f64]) -> bool {
    let now = indexed(spans, now);
    indexed(last_spans, last).into_iter().any(|(i, before)| {
        match now.iter().find(|(j, _)| *j == i) {
            Some((_, c)) => before > *c,
            None => before != 0.0,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::parse_series_line;

    fn hint_name(h: CounterResetHint) -> &'static str {
        match h {
            CounterResetHint::Unknown => "unknown",
            CounterResetHint::CounterReset => "reset",
            CounterResetHint::NotCounterReset => "not_reset",
            CounterResetHint::Gauge => "gauge",
        }
    }

    /// Loads a series line, applies the storage rules and lists the hints
    /// (`f` for floats, `_` for empty slots).
    fn check(line: &str, expected: &str) {
        check_step(line, 60_000, expected);
    }

    fn check_step(line: &str, step_ms: i64, expected: &str) {
        let mut slots = parse_series_line(line).unwrap().slots;
        apply_storage_hints(&mut slots, step_ms);
        let got: Vec<&str> = slots
            .iter()
            .map(|s| match s {
                Slot::Empty => "_",
                Slot::Float(_) => "f",
                Slot::Histogram(h) => hint_name(h.h.counter_reset_hint),
            })
            .collect();
        assert_eq!(got.join(" "), expected, "line: {line}");
    }

    #[test]
    fn counters_continue_until_a_reset() {
        check(
            "h {{count:1 sum:1 buckets:[1]}}+{{count:1 sum:1 buckets:[1]}}x2 {{count:1 sum:1 buckets:[1]}}",
            "unknown not_reset not_reset unknown",
        );
        // A bucket that loses observations is a reset even if the count grows.
        check(
            "h {{count:2 sum:1 buckets:[2 0]}} {{count:3 sum:1 buckets:[1 2]}}",
            "unknown unknown",
        );
        // A bucket that was empty may disappear.
        check(
            "h {{count:2 sum:1 buckets:[2 0]}} {{count:3 sum:1 buckets:[3]}}",
            "unknown not_reset",
        );
        check(
            "h {{count:1 sum:1}} {{count:2 sum:1 counter_reset_hint:reset}} {{count:3 sum:1 counter_reset_hint:not_reset}}",
            "unknown unknown not_reset",
        );
    }

    #[test]
    fn new_chunks_start_unknown() {
        check(
            "h {{count:1 sum:1}} {{schema:1 count:2 sum:1}} {{schema:1 count:3 sum:1}}",
            "unknown unknown not_reset",
        );
        check(
            "h {{count:1 sum:1}} 5 {{count:2 sum:1}}",
            "unknown f unknown",
        );
        check(
            "h {{count:1 sum:1}} stale {{count:2 sum:1}} _ {{count:3 sum:1}}",
            "unknown f unknown _ not_reset",
        );
        check(
            "h {{count:1 sum:1 counter_reset_hint:gauge}} {{count:0 sum:1 counter_reset_hint:gauge}} {{count:1 sum:1}}",
            "gauge gauge unknown",
        );
    }

    #[test]
    fn the_head_cuts_chunks_by_time_and_length() {
        // 1m steps: a new chunk at 2h.
        check(
            "h {{count:1 sum:1}}x120 {{count:1 sum:1}}",
            &format!("unknown{} unknown not_reset", " not_reset".repeat(119)),
        );
        // 10s steps: a quarter full after 30 samples (290s), the chunk is
        // predicted to end at 2h/6 = 20m, sample 120.
        check_step(
            "h {{count:1 sum:1}}x121",
            10_000,
            &format!("unknown{} unknown not_reset", " not_reset".repeat(119)),
        );
        // 1s steps: predicted ends at 116.129s, then 233.114s.
        let mut slots = parse_series_line("h {{count:1 sum:1}}x240").unwrap().slots;
        apply_storage_hints(&mut slots, 1000);
        let unknown: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Slot::Histogram(h) if h.h.counter_reset_hint == CounterResetHint::Unknown))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(unknown, vec![0, 117, 234]);
    }
}
