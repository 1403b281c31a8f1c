//! Gzip for scrape responses, through `flate2` at its fastest level.
//!
//! The encoder is built per response and dropped with it: its state
//! (window, hash chains, ~300 KiB) is one large allocation, which glibc
//! serves from `mmap` and returns to the kernel on free, so nothing of it
//! stays resident between scrapes.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

/// `data` as one gzip member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn check(input: &[u8]) {
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gzip(input)[..])
            .read_to_end(&mut back)
            .expect("valid gzip");
        assert_eq!(back, input);
    }

    #[test]
    fn round_trips() {
        let metrics: String = (0..3000)
            .map(|i| {
                format!(
                    "node_cpu_seconds_total{{cpu=\"{}\",mode=\"idle\"}} {}.5\n",
                    i % 64,
                    i * 7
                )
            })
            .collect();
        let mut noise = Vec::new();
        let mut x = 0x1234_5678u32;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push((x % 7) as u8 * 37);
        }
        let all: Vec<u8> = (0..=255).collect();
        for input in [
            &b""[..],
            b"a",
            b"abcd",
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            metrics.as_bytes(),
            &noise,
            &all,
            &[b'x'; 200_000],
        ] {
            check(input);
        }
    }

    #[test]
    fn round_trips_generated_inputs() {
        // Small alphabets make many overlapping matches of every length
        // and distance; lengths cross the 4-byte and 258-byte edges.
        let mut x = 0x9E37_79B9u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for case in 0..300 {
            let len = (next() % 2000) as usize + case % 7;
            let alphabet = 1 + next() % 5;
            let input: Vec<u8> = (0..len).map(|_| b'a' + (next() % alphabet) as u8).collect();
            check(&input);
        }
    }

    #[test]
    fn compresses_metric_text() {
        let metrics: String = (0..2000)
            .map(|i| {
                format!(
                    "node_network_receive_bytes_total{{device=\"eth{}\"}} {}\n",
                    i % 8,
                    i * 1013
                )
            })
            .collect();
        let z = gzip(metrics.as_bytes());
        assert!(
            z.len() * 4 < metrics.len(),
            "{} of {}",
            z.len(),
            metrics.len()
        );
    }
}
