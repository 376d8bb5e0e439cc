use healthcode_codec::compress::{Deflater, Inflater};
use healthcode_codec::verify::Content;
use healthcode_codec::{base45, TrustList, TrustStore, Verifier, VerifyOptions, PREFIX};
use healthcode_store::Store;
use serde_json::{json, Value};

use crate::support::{TestServer, T0};

async fn verify(s: &TestServer, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(s.url("/api/verify"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn codes(v: &Value) -> Vec<&str> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect()
}

fn code_id(s: &TestServer, code: &str) -> String {
    let mut store = TrustStore::new();
    store.add_trust_list(&TrustList::open(&s.trust_list, None).unwrap());
    let options = VerifyOptions {
        clock_skew: 0,
        accept_demo: true,
    };
    let a = Verifier::with_options(store, options)
        .verify(code, T0.unix_timestamp())
        .unwrap();
    match a.content {
        Content::HealthCode(c) => c.code_id_hex(),
        Content::Dcc(_) => panic!("not our code"),
    }
}

/// The same code with the last byte of its signature flipped.
fn forged(code: &str) -> String {
    let packed = base45::decode(code.strip_prefix(PREFIX).unwrap()).unwrap();
    let mut cose = Vec::new();
    Inflater::default().inflate(&packed, &mut cose).unwrap();
    let last = cose.len() - 1;
    cose[last] ^= 1;
    let mut out = Vec::new();
    Deflater::default().deflate(&cose, &mut out);
    format!("{PREFIX}{}", base45::encode(&out))
}

#[tokio::test]
async fn verify_judges_codes_under_policies_and_revocations_publish_signed() {
    let s = TestServer::start().await;
    let citizen = s.signed_in("13800138030").await;
    s.apply(&citizen, "孙小美", "330106198805120015").await;
    let live: Value = citizen
        .get(s.url("/api/v1/me/code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = live["code"].as_str().unwrap().to_owned();

    let (status, v) = verify(&s, json!({"code": code})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["verdict"], "pass", "{v}");
    assert_eq!(v["policy"], "metro");
    assert_eq!(v["colour"], "green");
    assert_eq!(v["kind"], "resident");
    assert_eq!(v["masked_name"], "孙*美");
    assert_eq!(v["masked_id"], "3301**********0015");
    assert_eq!(v["issuer"], "DEMO-22");
    assert_eq!(
        v["demo"], true,
        "a demo deployment accepts its DEMO codes, marked"
    );
    assert_eq!(codes(&v), ["colour_pass"]);
    assert!(v["reasons"][0]["zh"].as_str().unwrap().contains("绿码"));

    let (_, v) = verify(&s, json!({"code": code, "policy": "airport"})).await;
    assert_eq!(v["verdict"], "deny");
    assert_eq!(
        codes(&v),
        [
            "negative_test_required",
            "itinerary_card_required",
            "colour_pass"
        ]
    );
    let (_, v) = verify(&s, json!({"code": code, "policy": "hospital"})).await;
    assert_eq!(v["verdict"], "restrict", "{v}");

    let (_, v) = verify(&s, json!({"code": forged(&code)})).await;
    assert_eq!(
        (v["verdict"].as_str(), codes(&v)),
        (Some("deny"), vec!["bad_signature"])
    );
    assert!(
        v["masked_name"].is_null(),
        "nothing shown from a forged code"
    );
    let (_, v) = verify(&s, json!({"code": "HCP1:%%%"})).await;
    assert_eq!(codes(&v), ["bad_base45"]);

    // The code expires: the server's clock moves on.
    s.clock.advance(time::Duration::hours(1));
    let (_, v) = verify(&s, json!({"code": code})).await;
    assert_eq!(codes(&v), ["expired"]);
    s.clock.advance(time::Duration::hours(-1));

    // Revocation: officials only, audited, published signed, applied at once.
    let id = code_id(&s, &code);
    let body = json!({"code_id": id, "reason": "screenshot shared"});
    let r = citizen
        .post(s.url("/api/v1/revocations"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let bob = s.official("bob").await;
    let r = bob
        .post(s.url("/api/v1/revocations"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let alice = s.official("alice").await;
    for (bad, field) in [
        (json!({"code_id": "xyz", "reason": "r"}), "code_id"),
        (json!({"code_id": id, "reason": "  "}), "reason"),
    ] {
        let r = alice
            .post(s.url("/api/v1/revocations"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let r = alice
        .post(s.url("/api/v1/revocations"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = alice
        .post(s.url("/api/v1/revocations"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let (_, v) = verify(&s, json!({"code": code})).await;
    assert_eq!(codes(&v), ["revoked"]);

    let audit = s.store.audit_about(&format!("code:{id}")).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.record.action == "code.revoked" && e.record.actor == "official:alice"));
    let listed: Value = alice
        .get(s.url("/api/v1/revocations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["code_id"], id);

    let published = reqwest::get(s.url("/.well-known/healthcode/revocations.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut store = TrustStore::new();
    store.add_trust_list(&TrustList::open(&s.trust_list, None).unwrap());
    assert_eq!(store.add_revocation_list(&published).unwrap(), 1);
    assert!(
        !published.contains("screenshot"),
        "reasons are not published"
    );

    let bundle: Value = reqwest::get(s.url("/api/v1/checkpoint/bundle"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bundle["revocations"], published);
    assert_eq!(bundle["trust_lists"][0], s.trust_list);
    assert_eq!(bundle["policies"].as_array().unwrap().len(), 3);
    assert_eq!(bundle["pins"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn verify_refuses_bad_requests_with_the_field() {
    let s = TestServer::start().await;
    let long = "H".repeat(5000);
    for (body, field) in [
        (json!({"code": ""}), "code"),
        (json!({"code": long}), "code"),
        (json!({"code": "HCP1:x", "policy": "zoo"}), "policy"),
        (
            json!({"code": "HCP1:x", "extra_codes": ["a", "b", "c", "d", "e"]}),
            "extra_codes",
        ),
        (
            json!({"code": "HCP1:x", "extra_codes": [" "]}),
            "extra_codes[0]",
        ),
        (json!({"code": 5}), "code"),
        (json!({"code": "HCP1:x", "colour": "green"}), ""),
    ] {
        let (status, e) = verify(&s, body.clone()).await;
        assert_eq!(status, 422, "{body} → {e}");
        if !field.is_empty() {
            assert_eq!(e["error"]["field"], field, "{body} → {e}");
        }
        assert!(e["error"]["message"]["zh"].is_string());
    }
    let r = reqwest::Client::new()
        .post(s.url("/api/verify"))
        .body("code=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = reqwest::Client::new()
        .post(s.url("/api/verify"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn checkpoint_page_assets_and_revocation_page() {
    let s = TestServer::start().await;
    for (path, needle) in [
        ("/checkpoint?lang=zh", "卡口核验"),
        ("/checkpoint?lang=en", "Checkpoint"),
        ("/checkpoint-sw.js", "caches"),
        ("/assets/checkpoint.js", "hcCheckpoint"),
        ("/assets/jsqr.js", "jsQR"),
    ] {
        let r = reqwest::get(s.url(path)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.text().await.unwrap().contains(needle), "{path}");
    }
    let page = reqwest::get(s.url("/checkpoint"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fingerprint = TrustList::open(&s.trust_list, None)
        .unwrap()
        .publisher_fingerprint();
    assert!(page.contains(&fingerprint), "the page pins the publisher");

    let anonymous = s.client();
    let r = anonymous
        .get(s.url("/official/revocations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let alice = s.official("alice").await;
    let r = alice
        .post(s.url("/official/revocations?lang=en"))
        .form(&[("code_id", "nothex"), ("reason", "lost")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("32 hex digits"));
    let r = alice
        .post(s.url("/official/revocations?lang=en"))
        .form(&[
            ("code_id", "00112233445566778899aabbccddeeff"),
            ("reason", "lost"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("00112233445566778899aabbccddeeff") && html.contains("Revoked"));
}
