//! Snappy block framing and the body encoders.
//!
//! Remote write compresses each protobuf message with snappy's raw block
//! format (not the framed stream format). A block starts with its decoded
//! length as a varint, so the receiver checks that against
//! [`DECODED_BYTES_MAX`] before allocating anything: a 1 KiB body could
//! otherwise claim gigabytes.

use prost::Message;

use crate::error::{Error, Result};
use crate::proto::{RequestV2, V1_MESSAGE, V2_MESSAGE, WriteRequest};

/// The largest decoded body accepted (32 MiB). Prometheus sets no bound;
/// one keeps a receiver's memory safe, and senders batch far below it
/// (Prometheus's default is 2,000 samples per request).
pub const DECODED_BYTES_MAX: usize = 32 << 20;

/// The largest compressed body worth reading: the most snappy can need
/// for [`DECODED_BYTES_MAX`] bytes (32 + n + n/6). An HTTP layer should
/// cap the request body here; anything longer would decode past the limit.
pub const BODY_BYTES_MAX: usize = 32 + DECODED_BYTES_MAX + DECODED_BYTES_MAX / 6;

/// Decodes a snappy block of at most `limit` decoded bytes.
pub fn snappy_decode(body: &[u8], limit: usize) -> Result<Vec<u8>> {
    let size = snap::raw::decompress_len(body)?;
    if size > limit {
        return Err(Error::DecodedTooLarge { size, limit });
    }
    Ok(snap::raw::Decoder::new().decompress_vec(body)?)
}

/// Encodes `data` as one snappy block.
pub fn snappy_encode(data: &[u8]) -> Vec<u8> {
    // Compression of an in-memory slice fails only when the input exceeds
    // snappy's 4 GiB block bound, which a remote-write body never nears.
    snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snappy input below the 4 GiB block bound")
}

/// Decodes a snappy-compressed 1.0 body.
pub fn decode_v1(body: &[u8]) -> Result<WriteRequest> {
    let raw = snappy_decode(body, DECODED_BYTES_MAX)?;
    WriteRequest::decode(raw.as_slice()).map_err(|source| Error::Protobuf {
        message: V1_MESSAGE,
        source,
    })
}

/// Decodes a snappy-compressed 2.0 body.
pub fn decode_v2(body: &[u8]) -> Result<RequestV2> {
    let raw = snappy_decode(body, DECODED_BYTES_MAX)?;
    RequestV2::decode(raw.as_slice()).map_err(|source| Error::Protobuf {
        message: V2_MESSAGE,
        source,
    })
}

/// A 1.0 request as a snappy-compressed body.
pub fn encode_v1(req: &WriteRequest) -> Vec<u8> {
    snappy_encode(&req.encode_to_vec())
}

/// A 2.0 request as a snappy-compressed body.
pub fn encode_v2(req: &RequestV2) -> Vec<u8> {
    snappy_encode(&req.encode_to_vec())
}

/// Builds a 2.0 symbols table: each distinct string once, the empty string
/// first as the specification requires (so an unset `help_ref`/`unit_ref`
/// of 0 reads as "").
#[derive(Debug)]
pub struct SymbolTable {
    symbols: Vec<String>,
    index: std::collections::HashMap<String, u32>,
}

impl Default for SymbolTable {
    fn default() -> Self {
        SymbolTable::new()
    }
}

impl SymbolTable {
    /// A table holding only the empty string.
    pub fn new() -> SymbolTable {
        let mut t = SymbolTable {
            symbols: Vec::new(),
            index: std::collections::HashMap::new(),
        };
        t.symbolize("");
        t
    }

    /// The reference for `s`, adding it if new.
    pub fn symbolize(&mut self, s: &str) -> u32 {
        if let Some(&r) = self.index.get(s) {
            return r;
        }
        let r = u32::try_from(self.symbols.len()).expect("fewer than 2^32 symbols");
        self.symbols.push(s.to_owned());
        self.index.insert(s.to_owned(), r);
        r
    }

    /// Label references (name, value, name, value, ...) for `labels`.
    pub fn label_refs(&mut self, labels: &beacon_model::Labels) -> Vec<u32> {
        let mut refs = Vec::with_capacity(labels.len() * 2);
        for l in labels.iter() {
            refs.push(self.symbolize(l.name));
            refs.push(self.symbolize(l.value));
        }
        refs
    }

    /// The finished table, for `RequestV2::symbols`.
    pub fn into_symbols(self) -> Vec<String> {
        self.symbols
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snappy_round_trip_and_limit() {
        let data = b"abcabcabcabcabcabc".repeat(100);
        let enc = snappy_encode(&data);
        assert_eq!(snappy_decode(&enc, data.len()).unwrap(), data);
        let err = snappy_decode(&enc, data.len() - 1).unwrap_err();
        assert!(matches!(err, Error::DecodedTooLarge { size, .. } if size == data.len()));
    }

    #[test]
    fn body_bound_matches_snappy() {
        assert_eq!(
            BODY_BYTES_MAX,
            snap::raw::max_compress_len(DECODED_BYTES_MAX)
        );
    }

    #[test]
    fn snappy_garbage_is_an_error_not_a_panic() {
        for body in [
            &b""[..],
            b"\xff\xff\xff\xff\xff\xff",
            b"\x05abc",
            b"\x0a\x00",
        ] {
            assert!(snappy_decode(body, DECODED_BYTES_MAX).is_err(), "{body:?}");
        }
    }

    #[test]
    fn symbols_start_empty_and_dedupe() {
        let mut t = SymbolTable::new();
        assert_eq!(t.symbolize("a"), 1);
        assert_eq!(t.symbolize(""), 0);
        assert_eq!(t.symbolize("a"), 1);
        assert_eq!(t.into_symbols(), ["", "a"]);
    }
}
