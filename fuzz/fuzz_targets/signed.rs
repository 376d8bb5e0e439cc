#![no_main]
//! Arbitrary payloads, signed with a trusted key: reaches what `verify`
//! cannot, because a fuzzer never forges a signature. The first byte picks
//! the signer and wrapping, the rest is the CWT payload; the harness signs
//! it, packs it as an issuer would and verifies it at the fixed clock.
//!
//! - 0: Ed25519 issuer `cn-22`, `HCP1:` (our claims decoder, issuer, key
//!   validity, revocation and time checks)
//! - 1: ES256 issuer `cn-11`, `HCP1:`
//! - 2: the fuzz DSC, `HC1:` zlib (DCC payload, certificate validity, time,
//!   key usage)
//! - 3: the fuzz DSC, `HC1:` uncompressed COSE

use std::sync::{LazyLock, Mutex};

use healthcode_codec::claims::Claims;
use healthcode_codec::dcc::DccPayload;
use healthcode_codec::report::VerificationReport;
use healthcode_codec::verify::{Content, Reason};
use healthcode_codec::Verifier;
use healthcode_fuzz::{Fixture, Packer, Wrap, ED25519_ISSUER, ES256_ISSUER, NOW, NOW_HC1};
use libfuzzer_sys::fuzz_target;

static STATE: LazyLock<Mutex<(Fixture, Verifier, Packer)>> = LazyLock::new(|| {
    let fixture = Fixture::new();
    let verifier = fixture.verifier();
    Mutex::new((fixture, verifier, Packer::default()))
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let mut state = STATE.lock().expect("state lock");
    let (fixture, verifier, packer) = &mut *state;
    let (code, now, issuer) = match mode % 4 {
        0 => {
            let kid = fixture.ed25519.public_key().kid();
            let code = packer.pack(Wrap::HealthCode, &fixture.ed25519, &kid, payload);
            (code, NOW, Some(ED25519_ISSUER))
        }
        1 => {
            let kid = fixture.es256.public_key().kid();
            let code = packer.pack(Wrap::HealthCode, &fixture.es256, &kid, payload);
            (code, NOW, Some(ES256_ISSUER))
        }
        m => {
            let wrap = if m == 2 {
                Wrap::Hc1
            } else {
                Wrap::Hc1Uncompressed
            };
            let code = packer.pack(wrap, &fixture.dsc_key, &fixture.dsc.kid, payload);
            (code, NOW_HC1, None)
        }
    };
    let result = verifier.verify(&code, now);
    let _ = serde_json::to_string(&VerificationReport::from_result(&result));
    match &result {
        Ok(ok) => {
            assert!(ok.issued_at <= now && now <= ok.expires_at);
            match (&ok.content, issuer) {
                (Content::HealthCode(claims), Some(issuer)) => {
                    assert_eq!(claims.issuer, issuer);
                    assert_eq!(Claims::decode(payload).as_ref(), Ok(claims));
                }
                (Content::Dcc(dcc), None) => {
                    let t = dcc.cert_type.expect("an accepted DCC has a type");
                    assert!(fixture.dsc.usage.allows(t));
                    assert!(DccPayload::decode(payload).is_ok());
                }
                (content, _) => panic!("accepted with the wrong content: {content:?}"),
            }
        }
        Err(r) => {
            // The harness packs correctly: only the payload can be refused.
            assert!(
                r.reason.follows_signature() || r.reason == Reason::BadClaims,
                "a correctly signed code refused for {r}"
            );
            assert_eq!(r.authentic.is_none(), r.reason == Reason::BadClaims, "{r}");
        }
    }
});
