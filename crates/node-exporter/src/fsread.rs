//! Small readers for `/proc` and `/sys` files: bounded reads, single values,
//! and directory listings, each error naming the path it failed on.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The largest file the exporter reads. `/proc` files of busy hosts stay
/// far below this (a `/proc/net/arp` of 50k entries is ~4 MiB); anything
/// larger is a sign of the wrong path.
pub const FILE_BYTES_MAX: u64 = 32 << 20;

/// Reads a whole file as text, refusing files over [`FILE_BYTES_MAX`].
/// Files in `/proc` report size 0, so the limit is enforced while reading.
pub fn read_string(path: &Path) -> Result<String> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::with_capacity(4096);
    file.take(FILE_BYTES_MAX + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > FILE_BYTES_MAX {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit_bytes: FILE_BYTES_MAX,
        });
    }
    Ok(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
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
