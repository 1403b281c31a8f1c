//! prometheus.yml: configuration types, loading, validation and relabelling
