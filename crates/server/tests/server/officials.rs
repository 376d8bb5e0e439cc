use healthcode_store::Store;
use serde_json::{json, Value};

use crate::support::TestServer;

#[tokio::test]
async fn officials_record_facts_with_roles_and_audit() {
    let s = TestServer::start().await;
    let citizen = s.signed_in("13800138020").await;
    let person = s.apply(&citizen, "赵六", "220302196204056784").await;
    let id = person["id"].as_str().unwrap();

    // Citizens cannot record facts.
    let r = citizen
        .post(s.url(&format!("/api/v1/people/{id}/events")))
        .json(&json!({"type": "diagnosis", "status": "confirmed", "facility": "First Hospital"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A reviewer is not a health official.
    let bob = s.official("bob").await;
    let r = bob
        .post(s.url(&format!("/api/v1/people/{id}/events")))
        .json(&json!({"type": "diagnosis", "status": "confirmed", "facility": "First Hospital"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let alice = s.official("alice").await;
    let found: Value = alice
        .get(s.url("/api/v1/people?identity=220302196204056784&purpose=case%20review"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["id"], id);
    let r = alice
        .post(s.url(&format!("/api/v1/people/{id}/events")))
        .json(&json!({"type": "diagnosis", "status": "confirmed", "facility": "First Hospital"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let status: Value = alice
        .get(s.url(&format!(
            "/api/v1/people/{id}/status?purpose=review%20of%20declaration"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["colour"], "red", "{status}");

    let code: Value = citizen
        .get(s.url("/api/v1/me/code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code["colour"], "red");

    // The audit chain names alice as the actor of the diagnosis.
    let about = s.store.audit_about(id).await.unwrap();
    assert!(about
        .iter()
        .any(|e| e.record.actor == "official:alice" && e.record.details.contains("confirmed")));

    // Bad input from officials is a 4xx naming the field.
    for (body, field) in [
        (
            json!({"type": "temperature", "celsius": 99.0, "site": "X"}),
            "celsius",
        ),
        (
            json!({"type": "temperature", "celsius": 37.0, "site": " "}),
            "site",
        ),
    ] {
        let r = alice
            .post(s.url(&format!("/api/v1/people/{id}/events")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let r = alice
        .post(s.url("/api/v1/people/zzz/events"))
        .json(&json!({"type": "close_contact"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = alice
        .post(s.url("/api/v1/people/00000000000000000000000000000000/events"))
        .json(&json!({"type": "close_contact"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
