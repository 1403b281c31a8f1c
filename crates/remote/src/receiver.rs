//! The remote-write receiver: Prometheus's `POST /api/v1/write` handler
//! without the HTTP server around it.
//!
//! [`Receiver::handle_write`] takes the request's `Content-Type`,
//! `Content-Encoding` and body, appends what it carries in one appender,
//! and returns the status, body and headers to answer with:
//!
//! - Content-Type `application/x-protobuf` (or none) is 1.0;
//!   `;proto=io.prometheus.write.v2.Request` is 2.0; another media type or
//!   `proto=` is 415. Content-Encoding must be `snappy` (or absent, which
//!   Prometheus reads as snappy); anything else is 415.
//! - A body that does not decode is 400 with the reason.
//! - 1.0 is all or nothing: a series with invalid labels is skipped
//!   (counted, not an error, as in Prometheus); an out-of-order, duplicate
//!   or out-of-bounds sample rolls the whole request back and answers 400
//!   so the sender does not retry; any other storage error is 500.
//!   Exemplar errors never fail a 1.0 request.
//! - 2.0 allows partial writes: invalid series and refused samples are
//!   collected, everything else is committed, and the answer is 400 listing
//!   them; any other storage error rolls back and answers 500. Every 2.0
//!   answer after decoding carries the `X-Prometheus-Remote-Write-*-Written`
//!   headers.
//! - Samples more than [`MAX_AHEAD_MS`] in the future are out of bounds.

use beacon_model::{Exemplar, Labels, Metadata, SeriesRef};
use beacon_storage::{AppendError, Appendable, Appender};

use crate::codec;
use crate::metrics::ReceiverMetrics;
use crate::proto::{
    self, HistogramValue, MetadataType, RequestV2, TimeSeries, TimeSeriesV2, V1_MESSAGE,
    V2_MESSAGE, WriteRequest,
};
use crate::series::{exemplar_labels, series_labels};

/// How far ahead of the receiver's clock a sample may be (Prometheus's
/// `maxAheadTime`, 10 minutes): later ones are out of bounds.
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// The media type of both protocol versions.
pub const PROTOBUF_CONTENT_TYPE: &str = "application/x-protobuf";
/// 2.0 response header: float samples written.
pub const SAMPLES_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Samples-Written";
/// 2.0 response header: histogram samples written.
pub const HISTOGRAMS_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Histograms-Written";
/// 2.0 response header: exemplars written.
pub const EXEMPLARS_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Exemplars-Written";

/// The protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    V1,
    V2,
}

impl Protocol {
    /// The protobuf message name, as Content-Type's `proto=` spells it.
    pub fn message(self) -> &'static str {
        match self {
            Protocol::V1 => V1_MESSAGE,
            Protocol::V2 => V2_MESSAGE,
        }
    }

    /// The version as the self-metrics label it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::V1 => "1.0",
            Protocol::V2 => "2.0",
        }
    }
}

/// What was written (the 2.0 response headers report it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
}

/// The answer to send: status, `text/plain` body (empty for 204) and
/// extra headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    /// What was committed (zero when nothing was).
    pub stats: WriteStats,
}

impl WriteOutcome {
    fn error(status: u16, message: impl std::fmt::Display) -> WriteOutcome {
        WriteOutcome {
            status,
            // Go's http.Error ends the message with a newline.
            body: format!("{message}\n"),
            headers: Vec::new(),
            stats: WriteStats::default(),
        }
    }

    fn v2(status: u16, body: String, stats: WriteStats) -> WriteOutcome {
        WriteOutcome {
            status,
            body,
            headers: vec![
                (SAMPLES_WRITTEN_HEADER, stats.samples.to_string()),
                (HISTOGRAMS_WRITTEN_HEADER, stats.histograms.to_string()),
                (EXEMPLARS_WRITTEN_HEADER, stats.exemplars.to_string()),
            ],
            stats,
        }
    }
}

/// Picks the protocol from the headers, or the 415 message.
pub fn negotiate(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<Protocol, String> {
    let protocol = parse_content_type(content_type.unwrap_or(PROTOBUF_CONTENT_TYPE))?;
    match content_encoding.map(str::trim) {
        None | Some("") => {}
        Some(enc) if enc.eq_ignore_ascii_case("snappy") => {}
        Some(enc) => {
            return Err(format!(
                "{enc} encoding (compression) is not accepted by this server; only snappy is acceptable"
            ));
        }
    }
    Ok(protocol)
}

fn parse_content_type(raw: &str) -> Result<Protocol, String> {
    let raw = raw.trim();
    let mut parts = raw.split(';');
    let media = parts.next().unwrap_or("").trim();
    if media != PROTOBUF_CONTENT_TYPE {
        return Err(format!(
            "expected {PROTOBUF_CONTENT_TYPE} as the first (media) part, got {raw} content-type"
        ));
    }
    for p in parts {
        let Some((key, value)) = p.split_once('=') else {
            return Err(format!(
                "expected parameters to be key-values, got {p} in {raw} content-type"
            ));
        };
        if key.trim() == "proto" {
            return match value.trim() {
                V1_MESSAGE => Ok(Protocol::V1),
                V2_MESSAGE => Ok(Protocol::V2),
                other => Err(format!(
                    "got {raw} content type; unknown remote write protobuf message {other}, supported: {V1_MESSAGE}, {V2_MESSAGE}"
                )),
            };
        }
    }
    Ok(Protocol::V1)
}

/// Why one append failed.
enum Refusal {
    Storage(beacon_storage::Error),
    TooFarAhead,
}

impl Refusal {
    /// 400 for what retrying cannot fix, 500 otherwise. Invalid native
    /// histograms are 400 too: Prometheus answers 500 and the sender
    /// retries a body that can never succeed.
    fn status(&self) -> u16 {
        match self {
            Refusal::TooFarAhead => 400,
            Refusal::Storage(beacon_storage::Error::Append(e)) => match e {
                AppendError::OutOfOrderSample
                | AppendError::OutOfBounds
                | AppendError::DuplicateSampleForTimestamp
                | AppendError::InvalidHistogram(_) => 400,
                _ => 500,
            },
            Refusal::Storage(_) => 500,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Storage(e) => e.fmt(f),
            Refusal::TooFarAhead => {
                f.write_str("out of bounds: timestamp is too far in the future")
            }
        }
    }
}

/// One appender with the future-time bound in front of it.
struct Bounded<'a> {
    app: Box<dyn Appender + 'a>,
    max_t: i64,
}

impl Bounded<'_> {
    fn sample(&mut self, r: SeriesRef, l: &Labels, t: i64, v: f64) -> Result<SeriesRef, Refusal> {
        if t > self.max_t {
            return Err(Refusal::TooFarAhead);
        }
        self.app.append(r, l, t, v).map_err(Refusal::Storage)
    }

    fn histogram(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        h: &proto::Histogram,
    ) -> Result<SeriesRef, Refusal> {
        if h.timestamp > self.max_t {
            return Err(Refusal::TooFarAhead);
        }
        let res = match h.to_model() {
            HistogramValue::Int(m) => match m.validate() {
                Ok(()) => self.app.append_histogram(r, l, h.timestamp, Some(&m), None),
                Err(e) => Err(invalid_histogram(e)),
            },
            HistogramValue::Float(m) => match m.validate() {
                Ok(()) => self.app.append_histogram(r, l, h.timestamp, None, Some(&m)),
                Err(e) => Err(invalid_histogram(e)),
            },
        };
        res.map_err(Refusal::Storage)
    }

    fn exemplar(&mut self, r: SeriesRef, l: &Labels, e: &Exemplar) -> Result<SeriesRef, Refusal> {
        if e.t.is_some_and(|t| t > self.max_t) {
            return Err(Refusal::TooFarAhead);
        }
        self.app.append_exemplar(r, l, e).map_err(Refusal::Storage)
    }
}

/// The storage error for a histogram the model refuses, without the
/// model error's own "invalid histogram: " prefix repeated.
fn invalid_histogram(e: beacon_model::Error) -> beacon_storage::Error {
    let reason = match e {
        beacon_model::Error::InvalidHistogram(reason) => reason,
        other => other.to_string(),
    };
    AppendError::InvalidHistogram(reason).into()
}

/// The receiver: stateless apart from its self-metrics and the protocol
/// versions it accepts.
#[derive(Debug)]
pub struct Receiver {
    pub(crate) metrics: ReceiverMetrics,
    accepted: Vec<Protocol>,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver::new()
    }
}

impl Receiver {
    /// A receiver accepting both versions, as Prometheus does by default.
    pub fn new() -> Receiver {
        Receiver::with_accepted(&[Protocol::V1, Protocol::V2])
    }

    /// A receiver accepting only `accepted` (Prometheus's
    /// `--web.remote-write-receiver.accepted-protobuf-messages`); a request
    /// in another version is 415.
    pub fn with_accepted(accepted: &[Protocol]) -> Receiver {
        Receiver {
            metrics: ReceiverMetrics::default(),
            accepted: accepted.to_vec(),
        }
    }

    /// Negotiates, then refuses a version this receiver does not accept.
    fn protocol(
        &self,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> Result<Protocol, String> {
        let p = negotiate(content_type, content_encoding)?;
        if !self.accepted.contains(&p) {
            let names: Vec<&str> = self.accepted.iter().map(|a| a.message()).collect();
            return Err(format!(
                "{} protobuf message is not accepted by this server; accepted [{}]",
                p.message(),
                names.join(" ")
            ));
        }
        Ok(p)
    }

    /// Handles one request against the wall clock.
    pub fn handle_write(
        &self,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        body: &[u8],
        app: &dyn Appendable,
    ) -> WriteOutcome {
        let now_ms = beacon_model::Timestamp::now().ms();
        self.handle_write_at(content_type, content_encoding, body, app, now_ms)
    }

    /// Handles one request as if the clock read `now_ms`.
    pub fn handle_write_at(
        &self,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        body: &[u8],
        app: &dyn Appendable,
        now_ms: i64,
    ) -> WriteOutcome {
        let protocol = match self.protocol(content_type, content_encoding) {
            Ok(p) => p,
            Err(msg) => {
                tracing::warn!(error = %msg, "refused remote write request");
                self.metrics.request(None, 415);
                return WriteOutcome::error(415, msg);
            }
        };
        let max_t = now_ms.saturating_add(MAX_AHEAD_MS);
        let out = match protocol {
            Protocol::V1 => match codec::decode_v1(body) {
                Ok(req) => self.write_v1(&req, app, max_t),
                Err(e) => WriteOutcome::error(400, e),
            },
            Protocol::V2 => match codec::decode_v2(body) {
                Ok(req) => self.write_v2(&req, app, max_t),
                Err(e) => WriteOutcome::error(400, e),
            },
        };
        if out.status >= 400 {
            let error = out.body.trim_end();
            tracing::warn!(status = out.status, %error, "remote write request failed");
        }
        self.metrics.request(Some(protocol), out.status);
        self.metrics.written(out.stats);
        out
    }

    fn write_v1(&self, req: &WriteRequest, app: &dyn Appendable, max_t: i64) -> WriteOutcome {
        let mut app = Bounded {
            app: app.appender(),
            max_t,
        };
        let mut stats = WriteStats::default();
        for ts in &req.timeseries {
            if let Err(refusal) = self.append_v1_series(&mut app, ts, &mut stats) {
                let _ = app.app.rollback();
                return WriteOutcome::error(refusal.status(), refusal);
            }
        }
        if let Err(e) = app.app.commit() {
            let refusal = Refusal::Storage(e);
            return WriteOutcome::error(refusal.status(), refusal);
        }
        // 1.0 carries metadata per family, not per series: Prometheus
        // does not store it, so every sample lands without metadata.
        self.metrics
            .without_metadata(stats.samples + stats.histograms);
        WriteOutcome {
            status: 204,
            body: String::new(),
            headers: Vec::new(),
            stats,
        }
    }

    fn append_v1_series(
        &self,
        app: &mut Bounded<'_>,
        ts: &TimeSeries,
        stats: &mut WriteStats,
    ) -> Result<(), Refusal> {
        let pairs = ts
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()));
        let labels = match series_labels(pairs.collect()) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "remote write: skipping series");
                self.metrics.invalid_labels(1);
                return Ok(());
            }
        };
        let mut r = SeriesRef::NONE;
        for s in &ts.samples {
            r = app.sample(r, &labels, s.timestamp, s.value)?;
            stats.samples += 1;
        }
        for e in &ts.exemplars {
            let pairs = e.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()));
            let ex = Exemplar {
                labels: exemplar_labels(pairs.collect()),
                value: e.value,
                t: (e.timestamp != 0).then_some(e.timestamp),
            };
            // Exemplar storage errors never fail a 1.0 request.
            match app.exemplar(r, &labels, &ex) {
                Ok(_) => stats.exemplars += 1,
                Err(err) => tracing::debug!(series = %labels, error = %err, "exemplar dropped"),
            }
        }
        for h in &ts.histograms {
            r = app.histogram(r, &labels, h)?;
            stats.histograms += 1;
        }
        Ok(())
    }

    fn write_v2(&self, req: &RequestV2, app: &dyn Appendable, max_t: i64) -> WriteOutcome {
        if let Err(e) = check_refs(req) {
            return WriteOutcome::error(400, e);
        }
        let mut app = Bounded {
            app: app.appender(),
            max_t,
        };
        let mut stats = WriteStats::default();
        let mut bad: Vec<String> = Vec::new();
        for ts in &req.timeseries {
            if let Err(refusal) = self.append_v2_series(&mut app, req, ts, &mut stats, &mut bad) {
                // Not idempotent storage: a retried request must not find
                // half of itself already written.
                let _ = app.app.rollback();
                return WriteOutcome::v2(
                    refusal.status(),
                    format!("{refusal}\n"),
                    WriteStats::default(),
                );
            }
        }
        if let Err(e) = app.app.commit() {
            return WriteOutcome::v2(500, format!("{e}\n"), WriteStats::default());
        }
        if bad.is_empty() {
            WriteOutcome::v2(204, String::new(), stats)
        } else {
            WriteOutcome::v2(400, format!("{}\n", bad.join("\n")), stats)
        }
    }

    /// Appends one 2.0 series. Returns `Err` only for retryable (5xx)
    /// failures; 4xx ones go to `bad` and the request goes on.
    fn append_v2_series(
        &self,
        app: &mut Bounded<'_>,
        req: &RequestV2,
        ts: &TimeSeriesV2,
        stats: &mut WriteStats,
        bad: &mut Vec<String>,
    ) -> Result<(), Refusal> {
        let sym = |r: u32| req.symbols[r as usize].as_str();
        let pairs = ts
            .labels_refs
            .chunks_exact(2)
            .map(|p| (sym(p[0]), sym(p[1])));
        let labels = match series_labels(pairs.collect()) {
            Ok(l) => l,
            Err(e) => {
                bad.push(e.to_string());
                self.metrics
                    .invalid_labels((ts.samples.len() + ts.histograms.len()) as u64);
                return Ok(());
            }
        };
        let before = stats.samples + stats.histograms;
        let mut r = SeriesRef::NONE;
        for s in &ts.samples {
            match app.sample(r, &labels, s.timestamp, s.value) {
                Ok(nr) => {
                    r = nr;
                    stats.samples += 1;
                }
                Err(e) if e.status() == 400 => bad.push(format!("{e} for series {labels}")),
                Err(e) => return Err(e),
            }
        }
        for h in &ts.histograms {
            match app.histogram(r, &labels, h) {
                Ok(nr) => {
                    r = nr;
                    stats.histograms += 1;
                }
                Err(e) if e.status() == 400 => bad.push(format!("{e} for series {labels}")),
                Err(e) => return Err(e),
            }
        }
        for e in &ts.exemplars {
            let pairs = e
                .labels_refs
                .chunks_exact(2)
                .map(|p| (sym(p[0]), sym(p[1])));
            let ex = Exemplar {
                labels: exemplar_labels(pairs.collect()),
                value: e.value,
                t: (e.timestamp != 0).then_some(e.timestamp),
            };
            match app.exemplar(r, &labels, &ex) {
                Ok(nr) => {
                    r = nr;
                    stats.exemplars += 1;
                }
                Err(Refusal::Storage(beacon_storage::Error::Append(
                    err @ AppendError::OutOfOrderExemplar,
                ))) => bad.push(format!("{err} for series {labels}")),
                // Other exemplar errors are logged, not reported: the
                // sender could not fix them by retrying.
                Err(err) => tracing::debug!(series = %labels, error = %err, "exemplar dropped"),
            }
        }
        // No metadata message reads as its zero value: unknown type, no
        // help, no unit (without needing the table's empty first symbol).
        let meta = ts.metadata.map_or_else(Metadata::default, |m| Metadata {
            metric_type: MetadataType::to_model(m.r#type),
            help: sym(m.help_ref).to_owned(),
            unit: sym(m.unit_ref).to_owned(),
        });
        if let Err(e) = app.app.update_metadata(r, &labels, &meta) {
            tracing::debug!(series = %labels, error = %e, "metadata not stored");
            self.metrics
                .without_metadata(stats.samples + stats.histograms - before);
        }
        Ok(())
    }
}

/// Checks every symbol reference of a 2.0 request up front, so appending
/// can index the table freely and a malformed request writes nothing.
fn check_refs(req: &RequestV2) -> crate::Result<()> {
    let len = req.symbols.len();
    let check = |index: u32| {
        if (index as usize) < len {
            Ok(())
        } else {
            Err(crate::Error::SymbolOutOfRange { index, len })
        }
    };
    for ts in &req.timeseries {
        if ts.labels_refs.len() % 2 != 0 {
            return Err(crate::Error::OddLabelRefs(ts.labels_refs.len()));
        }
        ts.labels_refs.iter().try_for_each(|&r| check(r))?;
        for e in &ts.exemplars {
            if e.labels_refs.len() % 2 != 0 {
                return Err(crate::Error::OddLabelRefs(e.labels_refs.len()));
            }
            e.labels_refs.iter().try_for_each(|&r| check(r))?;
        }
        if let Some(m) = ts.metadata {
            check(m.help_ref)?;
            check(m.unit_ref)?;
        }
    }
    Ok(())
}
