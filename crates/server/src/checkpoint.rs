//! Checkpoints: `POST /api/verify` for non-browser scanners, the server's
//! revocation list (officials revoke code ids; the list is published signed
//! at `/.well-known/healthcode/revocations.json` and re-signed on every
//! change), and the bundle the checkpoint page caches to verify offline.
//!
//! The hot path touches no database: the trust store (this deployment's
//! trust lists and the revocation list) is parsed once into a snapshot,
//! replaced whole when a list changes, and each worker thread keeps its own
//! [`Verifier`] (buffers and inflater reused) for the current snapshot.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use healthcode_codec::checkpoint::{checkpoint_result, CheckpointResult};
use healthcode_codec::report::rfc3339;
use healthcode_codec::trust::{parse_code_id, RevocationList, TrustList};
use healthcode_codec::verify::VerifyOptions;
use healthcode_codec::{IssuerKey, SigningKey, TrustStore, Verifier};
use healthcode_core::checkpoint::{Policy, ShippedPolicy};
use healthcode_core::AuditRecord;
use healthcode_store::{Revocation, Role, Store};
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{OpenApi, ToSchema};

use crate::auth::Official;
use crate::error::{ApiError, ApiJson, ErrorBody};
use crate::i18n::Text;
use crate::state::AppState;

/// The policy applied when a request names none.
pub const DEFAULT_POLICY: &str = "metro";
/// Clock difference tolerated between the issuer and a checkpoint, seconds.
pub const CLOCK_SKEW: i64 = 60;
/// At most this many extra codes (a test, an itinerary card...) per request.
pub const MAX_EXTRA_CODES: usize = 4;
/// Longest code string accepted (our codes are ~300 characters, DCCs ~600).
pub const MAX_CODE_LEN: usize = 4096;

/// Every snapshot gets a number no other snapshot in this process has, so
/// a thread's cached verifier knows when it is stale.
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static VERIFIER: RefCell<Option<(u64, Verifier)>> = const { RefCell::new(None) };
}

/// Trust as of one moment: keys and revoked ids, and the published list.
#[derive(Debug)]
pub struct Snapshot {
    generation: u64,
    store: TrustStore,
    /// The signed revocation list as published.
    pub revocations_json: String,
    pub revoked: usize,
    pub issued_at: OffsetDateTime,
}

/// The checkpoint side of the app state.
pub struct Checkpoint {
    /// Signs the revocation list: the trust list's publisher key.
    publisher: SigningKey,
    publisher_id: String,
    /// Keys of every trusted list (without revocations), and the publisher
    /// fingerprints of those lists, for the page to pin.
    base: RwLock<(TrustStore, Vec<String>)>,
    options: VerifyOptions,
    policies: Vec<Policy>,
    snapshot: RwLock<Arc<Snapshot>>,
    loaded: AtomicBool,
    reload: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("publisher_id", &self.publisher_id)
            .finish_non_exhaustive()
    }
}

impl Checkpoint {
    /// Opens the trusted lists (signed JSON texts) and prepares an empty,
    /// signed revocation list; the stored revocations are loaded on first
    /// use ([`AppState::checkpoint_ready`]).
    pub fn new(
        trusted_lists: &[String],
        publisher: &IssuerKey,
        accept_demo: bool,
        now: OffsetDateTime,
        rng: &SystemRandom,
    ) -> Result<Checkpoint, String> {
        let base = open_lists(trusted_lists)?;
        let key = &publisher.signing_key;
        let publisher_key = SigningKey::from_pkcs8(key.algorithm(), key.pkcs8_der(), rng)
            .map_err(|e| e.to_string())?;
        let mut policies = Vec::new();
        for p in ShippedPolicy::ALL {
            policies.push(p.load().map_err(|e| format!("policy {}: {e}", p.name()))?);
        }
        let options = VerifyOptions {
            clock_skew: CLOCK_SKEW,
            accept_demo,
        };
        let checkpoint = Checkpoint {
            publisher: publisher_key,
            publisher_id: publisher.issuer.clone(),
            base: RwLock::new(base),
            options,
            policies,
            snapshot: RwLock::new(Arc::new(Snapshot {
                generation: 0,
                store: TrustStore::new(),
                revocations_json: String::new(),
                revoked: 0,
                issued_at: now,
            })),
            loaded: AtomicBool::new(false),
            reload: tokio::sync::Mutex::new(()),
        };
        let first = checkpoint.build(&[], now, rng)?;
        checkpoint.install(first);
        Ok(checkpoint)
    }

    /// Signs a revocation list of `ids` and builds the trust store that
    /// holds it (loading the list as a checkpoint would, which also proves
    /// the published text verifies).
    fn build(
        &self,
        ids: &[String],
        now: OffsetDateTime,
        rng: &SystemRandom,
    ) -> Result<Snapshot, String> {
        let json = RevocationList::new(&self.publisher_id, now, ids.to_vec())
            .sign(&self.publisher, rng)
            .map_err(|e| e.to_string())?
            .to_json();
        let mut store = self.base_store();
        store
            .add_revocation_list(&json)
            .map_err(|e| e.to_string())?;
        Ok(Snapshot {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            store,
            revocations_json: json,
            revoked: ids.len(),
            issued_at: now,
        })
    }

    fn base_store(&self) -> TrustStore {
        match self.base.read() {
            Ok(b) => b.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// SHA-256 fingerprints of the trusted lists' publisher keys.
    pub fn pins(&self) -> Vec<String> {
        match self.base.read() {
            Ok(b) => b.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    fn set_base(&self, base: (TrustStore, Vec<String>)) {
        match self.base.write() {
            Ok(mut slot) => *slot = base,
            Err(poisoned) => *poisoned.into_inner() = base,
        }
    }

    fn install(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.snapshot.write() {
            Ok(mut slot) => *slot = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// The current snapshot.
    pub fn current(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    pub fn policy(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.id == id)
    }

    pub fn options(&self) -> VerifyOptions {
        self.options
    }

    /// Verifies a code and the extra codes shown with it, and judges them
    /// under `policy`, with this thread's verifier for the current snapshot.
    pub fn judge(
        &self,
        policy: &Policy,
        code: &str,
        extras: &[String],
        now: i64,
    ) -> CheckpointResult {
        let snapshot = self.current();
        VERIFIER.with(|cell| {
            let mut cell = cell.borrow_mut();
            let verifier = match &mut *cell {
                Some((generation, verifier)) if *generation == snapshot.generation => verifier,
                slot => {
                    let verifier = Verifier::with_options(snapshot.store.clone(), self.options);
                    &mut slot.insert((snapshot.generation, verifier)).1
                }
            };
            let primary = verifier.verify(code, now);
            let extras: Vec<_> = extras.iter().map(|e| verifier.verify(e, now)).collect();
            checkpoint_result(policy, &primary, &extras, now, self.options.clock_skew)
        })
    }
}

impl<S: Store> AppState<S> {
    /// Loads the stored revocations into the verifier once, before the
    /// first verification or publication after start-up.
    pub async fn checkpoint_ready(&self) -> Result<(), ApiError> {
        if self.checkpoint.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        self.refresh_checkpoint_trust().await
    }

    /// Rebuilds the verifier's trust: re-opens [`AppState::trusted_lists`]
    /// (call this after importing or removing a list), re-reads the
    /// revocations, re-signs the revocation list and swaps the snapshot.
    pub async fn refresh_checkpoint_trust(&self) -> Result<(), ApiError> {
        let _one_at_a_time = self.checkpoint.reload.lock().await;
        let base = open_lists(&self.trusted_lists()).map_err(ApiError::internal)?;
        self.checkpoint.set_base(base);
        let ids: Vec<String> = self
            .store
            .revocations()
            .await?
            .iter()
            .map(|r| hex::encode(r.code_id))
            .collect();
        let snapshot = self
            .checkpoint
            .build(&ids, self.now(), &self.rng)
            .map_err(ApiError::internal)?;
        self.checkpoint.install(snapshot);
        self.checkpoint.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// An official revokes a code id: stored, audited, published.
    pub async fn revoke_code(
        &self,
        official: &healthcode_store::OfficialAccount,
        code_id: &str,
        reason: &str,
    ) -> Result<Revocation, ApiError> {
        if !official
            .roles
            .iter()
            .any(|r| matches!(r, Role::HealthOfficial | Role::Administrator))
        {
            return Err(ApiError::forbidden(
                "只有卫生健康工作人员或管理员可以撤销健康码。",
                "Only health officials and administrators may revoke codes.",
            ));
        }
        let code_id = parse_code_id(code_id).map_err(|_| {
            ApiError::invalid(
                "code_id",
                "码标识应为 32 位十六进制数（核验结果中的 code_id）。",
                "A code id is 32 hex digits (the code_id a verification shows).",
            )
        })?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(ApiError::invalid(
                "reason",
                "撤销原因须为 1 至 200 个字。",
                "The reason must be 1 to 200 characters.",
            ));
        }
        self.limit_revocations(&official.username)?;
        let revocation = Revocation {
            code_id,
            reason: reason.to_owned(),
            revoked_by: official.username.clone(),
            revoked_at: self.now(),
        };
        self.store
            .revoke_code(&revocation)
            .await
            .map_err(|e| match e {
                healthcode_store::StoreError::Conflict(_) => {
                    ApiError::conflict("此码已被撤销。", "This code has already been revoked.")
                }
                other => other.into(),
            })?;
        self.store
            .append_audit(AuditRecord {
                at: revocation.revoked_at,
                actor: format!("official:{}", official.username),
                action: "code.revoked".into(),
                subject: format!("code:{}", hex::encode(code_id)),
                details: serde_json::json!({ "reason": reason }).to_string(),
            })
            .await?;
        self.refresh_checkpoint_trust().await?;
        Ok(revocation)
    }

    fn limit_revocations(&self, username: &str) -> Result<(), ApiError> {
        let window = time::Duration::hours(1);
        match self
            .limiter
            .check(&format!("revoke:{username}"), 200, window, self.now())
        {
            Ok(()) => Ok(()),
            Err(retry_after) => Err(ApiError::too_many(retry_after)),
        }
    }
}

/// Opens signed trust lists into a trust store, with their publishers'
/// fingerprints.
fn open_lists(lists: &[String]) -> Result<(TrustStore, Vec<String>), String> {
    let mut store = TrustStore::new();
    let mut pins = Vec::new();
    for text in lists {
        let list = TrustList::open(text, None).map_err(|e| format!("trust list: {e}"))?;
        store.add_trust_list(&list);
        let pin = list.publisher_fingerprint();
        if !pins.contains(&pin) {
            pins.push(pin);
        }
    }
    Ok((store, pins))
}

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/verify", post(verify::<S>))
        .route(
            "/api/v1/revocations",
            post(revoke::<S>).get(list_revocations::<S>),
        )
        .route(
            "/.well-known/healthcode/revocations.json",
            get(revocations_json::<S>),
        )
        .route("/api/v1/checkpoint/bundle", get(bundle::<S>))
}

#[derive(OpenApi)]
#[openapi(
    paths(verify, revoke, list_revocations, revocations_json, bundle),
    components(schemas(
        VerifyRequest,
        VerifyResponse,
        ReasonView,
        RevokeRequest,
        RevocationView,
        Bundle,
        PolicyView
    ))
)]
pub struct CheckpointApiDoc;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The scanned code: `HCP1:…` (ours) or `HC1:…` (EU DCC).
    #[schema(max_length = 4096, example = "HCP1:6BFOXN...")]
    pub code: String,
    /// Codes shown beside it: a negative test certificate, an itinerary card.
    #[serde(default)]
    pub extra_codes: Vec<String>,
    /// `metro`, `hospital` or `airport`; `metro` when absent.
    #[serde(default)]
    pub policy: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReasonView {
    /// Stable: the verifier's reasons (`bad_signature`, `expired`,
    /// `revoked`, …) and the policy's (`colour_pass`, `colour_deny`,
    /// `negative_test_required`, …).
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// The verdict, as `CheckpointResult` serializes it.
#[derive(Serialize, ToSchema)]
pub struct VerifyResponse {
    /// `pass`, `restrict` or `deny`.
    pub verdict: String,
    pub policy: String,
    pub colour: Option<String>,
    /// `resident`, `traveller` or `itinerary_card`.
    pub kind: Option<String>,
    pub masked_name: Option<String>,
    pub masked_id: Option<String>,
    pub issuer: Option<String>,
    pub expires_at: Option<String>,
    pub demo: bool,
    pub reasons: Vec<ReasonView>,
}

fn check_code(field: &str, code: &str) -> Result<(), ApiError> {
    if code.trim().is_empty() || code.len() > MAX_CODE_LEN {
        return Err(ApiError::invalid(
            field,
            format!("码内容须为 1 至 {MAX_CODE_LEN} 个字符。"),
            format!("A code must be 1 to {MAX_CODE_LEN} characters."),
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/verify", request_body = VerifyRequest, tag = "checkpoint",
    description = "Verifies a code offline against this deployment's trust and revocation lists and judges it under a checkpoint policy. A code that fails verification is `deny` with the verifier's reason; that is a 200 answer, not an error.",
    responses((status = 200, body = VerifyResponse), (status = 400, body = ErrorBody), (status = 413, description = "Body too large"), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn verify<S: Store>(
    State(state): State<AppState<S>>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    check_code("code", &req.code)?;
    if req.extra_codes.len() > MAX_EXTRA_CODES {
        return Err(ApiError::invalid(
            "extra_codes",
            format!("附加码最多 {MAX_EXTRA_CODES} 个。"),
            format!("At most {MAX_EXTRA_CODES} extra codes."),
        ));
    }
    for (i, extra) in req.extra_codes.iter().enumerate() {
        check_code(&format!("extra_codes[{i}]"), extra)?;
    }
    let name = req.policy.as_deref().unwrap_or(DEFAULT_POLICY);
    let policy = state.checkpoint.policy(name).ok_or_else(|| {
        let known: Vec<&str> = state
            .checkpoint
            .policies()
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        ApiError::invalid(
            "policy",
            format!("未知的卡口策略 {name:?}；可用：{}。", known.join("、")),
            format!(
                "Unknown checkpoint policy {name:?}; known: {}.",
                known.join(", ")
            ),
        )
    })?;
    state.checkpoint_ready().await?;
    let now = state.now().unix_timestamp();
    let result = state
        .checkpoint
        .judge(policy, &req.code, &req.extra_codes, now);
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(result)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The code's id (32 hex digits), as a verification shows it.
    #[schema(pattern = r"^[0-9a-fA-F]{32}$")]
    pub code_id: String,
    /// Why (1–200 characters); kept for officials, not published.
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct RevocationView {
    pub code_id: String,
    pub reason: String,
    pub revoked_by: String,
    pub revoked_at: Option<String>,
}

impl From<&Revocation> for RevocationView {
    fn from(r: &Revocation) -> Self {
        RevocationView {
            code_id: hex::encode(r.code_id),
            reason: r.reason.clone(),
            revoked_by: r.revoked_by.clone(),
            revoked_at: rfc3339(r.revoked_at.unix_timestamp()),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/revocations", request_body = RevokeRequest, tag = "checkpoint",
    description = "Revokes a code id (health officials and administrators). Audited; the signed revocation list is re-issued at once.",
    responses((status = 201, body = RevocationView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiJson(req): ApiJson<RevokeRequest>,
) -> Result<(StatusCode, Json<RevocationView>), ApiError> {
    let r = state
        .revoke_code(&official.account, &req.code_id, &req.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(RevocationView::from(&r))))
}

#[utoipa::path(get, path = "/api/v1/revocations", tag = "checkpoint",
    responses((status = 200, body = [RevocationView]), (status = 401, body = ErrorBody)))]
async fn list_revocations<S: Store>(
    State(state): State<AppState<S>>,
    _official: Official,
) -> Result<Json<Vec<RevocationView>>, ApiError> {
    let all = state.store.revocations().await?;
    Ok(Json(all.iter().rev().map(RevocationView::from).collect()))
}

#[utoipa::path(get, path = "/.well-known/healthcode/revocations.json", tag = "checkpoint",
    responses((status = 200, description = "This deployment's signed revocation list (signed by the trust list's publisher key)", content_type = "application/json")))]
async fn revocations_json<S: Store>(
    State(state): State<AppState<S>>,
) -> Result<Response, ApiError> {
    state.checkpoint_ready().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        state.checkpoint.current().revocations_json.clone(),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    pub id: String,
    pub name: Text,
    /// The policy as data (`healthcode_core::checkpoint::Policy`).
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
}

/// Everything the checkpoint page caches to verify offline.
#[derive(Serialize, ToSchema)]
pub struct Bundle {
    /// Signed trust lists (JSON texts), each checked in the page against `pins`.
    pub trust_lists: Vec<String>,
    /// SHA-256 fingerprints (hex) of the publisher keys the page accepts.
    pub pins: Vec<String>,
    /// The signed revocation list (JSON text).
    pub revocations: String,
    pub policies: Vec<PolicyView>,
    pub default_policy: String,
    /// Seconds of clock difference tolerated.
    pub clock_skew: i64,
    /// Whether DEMO codes are accepted (marked DEMO) rather than refused.
    pub accept_demo: bool,
    pub fetched_at: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/checkpoint/bundle", tag = "checkpoint",
    responses((status = 200, body = Bundle)))]
async fn bundle<S: Store>(State(state): State<AppState<S>>) -> Result<Response, ApiError> {
    state.checkpoint_ready().await?;
    let snapshot = state.checkpoint.current();
    let policies = state
        .checkpoint
        .policies()
        .iter()
        .map(|p| PolicyView {
            id: p.id.clone(),
            name: Text::new(p.name.zh.clone(), p.name.en.clone()),
            policy: serde_json::to_value(p).unwrap_or_default(),
        })
        .collect();
    let options = state.checkpoint.options();
    let bundle = Bundle {
        trust_lists: state.trusted_lists(),
        pins: state.checkpoint.pins(),
        revocations: snapshot.revocations_json.clone(),
        policies,
        default_policy: DEFAULT_POLICY.into(),
        clock_skew: options.clock_skew,
        accept_demo: options.accept_demo,
        fetched_at: rfc3339(state.now().unix_timestamp()),
    };
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(bundle)).into_response())
}
