//! Exposition formats: how metrics travel from a target to a scraper.
//!
//! - [`family`]: metric families as an exporter builds them.
//! - [`encode`]: writers for Prometheus text 0.0.4 and OpenMetrics 1.0.
//!
//! ```
//! use beacon_exposition::encode::{Format, encode};
//! use beacon_exposition::family::MetricFamily;
//! use beacon_model::{Labels, MetricType};
//!
//! let mut f = MetricFamily::new("up", "Target is up.", MetricType::Gauge);
//! f.push_value(Labels::empty(), 1.0);
//! assert_eq!(encode(Format::Text004, &[f]), "# HELP up Target is up.\n# TYPE up gauge\nup 1\n");
//! ```

pub mod encode;
pub mod family;
