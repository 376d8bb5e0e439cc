//! A sample code with everything needed to verify it, for benchmarks and the
//! `healthcode bench` self-measurement: a DEMO issuer key (fixed seed for
//! Ed25519, fresh for ES256), a trust list holding it, one issued code, and
//! the exact bytes its signature covers, so that a bare signature check can
//! be timed against the full pipeline.

use ring::rand::SecureRandom;
use thiserror::Error;
use time::OffsetDateTime;

use crate::base45;
use crate::compress::Inflater;
use crate::cose::{self, Sign1};
use crate::issue::{CodeIssuer, CodeRequest, IssueError};
use crate::keyfile::IssuerKey;
use crate::keys::{Algorithm, KeyError, PublicKey, SigningKey};
use crate::trust::{TrustError, TrustList, TrustStore};
use crate::verify::split_prefix;
use healthcode_core::{CodeKind, Colour};

#[derive(Debug, Error)]
pub enum SampleError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error("the sample code does not decode: {0}")]
    Decode(String),
}

pub struct SampleCode {
    pub code: String,
    /// Unix seconds at which the code was issued (valid for 5 minutes).
    pub issued_at: i64,
    pub public_key: PublicKey,
    pub store: TrustStore,
    /// The COSE `Sig_structure` the signature covers.
    pub signed_bytes: Vec<u8>,
    pub signature: Vec<u8>,
    /// The issuer, ready to issue more codes like this one.
    pub issuer: CodeIssuer,
    pub request: CodeRequest,
}

impl SampleCode {
    /// A verifier trusting the sample's (DEMO) key and accepting DEMO codes.
    pub fn verifier(&self) -> crate::Verifier {
        crate::Verifier::with_options(
            self.store.clone(),
            crate::VerifyOptions {
                accept_demo: true,
                ..Default::default()
            },
        )
    }
}

/// Builds a sample code issued at `now`.
pub fn sample_code(
    alg: Algorithm,
    now: OffsetDateTime,
    rng: &dyn SecureRandom,
) -> Result<SampleCode, SampleError> {
    let signing_key = match alg {
        Algorithm::EdDsa => SigningKey::ed25519_from_seed(&[1; 32])?,
        _ => SigningKey::generate(alg, rng)?,
    };
    let day = time::Duration::days(1);
    let key = IssuerKey {
        issuer: "DEMO-22".into(),
        signing_key,
        valid_from: now - day,
        valid_to: now + day,
        demo: true,
    };
    let public_key = key.signing_key.public_key().clone();
    let publisher = IssuerKey {
        issuer: "DEMO-PUBLISHER".into(),
        signing_key: SigningKey::ed25519_from_seed(&[2; 32])?,
        valid_from: now - day,
        valid_to: now + day,
        demo: true,
    };
    let list = TrustList::new(publisher.description(), now, vec![key.description()])
        .sign(&publisher.signing_key, rng)?
        .to_json();
    let mut store = TrustStore::new();
    store.add_trust_list(&TrustList::open(&list, None)?);
    let request = CodeRequest {
        colour: Colour::Green,
        full_name: "张三".into(),
        document_id: "220102199003071235".into(),
        kind: CodeKind::Resident,
        ttl_seconds: 300,
        status_as_of: now.unix_timestamp() - 3600,
    };
    let mut issuer = CodeIssuer::new(key);
    let code = issuer
        .issue(&request, now.unix_timestamp(), [7; 16], rng)?
        .text;
    let (signed_bytes, signature) = signed_parts(&code)?;
    Ok(SampleCode {
        code,
        issued_at: now.unix_timestamp(),
        public_key,
        store,
        signed_bytes,
        signature,
        issuer,
        request,
    })
}

/// The `Sig_structure` and signature inside a prefixed code (ours or HC1).
pub fn signed_parts(code: &str) -> Result<(Vec<u8>, Vec<u8>), SampleError> {
    let decode = |e: String| SampleError::Decode(e);
    let (_, body) = split_prefix(code).ok_or_else(|| decode("unknown prefix".into()))?;
    let packed = base45::decode(body).map_err(|e| decode(e.to_string()))?;
    let mut cose_bytes = Vec::new();
    Inflater::default()
        .inflate(&packed, &mut cose_bytes)
        .map_err(|e| decode(e.to_string()))?;
    let sign1 = Sign1::parse(&cose_bytes).map_err(|e| decode(e.to_string()))?;
    let mut signed = Vec::new();
    cose::sig_structure(sign1.protected, sign1.payload, &mut signed);
    Ok((signed, sign1.signature.to_vec()))
}
