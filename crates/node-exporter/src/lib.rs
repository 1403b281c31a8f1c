//! beacon-node-exporter: node_exporter-compatible Linux host metrics
