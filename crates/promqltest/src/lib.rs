//! A runner for Prometheus's PromQL test-script format
