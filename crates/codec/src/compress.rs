//! zlib with reusable state: a fresh inflater costs ~100 µs of allocation and
//! set-up, a reset one ~4 µs, and a checkpoint verifies codes back to back.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use thiserror::Error;

/// Largest inflated payload accepted: codes are a few hundred bytes; this
/// bound stops a "zip bomb" from taking memory.
pub const MAX_INFLATED: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompressionError {
    #[error("zlib data is corrupt: {0}")]
    Corrupt(String),
    #[error("zlib data ends before the end of the stream")]
    Truncated,
    #[error("zlib data inflates to more than {MAX_INFLATED} bytes")]
    TooLarge,
    #[error("{0} bytes follow the end of the zlib stream")]
    TrailingBytes(usize),
}

/// A reusable zlib inflater.
pub struct Inflater {
    state: Decompress,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            state: Decompress::new(true),
        }
    }
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inflater")
    }
}

impl Inflater {
    /// Inflates one complete zlib stream from `input` into `out` (cleared
    /// first, allocation kept).
    pub fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
        self.state.reset(true);
        out.clear();
        if out.capacity() < 1024 {
            out.reserve(1024);
        }
        loop {
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let consumed = usize::try_from(in_before).unwrap_or(usize::MAX);
            let rest = input.get(consumed..).unwrap_or(&[]);
            let status = self
                .state
                .decompress_vec(rest, out, FlushDecompress::None)
                .map_err(|e| CompressionError::Corrupt(e.to_string()))?;
            if out.len() > MAX_INFLATED {
                return Err(CompressionError::TooLarge);
            }
            let consumed = usize::try_from(self.state.total_in()).unwrap_or(usize::MAX);
            if status == Status::StreamEnd {
                return match input.len().saturating_sub(consumed) {
                    0 => Ok(()),
                    n => Err(CompressionError::TrailingBytes(n)),
                };
            }
            let progressed =
                self.state.total_in() != in_before || self.state.total_out() != out_before;
            if out.len() < out.capacity() && (consumed >= input.len() || !progressed) {
                // Room was left, yet the stream did not end: the input ran out.
                return Err(CompressionError::Truncated);
            }
            if out.len() == out.capacity() {
                if out.len() >= MAX_INFLATED {
                    return Err(CompressionError::TooLarge);
                }
                let grow = out.capacity().min(MAX_INFLATED + 1 - out.len());
                out.reserve_exact(grow);
            }
        }
    }
}

/// A reusable zlib deflater for issuing codes.
pub struct Deflater {
    state: Compress,
}

impl Default for Deflater {
    fn default() -> Self {
        Deflater {
            state: Compress::new(Compression::best(), true),
        }
    }
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deflater")
    }
}

impl Deflater {
    /// Compresses `input` as one zlib stream into `out` (cleared first).
    pub fn deflate(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.state.reset();
        out.clear();
        // zlib's worst case expansion is a few bytes per 16 KiB block.
        out.reserve(input.len() + input.len() / 1000 + 64);
        loop {
            let consumed = usize::try_from(self.state.total_in()).unwrap_or(usize::MAX);
            let rest = input.get(consumed..).unwrap_or(&[]);
            match self.state.compress_vec(rest, out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return,
                Ok(_) | Err(_) => out.reserve(out.capacity().max(64)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bomb_is_refused() {
        let zeros = vec![0u8; MAX_INFLATED + 10];
        let mut packed = Vec::new();
        Deflater::default().deflate(&zeros, &mut packed);
        let mut out = Vec::new();
        assert_eq!(
            Inflater::default().inflate(&packed, &mut out),
            Err(CompressionError::TooLarge)
        );
    }

    #[test]
    fn truncated_and_trailing() {
        let mut packed = Vec::new();
        Deflater::default().deflate(b"hello hello hello", &mut packed);
        let mut out = Vec::new();
        let mut inflater = Inflater::default();
        assert_eq!(
            inflater.inflate(&packed[..packed.len() - 3], &mut out),
            Err(CompressionError::Truncated)
        );
        let mut longer = packed.clone();
        longer.push(0);
        assert_eq!(
            inflater.inflate(&longer, &mut out),
            Err(CompressionError::TrailingBytes(1))
        );
        inflater.inflate(&packed, &mut out).unwrap();
        assert_eq!(out, b"hello hello hello");
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let mut packed = Vec::new();
            Deflater::default().deflate(&data, &mut packed);
            let mut out = Vec::new();
            Inflater::default().inflate(&packed, &mut out).unwrap();
            prop_assert_eq!(out, data);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            let _ = Inflater::default().inflate(&data, &mut out);
        }
    }
}
