//! Beacon's embedded time-series database: head, WAL, chunks, blocks,
//! compaction and retention.
//!
//! The shape follows Prometheus's TSDB. New samples go to the **head**: an
//! in-memory series registry with postings and compressed chunks (XOR
//! floats, native histograms), guarded by a **WAL** that makes every
//! committed batch survive a crash; full head chunks move to memory-mapped
//! scratch files so RAM holds only open chunks. Every block range (2 h by
//! default) the head's oldest range is written out as an immutable
//! **block** (index + chunk files + tombstones), where each float chunk is
//! stored as the smaller of XOR and a decimal encoding. Blocks are merged
//! into larger ones and deleted by retention. [`Db`] ties it together
//! behind the `beacon-storage` traits; [`tool`] has the inspection
//! functions behind `beacontool tsdb`.
//!
//! Code map: `chunk` (codecs), `head` (series, postings, appender, replay),
//! `wal` and `record` (log framing and payloads), `index` and `block`
//! (immutable blocks), `postings` (matcher planning shared by head and
//! blocks), `iter` (sample iterators and merges), `db` (the whole).
//! On-disk formats are specified in `docs/format/`.
//!
//! **Invariant:** a sample is acknowledged (its `commit` returned) only
//! after its WAL record was handed to the kernel in one `write`.
//!
//! ```
//! use beacon_model::{Labels, Matcher, SeriesRef};
//! use beacon_storage::{Appendable, Queryable, ValueType};
//! use beacon_tsdb::{Db, Options};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! let mut app = db.appender();
//! let up = Labels::from_pairs([("__name__", "up")]);
//! app.append(SeriesRef::NONE, &up, 1000, 1.0).unwrap();
//! app.commit().unwrap();
//! drop(app);
//! let mut s = db.querier(0, 2000).unwrap().select(&[Matcher::equal("__name__", "up")]).unwrap();
//! assert_eq!(s[0].samples.next(), ValueType::Float);
//! assert_eq!(s[0].samples.at(), (1000, 1.0));
//! ```

pub mod block;
pub mod chunk;
mod db;
pub mod encoding;
mod error;
pub mod head;
pub mod index;
pub mod iter;
pub mod postings;
pub mod record;
pub mod series;
pub mod tool;
pub mod wal;

pub use db::{
    BLOCK_RANGE_DEFAULT_MS, BLOCK_RANGE_MAX_MS, Db, DbStats, Options, RETENTION_DEFAULT_MS,
};
pub use error::{Error, Result};
pub use wal::{FsyncPolicy, ReplayProgress, ReplayStatus};
