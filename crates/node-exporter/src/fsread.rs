//! Small readers for `/proc` and `/sys` files: bounded reads, single values,
//! and directory listings, each error naming the path it failed on.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The largest file the exporter reads. `/proc` files of busy hosts stay
/// far below this (a `/proc/net/arp` of 50k entries is ~4 MiB); anything
/// larger is a sign of the wrong path.
pub const FILE_BYTES_MAX: u64 = 32 << 20;

/// The first read's size: most `/proc` and `/sys` files fit, and a
/// `seq_file` produces at most one buffer's worth per `read` call.
const FIRST_READ_BYTES: usize = 8 << 10;

/// Reads a whole file as text, refusing files over [`FILE_BYTES_MAX`].
/// Files in `/proc` report size 0, so the limit is enforced while reading.
///
/// Each call reads into a fresh buffer that becomes the returned string:
/// nothing stays allocated between scrapes and valid UTF-8 is not copied.
pub fn read_string(path: &Path) -> Result<String> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::with_capacity(FIRST_READ_BYTES);
    // One byte over the limit tells "too large" from "exactly at it".
    file.take(FILE_BYTES_MAX + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > FILE_BYTES_MAX {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit_bytes: FILE_BYTES_MAX,
        });
    }
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Reads a one-line sysfs attribute, trimmed.
pub fn read_trimmed(path: &Path) -> Result<String> {
    Ok(read_string(path)?.trim().to_string())
}

/// Reads a one-value attribute as a float (integers included).
pub fn read_f64(path: &Path) -> Result<f64> {
    let s = read_trimmed(path)?;
    parse_f64(&s).ok_or_else(|| Error::parse(path, 1, format!("not a number: {s:?}")))
}

/// Parses a decimal integer or float as the kernel writes them.
pub fn parse_f64(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(i as f64);
    }
    if let Ok(u) = s.parse::<u64>() {
        return Some(u as f64);
    }
    s.parse::<f64>().ok()
}

/// Names of a directory's entries, sorted; a missing directory is
/// [`Error::NoData`].
pub fn list_dir(path: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoData {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Turns a missing file into [`Error::NoData`] so the collector fails quietly.
pub fn require(path: PathBuf) -> Result<PathBuf> {
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::NoData { path })
    }
}

/// The most a sysfs attribute holds: the kernel formats each into one page.
pub const ATTR_BYTES_MAX: usize = 4096;

/// A directory opened once whose small attribute files are read with
/// `openat`: the kernel walks the directory's path once instead of once
/// per attribute, which is most of the cost of reading sysfs.
pub struct AttrDir {
    fd: rustix::fd::OwnedFd,
}

impl AttrDir {
    pub fn open(path: &Path) -> Result<AttrDir> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        Ok(AttrDir { fd })
    }

    /// Attribute `name`, trimmed; `None` when it is missing or the driver
    /// refuses to report it (e.g. `speed` of a link that is down).
    pub fn read(&self, name: &str) -> Option<String> {
        use rustix::fs::{Mode, OFlags};
        let f = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let mut buf = [0u8; ATTR_BYTES_MAX];
        // One read returns the whole attribute: sysfs formats it at once.
        let n = rustix::io::read(&f, &mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).trim().to_string())
    }
}
