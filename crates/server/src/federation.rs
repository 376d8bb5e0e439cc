//! Mutual recognition between deployments: this deployment's published
//! trust list (re-signed with a rising sequence and a next-update time),
//! other deployments' lists imported by file or URL with the publisher's
//! key pinned (rollback refused, URL imports refreshed), the traveller
//! rule (a region pointing travellers to the national platform), and the
//! trust-list API and page. See docs/federation.md.

use std::sync::RwLock;
use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use healthcode_codec::keyfile::{self, IssuerKey};
use healthcode_codec::report::rfc3339;
use healthcode_codec::trust::{KeyDescription, TrustError, TrustList, VerifiedTrustList};
use healthcode_core::{AuditRecord, CodeKind, Identity};
use healthcode_store::{ImportedTrustList, Role, Store, StoreError};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::auth::Official;
use crate::config::{Authority, Settings};
use crate::error::{ApiError, ApiJson};
use crate::i18n::{Lang, Text};
use crate::pages::esc;
use crate::state::AppState;

/// Largest trust list accepted from a file or URL.
const MAX_LIST_BYTES: usize = 1024 * 1024;

/// How often imported lists are reloaded from the store (imports made by
/// `healthcode trust import` while the server runs appear within this).
const RELOAD_EVERY: StdDuration = StdDuration::from_secs(30);

struct Published {
    text: String,
    list: TrustList,
}

/// This deployment's trust list and the imported ones, shared by handlers.
pub struct Federation {
    publisher: IssuerKey,
    entries: Vec<KeyDescription>,
    hours: i64,
    published: RwLock<Published>,
    imported: RwLock<Vec<String>>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("publisher", &self.publisher.issuer)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Federation {
    /// Signs the first list: the issuing key and the other published ones
    /// (`published_key_files`: the next key, or the previous one).
    pub fn new(
        settings: &Settings,
        issuer_key: &IssuerKey,
        publisher: &IssuerKey,
        now: OffsetDateTime,
        rng: &dyn SecureRandom,
    ) -> Result<Federation, String> {
        let mut entries = Vec::new();
        for path in &settings.published_key_files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("published key {}: {e}", path.display()))?;
            let key = keyfile::read_public_json(&text)
                .map_err(|e| format!("published key {}: {e}", path.display()))?;
            if key.issuer != issuer_key.issuer {
                return Err(format!(
                    "published key {} belongs to {:?}, not {:?}",
                    path.display(),
                    key.issuer,
                    issuer_key.issuer
                ));
            }
            if key.kid != issuer_key.description().kid {
                entries.push(key);
            }
        }
        entries.push(issuer_key.description());
        // The publisher key is kept to re-sign the list; IssuerKey is not
        // Clone (ring keys), so it is copied through its key file.
        let publisher = publisher
            .to_private_json()
            .map_err(|e| e.to_string())
            .and_then(|json| IssuerKey::from_private_json(&json, rng).map_err(|e| e.to_string()))?;
        let (text, list) = sign(&publisher, &entries, now, 0, settings.trust_list_hours, rng)?;
        Ok(Federation {
            publisher,
            entries,
            hours: settings.trust_list_hours,
            published: RwLock::new(Published { text, list }),
            imported: RwLock::new(Vec::new()),
        })
    }

    /// The signed list as published now.
    pub fn published(&self) -> String {
        self.published
            .read()
            .map(|p| p.text.clone())
            .unwrap_or_default()
    }

    fn published_list(&self) -> Option<TrustList> {
        self.published.read().ok().map(|p| p.list.clone())
    }

    /// The imported lists (signed JSON texts) currently trusted.
    pub fn imported(&self) -> Vec<String> {
        self.imported.read().map(|l| l.clone()).unwrap_or_default()
    }

    fn set_imported(&self, lists: Vec<String>) {
        if let Ok(mut held) = self.imported.write() {
            *held = lists;
        }
    }

    /// Re-signs the list when half its time to the next update has passed,
    /// with a higher sequence.
    fn republish_if_due(&self, now: OffsetDateTime, rng: &dyn SecureRandom) -> Result<(), String> {
        let Some(current) = self.published_list() else {
            return Ok(());
        };
        if now < current.issued_at + Duration::minutes(self.hours * 30) {
            return Ok(());
        }
        let (text, list) = sign(
            &self.publisher,
            &self.entries,
            now,
            current.sequence,
            self.hours,
            rng,
        )?;
        if let Ok(mut p) = self.published.write() {
            *p = Published { text, list };
        }
        Ok(())
    }
}

fn sign(
    publisher: &IssuerKey,
    entries: &[KeyDescription],
    now: OffsetDateTime,
    previous_sequence: u64,
    hours: i64,
    rng: &dyn SecureRandom,
) -> Result<(String, TrustList), String> {
    let base = TrustList::new(publisher.description(), now, entries.to_vec());
    let sequence = base.sequence.max(previous_sequence.saturating_add(1));
    let list = base
        .with_sequence(sequence)
        .with_next_update(now + Duration::hours(hours));
    let text = list
        .sign(&publisher.signing_key, rng)
        .map_err(|e| e.to_string())?
        .to_json();
    Ok((text, list))
}

/// A regional deployment that names the national platform refuses
/// passports and permits, pointing there (seed 001: the traveller version is
/// issued nationally).
pub fn refer_travellers(settings: &Settings, identity: &Identity) -> Result<(), ApiError> {
    match (&settings.national_platform, settings.authority) {
        (Some(url), Authority::Region) if identity.code_kind() == CodeKind::Traveller => {
            Err(ApiError {
                field: Some("identity.kind".into()),
                ..ApiError::new(
                    StatusCode::FORBIDDEN,
                    "traveller_code_is_national",
                    Text::new(
                        format!("本地区只为持居民身份证者签发健康码。持护照或通行证的人员请在全国平台申领“外籍人员版”健康码：{url}"),
                        format!("This region issues codes to holders of a mainland resident ID only. With a passport or permit, apply for the traveller version on the national platform: {url}"),
                    ),
                )
            })
        }
        _ => Ok(()),
    }
}

// ----------------------------------------------------------------------------
// Importing

fn trust_error(field: &str, e: &TrustError) -> ApiError {
    match e {
        TrustError::PinMismatch { found, .. } => ApiError::invalid(
            "pin",
            format!("信任列表发布者公钥指纹不符：实际为 {found}。"),
            format!("The trust list's publisher key fingerprint does not match the pin: it is {found}."),
        ),
        TrustError::Rollback { held, offered } => ApiError::new(
            StatusCode::CONFLICT,
            "trust_list_rollback",
            Text::new(
                format!("拒绝回滚：该信任列表序号 {offered} 低于已导入的 {held}。"),
                format!("Rollback refused: this trust list's sequence {offered} is older than the {held} already imported."),
            ),
        ),
        TrustError::SequenceReused(n) => ApiError::new(
            StatusCode::CONFLICT,
            "trust_list_sequence_reused",
            Text::new(
                format!("拒绝导入：序号 {n} 已导入但内容不同。"),
                format!("Refused: sequence {n} is already imported with different content."),
            ),
        ),
        other => ApiError::invalid(
            field,
            format!("不是有效的已签名信任列表：{other}"),
            format!("Not a valid signed trust list: {other}"),
        ),
    }
}

fn normalise_pin(pin: &str) -> Result<String, ApiError> {
    let pin = pin.trim().to_ascii_lowercase().replace(':', "");
    if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "pin",
            "指纹应为发布者公钥的 SHA-256（64 位十六进制数）。",
            "The pin is the SHA-256 fingerprint of the publisher key (64 hex digits).",
        ));
    }
    Ok(pin)
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportOutcome {
    /// `imported` (new publisher), `updated` (newer list) or `unchanged`.
    pub outcome: String,
    pub list: TrustListView,
}

/// Imports a signed trust list (text fetched from `source`, a URL or
/// `file:<path>`) whose publisher key has fingerprint `pin`: verified,
/// refused if older than the one held (rollback), stored and audited.
#[allow(clippy::too_many_arguments)]
pub async fn import_trust_list<S: Store>(
    store: &S,
    own_fingerprint: Option<&str>,
    now: OffsetDateTime,
    actor: &str,
    text: &str,
    pin: &str,
    source: &str,
) -> Result<ImportOutcome, ApiError> {
    let pin = normalise_pin(pin)?;
    if text.len() > MAX_LIST_BYTES {
        return Err(ApiError::invalid(
            "text",
            "信任列表超过 1 MiB。",
            "The trust list is larger than 1 MiB.",
        ));
    }
    let verified = TrustList::open(text, Some(&pin)).map_err(|e| trust_error("text", &e))?;
    if own_fingerprint == Some(pin.as_str()) {
        return Err(ApiError::invalid(
            "pin",
            "这是本部署自己的信任列表，无需导入。",
            "This is this deployment's own trust list; it needs no import.",
        ));
    }
    let held = store
        .trust_imports()
        .await?
        .into_iter()
        .find(|l| l.fingerprint == pin);
    let outcome = match &held {
        None => "imported",
        Some(h) => {
            let held_list = TrustList::open(&h.text, Some(&pin))
                .map_err(|e| ApiError::internal(format!("stored trust list {pin}: {e}")))?;
            match verified.may_replace(&held_list.list) {
                Ok(true) => "updated",
                Ok(false) => "unchanged",
                Err(e) => return Err(trust_error("text", &e)),
            }
        }
    };
    if outcome == "unchanged" {
        store.note_trust_check(&pin, now, None).await?;
    } else {
        let record = ImportedTrustList {
            fingerprint: pin.clone(),
            publisher: verified.list.publisher.issuer.clone(),
            source: source.to_owned(),
            text: text.to_owned(),
            sequence: verified.list.sequence,
            imported_at: now,
            checked_at: now,
            last_error: None,
        };
        store.put_trust_import(&record).await.map_err(|e| match e {
            StoreError::Conflict(_) => trust_error(
                "text",
                &TrustError::Rollback {
                    held: held.as_ref().map_or(0, |h| h.sequence),
                    offered: record.sequence,
                },
            ),
            other => other.into(),
        })?;
        store
            .append_audit(AuditRecord {
                at: now,
                actor: actor.to_owned(),
                action: format!("trust.{outcome}"),
                subject: format!("trust:{pin}"),
                details: serde_json::json!({
                    "publisher": verified.list.publisher.issuer,
                    "sequence": verified.list.sequence,
                    "source": source,
                    "keys": verified.list.entries.len(),
                })
                .to_string(),
            })
            .await?;
    }
    Ok(ImportOutcome {
        outcome: outcome.to_owned(),
        list: list_view(&verified, Some(source), now),
    })
}

/// Fetches a trust list by URL (10 s, 1 MiB at most).
pub async fn fetch_trust_list(url: &str) -> Result<String, String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("{url:?} is not an http(s) address"));
    }
    let client = reqwest::Client::builder()
        .timeout(StdDuration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if bytes.len() > MAX_LIST_BYTES {
        return Err(format!("{url} sent more than 1 MiB"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{url} sent text that is not UTF-8"))
}

impl<S: Store> AppState<S> {
    /// Loads the imported lists from the store into the trusted set (each
    /// checked against its pinned fingerprint again).
    pub async fn reload_trust_imports(&self) -> Result<usize, ApiError> {
        let mut lists = Vec::new();
        for import in self.store.trust_imports().await? {
            match TrustList::open(&import.text, Some(&import.fingerprint)) {
                Ok(_) => lists.push(import.text),
                Err(e) => {
                    tracing::warn!(fingerprint = %import.fingerprint, error = %e, "stored trust list no longer opens; not trusted")
                }
            }
        }
        let n = lists.len();
        self.federation.set_imported(lists);
        // The checkpoint verifier (POST /api/verify, the page's bundle)
        // follows the trusted set, and re-reads the revocations.
        self.refresh_checkpoint_trust().await?;
        Ok(n)
    }

    /// Imports a list and trusts it at once.
    pub async fn import_trust_list(
        &self,
        actor: &str,
        text: &str,
        pin: &str,
        source: &str,
    ) -> Result<ImportOutcome, ApiError> {
        let outcome = import_trust_list(
            &self.store,
            Some(&self.publisher_fingerprint),
            self.now(),
            actor,
            text,
            pin,
            source,
        )
        .await?;
        self.reload_trust_imports().await?;
        Ok(outcome)
    }

    /// Fetches every list imported by URL again; newer lists replace the
    /// held ones, failures (and rollbacks) are noted on the import.
    pub async fn refresh_trust_imports(&self) -> Result<(), ApiError> {
        for import in self.store.trust_imports().await? {
            if !import.source.starts_with("http") {
                continue;
            }
            let result = match fetch_trust_list(&import.source).await {
                Ok(text) => self
                    .import_trust_list("system:refresh", &text, &import.fingerprint, &import.source)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.message.en),
                Err(e) => Err(e),
            };
            if let Err(why) = result {
                tracing::warn!(source = %import.source, error = %why, "trust list refresh failed");
                self.store
                    .note_trust_check(&import.fingerprint, self.now(), Some(&why))
                    .await?;
            }
        }
        Ok(())
    }
}

/// Keeps the trusted set current while serving: reloads imports from the
/// store, refreshes URL imports every `trust_refresh_seconds`, and re-signs
/// this deployment's own list before its next update.
pub async fn refresh_forever<S: Store>(state: AppState<S>) {
    let every = StdDuration::from_secs(state.settings.trust_refresh_seconds);
    let mut last_refresh: Option<std::time::Instant> = None;
    let mut tick = tokio::time::interval(RELOAD_EVERY.min(every));
    loop {
        tick.tick().await;
        if let Err(e) = state.reload_trust_imports().await {
            tracing::warn!(error = %e.message.en, "loading imported trust lists failed");
        }
        if last_refresh.is_none_or(|t| t.elapsed() >= every) {
            // The first pass only loads: imports were just made or fetched.
            if last_refresh.is_some() {
                if let Err(e) = state.refresh_trust_imports().await {
                    tracing::warn!(error = %e.message.en, "refreshing trust lists failed");
                }
            }
            last_refresh = Some(std::time::Instant::now());
        }
        if let Err(e) = state.federation.republish_if_due(state.now(), &state.rng) {
            tracing::warn!(error = %e, "re-signing the trust list failed");
        }
    }
}

// ----------------------------------------------------------------------------
// API and page

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/trust-lists", get(trust_lists::<S>))
        .route("/api/v1/admin/trust-imports", post(admin_import::<S>))
        .route("/trust", get(trust_page::<S>))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyView {
    pub issuer: String,
    pub kid: String,
    pub alg: String,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    pub demo: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrustListView {
    pub publisher: String,
    /// SHA-256 of the publisher key (hex): what importers pin.
    pub fingerprint: String,
    pub sequence: u64,
    pub issued_at: Option<String>,
    pub next_update: Option<String>,
    /// Past its next update: the publisher has not been heard from since.
    pub stale: bool,
    /// Where it was imported from (imported lists only).
    pub source: Option<String>,
    pub keys: Vec<KeyView>,
}

fn list_view(v: &VerifiedTrustList, source: Option<&str>, now: OffsetDateTime) -> TrustListView {
    let l = &v.list;
    TrustListView {
        publisher: l.publisher.issuer.clone(),
        fingerprint: v.publisher_fingerprint(),
        sequence: l.sequence,
        issued_at: rfc3339(l.issued_at.unix_timestamp()),
        next_update: l.next_update.and_then(|t| rfc3339(t.unix_timestamp())),
        stale: l.is_stale(now),
        source: source.map(str::to_owned),
        keys: l
            .entries
            .iter()
            .map(|k| KeyView {
                issuer: k.issuer.clone(),
                kid: k.kid.clone(),
                alg: k.alg.clone(),
                valid_from: rfc3339(k.valid_from.unix_timestamp()),
                valid_to: rfc3339(k.valid_to.unix_timestamp()),
                demo: k.demo,
            })
            .collect(),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportedView {
    #[serde(flatten)]
    pub list: TrustListView,
    pub imported_at: Option<String>,
    pub checked_at: Option<String>,
    /// Why the last refresh failed, if it did.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrustListsView {
    /// This deployment: its region (issuing authority) and kind.
    pub region: String,
    /// `region` or `national`.
    pub authority: String,
    pub own: TrustListView,
    pub imported: Vec<ImportedView>,
}

async fn trust_lists_view<S: Store>(state: &AppState<S>) -> Result<TrustListsView, ApiError> {
    let now = state.now();
    let own = TrustList::open(&state.federation.published(), None)
        .map_err(|e| ApiError::internal(format!("own trust list: {e}")))?;
    let mut imported = Vec::new();
    for i in state.store.trust_imports().await? {
        let Ok(v) = TrustList::open(&i.text, Some(&i.fingerprint)) else {
            continue;
        };
        imported.push(ImportedView {
            list: list_view(&v, Some(&i.source), now),
            imported_at: rfc3339(i.imported_at.unix_timestamp()),
            checked_at: rfc3339(i.checked_at.unix_timestamp()),
            last_error: i.last_error,
        });
    }
    Ok(TrustListsView {
        region: state.settings.region_id.clone(),
        authority: state.settings.authority.as_str().to_owned(),
        own: list_view(&own, None, now),
        imported,
    })
}

#[utoipa::path(get, path = "/api/v1/trust-lists",
    responses((status = 200, body = TrustListsView)))]
pub(crate) async fn trust_lists<S: Store>(
    State(state): State<AppState<S>>,
) -> Result<Json<TrustListsView>, ApiError> {
    Ok(Json(trust_lists_view(&state).await?))
}

/// An import by an administrator: the list's URL (fetched now and
/// refreshed later) or its text, and the publisher's fingerprint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// SHA-256 fingerprint of the publisher key (64 hex digits).
    pub pin: String,
}

pub fn require_admin(official: &Official) -> Result<(), ApiError> {
    if official.account.roles.contains(&Role::Administrator) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "只有管理员可以执行此操作。",
            "Only administrators may do this.",
        ))
    }
}

#[utoipa::path(post, path = "/api/v1/admin/trust-imports", request_body = ImportRequest,
    responses((status = 201, body = ImportOutcome), (status = 200, body = ImportOutcome), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody), (status = 502, body = crate::error::ErrorBody)))]
pub(crate) async fn admin_import<S: Store>(
    State(state): State<AppState<S>>,
    official: Official,
    ApiJson(req): ApiJson<ImportRequest>,
) -> Result<Response, ApiError> {
    require_admin(&official)?;
    let (text, source) = match (req.url, req.text) {
        (Some(url), None) => {
            let text = fetch_trust_list(url.trim()).await.map_err(|why| ApiError {
                field: Some("url".into()),
                ..ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "trust_list_unreachable",
                    Text::new(
                        format!("无法获取信任列表：{why}"),
                        format!("Cannot fetch the trust list: {why}"),
                    ),
                )
            })?;
            (text, url.trim().to_owned())
        }
        (None, Some(text)) => (text, "upload".to_owned()),
        _ => {
            return Err(ApiError::invalid(
                "url",
                "请给出信任列表的地址（url）或内容（text），二者选一。",
                "Give the trust list's address (url) or its text, one of the two.",
            ))
        }
    };
    let actor = format!("official:{}", official.account.username);
    let outcome = state
        .import_trust_list(&actor, &text, &req.pin, &source)
        .await?;
    let status = if outcome.outcome == "imported" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)).into_response())
}

mod t {
    use crate::i18n::ui;
    ui! {
        TITLE => "互认：信任的签发机构", "Mutual recognition: trusted issuers";
        INTRO => "本部署的卡口离线核验以下信任列表中密钥签发的健康码。导入其他地区的列表时须核对其发布者公钥指纹。", "This deployment's checkpoints verify codes offline against the keys of these trust lists. Lists of other regions are imported with their publisher key's fingerprint pinned.";
        OWN => "本部署发布的信任列表", "This deployment's published trust list";
        IMPORTED => "已导入的信任列表", "Imported trust lists";
        NONE => "尚未导入其他地区的信任列表。", "No other region's trust list has been imported yet.";
        PUBLISHER => "发布者", "Publisher";
        FINGERPRINT => "指纹（SHA-256）", "Fingerprint (SHA-256)";
        SEQUENCE => "序号", "Sequence";
        NEXT_UPDATE => "下次更新", "Next update";
        SOURCE => "来源", "Source";
        KEYS => "签发密钥", "Issuer keys";
        STALE => "已过期未更新：发布者在下次更新时间后未发布新列表", "Stale: the publisher has published no newer list since its next update";
        LAST_ERROR => "最近一次刷新失败", "Last refresh failed";
        WELL_KNOWN => "公开地址", "Published at";
    }
}

fn list_html(v: &TrustListView, lang: Lang) -> String {
    let keys: String = v
        .keys
        .iter()
        .map(|k| {
            format!(
                "<li><code>{}</code> {} · {} → {}{}</li>",
                esc(&k.kid),
                esc(&k.issuer),
                esc(k.valid_from.as_deref().unwrap_or("")),
                esc(k.valid_to.as_deref().unwrap_or("")),
                if k.demo { " · DEMO" } else { "" }
            )
        })
        .collect();
    format!(
        r#"<dl><dt>{pl}</dt><dd>{p}</dd><dt>{fl}</dt><dd><code>{f}</code></dd><dt>{sl}</dt><dd>{s}</dd><dt>{nl}</dt><dd>{n}</dd>{src}</dl>{stale}<p>{kl}</p><ul>{keys}</ul>"#,
        pl = t::PUBLISHER.get(lang),
        p = esc(&v.publisher),
        fl = t::FINGERPRINT.get(lang),
        f = esc(&v.fingerprint),
        sl = t::SEQUENCE.get(lang),
        s = v.sequence,
        nl = t::NEXT_UPDATE.get(lang),
        n = esc(v.next_update.as_deref().unwrap_or("—")),
        src = v
            .source
            .as_deref()
            .map(|s| format!(
                "<dt>{}</dt><dd><code>{}</code></dd>",
                t::SOURCE.get(lang),
                esc(s)
            ))
            .unwrap_or_default(),
        stale = if v.stale {
            format!("<p class=\"error\">{}</p>", t::STALE.get(lang))
        } else {
            String::new()
        },
        kl = t::KEYS.get(lang),
    )
}

async fn trust_page<S: Store>(
    State(state): State<AppState<S>>,
    q: axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::negotiate(q.get("lang").map(String::as_str), &headers);
    let view = match trust_lists_view(&state).await {
        Ok(v) => v,
        Err(e) => return crate::pages::error_page(&state, lang, &e),
    };
    let mut imported = String::new();
    for i in &view.imported {
        imported.push_str("<section class=\"card\">");
        imported.push_str(&list_html(&i.list, lang));
        if let Some(err) = &i.last_error {
            imported.push_str(&format!(
                "<p class=\"error\">{}: {}</p>",
                t::LAST_ERROR.get(lang),
                esc(err)
            ));
        }
        imported.push_str("</section>");
    }
    if imported.is_empty() {
        imported = format!("<p>{}</p>", t::NONE.get(lang));
    }
    let body = format!(
        r#"<h1>{title}</h1><p>{intro}</p><h2>{own_l}</h2><section class="card">{own}<p class="note">{wk}: <code>/.well-known/healthcode/trust-list.json</code></p></section><h2>{imp_l}</h2>{imported}"#,
        title = t::TITLE.get(lang),
        intro = t::INTRO.get(lang),
        own_l = t::OWN.get(lang),
        own = list_html(&view.own, lang),
        wk = t::WELL_KNOWN.get(lang),
        imp_l = t::IMPORTED.get(lang),
    );
    crate::pages::page(&state, lang, "/trust", t::TITLE.get(lang), &body).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_ui_string_has_both_languages() {
        for ui in super::t::ALL {
            assert!(!ui.zh.trim().is_empty() && !ui.en.trim().is_empty());
            assert_ne!(ui.zh, ui.en, "{} is not translated", ui.en);
        }
    }
}
