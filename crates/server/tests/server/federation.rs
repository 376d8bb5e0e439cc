//! Three deployments on loopback — two provinces (Anhui, Shaanxi) and the
//! national platform — each with its own SQLite database and keys; they
//! import each other's trust lists over HTTP with the publishers' keys
//! pinned. Also: channels following the registry, key rotation with
//! overlap, and rollback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use healthcode_codec::keyfile::public_key_json;
use healthcode_codec::trust::TrustList;
use healthcode_codec::verify::{Content, Reason};
use healthcode_codec::{IssuerKey, SigningKey, TrustStore, Verifier};
use healthcode_core::CodeKind;
use healthcode_server::config::Authority;
use healthcode_server::security::hash_password;
use healthcode_server::sms::OutboxSender;
use healthcode_server::{AppState, Clock, FixedClock, Secret, Settings};
use healthcode_store::{OfficialAccount, Role, Store};
use healthcode_store_sqlite::SqliteStore;
use ring::rand::SystemRandom;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::support::{TestServer, SECRET, T0};

struct Deployment {
    addr: SocketAddr,
    state: AppState<SqliteStore>,
    clock: Arc<FixedClock>,
    admin: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

fn key(issuer: &str, seed: u8, from: OffsetDateTime, to: OffsetDateTime) -> IssuerKey {
    IssuerKey {
        issuer: issuer.into(),
        signing_key: SigningKey::ed25519_from_seed(&[seed; 32]).unwrap(),
        valid_from: from,
        valid_to: to,
        demo: false,
    }
}

fn year_key(issuer: &str, seed: u8) -> IssuerKey {
    key(
        issuer,
        seed,
        T0 - Duration::days(30),
        T0 + Duration::days(365),
    )
}

struct Spec {
    region_id: &'static str,
    authority: Authority,
    national_platform: Option<String>,
    issuer: IssuerKey,
    publisher_seed: u8,
    published_key_files: Vec<PathBuf>,
}

impl Deployment {
    async fn start(
        spec: Spec,
        dir: &std::path::Path,
        at: OffsetDateTime,
        addr: Option<SocketAddr>,
    ) -> Deployment {
        let store = SqliteStore::open_dir(dir).await.unwrap();
        let settings = Settings {
            region_id: spec.region_id.into(),
            authority: spec.authority,
            national_platform: spec.national_platform,
            published_key_files: spec.published_key_files,
            phone_hash_secret: Secret::new(SECRET),
            ..Settings::default()
        };
        let clock = Arc::new(FixedClock::new(at));
        let publisher = year_key(
            &format!("{}-publisher", spec.region_id),
            spec.publisher_seed,
        );
        let state = AppState::new(
            store.clone(),
            settings,
            spec.issuer,
            &publisher,
            clock.clone(),
            Arc::new(OutboxSender::new(store.clone())),
        )
        .unwrap();
        if store.official("admin").await.unwrap().is_none() {
            store
                .create_official(&OfficialAccount {
                    username: "admin".into(),
                    display_name: "admin".into(),
                    password_hash: hash_password("admin-password", &SystemRandom::new()).unwrap(),
                    roles: vec![Role::Administrator],
                    created_at: at,
                })
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind(addr.unwrap_or(([127, 0, 0, 1], 0).into()))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(healthcode_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let admin = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let r = admin
            .post(format!("http://{addr}/api/v1/officials/sign-in"))
            .json(&json!({"username": "admin", "password": "admin-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        Deployment {
            addr,
            state,
            clock,
            admin,
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(mut self) -> SocketAddr {
        drop(self.shutdown.take());
        drop(self.admin);
        if let Some(served) = self.served.take() {
            served.await.unwrap().unwrap();
        }
        self.addr
    }

    fn fingerprint(&self) -> String {
        self.state.publisher_fingerprint.clone()
    }

    /// Imports `other`'s list by URL, pinned.
    async fn import(&self, other: &Deployment) -> reqwest::Response {
        self.admin
            .post(self.url("/api/v1/admin/trust-imports"))
            .json(&json!({
                "url": other.url("/.well-known/healthcode/trust-list.json"),
                "pin": other.fingerprint(),
            }))
            .send()
            .await
            .unwrap()
    }

    /// The verifier a checkpoint of this deployment runs: from its trusted lists.
    fn verifier(&self) -> Verifier {
        let mut store = TrustStore::new();
        for list in self.state.trusted_lists() {
            store.add_trust_list(&TrustList::open(&list, None).unwrap());
        }
        Verifier::new(store)
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// SMS check; returns a client with the session cookie.
    async fn signed_in(&self, phone: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let r = client
            .post(self.url("/api/v1/otp"))
            .json(&json!({"phone": phone}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let code = sms_code(&self.state.store, phone).await;
        let r = client
            .post(self.url("/api/v1/otp/verify"))
            .json(&json!({"phone": phone, "code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        client
    }
}

async fn sms_code(store: &SqliteStore, phone: &str) -> String {
    let masked = healthcode_server::security::Phone::parse(phone)
        .unwrap()
        .masked();
    let body = store
        .outbox(20)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.to_masked == masked)
        .unwrap()
        .body;
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

fn application(kind: &str, number: &str) -> Value {
    let mut identity = json!({"kind": kind, "number": number});
    if kind == "passport" {
        identity["country"] = json!("GBR");
    }
    json!({"name": "Jane Doe", "identity": identity, "declaration": {}})
}

async fn code_of(d: &Deployment, client: &reqwest::Client) -> String {
    let code: Value = client
        .get(d.url("/api/v1/me/code"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    code["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn three_deployments_recognise_each_others_codes() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let national = Deployment::start(
        Spec {
            region_id: "cn-00",
            authority: Authority::National,
            national_platform: None,
            issuer: year_key("cn-00", 10),
            publisher_seed: 11,
            published_key_files: vec![],
        },
        dirs[0].path(),
        T0,
        None,
    )
    .await;
    let national_url = national.url("/");
    let province = |region: &'static str, seed: u8, keys: Vec<PathBuf>| Spec {
        region_id: region,
        authority: Authority::Region,
        national_platform: Some(national_url.clone()),
        issuer: year_key(region, seed),
        publisher_seed: seed + 1,
        published_key_files: keys,
    };
    let anhui = Deployment::start(province("cn-34", 20, vec![]), dirs[1].path(), T0, None).await;
    let shaanxi = Deployment::start(province("cn-61", 30, vec![]), dirs[2].path(), T0, None).await;

    // A person of Anhui gets a code there.
    let citizen = anhui.signed_in("13800138001").await;
    let r = citizen
        .post(anhui.url("/api/v1/applications"))
        .json(&application("resident_id", "220102199003071235"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let anhui_code = code_of(&anhui, &citizen).await;

    // Before importing, Shaanxi's checkpoints do not know Anhui's key.
    let refused = shaanxi
        .verifier()
        .verify(&anhui_code, shaanxi.now())
        .unwrap_err();
    assert_eq!(refused.reason, Reason::UnknownKey);

    // A wrong pin is refused, naming the pin.
    let r = shaanxi
        .admin
        .post(shaanxi.url("/api/v1/admin/trust-imports"))
        .json(&json!({"url": anhui.url("/.well-known/healthcode/trust-list.json"), "pin": national.fingerprint()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["field"], "pin");

    // Everyone imports everyone else, over HTTP, pinned.
    for (d, others) in [
        (&national, [&anhui, &shaanxi]),
        (&anhui, [&national, &shaanxi]),
        (&shaanxi, [&national, &anhui]),
    ] {
        for o in others {
            let r = d.import(o).await;
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        assert_eq!(d.state.trusted_lists().len(), 3);
    }
    // Importing the same list again changes nothing.
    let again: Value = shaanxi.import(&anhui).await.json().await.unwrap();
    assert_eq!(again["outcome"], "unchanged");

    // The person of Anhui passes a checkpoint of Shaanxi, offline.
    let ok = shaanxi
        .verifier()
        .verify(&anhui_code, shaanxi.now())
        .unwrap();
    assert_eq!(ok.issuer, "cn-34");
    let listed: Value = reqwest::get(shaanxi.url("/api/v1/trust-lists"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["imported"].as_array().unwrap().len(), 2);
    let page = reqwest::get(shaanxi.url("/trust?lang=en"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&anhui.fingerprint()) && page.contains("cn-34-publisher"));

    // A passport holder: Anhui points to the national platform...
    let traveller = anhui.signed_in("+447700900123").await;
    let r = traveller
        .post(anhui.url("/api/v1/applications"))
        .json(&application("passport", "123456789"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "traveller_code_is_national");
    assert!(err["error"]["message"]["en"]
        .as_str()
        .unwrap()
        .contains(&national_url));
    assert!(err["error"]["message"]["zh"]
        .as_str()
        .unwrap()
        .contains("外籍人员版"));
    // ...which issues the traveller version, and it verifies in Anhui.
    let traveller = national.signed_in("+447700900123").await;
    let r = traveller
        .post(national.url("/api/v1/applications"))
        .json(&application("passport", "123456789"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let traveller_code = code_of(&national, &traveller).await;
    let ok = anhui
        .verifier()
        .verify(&traveller_code, anhui.now())
        .unwrap();
    assert_eq!(ok.issuer, "cn-00");
    let Content::HealthCode(claims) = ok.content else {
        panic!()
    };
    assert_eq!(claims.kind, CodeKind::Traveller);

    // A rollback is refused: Anhui's current list offered to Shaanxi after a newer one.
    let first_anhui_list = anhui.state.federation.published();

    // Key rotation. Anhui restarts an hour later signing with a new key; the
    // old key stays published until its last code has expired.
    let dir = tempfile::tempdir().unwrap();
    let old_key = year_key("cn-34", 20);
    let old_pub = dir.path().join("old.pub.json");
    std::fs::write(&old_pub, public_key_json(&old_key.description()).unwrap()).unwrap();
    let addr = anhui.stop().await;
    let switch = T0 + Duration::hours(1);
    let new_key = key(
        "cn-34",
        40,
        switch - Duration::days(7),
        switch + Duration::days(365),
    );
    let anhui = Deployment::start(
        province("cn-34", 20, vec![old_pub.clone()]).with_issuer(new_key),
        dirs[1].path(),
        switch,
        Some(addr),
    )
    .await;
    shaanxi.state.refresh_trust_imports().await.unwrap();
    let fresh = anhui.signed_in("13800138001").await;
    let new_code = code_of(&anhui, &fresh).await;
    let mut checkpoint = shaanxi.verifier();
    assert!(checkpoint
        .verify(&new_code, switch.unix_timestamp())
        .is_ok());
    // The old key's code passes until its own expiry (120 s), then fails.
    let issued = T0.unix_timestamp();
    assert!(checkpoint.verify(&anhui_code, issued + 60).is_ok());
    assert_eq!(
        checkpoint
            .verify(&anhui_code, issued + 121)
            .unwrap_err()
            .reason,
        Reason::Expired
    );

    // Rollback: the first list, older than the one now held, is refused.
    let r = shaanxi
        .admin
        .post(shaanxi.url("/api/v1/admin/trust-imports"))
        .json(&json!({"text": first_anhui_list, "pin": anhui.fingerprint()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "trust_list_rollback");
    assert!(err["error"]["message"]["zh"]
        .as_str()
        .unwrap()
        .contains("回滚"));

    // A day later the old key is dropped: its codes now fail as unknown_key.
    let addr = anhui.stop().await;
    let later = switch + Duration::days(1);
    let anhui = Deployment::start(
        province("cn-34", 20, vec![]).with_issuer(key(
            "cn-34",
            40,
            switch - Duration::days(7),
            switch + Duration::days(365),
        )),
        dirs[1].path(),
        later,
        Some(addr),
    )
    .await;
    shaanxi.state.refresh_trust_imports().await.unwrap();
    let mut checkpoint = shaanxi.verifier();
    assert_eq!(
        checkpoint
            .verify(&anhui_code, issued + 60)
            .unwrap_err()
            .reason,
        Reason::UnknownKey
    );
    assert!(checkpoint
        .verify(&new_code, switch.unix_timestamp())
        .is_ok());

    // A refresh that fails is noted, and the held list stays trusted.
    let addr_gone = anhui.stop().await;
    shaanxi.state.refresh_trust_imports().await.unwrap();
    let listed: Value = reqwest::get(shaanxi.url("/api/v1/trust-lists"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let anhui_import = listed["imported"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["publisher"] == "cn-34-publisher")
        .unwrap()
        .clone();
    assert!(
        anhui_import["last_error"].is_string(),
        "{anhui_import} ({addr_gone})"
    );
    assert!(shaanxi
        .verifier()
        .verify(&new_code, switch.unix_timestamp())
        .is_ok());
    // Past its next update the held list is marked stale.
    shaanxi.clock.advance(Duration::days(3));
    let listed: Value = reqwest::get(shaanxi.url("/api/v1/trust-lists"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["imported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["publisher"] == "cn-34-publisher" && l["stale"] == true));

    // Audited: imports are administrator actions in the hash-chained log.
    let audit = shaanxi.state.store.audit_entries(0, 1000).await.unwrap();
    assert!(audit.iter().any(|e| e.record.action == "trust.imported"));
    assert!(audit.iter().any(|e| e.record.action == "trust.updated"));
}

impl Spec {
    fn with_issuer(mut self, issuer: IssuerKey) -> Spec {
        self.issuer = issuer;
        self
    }
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn register(store: &SqliteStore, id: &str, kind: &str) -> String {
    healthcode_server::channels::register_channel(
        store,
        T0,
        &SystemRandom::new(),
        "test:admin",
        id,
        &format!("{id} 小程序"),
        kind,
    )
    .await
    .unwrap()
    .1
}

#[tokio::test]
async fn channels_apply_show_or_are_refused_as_the_registry_says() {
    // DEMO-22 is Jilin: Alipay and WeChat apply, UnionPay nothing.
    let s = TestServer::start().await;
    let ali = register(&s.store, "tb-mini", "alipay").await;
    let up = register(&s.store, "up-mini", "unionpay").await;
    let http = reqwest::Client::new();

    let who: Value = http
        .get(s.url("/api/v1/channel"))
        .header("authorization", basic("tb-mini", &ali))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["capability"], "apply");
    let r = http
        .get(s.url("/api/v1/channel"))
        .header("authorization", basic("tb-mini", "hcs_wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The Alipay mini-program: SMS check, application, code.
    let r = http
        .post(s.url("/api/v1/channel/otp"))
        .header("authorization", basic("tb-mini", &ali))
        .json(&json!({"phone": "13900139000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let code = s.sms_code("13900139000").await;
    let session: Value = http
        .post(s.url("/api/v1/channel/otp/verify"))
        .header("authorization", basic("tb-mini", &ali))
        .json(&json!({"phone": "13900139000", "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap();
    let r = http
        .post(s.url("/api/v1/channel/applications"))
        .header("authorization", basic("tb-mini", &ali))
        .header("x-healthcode-session", token)
        .json(&application("resident_id", "220102199003071235"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let person: Value = r.json().await.unwrap();
    assert_eq!(person["channel"], "tb-mini");
    let r = http
        .get(s.url("/api/v1/channel/me/code"))
        .header("authorization", basic("tb-mini", &ali))
        .header("x-healthcode-session", token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The citizen's own page says which channel the code came through.
    let page = http
        .get(s.url("/code?lang=en"))
        .header("cookie", format!("hc_session={token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Applied through") && page.contains("tb-mini 小程序 (Alipay mini-program)"),
        "{page}"
    );

    // UnionPay offers nothing in Jilin: refused, saying why in both languages.
    let r = http
        .post(s.url("/api/v1/channel/otp"))
        .header("authorization", basic("up-mini", &up))
        .json(&json!({"phone": "13900139001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "channel_not_allowed");
    assert!(err["error"]["message"]["zh"]
        .as_str()
        .unwrap()
        .contains("不提供"));

    // Web applications record the web; claiming a channel needs its credentials.
    let web = s.signed_in("13900139002").await;
    let r = web
        .post(s.url("/api/v1/applications"))
        .json(&json!({"name": "李四", "identity": {"kind": "resident_id", "number": "220102199003071235"}, "declaration": {}, "channel": "tb-mini"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "channel_credentials_required");

    // Disabled: refused; the registration and the disabling are audited.
    healthcode_server::channels::disable_channel(&s.store, T0, "test:admin", "tb-mini")
        .await
        .unwrap();
    let r = http
        .get(s.url("/api/v1/channel"))
        .header("authorization", basic("tb-mini", &ali))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let audit = s.store.audit_about("channel:tb-mini").await.unwrap();
    let actions: Vec<_> = audit.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(actions, ["channel.registered", "channel.disabled"]);

    // Only administrators register channels over the API.
    let alice = s.official("alice").await;
    let r = alice
        .post(s.url("/api/v1/admin/channels"))
        .json(&json!({"client_id": "wx-mini", "name": "x", "kind": "wechat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn show_only_and_city_conditions_follow_the_footnotes() {
    let dir = tempfile::tempdir().unwrap();
    // Anhui: UnionPay may show, never apply (footnote 安康码).
    let anhui = Deployment::start(
        Spec {
            region_id: "cn-34",
            authority: Authority::Region,
            national_platform: None,
            issuer: year_key("cn-34", 50),
            publisher_seed: 51,
            published_key_files: vec![],
        },
        dir.path(),
        T0,
        None,
    )
    .await;
    let up = register(&anhui.state.store, "up-mini", "unionpay").await;
    let http = reqwest::Client::new();
    let r = http
        .post(anhui.url("/api/v1/channel/otp"))
        .header("authorization", basic("up-mini", &up))
        .json(&json!({"phone": "13900139003"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "showing needs the SMS check");
    let code = sms_code(&anhui.state.store, "13900139003").await;
    let session: Value = http
        .post(anhui.url("/api/v1/channel/otp/verify"))
        .header("authorization", basic("up-mini", &up))
        .json(&json!({"phone": "13900139003", "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(anhui.url("/api/v1/channel/applications"))
        .header("authorization", basic("up-mini", &up))
        .header("x-healthcode-session", session["token"].as_str().unwrap())
        .json(&application("resident_id", "220102199003071235"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(
        err["error"]["message"]["en"].as_str().unwrap(),
        "This channel can only show codes in this region, not apply. (UnionPay cannot be used to apply for the Anhui code (安康码); it can only show a code applied for in another app.)"
    );
    assert!(err["error"]["message"]["zh"]
        .as_str()
        .unwrap()
        .starts_with("该渠道在本地区只能展示健康码，不能申领。"));

    // Shaanxi: UnionPay only for the Xi'an code (a city deployment).
    let state_of = |city: Option<&str>| Settings {
        region_id: "cn-61".into(),
        city: city.map(str::to_owned),
        phone_hash_secret: Secret::new(SECRET),
        ..Settings::default()
    };
    for (city, expected) in [(None, "none"), (Some("6101"), "apply")] {
        let settings = state_of(city);
        settings.validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
        let state = AppState::new(
            store.clone(),
            settings,
            year_key("cn-61", 60),
            &year_key("cn-61-publisher", 61),
            Arc::new(FixedClock::new(T0)),
            Arc::new(OutboxSender::new(store)),
        )
        .unwrap();
        let cap = state.channel_capability(healthcode_core::regions::ChannelKind::Unionpay);
        assert_eq!(cap.as_str(), expected, "{city:?}");
    }
    let bad = Settings {
        city: Some("3205".into()),
        ..state_of(None)
    };
    assert!(bad.validate().unwrap_err().to_string().contains("3205"));
}
