use std::net::SocketAddr;
use std::sync::Arc;

use healthcode_codec::{IssuerKey, SigningKey};
use healthcode_server::security::{hash_password, Phone, PhoneHasher};
use healthcode_server::sms::OutboxSender;
use healthcode_server::{AppState, FixedClock, Secret, Settings};
use healthcode_store::{OfficialAccount, Role, Store};
use healthcode_store_sqlite::SqliteStore;
use ring::rand::SystemRandom;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

pub const T0: OffsetDateTime = datetime!(2026-11-22 08:00 UTC);
pub const SECRET: &str = "test-phone-hash-secret-0123456789";

pub struct TestServer {
    pub base: String,
    pub store: SqliteStore,
    pub clock: Arc<FixedClock>,
    pub trust_list: String,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
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

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
        let settings = Settings {
            phone_hash_secret: Secret::new(SECRET),
            demo: true,
            ..Settings::default()
        };
        let clock = Arc::new(FixedClock::new(T0));
        let sms = Arc::new(OutboxSender::new(store.clone()));
        let state = AppState::new(
            store.clone(),
            settings,
            key("DEMO-22", 1),
            &key("DEMO-PUBLISHER", 2),
            clock.clone(),
            sms,
        )
        .unwrap();
        let trust_list = state.trust_list.clone();
        let rng = SystemRandom::new();
        for (name, role) in [("alice", Role::HealthOfficial), ("bob", Role::Reviewer)] {
            store
                .create_official(&OfficialAccount {
                    username: name.into(),
                    display_name: name.into(),
                    password_hash: hash_password(&format!("{name}-password"), &rng).unwrap(),
                    roles: vec![role],
                    created_at: T0,
                })
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(healthcode_server::serve(listener, state, async {
            let _ = rx.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            store,
            clock,
            trust_list,
            _dir: dir,
            _shutdown: tx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// The last one-time code the outbox holds for `phone`.
    pub async fn sms_code(&self, phone: &str) -> String {
        let masked = Phone::parse(phone).unwrap().masked();
        let messages = self.store.outbox(20).await.unwrap();
        let body = messages
            .iter()
            .find(|m| m.to_masked == masked)
            .map(|m| m.body.clone())
            .expect("an SMS was sent");
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("a six-digit code")
            .to_owned()
    }

    /// SMS check for `phone`; returns a client holding the session cookie.
    pub async fn signed_in(&self, phone: &str) -> reqwest::Client {
        let client = self.client();
        let r = client
            .post(self.url("/api/v1/otp"))
            .json(&json!({"phone": phone}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        let code = self.sms_code(phone).await;
        let r = client
            .post(self.url("/api/v1/otp/verify"))
            .json(&json!({"phone": phone, "code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        client
    }

    pub async fn apply(&self, client: &reqwest::Client, name: &str, id: &str) -> Value {
        let r = client
            .post(self.url("/api/v1/applications"))
            .json(&json!({
                "name": name,
                "identity": {"kind": "resident_id", "number": id},
                "declaration": {"fever": false, "symptoms": false}
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub fn phone_hasher() -> PhoneHasher {
        PhoneHasher::new(SECRET.as_bytes())
    }

    pub async fn official(&self, name: &str) -> reqwest::Client {
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
}

/// The engine is part of the contract the tests rely on.
pub fn _assert_store<S: Store>(_: &S) {}
