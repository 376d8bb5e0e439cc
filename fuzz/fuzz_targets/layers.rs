#![no_main]
//! Raw bytes → every decoder below the verifier, each on its own: CBOR,
//! COSE_Sign1, our claims, the DCC payload, zlib, Base45, signed trust
//! lists and DSC certificates. Where a decoder has an encoder, the round
//! trip is checked too.

use std::sync::{LazyLock, Mutex};

use healthcode_codec::cbor::Value;
use healthcode_codec::claims::Claims;
use healthcode_codec::compress::{Deflater, Inflater};
use healthcode_codec::cose::{encode_sign1, Sign1};
use healthcode_codec::dcc::{self, DccPayload, DscCertificate};
use healthcode_codec::{base45, TrustList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cbor(data);
    cose(data);
    claims(data);
    dcc_payload(data);
    zlib(data);
    text_layers(data);
    let _ = DscCertificate::parse(data);
});

fn cbor(data: &[u8]) {
    let Ok(value) = Value::decode(data) else {
        return;
    };
    // Canonical re-encoding is a fixed point (compared as bytes: NaN != NaN).
    let mut once = Vec::new();
    value.encode(&mut once);
    let again = Value::decode(&once).expect("our own encoding decodes");
    let mut twice = Vec::new();
    again.encode(&mut twice);
    assert_eq!(once, twice, "CBOR re-encoding is not stable for {value}");
    let _ = value.to_string();
    let _ = dcc::to_json(&value);
}

fn cose(data: &[u8]) {
    let Ok(sign1) = Sign1::parse(data) else {
        return;
    };
    let _ = Claims::decode(sign1.payload);
    let _ = DccPayload::decode(sign1.payload);
    if let (Some(alg), Some(kid)) = (sign1.alg, sign1.kid) {
        if !sign1.alg_unprotected && !sign1.kid_unprotected {
            // Re-encoded with our header, the parts come back unchanged.
            let protected = healthcode_codec::cose::protected_header(alg, kid);
            let mut out = Vec::new();
            encode_sign1(&protected, sign1.payload, sign1.signature, &mut out);
            let back = Sign1::parse(&out).expect("our own COSE parses");
            assert_eq!(
                (back.alg, back.kid, back.payload, back.signature),
                (Some(alg), Some(kid), sign1.payload, sign1.signature)
            );
        }
    }
}

fn claims(data: &[u8]) {
    let Ok(claims) = Claims::decode(data) else {
        return;
    };
    assert!(claims.issued_at <= claims.expires_at);
    let mut out = Vec::new();
    claims.encode(&mut out);
    assert_eq!(
        Claims::decode(&out).as_ref(),
        Ok(&claims),
        "claims round trip"
    );
}

fn dcc_payload(data: &[u8]) {
    if let Ok(payload) = DccPayload::decode(data) {
        let _ = payload.hcert_json();
        let _ = dcc::schema::validate(&payload.hcert_json());
    }
}

/// Reused across inputs, as in the verifier (a fresh inflater costs ~100 µs).
static ZLIB: LazyLock<Mutex<(Inflater, Deflater)>> =
    LazyLock::new(|| Mutex::new((Inflater::default(), Deflater::default())));

fn zlib(data: &[u8]) {
    let mut zlib = ZLIB.lock().expect("zlib lock");
    let (inflater, deflater) = &mut *zlib;
    let mut out = Vec::new();
    if inflater.inflate(data, &mut out).is_err() {
        return;
    }
    let mut packed = Vec::new();
    deflater.deflate(&out, &mut packed);
    let mut back = Vec::new();
    inflater
        .inflate(&packed, &mut back)
        .expect("our own zlib inflates");
    assert_eq!(back, out, "zlib round trip");
    let _ = Sign1::parse(&out);
}

fn text_layers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(bytes) = base45::decode(&text) {
        // Base45 has exactly one spelling for each byte string.
        assert_eq!(base45::encode(&bytes), text, "Base45 is not canonical");
    }
    let _ = TrustList::open(&text, None);
}
