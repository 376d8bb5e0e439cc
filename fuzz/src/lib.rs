//! Fixtures shared by the fuzz targets and the seed generator: one fixed
//! trust store, fixed clocks, and a way to sign arbitrary payloads with the
//! trusted keys so that a fuzzer can reach the checks behind the signature.
//!
//! Every key here is public test material: the Ed25519 seed is the one the
//! golden code uses, the ES256 issuer key and the fuzz DSC (with its key)
//! were generated for this harness, and the two EU DCC signer certificates
//! come from `testdata/dcc` (Apache-2.0, see `testdata/dcc/NOTICE`).
#![forbid(unsafe_code)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use healthcode_codec::compress::{Deflater, Inflater};
use healthcode_codec::dcc::{DscCertificate, DCC_PREFIX};
use healthcode_codec::trust::{KeyRole, TrustedKey};
use healthcode_codec::verify::{split_prefix, Format};
use healthcode_codec::{
    base45, cose, Algorithm, SigningKey, TrustStore, Verifier, VerifyOptions, PREFIX,
};
use ring::rand::SystemRandom;

/// 2026-11-22T08:01:00Z: one minute after the golden code was issued
/// (`testdata/golden/healthcode-v1.txt` verifies at this instant).
pub const NOW: i64 = 1_795_334_460;
/// 2021-05-30T14:00:00Z: inside the validity of the NL vaccination vectors,
/// the common RSA vector and the fuzz DSC, so `HC1:` seeds pass the time
/// checks and mutations reach key usage.
pub const NOW_HC1: i64 = 1_622_383_200;

/// The trusted Ed25519 issuer: seed of 32 bytes of 1, as the golden code.
pub const ED25519_SEED: [u8; 32] = [1; 32];
pub const ED25519_ISSUER: &str = "cn-22";
/// The trusted ES256 issuer.
pub const ES256_ISSUER: &str = "cn-11";
/// Validity of both issuer keys: 2026-01-01 to 2027-01-01.
pub const KEY_VALID_FROM: i64 = 1_767_225_600;
pub const KEY_VALID_TO: i64 = 1_798_761_600;
/// A code id the store holds as revoked.
pub const REVOKED_CODE_ID: [u8; 16] = [0xEE; 16];

const ES256_ISSUER_PKCS8: &str = include_str!("../fixtures/es256-issuer-key.pkcs8.b64");
const FUZZ_DSC_PKCS8: &str = include_str!("../fixtures/fuzz-dsc-key.pkcs8.b64");
/// Self-signed P-256 DSC, valid 2021-01-01 to 2031-01-01, extended key
/// usage test + vaccination (not recovery).
const FUZZ_DSC: &str = include_str!("../fixtures/fuzz-dsc.b64");
/// `testdata/dcc/NL/2DCode/raw/072-NL-vaccination.json`: P-256, usage
/// vaccination only.
const NL_VACCINATION_DSC: &str = include_str!("../fixtures/nl-vaccination.b64");
/// `testdata/dcc/common/2DCode/raw/CO1.json`: RSA (PS256).
const COMMON_RSA_DSC: &str = include_str!("../fixtures/common-co1-rsa.b64");

/// The keys behind the trust store. Building it panics on a broken fixture
/// file: that is a harness bug, not a finding.
pub struct Fixture {
    pub ed25519: SigningKey,
    pub es256: SigningKey,
    pub dsc_key: SigningKey,
    pub dsc: DscCertificate,
    pub dcc_certificates: Vec<DscCertificate>,
}

fn pkcs8(text: &str) -> Vec<u8> {
    B64.decode(text.trim()).expect("fixture PKCS#8 is base64")
}

impl Fixture {
    pub fn new() -> Fixture {
        let rng = SystemRandom::new();
        let ed25519 = SigningKey::ed25519_from_seed(&ED25519_SEED).expect("Ed25519 seed");
        let es256 = SigningKey::from_pkcs8(Algorithm::Es256, &pkcs8(ES256_ISSUER_PKCS8), &rng)
            .expect("ES256 fixture key");
        let dsc_key = SigningKey::from_pkcs8(Algorithm::Es256, &pkcs8(FUZZ_DSC_PKCS8), &rng)
            .expect("fuzz DSC key");
        let dsc = DscCertificate::parse(FUZZ_DSC.as_bytes()).expect("fuzz DSC");
        assert_eq!(
            &dsc.public_key,
            dsc_key.public_key(),
            "fuzz DSC and its key"
        );
        let dcc_certificates = [NL_VACCINATION_DSC, COMMON_RSA_DSC]
            .iter()
            .map(|text| DscCertificate::parse(text.as_bytes()).expect("DCC test certificate"))
            .collect();
        Fixture {
            ed25519,
            es256,
            dsc_key,
            dsc,
            dcc_certificates,
        }
    }

    /// Trusts both issuer keys, the fuzz DSC and the two DCC test
    /// certificates; revokes [`REVOKED_CODE_ID`].
    pub fn trust_store(&self) -> TrustStore {
        let mut store = TrustStore::new();
        for (key, issuer, demo) in [
            (&self.ed25519, ED25519_ISSUER, true),
            (&self.es256, ES256_ISSUER, false),
        ] {
            store.add_key(TrustedKey {
                public_key: key.public_key().clone(),
                valid_from: KEY_VALID_FROM,
                valid_to: KEY_VALID_TO,
                role: KeyRole::HealthCode {
                    issuer: issuer.to_owned(),
                    demo,
                },
            });
        }
        store.add_dcc_certificate(&self.dsc);
        for cert in &self.dcc_certificates {
            store.add_dcc_certificate(cert);
        }
        store.revoke(REVOKED_CODE_ID);
        store
    }

    /// A verifier that accepts the DEMO issuer, so its codes reach every check.
    pub fn verifier(&self) -> Verifier {
        Verifier::with_options(
            self.trust_store(),
            VerifyOptions {
                accept_demo: true,
                ..VerifyOptions::default()
            },
        )
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

/// The clock a code string is verified at: [`NOW_HC1`] for `HC1:` codes
/// (the DCC vectors are from 2021), [`NOW`] for everything else.
pub fn now_for(input: &str) -> i64 {
    if input.trim().starts_with(DCC_PREFIX) {
        NOW_HC1
    } else {
        NOW
    }
}

/// How a COSE_Sign1 is wrapped into a code string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    /// `HCP1:` + Base45 of zlib.
    HealthCode,
    /// `HC1:` + Base45 of zlib.
    Hc1,
    /// `HC1:` + Base45 of the bare COSE (the DCC rules allow it).
    Hc1Uncompressed,
}

/// Packs and unpacks code strings, reusing its zlib state (a fresh
/// deflater or inflater costs about 100 µs, more than a whole verification).
#[derive(Debug, Default)]
pub struct Packer {
    inflater: Inflater,
    deflater: Deflater,
}

impl Packer {
    /// Wraps an encoded COSE_Sign1 into a code string.
    pub fn wrap(&mut self, wrap: Wrap, cose_bytes: &[u8]) -> String {
        let mut packed = Vec::new();
        let body = match wrap {
            Wrap::HealthCode | Wrap::Hc1 => {
                self.deflater.deflate(cose_bytes, &mut packed);
                &packed[..]
            }
            Wrap::Hc1Uncompressed => cose_bytes,
        };
        let prefix = if wrap == Wrap::HealthCode {
            PREFIX
        } else {
            DCC_PREFIX
        };
        format!("{prefix}{}", base45::encode(body))
    }

    /// The COSE_Sign1 bytes inside a code string, and how they were
    /// wrapped; `None` unless every layer above COSE decodes.
    pub fn unwrap(&mut self, text: &str) -> Option<(Wrap, Vec<u8>)> {
        let (format, body) = split_prefix(text.trim())?;
        let packed = base45::decode(body).ok()?;
        let zlib = format == Format::HealthCode || looks_like_zlib(&packed);
        if !zlib {
            return Some((Wrap::Hc1Uncompressed, packed));
        }
        let mut cose_bytes = Vec::new();
        self.inflater.inflate(&packed, &mut cose_bytes).ok()?;
        let wrap = if format == Format::HealthCode {
            Wrap::HealthCode
        } else {
            Wrap::Hc1
        };
        Some((wrap, cose_bytes))
    }

    /// Signs `payload` with `key` (kid `kid`, alg and kid in the protected
    /// header) and wraps it into a code string, exactly as an issuer would.
    pub fn pack(&mut self, wrap: Wrap, key: &SigningKey, kid: &[u8], payload: &[u8]) -> String {
        let protected = cose::protected_header(key.algorithm().cose_id(), kid);
        let mut to_sign = Vec::new();
        cose::sig_structure(&protected, payload, &mut to_sign);
        let signature = key
            .sign(&to_sign, &SystemRandom::new())
            .expect("signing with a fixture key");
        let mut message = Vec::new();
        cose::encode_sign1(&protected, payload, &signature, &mut message);
        self.wrap(wrap, &message)
    }
}

/// The verifier's test for zlib (CMF/FLG header check), for `HC1:` bodies.
fn looks_like_zlib(data: &[u8]) -> bool {
    matches!(data, [cmf, flg, ..] if cmf & 0x0F == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}
