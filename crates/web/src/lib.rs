//! Prometheus's HTTP API v1 for Beacon, as an axum router.
//!
//! The router answers the same paths, parameters (GET query strings and
//! POST forms), JSON shapes, error types and status codes as Prometheus,
//! so Grafana and other clients work unchanged. It sees storage only
//! through [`beacon_storage::Queryable`], evaluates PromQL through a
//! [`QueryEngine`], and asks the server for everything else (status,
//! targets, admin and lifecycle actions) through a [`Backend`].
//!
//! - [`router`]: the routes and middleware; [`Api`] is the shared state.
//! - [`query`], [`meta`], [`status`]: the handlers.
//! - [`json`]: Go-compatible JSON output; [`params`]: parameter parsing.
//! - [`promql_engine`]: the [`QueryEngine`] over `beacon-promql`.

pub mod backend;
pub mod engine;
mod error;
pub mod json;
pub mod meta;
pub mod metrics;
pub mod params;
pub mod promql_engine;
pub mod query;
pub mod router;
pub mod selector;
pub mod status;

pub use backend::Backend;
pub use engine::QueryEngine;
pub use error::{ApiError, Error, ErrorType, Result};
pub use router::{Api, WebOptions, router};
