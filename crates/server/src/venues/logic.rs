//! Venue codes, check-ins and tracing: the logic behind the venue pages
//! and API, over the store and the deployment's issuer key.

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use healthcode_codec::document::SignedDocument;
use healthcode_codec::sealed::{self, hour_of, Key32};
use healthcode_codec::PublicKey;
use healthcode_core::mask::{mask_id, mask_name};
use healthcode_core::tracing::{
    companions, is_region_code, venue_contacts, venue_implausibility, CellStay, Companion,
    Implausibility, Subject, TracingParams, VenueCandidate, Visit, Window,
};
use healthcode_core::{AuditRecord, Identity, ResidentId};
use healthcode_store::venues::{
    CheckIn, Dependent, HourKeys, HourReveal, SealedCheckIn, VenueId, VenueMode, VenueRecord,
    MAX_STAY,
};
use healthcode_store::{OfficialAccount, PersonId, PersonRecord, PhoneHash, Role, Store};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::i18n::Text;
use crate::service::FactInput;
use crate::state::AppState;

/// What the `kind` of a venue QR payload says.
pub const VENUE_KIND: &str = "healthcode-venue";
/// Operator tokens start with this, so they are never taken for sessions.
pub const OPERATOR_PREFIX: &str = "hcv_";
/// How long a check-in lasts without a check-out.
pub const DEFAULT_STAY: Duration = Duration::hours(2);
/// Hour keys a sealed venue publishes at registration (90 days).
pub const SEALED_HOURS: u32 = 90 * 24;
/// Dependents one citizen may list.
pub const MAX_DEPENDENTS: usize = 10;
/// Items in one batch request.
pub const MAX_BATCH: usize = 1000;

/// A venue registration.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VenueInput {
    pub name: String,
    pub address: String,
    /// GB/T 2260 code of the district or city (6 digits), e.g. `610113`.
    #[schema(pattern = r"^[1-8][0-9]{5}$")]
    pub region_code: String,
    /// e.g. `mall`, `restaurant`, `hospital`, `transport`, `office`.
    pub category: String,
    /// The location cell id the venue lies in (from the carriers' grid).
    #[serde(default)]
    pub cell: Option<String>,
    /// `open` (default) or `sealed` (privacy-preserving check-ins).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "open")]
    pub mode: Option<VenueMode>,
}

/// A registered venue and its secrets, shown once.
#[derive(Debug, Clone)]
pub struct Registered {
    pub venue: VenueRecord,
    /// The operator's credential (only its hash is stored).
    pub operator_token: String,
    /// Sealed venues: the seed of the venue's hour secrets (not stored).
    pub venue_seed: Option<String>,
}

/// The signed content of a venue QR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenuePayload {
    pub kind: String,
    pub iss: String,
    /// Venue id.
    pub v: String,
    /// Name, region code, mode.
    pub n: String,
    pub r: String,
    pub m: VenueMode,
    /// Signed at (Unix seconds).
    pub iat: i64,
    /// Sealed venues: the authority's X25519 public key (base64url) and a
    /// commitment to the venue's published hour keys (SHA-256, 16 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ak: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vk: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
}

/// The plaintext of a sealed check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedBody {
    pub p: String,
    #[serde(default)]
    pub d: u16,
    pub a: i64,
    pub l: i64,
}

/// One item of a batch.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    /// The caller's id for this check-in: a retry with the same id is not
    /// stored twice. 1–64 characters.
    pub client_id: String,
    /// Venue id (16 hex digits); a venue operator may leave it out.
    #[serde(default)]
    pub venue: Option<String>,
    /// The person's id, or else their document number.
    #[serde(default)]
    pub person: Option<String>,
    #[serde(default)]
    pub identity_number: Option<String>,
    /// 0 (default): the person; n: their n-th dependent.
    #[serde(default)]
    pub dependent: u16,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub arrived: OffsetDateTime,
    /// Defaults to arrival plus the default stay (2 h); at most 24 h later.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub left: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub items: Vec<BatchItem>,
}

/// What became of one batch item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemError {
    pub index: usize,
    pub client_id: String,
    pub field: String,
    pub message: Text,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchResult {
    /// Items stored now.
    pub stored: usize,
    /// Items whose client id was seen before (not stored again).
    pub duplicates: usize,
    /// Items refused, with their index and why; the rest were processed.
    pub rejected: Vec<ItemError>,
}

/// Who registers a venue.
pub enum Registrar<'a> {
    Official(&'a OfficialAccount),
    SelfService,
}

fn text_field(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("须填写 1 至 {max} 个字，且不含控制字符。"),
            format!("Must be 1 to {max} characters, without control characters."),
        ));
    }
    Ok(v.to_owned())
}

pub fn health_official(official: &OfficialAccount) -> Result<(), ApiError> {
    if official.roles.contains(&Role::HealthOfficial) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "只有卫生健康工作人员可以进行此操作。",
            "Only health officials may do this.",
        ))
    }
}

pub fn hash_token(token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"healthcode-venue-operator-v1");
    h.update(token.as_bytes());
    h.finalize().into()
}

fn bad_token() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_venue_code",
        Text::new(
            "这不是本系统签发的有效场所码（签名无法验证）。请扫描场所张贴的场所码。",
            "This is not a valid venue code of this service (its signature does not verify). Please scan the code posted at the venue.",
        ),
    )
}

/// Validates a venue registration into a record (without secrets).
pub fn validate_venue(
    input: &VenueInput,
) -> Result<(String, String, String, String, Option<String>), ApiError> {
    let name = text_field("name", &input.name, 60)?;
    let address = text_field("address", &input.address, 120)?;
    let region = input.region_code.trim();
    if !is_region_code(region) {
        return Err(ApiError::invalid(
            "region_code",
            "地区代码须为 6 位 GB/T 2260 行政区划代码，如 610113。",
            "The region code must be a 6-digit GB/T 2260 division code, e.g. 610113.",
        ));
    }
    let category = input.category.trim();
    if category.is_empty()
        || category.len() > 32
        || !category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(ApiError::invalid(
            "category",
            "类别须为 1 至 32 个小写字母、数字、- 或 _，如 mall。",
            "The category must be 1 to 32 lowercase letters, digits, - or _, e.g. mall.",
        ));
    }
    let cell = match input.cell.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) if c.len() <= 64 && c.bytes().all(|b| b.is_ascii_graphic()) => Some(c.to_owned()),
        Some(_) => {
            return Err(ApiError::invalid(
                "cell",
                "位置网格编号须为至多 64 个可见 ASCII 字符。",
                "The location cell id must be at most 64 visible ASCII characters.",
            ))
        }
    };
    Ok((name, address, region.to_owned(), category.to_owned(), cell))
}

impl<S: Store> AppState<S> {
    fn fill(&self, buf: &mut [u8]) -> Result<(), ApiError> {
        self.rng
            .fill(buf)
            .map_err(|_| ApiError::internal("rng failed"))
    }

    fn key32(&self) -> Result<Key32, ApiError> {
        let mut k = [0u8; 32];
        self.fill(&mut k)?;
        Ok(k)
    }

    /// The health authority's X25519 secret for sealed check-ins, derived
    /// from the issuer's signing key (so it lives where that key lives).
    pub fn authority_secret(&self) -> Result<Key32, ApiError> {
        let issuer = self
            .issuer
            .lock()
            .map_err(|_| ApiError::internal("issuer lock poisoned"))?;
        let mut h = Sha256::new();
        h.update(b"healthcode sealed check-in authority key v1");
        h.update(issuer.key().signing_key.pkcs8_der());
        Ok(h.finalize().into())
    }

    pub fn authority_public(&self) -> Result<Key32, ApiError> {
        Ok(sealed::public_key(&self.authority_secret()?))
    }

    fn issuer_public(&self) -> Result<PublicKey, ApiError> {
        let issuer = self
            .issuer
            .lock()
            .map_err(|_| ApiError::internal("issuer lock poisoned"))?;
        Ok(issuer.key().signing_key.public_key().clone())
    }

    /// Registers a venue; returns its one-time secrets.
    pub async fn register_venue(
        &self,
        input: &VenueInput,
        by: Registrar<'_>,
    ) -> Result<Registered, ApiError> {
        let (name, address, region_code, category, cell) = validate_venue(input)?;
        let registered_by = match by {
            Registrar::Official(o) => {
                health_official(o)?;
                format!("official:{}", o.username)
            }
            Registrar::SelfService => "self".to_owned(),
        };
        let now = self.now();
        let mut id = [0u8; 8];
        self.fill(&mut id)?;
        let id = VenueId(u64::from_be_bytes(id));
        let operator_token = format!("{OPERATOR_PREFIX}{}", hex::encode(self.key32()?));
        let mode = input.mode.unwrap_or(VenueMode::Open);
        let (hour_keys, venue_seed) = match mode {
            VenueMode::Open => (None, None),
            VenueMode::Sealed => {
                let seed = self.key32()?;
                let first_hour = hour_of(now.unix_timestamp());
                let publics =
                    sealed::venue_hour_publics(&seed, &id.to_string(), first_hour, SEALED_HOURS)
                        .map_err(ApiError::internal)?;
                (
                    Some(HourKeys {
                        first_hour,
                        publics,
                    }),
                    Some(hex::encode(seed)),
                )
            }
        };
        let venue = VenueRecord {
            id,
            name,
            address,
            region_code,
            category,
            cell,
            mode,
            operator_token_hash: hash_token(&operator_token),
            demo: self.settings.demo || self.demo_issuer,
            registered_by: registered_by.clone(),
            created_at: now,
            hour_keys,
        };
        self.store.create_venue(&venue).await?;
        self.store
            .append_audit(AuditRecord {
                at: now,
                actor: registered_by,
                action: "venue.registered".into(),
                subject: format!("venue:{id}"),
                details: serde_json::json!({
                    "name": venue.name, "region_code": venue.region_code,
                    "category": venue.category, "mode": mode.as_str(),
                })
                .to_string(),
            })
            .await?;
        Ok(Registered {
            venue,
            operator_token,
            venue_seed,
        })
    }

    /// The signed token a venue QR carries (in `/v/<token>`):
    /// base64url(protected) . base64url(payload JSON) . base64url(signature),
    /// a COSE signature with the issuer key over the payload.
    pub fn venue_token(&self, venue: &VenueRecord) -> Result<String, ApiError> {
        let (ak, vk) = match &venue.hour_keys {
            Some(keys) => (
                Some(B64URL.encode(self.authority_public()?)),
                Some(B64URL.encode(&Sha256::digest(&keys.publics)[..16])),
            ),
            None => (None, None),
        };
        let payload = VenuePayload {
            kind: VENUE_KIND.into(),
            iss: self.issuer_id.clone(),
            v: venue.id.to_string(),
            n: venue.name.clone(),
            r: venue.region_code.clone(),
            m: venue.mode,
            iat: venue.created_at.unix_timestamp(),
            ak,
            vk,
            demo: venue.demo,
        };
        let json = serde_json::to_string(&payload).map_err(ApiError::internal)?;
        let doc = {
            let issuer = self
                .issuer
                .lock()
                .map_err(|_| ApiError::internal("issuer lock poisoned"))?;
            SignedDocument::sign(json, &issuer.key().signing_key, &self.rng)
                .map_err(ApiError::internal)?
        };
        let protected = B64.decode(&doc.protected).map_err(ApiError::internal)?;
        let signature = B64.decode(&doc.signature).map_err(ApiError::internal)?;
        Ok(format!(
            "{}.{}.{}",
            B64URL.encode(protected),
            B64URL.encode(doc.payload.as_bytes()),
            B64URL.encode(signature)
        ))
    }

    /// The venue a scanned token names, after checking its signature.
    pub async fn venue_for_token(&self, token: &str) -> Result<VenueRecord, ApiError> {
        let payload = verify_venue_token(token, &self.issuer_public()?)?;
        let id = VenueId::parse(&payload.v).ok_or_else(bad_token)?;
        self.store
            .venue(id)
            .await?
            .ok_or_else(|| ApiError::not_found("此场所", "Venue"))
    }

    /// The venue an operator token belongs to.
    pub async fn operator_venue(&self, token: &str) -> Result<Option<VenueRecord>, ApiError> {
        if !token.starts_with(OPERATOR_PREFIX) {
            return Ok(None);
        }
        Ok(self.store.venue_by_operator(&hash_token(token)).await?)
    }

    /// Lists a dependent under a citizen (name and a resident ID).
    pub async fn add_dependent(
        &self,
        guardian: &PersonRecord,
        name: &str,
        id_number: &str,
    ) -> Result<Dependent, ApiError> {
        let full_name = text_field("name", name, 64)?;
        let id = ResidentId::parse_as_of(id_number.trim(), self.now().date()).map_err(|e| {
            let m = e.to_string();
            let (en, zh) = m.split_once(" / ").unwrap_or((&m, &m));
            ApiError::invalid("identity_number", zh, en)
        })?;
        if id.as_str() == guardian.identity.number() {
            return Err(ApiError::invalid(
                "identity_number",
                "不能把自己登记为随行人员。",
                "You cannot list yourself as a dependent.",
            ));
        }
        let existing = self.store.dependents(&guardian.id).await?;
        if existing.len() >= MAX_DEPENDENTS {
            return Err(ApiError::conflict(
                "随行人员已达上限（10 人）。",
                "You already list the maximum of 10 dependents.",
            ));
        }
        if existing.iter().any(|d| d.identity.number() == id.as_str()) {
            return Err(ApiError::conflict(
                "此证件已登记为随行人员。",
                "This document is already listed as a dependent.",
            )
            .with_field("identity_number"));
        }
        let number = existing.iter().map(|d| d.number).max().unwrap_or(0) + 1;
        let dependent = Dependent {
            guardian: guardian.id.clone(),
            number,
            full_name,
            identity: Identity::Resident { id },
            created_at: self.now(),
        };
        self.store.add_dependent(&dependent).await?;
        self.store
            .append_audit(AuditRecord {
                at: self.now(),
                actor: "self".into(),
                action: "dependent.added".into(),
                subject: guardian.id.to_string(),
                details: serde_json::json!({
                    "number": number, "name": mask_name(&dependent.full_name),
                    "identity": mask_id(dependent.identity.number()),
                })
                .to_string(),
            })
            .await?;
        Ok(dependent)
    }

    /// A citizen's check-in at a venue, with the ticked dependents.
    pub async fn check_in(
        &self,
        person: &PersonRecord,
        venue: &VenueRecord,
        dependents: &[u16],
    ) -> Result<Vec<CheckIn>, ApiError> {
        self.limiter
            .check(
                &format!("checkin:{}", person.id),
                30,
                Duration::hours(1),
                self.now(),
            )
            .map_err(ApiError::too_many)?;
        let listed: HashSet<u16> = self
            .store
            .dependents(&person.id)
            .await?
            .iter()
            .map(|d| d.number)
            .collect();
        let mut who = vec![0u16];
        for &d in dependents {
            if !listed.contains(&d) {
                return Err(ApiError::invalid(
                    "dependents",
                    "所选随行人员不在您的名单中。",
                    "A ticked dependent is not on your list.",
                ));
            }
            if !who.contains(&d) {
                who.push(d);
            }
        }
        let now = self.now();
        let checkins: Vec<CheckIn> = who
            .into_iter()
            .map(|dependent| CheckIn {
                venue: venue.id,
                person: person.id.clone(),
                dependent,
                arrived: now,
                left: now + DEFAULT_STAY,
            })
            .collect();
        match venue.mode {
            VenueMode::Open => {
                self.store.insert_checkins(&checkins).await?;
            }
            VenueMode::Sealed => {
                for c in &checkins {
                    self.seal_checkin(venue, c).await?;
                }
            }
        }
        Ok(checkins)
    }

    /// Seals a check-in of `person` (no dependents) arriving at `arrived`
    /// with the default stay: for imports and the demo.
    pub async fn seal_checkin_at(
        &self,
        venue: &VenueRecord,
        person: &PersonRecord,
        arrived: OffsetDateTime,
    ) -> Result<(), ApiError> {
        let c = CheckIn {
            venue: venue.id,
            person: person.id.clone(),
            dependent: 0,
            arrived,
            left: arrived + DEFAULT_STAY,
        };
        self.seal_checkin(venue, &c).await
    }

    async fn seal_checkin(&self, venue: &VenueRecord, c: &CheckIn) -> Result<(), ApiError> {
        let hour = hour_of(c.arrived.unix_timestamp());
        let venue_key = venue
            .hour_keys
            .as_ref()
            .and_then(|k| k.key(hour))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "venue_keys_expired",
                    Text::new(
                        "此场所的加密密钥已过期，请联系场所更新场所码。",
                        "This venue's encryption keys have run out; ask the venue to renew its code.",
                    ),
                )
            })?;
        let body = SealedBody {
            p: c.person.to_string(),
            d: c.dependent,
            a: c.arrived.unix_timestamp(),
            l: c.left.unix_timestamp(),
        };
        let plain = serde_json::to_vec(&body).map_err(ApiError::internal)?;
        let sealed = sealed::seal(
            &plain,
            &self.authority_public()?,
            &venue_key,
            &venue.id.to_string(),
            hour,
            &self.key32()?,
        )
        .map_err(ApiError::internal)?;
        self.store
            .insert_sealed(&SealedCheckIn {
                venue: venue.id,
                hour,
                ephemeral: sealed.ephemeral,
                ciphertext: sealed.ciphertext,
            })
            .await?;
        Ok(())
    }

    /// Ends the citizen's (and their dependents') latest stay at an open
    /// venue now. Returns how many stays ended.
    pub async fn check_out(
        &self,
        person: &PersonRecord,
        venue: &VenueRecord,
    ) -> Result<usize, ApiError> {
        let now = self.now();
        let mine = self
            .store
            .person_checkins(
                &person.id,
                now - Duration::seconds(1),
                now + Duration::seconds(1),
            )
            .await?;
        let mut ended = 0;
        for c in mine
            .iter()
            .filter(|c| c.venue == venue.id && c.arrived <= now && c.left > now)
        {
            if self.store.check_out(c, now).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Batch ingestion: validates each item, skips bad ones (reported with
    /// index and reason), stores the rest idempotently on their client ids.
    pub async fn ingest_batch(
        &self,
        scope: &str,
        operator_venue: Option<&VenueRecord>,
        batch: Batch,
    ) -> Result<BatchResult, ApiError> {
        if batch.items.len() > MAX_BATCH {
            return Err(ApiError::invalid(
                "items",
                format!("每批至多 {MAX_BATCH} 条。"),
                format!("At most {MAX_BATCH} items per batch."),
            ));
        }
        let now = self.now();
        let mut rejected = Vec::new();
        let mut venues: HashMap<VenueId, Option<VenueMode>> = HashMap::new();
        if let Some(v) = operator_venue {
            venues.insert(v.id, Some(v.mode));
        }
        let mut accepted: Vec<(usize, String, CheckIn)> = Vec::with_capacity(batch.items.len());
        let mut by_identity: HashMap<String, Option<PersonId>> = HashMap::new();
        for (index, item) in batch.items.into_iter().enumerate() {
            let reject = |field: &str, zh: &str, en: &str| ItemError {
                index,
                client_id: item.client_id.clone(),
                field: field.to_owned(),
                message: Text::new(zh, en),
            };
            let cid = item.client_id.trim();
            if cid.is_empty() || cid.len() > 64 {
                rejected.push(reject(
                    "client_id",
                    "client_id 须为 1 至 64 个字符。",
                    "client_id must be 1 to 64 characters.",
                ));
                continue;
            }
            let venue = match (item.venue.as_deref(), operator_venue) {
                (None, Some(v)) => v.id,
                (Some(s), op) => match VenueId::parse(s.trim()) {
                    Some(id) if op.is_none_or(|v| v.id == id) => id,
                    Some(_) => {
                        rejected.push(reject(
                            "venue",
                            "场所只能登记本场所的扫码记录。",
                            "A venue may only submit its own check-ins.",
                        ));
                        continue;
                    }
                    None => {
                        rejected.push(reject(
                            "venue",
                            "场所编号须为 16 位十六进制数字。",
                            "The venue id must be 16 hex digits.",
                        ));
                        continue;
                    }
                },
                (None, None) => {
                    rejected.push(reject(
                        "venue",
                        "缺少场所编号。",
                        "The venue id is missing.",
                    ));
                    continue;
                }
            };
            let mode = match venues.get(&venue) {
                Some(mode) => *mode,
                None => {
                    let mode = self.store.venue(venue).await?.map(|v| v.mode);
                    venues.insert(venue, mode);
                    mode
                }
            };
            match mode {
                None => {
                    rejected.push(reject("venue", "没有这个场所。", "No such venue."));
                    continue;
                }
                Some(VenueMode::Sealed) => {
                    rejected.push(reject("venue", "加密场所的扫码记录只能在扫码时加密登记，不能批量导入明文。", "A sealed venue's check-ins are sealed when scanned; they cannot be imported in plain."));
                    continue;
                }
                Some(VenueMode::Open) => {}
            }
            let person = match (item.person.as_deref(), item.identity_number.as_deref()) {
                (Some(p), _) => match PersonId::parse(p.trim()) {
                    Some(p) => p,
                    None => {
                        rejected.push(reject(
                            "person",
                            "人员编号须为 32 位小写十六进制数字。",
                            "The person id must be 32 lowercase hex digits.",
                        ));
                        continue;
                    }
                },
                (None, Some(number)) => {
                    let number = number.trim().to_owned();
                    let found = match by_identity.get(&number) {
                        Some(found) => found.clone(),
                        None => {
                            let found = self.find_person(&number).await?.map(|p| p.id);
                            by_identity.insert(number.clone(), found.clone());
                            found
                        }
                    };
                    match found {
                        Some(p) => p,
                        None => {
                            rejected.push(reject(
                                "identity_number",
                                "没有持此证件的健康码用户。",
                                "Nobody with this document has a health code here.",
                            ));
                            continue;
                        }
                    }
                }
                (None, None) => {
                    rejected.push(reject(
                        "person",
                        "须提供 person 或 identity_number。",
                        "Give person or identity_number.",
                    ));
                    continue;
                }
            };
            let left = item.left.unwrap_or(item.arrived + DEFAULT_STAY);
            if left <= item.arrived || left - item.arrived > MAX_STAY {
                rejected.push(reject(
                    "left",
                    "离开时间须晚于到达时间，且停留不超过 24 小时。",
                    "left must be after arrived, and a stay at most 24 hours.",
                ));
                continue;
            }
            if item.arrived > now + Duration::minutes(5) {
                rejected.push(reject(
                    "arrived",
                    "到达时间不能晚于现在。",
                    "arrived cannot be in the future.",
                ));
                continue;
            }
            if item.arrived < now - Duration::days(30) || item.arrived.year() < 2000 {
                rejected.push(reject(
                    "arrived",
                    "只接受 30 天内的扫码记录。",
                    "Only check-ins from the last 30 days are accepted.",
                ));
                continue;
            }
            // A stay past its retention would be purged at once: refused.
            if left < self.settings.retention.checkins_before(now) {
                let days = self.settings.retention.checkins_days;
                rejected.push(reject(
                    "left",
                    &format!("此次停留已超过扫码记录的保存期限（结束后 {days} 天），不予保存。"),
                    &format!(
                        "This stay ended more than the retention period ({days} days) ago; not stored."
                    ),
                ));
                continue;
            }
            accepted.push((
                index,
                cid.to_owned(),
                CheckIn {
                    venue,
                    person,
                    dependent: item.dependent,
                    arrived: item.arrived,
                    left,
                },
            ));
        }
        // People must exist (one query for the whole batch).
        // Each person once, however many of their check-ins are in the batch.
        let mut ids: Vec<PersonId> = accepted.iter().map(|(_, _, c)| c.person.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let known = self.store.known_people(&ids).await?;
        let mut items = Vec::with_capacity(accepted.len());
        for (index, cid, c) in accepted {
            if known.contains(&c.person) {
                items.push((cid, c));
            } else {
                rejected.push(ItemError {
                    index,
                    client_id: cid,
                    field: "person".into(),
                    message: Text::new("没有这个人员编号。", "No person with this id."),
                });
            }
        }
        rejected.sort_by_key(|e| e.index);
        let fresh = self.store.insert_checkins_once(scope, &items).await?;
        let stored = fresh.iter().filter(|&&f| f).count();
        Ok(BatchResult {
            stored,
            duplicates: fresh.len() - stored,
            rejected,
        })
    }

    /// A venue reveals its hour secrets for `[from_hour, to_hour]` (at most
    /// 14 days of hours), derived from its seed. The seed is not kept.
    pub async fn reveal_hours(
        &self,
        venue: &VenueRecord,
        seed_hex: &str,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<usize, ApiError> {
        let keys = venue.hour_keys.as_ref().ok_or_else(|| {
            ApiError::invalid(
                "venue",
                "此场所未启用加密登记。",
                "This venue does not seal its check-ins.",
            )
        })?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(seed_hex.trim(), &mut seed).map_err(|_| {
            ApiError::invalid(
                "seed",
                "场所密钥须为 64 位十六进制数字。",
                "The venue key must be 64 hex digits.",
            )
        })?;
        if to_hour < from_hour || to_hour - from_hour >= 14 * 24 {
            return Err(ApiError::invalid(
                "to",
                "时段须在 14 天以内，且结束不早于开始。",
                "The hours must span at most 14 days, ending no earlier than they start.",
            ));
        }
        let id = venue.id.to_string();
        let mut n = 0;
        for hour in from_hour..=to_hour {
            let secret = sealed::venue_hour_secret(&seed, &id, hour).map_err(ApiError::internal)?;
            // The seed must match the published keys, or nothing would open.
            match keys.key(hour) {
                Some(public) if public == sealed::public_key(&secret) => {}
                Some(_) => {
                    return Err(ApiError::invalid(
                        "seed",
                        "场所密钥与此场所不符。",
                        "This key does not belong to this venue.",
                    ))
                }
                None => continue,
            }
            self.store
                .put_reveal(&HourReveal {
                    venue: venue.id,
                    hour,
                    secret,
                    revealed_at: self.now(),
                })
                .await?;
            n += 1;
        }
        self.store
            .append_audit(AuditRecord {
                at: self.now(),
                actor: format!("venue:{id}"),
                action: "venue.hours_revealed".into(),
                subject: format!("venue:{id}"),
                details:
                    serde_json::json!({"from_hour": from_hour, "to_hour": to_hour, "revealed": n})
                        .to_string(),
            })
            .await?;
        Ok(n)
    }

    /// Opens a sealed venue's revealed hours with the authority's secret.
    /// An official's act, in the audit chain.
    pub async fn open_revealed(
        &self,
        official: &OfficialAccount,
        venue: &VenueRecord,
    ) -> Result<Vec<Visit>, ApiError> {
        health_official(official)?;
        let authority = self.authority_secret()?;
        let id = venue.id.to_string();
        let mut visits = Vec::new();
        let reveals = self.store.reveals(venue.id).await?;
        for r in &reveals {
            for s in self.store.sealed_checkins(venue.id, r.hour).await? {
                let sealed = sealed::Sealed {
                    ephemeral: s.ephemeral,
                    ciphertext: s.ciphertext,
                };
                let Ok(plain) = sealed::open(&sealed, &authority, &r.secret, &id, r.hour) else {
                    tracing::warn!(venue = %id, hour = r.hour, "a sealed check-in did not open");
                    continue;
                };
                let Ok(body) = serde_json::from_slice::<SealedBody>(&plain) else {
                    continue;
                };
                let (Ok(arrived), Ok(left)) = (
                    OffsetDateTime::from_unix_timestamp(body.a),
                    OffsetDateTime::from_unix_timestamp(body.l),
                ) else {
                    continue;
                };
                visits.push(Visit {
                    subject: healthcode_core::tracing::Subject {
                        person: body.p,
                        dependent: body.d,
                    },
                    venue: id.clone(),
                    arrived,
                    left,
                });
            }
        }
        visits.sort_by(|a, b| a.arrived.cmp(&b.arrived).then(a.subject.cmp(&b.subject)));
        self.store
            .append_audit(AuditRecord {
                at: self.now(),
                actor: format!("official:{}", official.username),
                action: "venue.sealed_opened".into(),
                subject: format!("venue:{id}"),
                details: serde_json::json!({
                    "hours": reveals.iter().map(|r| r.hour).collect::<Vec<_>>(),
                    "checkins": visits.len(),
                })
                .to_string(),
            })
            .await?;
        Ok(visits)
    }

    /// Venue candidates of a case within a window: every open venue the
    /// case checked in at, plus revealed hours of sealed venues given.
    pub async fn trace(
        &self,
        official: &OfficialAccount,
        case: &PersonRecord,
        window: Window,
        sealed_visits: &[Visit],
    ) -> Result<TraceReport, ApiError> {
        health_official(official)?;
        // Tracing reads the case's check-ins and carrier stays: the case sees
        // it in "who accessed my data"; its purpose is the action itself.
        self.note_access(official, &case.id, "trace", "contact tracing / 密接追踪")
            .await?;
        let params = TracingParams::default();
        let rows = self
            .store
            .colocated_checkins(&case.id, window.from, window.to)
            .await?;
        let mut visits: Vec<Visit> = rows.iter().map(visit_of).collect();
        visits.extend_from_slice(sealed_visits);
        let case_key = case.id.to_string();
        let case_visits: Vec<Visit> = visits
            .iter()
            .filter(|v| v.subject.person == case_key && v.subject.dependent == 0)
            .cloned()
            .collect();
        let candidates = venue_contacts(&case_key, &case_visits, &visits, window, &params);
        let companions = self.companions_of(case, window, &params).await?;
        let implausible = self.implausible_checkins(&candidates).await?;
        Ok(TraceReport {
            case_visits,
            candidates,
            companions,
            implausible,
            params,
        })
    }

    /// Spatiotemporal companions of the case's phone from the carriers'
    /// stays, each with the person holding that phone here, if any.
    async fn companions_of(
        &self,
        case: &PersonRecord,
        window: Window,
        params: &TracingParams,
    ) -> Result<Vec<CompanionCandidate>, ApiError> {
        let from = (window.to - params.lookback()).min(window.from);
        let case_stays = self
            .store
            .carrier_stays(&case.phone, from, window.to)
            .await?;
        let mut cells: Vec<String> = case_stays.iter().filter_map(|s| s.cell.clone()).collect();
        cells.sort();
        cells.dedup();
        if cells.is_empty() {
            return Ok(Vec::new());
        }
        let others = self.store.cell_stays(&cells, from, window.to).await?;
        let found = companions(
            &case_stays.iter().map(cell_stay).collect::<Vec<_>>(),
            &others.iter().map(cell_stay).collect::<Vec<_>>(),
            window,
            params,
        );
        let mut out = Vec::with_capacity(found.len());
        for companion in found {
            let mut hash = [0u8; 32];
            let person = match hex::decode_to_slice(&companion.phone, &mut hash) {
                Ok(()) => self
                    .store
                    .person_by_phone(&self.settings.region_id, &PhoneHash(hash))
                    .await?
                    .map(|p| p.id.to_string()),
                Err(_) => None,
            };
            out.push(CompanionCandidate { person, companion });
        }
        Ok(out)
    }

    /// Venue candidates whose check-in the carrier contradicts (their phone
    /// was in another city when they checked in), by subject.
    async fn implausible_checkins(
        &self,
        candidates: &[VenueCandidate],
    ) -> Result<HashMap<Subject, Implausibility>, ApiError> {
        let mut out = HashMap::new();
        let mut regions: HashMap<String, Option<String>> = HashMap::new();
        for c in candidates {
            let Some(id) = PersonId::parse(&c.subject.person) else {
                continue;
            };
            let Some(person) = self.store.person(&id).await? else {
                continue;
            };
            for o in &c.overlaps {
                let region = match regions.get(&o.venue) {
                    Some(r) => r.clone(),
                    None => {
                        let r = match VenueId::parse(&o.venue) {
                            Some(v) => self.store.venue(v).await?.map(|v| v.region_code),
                            None => None,
                        };
                        regions.insert(o.venue.clone(), r.clone());
                        r
                    }
                };
                let Some(region) = region else { continue };
                let at = o.stay.start;
                let stays = self.store.carrier_stays(&person.phone, at, at).await?;
                let stays: Vec<CellStay> = stays.iter().map(cell_stay).collect();
                if let Some(why) = venue_implausibility(&region, at, &stays) {
                    out.insert(c.subject.clone(), why);
                    break;
                }
            }
        }
        Ok(out)
    }

    /// An official confirms one candidate: the close-contact event (with
    /// the evidence as its case reference) and an audit entry with the
    /// full evidence. The candidate is computed again here, so only a real
    /// overlap can be designated.
    pub async fn designate(
        &self,
        official: &OfficialAccount,
        case: &PersonRecord,
        window: Window,
        subject: &healthcode_core::tracing::Subject,
        sealed_visits: &[Visit],
    ) -> Result<Designation, ApiError> {
        let report = self.trace(official, case, window, sealed_visits).await?;
        let implausible = report.implausible.get(subject).cloned();
        let candidate = report
            .candidates
            .into_iter()
            .find(|c| &c.subject == subject)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "not_a_candidate",
                    Text::new(
                        "此人不是该病例在该时段的候选密接（没有重叠的场所停留）。",
                        "This person is not a candidate contact of the case in this window (no overlapping venue stay).",
                    ),
                )
            })?;
        let person = PersonId::parse(&subject.person)
            .ok_or_else(|| ApiError::invalid("person", "人员编号无效。", "Invalid person id."))?;
        let Some(record) = self.store.person(&person).await? else {
            return Err(ApiError::not_found("此人", "Person"));
        };
        let first = candidate.overlaps.first();
        let mut venue_names = HashMap::new();
        for o in &candidate.overlaps {
            if let Some(id) = VenueId::parse(&o.venue) {
                if let Some(v) = self.store.venue(id).await? {
                    venue_names.insert(o.venue.clone(), v.name);
                }
            }
        }
        let reference = match first {
            Some(o) => format!(
                "case {case_id}; venue {name} ({venue}) together {from}–{to}",
                case_id = case.id,
                name = venue_names.get(&o.venue).map_or("?", String::as_str),
                venue = o.venue,
                from = crate::venues::hm(o.together.start),
                to = crate::venues::hm(o.together.end),
            ),
            None => format!("case {}", case.id),
        };
        let evidence = serde_json::json!({
            "case": case.id.to_string(),
            "window": window,
            "subject": subject,
            "overlaps": candidate.overlaps,
            "together_seconds": candidate.together_seconds,
            "implausible": implausible,
        });
        let reference = match &implausible {
            Some(i) => format!(
                "{reference}; FLAGGED implausible: carrier saw the phone in {} at check-in",
                i.seen_in.city_code
            ),
            None => reference,
        };
        let event = if subject.dependent == 0 {
            Some(
                self.record_fact(
                    official,
                    &record.id,
                    FactInput::CloseContact {
                        case_reference: Some(reference.clone()),
                    },
                )
                .await?,
            )
        } else {
            None
        };
        self.store
            .append_audit(AuditRecord {
                at: self.now(),
                actor: format!("official:{}", official.username),
                action: if subject.dependent == 0 {
                    "tracing.designated".into()
                } else {
                    "tracing.dependent_designated".into()
                },
                subject: record.id.to_string(),
                details: evidence.to_string(),
            })
            .await?;
        Ok(Designation {
            person: record.id.to_string(),
            dependent: subject.dependent,
            event_id: event.map(|e| e.id().as_str().to_owned()),
            case_reference: reference,
            evidence,
        })
    }
}

impl<S: Store> AppState<S> {
    /// An official confirms a spatiotemporal companion (recomputed here):
    /// the close-contact event with the cell and durations as evidence.
    pub async fn designate_companion(
        &self,
        official: &OfficialAccount,
        case: &PersonRecord,
        window: Window,
        person: &str,
    ) -> Result<Designation, ApiError> {
        let report = self.trace(official, case, window, &[]).await?;
        let found = report
            .companions
            .into_iter()
            .find(|c| c.person.as_deref() == Some(person))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "not_a_candidate",
                    Text::new(
                        "此人不是该病例在该时段的时空伴随候选。",
                        "This person is not a spatiotemporal companion of the case in this window.",
                    ),
                )
            })?;
        let id = PersonId::parse(person)
            .ok_or_else(|| ApiError::invalid("person", "人员编号无效。", "Invalid person id."))?;
        let c = &found.companion;
        let reference = format!(
            "case {case_id}; spatiotemporal companion in cell {cell} ({city}) together {from}–{to}; \
             in the cell over {days} days: case {case_h:.1} h, contact {their_h:.1} h",
            case_id = case.id,
            cell = c.cell,
            city = c.city_code,
            from = crate::venues::hm(c.together.start),
            to = crate::venues::hm(c.together.end),
            days = report.params.lookback_days,
            case_h = c.case_cumulative_seconds as f64 / 3600.0,
            their_h = c.cumulative_seconds as f64 / 3600.0,
        );
        let evidence = serde_json::json!({
            "case": case.id.to_string(),
            "window": window,
            "companion": c,
            "params": report.params,
        });
        let event = self
            .record_fact(
                official,
                &id,
                FactInput::CloseContact {
                    case_reference: Some(reference.clone()),
                },
            )
            .await?;
        self.store
            .append_audit(AuditRecord {
                at: self.now(),
                actor: format!("official:{}", official.username),
                action: "tracing.designated".into(),
                subject: id.to_string(),
                details: evidence.to_string(),
            })
            .await?;
        Ok(Designation {
            person: id.to_string(),
            dependent: 0,
            event_id: Some(event.id().as_str().to_owned()),
            case_reference: reference,
            evidence,
        })
    }
}

/// What [`AppState::trace`] found.
#[derive(Debug, Clone)]
pub struct TraceReport {
    pub case_visits: Vec<Visit>,
    pub candidates: Vec<VenueCandidate>,
    /// Spatiotemporal companions from carrier stays.
    pub companions: Vec<CompanionCandidate>,
    /// Venue candidates whose check-in the carrier records contradict.
    pub implausible: HashMap<Subject, Implausibility>,
    pub params: TracingParams,
}

/// A spatiotemporal companion and the person with that phone here.
#[derive(Debug, Clone)]
pub struct CompanionCandidate {
    pub person: Option<String>,
    pub companion: Companion,
}

fn cell_stay(s: &healthcode_store::itinerary::CarrierStay) -> CellStay {
    CellStay {
        phone: s.phone.to_hex(),
        city_code: s.city.as_str().to_owned(),
        cell: s.cell.clone(),
        first_seen: s.first_seen,
        last_seen: s.last_seen,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Designation {
    pub person: String,
    pub dependent: u16,
    /// The close-contact event (none for a dependent, who has no code).
    pub event_id: Option<String>,
    pub case_reference: String,
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

pub fn visit_of(c: &CheckIn) -> Visit {
    Visit {
        subject: healthcode_core::tracing::Subject {
            person: c.person.to_string(),
            dependent: c.dependent,
        },
        venue: c.venue.to_string(),
        arrived: c.arrived,
        left: c.left,
    }
}

/// Checks a venue token's signature with `key` and reads its payload:
/// what a phone or a checkpoint can do offline with the trust list.
pub fn verify_venue_token(token: &str, key: &PublicKey) -> Result<VenuePayload, ApiError> {
    let mut parts = token.trim().split('.');
    let (Some(p), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_token());
    };
    let decode = |s: &str| B64URL.decode(s).map_err(|_| bad_token());
    let payload = String::from_utf8(decode(body)?).map_err(|_| bad_token())?;
    let doc = SignedDocument {
        protected: B64.encode(decode(p)?),
        payload,
        signature: B64.encode(decode(sig)?),
    };
    let opened = doc.open().map_err(|_| bad_token())?;
    opened.verify(key).map_err(|_| bad_token())?;
    let payload: VenuePayload = serde_json::from_str(&opened.payload).map_err(|_| bad_token())?;
    if payload.kind != VENUE_KIND {
        return Err(bad_token());
    }
    Ok(payload)
}
