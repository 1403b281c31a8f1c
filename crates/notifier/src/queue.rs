//! The bounded notification queue: newest alerts win when it is full, as
//! in Prometheus, because a re-sent alert supersedes an older copy.

use std::collections::VecDeque;

use crate::Alert;

/// Prometheus's `--alertmanager.notification-queue-capacity` default.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// Prometheus's maximum number of alerts per `POST`.
pub const MAX_BATCH_SIZE: usize = 64;

/// Alerts waiting to be sent, oldest first.
#[derive(Debug)]
pub(crate) struct Queue {
    items: VecDeque<Alert>,
    capacity: usize,
}

impl Queue {
    /// A queue holding at most `capacity` alerts (at least one).
    pub(crate) fn new(capacity: usize) -> Queue {
        Queue {
            items: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Appends `alerts`, dropping first the oldest of a batch larger than
    /// the whole queue, then the oldest queued alerts. Returns how many
    /// were dropped.
    pub(crate) fn push(&mut self, alerts: Vec<Alert>) -> usize {
        let over_batch = alerts.len().saturating_sub(self.capacity);
        let incoming = alerts.into_iter().skip(over_batch);
        let room = self.capacity - self.items.len();
        let over_queue = incoming.len().saturating_sub(room);
        self.items.drain(..over_queue);
        self.items.extend(incoming);
        over_batch + over_queue
    }

    /// Takes up to `max` of the oldest alerts.
    pub(crate) fn next_batch(&mut self, max: usize) -> Vec<Alert> {
        let n = self.items.len().min(max.max(1));
        self.items.drain(..n).collect()
    }

    /// Empties the queue, returning how many alerts it held.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.items.len();
        self.items.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beacon_model::Labels;

    fn alerts(range: std::ops::Range<usize>) -> Vec<Alert> {
        range
            .map(|i| Alert {
                labels: Labels::from_pairs([("alertname", i.to_string().as_str())]),
                annotations: Labels::empty(),
                starts_at: 0,
                ends_at: None,
                generator_url: String::new(),
            })
            .collect()
    }

    fn names(v: &[Alert]) -> Vec<String> {
        v.iter()
            .map(|a| a.labels.get("alertname").unwrap().to_owned())
            .collect()
    }

    #[test]
    fn drops_oldest_when_full() {
        // (queued before, pushed, capacity) -> (dropped, queue afterwards)
        let check = |before: usize, pushed: usize, cap: usize, dropped: usize, first: usize| {
            let mut q = Queue::new(cap);
            assert_eq!(q.push(alerts(0..before)), 0);
            assert_eq!(
                q.push(alerts(100..100 + pushed)),
                dropped,
                "{before} {pushed} {cap}"
            );
            assert_eq!(q.len(), (before + pushed).min(cap));
            let all = q.next_batch(usize::MAX);
            let want: Vec<String> = alerts(0..before)
                .into_iter()
                .chain(alerts(100..100 + pushed))
                .skip(first)
                .map(|a| a.labels.get("alertname").unwrap().to_owned())
                .collect();
            assert_eq!(names(&all), want);
        };
        check(0, 3, 5, 0, 0);
        check(3, 2, 5, 0, 0);
        check(3, 4, 5, 2, 2);
        check(3, 7, 5, 5, 5); // batch over capacity: all old plus two new dropped
        check(5, 1, 5, 1, 1);
    }

    #[test]
    fn batches_in_order() {
        let mut q = Queue::new(1000);
        q.push(alerts(0..150));
        assert_eq!(q.next_batch(MAX_BATCH_SIZE).len(), 64);
        let b = q.next_batch(MAX_BATCH_SIZE);
        assert_eq!(b[0].labels.get("alertname"), Some("64"));
        assert_eq!(q.next_batch(MAX_BATCH_SIZE).len(), 22);
        assert!(q.next_batch(MAX_BATCH_SIZE).is_empty());
        q.push(alerts(0..3));
        assert_eq!(q.clear(), 3);
        assert_eq!(q.capacity(), 1000);
    }
}
