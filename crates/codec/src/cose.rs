//! COSE_Sign1 (RFC 9052): parsing without copying, the `Sig_structure` that
//! is signed, and encoding for issuance.

use thiserror::Error;

use crate::cbor::{self, CborError, Major, Reader};

pub const TAG_SIGN1: u64 = 18;
pub const TAG_CWT: u64 = 61;

const HEADER_ALG: i64 = 1;
const HEADER_KID: i64 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoseError {
    #[error("not a COSE_Sign1 structure: {0}")]
    Cbor(#[from] CborError),
    #[error("not a COSE_Sign1 structure: tag {0} where 18 (COSE_Sign1) was expected")]
    WrongTag(u64),
    #[error("not a COSE_Sign1 structure: an array of {0} items where 4 were expected")]
    WrongArity(u64),
    #[error("COSE_Sign1 has no payload (detached payloads are not accepted)")]
    DetachedPayload,
    #[error("COSE protected header is malformed: {0}")]
    BadProtectedHeader(CborError),
    #[error("COSE header has a duplicate label {0}")]
    DuplicateLabel(i64),
}

/// A parsed COSE_Sign1 message borrowing from its encoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sign1<'a> {
    /// The serialized protected header (the content of its byte string).
    pub protected: &'a [u8],
    /// Algorithm: from the protected header, else from the unprotected one.
    pub alg: Option<i64>,
    /// True when the algorithm came from the unprotected header.
    pub alg_unprotected: bool,
    /// Key id: from the protected header, else from the unprotected one.
    pub kid: Option<&'a [u8]>,
    /// True when the kid came from the (unsigned) unprotected header.
    pub kid_unprotected: bool,
    pub payload: &'a [u8],
    pub signature: &'a [u8],
}

impl<'a> Sign1<'a> {
    /// Parses a COSE_Sign1, tagged (18), CWT-tagged (61 then 18) or untagged.
    pub fn parse(data: &'a [u8]) -> Result<Sign1<'a>, CoseError> {
        let mut r = Reader::new(data);
        if let Some(tag) = r.tag()? {
            let tag = if tag == TAG_CWT {
                r.tag()?.unwrap_or(TAG_SIGN1)
            } else {
                tag
            };
            if tag != TAG_SIGN1 {
                return Err(CoseError::WrongTag(tag));
            }
        }
        let n = r.array_len()?;
        if n != 4 {
            return Err(CoseError::WrongArity(n));
        }
        let protected = r.bytes()?;
        let (alg, protected_kid) = parse_header_map(protected).map_err(|e| match e {
            CoseError::Cbor(c) => CoseError::BadProtectedHeader(c),
            other => other,
        })?;
        let (unprotected_alg, unprotected_kid) = read_header_map(&mut r)?;
        if r.peek_major()? == Major::Simple {
            return Err(CoseError::DetachedPayload);
        }
        let payload = r.bytes()?;
        let signature = r.bytes()?;
        r.finish()?;
        Ok(Sign1 {
            protected,
            alg: alg.or(unprotected_alg),
            alg_unprotected: alg.is_none() && unprotected_alg.is_some(),
            kid: protected_kid.or(unprotected_kid),
            kid_unprotected: protected_kid.is_none() && unprotected_kid.is_some(),
            payload,
            signature,
        })
    }
}

fn parse_header_map(bytes: &[u8]) -> Result<(Option<i64>, Option<&[u8]>), CoseError> {
    // A zero-length protected header stands for the empty map.
    if bytes.is_empty() {
        return Ok((None, None));
    }
    let mut r = Reader::new(bytes);
    let out = read_header_map(&mut r)?;
    r.finish()?;
    Ok(out)
}

fn read_header_map<'a>(r: &mut Reader<'a>) -> Result<(Option<i64>, Option<&'a [u8]>), CoseError> {
    let n = r.map_len()?;
    let (mut alg, mut kid) = (None, None);
    for _ in 0..n {
        match r.peek_major()? {
            Major::Unsigned | Major::Negative => {
                let label = r.integer()?;
                match label {
                    HEADER_ALG => {
                        if alg.is_some() {
                            return Err(CoseError::DuplicateLabel(label));
                        }
                        // Algorithms may be text in theory; we only know integers.
                        alg = Some(if r.peek_major()? == Major::Text {
                            r.skip()?;
                            i64::MIN
                        } else {
                            r.integer()?
                        });
                    }
                    HEADER_KID => {
                        if kid.is_some() {
                            return Err(CoseError::DuplicateLabel(label));
                        }
                        kid = Some(r.bytes()?);
                    }
                    _ => r.skip()?,
                }
            }
            _ => {
                r.skip()?;
                r.skip()?;
            }
        }
    }
    Ok((alg, kid))
}

/// Builds the `Sig_structure` for a COSE_Sign1 into `out` (cleared first):
/// `["Signature1", protected, h'', payload]`.
pub fn sig_structure(protected: &[u8], payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(protected.len() + payload.len() + 24);
    cbor::write_array(out, 4);
    cbor::write_text(out, "Signature1");
    cbor::write_bytes(out, protected);
    cbor::write_bytes(out, &[]);
    cbor::write_bytes(out, payload);
}

/// Serializes a protected header holding `alg` and `kid`.
pub fn protected_header(alg: i64, kid: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(kid.len() + 8);
    cbor::write_map(&mut out, 2);
    cbor::write_int(&mut out, HEADER_ALG);
    cbor::write_int(&mut out, alg);
    cbor::write_int(&mut out, HEADER_KID);
    cbor::write_bytes(&mut out, kid);
    out
}

/// Encodes a tagged COSE_Sign1 with an empty unprotected header.
pub fn encode_sign1(protected: &[u8], payload: &[u8], signature: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(protected.len() + payload.len() + signature.len() + 16);
    cbor::write_tag(out, TAG_SIGN1);
    cbor::write_array(out, 4);
    cbor::write_bytes(out, protected);
    cbor::write_map(out, 0);
    cbor::write_bytes(out, payload);
    cbor::write_bytes(out, signature);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_kid_sources() {
        let protected = protected_header(-8, b"kid12345");
        let mut msg = Vec::new();
        encode_sign1(&protected, b"payload", &[7u8; 64], &mut msg);
        let parsed = Sign1::parse(&msg).unwrap();
        assert_eq!(parsed.alg, Some(-8));
        assert_eq!(parsed.kid, Some(&b"kid12345"[..]));
        assert!(!parsed.kid_unprotected);
        assert_eq!(parsed.payload, b"payload");
        assert_eq!(parsed.signature, &[7u8; 64]);

        // Untagged, kid only in the unprotected header.
        let mut msg = Vec::new();
        let mut ph = Vec::new();
        cbor::write_map(&mut ph, 1);
        cbor::write_int(&mut ph, 1);
        cbor::write_int(&mut ph, -7);
        cbor::write_array(&mut msg, 4);
        cbor::write_bytes(&mut msg, &ph);
        cbor::write_map(&mut msg, 1);
        cbor::write_int(&mut msg, 4);
        cbor::write_bytes(&mut msg, b"k");
        cbor::write_bytes(&mut msg, b"p");
        cbor::write_bytes(&mut msg, b"s");
        let parsed = Sign1::parse(&msg).unwrap();
        assert_eq!(parsed.kid, Some(&b"k"[..]));
        assert!(parsed.kid_unprotected);
        assert_eq!(parsed.alg, Some(-7));
    }

    #[test]
    fn rejects_wrong_shapes() {
        let mut msg = Vec::new();
        cbor::write_tag(&mut msg, 98);
        cbor::write_array(&mut msg, 4);
        assert_eq!(Sign1::parse(&msg), Err(CoseError::WrongTag(98)));
        let mut msg = Vec::new();
        cbor::write_array(&mut msg, 3);
        assert_eq!(Sign1::parse(&msg), Err(CoseError::WrongArity(3)));
        let mut msg = Vec::new();
        cbor::write_array(&mut msg, 4);
        cbor::write_bytes(&mut msg, &[]);
        cbor::write_map(&mut msg, 0);
        msg.push(0xF6);
        cbor::write_bytes(&mut msg, b"s");
        assert_eq!(Sign1::parse(&msg), Err(CoseError::DetachedPayload));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Sign1::parse(&data);
        }

        #[test]
        fn encode_parse_round_trip(
            kid in proptest::collection::vec(any::<u8>(), 0..40),
            payload in proptest::collection::vec(any::<u8>(), 0..400),
            sig in proptest::collection::vec(any::<u8>(), 0..300),
            alg in any::<i64>(),
        ) {
            let protected = protected_header(alg, &kid);
            let mut msg = Vec::new();
            encode_sign1(&protected, &payload, &sig, &mut msg);
            let parsed = Sign1::parse(&msg).unwrap();
            prop_assert_eq!(parsed.alg, Some(alg));
            prop_assert_eq!(parsed.kid, Some(&kid[..]));
            prop_assert_eq!(parsed.payload, &payload[..]);
            prop_assert_eq!(parsed.signature, &sig[..]);
        }
    }
}
