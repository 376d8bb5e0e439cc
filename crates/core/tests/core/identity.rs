//! Identity documents: GB 11643 resident IDs, passports, permits.

use healthcode_core::identity::{resident_id_check_character, IdentityError, PermitKind, Sex};
use healthcode_core::{CodeKind, Identity, Passport, ResidentId, TravelPermit};
use time::macros::date;

/// Builds a valid ID from its first 17 digits.
fn with_check(first17: &str) -> String {
    let bytes: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!("{first17}{}", resident_id_check_character(&bytes))
}

#[test]
fn check_character_follows_gb_11643() {
    // Weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2; sum mod 11 indexes "10X98765432".
    let first17 = "22010219900307123";
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(weights)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let expected = "10X98765432".chars().nth((sum % 11) as usize).unwrap();
    assert_eq!(with_check(first17), format!("{first17}{expected}"));
    let id = ResidentId::parse(&with_check(first17)).unwrap();
    assert_eq!(id.province_code(), "22");
    assert_eq!(id.birth_date(), date!(1990 - 03 - 07));
    assert_eq!(id.sex(), Sex::Male);
    // Every possible check character is reachable, X included.
    let mut seen = std::collections::BTreeSet::new();
    for serial in 0..200 {
        seen.insert(
            with_check(&format!("1101051949123{serial:03}0"))
                .pop()
                .unwrap(),
        );
    }
    assert_eq!(seen.len(), 11);
}

#[test]
fn wrong_ids_are_refused_with_the_reason() {
    let good = with_check("22010219900307123");
    let mut wrong_check = good.clone();
    let last = wrong_check.pop().unwrap();
    wrong_check.push(if last == '0' { '1' } else { '0' });
    assert!(matches!(
        ResidentId::parse(&wrong_check),
        Err(IdentityError::CheckDigit { .. })
    ));
    assert_eq!(
        ResidentId::parse("2201021990030712"),
        Err(IdentityError::ResidentIdLength(16))
    );
    assert_eq!(
        ResidentId::parse("22010219900307123A"),
        Err(IdentityError::ResidentIdCharacters)
    );
    assert_eq!(
        ResidentId::parse("2201021990030712３4"),
        Err(IdentityError::ResidentIdCharacters)
    );
    assert!(
        matches!(ResidentId::parse(&with_check("99010219900307123")), Err(IdentityError::UnknownProvince(p)) if p == "99")
    );
    assert!(matches!(
        ResidentId::parse(&with_check("20010219900307123")),
        Err(IdentityError::UnknownProvince(_))
    ));
    assert!(matches!(
        ResidentId::parse(&with_check("22010219900230123")),
        Err(IdentityError::InvalidBirthDate(_))
    ));
    assert!(matches!(
        ResidentId::parse(&with_check("22010218991231123")),
        Err(IdentityError::ImplausibleBirthDate(_))
    ));
    let future = with_check("22010220300101123");
    assert!(ResidentId::parse(&future).is_ok());
    assert!(matches!(
        ResidentId::parse_as_of(&future, date!(2022 - 05 - 01)),
        Err(IdentityError::ImplausibleBirthDate(_))
    ));
    let message = ResidentId::parse(&wrong_check).unwrap_err().to_string();
    assert!(
        message.contains("check character") && message.contains("校验码"),
        "{message}"
    );
}

#[test]
fn every_province_code_in_the_standard_is_accepted() {
    let valid = [
        11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51,
        52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
    ];
    for code in 10..100 {
        let id = with_check(&format!("{code}010219900307123"));
        assert_eq!(
            ResidentId::parse(&id).is_ok(),
            valid.contains(&code),
            "{code}"
        );
    }
}

#[test]
fn lower_case_x_and_spaces_are_normalised_and_serde_checks() {
    let id = ResidentId::parse(" 11010519491231002x ").unwrap();
    assert_eq!(id.as_str(), "11010519491231002X");
    let json = serde_json::to_string(&Identity::Resident { id }).unwrap();
    assert_eq!(json, r#"{"type":"resident","id":"11010519491231002X"}"#);
    let back: Identity = serde_json::from_str(&json).unwrap();
    assert_eq!(back.code_kind(), CodeKind::Resident);
    assert_eq!(back.masked(), "1101**********002X");
    assert!(
        serde_json::from_str::<Identity>(r#"{"type":"resident","id":"110105194912310021"}"#)
            .is_err()
    );
}

#[test]
fn travellers_use_passports_and_permits() {
    let passport = Passport::new("gbr", "123456789").unwrap();
    assert_eq!(passport.country(), "GBR");
    assert_eq!(
        Identity::Passport(passport).code_kind(),
        CodeKind::Traveller
    );
    assert!(matches!(
        Passport::new("UK", "123456789"),
        Err(IdentityError::PassportCountry(_))
    ));
    assert!(matches!(
        Passport::new("GBR", "12-34"),
        Err(IdentityError::PassportNumber(_))
    ));
    let hk = TravelPermit::new(PermitKind::HongKongMacaoHomeReturn, "h12345678").unwrap();
    assert_eq!(hk.number(), "H12345678");
    assert!(TravelPermit::new(PermitKind::HongKongMacaoHomeReturn, "M1234567890").is_ok());
    assert!(TravelPermit::new(PermitKind::HongKongMacaoHomeReturn, "X12345678").is_err());
    assert!(TravelPermit::new(PermitKind::TaiwanCompatriot, "12345678").is_ok());
    assert!(TravelPermit::new(PermitKind::TaiwanCompatriot, "1234567").is_err());
    let permit: Identity =
        serde_json::from_str(r#"{"type":"permit","kind":"taiwan_compatriot","number":"87654321"}"#)
            .unwrap();
    assert_eq!(permit.code_kind(), CodeKind::Traveller);
    assert!(serde_json::from_str::<Identity>(
        r#"{"type":"passport","country":"GB","number":"123456789"}"#
    )
    .is_err());
}
