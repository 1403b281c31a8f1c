//! Full head chunks written to disk and read back through a memory map, so
//! the head's RAM holds only open chunks: a closed chunk costs a few words
//! in memory while its bytes live in the page cache, which the kernel can
//! evict. The files are scratch space: the head rebuilds them from the WAL
//! at every start (see `docs/format/head_chunks.md`).
//!
//! Files grow as chunks are written (as Prometheus's do) instead of being
//! pre-sized, so a young server's data directory is as small as its data.
//! Each file is nevertheless mapped once at its maximum size: mapping past
//! the end of a file is allowed, only touching pages past it faults, and
//! readers only touch ranges that a finished write put below the end.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::{Error, Result};

/// Head chunk file magic: "BHCK".
pub const HEAD_CHUNKS_MAGIC: u32 = 0x4248_434B;
pub const HEAD_CHUNKS_VERSION: u8 = 1;
/// A file is cut when the next chunk would take it past this size
/// (Prometheus's limit for head chunk files); it is also the length each
/// file's mapping reserves.
pub const HEAD_CHUNK_FILE_MAX_BYTES: u64 = 128 << 20;
const HEADER_LEN: u64 = 8;

/// One mapped head chunk file.
pub struct MappedFile {
    path: PathBuf,
    map: memmap2::MmapRaw,
    /// Bytes written so far: the file's length. Readers check ranges
    /// against it, since touching the mapping past the end would fault.
    written: AtomicU64,
    /// Newest sample time of any chunk in the file.
    maxt: AtomicI64,
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl MappedFile {
    /// The bytes `[start, end)`, which a finished `write` put there.
    pub fn slice(&self, start: u32, end: u32) -> &[u8] {
        let written = self.written.load(Ordering::Acquire);
        let (start, end) = (start as usize, end as usize);
        assert!(
            start <= end && end as u64 <= written && end <= self.map.len(),
            "head chunk range outside its file"
        );
        // SAFETY: the range lies inside the mapping and below the file's
        // end (both checked above), so no page touched lies past the end;
        // the mapping lives as long as `self` and the file is never
        // truncated while mapped. `ChunkDisk::write` wrote these bytes with
        // `pwrite` before handing out the range and never writes a range
        // twice, so nothing mutates them while this borrow exists; writes to
        // other ranges of the file do not alias them. Linux keeps `pwrite`
        // and shared mappings of the same file coherent (one page cache).
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(start), end - start) }
    }
}

struct Inner {
    files: Vec<Arc<MappedFile>>,
    file: Option<File>,
    next_file: u32,
    len: u64,
}

/// Writes full head chunks to disk.
pub struct ChunkDisk {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

impl ChunkDisk {
    /// Starts over in `dir`: earlier files are deleted, since the WAL
    /// replay that follows rebuilds every chunk.
    pub fn open(dir: &Path) -> Result<ChunkDisk> {
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(ChunkDisk {
            dir: dir.to_path_buf(),
            inner: Mutex::new(Inner {
                files: Vec::new(),
                file: None,
                next_file: 1,
                len: 0,
            }),
        })
    }

    fn cut(&self, inner: &mut Inner) -> Result<()> {
        let path = self.dir.join(format!("{:06}", inner.next_file));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut header = [0u8; HEADER_LEN as usize];
        header[..4].copy_from_slice(&HEAD_CHUNKS_MAGIC.to_be_bytes());
        header[4] = HEAD_CHUNKS_VERSION;
        file.write_all_at(&header, 0)
            .map_err(|e| Error::io(&path, e))?;
        // The mapping reserves address space for the whole file up front
        // (no disk, no memory) so it never has to be remapped as it grows.
        let map = memmap2::MmapOptions::new()
            .len(HEAD_CHUNK_FILE_MAX_BYTES as usize)
            .map_raw_read_only(&file)
            .map_err(|e| Error::io(&path, e))?;
        inner.files.push(Arc::new(MappedFile {
            path,
            map,
            written: AtomicU64::new(HEADER_LEN),
            maxt: AtomicI64::new(i64::MIN),
        }));
        inner.file = Some(file);
        inner.next_file += 1;
        inner.len = HEADER_LEN;
        Ok(())
    }

    /// Writes a chunk; returns its file and byte range.
    pub fn write(&self, bytes: &[u8], maxt: i64) -> Result<(Arc<MappedFile>, u32, u32)> {
        if bytes.len() as u64 > HEAD_CHUNK_FILE_MAX_BYTES - HEADER_LEN {
            return Err(Error::HeadChunkTooLarge {
                len: bytes.len(),
                limit: HEAD_CHUNK_FILE_MAX_BYTES - HEADER_LEN,
            });
        }
        let mut inner = self.inner.lock();
        if inner.file.is_none() || inner.len + bytes.len() as u64 > HEAD_CHUNK_FILE_MAX_BYTES {
            self.cut(&mut inner)?;
        }
        let off = inner.len;
        let mapped = inner.files.last().cloned().expect("cut above");
        let file = inner.file.as_ref().expect("cut above");
        file.write_all_at(bytes, off)
            .map_err(|e| Error::io(&mapped.path, e))?;
        inner.len += bytes.len() as u64;
        // Release pairs with the Acquire in `slice`: a reader that sees the
        // new length also sees the file extended to it.
        mapped.written.store(inner.len, Ordering::Release);
        mapped.maxt.fetch_max(maxt, Ordering::Relaxed);
        Ok((mapped, off as u32, (off + bytes.len() as u64) as u32))
    }

    /// Deletes files whose chunks all end before `mint` (open queries keep
    /// their maps alive until they finish).
    pub fn truncate(&self, mint: i64) {
        let mut inner = self.inner.lock();
        let last = inner.files.len().saturating_sub(1);
        let mut i = 0;
        inner.files.retain(|f| {
            let keep = i == last || f.maxt.load(Ordering::Relaxed) >= mint;
            i += 1;
            if !keep && let Err(e) = fs::remove_file(&f.path) {
                tracing::warn!(file = %f.path.display(), error = %e, "cannot delete head chunk file");
            }
            keep
        });
    }

    /// Files in use (for stats and tests).
    pub fn file_count(&self) -> usize {
        self.inner.lock().files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let d = ChunkDisk::open(&dir.path().join("chunks_head")).unwrap();
        let (f, a, b) = d.write(b"hello", 10).unwrap();
        let (g, c, e) = d.write(b"world!", 20).unwrap();
        assert_eq!(f.slice(a, b), b"hello");
        assert_eq!(g.slice(c, e), b"world!");
        d.truncate(100);
        assert_eq!(d.file_count(), 1, "the file being written stays");
        assert_eq!(f.slice(a, b), b"hello");
    }

    #[test]
    fn files_grow_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks_head");
        let d = ChunkDisk::open(&path).unwrap();
        let chunk = vec![7u8; 1000];
        let mut ranges = Vec::new();
        for i in 0..10 {
            ranges.push(d.write(&chunk, i).unwrap());
            let len = fs::metadata(path.join("000001")).unwrap().len();
            assert_eq!(len, HEADER_LEN + 1000 * (i as u64 + 1));
        }
        for (f, a, b) in ranges {
            assert_eq!(f.slice(a, b), &chunk[..]);
        }
    }

    #[test]
    #[should_panic(expected = "outside its file")]
    fn range_past_the_written_end_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = ChunkDisk::open(&dir.path().join("chunks_head")).unwrap();
        let (f, _, b) = d.write(b"abc", 1).unwrap();
        let _ = f.slice(b, b + 4096);
    }

    #[test]
    fn oversized_chunk_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = ChunkDisk::open(&dir.path().join("chunks_head")).unwrap();
        let huge = vec![0u8; HEAD_CHUNK_FILE_MAX_BYTES as usize];
        assert!(d.write(&huge, 1).is_err());
        assert_eq!(d.file_count(), 0);
    }
}
