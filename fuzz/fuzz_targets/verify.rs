#![no_main]
//! Any input → the offline verifier, exactly as a checkpoint calls it: the
//! bytes as (lossy) UTF-8, both prefixes reachable, a fixed trust store and
//! a fixed clock ([`healthcode_fuzz::now_for`]). Besides "never panics,
//! never hangs", the verdict must be consistent with itself (see `check`).
//!
//! A custom mutator makes the run reach past zlib: byte mutations of Base45
//! text almost never survive the zlib checksum, so half of the mutations
//! unpack a code, mutate its COSE_Sign1 bytes and pack it again.

use std::sync::{LazyLock, Mutex};

use healthcode_codec::report::VerificationReport;
use healthcode_codec::verify::{Authentic, Reason, Rejection};
use healthcode_codec::Verifier;
use healthcode_fuzz::{now_for, Fixture, Packer};
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

/// One verifier for the whole run, as at a checkpoint: its buffers and
/// inflater are reused from one input to the next.
static VERIFIER: LazyLock<Mutex<Verifier>> =
    LazyLock::new(|| Mutex::new(Fixture::new().verifier()));

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let now = now_for(&input);
    let mut verifier = VERIFIER.lock().expect("verifier lock");
    let result = verifier.verify(&input, now);
    check(&result, now);
    // What `healthcode verify --json` prints: formats every decoded field.
    let report = VerificationReport::from_result(&result);
    let json = serde_json::to_string(&report).expect("report serializes");
    assert_eq!(report.is_valid(), result.is_ok(), "{json}");
    let authentic = match &result {
        Ok(_) => true,
        Err(r) => r.authentic.is_some(),
    };
    if authentic {
        // Rare (the fuzzer cannot forge signatures): check that the reused
        // buffers carry no state from one call to the next.
        let again = verifier.verify(&input, now);
        assert_eq!(format!("{again:?}"), format!("{result:?}"));
    }
});

fn check(result: &Result<Authentic, Rejection>, now: i64) {
    match result {
        Ok(code) => {
            assert!(
                code.issued_at <= now && now <= code.expires_at,
                "accepted outside its validity: {code:?}"
            );
        }
        Err(r) => {
            assert_eq!(
                r.format.is_none(),
                r.reason == Reason::BadPrefix,
                "format {:?} with reason {}",
                r.format,
                r.reason
            );
            assert_eq!(
                r.authentic.is_some(),
                r.reason.follows_signature(),
                "authentic content attached to {r}"
            );
        }
    }
}

static PACKER: LazyLock<Mutex<Packer>> = LazyLock::new(|| Mutex::new(Packer::default()));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    // Half the time, mutate the text itself: prefixes, Base45, whitespace.
    if seed.is_multiple_of(2) {
        return fuzzer_mutate(data, size, max_size);
    }
    let mut packer = PACKER.lock().expect("packer lock");
    let unpacked = std::str::from_utf8(&data[..size])
        .ok()
        .and_then(|text| packer.unwrap(text));
    let Some((wrap, mut cose)) = unpacked else {
        return fuzzer_mutate(data, size, max_size);
    };
    let len = cose.len();
    cose.resize(len + len / 2 + 64, 0);
    let room = cose.len();
    let new_len = fuzzer_mutate(&mut cose, len, room);
    cose.truncate(new_len);
    let text = packer.wrap(wrap, &cose);
    if text.len() > max_size {
        return fuzzer_mutate(data, size, max_size);
    }
    data[..text.len()].copy_from_slice(text.as_bytes());
    text.len()
});
