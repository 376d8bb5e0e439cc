//! Venue codes over HTTP: registration, the signed QR and poster, check-ins
//! with dependents, what a venue may see, batches, sealed check-ins, and
//! tracing that only designates on an official's confirmation.

use healthcode_codec::SigningKey;
use healthcode_core::identity::resident_id_check_character;
use healthcode_server::venues::logic::verify_venue_token;
use healthcode_store::Store;
use serde_json::{json, Value};
use time::Duration;

use crate::support::{TestServer, T0};

fn id_number(first17: &str) -> String {
    let bytes: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!("{first17}{}", resident_id_check_character(&bytes))
}

async fn register(s: &TestServer, official: &reqwest::Client, name: &str, mode: &str) -> Value {
    let r = official
        .post(s.url("/api/v1/venues"))
        .json(
            &json!({"name": name, "address": "西安市雁塔区演示路 1 号", "region_code": "610113",
                      "category": "mall", "cell": "g800:4281:12", "mode": mode}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn token_of(venue: &Value) -> String {
    let url = venue["venue"]["check_in_url"].as_str().unwrap();
    url.split("/v/").nth(1).unwrap().to_owned()
}

async fn status(s: &TestServer, official: &reqwest::Client, person: &str) -> Value {
    let r = official
        .get(s.url(&format!(
            "/api/v1/people/{person}/status?purpose=tracing%20check"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn venue_check_ins_and_tracing_end_to_end() {
    let s = TestServer::start().await;
    let alice = s.official("alice").await;

    // Bad registrations are refused naming the field.
    let r = alice
        .post(s.url("/api/v1/venues"))
        .json(&json!({"name": "x", "address": "y", "region_code": "991234", "category": "mall"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], "region_code");
    // A reviewer is not a health official.
    let bob = s.official("bob").await;
    let r = bob
        .post(s.url("/api/v1/venues"))
        .json(&json!({"name": "x", "address": "y", "region_code": "610113", "category": "mall"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let mall = register(&s, &alice, "演示商场 DEMO Mall", "open").await;
    let other = register(&s, &alice, "演示餐厅 DEMO Diner", "open").await;
    let mall_id = mall["venue"]["id"].as_str().unwrap().to_owned();
    let token = token_of(&mall);
    assert!(mall["operator_token"].as_str().unwrap().starts_with("hcv_"));
    assert!(mall["venue_key"].is_null());

    // The QR token verifies offline with the issuer's public key, and a
    // tampered one does not.
    let key = SigningKey::ed25519_from_seed(&[1; 32]).unwrap();
    let payload = verify_venue_token(&token, key.public_key()).unwrap();
    assert_eq!(payload.v, mall_id);
    assert!(payload.demo);
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_body = base64_url(&payload_json_renamed(&token));
    parts[1] = &forged_body;
    let forged = parts.join(".");
    assert!(verify_venue_token(&forged, key.public_key()).is_err());

    // The poster: an A4 SVG with the DEMO band.
    let r = alice
        .get(s.url(&format!("/api/v1/venues/{mall_id}/poster.svg")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("image/svg+xml"));
    let svg = r.text().await.unwrap();
    assert!(
        svg.contains("210mm") && svg.contains("NOT A REAL VENUE CODE") && svg.contains("DEMO Mall")
    );
    assert!(svg.contains("Scan the code") && svg.contains("扫描"));

    // Citizen A with a child; citizen B.
    let a = s.signed_in("13800138101").await;
    let a_person = s.apply(&a, "王小明", &id_number("61011319850101001")).await;
    let b = s.signed_in("13800138102").await;
    let b_person = s.apply(&b, "赵大海", &id_number("61011319900202002")).await;
    let b_id = b_person["id"].as_str().unwrap().to_owned();
    let r = a
        .post(s.url("/api/v1/me/dependents"))
        .json(&json!({"name": "王小小", "identity_number": "61011320150101001X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a wrong check digit");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "identity_number"
    );
    let r = a
        .post(s.url("/api/v1/me/dependents"))
        .json(&json!({"name": "王小小", "identity_number": id_number("61011320150101003")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let dep: Value = r.json().await.unwrap();
    assert_eq!(dep["number"], 1);
    assert_eq!(dep["name"], "王*小");

    // A scans the QR: the page, then the check-in with the child, and the
    // live code to show.
    let r = a.get(s.url(&format!("/v/{token}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("DEMO Mall") && html.contains("dep_1"));
    let r = a
        .post(s.url(&format!("/v/{token}")))
        .form(&[("dep_1", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("live-code") && html.contains("code-data"),
        "{html}"
    );
    // A forged code gets the error page, not a check-in.
    let r = a.get(s.url(&format!("/v/{forged}"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // Without signing in: asked to get a code first.
    let r = s
        .client()
        .get(s.url(&format!("/v/{token}")))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("/apply"));

    // B checks in through the API half an hour later.
    s.clock.advance(Duration::minutes(30));
    let r = b
        .post(s.url("/api/v1/checkins"))
        .json(&json!({"venue_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = b
        .post(s.url("/api/v1/checkins"))
        .json(&json!({"venue_token": token, "dependents": [1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "B lists no dependents");

    // The venue sees its own check-ins, masked; not another venue's.
    let op = format!("Bearer {}", mall["operator_token"].as_str().unwrap());
    let r = s
        .client()
        .get(s.url(&format!("/api/v1/venues/{mall_id}/checkins")))
        .header("authorization", &op)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen: Vec<Value> = r.json().await.unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let text = serde_json::to_string(&seen).unwrap();
    assert!(!text.contains("王小明") && !text.contains("赵大海") && text.contains("王*明"));
    let other_id = other["venue"]["id"].as_str().unwrap();
    let r = s
        .client()
        .get(s.url(&format!("/api/v1/venues/{other_id}/checkins")))
        .header("authorization", &op)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // A batch: good items stored, bad ones reported by index, retries idempotent.
    let arrived = time::format_description::well_known::Rfc3339;
    let at = (T0 + Duration::minutes(10)).format(&arrived).unwrap();
    let early = (T0 - Duration::hours(1)).format(&arrived).unwrap();
    let items = json!({"items": [
        {"client_id": "r1", "venue": other_id, "person": b_id, "arrived": at},
        {"client_id": "r2", "venue": "nothex", "person": b_id, "arrived": at},
        {"client_id": "r3", "venue": other_id, "person": b_id, "arrived": at, "left": early},
        {"client_id": "r4", "venue": other_id, "person": "0".repeat(32), "arrived": at},
        {"client_id": "r5", "venue": other_id, "identity_number": id_number("61011319850101001"), "arrived": at},
    ]});
    let r = alice
        .post(s.url("/api/v1/checkins/batch"))
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let result: Value = r.json().await.unwrap();
    assert_eq!(result["stored"], 2, "{result}");
    let rejected: Vec<(u64, &str)> = result["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, vec![(1, "venue"), (2, "left"), (3, "person")]);
    let again: Value = alice
        .post(s.url("/api/v1/checkins/batch"))
        .json(&items)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (again["stored"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    // The mall's operator cannot submit for the diner.
    let r = s
        .client()
        .post(s.url("/api/v1/checkins/batch"))
        .header("authorization", &op)
        .json(&json!({"items": [{"client_id": "x", "venue": other_id, "person": b_id, "arrived": at}]}))
        .send()
        .await
        .unwrap();
    let result: Value = r.json().await.unwrap();
    assert_eq!(result["rejected"][0]["field"], "venue");

    // A confirmed case: A. B is a candidate (30 min together at the mall
    // and at the diner); A's own child is not. Nobody changed colour.
    s.clock.advance(Duration::hours(3));
    let green = status(&s, &alice, &b_id).await;
    assert_eq!(green["colour"], "green");
    let case = id_number("61011319850101001");
    let r = alice
        .post(s.url("/api/v1/tracing/candidates"))
        .json(&json!({"case_identity_number": case}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let trace: Value = r.json().await.unwrap();
    let cands = trace["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 1, "{trace}");
    assert_eq!(cands[0]["person"], b_id);
    assert_eq!(cands[0]["name"], "赵*海");
    assert_eq!(status(&s, &alice, &b_id).await["colour"], "green");
    // The case sees the tracing in "who accessed my data".
    let log: Value = a
        .get(s.url("/api/v1/me/access-log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let traced = log.as_array().unwrap().iter().any(|e| {
        e["what"] == "trace"
            && e["official"] == "alice"
            && e["purpose"] == "contact tracing / 密接追踪"
    });
    assert!(traced, "{log}");

    // Designating someone who is not a candidate is refused.
    let r = alice
        .post(s.url("/api/v1/tracing/designations"))
        .json(&json!({"case_identity_number": case, "person": a_person["id"], "dependent": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    // The official confirms B: a close-contact event with the evidence.
    let r = alice
        .post(s.url("/api/v1/tracing/designations"))
        .json(&json!({"case_identity_number": case, "person": b_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let d: Value = r.json().await.unwrap();
    assert!(d["event_id"].is_string());
    assert!(
        d["case_reference"].as_str().unwrap().contains("DEMO Diner"),
        "{d}"
    );
    assert_eq!(d["evidence"]["overlaps"].as_array().unwrap().len(), 2);
    let after = status(&s, &alice, &b_id).await;
    assert_eq!(after["colour"], "orange", "{after}");
    let audit = s.store.audit_about(&b_id).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.record.action == "tracing.designated" && e.record.details.contains("overlaps")));
}

#[tokio::test]
async fn sealed_venues_open_only_with_the_venue_and_the_authority() {
    let s = TestServer::start().await;
    let alice = s.official("alice").await;
    let bar = register(&s, &alice, "演示酒吧 DEMO Bar", "sealed").await;
    let bar_id = bar["venue"]["id"].as_str().unwrap().to_owned();
    let key = bar["venue_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64);
    let token = token_of(&bar);
    let sk = SigningKey::ed25519_from_seed(&[1; 32]).unwrap();
    let payload = verify_venue_token(&token, sk.public_key()).unwrap();
    assert!(payload.ak.is_some() && payload.vk.is_some());

    let a = s.signed_in("13800138201").await;
    s.apply(&a, "钱多多", &id_number("61011319850101011")).await;
    let b = s.signed_in("13800138202").await;
    let b_person = s.apply(&b, "孙悟空", &id_number("61011319850101021")).await;
    for c in [&a, &b] {
        let r = c
            .post(s.url("/api/v1/checkins"))
            .json(&json!({"venue_token": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    s.clock.advance(Duration::hours(1));
    // Nothing in the open table: the venue's operator sees counts only.
    let op = format!("Bearer {}", bar["operator_token"].as_str().unwrap());
    let seen: Vec<Value> = s
        .client()
        .get(s.url(&format!("/api/v1/venues/{bar_id}/checkins")))
        .header("authorization", &op)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(seen.is_empty());

    // Before the venue reveals, tracing finds nobody.
    let case = id_number("61011319850101011");
    let form = [("case", case.as_str()), ("sealed_venues", bar_id.as_str())];
    let html = alice
        .post(s.url("/official/trace?lang=en"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("No candidates"), "{html}");

    // A wrong key is refused; the right one reveals the hour.
    let range = |k: &str| {
        json!({"venue_key": k, "from": (T0 - Duration::hours(1)).format(&time::format_description::well_known::Rfc3339).unwrap(),
               "to": (T0 + Duration::hours(1)).format(&time::format_description::well_known::Rfc3339).unwrap()})
    };
    let r = s
        .client()
        .post(s.url(&format!("/api/v1/venues/{bar_id}/reveal")))
        .header("authorization", &op)
        .json(&range(&"ab".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = s
        .client()
        .post(s.url(&format!("/api/v1/venues/{bar_id}/reveal")))
        .header("authorization", &op)
        .json(&range(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let html = alice
        .post(s.url("/official/trace?lang=en"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("孙*空"), "{html}");
    assert!(html.contains(b_person["id"].as_str().unwrap()));
    let audit = s
        .store
        .audit_about(&format!("venue:{bar_id}"))
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.record.action == "venue.sealed_opened"));
}

/// The token's payload with the venue name changed (same signature).
fn payload_json_renamed(token: &str) -> String {
    use base64::Engine;
    let body = token.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .unwrap();
    String::from_utf8(json)
        .unwrap()
        .replace("DEMO Mall", "DEMO Mail")
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn carrier_records_give_companions_and_flag_implausible_check_ins() {
    use healthcode_core::itinerary::CityCode;
    use healthcode_server::security::Phone;
    use healthcode_store::itinerary::{CarrierStay, ItineraryStore};

    let s = TestServer::start().await;
    let alice = s.official("alice").await;
    let venue = register(&s, &alice, "演示超市 DEMO Market", "open").await;
    let token = token_of(&venue);
    let (pa, pb, pc) = ("13800138301", "13800138302", "13800138303");
    let a = s.signed_in(pa).await;
    s.apply(&a, "周一", &id_number("61011319850101031")).await;
    let b = s.signed_in(pb).await;
    let b_person = s.apply(&b, "吴二", &id_number("61011319850101041")).await;
    let c = s.signed_in(pc).await;
    let c_person = s.apply(&c, "郑三", &id_number("61011319850101051")).await;
    for client in [&a, &b] {
        let r = client
            .post(s.url("/api/v1/checkins"))
            .json(&json!({"venue_token": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let hash = |p: &str| TestServer::phone_hasher().hash(&Phone::parse(p).unwrap());
    let stay = |p: &str, city: &str, cell: &str, from: i64, to: i64| CarrierStay {
        phone: hash(p),
        city: CityCode::parse(city).unwrap(),
        first_seen: T0 + Duration::minutes(from),
        last_seen: T0 + Duration::minutes(to),
        cell: Some(cell.to_owned()),
        carrier: None,
    };
    s.store
        .insert_carrier_stays(&[
            // The case lives in cell X: 41 hours there.
            stay(pa, "610100", "X", -40 * 60, 60),
            // C passes through X for 30 minutes: a companion.
            stay(pc, "610100", "X", 0, 30),
            // B's phone was in Shanghai when B "checked in" in Xi'an.
            stay(pb, "310100", "S", -60, 180),
        ])
        .await
        .unwrap();
    s.clock.advance(Duration::hours(2));
    let case = id_number("61011319850101031");
    let trace: Value = alice
        .post(s.url("/api/v1/tracing/candidates"))
        .json(&json!({"case_identity_number": case}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cands = trace["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 1, "{trace}");
    assert_eq!(cands[0]["person"], b_person["id"]);
    assert_eq!(cands[0]["implausible_city"], "310100");
    let comps = trace["companions"].as_array().unwrap();
    assert_eq!(comps.len(), 1, "{trace}");
    assert_eq!(comps[0]["person"], c_person["id"]);
    assert_eq!(comps[0]["cell"], "X");
    assert_eq!(comps[0]["together_seconds"], 1800);

    // Confirming the companion: a close contact with the cell as evidence.
    let r = alice
        .post(s.url("/api/v1/tracing/designations"))
        .json(&json!({"case_identity_number": case, "person": c_person["id"], "kind": "companion"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let d: Value = r.json().await.unwrap();
    assert!(
        d["case_reference"].as_str().unwrap().contains("cell X"),
        "{d}"
    );
    let c_id = c_person["id"].as_str().unwrap();
    assert_eq!(status(&s, &alice, c_id).await["colour"], "orange");
    // The flagged venue designation says so in its evidence.
    let d: Value = alice
        .post(s.url("/api/v1/tracing/designations"))
        .json(&json!({"case_identity_number": case, "person": b_person["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        d["case_reference"]
            .as_str()
            .unwrap()
            .contains("FLAGGED implausible"),
        "{d}"
    );
    assert_eq!(
        d["evidence"]["implausible"]["seen_in"]["city_code"],
        "310100"
    );
    // Nobody else is a companion.
    let r = alice
        .post(s.url("/api/v1/tracing/designations"))
        .json(&json!({"case_identity_number": case, "person": b_person["id"], "kind": "companion"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}
