//! Receiver throughput on a typical request: 2,000 float samples (one per
//! series, Prometheus's default `max_samples_per_send`) with 8 labels
//! each. `decode` is snappy plus protobuf; `handle_write` adds label
//! validation and appending into a sink that keeps nothing, so storage
//! cost is left out.

use beacon_model::{Exemplar, FloatHistogram, Histogram, Labels, SeriesRef};
use beacon_remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use beacon_remote::{Receiver, codec};
use beacon_storage::{Appendable, Appender};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Accepts everything and keeps nothing.
struct Discard;

impl Appender for Discard {
    fn append(
        &mut self,
        r: SeriesRef,
        _: &Labels,
        _: i64,
        _: f64,
    ) -> beacon_storage::Result<SeriesRef> {
        Ok(r)
    }
    fn append_histogram(
        &mut self,
        r: SeriesRef,
        _: &Labels,
        _: i64,
        _: Option<&Histogram>,
        _: Option<&FloatHistogram>,
    ) -> beacon_storage::Result<SeriesRef> {
        Ok(r)
    }
    fn append_exemplar(
        &mut self,
        r: SeriesRef,
        _: &Labels,
        _: &Exemplar,
    ) -> beacon_storage::Result<SeriesRef> {
        Ok(r)
    }
    fn commit(&mut self) -> beacon_storage::Result<()> {
        Ok(())
    }
    fn rollback(&mut self) -> beacon_storage::Result<()> {
        Ok(())
    }
}

impl Appendable for Discard {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(Discard)
    }
}

const SAMPLES: usize = 2_000;

fn request() -> WriteRequest {
    let timeseries = (0..SAMPLES)
        .map(|i| {
            let pairs = [
                ("__name__", format!("http_requests_total_{}", i % 50)),
                ("code", "200".to_owned()),
                ("handler", format!("/api/v1/h{}", i % 40)),
                ("instance", "10.0.0.1:9100".to_owned()),
                ("job", "api".to_owned()),
                ("method", "get".to_owned()),
                ("pod", format!("api-{}", i / 50)),
                ("region", "eu-west-1".to_owned()),
            ];
            TimeSeries {
                labels: pairs
                    .into_iter()
                    .map(|(n, v)| Label {
                        name: n.to_owned(),
                        value: v,
                    })
                    .collect(),
                samples: vec![Sample {
                    value: i as f64,
                    timestamp: 1_700_000_000_000,
                }],
                ..Default::default()
            }
        })
        .collect();
    WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

fn bench(c: &mut Criterion) {
    let body = codec::encode_v1(&request());
    let receiver = Receiver::new();
    let mut g = c.benchmark_group("receive_v1_2000_samples");
    g.throughput(Throughput::Elements(SAMPLES as u64));
    g.bench_function("decode", |b| b.iter(|| codec::decode_v1(&body).unwrap()));
    g.bench_function("handle_write", |b| {
        b.iter(|| {
            let out =
                receiver.handle_write_at(None, Some("snappy"), &body, &Discard, 1_700_000_000_000);
            assert_eq!(out.status, 204);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
