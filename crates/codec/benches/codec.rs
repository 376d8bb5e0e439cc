//! Hot paths of a checkpoint and an issuer. Run: `cargo bench -p healthcode-codec`.
//!
//! The bare signature verification of each algorithm is the floor that the
//! full string → verdict pipeline is measured against (BENCHMARKS.md); the
//! stage benches show where the rest of the pipeline's time goes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::LazyLock;

use divan::{black_box, Bencher};
use healthcode_codec::claims::Claims;
use healthcode_codec::compress::Inflater;
use healthcode_codec::cose::{self, Sign1};
use healthcode_codec::dcc::DscCertificate;
use healthcode_codec::qr::{self, QrMatrix};
use healthcode_codec::sample::{sample_code, signed_parts, SampleCode};
use healthcode_codec::{base45, Algorithm, TrustStore, Verifier};
use ring::rand::SystemRandom;
use time::macros::datetime;
use time::OffsetDateTime;

fn main() {
    divan::main();
}

const ISSUED: OffsetDateTime = datetime!(2026-11-22 08:00 UTC);

fn sample(alg: Algorithm) -> SampleCode {
    sample_code(alg, ISSUED, &SystemRandom::new()).unwrap()
}

static ED25519: LazyLock<SampleCode> = LazyLock::new(|| sample(Algorithm::EdDsa));
static ES256: LazyLock<SampleCode> = LazyLock::new(|| sample(Algorithm::Es256));

/// An EU DCC test vector and its signer certificate.
struct DccSample {
    prefix: String,
    clock: i64,
    cert: DscCertificate,
    signed_bytes: Vec<u8>,
    signature: Vec<u8>,
}

fn dcc_sample(file: &str, clock: OffsetDateTime) -> DccSample {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/dcc")
        .join(file);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let prefix = v["PREFIX"].as_str().unwrap().to_owned();
    let cert =
        DscCertificate::parse(v["TESTCTX"]["CERTIFICATE"].as_str().unwrap().as_bytes()).unwrap();
    let (signed_bytes, signature) = signed_parts(&prefix).unwrap();
    DccSample {
        prefix,
        clock: clock.unix_timestamp(),
        cert,
        signed_bytes,
        signature,
    }
}

static HC1_ES256: LazyLock<DccSample> =
    LazyLock::new(|| dcc_sample("DE/2DCode/raw/1.json", datetime!(2021-06-01 18:00 UTC)));
static HC1_PS256: LazyLock<DccSample> =
    LazyLock::new(|| dcc_sample("CH/2DCode/raw/1.json", datetime!(2021-08-18 14:36:53 UTC)));

#[divan::bench_group(name = "1_bare_signature", sample_count = 1000)]
mod bare_signature {
    use super::*;

    #[divan::bench]
    fn ed25519(b: Bencher) {
        let s = &*ED25519;
        b.bench(|| {
            assert!(s
                .public_key
                .verify(black_box(&s.signed_bytes), black_box(&s.signature)))
        });
    }

    #[divan::bench]
    fn es256(b: Bencher) {
        let s = &*ES256;
        b.bench(|| {
            assert!(s
                .public_key
                .verify(black_box(&s.signed_bytes), black_box(&s.signature)))
        });
    }

    fn run_dcc(b: Bencher, s: &DccSample) {
        b.bench(|| {
            assert!(s
                .cert
                .public_key
                .verify(black_box(&s.signed_bytes), black_box(&s.signature)))
        });
    }

    #[divan::bench]
    fn hc1_es256(b: Bencher) {
        run_dcc(b, &HC1_ES256);
    }

    #[divan::bench]
    fn hc1_ps256(b: Bencher) {
        run_dcc(b, &HC1_PS256);
    }
}

#[divan::bench_group(name = "2_pipeline_string_to_verdict", sample_count = 1000)]
mod pipeline {
    use super::*;

    fn run(b: Bencher, s: &SampleCode) {
        let mut verifier = s.verifier();
        b.bench_local(|| {
            verifier
                .verify(black_box(&s.code), s.issued_at + 10)
                .unwrap()
        });
    }

    #[divan::bench]
    fn ed25519(b: Bencher) {
        run(b, &ED25519);
    }

    #[divan::bench]
    fn es256(b: Bencher) {
        run(b, &ES256);
    }

    fn run_dcc(b: Bencher, s: &DccSample) {
        let mut store = TrustStore::new();
        store.add_dcc_certificate(&s.cert);
        let mut verifier = Verifier::new(store);
        b.bench_local(|| verifier.verify(black_box(&s.prefix), s.clock).unwrap());
    }

    #[divan::bench]
    fn hc1_es256(b: Bencher) {
        run_dcc(b, &HC1_ES256);
    }

    #[divan::bench]
    fn hc1_ps256(b: Bencher) {
        run_dcc(b, &HC1_PS256);
    }
}

/// The pipeline's work besides the signature, stage by stage (Ed25519 code).
#[divan::bench_group(name = "3_pipeline_stages", sample_count = 1000)]
mod stages {
    use super::*;

    #[divan::bench]
    fn base45_decode(b: Bencher) {
        let body = &ED25519.code.as_bytes()[5..];
        let mut out = Vec::with_capacity(1024);
        b.bench_local(|| base45::decode_into(black_box(body), &mut out).unwrap());
    }

    #[divan::bench]
    fn inflate(b: Bencher) {
        let packed = base45::decode(&ED25519.code[5..]).unwrap();
        let mut inflater = Inflater::default();
        let mut out = Vec::with_capacity(1024);
        b.bench_local(|| inflater.inflate(black_box(&packed), &mut out).unwrap());
    }

    #[divan::bench]
    fn cose_parse_and_sig_structure(b: Bencher) {
        let packed = base45::decode(&ED25519.code[5..]).unwrap();
        let mut cose_bytes = Vec::new();
        Inflater::default()
            .inflate(&packed, &mut cose_bytes)
            .unwrap();
        let mut out = Vec::with_capacity(1024);
        b.bench_local(|| {
            let s = Sign1::parse(black_box(&cose_bytes)).unwrap();
            cose::sig_structure(s.protected, s.payload, &mut out);
        });
    }

    #[divan::bench]
    fn claims_decode(b: Bencher) {
        let packed = base45::decode(&ED25519.code[5..]).unwrap();
        let mut cose_bytes = Vec::new();
        Inflater::default()
            .inflate(&packed, &mut cose_bytes)
            .unwrap();
        let payload = Sign1::parse(&cose_bytes).unwrap().payload.to_vec();
        b.bench(|| Claims::decode(black_box(&payload)).unwrap());
    }
}

#[divan::bench_group(name = "4_issue_sign_and_encode", sample_count = 1000)]
mod issuance {
    use super::*;

    fn run(b: Bencher, alg: Algorithm) {
        let rng = SystemRandom::new();
        let mut s = sample(alg);
        let now = s.issued_at;
        b.bench_local(|| {
            s.issuer
                .issue(black_box(&s.request), now, [7; 16], &rng)
                .unwrap()
        });
    }

    #[divan::bench]
    fn ed25519(b: Bencher) {
        run(b, Algorithm::EdDsa);
    }

    #[divan::bench]
    fn es256(b: Bencher) {
        run(b, Algorithm::Es256);
    }
}

#[divan::bench_group(name = "5_qr")]
mod qr_codes {
    use super::*;

    #[divan::bench]
    fn encode_matrix(b: Bencher) {
        let code = &ED25519.code;
        b.bench(|| QrMatrix::encode(black_box(code)).unwrap());
    }

    #[divan::bench]
    fn render_svg(b: Bencher) {
        let m = QrMatrix::encode(&ED25519.code).unwrap();
        b.bench(|| m.to_svg(None));
    }

    #[divan::bench]
    fn render_png(b: Bencher) {
        let m = QrMatrix::encode(&ED25519.code).unwrap();
        b.bench(|| m.to_png(8, false).unwrap());
    }

    #[divan::bench(sample_count = 50)]
    fn decode_png(b: Bencher) {
        let png = QrMatrix::encode(&ED25519.code)
            .unwrap()
            .to_png(8, false)
            .unwrap();
        b.bench(|| {
            let texts = qr::decode_image(black_box(&png)).unwrap();
            assert_eq!(texts.len(), 1);
        });
    }
}
