//! Sealed check-ins: the privacy-preserving venue mode, in the manner of
//! CrowdNotifier / Corona-Warn-App event check-in.
//!
//! A sealed check-in is readable only with **both** the health authority's
//! secret and the venue's secret for the hour it falls in:
//!
//! ```text
//! e        = fresh X25519 secret (one per check-in), E = e·G
//! A        = authority public key,   a = its secret
//! V_h      = venue public key for hour h, v_h = its secret
//!            v_h = HKDF(venue seed, venue id ‖ h): one independent key per hour
//! k        = HKDF-SHA256(e·A ‖ e·V_h, info = E ‖ A ‖ V_h ‖ venue ‖ h)
//! sealed   = E, ChaCha20-Poly1305_k(nonce 0, aad = venue ‖ h, plaintext)
//! open     = k from a·E ‖ v_h·E
//! ```
//!
//! The authority alone lacks `v_h`; the venue alone lacks `a`; revealing
//! `v_h` for one hour opens that hour and no other (the hour secrets are
//! independent outputs of HKDF, so one says nothing about the next).
//! Randomness is a parameter: the caller draws `e`.

use curve25519_dalek::montgomery::MontgomeryPoint;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use ring::hkdf::{Salt, HKDF_SHA256};
use thiserror::Error;

/// An X25519 key (public or secret), 32 bytes.
pub type Key32 = [u8; 32];

/// Seconds in one hour slot.
pub const HOUR: i64 = 3600;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SealError {
    #[error("a public key is not usable (a low-order point)")]
    WeakKey,
    #[error("the sealed check-in does not open with these keys, or was altered")]
    DoesNotOpen,
    #[error("key derivation failed")]
    Derivation,
}

/// The public key of an X25519 secret.
pub fn public_key(secret: &Key32) -> Key32 {
    MontgomeryPoint::mul_base_clamped(*secret).to_bytes()
}

fn dh(secret: &Key32, public: &Key32) -> Result<Key32, SealError> {
    let shared = MontgomeryPoint(*public).mul_clamped(*secret).to_bytes();
    if shared == [0u8; 32] {
        return Err(SealError::WeakKey);
    }
    Ok(shared)
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Result<Key32, SealError> {
    let mut out = [0u8; 32];
    Salt::new(HKDF_SHA256, salt)
        .extract(ikm)
        .expand(info, HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| SealError::Derivation)?;
    Ok(out)
}

/// The venue's secret for hour slot `hour` (Unix seconds / 3600), from the
/// venue's seed. This is what a venue reveals for the hours that matter.
pub fn venue_hour_secret(seed: &Key32, venue: &str, hour: i64) -> Result<Key32, SealError> {
    hkdf(
        b"healthcode venue hour key v1",
        seed,
        &[venue.as_bytes(), b"\x00", &hour.to_be_bytes()],
    )
}

/// The venue's public keys for `count` hour slots from `first_hour`,
/// concatenated (32 bytes each): published so check-ins can be sealed
/// without the seed.
pub fn venue_hour_publics(
    seed: &Key32,
    venue: &str,
    first_hour: i64,
    count: u32,
) -> Result<Vec<u8>, SealError> {
    let mut out = Vec::with_capacity(count as usize * 32);
    for i in 0..i64::from(count) {
        out.extend_from_slice(&public_key(&venue_hour_secret(
            seed,
            venue,
            first_hour + i,
        )?));
    }
    Ok(out)
}

/// The hour slot containing a Unix time.
pub fn hour_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(HOUR)
}

fn context<'a>(venue: &'a str, hour: &'a [u8; 8]) -> [&'a [u8]; 3] {
    [venue.as_bytes(), b"\x00", hour]
}

fn key(
    ephemeral_public: &Key32,
    authority_public: &Key32,
    venue_public: &Key32,
    shared_authority: &Key32,
    shared_venue: &Key32,
    venue: &str,
    hour: i64,
) -> Result<LessSafeKey, SealError> {
    let mut ikm = [0u8; 64];
    ikm[..32].copy_from_slice(shared_authority);
    ikm[32..].copy_from_slice(shared_venue);
    let hour = hour.to_be_bytes();
    let [v, sep, h] = context(venue, &hour);
    let k = hkdf(
        b"healthcode sealed check-in v1",
        &ikm,
        &[ephemeral_public, authority_public, venue_public, v, sep, h],
    )?;
    UnboundKey::new(&CHACHA20_POLY1305, &k)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::Derivation)
}

fn aad(venue: &str, hour: i64) -> Vec<u8> {
    let mut a = Vec::with_capacity(venue.len() + 9);
    a.extend_from_slice(venue.as_bytes());
    a.push(0);
    a.extend_from_slice(&hour.to_be_bytes());
    a
}

/// One sealed check-in: the ephemeral public key and the ciphertext (with
/// its 16-byte tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ephemeral: Key32,
    pub ciphertext: Vec<u8>,
}

/// Seals `plaintext` for venue `venue`, hour slot `hour`, so that only the
/// holders of the authority's secret and the venue's hour secret together
/// can open it. `ephemeral_secret` must be fresh random bytes.
pub fn seal(
    plaintext: &[u8],
    authority_public: &Key32,
    venue_hour_public: &Key32,
    venue: &str,
    hour: i64,
    ephemeral_secret: &Key32,
) -> Result<Sealed, SealError> {
    let ephemeral = public_key(ephemeral_secret);
    let k = key(
        &ephemeral,
        authority_public,
        venue_hour_public,
        &dh(ephemeral_secret, authority_public)?,
        &dh(ephemeral_secret, venue_hour_public)?,
        venue,
        hour,
    )?;
    let mut buf = plaintext.to_vec();
    // The key is unique to this ephemeral secret: a zero nonce is safe.
    k.seal_in_place_append_tag(
        Nonce::assume_unique_for_key([0; 12]),
        Aad::from(aad(venue, hour)),
        &mut buf,
    )
    .map_err(|_| SealError::Derivation)?;
    Ok(Sealed {
        ephemeral,
        ciphertext: buf,
    })
}

/// Opens a sealed check-in with the authority's secret and the venue's
/// secret for its hour.
pub fn open(
    sealed: &Sealed,
    authority_secret: &Key32,
    venue_hour_secret: &Key32,
    venue: &str,
    hour: i64,
) -> Result<Vec<u8>, SealError> {
    let k = key(
        &sealed.ephemeral,
        &public_key(authority_secret),
        &public_key(venue_hour_secret),
        &dh(authority_secret, &sealed.ephemeral)?,
        &dh(venue_hour_secret, &sealed.ephemeral)?,
        venue,
        hour,
    )?;
    let mut buf = sealed.ciphertext.clone();
    let plain = k
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(aad(venue, hour)),
            &mut buf,
        )
        .map_err(|_| SealError::DoesNotOpen)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn k(n: u8) -> Key32 {
        [n; 32]
    }

    #[test]
    fn both_secrets_open_exactly_their_hour() {
        let authority = k(1);
        let seed = k(2);
        let hour = 458_000;
        let v_h = venue_hour_secret(&seed, "venue-1", hour).unwrap();
        let publics = venue_hour_publics(&seed, "venue-1", hour - 1, 3).unwrap();
        assert_eq!(&publics[32..64], &public_key(&v_h));
        let sealed = seal(
            b"{\"p\":\"x\"}",
            &public_key(&authority),
            &public_key(&v_h),
            "venue-1",
            hour,
            &k(3),
        )
        .unwrap();
        assert_eq!(
            open(&sealed, &authority, &v_h, "venue-1", hour).unwrap(),
            b"{\"p\":\"x\"}"
        );
        // Authority with a wrong venue key, venue with a wrong authority key,
        // another hour's key, another venue: nothing opens.
        let other_hour = venue_hour_secret(&seed, "venue-1", hour + 1).unwrap();
        assert_ne!(other_hour, v_h);
        for (a, v, venue, h) in [
            (authority, k(9), "venue-1", hour),
            (k(9), v_h, "venue-1", hour),
            (authority, other_hour, "venue-1", hour),
            (authority, v_h, "venue-2", hour),
            (authority, v_h, "venue-1", hour + 1),
        ] {
            assert_eq!(open(&sealed, &a, &v, venue, h), Err(SealError::DoesNotOpen));
        }
        let mut altered = sealed.clone();
        altered.ciphertext[0] ^= 1;
        assert!(open(&altered, &authority, &v_h, "venue-1", hour).is_err());
        // A low-order public key is refused rather than sealing to nothing.
        assert_eq!(
            seal(b"x", &[0; 32], &public_key(&v_h), "v", hour, &k(3)),
            Err(SealError::WeakKey)
        );
        assert_eq!(hour_of(-1), -1);
        assert_eq!(hour_of(3600), 1);
    }
}
