//! The conformance suite of [`OversightStore`]: every backend runs it
//! through [`oversight_conformance_tests!`](crate::oversight_conformance_tests),
//! as it runs the main suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use healthcode_core::Bilingual;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::conformance::{person, person_id, phone};
use crate::oversight::{
    AccessRecord, ApprovalRequest, CorrectionAnswer, CorrectionRequest, CorrectionTopic,
    RequestDecision, RequestKind, RequestState,
};
use crate::{Session, SessionSubject, Store, StoreError};

/// Expands the oversight suite into `#[tokio::test]`s for one backend, with
/// the same `fresh` function as [`conformance_tests!`](crate::conformance_tests).
#[macro_export]
macro_rules! oversight_conformance_tests {
    ($backend:expr, $fresh:path) => {
        $crate::oversight_conformance_tests!(@each $backend, $fresh, [
            requests_round_trip_and_queues,
            requests_are_decided_once,
            pending_requests_expire,
            corrections_are_answered_once,
            access_log_by_person,
            sessions_of_a_phone,
            erasure,
        ]);
    };
    (@each $backend:expr, $fresh:path, [$($test:ident),* $(,)?]) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                if let Some((store, _guard)) = $fresh().await {
                    $crate::oversight_conformance::$test($backend, store).await;
                }
            }
        )*
    };
}

const T: OffsetDateTime = datetime!(2022-06-14 09:00:00.123456789 UTC);

fn text(zh: &str, en: &str) -> Bilingual {
    Bilingual::new(zh, en)
}

/// A pending override request for person `n`, made `minutes` after T.
pub fn override_request(id: &str, n: u8, by: &str, minutes: i64) -> ApprovalRequest {
    ApprovalRequest {
        id: id.to_owned(),
        kind: RequestKind::Override,
        person: Some(person_id(n)),
        requested_by: by.to_owned(),
        requested_at: T + Duration::minutes(minutes),
        expires_at: T + Duration::minutes(minutes) + Duration::hours(24),
        reason: text("密接复核", "close-contact review"),
        legal_basis: text(
            "《传染病防治法》第三十九条",
            "Law on the Prevention and Treatment of Infectious Diseases, art. 39",
        ),
        body: r#"{"colour":"orange","until":"2022-06-21T09:00:00Z"}"#.to_owned(),
        state: RequestState::Pending,
        decision: None,
        outcome: None,
    }
}

pub fn decision(state: RequestState, by: &str, minutes: i64) -> RequestDecision {
    RequestDecision {
        state,
        by: by.to_owned(),
        at: T + Duration::minutes(minutes),
        note: text("已核实", "checked"),
    }
}

fn ids(requests: &[ApprovalRequest]) -> Vec<&str> {
    requests.iter().map(|r| r.id.as_str()).collect()
}

pub async fn requests_round_trip_and_queues<S: Store>(backend: &str, store: S) {
    let a = override_request("ovr-a", 1, "alice", 5);
    let b = override_request("ovr-b", 2, "alice", 1);
    let c = override_request("ovr-c", 1, "carol", 3);
    let mut bulk = override_request("blk-a", 0, "alice", 2);
    bulk.kind = RequestKind::Bulk;
    bulk.person = None;
    bulk.body = r#"{"action":"close_contact","items":["220102199003071235"]}"#.to_owned();
    for r in [&a, &b, &c, &bulk] {
        store.create_request(r).await.unwrap();
    }
    assert!(
        matches!(store.create_request(&a).await, Err(StoreError::Conflict(_))),
        "[{backend}] a duplicate request id is a conflict"
    );
    assert_eq!(
        store.request("ovr-a").await.unwrap(),
        Some(a.clone()),
        "[{backend}]"
    );
    assert_eq!(
        store.request("blk-a").await.unwrap(),
        Some(bulk.clone()),
        "[{backend}]"
    );
    assert_eq!(store.request("nope").await.unwrap(), None, "[{backend}]");
    let pending = store
        .requests(RequestKind::Override, RequestState::Pending, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&pending),
        ["ovr-b", "ovr-c", "ovr-a"],
        "[{backend}] oldest first"
    );
    let limited = store
        .requests(RequestKind::Override, RequestState::Pending, 2)
        .await
        .unwrap();
    assert_eq!(ids(&limited), ["ovr-b", "ovr-c"], "[{backend}] limit");
    let bulks = store
        .requests(RequestKind::Bulk, RequestState::Pending, 10)
        .await
        .unwrap();
    assert_eq!(ids(&bulks), ["blk-a"], "[{backend}]");
    let about = store.requests_about(&person_id(1)).await.unwrap();
    assert_eq!(
        ids(&about),
        ["ovr-c", "ovr-a"],
        "[{backend}] about person 1"
    );
    let times = store
        .request_times("alice", RequestKind::Override, T + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        times,
        [T + Duration::minutes(1), T + Duration::minutes(5)],
        "[{backend}] request times from `since` on, inclusive, exact to the nanosecond"
    );
    let times = store
        .request_times("alice", RequestKind::Override, T + Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(times, [T + Duration::minutes(5)], "[{backend}]");
}

pub async fn requests_are_decided_once<S: Store>(backend: &str, store: S) {
    for (i, id) in ["ovr-1", "ovr-2", "ovr-3"].into_iter().enumerate() {
        let r = override_request(id, 1, "alice", i as i64);
        store.create_request(&r).await.unwrap();
    }
    let approved = store
        .decide_request(
            "ovr-1",
            &decision(RequestState::Approved, "bob", 10),
            Some(r#"{"event_id":"ev-1"}"#),
        )
        .await
        .unwrap();
    assert_eq!(approved.state, RequestState::Approved, "[{backend}]");
    assert_eq!(
        approved.outcome.as_deref(),
        Some(r#"{"event_id":"ev-1"}"#),
        "[{backend}]"
    );
    assert_eq!(
        approved.decision,
        Some(decision(RequestState::Approved, "bob", 10)),
        "[{backend}]"
    );
    assert_eq!(
        store.request("ovr-1").await.unwrap(),
        Some(approved),
        "[{backend}]"
    );
    assert!(
        matches!(
            store
                .decide_request("ovr-1", &decision(RequestState::Rejected, "dave", 11), None)
                .await,
            Err(StoreError::Conflict(_))
        ),
        "[{backend}] a decided request cannot be decided again"
    );
    assert!(
        matches!(
            store
                .decide_request("ovr-9", &decision(RequestState::Rejected, "dave", 11), None)
                .await,
            Err(StoreError::NotFound(_))
        ),
        "[{backend}]"
    );
    assert!(
        store
            .decide_request("ovr-2", &decision(RequestState::Pending, "dave", 11), None)
            .await
            .is_err(),
        "[{backend}] a decision cannot leave a request pending"
    );
    store
        .decide_request("ovr-2", &decision(RequestState::Rejected, "dave", 20), None)
        .await
        .unwrap();
    store
        .set_request_outcome("ovr-2", r#"{"n":2}"#)
        .await
        .unwrap();
    assert_eq!(
        store
            .request("ovr-2")
            .await
            .unwrap()
            .unwrap()
            .outcome
            .as_deref(),
        Some(r#"{"n":2}"#),
        "[{backend}] outcome replaced"
    );
    assert!(matches!(
        store.set_request_outcome("ovr-9", "{}").await,
        Err(StoreError::NotFound(_))
    ));

    // Concurrent reviewers: exactly one decision wins.
    let mut tasks = Vec::new();
    for n in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .decide_request(
                    "ovr-3",
                    &decision(RequestState::Approved, &format!("r{n}"), 30),
                    None,
                )
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("[{backend}] concurrent decision: {e}"),
        }
    }
    assert_eq!(won, 1, "[{backend}] exactly one concurrent decision wins");

    let rejected = store
        .requests(RequestKind::Override, RequestState::Rejected, 10)
        .await
        .unwrap();
    assert_eq!(ids(&rejected), ["ovr-2"], "[{backend}]");
    let approved = store
        .requests(RequestKind::Override, RequestState::Approved, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&approved),
        ["ovr-3", "ovr-1"],
        "[{backend}] latest decision first"
    );
    assert!(store
        .requests(RequestKind::Override, RequestState::Pending, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn pending_requests_expire<S: Store>(backend: &str, store: S) {
    let mut early = override_request("ovr-early", 1, "alice", 0);
    early.expires_at = T + Duration::hours(1);
    let mut late = override_request("ovr-late", 1, "alice", 1);
    late.expires_at = T + Duration::hours(3);
    let mut decided = override_request("ovr-decided", 1, "alice", 2);
    decided.expires_at = T + Duration::hours(1);
    for r in [&early, &late, &decided] {
        store.create_request(r).await.unwrap();
    }
    store
        .decide_request(
            "ovr-decided",
            &decision(RequestState::Approved, "bob", 5),
            None,
        )
        .await
        .unwrap();
    assert!(
        store
            .expire_requests(T + Duration::minutes(59))
            .await
            .unwrap()
            .is_empty(),
        "[{backend}] nothing is due yet"
    );
    let expired = store.expire_requests(T + Duration::hours(1)).await.unwrap();
    assert_eq!(
        ids(&expired),
        ["ovr-early"],
        "[{backend}] due at expires_at, inclusive"
    );
    assert_eq!(expired[0].state, RequestState::Expired, "[{backend}]");
    let d = expired[0].decision.as_ref().unwrap();
    assert_eq!(
        (d.by.as_str(), d.at),
        ("system", T + Duration::hours(1)),
        "[{backend}]"
    );
    assert_eq!(
        store.request("ovr-early").await.unwrap().unwrap().state,
        RequestState::Expired,
        "[{backend}]"
    );
    assert!(
        store
            .expire_requests(T + Duration::hours(2))
            .await
            .unwrap()
            .is_empty(),
        "[{backend}] an expired request is not expired again"
    );
    assert_eq!(
        store.request("ovr-decided").await.unwrap().unwrap().state,
        RequestState::Approved,
        "[{backend}] a decided request never expires"
    );
    assert!(matches!(
        store
            .decide_request(
                "ovr-early",
                &decision(RequestState::Approved, "bob", 200),
                None
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
}

pub fn correction(id: &str, n: u8, minutes: i64, topic: CorrectionTopic) -> CorrectionRequest {
    CorrectionRequest {
        id: id.to_owned(),
        person: person_id(n),
        topic,
        text: "我没有去过那家超市 / I was never at that shop".to_owned(),
        filed_at: T + Duration::minutes(minutes),
        due_at: T + Duration::minutes(minutes) + Duration::hours(72),
        answer: None,
    }
}

pub async fn corrections_are_answered_once<S: Store>(backend: &str, store: S) {
    let a = correction("cor-a", 1, 10, CorrectionTopic::Colour);
    let b = correction("cor-b", 2, 5, CorrectionTopic::AuditEntry { seq: 42 });
    let c = correction("cor-c", 1, 20, CorrectionTopic::AuditEntry { seq: 0 });
    for x in [&a, &b, &c] {
        store.create_correction(x).await.unwrap();
    }
    assert!(matches!(
        store.create_correction(&a).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.correction("cor-b").await.unwrap(),
        Some(b.clone()),
        "[{backend}]"
    );
    let open = store.open_corrections(10).await.unwrap();
    assert_eq!(
        open.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["cor-b", "cor-a", "cor-c"],
        "[{backend}] oldest first"
    );
    let answer = CorrectionAnswer {
        accepted: false,
        action: "rejected".to_owned(),
        reference: None,
        message: text("检测记录属实", "The test record is correct"),
        by: "bob".to_owned(),
        at: T + Duration::hours(1),
    };
    let answered = store.answer_correction("cor-a", &answer).await.unwrap();
    assert_eq!(answered.answer, Some(answer.clone()), "[{backend}]");
    assert!(
        matches!(
            store.answer_correction("cor-a", &answer).await,
            Err(StoreError::Conflict(_))
        ),
        "[{backend}] answered once"
    );
    assert!(matches!(
        store.answer_correction("cor-z", &answer).await,
        Err(StoreError::NotFound(_))
    ));
    let open = store.open_corrections(1).await.unwrap();
    assert_eq!(open[0].id, "cor-b", "[{backend}]");
    assert_eq!(open.len(), 1, "[{backend}] limit");
    let mine = store.corrections_about(&person_id(1)).await.unwrap();
    assert_eq!(
        mine.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["cor-c", "cor-a"],
        "[{backend}] newest first, only person 1"
    );
    assert_eq!(mine[1].answer, Some(answer), "[{backend}]");
}

pub fn access(n: u8, minutes: i64, official: &str, what: &str) -> AccessRecord {
    AccessRecord {
        person: person_id(n),
        official: official.to_owned(),
        roles: "health_official".to_owned(),
        at: T + Duration::minutes(minutes),
        what: what.to_owned(),
        purpose: "流调 case 2022-061 tracing".to_owned(),
    }
}

pub async fn access_log_by_person<S: Store>(backend: &str, store: S) {
    for a in [
        access(1, 1, "alice", "lookup"),
        access(2, 2, "alice", "lookup"),
        access(1, 3, "bob", "view"),
        access(1, 2, "carol", "export"),
    ] {
        store.record_access(&a).await.unwrap();
    }
    let mine = store.accesses_about(&person_id(1), 10).await.unwrap();
    assert_eq!(
        mine,
        [
            access(1, 3, "bob", "view"),
            access(1, 2, "carol", "export"),
            access(1, 1, "alice", "lookup"),
        ],
        "[{backend}] newest first, only person 1"
    );
    assert_eq!(
        store.accesses_about(&person_id(1), 1).await.unwrap().len(),
        1
    );
    assert!(store
        .accesses_about(&person_id(9), 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn sessions_of_a_phone<S: Store>(backend: &str, store: S) {
    let session = |n: u8, subject: SessionSubject, created: i64, hours: i64| Session {
        token_hash: [n; 32],
        subject,
        created_at: T + Duration::minutes(created),
        expires_at: T + Duration::hours(hours),
    };
    store
        .create_session(&session(1, SessionSubject::Phone(phone(1)), 5, 10))
        .await
        .unwrap();
    store
        .create_session(&session(2, SessionSubject::Phone(phone(1)), 1, 10))
        .await
        .unwrap();
    store
        .create_session(&session(3, SessionSubject::Phone(phone(1)), 0, 1))
        .await
        .unwrap();
    store
        .create_session(&session(4, SessionSubject::Phone(phone(2)), 0, 10))
        .await
        .unwrap();
    store
        .create_session(&session(5, SessionSubject::Official("alice".into()), 0, 10))
        .await
        .unwrap();
    let live = store
        .sessions_of_phone(&phone(1), T + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        live.iter().map(|s| s.created_at).collect::<Vec<_>>(),
        [T + Duration::minutes(1), T + Duration::minutes(5)],
        "[{backend}] live sessions of this phone, oldest first"
    );
    assert_eq!(live[0].expires_at, T + Duration::hours(10), "[{backend}]");
}

pub async fn erasure<S: Store>(backend: &str, store: S) {
    store.create_person(&person(1)).await.unwrap();
    store
        .create_request(&override_request("ovr-1", 1, "alice", 0))
        .await
        .unwrap();
    store
        .create_request(&override_request("ovr-2", 2, "alice", 0))
        .await
        .unwrap();
    store
        .create_correction(&correction("cor-1", 1, 0, CorrectionTopic::Colour))
        .await
        .unwrap();
    store
        .create_correction(&correction("cor-2", 2, 0, CorrectionTopic::Colour))
        .await
        .unwrap();
    store
        .record_access(&access(1, 0, "alice", "lookup"))
        .await
        .unwrap();
    store
        .record_access(&access(2, 0, "alice", "lookup"))
        .await
        .unwrap();
    assert_eq!(
        store.erase_oversight_person(&person_id(1)).await.unwrap(),
        3,
        "[{backend}] one request, one correction, one access"
    );
    assert!(store
        .requests_about(&person_id(1))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .corrections_about(&person_id(1))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .accesses_about(&person_id(1), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.requests_about(&person_id(2)).await.unwrap().len(),
        1,
        "[{backend}]"
    );
    assert!(
        store.person(&person_id(1)).await.unwrap().is_some(),
        "[{backend}] only oversight rows"
    );
    // The health-code shutdown empties the oversight tables with the rest.
    let erased = store.erase_health_code_data().await.unwrap();
    let count = |c: &str| erased.iter().find(|e| e.category == c).map(|e| e.records);
    assert_eq!(
        count("approval_requests"),
        Some(1),
        "[{backend}] {erased:?}"
    );
    assert_eq!(
        count("correction_requests"),
        Some(1),
        "[{backend}] {erased:?}"
    );
    assert_eq!(
        count("access_log_entries"),
        Some(1),
        "[{backend}] {erased:?}"
    );
    assert!(store.request("ovr-2").await.unwrap().is_none());
    assert!(store.open_corrections(10).await.unwrap().is_empty());
    assert!(store
        .accesses_about(&person_id(2), 10)
        .await
        .unwrap()
        .is_empty());
}
