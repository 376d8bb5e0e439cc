//! Conformance of [`LifecycleStore`](crate::lifecycle::LifecycleStore):
//! retention purges, shutdown records, erasure, kept faces, statements.

use time::macros::datetime;
use time::Duration;

use super::{assert_conflict, otp, person, person_id, phone, record, session, Must};
use crate::itinerary::CarrierStay;
use crate::lifecycle::{
    DeletionStatementRecord, ErasedCategory, KeptCodeFace, RetentionCutoffs, Service,
    ServiceShutdown,
};
use crate::oversight::{RequestDecision, RequestKind, RequestState};
use crate::oversight_conformance::{access, correction, override_request};
use crate::venues::{CheckIn, Dependent, HourReveal, SealedCheckIn, VenueId};
use crate::{OfficialAccount, Role, SessionSubject, Store, StoreError};
use healthcode_core::itinerary::CityCode;

/// Sessions and one-time codes go when expired, each counted apart;
/// outbox messages go when older than the cutoff, carrier stays and
/// check-ins when they ended before theirs, approval requests when decided
/// before theirs (pending ones never).
pub async fn lifecycle_purges<S: Store>(backend: &str, store: S) {
    let now = datetime!(2022-04-01 12:00 UTC);
    for (token, expires) in [
        (1u8, now - Duration::seconds(1)),
        (2, now),
        (3, now + Duration::seconds(1)),
    ] {
        store
            .create_session(&session(
                token,
                SessionSubject::Phone(phone(token)),
                expires,
            ))
            .await
            .must(backend);
    }
    store.put_otp(&otp(1, 1, now)).await.must(backend);
    store
        .put_otp(&otp(2, 2, now + Duration::minutes(1)))
        .await
        .must(backend);
    for hours in [30, 25, 23, 1] {
        store
            .push_outbox("138****5678", "验证码 123456", now - Duration::hours(hours))
            .await
            .must(backend);
    }
    // Carrier stays: one ended 17 days ago, one 10 days ago.
    let stay = |days_ago: i64| CarrierStay {
        phone: phone(1),
        city: CityCode::parse("440100").unwrap(),
        first_seen: now - Duration::days(days_ago) - Duration::hours(6),
        last_seen: now - Duration::days(days_ago),
        cell: None,
        carrier: None,
    };
    store
        .insert_carrier_stays(&[stay(17), stay(10)])
        .await
        .must(backend);
    // Check-ins: one ended 30 days ago, one yesterday.
    let visit = |days_ago: i64| CheckIn {
        venue: VenueId(7),
        person: person_id(1),
        dependent: 0,
        arrived: now - Duration::days(days_ago) - Duration::hours(2),
        left: now - Duration::days(days_ago),
    };
    store
        .insert_checkins(&[visit(30), visit(1)])
        .await
        .must(backend);
    // Approval requests: decided 200 days ago (goes), expired 181 days ago
    // (goes), decided 10 days ago (stays), pending since long ago (stays).
    for (id, decided_days_ago, state) in [
        ("ovr-old", Some(200), RequestState::Approved),
        ("ovr-expired", Some(181), RequestState::Expired),
        ("ovr-recent", Some(10), RequestState::Rejected),
        ("ovr-pending", None, RequestState::Pending),
    ] {
        let mut request = override_request(id, 1, "alice", 0);
        request.requested_at = now - Duration::days(400);
        request.expires_at = now + Duration::days(1);
        store.create_request(&request).await.must(backend);
        if let Some(days) = decided_days_ago {
            let decision = RequestDecision {
                state,
                by: "bob".into(),
                at: now - Duration::days(days),
                note: healthcode_core::Bilingual::new("已核实", "checked"),
            };
            store
                .decide_request(id, &decision, None)
                .await
                .must(backend);
        }
    }
    let cutoffs = RetentionCutoffs {
        now,
        outbox_before: now - Duration::hours(24),
        carrier_stays_before: now - Duration::days(16),
        checkins_before: now - Duration::days(28),
        decided_requests_before: now - Duration::days(180),
    };
    let expected = vec![
        ErasedCategory::new("sessions", 2),
        ErasedCategory::new("one_time_codes", 1),
        ErasedCategory::new("sms_outbox_messages", 2),
        ErasedCategory::new("carrier_stays", 1),
        ErasedCategory::new("checkins", 1),
        ErasedCategory::new("checkin_client_ids", 0),
        ErasedCategory::new("sealed_checkins", 0),
        ErasedCategory::new("hour_reveals", 0),
        ErasedCategory::new("decided_approval_requests", 2),
    ];
    assert_eq!(
        store.purge_retention(&cutoffs, true).await.must(backend),
        expected,
        "[{backend}] a dry run counts"
    );
    assert!(
        store
            .session(&[1; 32], now - Duration::hours(1))
            .await
            .must(backend)
            .is_some(),
        "[{backend}] a dry run deletes nothing"
    );
    assert_eq!(store.outbox(10).await.must(backend).len(), 4);
    assert_eq!(
        store.purge_retention(&cutoffs, false).await.must(backend),
        expected,
        "[{backend}] the purge deletes what the dry run counted"
    );
    assert!(store.session(&[3; 32], now).await.must(backend).is_some());
    assert!(store.otp(&phone(2)).await.must(backend).is_some());
    assert_eq!(store.outbox(10).await.must(backend).len(), 2);
    let left = store
        .carrier_stays(&phone(1), now - Duration::days(30), now)
        .await
        .must(backend);
    assert_eq!(left.len(), 1, "[{backend}] the recent stay stays");
    assert_eq!(left[0].last_seen, now - Duration::days(10));
    assert_eq!(
        store
            .person_checkins(&person_id(1), now - Duration::days(60), now)
            .await
            .must(backend),
        vec![visit(1)],
        "[{backend}] the recent check-in stays"
    );
    for (id, kept) in [
        ("ovr-old", false),
        ("ovr-expired", false),
        ("ovr-recent", true),
        ("ovr-pending", true),
    ] {
        assert_eq!(
            store.request(id).await.must(backend).is_some(),
            kept,
            "[{backend}] {id}"
        );
    }
    assert!(store
        .purge_retention(&cutoffs, false)
        .await
        .must(backend)
        .iter()
        .all(|c| c.records == 0));
}

fn shutdown(service: Service) -> ServiceShutdown {
    ServiceShutdown {
        service,
        at: datetime!(2022-12-13 00:00 +08:00),
        decision: "国务院联防联控机制综合组 2022-12-11 / State Council decision".to_owned(),
        keep: vec!["code-face".to_owned()],
        scheduled_at: datetime!(2022-12-11 10:00:00.5 UTC),
        scheduled_by: "cli".to_owned(),
        executed_at: None,
        statement_id: None,
    }
}

/// A shutdown per service; executing it stores its statement once.
pub async fn shutdown_records<S: Store>(backend: &str, store: S) {
    assert!(store.shutdowns().await.must(backend).is_empty());
    let itinerary = shutdown(Service::Itinerary);
    store.schedule_shutdown(&itinerary).await.must(backend);
    assert_conflict(
        backend,
        "second shutdown of a service",
        store.schedule_shutdown(&itinerary).await,
    );
    let mut health = shutdown(Service::HealthCode);
    health.keep.clear();
    store.schedule_shutdown(&health).await.must(backend);
    let all = store.shutdowns().await.must(backend);
    assert_eq!(all.len(), 2, "[{backend}] {all:?}");
    let found = all
        .iter()
        .find(|s| s.service == Service::Itinerary)
        .unwrap();
    assert_eq!(
        found, &itinerary,
        "[{backend}] round trip (instants as UTC)"
    );
    assert!(all
        .iter()
        .any(|s| s.service == Service::HealthCode && s.keep.is_empty()));

    let statement = DeletionStatementRecord {
        id: "itinerary-20221213".to_owned(),
        service: Service::Itinerary,
        published_at: datetime!(2022-12-13 00:05 UTC),
        signed_json: "{\"payload\":\"删除声明\"}".to_owned(),
    };
    let executed = datetime!(2022-12-13 00:04:59 UTC);
    match store
        .finish_shutdown(Service::Checkins, executed, &statement)
        .await
    {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("[{backend}] finishing an unscheduled shutdown: {other:?}"),
    }
    store
        .finish_shutdown(Service::Itinerary, executed, &statement)
        .await
        .must(backend);
    assert_conflict(
        backend,
        "finishing twice",
        store
            .finish_shutdown(Service::Itinerary, executed, &statement)
            .await,
    );
    let found = store
        .shutdowns()
        .await
        .must(backend)
        .into_iter()
        .find(|s| s.service == Service::Itinerary)
        .unwrap();
    assert_eq!(found.executed_at, Some(executed), "[{backend}]");
    assert_eq!(found.statement_id.as_deref(), Some("itinerary-20221213"));
    assert_eq!(
        store
            .deletion_statement("itinerary-20221213")
            .await
            .must(backend),
        Some(statement.clone())
    );
    assert_eq!(store.deletion_statement("nope").await.must(backend), None);
    assert_eq!(
        store.deletion_statements().await.must(backend),
        vec![statement]
    );
}

fn face(n: u8, colour: &str) -> KeptCodeFace {
    KeptCodeFace {
        lookup: [n; 32],
        colour: colour.to_owned(),
        masked_name: "张*".to_owned(),
        masked_id: "2201**********1235".to_owned(),
        kind: "resident".to_owned(),
        status_as_of: datetime!(2023-02-16 03:00 UTC),
    }
}

/// The health-code erasure empties people, events, codes, sessions, the
/// outbox and officials in one go, keeps the faces and the audit chain,
/// and the store works afterwards.
pub async fn erase_health_code_data<S: Store>(backend: &str, store: S) {
    let t = datetime!(2023-02-16 11:00 +08:00);
    for n in 1..=3 {
        let p = person(n);
        store.create_person(&p).await.must(backend);
        store
            .append_audit(record(usize::from(n), p.id.as_str(), t))
            .await
            .must(backend);
    }
    let events = super::lab_test("ev-1", t);
    store
        .append_event(&person(1).id, &events)
        .await
        .must(backend);
    store
        .put_otp(&otp(1, 1, t + Duration::minutes(5)))
        .await
        .must(backend);
    store
        .create_session(&session(
            1,
            SessionSubject::Phone(phone(1)),
            t + Duration::hours(1),
        ))
        .await
        .must(backend);
    store
        .create_session(&session(
            2,
            SessionSubject::Official("off-1".into()),
            t + Duration::hours(1),
        ))
        .await
        .must(backend);
    store
        .create_official(&OfficialAccount {
            username: "off-1".into(),
            display_name: "王医生".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            roles: vec![Role::HealthOfficial],
            created_at: t,
        })
        .await
        .must(backend);
    store
        .push_outbox("138****5678", "验证码 123456", t)
        .await
        .must(backend);
    // Dependents (a foreign key to persons), check-ins open and sealed, a
    // revealed hour, a batch client id; oversight's requests (an override
    // about person 1, a bulk action naming an identity number),
    // a correction request and an access-log row.
    store
        .add_dependent(&Dependent {
            guardian: person(1).id,
            number: 1,
            full_name: "欧阳小小".into(),
            identity: healthcode_core::Identity::Resident {
                id: super::resident_id(777),
            },
            created_at: t,
        })
        .await
        .must(backend);
    let visit = |dependent: u16| CheckIn {
        venue: VenueId(7),
        person: person(1).id,
        dependent,
        arrived: t,
        left: t + Duration::hours(2),
    };
    store.insert_checkins(&[visit(0)]).await.must(backend);
    store
        .insert_checkins_once("official:off-1", &[("batch-1".into(), visit(1))])
        .await
        .must(backend);
    store
        .insert_sealed(&SealedCheckIn {
            venue: VenueId(8),
            hour: t.unix_timestamp() / 3600,
            ephemeral: [5; 32],
            ciphertext: vec![5; 48],
        })
        .await
        .must(backend);
    store
        .put_reveal(&HourReveal {
            venue: VenueId(8),
            hour: t.unix_timestamp() / 3600,
            secret: [6; 32],
            revealed_at: t,
        })
        .await
        .must(backend);
    store
        .create_request(&override_request("ovr-1", 1, "off-1", 0))
        .await
        .must(backend);
    let mut bulk = override_request("blk-1", 0, "off-1", 1);
    bulk.kind = RequestKind::Bulk;
    bulk.person = None;
    bulk.body = format!(
        r#"{{"action":"close_contact","identities":["{}"]}}"#,
        super::resident_id(778).as_str()
    );
    store.create_request(&bulk).await.must(backend);
    store
        .create_correction(&correction(
            "cor-1",
            1,
            0,
            crate::oversight::CorrectionTopic::Colour,
        ))
        .await
        .must(backend);
    store
        .record_access(&access(1, 0, "off-1", "view"))
        .await
        .must(backend);
    let head = store.verify_audit(None).await.must(backend).unwrap();

    // People page by id.
    let first = store.persons_after(None, 2).await.must(backend);
    let rest = store
        .persons_after(Some(&first[1].id), 2)
        .await
        .must(backend);
    let mut ids: Vec<_> = first.iter().chain(&rest).map(|p| p.id.clone()).collect();
    assert_eq!(ids.len(), 3, "[{backend}] paging");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "[{backend}] in id order"
    );
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert_eq!(first[0], person(1), "[{backend}] whole records");

    let faces = [face(1, "green"), face(2, "yellow")];
    store.put_kept_code_faces(&faces).await.must(backend);
    store
        .put_kept_code_faces(&[face(2, "red")])
        .await
        .must(backend);
    let counts = store.erase_health_code_data().await.must(backend);
    let count = |c: &str| counts.iter().find(|e| e.category == c).map(|e| e.records);
    assert_eq!(count("people"), Some(3), "[{backend}] {counts:?}");
    assert_eq!(count("events"), Some(1), "[{backend}] {counts:?}");
    assert_eq!(count("one_time_codes"), Some(1), "[{backend}] {counts:?}");
    assert_eq!(count("sessions"), Some(2), "[{backend}] {counts:?}");
    assert_eq!(
        count("sms_outbox_messages"),
        Some(1),
        "[{backend}] {counts:?}"
    );
    assert_eq!(
        count("official_accounts"),
        Some(1),
        "[{backend}] {counts:?}"
    );
    for (category, n) in [
        ("dependents", 1),
        ("checkins", 2),
        ("checkin_client_ids", 1),
        ("sealed_checkins", 1),
        ("hour_reveals", 1),
        ("approval_requests", 2),
        ("correction_requests", 1),
        ("access_log_entries", 1),
    ] {
        assert_eq!(
            count(category),
            Some(n),
            "[{backend}] {category}: {counts:?}"
        );
    }
    let names: Vec<&str> = counts.iter().map(|c| c.category.as_str()).collect();
    let expected: Vec<&str> = crate::lifecycle::HEALTH_CODE_TABLES
        .iter()
        .map(|(_, c)| *c)
        .collect();
    assert_eq!(names, expected, "[{backend}] every category, in order");
    for n in 1..=3 {
        assert_eq!(store.person(&person(n).id).await.must(backend), None);
    }
    assert!(store
        .dependents(&person(1).id)
        .await
        .must(backend)
        .is_empty());
    assert!(store
        .person_checkins(&person(1).id, t - Duration::days(1), t + Duration::days(1))
        .await
        .must(backend)
        .is_empty());
    assert!(store
        .sealed_checkins(VenueId(8), t.unix_timestamp() / 3600)
        .await
        .must(backend)
        .is_empty());
    assert!(store.reveals(VenueId(8)).await.must(backend).is_empty());
    assert_eq!(store.request("blk-1").await.must(backend), None);
    assert_eq!(store.request("ovr-1").await.must(backend), None);
    assert_eq!(store.correction("cor-1").await.must(backend), None);
    assert!(store
        .accesses_about(&person(1).id, 10)
        .await
        .must(backend)
        .is_empty());
    // The batch client id went too: the same id is new again.
    store.create_person(&person(1)).await.must(backend);
    assert_eq!(
        store
            .insert_checkins_once("official:off-1", &[("batch-1".into(), visit(1))])
            .await
            .must(backend),
        vec![true],
        "[{backend}]"
    );
    store.erase_health_code_data().await.must(backend);
    assert!(store.events(&person(1).id).await.must(backend).is_empty());
    assert_eq!(store.otp(&phone(1)).await.must(backend), None);
    assert_eq!(store.session(&[1; 32], t).await.must(backend), None);
    assert_eq!(store.official("off-1").await.must(backend), None);
    assert!(store.outbox(10).await.must(backend).is_empty());
    assert_eq!(
        store.kept_code_face(&[2; 32]).await.must(backend),
        Some(face(2, "red"))
    );
    assert_eq!(store.kept_code_face(&[9; 32]).await.must(backend), None);
    assert_eq!(
        store.verify_audit(Some(head.head)).await.must(backend),
        Ok(head),
        "[{backend}] the audit chain is kept whole"
    );

    let steps = store.compact_after_erasure().await.must(backend);
    assert!(!steps.is_empty(), "[{backend}] compaction says what it did");
    assert!(
        steps.iter().any(|s| s.done),
        "[{backend}] some compaction step ran: {steps:?}"
    );

    // Erasing again finds nothing and keeps the faces.
    let again = store.erase_health_code_data().await.must(backend);
    assert!(
        again.iter().all(|e: &ErasedCategory| e.records == 0),
        "[{backend}] {again:?}"
    );
    assert!(store.kept_code_face(&[1; 32]).await.must(backend).is_some());
    // The store still works.
    store.create_person(&person(1)).await.must(backend);
    assert!(store.person(&person(1).id).await.must(backend).is_some());
}

/// Every table a backend's migrations create (`tables`, from its
/// catalogue) has a decided fate in
/// [`SCHEMA_TABLES`](crate::lifecycle::SCHEMA_TABLES), and every table the
/// erasures name exists: a new table cannot slip past the shutdowns.
pub fn schema_tables_are_classified(backend: &str, tables: &[String]) {
    use crate::lifecycle::{CHECKIN_TABLES, HEALTH_CODE_TABLES, SCHEMA_TABLES};
    let unclassified: Vec<&String> = tables
        .iter()
        .filter(|t| !SCHEMA_TABLES.iter().any(|(known, _)| known == t))
        .collect();
    assert!(
        unclassified.is_empty(),
        "[{backend}] tables without a decided fate at shutdown (add them to \
         healthcode_store::lifecycle::SCHEMA_TABLES and docs/lifecycle.md): {unclassified:?}"
    );
    for (table, _) in HEALTH_CODE_TABLES.iter().chain(CHECKIN_TABLES.iter()) {
        assert!(
            tables.iter().any(|t| t == table),
            "[{backend}] the erasure names {table}, which the schema lacks"
        );
    }
}
