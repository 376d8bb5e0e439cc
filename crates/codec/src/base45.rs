//! Base45 (RFC 9285): the QR alphanumeric alphabet carries 5.5 bits per
//! character, so Base45 packs binary into a QR code far better than Base64.

use thiserror::Error;

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Reverse lookup: byte → digit value, 0xFF for bytes outside the alphabet.
const DECODE: [u8; 256] = {
    let mut table = [0xFF_u8; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base45Error {
    #[error("character {character:?} at position {position} is not in the Base45 alphabet")]
    InvalidCharacter { position: usize, character: char },
    #[error("Base45 text of length {0} leaves a single dangling character")]
    DanglingCharacter(usize),
    #[error("Base45 group at position {0} encodes a value larger than its byte width allows")]
    Overflow(usize),
}

/// Appends the Base45 encoding of `data` to `out`.
pub fn encode_into(data: &[u8], out: &mut String) {
    out.reserve(data.len() / 2 * 3 + 2);
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        let n = u32::from(pair[0]) * 256 + u32::from(pair[1]);
        push_digits(out, n, 3);
    }
    if let [last] = chunks.remainder() {
        push_digits(out, u32::from(*last), 2);
    }
}

fn push_digits(out: &mut String, mut n: u32, count: usize) {
    for _ in 0..count {
        out.push(char::from(ALPHABET[(n % 45) as usize]));
        n /= 45;
    }
}

pub fn encode(data: &[u8]) -> String {
    let mut s = String::new();
    encode_into(data, &mut s);
    s
}

/// Decodes Base45 `text` into `out` (cleared first), reusing its allocation.
pub fn decode_into(text: &[u8], out: &mut Vec<u8>) -> Result<(), Base45Error> {
    out.clear();
    out.reserve(text.len() / 3 * 2 + 1);
    let digit = |position: usize| -> Result<u32, Base45Error> {
        let byte = text[position];
        match DECODE[usize::from(byte)] {
            0xFF => Err(Base45Error::InvalidCharacter {
                position,
                character: char::from(byte),
            }),
            d => Ok(u32::from(d)),
        }
    };
    let full = text.len() / 3 * 3;
    let mut i = 0;
    while i < full {
        let n = digit(i)? + digit(i + 1)? * 45 + digit(i + 2)? * 45 * 45;
        if n > 0xFFFF {
            return Err(Base45Error::Overflow(i));
        }
        out.push((n >> 8) as u8);
        out.push((n & 0xFF) as u8);
        i += 3;
    }
    match text.len() - full {
        0 => Ok(()),
        2 => {
            let n = digit(i)? + digit(i + 1)? * 45;
            if n > 0xFF {
                return Err(Base45Error::Overflow(i));
            }
            out.push(n as u8);
            Ok(())
        }
        _ => Err(Base45Error::DanglingCharacter(text.len())),
    }
}

pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let mut out = Vec::new();
    decode_into(text.as_bytes(), &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9285_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
        assert_eq!(decode("").unwrap(), b"");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            decode("GGW"),
            Err(Base45Error::Overflow(0)),
            "':::' style overflow must be caught"
        );
        assert_eq!(decode("ZZZ"), Err(Base45Error::Overflow(0)));
        assert!(matches!(
            decode("ab"),
            Err(Base45Error::InvalidCharacter { position: 0, .. })
        ));
        assert_eq!(decode("A"), Err(Base45Error::DanglingCharacter(1)));
        assert_eq!(decode("::"), Err(Base45Error::Overflow(0)));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(decode(&encode(&data)).unwrap(), data);
        }

        #[test]
        fn decode_never_panics(text in "\\PC{0,200}") {
            let _ = decode(&text);
        }

        #[test]
        fn decode_alphabet_only_never_panics(text in "[0-9A-Z $%*+./:-]{0,200}") {
            if let Ok(bytes) = decode(&text) {
                // Whatever decodes must re-encode to the same text.
                prop_assert_eq!(encode(&bytes), text);
            }
        }
    }
}
