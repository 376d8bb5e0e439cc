//! The offline verifier: code string → verdict, for our codes and EU DCCs.
//!
//! A [`Verifier`] owns its buffers and inflater, so verifying a stream of
//! codes allocates almost nothing: the signature check dominates the cost.

use std::fmt;

use crate::base45;
use crate::claims::Claims;
use crate::compress::Inflater;
use crate::cose::{self, Sign1};
use crate::dcc::{DccPayload, DCC_PREFIX};
use crate::keys::Algorithm;
use crate::trust::{KeyRole, TrustStore, TrustedKey};

/// Prefix of our own codes: "Health Code Platform, format 1".
pub const PREFIX: &str = "HCP1:";

/// Which family a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    HealthCode,
    Hc1,
}

impl Format {
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::HealthCode => "healthcode",
            Format::Hc1 => "hc1",
        }
    }
}

/// Why a code was refused. The names are a stable contract (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    BadPrefix,
    BadBase45,
    BadCompression,
    BadCose,
    UnsupportedAlgorithm,
    UnknownKey,
    BadSignature,
    BadClaims,
    IssuerMismatch,
    KeyNotValid,
    Revoked,
    NotYetValid,
    Expired,
    WrongKeyUsage,
    DemoIssuer,
}

impl Reason {
    pub const ALL: [Reason; 15] = [
        Reason::BadPrefix,
        Reason::BadBase45,
        Reason::BadCompression,
        Reason::BadCose,
        Reason::UnsupportedAlgorithm,
        Reason::UnknownKey,
        Reason::BadSignature,
        Reason::BadClaims,
        Reason::IssuerMismatch,
        Reason::KeyNotValid,
        Reason::Revoked,
        Reason::NotYetValid,
        Reason::Expired,
        Reason::WrongKeyUsage,
        Reason::DemoIssuer,
    ];

    /// True for the refusals that are only reached once the signature has
    /// verified (the code is authentic but must not pass).
    pub const fn follows_signature(self) -> bool {
        matches!(
            self,
            Reason::IssuerMismatch
                | Reason::KeyNotValid
                | Reason::Revoked
                | Reason::NotYetValid
                | Reason::Expired
                | Reason::WrongKeyUsage
                | Reason::DemoIssuer
        )
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::BadPrefix => "bad_prefix",
            Reason::BadBase45 => "bad_base45",
            Reason::BadCompression => "bad_compression",
            Reason::BadCose => "bad_cose",
            Reason::UnsupportedAlgorithm => "unsupported_algorithm",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::BadClaims => "bad_claims",
            Reason::IssuerMismatch => "issuer_mismatch",
            Reason::KeyNotValid => "key_not_valid",
            Reason::Revoked => "revoked",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::WrongKeyUsage => "wrong_key_usage",
            Reason::DemoIssuer => "demo_issuer",
        }
    }

    /// What a guard or citizen reads, in English.
    pub const fn message_en(self) -> &'static str {
        match self {
            Reason::BadPrefix => {
                "Not a health code: the content does not start with a known prefix."
            }
            Reason::BadBase45 => "Damaged code: the text is not valid Base45.",
            Reason::BadCompression => "Damaged code: the content does not decompress.",
            Reason::BadCose => "Damaged code: the signed structure is malformed.",
            Reason::UnsupportedAlgorithm => {
                "The code uses a signature algorithm that is not accepted."
            }
            Reason::UnknownKey => "The code was signed by a key that is not in the trust list.",
            Reason::BadSignature => "Forged or altered code: the signature does not match.",
            Reason::BadClaims => "Damaged code: the signed content is incomplete or malformed.",
            Reason::IssuerMismatch => "Forged code: the signing key belongs to a different issuer.",
            Reason::KeyNotValid => "The signing key was not valid when the code was issued.",
            Reason::Revoked => "This code has been revoked.",
            Reason::NotYetValid => "This code is not valid yet (check the device clock).",
            Reason::Expired => "This code has expired: ask the holder to refresh it.",
            Reason::WrongKeyUsage => "The signing key may not sign this kind of certificate.",
            Reason::DemoIssuer => {
                "A DEMO code, signed with a demonstration key: not a real health code."
            }
        }
    }

    pub const fn message_zh(self) -> &'static str {
        match self {
            Reason::BadPrefix => "不是健康码：内容前缀无法识别。",
            Reason::BadBase45 => "码已损坏：不是有效的 Base45 文本。",
            Reason::BadCompression => "码已损坏：内容无法解压。",
            Reason::BadCose => "码已损坏：签名结构格式错误。",
            Reason::UnsupportedAlgorithm => "码使用了不被接受的签名算法。",
            Reason::UnknownKey => "签名密钥不在信任列表中。",
            Reason::BadSignature => "伪造或被篡改的码：签名不符。",
            Reason::BadClaims => "码已损坏：签名内容不完整或格式错误。",
            Reason::IssuerMismatch => "伪造的码：签名密钥属于其他签发机构。",
            Reason::KeyNotValid => "签发时签名密钥不在有效期内。",
            Reason::Revoked => "此码已被撤销。",
            Reason::NotYetValid => "此码尚未生效（请检查设备时间）。",
            Reason::Expired => "此码已过期：请持码人刷新。",
            Reason::WrongKeyUsage => "签名密钥无权签发此类证书。",
            Reason::DemoIssuer => "演示码：由演示密钥签发，并非真实健康码。",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated content of a code.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    HealthCode(Claims),
    Dcc(DccPayload),
}

/// A code whose signature checked out against a trusted key.
#[derive(Debug, Clone, PartialEq)]
pub struct Authentic {
    pub format: Format,
    pub kid: Vec<u8>,
    pub alg: Algorithm,
    /// Issuer named by the trusted key (our codes) or the DSC subject (DCC).
    pub issuer: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// Signed with a demonstration key, or claims to be a demo code.
    pub demo: bool,
    pub content: Content,
}

/// A refused code. `authentic` is present when the signature was good but a
/// later check failed (expired, revoked...), so the caller may show what the
/// code says; it is never filled from an unauthenticated code.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
    pub format: Option<Format>,
    pub authentic: Option<Box<Authentic>>,
}

impl Rejection {
    fn new(reason: Reason, format: Option<Format>, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
            format,
            authentic: None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// Verification settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    /// Seconds of clock difference tolerated on `iat` and `exp`.
    pub clock_skew: i64,
    /// Accept codes signed with DEMO keys (refused as `demo_issuer` otherwise).
    pub accept_demo: bool,
}

/// Verifies codes offline against a [`TrustStore`].
#[derive(Debug)]
pub struct Verifier {
    store: TrustStore,
    options: VerifyOptions,
    inflater: Inflater,
    base45_buf: Vec<u8>,
    cose_buf: Vec<u8>,
    sig_buf: Vec<u8>,
}

impl Verifier {
    pub fn new(store: TrustStore) -> Verifier {
        Verifier::with_options(store, VerifyOptions::default())
    }

    pub fn with_options(store: TrustStore, options: VerifyOptions) -> Verifier {
        Verifier {
            store,
            options,
            inflater: Inflater::default(),
            base45_buf: Vec::with_capacity(1024),
            cose_buf: Vec::with_capacity(2048),
            sig_buf: Vec::with_capacity(2048),
        }
    }

    pub fn store(&self) -> &TrustStore {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut TrustStore {
        &mut self.store
    }

    /// Verifies a code string at `now` (Unix seconds).
    pub fn verify(&mut self, input: &str, now: i64) -> Result<Authentic, Rejection> {
        let input = input.trim();
        let Some((format, body)) = split_prefix(input) else {
            let shown: String = input.chars().take(8).collect();
            return Err(Rejection::new(
                Reason::BadPrefix,
                None,
                format!("expected {PREFIX} or {DCC_PREFIX}, found {shown:?}"),
            ));
        };
        let reject = |reason: Reason, detail: String| Rejection::new(reason, Some(format), detail);

        base45::decode_into(body.as_bytes(), &mut self.base45_buf)
            .map_err(|e| reject(Reason::BadBase45, e.to_string()))?;
        let cose_bytes: &[u8] = if format == Format::Hc1 && !looks_like_zlib(&self.base45_buf) {
            // The DCC specification lets verifiers accept uncompressed COSE.
            &self.base45_buf
        } else {
            self.inflater
                .inflate(&self.base45_buf, &mut self.cose_buf)
                .map_err(|e| reject(Reason::BadCompression, e.to_string()))?;
            &self.cose_buf
        };
        let sign1 = Sign1::parse(cose_bytes).map_err(|e| reject(Reason::BadCose, e.to_string()))?;
        let alg_id = sign1
            .alg
            .ok_or_else(|| reject(Reason::BadCose, "no algorithm in the COSE header".into()))?;
        let alg = Algorithm::from_cose_id(alg_id).ok_or_else(|| {
            reject(
                Reason::UnsupportedAlgorithm,
                format!("COSE algorithm {alg_id}"),
            )
        })?;
        // EU DCCs may put alg and kid in the unprotected header; ours never do.
        if format == Format::HealthCode
            && (alg == Algorithm::Ps256 || sign1.kid_unprotected || sign1.alg_unprotected)
        {
            return Err(reject(
                Reason::BadCose,
                "our codes carry EdDSA or ES256 with alg and kid in the protected header".into(),
            ));
        }
        let kid = sign1
            .kid
            .ok_or_else(|| reject(Reason::UnknownKey, "the code names no key id".into()))?;
        let fits = |k: &&TrustedKey| {
            matches!(
                (&k.role, format),
                (KeyRole::HealthCode { .. }, Format::HealthCode)
                    | (KeyRole::Dcc { .. }, Format::Hc1)
            )
        };
        let candidates = self.store.candidates(kid);
        let count = candidates.iter().filter(fits).count();
        if count == 0 {
            return Err(reject(
                Reason::UnknownKey,
                format!("no trusted key with kid {}", hex_kid(kid)),
            ));
        }
        cose::sig_structure(sign1.protected, sign1.payload, &mut self.sig_buf);
        let signer = candidates
            .iter()
            .filter(fits)
            .find(|k| {
                k.public_key.algorithm() == alg
                    && k.public_key.verify(&self.sig_buf, sign1.signature)
            })
            .ok_or_else(|| {
                reject(
                    Reason::BadSignature,
                    format!(
                        "{alg} signature does not verify with any of {count} key(s) with kid {}",
                        hex_kid(kid)
                    ),
                )
            })?;

        let authentic = match (&signer.role, format) {
            (KeyRole::HealthCode { issuer, demo }, _) => {
                let claims = Claims::decode(sign1.payload)
                    .map_err(|e| reject(Reason::BadClaims, e.to_string()))?;
                Authentic {
                    format,
                    kid: kid.to_vec(),
                    alg,
                    issuer: issuer.clone(),
                    issued_at: claims.issued_at,
                    expires_at: claims.expires_at,
                    demo: *demo || claims.demo,
                    content: Content::HealthCode(claims),
                }
            }
            (KeyRole::Dcc { subject, .. }, _) => {
                let payload = DccPayload::decode(sign1.payload)
                    .map_err(|e| reject(Reason::BadClaims, e.to_string()))?;
                Authentic {
                    format,
                    kid: kid.to_vec(),
                    alg,
                    issuer: payload
                        .issuer_country
                        .clone()
                        .unwrap_or_else(|| subject.clone()),
                    issued_at: payload.issued_at,
                    expires_at: payload.expires_at,
                    demo: false,
                    content: Content::Dcc(payload),
                }
            }
        };
        match self.after_signature(&authentic, signer, now) {
            None => Ok(authentic),
            Some((reason, detail)) => Err(Rejection {
                reason,
                detail,
                format: Some(format),
                authentic: Some(Box::new(authentic)),
            }),
        }
    }

    /// Checks that need an authentic code: issuer, key validity, revocation,
    /// time and key usage, in that order.
    fn after_signature(
        &self,
        code: &Authentic,
        signer: &TrustedKey,
        now: i64,
    ) -> Option<(Reason, String)> {
        let skew = self.options.clock_skew;
        match (&code.content, &signer.role) {
            (Content::HealthCode(claims), KeyRole::HealthCode { issuer, .. }) => {
                if &claims.issuer != issuer {
                    return Some((
                        Reason::IssuerMismatch,
                        format!(
                            "code says issuer {:?}, key belongs to {issuer:?}",
                            claims.issuer
                        ),
                    ));
                }
                if claims.issued_at < signer.valid_from || claims.issued_at > signer.valid_to {
                    return Some((
                        Reason::KeyNotValid,
                        format!(
                            "issued at {} outside the key's validity {} to {}",
                            when(claims.issued_at),
                            when(signer.valid_from),
                            when(signer.valid_to)
                        ),
                    ));
                }
                if self.store.is_revoked(&claims.code_id) {
                    return Some((Reason::Revoked, format!("code id {}", claims.code_id_hex())));
                }
            }
            (Content::Dcc(_), KeyRole::Dcc { .. }) => {
                if code.issued_at < signer.valid_from || code.expires_at > signer.valid_to {
                    return Some((
                        Reason::KeyNotValid,
                        format!(
                            "certificate valid {} to {} does not cover issuance {} to expiry {}",
                            when(signer.valid_from),
                            when(signer.valid_to),
                            when(code.issued_at),
                            when(code.expires_at)
                        ),
                    ));
                }
            }
            _ => {
                return Some((
                    Reason::BadClaims,
                    "content does not fit the key's role".into(),
                ))
            }
        }
        if now.saturating_add(skew) < code.issued_at {
            return Some((
                Reason::NotYetValid,
                format!("issued at {}, now is {}", when(code.issued_at), when(now)),
            ));
        }
        if now.saturating_sub(skew) > code.expires_at {
            return Some((
                Reason::Expired,
                format!("expired at {}, now is {}", when(code.expires_at), when(now)),
            ));
        }
        if code.demo && !self.options.accept_demo {
            return Some((
                Reason::DemoIssuer,
                "signed with a DEMO key; pass accept_demo to accept demonstration codes".into(),
            ));
        }
        if let (Content::Dcc(payload), KeyRole::Dcc { usage, .. }) = (&code.content, &signer.role) {
            match payload.cert_type {
                Some(t) if usage.allows(t) => {}
                Some(t) => {
                    return Some((
                        Reason::WrongKeyUsage,
                        format!("the certificate may not sign {} certificates", t.as_str()),
                    ))
                }
                None => {
                    return Some((
                        Reason::WrongKeyUsage,
                        "the DCC holds no single vaccination, test or recovery entry".into(),
                    ))
                }
            }
        }
        None
    }
}

/// Recognises the prefix and returns the format and the Base45 body.
pub fn split_prefix(input: &str) -> Option<(Format, &str)> {
    if let Some(body) = input.strip_prefix(PREFIX) {
        Some((Format::HealthCode, body))
    } else {
        input
            .strip_prefix(DCC_PREFIX)
            .map(|body| (Format::Hc1, body))
    }
}

fn looks_like_zlib(data: &[u8]) -> bool {
    matches!(data, [cmf, flg, ..] if cmf & 0x0F == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// Unix seconds as RFC 3339, for messages.
fn when(unix: i64) -> String {
    crate::report::rfc3339(unix).unwrap_or_else(|| unix.to_string())
}

fn hex_kid(kid: &[u8]) -> String {
    let mut s = String::with_capacity(kid.len() * 2);
    for b in kid.iter().take(32) {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
