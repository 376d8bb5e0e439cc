//! Hot paths of a checkpoint and an issuer. Run: `cargo bench -p healthcode-codec`.
//!
//! The bare signature verification of each algorithm is the floor that the
//! full string → verdict pipeline is measured against (BENCHMARKS.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::LazyLock;

use divan::{black_box, Bencher};
use healthcode_codec::compress::Inflater;
use healthcode_codec::cose::{self, Sign1};
use healthcode_codec::dcc::DscCertificate;
use healthcode_codec::qr::{self, QrMatrix};
use healthcode_codec::trust::TrustList;
use healthcode_codec::{
    base45, Algorithm, CodeIssuer, CodeRequest, IssuerKey, PublicKey, SigningKey, TrustStore,
    Verifier,
};
use healthcode_core::{CodeKind, Colour};
use ring::rand::SystemRandom;
use time::macros::datetime;

fn main() {
    divan::main();
}

const NOW: i64 = 1_795_334_400; // 2026-11-22T08:00:00Z

fn issuer_key(alg: Algorithm) -> IssuerKey {
    let signing_key = match alg {
        Algorithm::EdDsa => SigningKey::ed25519_from_seed(&[1; 32]).unwrap(),
        _ => SigningKey::generate(alg, &SystemRandom::new()).unwrap(),
    };
    IssuerKey {
        issuer: "cn-22".into(),
        signing_key,
        valid_from: datetime!(2026-01-01 0:00 UTC),
        valid_to: datetime!(2027-01-01 0:00 UTC),
        demo: false,
    }
}

fn request() -> CodeRequest {
    CodeRequest {
        colour: Colour::Green,
        full_name: "张三".into(),
        document_id: "220102199003071235".into(),
        kind: CodeKind::Resident,
        ttl_seconds: 300,
        status_as_of: NOW - 3600,
    }
}

/// One issued code with everything needed to verify it.
struct Fixture {
    code: String,
    public_key: PublicKey,
    to_verify: Vec<u8>,
    signature: Vec<u8>,
    verifier_store: TrustStore,
}

fn fixture(alg: Algorithm) -> Fixture {
    let rng = SystemRandom::new();
    let key = issuer_key(alg);
    let public_key = key.signing_key.public_key().clone();
    let publisher = issuer_key(Algorithm::EdDsa);
    let trust = TrustList::new(
        publisher.description(),
        datetime!(2026-11-01 0:00 UTC),
        vec![key.description()],
    )
    .sign(&publisher.signing_key, &rng)
    .unwrap()
    .to_json();
    let mut store = TrustStore::new();
    store.add_trust_list(&TrustList::open(&trust, None).unwrap());
    let code = CodeIssuer::new(key)
        .issue(&request(), NOW, [7; 16], &rng)
        .unwrap()
        .text;
    let (to_verify, signature) = signed_parts(&code[5..]);
    Fixture {
        code,
        public_key,
        to_verify,
        signature,
        verifier_store: store,
    }
}

/// The Sig_structure and signature inside a prefixed code's body.
fn signed_parts(body: &str) -> (Vec<u8>, Vec<u8>) {
    let packed = base45::decode(body).unwrap();
    let mut cose_bytes = Vec::new();
    Inflater::default()
        .inflate(&packed, &mut cose_bytes)
        .unwrap();
    let sign1 = Sign1::parse(&cose_bytes).unwrap();
    let mut to_verify = Vec::new();
    cose::sig_structure(sign1.protected, sign1.payload, &mut to_verify);
    (to_verify, sign1.signature.to_vec())
}

static ED25519: LazyLock<Fixture> = LazyLock::new(|| fixture(Algorithm::EdDsa));
static ES256: LazyLock<Fixture> = LazyLock::new(|| fixture(Algorithm::Es256));

/// An EU DCC test vector (ES256, DE) and its signer certificate.
struct DccFixture {
    prefix: String,
    clock: i64,
    cert: DscCertificate,
    to_verify: Vec<u8>,
    signature: Vec<u8>,
}

fn dcc_fixture(file: &str, clock: i64) -> DccFixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/dcc")
        .join(file);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let prefix = v["PREFIX"].as_str().unwrap().to_owned();
    let cert =
        DscCertificate::parse(v["TESTCTX"]["CERTIFICATE"].as_str().unwrap().as_bytes()).unwrap();
    let (to_verify, signature) = signed_parts(&prefix[4..]);
    DccFixture {
        prefix,
        clock,
        cert,
        to_verify,
        signature,
    }
}

// DE/1: ES256, validation clock 2021-06-01T18:00:00Z.
static HC1_ES256: LazyLock<DccFixture> =
    LazyLock::new(|| dcc_fixture("DE/2DCode/raw/1.json", 1_622_570_400));

#[divan::bench_group(name = "1_bare_signature")]
mod bare_signature {
    use super::*;

    #[divan::bench]
    fn ed25519(b: Bencher) {
        let f = &*ED25519;
        b.bench(|| {
            assert!(f
                .public_key
                .verify(black_box(&f.to_verify), black_box(&f.signature)))
        });
    }

    #[divan::bench]
    fn es256(b: Bencher) {
        let f = &*ES256;
        b.bench(|| {
            assert!(f
                .public_key
                .verify(black_box(&f.to_verify), black_box(&f.signature)))
        });
    }

    #[divan::bench]
    fn hc1_es256(b: Bencher) {
        let f = &*HC1_ES256;
        b.bench(|| {
            assert!(f
                .cert
                .public_key
                .verify(black_box(&f.to_verify), black_box(&f.signature)))
        });
    }
}

#[divan::bench_group(name = "2_pipeline_string_to_verdict")]
mod pipeline {
    use super::*;

    fn run(b: Bencher, f: &Fixture) {
        let mut verifier = Verifier::new(f.verifier_store.clone());
        b.bench_local(|| verifier.verify(black_box(&f.code), NOW + 10).unwrap());
    }

    #[divan::bench]
    fn ed25519(b: Bencher) {
        run(b, &ED25519);
    }

    #[divan::bench]
    fn es256(b: Bencher) {
        run(b, &ES256);
    }

    #[divan::bench]
    fn hc1_es256(b: Bencher) {
        let f = &*HC1_ES256;
        let mut store = TrustStore::new();
        store.add_dcc_certificate(&f.cert);
        let mut verifier = Verifier::new(store);
        b.bench_local(|| verifier.verify(black_box(&f.prefix), f.clock).unwrap());
    }
}

#[divan::bench_group(name = "3_issue_sign_and_encode")]
mod issuance {
    use super::*;

    #[divan::bench(args = [Algorithm::EdDsa, Algorithm::Es256])]
    fn issue(b: Bencher, alg: Algorithm) {
        let rng = SystemRandom::new();
        let mut issuer = CodeIssuer::new(issuer_key(alg));
        let req = request();
        b.bench_local(|| issuer.issue(black_box(&req), NOW, [7; 16], &rng).unwrap());
    }
}

#[divan::bench_group(name = "4_qr")]
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

    #[divan::bench(sample_count = 30)]
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
