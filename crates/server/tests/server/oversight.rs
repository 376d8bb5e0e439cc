//! Oversight over HTTP: overrides and bulk actions under the two-official
//! rule, correction requests, a person's record, export and access log.

use healthcode_server::security::hash_password;
use healthcode_store::itinerary::ItineraryStore;
use healthcode_store::{OfficialAccount, Role, Store};
use ring::rand::SystemRandom;
use serde_json::{json, Value};
use time::Duration;

use crate::support::{TestServer, T0};

const BASIS: &str = "《中华人民共和国传染病防治法》第三十九条";
const BASIS_EN: &str = "Law on the Prevention and Treatment of Infectious Diseases, art. 39";

fn override_body(person: &str, colour: &str) -> Value {
    json!({
        "person": person,
        "colour": colour,
        "reason": {"zh": "与确诊病例同住", "en": "Lives with a confirmed case"},
        "legal_basis": {"zh": BASIS, "en": BASIS_EN},
        "hours": 72
    })
}

fn note(zh: &str, en: &str) -> Value {
    json!({"zh": zh, "en": en})
}

/// An official holding both roles, to show the rule is about people, not roles.
async fn add_carol(s: &TestServer) {
    s.store
        .create_official(&OfficialAccount {
            username: "carol".into(),
            display_name: "carol".into(),
            password_hash: hash_password("carol-password", &SystemRandom::new()).unwrap(),
            roles: vec![Role::HealthOfficial, Role::Reviewer],
            created_at: T0,
        })
        .await
        .unwrap();
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = client.post(url).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn actions(entries: &[healthcode_core::AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.record.action.as_str()).collect()
}

#[tokio::test]
async fn override_needs_a_legal_basis_and_a_second_official() {
    let s = TestServer::start().await;
    add_carol(&s).await;
    let citizen = s.signed_in("13800138101").await;
    let person = s.apply(&citizen, "钱七", "220102199003071235").await;
    let id = person["id"].as_str().unwrap();
    let alice = s.official("alice").await;
    let bob = s.official("bob").await;
    let carol = s.official("carol").await;
    let url = s.url("/api/v1/override-requests");

    // Refusals that name what was wrong.
    let mut b = override_body(id, "red");
    b.as_object_mut().unwrap().remove("legal_basis");
    let (st, _) = post(&alice, url.clone(), b).await;
    assert_eq!(st, 422, "no legal basis at all");
    for (field, body) in [
        ("legal_basis", {
            let mut b = override_body(id, "red");
            b["legal_basis"] = note("", BASIS_EN);
            b
        }),
        ("colour", override_body(id, "pending")),
        ("until", {
            let mut b = override_body(id, "red");
            b.as_object_mut().unwrap().remove("hours");
            b
        }),
        ("hours", {
            let mut b = override_body(id, "red");
            b["hours"] = json!(24 * 400);
            b
        }),
        ("reason", {
            let mut b = override_body(id, "red");
            b["reason"] = note("理由", " ");
            b
        }),
    ] {
        let (st, err) = post(&alice, url.clone(), body).await;
        assert_eq!(st, 422, "{field}: {err}");
        assert_eq!(err["error"]["field"], field, "{err}");
        assert!(
            err["error"]["message"]["zh"].as_str().unwrap().len() > 3
                && err["error"]["message"]["en"].as_str().unwrap().len() > 3,
            "{err}"
        );
    }
    // Citizens and reviewers cannot ask.
    let (st, _) = post(&citizen, url.clone(), override_body(id, "red")).await;
    assert_eq!(st, 401);
    let (st, _) = post(&bob, url.clone(), override_body(id, "red")).await;
    assert_eq!(st, 403);

    let (st, asked) = post(&alice, url.clone(), override_body(id, "red")).await;
    assert_eq!(st, 201, "{asked}");
    assert_eq!(asked["state"], "pending");
    let request = asked["id"].as_str().unwrap().to_owned();
    s.clock.advance(Duration::seconds(1));
    let (_, carols) = post(&carol, url.clone(), override_body(id, "orange")).await;
    let carols = carols["id"].as_str().unwrap().to_owned();

    // The queue, oldest first.
    let (st, pending) = get(&bob, s.url("/api/v1/override-requests")).await;
    assert_eq!(st, 200);
    let ids: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [request.as_str(), carols.as_str()]);
    assert_eq!(pending[0]["legal_basis"]["zh"], BASIS);
    assert_eq!(pending[0]["person_name"], "钱* · 2201**********1235");

    // No one approves their own request, even holding the reviewer role;
    // health officials are not reviewers.
    let decide = |r: &str| s.url(&format!("/api/v1/approval-requests/{r}/decision"));
    let ok_note =
        json!({"approve": true, "note": note("已核实同住关系", "Household contact verified")});
    let (st, err) = post(&carol, decide(&carols), ok_note.clone()).await;
    assert_eq!(st, 403, "{err}");
    assert_eq!(err["error"]["code"], "self_approval");
    assert!(
        err["error"]["message"]["zh"]
            .as_str()
            .unwrap()
            .contains("审批"),
        "{err}"
    );
    let (st, _) = post(&alice, decide(&request), ok_note.clone()).await;
    assert_eq!(st, 403);
    let (st, err) = post(
        &bob,
        decide(&request),
        json!({"approve": false, "note": note("", "")}),
    )
    .await;
    assert_eq!(st, 422);
    assert_eq!(err["error"]["field"], "note");

    // Bob approves Alice's request: it becomes an event the colour cites.
    let (st, approved) = post(&bob, decide(&request), ok_note.clone()).await;
    assert_eq!(st, 200, "{approved}");
    assert_eq!(approved["state"], "approved");
    let event_id = approved["outcome"]["event_id"].as_str().unwrap().to_owned();
    let (_, code) = get(&citizen, s.url("/api/v1/me/code")).await;
    assert_eq!(code["colour"], "red", "{code}");
    assert!(
        code["fired"][0]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == event_id.as_str()),
        "the colour cites the override: {code}"
    );
    let (st, _) = post(&bob, decide(&request), ok_note.clone()).await;
    assert_eq!(st, 409, "decided once");
    let (st, rejected) = post(
        &bob,
        decide(&carols),
        json!({"approve": false, "note": note("依据不足", "Insufficient grounds")}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(rejected["state"], "rejected");

    // An undecided request expires at its deadline.
    let (_, late) = post(&alice, url.clone(), override_body(id, "yellow")).await;
    let late = late["id"].as_str().unwrap().to_owned();
    s.clock.advance(Duration::hours(25));
    // Officials' sessions last 12 hours: sign in again.
    let (alice, bob, carol) = (
        s.official("alice").await,
        s.official("bob").await,
        s.official("carol").await,
    );
    let (_, pending) = get(&bob, s.url("/api/v1/override-requests")).await;
    assert_eq!(pending, json!([]));
    let (_, expired) = get(&bob, s.url(&format!("/api/v1/approval-requests/{late}"))).await;
    assert_eq!(expired["state"], "expired");
    let (st, _) = post(&bob, decide(&late), ok_note.clone()).await;
    assert_eq!(st, 409);

    // Rate limit: five an hour per official, refused in both languages.
    for _ in 0..5 {
        let (st, r) = post(&alice, url.clone(), override_body(id, "green")).await;
        assert_eq!(st, 201, "{r}");
    }
    let r = alice
        .post(url.clone())
        .json(&override_body(id, "green"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "rate_limited");
    assert!(
        err["error"]["message"]["en"]
            .as_str()
            .unwrap()
            .contains("at most 5 override requests"),
        "{err}"
    );
    assert!(
        err["error"]["message"]["zh"]
            .as_str()
            .unwrap()
            .contains("5 项人工改码申请"),
        "{err}"
    );
    // Carol's allowance is her own.
    let (st, _) = post(&carol, url.clone(), override_body(id, "green")).await;
    assert_eq!(st, 201);

    // Every step is in the chain, about the person; the chain verifies.
    let about = s.store.audit_about(id).await.unwrap();
    let acts = actions(&about);
    for a in [
        "override.requested",
        "override.approved",
        "override.rejected",
        "override.expired",
    ] {
        assert!(acts.contains(&a), "{a} missing from {acts:?}");
    }
    assert!(s.store.verify_audit(None).await.unwrap().is_ok());

    // The person reads it in plain words, with the legal basis and the rule citing it.
    let (_, record) = get(&citizen, s.url("/api/v1/me/record")).await;
    assert_eq!(record["chain"]["intact"], true, "{record}");
    let entry = record["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "override.approved")
        .unwrap();
    assert_eq!(entry["legal_basis"]["zh"], BASIS);
    assert!(
        entry["who"]["en"]
            .as_str()
            .unwrap()
            .contains("reviewer bob"),
        "{entry}"
    );
    assert!(
        !entry["cited_by_rules"].as_array().unwrap().is_empty(),
        "{entry}"
    );
    assert_eq!(record["override_requests"].as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn bulk_designation_applies_item_by_item() {
    let s = TestServer::start().await;
    let one = s.signed_in("13800138111").await;
    let p1 = s.apply(&one, "孙一", "220104198506120025").await;
    let two = s.signed_in("13800138112").await;
    let p2 = s.apply(&two, "孙二", "220203197511203452").await;
    let alice = s.official("alice").await;
    let bob = s.official("bob").await;
    let url = s.url("/api/v1/bulk-actions");
    let body = |ids: Value| {
        json!({
            "action": "close_contact",
            "case_reference": "JL-2022-0614-03",
            "identities": ids,
            "reason": {"zh": "同一航班密接", "en": "Close contacts on the same flight"},
            "legal_basis": {"zh": "吉林省疫情防控指挥部〔2022〕12号", "en": "Jilin epidemic-control HQ decision [2022] No. 12"}
        })
    };
    let mut bad = body(json!(["220104198506120025"]));
    bad["action"] = json!("make_red");
    let (st, err) = post(&alice, url.clone(), bad).await;
    assert_eq!((st, err["error"]["field"].as_str()), (422, Some("action")));
    let mut bad = body(json!(["220104198506120025"]));
    bad["legal_basis"] = note("", "");
    let (st, err) = post(&alice, url.clone(), bad).await;
    assert_eq!(
        (st, err["error"]["field"].as_str()),
        (422, Some("legal_basis"))
    );
    let (st, err) = post(&alice, url.clone(), body(json!([]))).await;
    assert_eq!(
        (st, err["error"]["field"].as_str()),
        (422, Some("identities"))
    );

    let items = json!([
        "220104198506120025",
        "220102199003071234",
        "220203197511203452",
        "220104198506120025",
        "E12345678",
        "not a number!"
    ]);
    let (st, asked) = post(&alice, url.clone(), body(items)).await;
    assert_eq!(st, 201, "{asked}");
    assert_eq!(
        asked["asks"]["identities"][0], "2201**********0025",
        "masked"
    );
    let request = asked["id"].as_str().unwrap().to_owned();
    // Nothing happens before a second official approves.
    let (_, code) = get(&one, s.url("/api/v1/me/code")).await;
    assert_eq!(code["colour"], "green");
    let (st, _) = post(
        &alice,
        s.url(&format!("/api/v1/approval-requests/{request}/decision")),
        json!({"approve": true, "note": note("同意", "Agreed")}),
    )
    .await;
    assert_eq!(st, 403);
    let (st, done) = post(
        &bob,
        s.url(&format!("/api/v1/approval-requests/{request}/decision")),
        json!({"approve": true, "note": note("名单已核对", "List checked")}),
    )
    .await;
    assert_eq!(st, 200, "{done}");
    let outcome = &done["outcome"];
    assert_eq!(outcome["applied"], 2, "{outcome}");
    assert_eq!(outcome["skipped"], 4, "{outcome}");
    let results = outcome["results"].as_array().unwrap();
    let status: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        ["applied", "skipped", "applied", "skipped", "skipped", "skipped"]
    );
    assert!(
        results[1]["reason"]["en"]
            .as_str()
            .unwrap()
            .contains("check"),
        "{}",
        results[1]
    );
    assert!(results[3]["reason"]["en"]
        .as_str()
        .unwrap()
        .contains("more than once"));
    assert!(results[4]["reason"]["en"]
        .as_str()
        .unwrap()
        .contains("No one"));
    assert!(results[5]["reason"]["en"]
        .as_str()
        .unwrap()
        .contains("letters or digits"));

    // Both people are close contacts now, each with one entry of their own.
    for (client, p) in [(&one, &p1), (&two, &p2)] {
        let (_, code) = get(client, s.url("/api/v1/me/code")).await;
        assert_eq!(code["colour"], "orange", "{code}");
        let about = s
            .store
            .audit_about(p["id"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(
            actions(&about)
                .iter()
                .filter(|a| **a == "bulk.item_applied")
                .count(),
            1
        );
        let events = s
            .store
            .events(&healthcode_store::PersonId::parse(p["id"].as_str().unwrap()).unwrap())
            .await
            .unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e.fact(), healthcode_core::Fact::CloseContact { .. }))
                .count(),
            1,
            "applied once, never twice"
        );
    }
    let bulk = s
        .store
        .audit_about(&format!("bulk:{request}"))
        .await
        .unwrap();
    assert_eq!(
        actions(&bulk),
        [
            "bulk.requested",
            "bulk.item_skipped",
            "bulk.item_skipped",
            "bulk.item_skipped",
            "bulk.item_skipped",
            "bulk.approved"
        ]
    );
    assert!(
        !bulk
            .iter()
            .any(|e| e.record.details.contains("22010419850612")),
        "identity numbers never enter the chain"
    );

    // Two bulk requests an hour per official.
    let (st, _) = post(&alice, url.clone(), body(json!(["220104198506120025"]))).await;
    assert_eq!(st, 201);
    let (st, err) = post(&alice, url.clone(), body(json!(["220104198506120025"]))).await;
    assert_eq!(st, 429, "{err}");
    assert!(err["error"]["message"]["en"]
        .as_str()
        .unwrap()
        .contains("bulk-action requests"));
}

#[tokio::test]
async fn a_correction_request_is_answered_and_the_person_sees_it() {
    let s = TestServer::start().await;
    let citizen = s.signed_in("13800138121").await;
    let person = s.apply(&citizen, "周八", "220302196204056784").await;
    let id = person["id"].as_str().unwrap();
    let other = s.signed_in("13800138122").await;
    s.apply(&other, "吴九", "110105200109091110").await;
    let url = s.url("/api/v1/me/corrections");

    let (st, err) = post(
        &citizen,
        url.clone(),
        json!({"about": {"type": "colour"}, "text": "  "}),
    )
    .await;
    assert_eq!((st, err["error"]["field"].as_str()), (422, Some("text")));
    // An entry about someone else cannot be disputed.
    let others = s.store.audit_entries(0, 100).await.unwrap();
    let foreign = others.iter().find(|e| e.record.subject != id).unwrap().seq;
    let (st, err) = post(
        &citizen,
        url.clone(),
        json!({"about": {"type": "audit_entry", "seq": foreign}, "text": "这不是我"}),
    )
    .await;
    assert_eq!(
        (st, err["error"]["field"].as_str()),
        (422, Some("about.seq"))
    );
    let mine = s.store.audit_about(id).await.unwrap()[0].seq;
    let (st, filed) = post(
        &citizen,
        url.clone(),
        json!({"about": {"type": "audit_entry", "seq": mine}, "text": "我已做核酸，结果阴性，但码未变。"}),
    )
    .await;
    assert_eq!(st, 201, "{filed}");
    let cid = filed["id"].as_str().unwrap().to_owned();
    s.clock.advance(Duration::seconds(1));
    let (st, _) = post(
        &citizen,
        url.clone(),
        json!({"about": {"type": "colour"}, "text": "颜色不对"}),
    )
    .await;
    assert_eq!(st, 201);

    // Officials see the queue oldest first; past the deadline it is overdue.
    let alice = s.official("alice").await;
    let (_, q) = get(&alice, s.url("/api/v1/corrections")).await;
    assert_eq!(q[0]["id"], cid.as_str());
    assert_eq!(q[0]["overdue"], false);
    assert_eq!(q[0]["person"], "周* · 2203**********6784");
    s.clock.advance(Duration::hours(73));
    let alice = s.official("alice").await;
    let (_, q) = get(&alice, s.url("/api/v1/corrections")).await;
    assert_eq!(q[0]["overdue"], true);
    let html = alice
        .get(s.url("/official/oversight?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("class=\"entry overdue\"") && html.contains("Overdue"),
        "overdue highlighted"
    );

    let answer = s.url(&format!("/api/v1/corrections/{cid}/answer"));
    let (st, err) = post(
        &alice,
        answer.clone(),
        json!({"decision": "reject", "message": note("", "")}),
    )
    .await;
    assert_eq!((st, err["error"]["field"].as_str()), (422, Some("message")));
    let (st, err) = post(
        &alice,
        answer.clone(),
        json!({"decision": "accept", "action": "fact_recorded", "reference": "ev-nope", "message": note("已补录", "Recorded")}),
    )
    .await;
    assert_eq!(
        (st, err["error"]["field"].as_str()),
        (422, Some("reference"))
    );
    // The official records the missing test result, then answers with it.
    let (st, event) = post(
        &alice,
        s.url(&format!("/api/v1/people/{id}/events")),
        json!({"type": "test_result", "test": "pcr", "outcome": "negative", "lab": "吉林大学第一医院"}),
    )
    .await;
    assert_eq!(st, 201, "{event}");
    let event_id = event["id"].as_str().unwrap();
    let (st, answered) = post(
        &alice,
        answer.clone(),
        json!({"decision": "accept", "action": "fact_recorded", "reference": event_id,
               "message": note("已补录您的核酸阴性结果。", "Your negative PCR result has been recorded.")}),
    )
    .await;
    assert_eq!(st, 200, "{answered}");
    let (st, _) = post(
        &alice,
        answer.clone(),
        json!({"decision": "reject", "message": note("重复", "Duplicate")}),
    )
    .await;
    assert_eq!(st, 409, "answered once");

    // The person sees the answer, and the answer in the chain.
    let (_, record) = get(&citizen, s.url("/api/v1/me/record")).await;
    let c = record["corrections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == cid.as_str())
        .unwrap();
    assert_eq!(c["state"], "accepted");
    assert_eq!(c["answer"]["reference"], event_id);
    assert_eq!(c["answer"]["by_role"]["en"], "health official");
    assert!(record["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "correction.answered"
            && e["what"]["en"].as_str().unwrap().contains("accepted")));
    for (lang, words) in [
        ("zh", "已补录您的核酸阴性结果"),
        ("en", "Your negative PCR result has been recorded"),
    ] {
        let html = citizen
            .get(s.url(&format!("/me/record?lang={lang}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(words), "{lang}: {html}");
        assert!(html.contains(if lang == "zh" {
            "我的记录"
        } else {
            "My record"
        }));
    }
    // Filing through the page works too, and errors come back on the page.
    let r = citizen
        .post(s.url("/me/corrections?lang=en"))
        .form(&[("about", "colour"), ("text", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Say what is wrong"));
    let r = citizen
        .post(s.url("/me/corrections"))
        .form(&[("about", "colour"), ("text", "仍是黄码")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn a_citizen_reads_only_their_own_record_and_export() {
    let s = TestServer::start().await;
    let a = s.signed_in("13800138131").await;
    let pa = s.apply(&a, "郑甲", "220102199003071235").await;
    let b = s.signed_in("13800138132").await;
    let pb = s.apply(&b, "王乙", "220104198506120025").await;
    let (ida, idb) = (pa["id"].as_str().unwrap(), pb["id"].as_str().unwrap());
    let alice = s.official("alice").await;
    let (st, _) = get(
        &alice,
        s.url(&format!(
            "/api/v1/people/{idb}/status?purpose=test%20of%20isolation"
        )),
    )
    .await;
    assert_eq!(st, 200);

    let (_, record) = get(&a, s.url("/api/v1/me/record")).await;
    let seqs: Vec<u64> = record["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let mine: Vec<u64> = s
        .store
        .audit_about(ida)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, mine, "exactly A's entries");
    assert!(
        record["accesses"].as_array().unwrap().is_empty(),
        "B's access log is B's"
    );

    // A carrier stay for A's phone and one for B's: only A's is A's.
    let hasher = TestServer::phone_hasher();
    let stay = |phone: &str, city: &str| healthcode_store::itinerary::CarrierStay {
        phone: hasher.hash(&healthcode_server::security::Phone::parse(phone).unwrap()),
        city: healthcode_core::itinerary::CityCode::parse(city).unwrap(),
        first_seen: T0 - Duration::hours(30),
        last_seen: T0 - Duration::hours(20),
        cell: None,
        carrier: Some("DEMO-carrier".into()),
    };
    s.store
        .insert_carrier_stays(&[stay("13800138131", "220100"), stay("13800138132", "110100")])
        .await
        .unwrap();
    // A checks in at a venue with a child; B checks in there too.
    let r = alice
        .post(s.url("/api/v1/venues"))
        .json(
            &json!({"name": "演示书店 DEMO Books", "address": "长春市朝阳区演示街 9 号",
                      "region_code": "220104", "category": "shop", "mode": "open"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let venue: Value = r.json().await.unwrap();
    let venue_id = venue["venue"]["id"].as_str().unwrap().to_owned();
    let token = venue["venue"]["check_in_url"]
        .as_str()
        .unwrap()
        .split("/v/")
        .nth(1)
        .unwrap()
        .to_owned();
    let (st, _) = post(
        &a,
        s.url("/api/v1/me/dependents"),
        json!({"name": "郑小甲", "identity_number": "220102201503071231"}),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _) = post(
        &a,
        s.url("/api/v1/checkins"),
        json!({"venue_token": token, "dependents": [1]}),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _) = post(&b, s.url("/api/v1/checkins"), json!({"venue_token": token})).await;
    assert_eq!(st, 201);

    // A's entries now (adding the dependent is one).
    let mine = s.store.audit_about(ida).await.unwrap();
    let r = a.get(s.url("/api/v1/me/export")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = r.text().await.unwrap();
    assert!(
        !text.contains(idb) && !text.contains("王乙") && !text.contains("220104198506120025"),
        "nothing of B"
    );
    let export: Value = serde_json::from_str(&text).unwrap();
    let sections = &export["sections"];
    assert_eq!(sections["person"]["id"], ida);
    assert_eq!(sections["person"]["full_name"], "郑甲");
    assert_eq!(sections["person"]["identity"]["id"], "220102199003071235");
    assert_eq!(sections["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        sections["audit_entries"].as_array().unwrap().len(),
        mine.len()
    );
    assert_eq!(sections["sessions"].as_array().unwrap().len(), 1);
    assert!(!text.contains("token_hash"), "no session token hashes");
    let session = sections["sessions"][0].as_object().unwrap();
    assert_eq!(
        session.keys().collect::<Vec<_>>(),
        ["created_at", "expires_at"],
        "times only"
    );
    assert_eq!(
        sections["carrier_stays"].as_array().unwrap().len(),
        1,
        "{}",
        sections["carrier_stays"]
    );
    assert_eq!(sections["carrier_stays"][0]["city"], "220100");
    // The dependent in full (A entered them), and A's two check-ins (A and
    // the child) with the venue's name; B's is not there.
    assert_eq!(
        sections["dependents"],
        json!([{"number": 1, "full_name": "郑小甲",
                "identity": {"type": "resident", "id": "220102201503071231"},
                "created_at": sections["dependents"][0]["created_at"]}]),
        "{}",
        sections["dependents"]
    );
    let checkins = sections["checkins"].as_array().unwrap();
    assert_eq!(checkins.len(), 2, "{checkins:?}");
    for c in checkins {
        assert_eq!(c["venue"], venue_id.as_str());
        assert_eq!(c["venue_name"], "演示书店 DEMO Books");
        assert!(c["arrived"].is_string() && c["left"].is_string(), "{c}");
    }
    assert!(checkins[0]["dependent"].is_null() || checkins[1]["dependent"].is_null());
    assert!(
        checkins
            .iter()
            .any(|c| c["dependent"] == json!({"number": 1, "full_name": "郑小甲"})),
        "{checkins:?}"
    );
    assert!(export["notes"]["en"]
        .as_str()
        .unwrap()
        .contains("sealed venues"));
    for key in [
        "correction_requests",
        "override_requests",
        "access_log",
        "itinerary_card_queries",
    ] {
        assert!(sections[key].is_array(), "{key}");
    }
    // The export itself is in A's record.
    assert_eq!(
        actions(&s.store.audit_about(ida).await.unwrap()).last(),
        Some(&"export.downloaded")
    );

    // The API document lists the oversight operations.
    let doc: Value = s
        .client()
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/override-requests",
        "/api/v1/bulk-actions",
        "/api/v1/approval-requests/{id}/decision",
        "/api/v1/corrections/{id}/answer",
        "/api/v1/me/record",
        "/api/v1/me/export",
        "/api/v1/me/access-log",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }

    // No session, or an official's session, reads no one's record.
    for path in [
        "/api/v1/me/record",
        "/api/v1/me/export",
        "/api/v1/me/access-log",
    ] {
        let (st, _) = get(&s.client(), s.url(path)).await;
        assert_eq!(st, 401, "{path}");
        let (st, _) = get(&alice, s.url(path)).await;
        assert_eq!(st, 401, "{path} as an official");
    }
}

#[tokio::test]
async fn the_access_log_shows_an_officials_look_up_and_its_purpose() {
    let s = TestServer::start().await;
    let citizen = s.signed_in("13800138141").await;
    let person = s.apply(&citizen, "冯丙", "220203197511203452").await;
    let id = person["id"].as_str().unwrap();
    let alice = s.official("alice").await;

    let (st, err) = get(&alice, s.url("/api/v1/people?identity=220203197511203452")).await;
    assert_eq!((st, err["error"]["field"].as_str()), (422, Some("purpose")));
    let (st, err) = get(&alice, s.url(&format!("/api/v1/people/{id}/status"))).await;
    assert_eq!((st, err["error"]["field"].as_str()), (422, Some("purpose")));
    let (st, _) = get(
        &alice,
        s.url("/api/v1/people?identity=220203197511203452&purpose=%E6%B5%81%E8%B0%83%20JL-0614"),
    )
    .await;
    assert_eq!(st, 200);
    s.clock.advance(Duration::minutes(5));
    let (st, _) = get(
        &alice,
        s.url(&format!(
            "/api/v1/people/{id}/status?purpose=follow-up%20of%20JL-0614"
        )),
    )
    .await;
    assert_eq!(st, 200);
    // The officials' page asks for a purpose too.
    let r = alice
        .get(s.url("/official?identity=220203197511203452&lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let (st, log) = get(&citizen, s.url("/api/v1/me/access-log")).await;
    assert_eq!(st, 200);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["what"], "view");
    assert_eq!(log[0]["purpose"], "follow-up of JL-0614");
    assert_eq!(log[1]["what"], "lookup");
    assert_eq!(log[1]["purpose"], "流调 JL-0614");
    assert_eq!(log[1]["official"], "alice");
    assert_eq!(log[1]["role"]["zh"], "卫生健康工作人员");
    let html = citizen
        .get(s.url("/me/record?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Who accessed my data") && html.contains("follow-up of JL-0614"));
    let acts = actions(&s.store.audit_about(id).await.unwrap())
        .into_iter()
        .filter(|a| *a == "person.accessed")
        .count();
    assert_eq!(acts, 2, "each read is in the audit chain too");
}
