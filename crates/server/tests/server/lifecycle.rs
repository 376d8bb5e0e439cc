//! The data lifecycle over HTTP: retention, the offline switch, the
//! shutdown's erasure, the kept code face and the signed deletion
//! statement — and the bar: after a shutdown, no planted phone number,
//! phone hash, identity number or name — nor a dependent's, a check-in, a
//! correction request's words or a bulk action's identity number — is left
//! anywhere in the database's files, on SQLite and on PostgreSQL.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use healthcode_codec::deletion::DeletionStatement;
use healthcode_codec::{IssuerKey, SigningKey};
use healthcode_core::identity::resident_id_check_character;
use healthcode_core::itinerary::CityCode;
use healthcode_server::lifecycle::{self, ShutdownRequest};
use healthcode_server::security::{hash_password, Phone, PhoneHasher};
use healthcode_server::sms::OutboxSender;
use healthcode_server::{AppState, FixedClock, Secret, Settings};
use healthcode_store::itinerary::CarrierStay;
use healthcode_store::lifecycle::Service;
use healthcode_store::venues::VenueId;
use healthcode_store::{OfficialAccount, Role, Store, VenueStore};
use healthcode_store_sqlite::SqliteStore;
use ring::rand::SystemRandom;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2023-02-16 02:00 UTC);
const SECRET: &str = "lifecycle-test-phone-hash-secret";

/// The planted person: found nowhere in the files after the shutdown.
const PHONE: &str = "13912345678";
const NAME: &str = "欧阳娜娜";
/// The planted person's dependent (a child she checks in with).
const DEPENDENT_NAME: &str = "欧阳小满";
/// What the planted person writes in a correction request.
const CORRECTION_TEXT: &str = "我 2 月 10 日不在深圳南山区，行程记录有误，请更正。";

fn planted_id() -> String {
    resident_id("44030419850615123")
}

fn dependent_id() -> String {
    resident_id("44030420150101124")
}

/// An identity number only an official's bulk action names (nobody of
/// this region holds it).
fn bulk_id() -> String {
    resident_id("51010219770707125")
}

fn resident_id(first17: &str) -> String {
    let bytes: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!("{first17}{}", resident_id_check_character(&bytes))
}

fn key(issuer: &str, seed: u8) -> IssuerKey {
    IssuerKey {
        issuer: issuer.into(),
        signing_key: SigningKey::ed25519_from_seed(&[seed; 32]).unwrap(),
        valid_from: T0 - Duration::days(30),
        valid_to: T0 + Duration::days(365),
        demo: true,
    }
}

struct Deployment<S: Store> {
    base: String,
    state: AppState<S>,
    clock: Arc<FixedClock>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl<S: Store> Deployment<S> {
    async fn start(store: S) -> Deployment<S> {
        let settings = Settings {
            phone_hash_secret: Secret::new(SECRET),
            demo: true,
            ..Settings::default()
        };
        let clock = Arc::new(FixedClock::new(T0));
        let sms = Arc::new(OutboxSender::new(store.clone()));
        let rng = SystemRandom::new();
        for (name, role) in [("alice", Role::HealthOfficial), ("bob", Role::Reviewer)] {
            store
                .create_official(&OfficialAccount {
                    username: name.into(),
                    display_name: format!("{name} 医生"),
                    password_hash: hash_password(&format!("{name}-password"), &rng).unwrap(),
                    roles: vec![role],
                    created_at: T0,
                })
                .await
                .unwrap();
        }
        let state = AppState::new(
            store,
            settings,
            key("DEMO-22", 1),
            &key("DEMO-PUBLISHER", 2),
            clock.clone(),
            sms,
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(healthcode_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Deployment {
            base: format!("http://{addr}"),
            state,
            clock,
            _stop: tx,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// The real flow: SMS code (read from the outbox), check, application.
    async fn apply(&self, phone: &str, name: &str, id: &str, fever: bool) -> reqwest::Client {
        let client = self.client();
        let r = client
            .post(self.url("/api/v1/otp"))
            .json(&json!({"phone": phone}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        let masked = Phone::parse(phone).unwrap().masked();
        let body = self
            .state
            .store
            .outbox(50)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.to_masked == masked)
            .unwrap()
            .body;
        let code = body
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap()
            .to_owned();
        let r = client
            .post(self.url("/api/v1/otp/verify"))
            .json(&json!({"phone": phone, "code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = client
            .post(self.url("/api/v1/applications"))
            .json(&json!({
                "name": name,
                "identity": {"kind": "resident_id", "number": id},
                "declaration": {"fever": fever, "symptoms": false, "travel": ["广州"]}
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = client
            .get(self.url("/api/v1/me/code"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        client
    }

    /// Plants the person and two others; returns the planted one's client
    /// (signed in, with a session).
    async fn plant(&self) -> reqwest::Client {
        let client = self.apply(PHONE, NAME, &planted_id(), false).await;
        self.apply(
            "13700001111",
            "李四",
            &resident_id("22010219900307001"),
            true,
        )
        .await;
        self.apply(
            "13700002222",
            "John Smith",
            &resident_id("22010219900307002"),
            false,
        )
        .await;
        // A fresh code waiting to be used: the phone hash is in the OTP
        // table too (a minute later: one code a minute per phone).
        self.clock.advance(Duration::seconds(61));
        let r = self
            .client()
            .post(self.url("/api/v1/otp"))
            .json(&json!({"phone": PHONE}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        client
    }

    async fn official(&self, name: &str) -> reqwest::Client {
        let client = self.client();
        let r = client
            .post(self.url("/api/v1/officials/sign-in"))
            .json(&json!({"username": name, "password": format!("{name}-password")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        client
    }

    /// Registers a venue (`open` or `sealed`); returns its id and QR token.
    async fn venue(&self, official: &reqwest::Client, name: &str, mode: &str) -> (String, String) {
        let r = official
            .post(self.url("/api/v1/venues"))
            .json(&json!({"name": name, "address": "深圳市南山区演示路 1 号",
                          "region_code": "440305", "category": "mall", "mode": mode}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        let url = v["venue"]["check_in_url"].as_str().unwrap();
        (
            v["venue"]["id"].as_str().unwrap().to_owned(),
            url.split("/v/").nth(1).unwrap().to_owned(),
        )
    }

    /// The planted person's check-in data: a dependent (name and identity
    /// number), check-ins with her at an open venue, one at a sealed venue.
    /// Returns the venues' ids and the open venue's token.
    async fn plant_checkins(&self, client: &reqwest::Client) -> (String, String, String) {
        let alice = self.official("alice").await;
        let (open, token) = self.venue(&alice, "演示商场 DEMO Mall", "open").await;
        let (sealed, sealed_token) = self.venue(&alice, "演示诊所 DEMO Clinic", "sealed").await;
        let r = client
            .post(self.url("/api/v1/me/dependents"))
            .json(&json!({"name": DEPENDENT_NAME, "identity_number": dependent_id()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        for (token, dependents) in [(&token, json!([1])), (&sealed_token, json!([]))] {
            let r = client
                .post(self.url("/api/v1/checkins"))
                .json(&json!({"venue_token": token, "dependents": dependents}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        (open, sealed, token)
    }

    /// Oversight's records about the planted person: her correction
    /// request, an official's read of her data, and a bulk action naming
    /// an identity number.
    async fn plant_oversight(&self, client: &reqwest::Client) {
        let r = client
            .post(self.url("/api/v1/me/corrections"))
            .json(&json!({"about": {"type": "colour"}, "text": CORRECTION_TEXT}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let me: Value = client
            .get(self.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let person = me["id"].as_str().unwrap();
        let alice = self.official("alice").await;
        let r = alice
            .get(self.url(&format!(
                "/api/v1/people/{person}/status?purpose=%E6%B5%81%E8%B0%83%20case%207"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = alice
            .post(self.url("/api/v1/bulk-actions"))
            .json(&json!({
                "action": "close_contact",
                "case_reference": "GD-2023-0210-01",
                "identities": [bulk_id()],
                "reason": {"zh": "同一航班密接", "en": "Close contacts on the same flight"},
                "legal_basis": {"zh": "《传染病防治法》第三十九条", "en": "Infectious Diseases Law, art. 39"}
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    /// Carrier stays of the planted phone (three cities) and of another.
    async fn plant_stays(&self) {
        let hasher = PhoneHasher::new(SECRET.as_bytes());
        let mut stays = Vec::new();
        for (n, (phone, city)) in [
            (PHONE, "440100"),
            (PHONE, "440300"),
            (PHONE, "110100"),
            ("13700001111", "440100"),
            ("13700002222", "310100"),
        ]
        .into_iter()
        .enumerate()
        {
            let first = T0 - Duration::days(3) + Duration::hours(n as i64);
            stays.push(CarrierStay {
                phone: hasher.hash(&Phone::parse(phone).unwrap()),
                city: CityCode::parse(city).unwrap(),
                first_seen: first,
                last_seen: first + Duration::hours(6),
                cell: Some(format!("cell-{n}")),
                carrier: Some("demo-carrier".into()),
            });
        }
        let counts = self.state.store.insert_carrier_stays(&stays).await.unwrap();
        assert_eq!(counts.inserted, 5);
    }

    /// Shuts the itinerary card down now (nothing kept); returns the
    /// statement's id.
    async fn shut_down_itinerary(&self) -> String {
        let now = self.state.now();
        let shutdown = lifecycle::schedule(
            &self.state.store,
            ShutdownRequest {
                service: Service::Itinerary,
                at: now,
                decision:
                    "国务院联防联控机制综合组：12月13日0时起下线“通信行程卡” / itinerary card ends"
                        .into(),
                keep: vec![],
                scheduled_by: "operator:test".into(),
            },
            now,
        )
        .await
        .unwrap();
        lifecycle::refresh(&self.state).await.unwrap();
        let r = self
            .client()
            .get(self.url("/itinerary"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 410, "the card's page is offline");
        let r = self
            .client()
            .post(self.url("/api/v1/itinerary"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 410, "the card's API is offline");
        let r = self
            .client()
            .get(self.url("/risk-areas"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "risk areas are not the card's");
        let statement = lifecycle::execute(&self.state, &shutdown, "operator:test")
            .await
            .unwrap();
        let s = DeletionStatement::open(
            &statement.signed_json,
            Some(&self.state.publisher_fingerprint),
        )
        .unwrap()
        .statement;
        assert_eq!(s.service, "itinerary");
        assert_eq!(s.deleted[0].category, "carrier_stays");
        assert_eq!(s.deleted[0].records, 5);
        statement.id
    }

    /// Shuts the health-code service down now, keeping the code face, the
    /// way `healthcode service shutdown` does; returns the statement's id.
    async fn shut_down_health_code(&self, client: &reqwest::Client) -> String {
        let now = self.state.now();
        let shutdown = lifecycle::schedule(
            &self.state.store,
            ShutdownRequest {
                service: Service::HealthCode,
                at: now,
                decision: "粤防疫指〔2023〕1号 停止健康申报等服务 / Decision 2023-1: services end"
                    .into(),
                keep: vec!["code-face".into()],
                scheduled_by: "operator:test".into(),
            },
            now,
        )
        .await
        .unwrap();
        lifecycle::refresh(&self.state).await.unwrap();

        // Offline at once, on every route of the service, API and pages.
        let r = self
            .client()
            .post(self.url("/api/v1/channel/applications"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 410, "every channel is offline too");
        let r = client.get(self.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(r.status(), 410);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "service_ended");
        let zh = body["error"]["message"]["zh"].as_str().unwrap();
        let en = body["error"]["message"]["en"].as_str().unwrap();
        assert!(
            zh.contains("已于") && zh.contains("依据") && zh.contains("粤防疫指"),
            "{zh}"
        );
        assert!(
            en.contains("ended on") && en.contains("under decision"),
            "{en}"
        );
        for path in ["/", "/apply", "/code", "/official"] {
            let r = client.get(self.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 410, "{path}");
            let page = r.text().await.unwrap();
            assert!(
                page.contains("本服务已停止") && page.contains("This service has ended"),
                "{page}"
            );
        }
        let r = self
            .client()
            .post(self.url("/api/v1/otp"))
            .json(&json!({"phone": PHONE}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 410, "no new data comes in");

        self.clock.advance(Duration::seconds(10));
        let statement = lifecycle::execute(&self.state, &shutdown, "operator:test")
            .await
            .unwrap();
        statement.id
    }

    /// After the shutdown: the face is served, the statement verifies, the
    /// audit chain verifies.
    async fn check_after(&self, id: &str, people: u64) {
        let r = reqwest::get(self.url(&format!(
            "/.well-known/healthcode/deletion-statements/{id}.json"
        )))
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        let verified =
            DeletionStatement::open(&text, Some(&self.state.publisher_fingerprint)).unwrap();
        let s = verified.statement;
        assert_eq!(s.service, "health-code");
        assert!(s.decision.contains("粤防疫指"));
        let count = |c: &str| {
            s.deleted
                .iter()
                .find(|d| d.category == c)
                .map(|d| d.records)
        };
        assert_eq!(count("people"), Some(people), "{:?}", s.deleted);
        assert!(count("events").unwrap() >= people, "{:?}", s.deleted);
        assert!(count("sessions").unwrap() >= 1, "{:?}", s.deleted);
        assert!(count("one_time_codes").unwrap() >= 1, "{:?}", s.deleted);
        assert!(
            count("sms_outbox_messages").unwrap() >= 1,
            "{:?}",
            s.deleted
        );
        // Every category of the health code's personal data is listed.
        for category in [
            "dependents",
            "checkins",
            "checkin_client_ids",
            "sealed_checkins",
            "hour_reveals",
            "approval_requests",
            "correction_requests",
            "access_log_entries",
            "official_accounts",
        ] {
            assert!(count(category).is_some(), "{category}: {:?}", s.deleted);
        }
        assert_eq!(count("dependents"), Some(1), "{:?}", s.deleted);
        assert_eq!(count("checkins"), Some(2), "{:?}", s.deleted);
        assert_eq!(count("sealed_checkins"), Some(1), "{:?}", s.deleted);
        assert_eq!(count("approval_requests"), Some(1), "{:?}", s.deleted);
        assert_eq!(count("correction_requests"), Some(1), "{:?}", s.deleted);
        assert!(count("access_log_entries").unwrap() >= 1, "{:?}", s.deleted);
        assert_eq!(count("official_accounts"), Some(2), "{:?}", s.deleted);
        assert!(s.kept[0].en.contains("code face"), "{:?}", s.kept);
        assert!(
            s.kept
                .iter()
                .any(|k| k.en.starts_with("Venue registrations")),
            "{:?}",
            s.kept
        );
        assert!(
            !s.kept.iter().any(|k| k.en.starts_with("Carrier stays")),
            "the itinerary card ended first: {:?}",
            s.kept
        );
        assert!(s.storage.iter().any(|st| st.done), "{:?}", s.storage);
        assert!(s.audit.is_some());
        assert!(!s.not_reached.is_empty());
        assert!(s.demo);
        // Tampering breaks it.
        assert!(DeletionStatement::open(
            &text.replace("\\\"records\\\": 3", "\\\"records\\\": 2"),
            Some(&self.state.publisher_fingerprint)
        )
        .is_err());

        // The kept code face, for phone and ID number together.
        let r = self
            .client()
            .post(self.url("/api/v1/code-face"))
            .json(&json!({"phone": PHONE, "identity_number": planted_id()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let face: Value = r.json().await.unwrap();
        assert_eq!(face["colour"], "green");
        assert_eq!(face["masked_name"], "欧**娜");
        assert_eq!(
            face["masked_id"],
            "4403**********".to_owned() + &planted_id()[14..]
        );
        let r = self
            .client()
            .post(self.url("/api/v1/code-face"))
            .json(&json!({"phone": PHONE, "identity_number": resident_id("22010219900307001")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "the phone and the ID must belong together");
        let r = self
            .client()
            .post(self.url("/code-face?lang=en"))
            .form(&[("phone", PHONE), ("identity_number", planted_id().as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("欧**娜") && page.contains("green"), "{page}");

        // Public pages in both languages; the services' state.
        for lang in ["zh", "en"] {
            let r = reqwest::get(self.url(&format!("/deletion-statements/{id}?lang={lang}")))
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let page = r.text().await.unwrap();
            assert!(page.contains("people") && page.contains(&self.state.publisher_fingerprint));
        }
        let services: Value = reqwest::get(self.url("/api/v1/services"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(services[0]["service"], "health-code");
        assert_eq!(services[0]["state"], "ended");
        assert_eq!(services[1]["state"], "ended", "the itinerary card too");
        assert_eq!(services[2]["state"], "online");
        // The trust list and health check stay up; the chain verifies.
        let r = reqwest::get(self.url("/.well-known/healthcode/trust-list.json"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(self.state.store.verify_audit(None).await.unwrap().is_ok());
    }
}

/// The byte strings that must not be found: the phone as typed and in
/// its canonical form, its keyed hash (raw and hex), the identity number
/// and the name (UTF-8); the dependent's name and identity number; the
/// person id as check-in rows hold it (16 raw bytes; the audit chain
/// holds it in hex, as a pseudonym); the correction request's words; the
/// identity number a bulk action named.
fn planted_needles(person: Option<&str>) -> Vec<(&'static str, Vec<u8>)> {
    let hash = PhoneHasher::new(SECRET.as_bytes()).hash(&Phone::parse(PHONE).unwrap());
    let mut needles = vec![
        ("phone number", PHONE.as_bytes().to_vec()),
        ("phone hash", hash.0.to_vec()),
        ("phone hash (hex)", hash.to_hex().into_bytes()),
        ("identity number", planted_id().into_bytes()),
        ("name", NAME.as_bytes().to_vec()),
        ("dependent's name", DEPENDENT_NAME.as_bytes().to_vec()),
        ("dependent's identity number", dependent_id().into_bytes()),
        ("correction text", CORRECTION_TEXT.as_bytes().to_vec()),
        ("bulk action's identity number", bulk_id().into_bytes()),
    ];
    if let Some(person) = person {
        needles.push(("person id (raw)", hex::decode(person).unwrap()));
    }
    needles
}

/// The planted person's id (to find her check-in rows in the files).
async fn person_id(client: &reqwest::Client, d: &Deployment<impl Store>) -> String {
    let me: Value = client
        .get(d.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

/// What the scan must find before the shutdown (the positive control):
/// everything stored in clear (the phone number itself never is).
const FOUND_BEFORE: [&str; 8] = [
    "phone hash in",
    "identity number in",
    "name in",
    "dependent's name in",
    "dependent's identity number in",
    "correction text in",
    "bulk action's identity number in",
    "person id (raw) in",
];

/// Every file under `dir`, recursively, and which needles each contains.
fn scan(dir: &Path, person: Option<&str>) -> (usize, Vec<String>) {
    let needles = planted_needles(person);
    let mut files = 0;
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // A file the server removes while we walk is gone: not a match.
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            files += 1;
            for (what, needle) in &needles {
                if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    found.push(format!("{what} in {}", path.display()));
                }
            }
        }
    }
    (files, found)
}

#[tokio::test]
async fn sqlite_shutdown_leaves_no_planted_data_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).await.unwrap();
    let d = Deployment::start(store).await;
    let client = d.plant().await;
    d.plant_stays().await;
    d.plant_checkins(&client).await;
    d.plant_oversight(&client).await;
    let person = person_id(&client, &d).await;

    // Positive control: the scan finds what is there (only the phone
    // number itself is never stored, before or after).
    let (_, before) = scan(dir.path(), Some(&person));
    for what in FOUND_BEFORE {
        assert!(
            before.iter().any(|f| f.starts_with(what)),
            "{what} {before:?}"
        );
    }
    assert!(
        !before.iter().any(|f| f.starts_with("phone number in")),
        "{before:?}"
    );

    d.shut_down_itinerary().await;
    let id = d.shut_down_health_code(&client).await;
    let (files, after) = scan(dir.path(), Some(&person));
    assert!(files >= 1);
    assert!(
        after.is_empty(),
        "planted data left after the shutdown: {after:?}"
    );
    d.check_after(&id, 3).await;
    // Serving the face and the statement wrote nothing personal either.
    let (_, later) = scan(dir.path(), Some(&person));
    assert!(later.is_empty(), "{later:?}");
}

#[tokio::test]
async fn postgres_shutdown_leaves_no_planted_data_in_the_files() {
    use healthcode_store_postgres::PgStore;
    use healthcode_testkit::{postgres_required, PgCluster, PgError};

    // A cluster of its own: every file of its data directory is scanned.
    let cluster = match PgCluster::start() {
        Ok(c) => c,
        Err(PgError::BinariesNotFound) if !postgres_required() => {
            eprintln!(
                "SKIPPED: PostgreSQL binaries not found; the PostgreSQL shutdown scan did not run"
            );
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let url = cluster.create_database().await.unwrap();
    let store = PgStore::connect(&url).await.unwrap();
    // The operator's preparation (docs/lifecycle.md): WAL segments are
    // removed, not renamed for reuse with their old bytes.
    for sql in [
        "ALTER SYSTEM SET wal_recycle = off",
        "SELECT pg_reload_conf()",
    ] {
        sqlx::raw_sql(sql).execute(store.pool()).await.unwrap();
    }
    let data = cluster.dir().join("data");
    let d = Deployment::start(store.clone()).await;
    let client = d.plant().await;
    d.plant_stays().await;
    d.plant_checkins(&client).await;
    d.plant_oversight(&client).await;
    let person = person_id(&client, &d).await;
    // Statistics exist, as autovacuum's ANALYZE makes them on a real
    // deployment: sample values of the columns land in pg_statistic.
    sqlx::raw_sql("ANALYZE")
        .execute(store.pool())
        .await
        .unwrap();
    let sampled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stats WHERE tablename = 'carrier_stays' AND attname = 'phone_hash' \
         AND (most_common_vals IS NOT NULL OR histogram_bounds IS NOT NULL)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(sampled, 1, "the phone hashes are sampled into pg_statistic");

    sqlx::raw_sql("CHECKPOINT")
        .execute(store.pool())
        .await
        .unwrap();
    let (_, before) = scan(&data, Some(&person));
    for what in FOUND_BEFORE {
        assert!(
            before.iter().any(|f| f.starts_with(what)),
            "{what} {before:?}"
        );
    }

    d.shut_down_itinerary().await;
    let id = d.shut_down_health_code(&client).await;
    let (files, after) = scan(&data, Some(&person));
    assert!(
        files > 100,
        "the whole data directory is scanned ({files} files)"
    );
    assert!(
        after.is_empty(),
        "planted data left after the shutdown: {after:?}"
    );
    d.check_after(&id, 3).await;
}

#[tokio::test]
async fn a_scheduled_shutdown_is_executed_by_the_server_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).await.unwrap();
    let d = Deployment::start(store).await;
    let client = d
        .apply(
            "13600001234",
            "张三",
            &resident_id("22010219900307003"),
            false,
        )
        .await;
    let at = T0 + Duration::hours(1);
    let shutdown = lifecycle::schedule(
        &d.state.store,
        ShutdownRequest {
            service: Service::HealthCode,
            at,
            decision: "Decision 7: the health code ends / 第 7 号决定".into(),
            keep: vec![],
            scheduled_by: "operator:test".into(),
        },
        T0,
    )
    .await
    .unwrap();
    assert_eq!(shutdown.at, at);
    lifecycle::refresh(&d.state).await.unwrap();
    let r = client.get(d.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 200, "still online before its time");
    let services: Value = reqwest::get(d.url("/api/v1/services"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(services[0]["state"], "scheduled");

    // A second shutdown of the same service is refused; so are bad ones.
    let again = lifecycle::schedule(
        &d.state.store,
        ShutdownRequest {
            service: Service::HealthCode,
            at,
            decision: "another decision".into(),
            keep: vec![],
            scheduled_by: "operator:test".into(),
        },
        T0,
    )
    .await;
    assert!(again.is_err());
    let bad_keep = lifecycle::schedule(
        &d.state.store,
        ShutdownRequest {
            service: Service::Checkins,
            at,
            decision: "a decision".into(),
            keep: vec!["everything".into()],
            scheduled_by: "operator:test".into(),
        },
        T0,
    )
    .await;
    assert!(bad_keep.unwrap_err().to_string().contains("keep"));

    // Its time comes: the background job (every 5 s) takes it offline and
    // executes it.
    d.clock.set(at + Duration::seconds(7));
    let mut ended = false;
    for _ in 0..60 {
        let services: Value = reqwest::get(d.url("/api/v1/services"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if services[0]["state"] == "ended" {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(ended, "the job executed the shutdown");
    let r = client.get(d.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 410);
    assert!(d
        .state
        .store
        .person_by_phone(
            "DEMO-22",
            &PhoneHasher::new(SECRET.as_bytes()).hash(&Phone::parse("13600001234").unwrap())
        )
        .await
        .unwrap()
        .is_none());
    let statements: Value = reqwest::get(d.url("/api/v1/deletion-statements"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(statements.as_array().unwrap().len(), 1);
    // No face was kept: the face lookup is not there.
    let r = d
        .client()
        .post(d.url("/api/v1/code-face"))
        .json(&json!({"phone": "13600001234", "identity_number": resident_id("22010219900307003")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn retention_purges_and_audits_only_when_something_went() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let d = Deployment::start(store).await;
    d.apply(
        "13600005678",
        "王五",
        &resident_id("22010219900307004"),
        false,
    )
    .await;
    let settings = d.state.settings.clone();
    let audit_len = || async { d.state.store.audit_entries(0, 10_000).await.unwrap().len() };

    // Within a day: nothing to delete, no audit entry.
    let entries = audit_len().await;
    let run = lifecycle::purge(
        &d.state.store,
        &settings,
        T0 + Duration::hours(1),
        "system:retention",
        false,
    )
    .await
    .unwrap();
    assert_eq!(run.total(), 0, "{}", run.summary());
    assert_eq!(audit_len().await, entries);

    // Two days on: the outbox message and the session are past their time.
    let later = T0 + Duration::days(8);
    let dry = lifecycle::purge(&d.state.store, &settings, later, "operator:cli", true)
        .await
        .unwrap();
    assert!(dry.total() >= 2, "{}", dry.summary());
    assert_eq!(
        d.state.store.outbox(10).await.unwrap().len(),
        1,
        "a dry run deletes nothing"
    );
    let run = lifecycle::purge(&d.state.store, &settings, later, "system:retention", false)
        .await
        .unwrap();
    assert_eq!(run.counts, dry.counts);
    assert!(d.state.store.outbox(10).await.unwrap().is_empty());
    let all = d.state.store.audit_entries(0, 10_000).await.unwrap();
    assert_eq!(all.len(), entries + 1);
    let last = all.last().unwrap();
    assert_eq!(last.record.action, "retention.purged");
    let details: Value = serde_json::from_str(&last.record.details).unwrap();
    assert_eq!(details["deleted"]["sms_outbox_messages"], 1);
}

#[tokio::test]
async fn the_checkins_shutdown_erases_check_ins_and_dependents_and_keeps_venues() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).await.unwrap();
    let d = Deployment::start(store).await;
    let client = d.apply(PHONE, NAME, &planted_id(), false).await;
    let (open, sealed, token) = d.plant_checkins(&client).await;
    let person = person_id(&client, &d).await;
    let person = healthcode_store::PersonId::parse(&person).unwrap();
    let operator = d.official("alice").await;

    let now = d.state.now();
    let shutdown = lifecycle::schedule(
        &d.state.store,
        ShutdownRequest {
            service: Service::Checkins,
            at: now,
            decision: "第 9 号决定：停止场所码扫码登记 / Decision 9: venue check-ins end".into(),
            keep: vec![],
            scheduled_by: "operator:test".into(),
        },
        now,
    )
    .await
    .unwrap();
    lifecycle::refresh(&d.state).await.unwrap();

    // Every check-in route is offline, pages and API; the health code is not.
    for (method, path) in [
        ("GET", format!("/v/{token}")),
        ("POST", format!("/v/{token}")),
        ("POST", format!("/v/{token}/out")),
        ("GET", "/me/dependents".to_owned()),
        ("GET", "/api/v1/me/dependents".to_owned()),
        ("POST", "/api/v1/checkins".to_owned()),
        ("POST", "/api/v1/checkins/batch".to_owned()),
        ("GET", format!("/api/v1/venues/{open}/checkins")),
        ("GET", format!("/api/v1/venues/{open}/poster.svg")),
        ("POST", "/api/v1/venues".to_owned()),
        ("GET", "/venue".to_owned()),
        ("GET", "/venues/register".to_owned()),
        ("GET", "/official/venues".to_owned()),
    ] {
        let request = match method {
            "GET" => client.get(d.url(&path)),
            _ => client.post(d.url(&path)).json(&json!({})),
        };
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 410, "{method} {path}");
    }
    let r = client
        .post(d.url("/api/v1/checkins"))
        .json(&json!({"venue_token": token}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "service_ended");
    assert!(
        body["error"]["message"]["zh"]
            .as_str()
            .unwrap()
            .contains("场所扫码登记服务"),
        "{body}"
    );
    let r = client
        .get(d.url(&format!("/v/{token}")))
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(
        page.contains("本服务已停止") && page.contains("venue check-in service"),
        "a printed venue code opens the notice: {page}"
    );
    let r = client.get(d.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the health code is not the check-ins'");
    let r = operator
        .post(d.url("/api/v1/tracing/candidates"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 410, "tracing is the health authority's");

    d.clock.advance(Duration::seconds(10));
    let statement = lifecycle::execute(&d.state, &shutdown, "operator:test")
        .await
        .unwrap();
    let s = DeletionStatement::open(&statement.signed_json, Some(&d.state.publisher_fingerprint))
        .unwrap()
        .statement;
    assert_eq!(s.service, "checkins");
    let deleted: Vec<(&str, u64)> = s
        .deleted
        .iter()
        .map(|c| (c.category.as_str(), c.records))
        .collect();
    assert_eq!(
        deleted,
        [
            ("checkins", 2),
            ("checkin_client_ids", 0),
            ("sealed_checkins", 1),
            ("hour_reveals", 0),
            ("dependents", 1),
        ]
    );
    assert!(
        s.kept
            .iter()
            .any(|k| k.en.starts_with("Venue registrations") && k.zh.starts_with("场所登记")),
        "{:?}",
        s.kept
    );
    assert!(
        s.kept
            .iter()
            .any(|k| k.en.contains("health-code service's records of people")),
        "the health code still runs: {:?}",
        s.kept
    );
    assert!(s.storage.iter().any(|st| st.step == "VACUUM" && st.done));

    // The data is gone; venues and people stay.
    let store = &d.state.store;
    let far = T0 + Duration::days(30);
    assert!(store
        .person_checkins(&person, T0 - Duration::days(30), far)
        .await
        .unwrap()
        .is_empty());
    assert!(store.dependents(&person).await.unwrap().is_empty());
    let sealed = VenueId::parse(&sealed).unwrap();
    let hour = T0.unix_timestamp() / 3600;
    assert!(store
        .sealed_checkins(sealed, hour)
        .await
        .unwrap()
        .is_empty());
    assert!(store.venue(sealed).await.unwrap().is_some(), "venues stay");
    let open = VenueId::parse(&open).unwrap();
    assert_eq!(
        store.venue(open).await.unwrap().unwrap().name,
        "演示商场 DEMO Mall"
    );
    assert!(store.person(&person).await.unwrap().is_some());
    let (_, left) = scan(dir.path(), None);
    for what in ["dependent's name in", "dependent's identity number in"] {
        assert!(
            !left.iter().any(|f| f.starts_with(what)),
            "{what}: {left:?}"
        );
    }

    // The services' state, the statement's public page in both languages.
    let services: Value = reqwest::get(d.url("/api/v1/services"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(services[2]["service"], "checkins");
    assert_eq!(services[2]["state"], "ended");
    assert_eq!(services[0]["state"], "online");
    for (lang, label) in [("zh", "随行人员"), ("en", "Dependents")] {
        let r = reqwest::get(d.url(&format!(
            "/deletion-statements/{}?lang={lang}",
            statement.id
        )))
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(
            page.contains(label) && page.contains("<code>dependents</code>"),
            "{page}"
        );
    }
    let r = client
        .get(d.url(&format!("/v/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(&format!("/deletion-statements/{}", statement.id)));
}

#[tokio::test]
async fn retention_purges_check_ins_and_decided_requests() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let d = Deployment::start(store).await;
    let client = d.apply(PHONE, NAME, &planted_id(), false).await;
    let (open, _, _) = d.plant_checkins(&client).await;
    d.plant_oversight(&client).await;
    let person = healthcode_store::PersonId::parse(&person_id(&client, &d).await).unwrap();
    let settings = d.state.settings.clone();
    assert_eq!(settings.retention.checkins_days, 28);
    assert_eq!(settings.retention.decided_requests_days, 180);
    let count = |run: &lifecycle::PurgeRun, c: &str| {
        run.counts
            .iter()
            .find(|e| e.category == c)
            .map(|e| e.records)
    };

    // Four weeks after the stays ended, they are still there.
    let within = T0 + Duration::days(28);
    let dry = lifecycle::purge(&d.state.store, &settings, within, "operator:cli", true)
        .await
        .unwrap();
    assert_eq!(count(&dry, "checkins"), Some(0), "{}", dry.summary());
    // A day later, they go (open and sealed); the pending bulk request
    // stays whatever its age.
    let later = T0 + Duration::days(29);
    let dry = lifecycle::purge(&d.state.store, &settings, later, "operator:cli", true)
        .await
        .unwrap();
    assert_eq!(count(&dry, "checkins"), Some(2), "{}", dry.summary());
    assert_eq!(count(&dry, "sealed_checkins"), Some(1), "{}", dry.summary());
    assert_eq!(count(&dry, "decided_approval_requests"), Some(0));
    let run = lifecycle::purge(&d.state.store, &settings, later, "system:retention", false)
        .await
        .unwrap();
    assert_eq!(run.counts, dry.counts);
    assert!(d
        .state
        .store
        .person_checkins(&person, T0 - Duration::days(1), later)
        .await
        .unwrap()
        .is_empty());
    assert!(
        d.state
            .store
            .venue(VenueId::parse(&open).unwrap())
            .await
            .unwrap()
            .is_some(),
        "venues have no retention"
    );
    assert_eq!(
        d.state.store.dependents(&person).await.unwrap().len(),
        1,
        "dependents are the person's list, kept with the person"
    );
    let entries = d.state.store.audit_entries(0, 10_000).await.unwrap();
    let last = entries.last().unwrap();
    assert_eq!(last.record.action, "retention.purged");
    let details: Value = serde_json::from_str(&last.record.details).unwrap();
    assert_eq!(details["deleted"]["checkins"], 2);
    assert_eq!(details["deleted"]["sealed_checkins"], 1);
    assert!(details["checkins_before"].is_string(), "{details}");
    assert!(details["decided_requests_before"].is_string(), "{details}");

    // Batch items past the retention are refused, not stored to be purged
    // (this one arrived within the batch API's 30 days, but its stay ended
    // more than 28 days ago).
    d.clock.set(later);
    let alice = d.official("alice").await;
    let r = alice
        .post(d.url("/api/v1/checkins/batch"))
        .json(&json!({"items": [
            {"client_id": "old-1", "venue": open, "person": person.as_str(),
             "arrived": "2023-02-16T10:00:00Z", "left": "2023-02-16T12:00:00Z"},
            {"client_id": "new-1", "venue": open, "person": person.as_str(),
             "arrived": "2023-03-16T02:00:00Z", "left": "2023-03-16T04:00:00Z"}
        ]}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["stored"], 1, "{body}");
    assert_eq!(body["rejected"][0]["field"], "left", "{body}");
    assert!(
        body["rejected"][0]["message"]["en"]
            .as_str()
            .unwrap()
            .contains("28 days"),
        "{body}"
    );

    // The bulk request was never decided: it expires (decided by the
    // system now), and goes 180 days after that, not before.
    assert_eq!(d.state.expire_requests().await.unwrap(), 1);
    for (days, gone) in [(179, 0), (181, 1)] {
        let run = lifecycle::purge(
            &d.state.store,
            &settings,
            later + Duration::days(days),
            "operator:cli",
            true,
        )
        .await
        .unwrap();
        assert_eq!(
            count(&run, "decided_approval_requests"),
            Some(gone),
            "{days} days: {}",
            run.summary()
        );
    }
}
