use healthcode_codec::trust::TrustList;
use healthcode_codec::verify::Content;
use healthcode_codec::{TrustStore, Verifier, VerifyOptions};
use healthcode_store::Store;
use serde_json::{json, Value};
use time::Duration;

use crate::support::TestServer;

fn verifier(trust_list: &str) -> Verifier {
    let mut store = TrustStore::new();
    store.add_trust_list(&TrustList::open(trust_list, None).unwrap());
    Verifier::with_options(
        store,
        VerifyOptions {
            accept_demo: true,
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn apply_see_a_verifiable_code_and_why() {
    let s = TestServer::start().await;
    let client = s.signed_in("13800138000").await;
    let person = s.apply(&client, "张三", "220102199003071235").await;
    assert_eq!(person["name"], "张*");
    assert_eq!(person["document"], "2201**********1235");
    assert_eq!(person["kind"], "resident");

    let code: Value = client
        .get(s.url("/api/v1/me/code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A declaration without fever under the Jilin rules: green, by default.
    assert_eq!(code["colour"], "green", "{code}");
    assert!(code["explanation"]["zh"].as_str().unwrap().len() > 3);
    assert!(code["refresh_in_seconds"].as_i64().unwrap() < 120);

    // The code verifies offline with the published trust list.
    let published = reqwest::get(s.url("/.well-known/healthcode/trust-list.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(published, s.trust_list);
    let now = healthcode_server::Clock::now(&*s.clock).unix_timestamp();
    let ok = verifier(&published)
        .verify(code["code"].as_str().unwrap(), now)
        .unwrap();
    let Content::HealthCode(claims) = ok.content else {
        panic!()
    };
    assert_eq!(claims.masked_name, "张*");
    assert!(claims.demo);

    // A screenshot goes stale: three minutes later the same string is refused.
    let stale = verifier(&published)
        .verify(code["code"].as_str().unwrap(), now + 180)
        .unwrap_err();
    assert_eq!(stale.reason.as_str(), "expired");

    // An official records a fever at a checkpoint: the next code is yellow,
    // with the reading as evidence; a normal reading later turns it green.
    let official = s.official("alice").await;
    let id = person["id"].as_str().unwrap();
    let r = official
        .post(s.url(&format!("/api/v1/people/{id}/events")))
        .json(&json!({"type": "temperature", "celsius": 37.9, "site": "Changchun Railway Station"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let event: Value = r.json().await.unwrap();
    s.clock.advance(Duration::minutes(1));
    let code: Value = client
        .get(s.url("/api/v1/me/code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code["colour"], "yellow", "{code}");
    assert!(
        code["fired"][0]["evidence"]
            .as_array()
            .unwrap()
            .contains(&event["id"]),
        "{code}"
    );

    s.clock.advance(Duration::hours(2));
    official
        .post(s.url(&format!("/api/v1/people/{id}/events")))
        .json(&json!({"type": "temperature", "celsius": 36.6, "site": "Changchun Railway Station"}))
        .send()
        .await
        .unwrap();
    s.clock.advance(Duration::minutes(1));
    let code: Value = client
        .get(s.url("/api/v1/me/code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code["colour"], "green", "{code}");

    // The audit chain holds every step and verifies.
    let entries = s.store.audit_entries(0, 1000).await.unwrap();
    assert!(entries.len() >= 4, "{}", entries.len());
    healthcode_core::audit::verify_chain(entries.iter(), None).unwrap();
    assert!(entries.iter().any(|e| e.record.actor == "official:alice"));
}

#[tokio::test]
async fn traveller_with_passport_and_a_declared_fever() {
    let s = TestServer::start().await;
    let client = s.signed_in("+447700900123").await;
    let r = client
        .post(s.url("/api/v1/applications"))
        .json(&json!({
            "name": "John Smith",
            "identity": {"kind": "passport", "country": "GBR", "number": "123456789"},
            "declaration": {"temperature": 38.1, "travel": ["Shanghai"], "contact_with_case": true}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let person: Value = r.json().await.unwrap();
    assert_eq!(person["kind"], "traveller");
    let code: Value = client
        .get(s.url("/api/v1/me/code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code["person"]["kind"], "traveller");
    // The Jilin rules turn a code yellow on an on-site reading, not on a
    // self-declared one; the declaration is kept in full for officials.
    assert_eq!(code["colour"], "green", "{code}");
    let alice = s.official("alice").await;
    let id = person["id"].as_str().unwrap();
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
    let fact = &status["events"][0]["event"]["fact"];
    assert_eq!(fact["fever"], true, "{status}");
    assert_eq!(fact["travel"][0], "Shanghai", "{status}");
    assert_eq!(fact["contact_with_case"], true, "{status}");
}

#[tokio::test]
async fn pages_in_both_languages() {
    let s = TestServer::start().await;
    let client = s.signed_in("13800138002").await;
    s.apply(&client, "李四", "220104198506120025").await;
    let zh = client
        .get(s.url("/code"))
        .header("accept-language", "zh-CN,zh")
        .send()
        .await
        .unwrap();
    assert_eq!(zh.status(), 200);
    let zh = zh.text().await.unwrap();
    assert!(
        zh.contains("我的健康码") && zh.contains("<svg") && zh.contains("DEMO"),
        "{zh}"
    );
    let en = client
        .get(s.url("/code?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        en.contains("My health code") && en.contains("Why is my code this colour?"),
        "{en}"
    );
    // The language switch sets a cookie and returns to the page.
    let r = client
        .get(s.url("/lang?to=en&next=/code"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("hc_lang=en"));
    // Never an open redirect.
    let r = client
        .get(s.url("/lang?to=en&next=//evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/");
    // The fragment the page refreshes holds a fresh code.
    let live = client
        .get(s.url("/code/live?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(live.contains("data-code=\"HCP1:"), "{live}");
}

#[tokio::test]
async fn otp_rules() {
    let s = TestServer::start().await;
    let c = s.client();
    let phone = "13800138003";
    assert_eq!(
        c.post(s.url("/api/v1/otp"))
            .json(&json!({"phone": phone}))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    // A second request within a minute is limited.
    let r = c
        .post(s.url("/api/v1/otp"))
        .json(&json!({"phone": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // Wrong codes count down, then the challenge is gone.
    for _ in 0..5 {
        let r = c
            .post(s.url("/api/v1/otp/verify"))
            .json(&json!({"phone": phone, "code": "000000"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error());
    }
    let code = s.sms_code(phone).await;
    let r = c
        .post(s.url("/api/v1/otp/verify"))
        .json(&json!({"phone": phone, "code": code}))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error(),
        "the code is burnt after 5 wrong tries"
    );
    // Codes expire.
    s.clock.advance(Duration::minutes(2));
    c.post(s.url("/api/v1/otp"))
        .json(&json!({"phone": phone}))
        .send()
        .await
        .unwrap();
    let code = s.sms_code(phone).await;
    s.clock.advance(Duration::minutes(6));
    let r = c
        .post(s.url("/api/v1/otp/verify"))
        .json(&json!({"phone": phone, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // Phone numbers are stored only hashed.
    let hash =
        TestServer::phone_hasher().hash(&healthcode_server::security::Phone::parse(phone).unwrap());
    assert!(s.store.otp(&hash).await.unwrap().is_none());
}
