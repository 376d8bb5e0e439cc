//! Issuing codes: claims → COSE_Sign1 → zlib → Base45 → prefixed string.

use healthcode_core::mask::{mask_id, mask_name};
use healthcode_core::{CodeKind, Colour};
use ring::rand::SecureRandom;
use thiserror::Error;

use crate::base45;
use crate::claims::{Claims, CODE_ID_LEN};
use crate::compress::Deflater;
use crate::cose;
use crate::keyfile::IssuerKey;
use crate::keys::KeyError;
use crate::verify::PREFIX;

/// Longest lifetime of a code: a printed code for people without a phone.
pub const MAX_TTL_SECONDS: i64 = 31 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IssueError {
    #[error("time to live must be between 1 second and 31 days, got {0} s")]
    Ttl(i64),
    #[error("key {kid} of issuer {issuer:?} is not valid at {now} (valid {from}..{to})")]
    KeyNotValid {
        issuer: String,
        kid: String,
        now: i64,
        from: i64,
        to: i64,
    },
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} is longer than 64 characters")]
    TooLong(&'static str),
    #[error("status-as-of time lies after the issue time")]
    StatusInFuture,
    #[error("the phone number on an itinerary card must be masked (at most 7 digits shown)")]
    NotMasked,
    #[error("signing failed: {0}")]
    Sign(#[from] KeyError),
}

/// What to put in a code. Name and document number are given in full and
/// masked here, so a full name can never reach a code by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    pub colour: Colour,
    pub full_name: String,
    pub document_id: String,
    pub kind: CodeKind,
    /// Seconds the code stays valid.
    pub ttl_seconds: i64,
    /// When the colour was determined (Unix seconds).
    pub status_as_of: i64,
}

/// A freshly issued code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    pub text: String,
    pub claims: Claims,
}

/// Signs codes with one issuer key, reusing its buffers and deflater.
#[derive(Debug)]
pub struct CodeIssuer {
    key: IssuerKey,
    protected: Vec<u8>,
    deflater: Deflater,
    payload: Vec<u8>,
    to_sign: Vec<u8>,
    cose: Vec<u8>,
    packed: Vec<u8>,
}

impl CodeIssuer {
    pub fn new(key: IssuerKey) -> CodeIssuer {
        let protected = cose::protected_header(
            key.signing_key.algorithm().cose_id(),
            &key.signing_key.public_key().kid(),
        );
        CodeIssuer {
            key,
            protected,
            deflater: Deflater::default(),
            payload: Vec::with_capacity(256),
            to_sign: Vec::with_capacity(512),
            cose: Vec::with_capacity(512),
            packed: Vec::with_capacity(512),
        }
    }

    pub fn key(&self) -> &IssuerKey {
        &self.key
    }

    /// Issues a code at `now` (Unix seconds) with the given pseudonymous
    /// code id. ECDSA signing draws its nonce from `rng`.
    pub fn issue(
        &mut self,
        request: &CodeRequest,
        now: i64,
        code_id: [u8; CODE_ID_LEN],
        rng: &dyn SecureRandom,
    ) -> Result<IssuedCode, IssueError> {
        if !(1..=MAX_TTL_SECONDS).contains(&request.ttl_seconds) {
            return Err(IssueError::Ttl(request.ttl_seconds));
        }
        for (what, value) in [("name", &request.full_name), ("ID", &request.document_id)] {
            if value.trim().is_empty() {
                return Err(IssueError::Empty(what));
            }
            if value.chars().count() > 64 {
                return Err(IssueError::TooLong(what));
            }
        }
        if request.status_as_of > now {
            return Err(IssueError::StatusInFuture);
        }
        let (from, to) = (
            self.key.valid_from.unix_timestamp(),
            self.key.valid_to.unix_timestamp(),
        );
        if now < from || now > to {
            return Err(IssueError::KeyNotValid {
                issuer: self.key.issuer.clone(),
                kid: hex::encode(self.key.signing_key.public_key().kid()),
                now,
                from,
                to,
            });
        }
        let claims = Claims {
            issuer: self.key.issuer.clone(),
            issued_at: now,
            expires_at: now + request.ttl_seconds,
            code_id,
            colour: request.colour,
            masked_name: mask_name(&request.full_name),
            masked_id: mask_id(&request.document_id),
            kind: request.kind,
            status_as_of: request.status_as_of,
            demo: self.key.demo,
        };
        self.seal(claims, rng)
    }

    /// Issues the QR of an itinerary card (行程卡): kind
    /// [`CodeKind::ItineraryCard`], the card's colour, no name, and the
    /// phone number as the card shows it, already masked (`138****8000`;
    /// refused if it shows more than 7 digits).
    #[allow(clippy::too_many_arguments)]
    pub fn issue_itinerary_card(
        &mut self,
        colour: Colour,
        masked_phone: &str,
        ttl_seconds: i64,
        status_as_of: i64,
        now: i64,
        code_id: [u8; CODE_ID_LEN],
        rng: &dyn SecureRandom,
    ) -> Result<IssuedCode, IssueError> {
        if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
            return Err(IssueError::Ttl(ttl_seconds));
        }
        let digits = masked_phone.chars().filter(char::is_ascii_digit).count();
        if masked_phone.trim().is_empty() || digits > 7 || !masked_phone.contains('*') {
            return Err(IssueError::NotMasked);
        }
        if masked_phone.chars().count() > 64 {
            return Err(IssueError::TooLong("phone"));
        }
        if status_as_of > now {
            return Err(IssueError::StatusInFuture);
        }
        self.check_key(now)?;
        let claims = Claims {
            issuer: self.key.issuer.clone(),
            issued_at: now,
            expires_at: now + ttl_seconds,
            code_id,
            colour,
            masked_name: String::new(),
            masked_id: masked_phone.to_owned(),
            kind: CodeKind::ItineraryCard,
            status_as_of,
            demo: self.key.demo,
        };
        self.seal(claims, rng)
    }

    fn check_key(&self, now: i64) -> Result<(), IssueError> {
        let (from, to) = (
            self.key.valid_from.unix_timestamp(),
            self.key.valid_to.unix_timestamp(),
        );
        if now < from || now > to {
            return Err(IssueError::KeyNotValid {
                issuer: self.key.issuer.clone(),
                kid: hex::encode(self.key.signing_key.public_key().kid()),
                now,
                from,
                to,
            });
        }
        Ok(())
    }

    fn seal(&mut self, claims: Claims, rng: &dyn SecureRandom) -> Result<IssuedCode, IssueError> {
        claims.encode(&mut self.payload);
        cose::sig_structure(&self.protected, &self.payload, &mut self.to_sign);
        let signature = self.key.signing_key.sign(&self.to_sign, rng)?;
        cose::encode_sign1(&self.protected, &self.payload, &signature, &mut self.cose);
        self.deflater.deflate(&self.cose, &mut self.packed);
        let mut text = String::with_capacity(PREFIX.len() + self.packed.len() * 3 / 2 + 2);
        text.push_str(PREFIX);
        base45::encode_into(&self.packed, &mut text);
        Ok(IssuedCode { text, claims })
    }
}
