//! Byte-level helpers shared by every on-disk format: LEB128 varints,
//! zig-zag signed varints, little-endian fixed-width integers, and a
//! bounds-checked reader that reports how far it got instead of panicking.

/// Appends `n` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends `n` zig-zag encoded, so small negative numbers stay short.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, n: i64) {
    put_uvarint(out, ((n << 1) ^ (n >> 63)) as u64);
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Why a `Decoder` stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside a value.
    Truncated,
    /// A varint ran past 10 bytes, or a value was out of its range.
    Invalid,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecodeError::Truncated => "unexpected end of data",
            DecodeError::Invalid => "invalid encoding",
        })
    }
}

/// A bounds-checked reader over a byte slice.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

pub type DecodeResult<T> = Result<T, DecodeError>;

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    #[inline]
    pub fn uvarint(&mut self) -> DecodeResult<u64> {
        let mut n = 0u64;
        let mut shift = 0u32;
        loop {
            let b = *self.buf.get(self.pos).ok_or(DecodeError::Truncated)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(DecodeError::Invalid);
            }
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(n);
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError::Invalid);
            }
        }
    }

    #[inline]
    pub fn varint(&mut self) -> DecodeResult<i64> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A uvarint that must fit `u32`.
    pub fn uvarint32(&mut self) -> DecodeResult<u32> {
        u32::try_from(self.uvarint()?).map_err(|_| DecodeError::Invalid)
    }

    pub fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32_le(&mut self) -> DecodeResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub fn u64_le(&mut self) -> DecodeResult<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Invalid)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self) -> DecodeResult<&'a [u8]> {
        let n = usize::try_from(self.uvarint()?).map_err(|_| DecodeError::Invalid)?;
        self.take(n)
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> DecodeResult<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_extremes() {
        let vals = [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40];
        let mut buf = Vec::new();
        for v in vals {
            put_varint(&mut buf, v);
            put_uvarint(&mut buf, v as u64);
        }
        let mut d = Decoder::new(&buf);
        for v in vals {
            assert_eq!(d.varint(), Ok(v));
            assert_eq!(d.uvarint(), Ok(v as u64));
        }
        assert!(d.is_empty());
        assert_eq!(d.uvarint(), Err(DecodeError::Truncated));
    }

    #[test]
    fn overlong_varint_is_invalid() {
        let buf = [0xffu8; 11];
        assert_eq!(Decoder::new(&buf).uvarint(), Err(DecodeError::Invalid));
        assert_eq!(
            Decoder::new(&[0x80, 0x80]).uvarint(),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            Decoder::new(&[5, b'a']).bytes(),
            Err(DecodeError::Truncated)
        );
    }
}
