//! Beacon's embedded time-series database: head, WAL, chunks, blocks, compaction and retention
