//! Phone numbers, one-time codes, session tokens and passwords: only hashes
//! are stored, and comparisons are constant-time.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use healthcode_store::PhoneHash;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A phone number in canonical form: `+86` and 11 digits for mainland
/// mobiles, or `+` and 7–15 digits for others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, ApiError> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let invalid = || {
            ApiError::invalid(
                "phone",
                "手机号码格式有误：请输入11位手机号，或以 + 开头的国际号码。",
                "Invalid phone number: enter an 11-digit mainland mobile number, or an international number starting with +.",
            )
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let canonical = if let Some(rest) = compact.strip_prefix("+86") {
            mainland(rest).ok_or_else(invalid)?
        } else if let Some(rest) = compact.strip_prefix('+') {
            if !(digits(rest) && (7..=15).contains(&rest.len())) {
                return Err(invalid());
            }
            format!("+{rest}")
        } else {
            mainland(&compact).ok_or_else(invalid)?
        };
        Ok(Phone(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+86 138****5678`: enough to recognise, not to call.
    pub fn masked(&self) -> String {
        let s = &self.0;
        if let Some(local) = s.strip_prefix("+86") {
            if local.len() == 11 {
                return format!("{}****{}", &local[..3], &local[7..]);
            }
        }
        let keep = 4.min(s.len());
        format!("{}****{}", &s[..3.min(s.len())], &s[s.len() - keep..])
    }
}

fn mainland(s: &str) -> Option<String> {
    let ok = s.len() == 11
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.starts_with('1')
        && s.as_bytes()
            .get(1)
            .is_some_and(|b| (b'3'..=b'9').contains(b));
    ok.then(|| format!("+86{s}"))
}

/// Keyed hashing of phone numbers with the deployment's secret.
#[derive(Clone)]
pub struct PhoneHasher {
    key: hmac::Key,
}

impl std::fmt::Debug for PhoneHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneHasher(redacted)")
    }
}

impl PhoneHasher {
    pub fn new(secret: &[u8]) -> PhoneHasher {
        PhoneHasher {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    pub fn hash(&self, phone: &Phone) -> PhoneHash {
        let tag = hmac::sign(&self.key, phone.as_str().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        PhoneHash(out)
    }
}

/// A six-digit one-time code.
pub fn new_otp_code(rng: &SystemRandom) -> Result<String, ApiError> {
    let mut bytes = [0u8; 4];
    rng.fill(&mut bytes)
        .map_err(|_| ApiError::internal("rng failed"))?;
    Ok(format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000))
}

/// The stored form of a one-time code: bound to the phone it was sent to.
pub fn otp_hash(phone: &PhoneHash, code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"healthcode-otp-v1");
    h.update(phone.0);
    h.update(code.as_bytes());
    h.finalize().into()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new session token (sent to the client) and its hash (stored).
pub fn new_session_token(rng: &SystemRandom) -> Result<(String, [u8; 32]), ApiError> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes)
        .map_err(|_| ApiError::internal("rng failed"))?;
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn hash_password(password: &str, rng: &SystemRandom) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)
        .map_err(|_| ApiError::internal("rng failed"))?;
    let salt = SaltString::encode_b64(&salt).map_err(ApiError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn phones() {
        let p = Phone::parse("138 0013 8000").unwrap();
        assert_eq!(p.as_str(), "+8613800138000");
        assert_eq!(p.masked(), "138****8000");
        assert_eq!(Phone::parse("+86-13800138000").unwrap(), p);
        assert_eq!(
            Phone::parse("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        for bad in [
            "",
            "12345",
            "23800138000",
            "+86 1380013800",
            "+1",
            "abc",
            "12800138000",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_are_keyed_and_bound() {
        let p = Phone::parse("13800138000").unwrap();
        let a = PhoneHasher::new(b"secret-a").hash(&p);
        let b = PhoneHasher::new(b"secret-b").hash(&p);
        assert_ne!(a, b);
        assert_ne!(otp_hash(&a, "123456"), otp_hash(&b, "123456"));
        let rng = SystemRandom::new();
        let code = new_otp_code(&rng).unwrap();
        assert_eq!(code.len(), 6);
        let phc = hash_password("correct horse", &rng).unwrap();
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong", &phc));
        assert!(!verify_password("x", "not a hash"));
    }
}
