//! The conformance suite every [`Store`] backend must pass: one `pub async fn`
//! per behaviour, each taking the backend's name (for failure messages) and
//! a fresh, empty store.
//!
//! A backend's integration test expands them all into `#[tokio::test]`s with
//! [`conformance_tests!`](crate::conformance_tests):
//!
//! ```ignore
//! async fn fresh() -> Option<(SqliteStore, tempfile::TempDir)> { ... }
//! healthcode_store::conformance_tests!("sqlite", fresh);
//! ```
//!
//! `fresh` returns `None` to skip (after saying why, loudly); whatever else
//! it returns beside the store is kept alive until the test ends.
//!
//! Built only with the `conformance` feature. It is test code, so it panics
//! on failure like any test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod lifecycle;
pub use lifecycle::{
    erase_health_code_data, lifecycle_purges, schema_tables_are_classified, shutdown_records,
};

use std::collections::BTreeSet;

mod revocations;
pub use revocations::revocations_round_trip;

use healthcode_core::audit::verify_chain;
use healthcode_core::facts::{DiagnosisStatus, QuarantinePlace, RiskLevel, TestKind, TestOutcome};
use healthcode_core::identity::{resident_id_check_character, PermitKind};
use healthcode_core::{
    AuditEntry, AuditRecord, Bilingual, Colour, Digest, Event, EventId, Fact, Identity, OfficialId,
    Override, OverrideRequest, Passport, ResidentId, Source, TravelPermit,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

mod venues;
pub use venues::*;

use crate::{
    OfficialAccount, OtpChallenge, PersonId, PersonRecord, PhoneHash, Role, Session,
    SessionSubject, Store, StoreError,
};

/// Expands every test of the suite into a `#[tokio::test]` (multi-threaded,
/// so concurrent appends really run in parallel) for one backend.
///
/// `$backend` names the backend in failure messages; `$fresh` is a path to
/// an `async fn() -> Option<(S, G)>` giving a fresh, empty store and a guard
/// kept alive for the test (a temporary directory, say), or `None` to skip.
/// The calling crate needs `tokio` (with `macros` and `rt-multi-thread`).
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr, $fresh:path) => {
        $crate::conformance_tests!(@each $backend, $fresh, [
            engine_and_ping,
            people_round_trip,
            person_conflicts,
            concurrent_person_creation,
            events_in_order,
            event_conflicts_and_missing_person,
            otp_lifecycle,
            sessions_lifecycle,
            purge_expired,
            officials,
            outbox_order,
            concurrent_outbox,
            audit_chain_and_paging,
            audit_about,
            concurrent_audit_appends,
            timestamps_out_of_range,
            venues_round_trip,
            dependents,
            checkins_and_overlaps,
            checkins_once,
            sealed_checkins,
            checkin_retention_and_erasure,
            cell_stays,
            lifecycle_purges,
            shutdown_records,
            erase_health_code_data,
            revocations_round_trip,
            channels_lifecycle,
            trust_imports_refuse_rollback,
        ]);
    };
    (@each $backend:expr, $fresh:path, [$($test:ident),* $(,)?]) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                if let Some((store, _guard)) = $fresh().await {
                    $crate::conformance::$test($backend, store).await;
                }
            }
        )*
    };
}

mod federation;
pub use federation::*;

// ----------------------------------------------------------------------------
// Fixtures

/// A valid resident identity number (GB 11643) with the given serial.
pub fn resident_id(serial: u32) -> ResidentId {
    let first17 = format!("22010219900307{:03}", serial % 1000);
    let bytes: [u8; 17] = first17.as_bytes().try_into().unwrap();
    let check = resident_id_check_character(&bytes);
    ResidentId::parse(&format!("{first17}{check}")).unwrap()
}

/// A phone hash distinguishable by `n`.
pub fn phone(n: u8) -> PhoneHash {
    let mut bytes = [0xa5; 32];
    bytes[0] = n;
    bytes[31] = n.wrapping_mul(7);
    PhoneHash(bytes)
}

/// A person id from a number.
pub fn person_id(n: u8) -> PersonId {
    let mut bytes = [0x3c; 16];
    bytes[15] = n;
    PersonId::from_bytes(bytes)
}

/// A resident applying in `cn-22`, created at a Beijing-time instant with
/// nanoseconds (the store must keep the instant exactly).
pub fn person(n: u8) -> PersonRecord {
    PersonRecord {
        id: person_id(n),
        region: "cn-22".to_owned(),
        identity: Identity::Resident {
            id: resident_id(u32::from(n)),
        },
        full_name: format!("张三{n}"),
        phone: phone(n),
        channel: "web".to_owned(),
        created_at: datetime!(2022-04-01 08:30:00.123456789 +08:00) + Duration::minutes(n.into()),
    }
}

fn event(id: &str, at: OffsetDateTime, fact: Fact, source: Source) -> Event {
    Event::new(EventId::new(id).unwrap(), at, source, fact).unwrap()
}

fn lab_test(id: &str, at: OffsetDateTime) -> Event {
    event(
        id,
        at,
        Fact::TestResult {
            test: TestKind::Pcr,
            outcome: TestOutcome::Negative,
        },
        Source::Laboratory {
            lab: "吉林省疾控中心".to_owned(),
        },
    )
}

fn official(id: &str) -> OfficialId {
    OfficialId::new(id).unwrap()
}

fn an_override(at: OffsetDateTime) -> Event {
    let request = OverrideRequest {
        colour: Colour::Green,
        reason: Bilingual::new("复核阴性", "negative on review"),
        legal_basis: Bilingual::new(
            "传染病防治法第三十九条",
            "Law on Prevention and Treatment of Infectious Diseases, art. 39",
        ),
        requested_by: official("off-1"),
        until: Some(datetime!(2022-05-01 0:00 +08:00)),
    };
    let approved = Override::approve(request, official("off-2")).unwrap();
    event(
        "override-1",
        at,
        Fact::Override(approved),
        Source::HealthAuthority {
            official: official("off-1"),
        },
    )
}

fn record(n: usize, subject: &str, at: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        at,
        actor: format!("official:off-{}", n % 3),
        action: "event.recorded".to_owned(),
        subject: subject.to_owned(),
        details: format!("{{\"n\":{n},\"note\":\"审计 ✓\"}}"),
    }
}

fn session(token: u8, subject: SessionSubject, expires_at: OffsetDateTime) -> Session {
    Session {
        token_hash: [token; 32],
        subject,
        created_at: expires_at - Duration::hours(1),
        expires_at,
    }
}

fn otp(phone_n: u8, code: u8, expires_at: OffsetDateTime) -> OtpChallenge {
    OtpChallenge {
        phone: phone(phone_n),
        code_hash: [code; 32],
        created_at: expires_at - Duration::minutes(5),
        expires_at,
        failed_attempts: 0,
    }
}

/// Unwraps a store result, naming the backend when it is an error.
trait Must<T> {
    fn must(self, backend: &str) -> T;
}

impl<T> Must<T> for Result<T, StoreError> {
    #[track_caller]
    fn must(self, backend: &str) -> T {
        match self {
            Ok(value) => value,
            Err(e) => panic!("[{backend}] unexpected store error: {e:?}"),
        }
    }
}

fn assert_conflict<T: std::fmt::Debug>(backend: &str, what: &str, result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("[{backend}] {what}: expected Conflict, got {other:?}"),
    }
}

/// The JSON of an event: compares offsets too (`Event`'s `==` compares instants).
fn json(event: &Event) -> String {
    serde_json::to_string(event).unwrap()
}

// ----------------------------------------------------------------------------
// Tests

/// `engine` names the engine; `ping` answers.
pub async fn engine_and_ping<S: Store>(backend: &str, store: S) {
    assert!(
        matches!(store.engine(), "sqlite" | "postgres"),
        "[{backend}] engine() = {:?}",
        store.engine()
    );
    store
        .ping()
        .await
        .unwrap_or_else(|e| panic!("[{backend}] ping: {e}"));
}

/// People come back as stored, by id, by identity number and by phone, and
/// only in their own region. Passports and permits round-trip too.
pub async fn people_round_trip<S: Store>(backend: &str, store: S) {
    let mut people = vec![person(1)];
    let mut traveller = person(2);
    traveller.identity = Identity::Passport(Passport::new("GBR", "123456789").unwrap());
    traveller.full_name = "Jane O'Brien \"JB\"".to_owned();
    traveller.channel = "alipay".to_owned();
    traveller.created_at = datetime!(2022-04-01 00:00:00.000000001 -05:00);
    people.push(traveller);
    let mut permit = person(3);
    permit.identity = Identity::Permit(
        TravelPermit::new(PermitKind::HongKongMacaoHomeReturn, "H12345678").unwrap(),
    );
    people.push(permit);

    for p in &people {
        store
            .create_person(p)
            .await
            .unwrap_or_else(|e| panic!("[{backend}] create_person {}: {e}", p.id));
    }
    for p in &people {
        let by_id = store.person(&p.id).await.must(backend);
        assert_eq!(by_id.as_ref(), Some(p), "[{backend}] person by id");
        let by_identity = store
            .person_by_identity(&p.region, p.identity.number())
            .await
            .must(backend);
        assert_eq!(
            by_identity.as_ref(),
            Some(p),
            "[{backend}] person by identity number"
        );
        let by_phone = store
            .person_by_phone(&p.region, &p.phone)
            .await
            .must(backend);
        assert_eq!(by_phone.as_ref(), Some(p), "[{backend}] person by phone");

        assert_eq!(
            store
                .person_by_identity("cn-11", p.identity.number())
                .await
                .must(backend),
            None,
            "[{backend}] identity lookups stay in their region"
        );
        assert_eq!(
            store.person_by_phone("cn-11", &p.phone).await.must(backend),
            None,
            "[{backend}] phone lookups stay in their region"
        );
    }
    assert_eq!(
        store.person(&person_id(99)).await.must(backend),
        None,
        "[{backend}] unknown person"
    );
    assert_eq!(
        store
            .person_by_identity("cn-22", "unknown")
            .await
            .must(backend),
        None,
        "[{backend}] unknown identity number"
    );
    assert_eq!(
        store
            .person_by_phone("cn-22", &phone(99))
            .await
            .must(backend),
        None,
        "[{backend}] unknown phone"
    );
}

/// One person per id, per identity number in a region and per phone in a
/// region; the same number or phone in another region is someone else.
pub async fn person_conflicts<S: Store>(backend: &str, store: S) {
    let first = person(1);
    store.create_person(&first).await.must(backend);

    let mut same_id = person(2);
    same_id.id = first.id.clone();
    assert_conflict(
        backend,
        "same person id",
        store.create_person(&same_id).await,
    );

    let mut same_identity = person(3);
    same_identity.identity = first.identity.clone();
    assert_conflict(
        backend,
        "same identity number in the region",
        store.create_person(&same_identity).await,
    );

    let mut same_phone = person(4);
    same_phone.phone = first.phone;
    assert_conflict(
        backend,
        "same phone in the region",
        store.create_person(&same_phone).await,
    );

    // Nothing of the refused people was kept.
    for refused in [&same_id, &same_identity, &same_phone] {
        if refused.id != first.id {
            assert_eq!(
                store.person(&refused.id).await.must(backend),
                None,
                "[{backend}] refused person kept"
            );
        }
    }
    assert_eq!(
        store.person(&first.id).await.must(backend),
        Some(first.clone()),
        "[{backend}] first person"
    );

    // Other regions are separate.
    same_identity.region = "cn-11".to_owned();
    store
        .create_person(&same_identity)
        .await
        .unwrap_or_else(|e| panic!("[{backend}] same identity number in another region: {e}"));
    same_phone.region = "cn-31".to_owned();
    store
        .create_person(&same_phone)
        .await
        .unwrap_or_else(|e| panic!("[{backend}] same phone in another region: {e}"));
    assert_eq!(
        store
            .person_by_identity("cn-11", first.identity.number())
            .await
            .must(backend)
            .map(|p| p.id),
        Some(same_identity.id.clone()),
        "[{backend}] identity number in cn-11"
    );
}

/// Eight tasks create the same person at once: exactly one succeeds, the
/// others get Conflict (not a database error).
pub async fn concurrent_person_creation<S: Store>(backend: &str, store: S) {
    let mut tasks = Vec::new();
    for n in 0..8u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut p = person(10 + n);
            p.identity = person(1).identity;
            store.create_person(&p).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => {
                panic!("[{backend}] concurrent create_person: expected Ok or Conflict, got {e:?}")
            }
        }
    }
    assert_eq!(
        created, 1,
        "[{backend}] exactly one concurrent create_person succeeds"
    );
}

/// Events come back in time order (by instant, whatever their offsets),
/// then by id (bytewise), faithful to the offset they were given.
pub async fn events_in_order<S: Store>(backend: &str, store: S) {
    let p = person(1);
    store.create_person(&p).await.must(backend);
    let other = person(2);
    store.create_person(&other).await.must(backend);

    let noon = datetime!(2022-04-02 12:00:00.5 +08:00);
    let events = vec![
        // 03:00 UTC, later than 10:00 +08:00 (02:00 UTC) despite the digits.
        lab_test("late", datetime!(2022-04-02 03:00 UTC)),
        lab_test("early", datetime!(2022-04-02 10:00 +08:00)),
        // Same instant: ordered by id, bytewise ("B" < "a" < "b"), which a
        // locale collation would get wrong.
        lab_test("b", noon),
        lab_test("a", noon),
        lab_test("B", noon.to_offset(time::UtcOffset::UTC)),
        event(
            "temp-1",
            datetime!(2022-04-01 09:15:00.000000123 +08:00),
            Fact::Temperature {
                reading: healthcode_core::facts::Temperature::from_tenths(373).unwrap(),
            },
            Source::Checkpoint {
                site: "长春站".to_owned(),
            },
        ),
        event(
            "dx",
            datetime!(2022-04-03 08:00 +08:00),
            Fact::Diagnosis {
                status: DiagnosisStatus::Excluded,
            },
            Source::Clinic {
                facility: "吉大一院".to_owned(),
            },
        ),
        event(
            "q",
            datetime!(2022-04-03 09:00 +08:00),
            Fact::QuarantineStarted {
                place: QuarantinePlace::Home,
            },
            Source::HealthAuthority {
                official: official("off-1"),
            },
        ),
        event(
            "trip",
            datetime!(2022-03-30 18:00 +08:00),
            Fact::ItineraryRisk {
                level: RiskLevel::Medium,
                area: "长春市朝阳区".to_owned(),
            },
            Source::Carrier {
                carrier: "china-mobile".to_owned(),
            },
        ),
        an_override(datetime!(2022-04-04 10:00 +08:00)),
    ];
    for e in &events {
        store
            .append_event(&p.id, e)
            .await
            .unwrap_or_else(|err| panic!("[{backend}] append_event {}: {err}", e.id()));
    }
    store
        .append_event(&other.id, &lab_test("other", noon))
        .await
        .must(backend);

    let mut expected = events.clone();
    expected.sort_by(|a, b| (a.at(), a.id().as_str()).cmp(&(b.at(), b.id().as_str())));
    let got = store.events(&p.id).await.must(backend);
    let ids = |v: &[Event]| v.iter().map(|e| e.id().to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(&got),
        ids(&expected),
        "[{backend}] events in time order, then id"
    );
    assert_eq!(
        got.iter().map(json).collect::<Vec<_>>(),
        expected.iter().map(json).collect::<Vec<_>>(),
        "[{backend}] events stored faithfully (offsets included)"
    );
    assert_eq!(
        ids(&store.events(&other.id).await.must(backend)),
        ["other"],
        "[{backend}] events per person"
    );
    assert!(
        store.events(&person_id(99)).await.must(backend).is_empty(),
        "[{backend}] events of an unknown person"
    );
}

/// Event ids are unique per person; events need an existing person.
pub async fn event_conflicts_and_missing_person<S: Store>(backend: &str, store: S) {
    let (a, b) = (person(1), person(2));
    store.create_person(&a).await.must(backend);
    store.create_person(&b).await.must(backend);
    let at = datetime!(2022-04-02 10:00 +08:00);
    store
        .append_event(&a.id, &lab_test("e1", at))
        .await
        .must(backend);
    assert_conflict(
        backend,
        "same event id for the same person",
        store
            .append_event(&a.id, &lab_test("e1", at + Duration::hours(1)))
            .await,
    );
    store
        .append_event(&b.id, &lab_test("e1", at))
        .await
        .unwrap_or_else(|e| panic!("[{backend}] same event id for another person: {e}"));
    match store
        .append_event(&person_id(99), &lab_test("e2", at))
        .await
    {
        Err(StoreError::NotFound(_)) => {}
        other => {
            panic!("[{backend}] event for an unknown person: expected NotFound, got {other:?}")
        }
    }
    assert_eq!(
        store.events(&a.id).await.must(backend),
        vec![lab_test("e1", at)],
        "[{backend}] first event kept"
    );
}

/// One live challenge per phone: put, read, count failures, replace, delete.
pub async fn otp_lifecycle<S: Store>(backend: &str, store: S) {
    let t = datetime!(2022-04-01 08:05:00.000000007 +08:00);
    assert_eq!(
        store.otp(&phone(1)).await.must(backend),
        None,
        "[{backend}] no challenge yet"
    );
    match store.fail_otp(&phone(1)).await {
        Err(StoreError::NotFound(_)) => {}
        other => {
            panic!("[{backend}] fail_otp without a challenge: expected NotFound, got {other:?}")
        }
    }

    let first = otp(1, 0x11, t);
    store.put_otp(&first).await.must(backend);
    store.put_otp(&otp(2, 0x22, t)).await.must(backend);
    assert_eq!(
        store.otp(&phone(1)).await.must(backend),
        Some(first.clone()),
        "[{backend}] challenge read back"
    );

    assert_eq!(
        store.fail_otp(&phone(1)).await.must(backend),
        1,
        "[{backend}] first failure"
    );
    assert_eq!(
        store.fail_otp(&phone(1)).await.must(backend),
        2,
        "[{backend}] second failure"
    );
    assert_eq!(
        store
            .otp(&phone(1))
            .await
            .must(backend)
            .map(|c| c.failed_attempts),
        Some(2),
        "[{backend}] failures stored"
    );
    assert_eq!(
        store
            .otp(&phone(2))
            .await
            .must(backend)
            .map(|c| c.failed_attempts),
        Some(0),
        "[{backend}] failures are per phone"
    );

    // A new challenge replaces the old one, failures included.
    let second = otp(1, 0x33, t + Duration::minutes(1));
    store.put_otp(&second).await.must(backend);
    assert_eq!(
        store.otp(&phone(1)).await.must(backend),
        Some(second),
        "[{backend}] replaced challenge"
    );

    store.delete_otp(&phone(1)).await.must(backend);
    assert_eq!(
        store.otp(&phone(1)).await.must(backend),
        None,
        "[{backend}] deleted challenge"
    );
    store
        .delete_otp(&phone(1))
        .await
        .unwrap_or_else(|e| panic!("[{backend}] deleting a missing challenge: {e}"));
    assert!(
        store.otp(&phone(2)).await.must(backend).is_some(),
        "[{backend}] other phone's challenge kept"
    );
}

/// Sessions: created, read while live (`now < expires_at`), gone at expiry
/// and after deletion; token hashes are unique.
pub async fn sessions_lifecycle<S: Store>(backend: &str, store: S) {
    let expires = datetime!(2022-04-01 20:00:00.000000009 +08:00);
    let citizen = session(1, SessionSubject::Phone(phone(1)), expires);
    let officer = session(
        2,
        SessionSubject::Official("off-1".to_owned()),
        expires + Duration::hours(4),
    );
    store.create_session(&citizen).await.must(backend);
    store.create_session(&officer).await.must(backend);
    assert_conflict(
        backend,
        "same token hash",
        store
            .create_session(&session(
                1,
                SessionSubject::Official("x".to_owned()),
                expires,
            ))
            .await,
    );

    let before = expires - Duration::nanoseconds(1);
    assert_eq!(
        store.session(&[1; 32], before).await.must(backend),
        Some(citizen.clone()),
        "[{backend}] live phone session"
    );
    assert_eq!(
        store.session(&[2; 32], before).await.must(backend),
        Some(officer.clone()),
        "[{backend}] live official session"
    );
    assert_eq!(
        store.session(&[1; 32], expires).await.must(backend),
        None,
        "[{backend}] session at its expiry"
    );
    assert_eq!(
        store.session(&[2; 32], expires).await.must(backend),
        Some(officer),
        "[{backend}] later expiry"
    );
    assert_eq!(
        store.session(&[9; 32], before).await.must(backend),
        None,
        "[{backend}] unknown token"
    );

    store.delete_session(&[1; 32]).await.must(backend);
    assert_eq!(
        store.session(&[1; 32], before).await.must(backend),
        None,
        "[{backend}] deleted session"
    );
    store
        .delete_session(&[1; 32])
        .await
        .unwrap_or_else(|e| panic!("[{backend}] deleting a missing session: {e}"));
}

/// `purge_expired` removes expired sessions and challenges, counts them,
/// and keeps the live ones.
pub async fn purge_expired<S: Store>(backend: &str, store: S) {
    let now = datetime!(2022-04-01 12:00 +08:00);
    store
        .create_session(&session(
            1,
            SessionSubject::Phone(phone(1)),
            now - Duration::minutes(1),
        ))
        .await
        .must(backend);
    store
        .create_session(&session(2, SessionSubject::Phone(phone(2)), now))
        .await
        .must(backend);
    store
        .create_session(&session(
            3,
            SessionSubject::Official("off-1".into()),
            now + Duration::nanoseconds(1),
        ))
        .await
        .must(backend);
    store
        .put_otp(&otp(1, 1, now - Duration::seconds(1)))
        .await
        .must(backend);
    store
        .put_otp(&otp(2, 2, now + Duration::minutes(5)))
        .await
        .must(backend);

    assert_eq!(
        store.purge_expired(now).await.must(backend),
        3,
        "[{backend}] purged count"
    );
    assert_eq!(
        store
            .session(&[1; 32], now - Duration::hours(2))
            .await
            .must(backend),
        None,
        "[{backend}] expired session purged"
    );
    assert_eq!(
        store
            .session(&[2; 32], now - Duration::hours(2))
            .await
            .must(backend),
        None,
        "[{backend}] session expiring now purged"
    );
    assert!(
        store.session(&[3; 32], now).await.must(backend).is_some(),
        "[{backend}] live session kept"
    );
    assert_eq!(
        store.otp(&phone(1)).await.must(backend),
        None,
        "[{backend}] expired challenge purged"
    );
    assert!(
        store.otp(&phone(2)).await.must(backend).is_some(),
        "[{backend}] live challenge kept"
    );
    assert_eq!(
        store.purge_expired(now).await.must(backend),
        0,
        "[{backend}] nothing left to purge"
    );
}

/// Official accounts round-trip with their roles in order; usernames are unique.
pub async fn officials<S: Store>(backend: &str, store: S) {
    let admin = OfficialAccount {
        username: "wang.li".to_owned(),
        display_name: "王丽".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
            .to_owned(),
        roles: vec![Role::Reviewer, Role::HealthOfficial, Role::Administrator],
        created_at: datetime!(2022-03-01 09:00:00.25 +08:00),
    };
    let nobody = OfficialAccount {
        username: "temp".to_owned(),
        display_name: "Temp".to_owned(),
        password_hash: "x".to_owned(),
        roles: Vec::new(),
        created_at: datetime!(2022-03-01 09:00 UTC),
    };
    store.create_official(&admin).await.must(backend);
    store.create_official(&nobody).await.must(backend);
    assert_eq!(
        store.official("wang.li").await.must(backend),
        Some(admin.clone()),
        "[{backend}] official read back"
    );
    assert_eq!(
        store.official("temp").await.must(backend),
        Some(nobody),
        "[{backend}] official without roles"
    );
    assert_eq!(
        store.official("WANG.LI").await.must(backend),
        None,
        "[{backend}] usernames are exact"
    );
    assert_eq!(
        store.official("nobody").await.must(backend),
        None,
        "[{backend}] unknown official"
    );
    let mut again = admin;
    again.display_name = "another".to_owned();
    assert_conflict(
        backend,
        "same username",
        store.create_official(&again).await,
    );
}

/// The outbox numbers messages increasingly and lists the newest first.
pub async fn outbox_order<S: Store>(backend: &str, store: S) {
    assert!(
        store.outbox(10).await.must(backend).is_empty(),
        "[{backend}] empty outbox"
    );
    let t = datetime!(2022-04-01 08:00:00.000000001 +08:00);
    let mut sent = Vec::new();
    for n in 0..5 {
        let m = store
            .push_outbox(
                "138****5678",
                &format!("【健康码】验证码 {n:06}"),
                t + Duration::seconds(n),
            )
            .await
            .must(backend);
        assert_eq!(m.to_masked, "138****5678", "[{backend}] pushed message");
        assert_eq!(
            m.body,
            format!("【健康码】验证码 {n:06}"),
            "[{backend}] pushed message"
        );
        assert_eq!(
            m.created_at,
            t + Duration::seconds(n),
            "[{backend}] pushed message"
        );
        sent.push(m);
    }
    assert!(
        sent.windows(2).all(|w| w[0].id < w[1].id),
        "[{backend}] outbox ids increase: {:?}",
        sent.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    let newest: Vec<_> = sent.iter().rev().take(3).cloned().collect();
    assert_eq!(
        store.outbox(3).await.must(backend),
        newest,
        "[{backend}] newest three, newest first"
    );
    let all: Vec<_> = sent.iter().rev().cloned().collect();
    assert_eq!(
        store.outbox(100).await.must(backend),
        all,
        "[{backend}] whole outbox"
    );
    assert!(
        store.outbox(0).await.must(backend).is_empty(),
        "[{backend}] limit 0"
    );
}

/// Concurrent pushes get distinct ids, increasing in each task's order.
pub async fn concurrent_outbox<S: Store>(backend: &str, store: S) {
    let t = datetime!(2022-04-01 08:00 UTC);
    let mut tasks = Vec::new();
    for task in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..25 {
                let m = store.push_outbox("1**", &format!("{task}/{n}"), t).await?;
                ids.push(m.id);
            }
            Ok::<_, StoreError>(ids)
        }));
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        let ids = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("[{backend}] concurrent push_outbox: {e}"));
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "[{backend}] ids increase within a task: {ids:?}"
        );
        all.extend(ids);
    }
    assert_eq!(all.len(), 100, "[{backend}] 100 distinct outbox ids");
    let listed = store.outbox(1000).await.must(backend);
    assert_eq!(listed.len(), 100, "[{backend}] 100 messages listed");
    assert!(
        listed.windows(2).all(|w| w[0].id > w[1].id),
        "[{backend}] listed newest first"
    );
}

/// Appends seal a chain from seq 0; the entries read back verify, keep
/// their offsets and nanoseconds, and page by `seq >= after`.
pub async fn audit_chain_and_paging<S: Store>(backend: &str, store: S) {
    let empty = store
        .verify_audit(None)
        .await
        .must(backend)
        .unwrap_or_else(|e| panic!("[{backend}] empty chain: {e}"));
    assert_eq!(
        (empty.entries, empty.head),
        (0, Digest::GENESIS),
        "[{backend}] empty chain"
    );
    assert!(
        store.audit_entries(0, 10).await.must(backend).is_empty(),
        "[{backend}] no entries yet"
    );

    let t = datetime!(2022-04-01 08:00:00.123456789 +08:00);
    let offsets = [8 * 3600, 0, -5 * 3600, 5 * 3600 + 1800, 8 * 3600];
    let mut appended: Vec<AuditEntry> = Vec::new();
    for (n, secs) in offsets.iter().enumerate() {
        let at = (t + Duration::seconds(n as i64))
            .to_offset(time::UtcOffset::from_whole_seconds(*secs).unwrap());
        let entry = store
            .append_audit(record(n, "subject-a", at))
            .await
            .must(backend);
        let expected = AuditEntry::seal(appended.last(), record(n, "subject-a", at));
        assert_eq!(
            entry, expected,
            "[{backend}] append_audit returns the sealed entry"
        );
        appended.push(entry);
    }
    let stored = store.audit_entries(0, 100).await.must(backend);
    assert_eq!(stored, appended, "[{backend}] entries read back");
    for (s, a) in stored.iter().zip(&appended) {
        assert_eq!(
            s.record.at.offset(),
            a.record.at.offset(),
            "[{backend}] offset kept"
        );
    }
    let summary = verify_chain(&stored, Some(appended[4].hash))
        .unwrap_or_else(|e| panic!("[{backend}] stored chain: {e}"));
    assert_eq!(summary.entries, 5, "[{backend}] chain length");
    let via_trait = store
        .verify_audit(Some(appended[4].hash))
        .await
        .must(backend);
    assert_eq!(via_trait, Ok(summary), "[{backend}] verify_audit");

    let seqs = |v: Vec<AuditEntry>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.audit_entries(0, 2).await.must(backend)),
        [0, 1],
        "[{backend}] first page"
    );
    assert_eq!(
        seqs(store.audit_entries(2, 2).await.must(backend)),
        [2, 3],
        "[{backend}] second page"
    );
    assert_eq!(
        seqs(store.audit_entries(4, 2).await.must(backend)),
        [4],
        "[{backend}] last page"
    );
    assert!(
        store.audit_entries(5, 2).await.must(backend).is_empty(),
        "[{backend}] past the end"
    );
    assert!(
        store.audit_entries(0, 0).await.must(backend).is_empty(),
        "[{backend}] limit 0"
    );
}

/// `audit_about` returns one subject's entries, in order.
pub async fn audit_about<S: Store>(backend: &str, store: S) {
    let t = datetime!(2022-04-01 08:00 +08:00);
    let subjects = ["p-1", "p-2", "p-1", "p-3", "p-1", "p-2"];
    for (n, subject) in subjects.iter().enumerate() {
        store
            .append_audit(record(n, subject, t + Duration::minutes(n as i64)))
            .await
            .must(backend);
    }
    let about = |v: Vec<AuditEntry>| {
        v.into_iter()
            .map(|e| (e.seq, e.record.subject))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        about(store.audit_about("p-1").await.must(backend)),
        [
            (0, "p-1".to_owned()),
            (2, "p-1".to_owned()),
            (4, "p-1".to_owned())
        ],
        "[{backend}] entries about p-1"
    );
    assert_eq!(
        about(store.audit_about("p-2").await.must(backend)),
        [(1, "p-2".to_owned()), (5, "p-2".to_owned())],
        "[{backend}] entries about p-2"
    );
    assert!(
        store.audit_about("p-9").await.must(backend).is_empty(),
        "[{backend}] unknown subject"
    );
    assert!(
        store.audit_about("p-").await.must(backend).is_empty(),
        "[{backend}] subjects match exactly"
    );
    let all = store.audit_entries(0, 100).await.must(backend);
    assert_eq!(
        store.audit_about("p-3").await.must(backend),
        vec![all[3].clone()],
        "[{backend}] audit_about returns whole entries"
    );
}

/// 8 tasks × 50 appends at once make one unbroken chain of 400 entries.
pub async fn concurrent_audit_appends<S: Store>(backend: &str, store: S) {
    const TASKS: usize = 8;
    const EACH: usize = 50;
    let t = datetime!(2022-04-01 08:00 +08:00);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..EACH {
                let entry = store
                    .append_audit(record(
                        task * EACH + n,
                        &format!("task-{task}"),
                        t + Duration::milliseconds(n as i64),
                    ))
                    .await?;
                seqs.push(entry.seq);
            }
            Ok::<_, StoreError>(seqs)
        }));
    }
    let mut seqs = BTreeSet::new();
    for task in tasks {
        let mine = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("[{backend}] concurrent append_audit: {e}"));
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "[{backend}] a task's entries in order"
        );
        seqs.extend(mine);
    }
    let total = (TASKS * EACH) as u64;
    assert_eq!(
        seqs,
        (0..total).collect::<BTreeSet<_>>(),
        "[{backend}] seq 0..{total}, none twice"
    );

    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, 64).await.must(backend);
        let Some(last) = page.last() else { break };
        after = last.seq + 1;
        entries.extend(page);
    }
    let summary = verify_chain(&entries, None)
        .unwrap_or_else(|e| panic!("[{backend}] chain after concurrent appends: {e}"));
    assert_eq!(summary.entries, total, "[{backend}] chain length");
    assert_eq!(
        store.verify_audit(Some(summary.head)).await.must(backend),
        Ok(summary),
        "[{backend}] verify_audit after concurrent appends"
    );
    for task in 0..TASKS {
        assert_eq!(
            store
                .audit_about(&format!("task-{task}"))
                .await
                .must(backend)
                .len(),
            EACH,
            "[{backend}] audit_about task-{task}"
        );
    }
}

/// Instants the store cannot hold are refused with an error, not a panic
/// or a silently wrong time.
pub async fn timestamps_out_of_range<S: Store>(backend: &str, store: S) {
    let mut p = person(1);
    p.created_at = datetime!(2300-01-01 0:00 UTC);
    assert!(
        matches!(store.create_person(&p).await, Err(StoreError::Backend(_))),
        "[{backend}] a person created in 2300"
    );
    assert_eq!(
        store.person(&p.id).await.must(backend),
        None,
        "[{backend}] nothing stored"
    );
    let r = record(0, "s", datetime!(1600-01-01 0:00 UTC));
    assert!(
        store.append_audit(r).await.is_err(),
        "[{backend}] an audit record from 1600"
    );
    assert!(
        store.verify_audit(None).await.must(backend).is_ok(),
        "[{backend}] chain still intact"
    );
    let ok = store
        .append_audit(record(1, "s", datetime!(2022-01-01 0:00 UTC)))
        .await
        .must(backend);
    assert_eq!(
        ok.seq, 0,
        "[{backend}] the refused record took no place in the chain"
    );
}
