//! Prometheus remote write: the protobuf messages of protocol 1.0
//! (`prometheus.WriteRequest`) and 2.0 (`io.prometheus.write.v2.Request`),
//! snappy block framing, and the receiver behind `POST /api/v1/write`.
//!
//! [`Receiver::handle_write`] does everything but HTTP: it negotiates the
//! protocol from `Content-Type` and `Content-Encoding`, decodes the body
//! (bounded by [`DECODED_BYTES_MAX`]), validates each series' labels,
//! appends samples, native histograms, exemplars and (2.0) metadata through
//! one `beacon_storage` appender, and answers with Prometheus's status
//! codes, messages and 2.0 response headers. [`codec`] encodes bodies for
//! tests and for a sender.
//!
//! ```
//! use beacon_remote::{Receiver, codec, proto};
//! use beacon_storage::MemStorage;
//!
//! let req = proto::WriteRequest {
//!     timeseries: vec![proto::TimeSeries {
//!         labels: vec![proto::Label { name: "__name__".into(), value: "up".into() }],
//!         samples: vec![proto::Sample { value: 1.0, timestamp: 1_000 }],
//!         ..Default::default()
//!     }],
//!     metadata: vec![],
//! };
//! let db = MemStorage::new();
//! let out = Receiver::new().handle_write_at(
//!     Some("application/x-protobuf"), Some("snappy"), &codec::encode_v1(&req), &db, 1_000);
//! assert_eq!(out.status, 204);
//! assert_eq!(db.series_count(), 1);
//! ```

pub mod codec;
mod error;
mod metrics;
pub mod proto;
mod receiver;
mod series;

pub use codec::{BODY_BYTES_MAX, DECODED_BYTES_MAX};
pub use error::{Error, Result};
pub use receiver::{
    EXEMPLARS_WRITTEN_HEADER, HISTOGRAMS_WRITTEN_HEADER, MAX_AHEAD_MS, PROTOBUF_CONTENT_TYPE,
    Protocol, Receiver, SAMPLES_WRITTEN_HEADER, WriteOutcome, WriteStats, negotiate,
};
pub use series::InvalidLabels;
