//! The itinerary card over HTTP: carriers post stays, officials publish
//! risk areas, a citizen queries the card (API and pages), a checkpoint
//! verifies its QR offline.

use healthcode_codec::trust::TrustList;
use healthcode_codec::verify::Content;
use healthcode_codec::{TrustStore, Verifier, VerifyOptions};
use healthcode_core::CodeKind;
use healthcode_server::itinerary::service::carrier_key_hash;
use healthcode_store::itinerary::{CarrierAccount, ItineraryStore};
use healthcode_store::Store;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::support::{TestServer, T0};

const KEY: &str = "hck_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn at(hours_ago: i64) -> String {
    (T0 - Duration::hours(hours_ago)).format(&Rfc3339).unwrap()
}

async fn carrier(s: &TestServer) -> reqwest::Client {
    s.store
        .create_carrier_account(&CarrierAccount {
            name: "test-mobile".into(),
            display_name: "Test Mobile".into(),
            key_hash: carrier_key_hash(KEY),
            created_at: T0,
        })
        .await
        .unwrap();
    s.client()
}

fn stay(phone: &str, city: &str, from_h: i64, to_h: i64) -> Value {
    json!({"phone": phone, "city_code": city, "first_seen": at(from_h), "last_seen": at(to_h)})
}

#[tokio::test]
async fn carriers_post_stays_item_by_item() {
    let s = TestServer::start().await;
    let c = carrier(&s).await;
    let url = s.url("/api/v1/carrier/stays");
    let items = json!({"items": [
        stay("13800000001", "220100", 100, 80),
        stay("13800000001", "220199", 100, 80),
        {"phone": "13800000001"},
        stay("13800000001", "110100", 10, 20),
        stay("13800000001", "220100", 100, 80),
    ]});
    let r = c
        .post(&url)
        .bearer_auth(KEY)
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        (
            b["imported"].as_u64(),
            b["already_present"].as_u64(),
            b["rejected"].as_u64()
        ),
        (Some(1), Some(1), Some(3)),
        "{b}"
    );
    let status: Vec<_> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        status,
        [
            "imported",
            "rejected",
            "rejected",
            "rejected",
            "already_present"
        ]
    );
    assert_eq!(b["items"][1]["error"]["field"], "city_code");
    assert_eq!(b["items"][3]["error"]["field"], "last_seen");
    assert!(b["items"][1]["error"]["message"]["zh"]
        .as_str()
        .unwrap()
        .contains("城市代码"));

    // Again: present. No key, a wrong key, an empty batch: refused.
    let again: Value = c
        .post(&url)
        .bearer_auth(KEY)
        .json(&items)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["imported"], 0);
    assert_eq!(again["already_present"], 2);
    let r = c.post(&url).json(&items).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(&url)
        .bearer_auth("hck_nope")
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_carrier_key");
    let r = c
        .post(&url)
        .bearer_auth(KEY)
        .json(&json!({"items": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn the_card_with_consent_and_a_verifiable_qr() {
    let s = TestServer::start().await;
    let c = carrier(&s).await;
    let phone = "13800000004";
    let items = json!({"items": [
        stay(phone, "220100", 110, 96),  // Changchun, 4 days ago, 14 h
        stay(phone, "110100", 80, 60),   // Beijing
        stay(phone, "310100", 20, 5),    // Shanghai, within the lag: not shown
        stay(phone, "440300", 90, 88),   // Shenzhen, 2 h: not listed
    ]});
    let r = c
        .post(s.url("/api/v1/carrier/stays"))
        .bearer_auth(KEY)
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A health official publishes a high-risk area in Changchun.
    let official = s.official("alice").await;
    let r = official
        .post(s.url("/api/v1/risk-areas"))
        .json(&json!({"city_code": "220100", "area_zh": "南关区", "area_en": "Nanguan District", "level": "high", "starts_at": at(200)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let area: Value = r.json().await.unwrap();
    assert_eq!(area["in_force"], true);
    // A reviewer may not.
    let bob = s.official("bob").await;
    let r = bob
        .post(s.url("/api/v1/risk-areas"))
        .json(&json!({"city_code": "110100", "area_zh": "朝阳区", "area_en": "Chaoyang", "level": "medium", "starts_at": at(10)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let citizen = s.signed_in(phone).await;
    let url = s.url("/api/v1/itinerary");
    // Without consent: refused, naming the field, in both languages.
    let r = citizen
        .post(&url)
        .json(&json!({"phone": phone, "consent": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "consent");
    assert!(e["error"]["message"]["zh"]
        .as_str()
        .unwrap()
        .contains("同意"));
    // Another phone than the session's: refused.
    let r = citizen
        .post(&url)
        .json(&json!({"phone": "13800000005", "consent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let r = citizen
        .post(&url)
        .json(&json!({"phone": phone, "consent": true, "channel": "alipay"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let card: Value = r.json().await.unwrap();
    assert_eq!(card["phone"], "138****0004");
    assert_eq!(card["colour"], "red", "{card}");
    assert_eq!(card["rule"], "CARD-HIGH-RECENT");
    assert_eq!(card["cities_line"]["zh"], "吉林省长春市*，北京市");
    assert_eq!(card["cities_line"]["en"], "Changchun, Jilin*; Beijing");
    assert_eq!(card["window_days"], 14);
    assert!(
        card["evidence"][0]["en"]
            .as_str()
            .unwrap()
            .contains("Nanguan"),
        "{card}"
    );
    assert!(card["note"]["zh"].as_str().unwrap().contains("并非"));
    assert!(card["qr_svg"].as_str().unwrap().starts_with("<svg"));

    // The QR verifies offline like a health code: kind itinerary_card,
    // the card's colour, the masked phone as the id, no name.
    let mut trust = TrustStore::new();
    trust.add_trust_list(&TrustList::open(&s.trust_list, None).unwrap());
    let mut verifier = Verifier::with_options(
        trust,
        VerifyOptions {
            accept_demo: true,
            ..Default::default()
        },
    );
    let ok = verifier
        .verify(card["code"].as_str().unwrap(), T0.unix_timestamp())
        .unwrap();
    let Content::HealthCode(claims) = ok.content else {
        panic!("not a health code")
    };
    assert_eq!(claims.kind, CodeKind::ItineraryCard);
    assert_eq!(claims.colour.as_str(), "red");
    assert_eq!(claims.masked_id, "138****0004");
    assert_eq!(claims.masked_name, "");
    assert_eq!(claims.expires_at - claims.issued_at, 300);

    // The query is on record for the person; the risk area is ended, and
    // the next card (a day later) has no asterisk but stays red (the stay
    // met the area while it was in force).
    let queries: Value = citizen
        .get(s.url("/api/v1/me/itinerary-queries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queries.as_array().unwrap().len(), 1, "{queries}");
    assert_eq!(queries[0]["channel"], "alipay");
    assert_eq!(queries[0]["consent"], true);
    let id = area["id"].as_str().unwrap();
    let r = official
        .post(s.url(&format!("/api/v1/risk-areas/{id}/end")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = official
        .post(s.url(&format!("/api/v1/risk-areas/{id}/end")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    s.clock.advance(Duration::hours(24));
    let card: Value = citizen
        .post(&url)
        .json(&json!({"phone": phone, "consent": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A day on, the Shanghai stay is past the one-day lag and shows.
    assert_eq!(card["cities_line"]["zh"], "吉林省长春市，北京市，上海市");
    assert_eq!(card["colour"], "red");

    // Official actions are in the audit chain; card queries are not.
    let audit = s
        .store
        .audit_about(&format!("risk_area:{id}"))
        .await
        .unwrap();
    let actions: Vec<_> = audit.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(actions, ["risk_area.published", "risk_area.ended"]);
    let areas: Value = reqwest::get(s.url("/api/v1/risk-areas"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(areas[0]["in_force"], false);
    assert_eq!(areas[0]["ended_by"], "official:alice");
}

#[tokio::test]
async fn the_card_page_asks_for_consent_in_both_languages() {
    let s = TestServer::start().await;
    let phone = "13800000001";
    let c = s.client();
    let page = c
        .get(s.url("/itinerary?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(
            "I agree and authorise the carrier to look up the places I visited in the last 14 days"
        ),
        "{page}"
    );
    let page = c
        .get(s.url("/itinerary?lang=zh"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("同意并授权运营商查询本人在疫情期间14天内到访地信息"));

    // No consent: no SMS, a bilingual error on the page.
    let r = c
        .post(s.url("/itinerary?lang=en"))
        .form(&[("phone", phone)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Consent not given"));
    assert!(s.store.outbox(5).await.unwrap().is_empty());

    let r = c
        .post(s.url("/itinerary"))
        .form(&[("phone", phone), ("consent", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let code = s.sms_code(phone).await;
    // The code without consent on the second step: refused too.
    let r = c
        .post(s.url("/itinerary/card"))
        .form(&[("phone", phone), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = c
        .post(s.url("/itinerary/card?lang=zh"))
        .form(&[("phone", phone), ("code", code.as_str()), ("consent", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("138****0001") && html.contains("并非"),
        "{html}"
    );
    assert!(html.contains("DEMO"));
    assert!(html.contains("data-colour=\"green\""));
    assert!(
        !html.contains("13800000001\""),
        "the full number is not shown"
    );

    // The public list of risk areas, both languages.
    let r = reqwest::get(s.url("/risk-areas?lang=en")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("No medium- or high-risk area is in force now."));
    // An official publishes one through the page; a bad city code is a 422 page.
    let official = s.official("alice").await;
    let r = official
        .post(s.url("/official/risk-areas?lang=en"))
        .form(&[
            ("city_code", "2201"),
            ("area_zh", "南关区"),
            ("area_en", "Nanguan"),
            ("level", "high"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("city code"));
    let r = official
        .post(s.url("/official/risk-areas?lang=en"))
        .form(&[
            ("city_code", "220100"),
            ("area_zh", "南关区"),
            ("area_en", "Nanguan"),
            ("level", "high"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = reqwest::get(s.url("/risk-areas?lang=zh"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("吉林省长春市") && page.contains("南关区") && page.contains("高风险"),
        "{page}"
    );
    let _: OffsetDateTime = T0;
}
