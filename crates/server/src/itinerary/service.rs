//! The itinerary card's logic, independent of HTTP.

use healthcode_codec::claims::CODE_ID_LEN;
use healthcode_codec::IssuedCode;
use healthcode_core::itinerary::{compute_card, ItineraryCard, RiskArea, Stay};
use healthcode_core::{AuditRecord, Bilingual};
use healthcode_store::itinerary::{CardQueryRecord, CarrierAccount, InsertCounts, RiskAreaRecord};
use healthcode_store::{OfficialAccount, PhoneHash, Role, Store, StoreError};
use ring::rand::SecureRandom;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::records::{self, Rejection, RiskAreaInput, StayInput};
use crate::error::ApiError;
use crate::i18n::Text;
use crate::security::Phone;
use crate::state::AppState;

/// Most stays one API request may carry (the request body is at most 64 KiB).
pub const MAX_BATCH: usize = 500;

/// A card as queried: the card, its signed QR code and the masked phone.
#[derive(Debug, Clone)]
pub struct IssuedCard {
    pub card: ItineraryCard,
    pub code: IssuedCode,
    pub masked_phone: String,
}

/// What happened to one posted stay.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    pub index: usize,
    /// `imported`, `already_present` or `rejected`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Rejection>,
}

/// The outcome of a carrier's batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchResult {
    pub imported: u64,
    pub already_present: u64,
    pub rejected: u64,
    pub items: Vec<ItemResult>,
}

/// The SHA-256 under which a carrier's API key is stored.
pub fn carrier_key_hash(key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"healthcode-carrier-key-v1");
    h.update(key.trim().as_bytes());
    h.finalize().into()
}

/// A new carrier API key (`hck_` and 64 hex digits) and its stored hash.
pub fn new_carrier_key(rng: &dyn SecureRandom) -> Result<(String, [u8; 32]), ApiError> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes)
        .map_err(|_| ApiError::internal("rng failed"))?;
    let key = format!("hck_{}", hex::encode(bytes));
    let hash = carrier_key_hash(&key);
    Ok((key, hash))
}

fn consent_refused() -> ApiError {
    ApiError::invalid(
        "consent",
        "未勾选同意：须同意并授权运营商查询本人到访地信息，才能查询行程卡。",
        "Consent not given: you must agree and authorise the carrier to look up the places you visited before the card can be shown.",
    )
}

impl<S: Store> AppState<S> {
    /// The card for a phone that passed the SMS check, with the person's
    /// explicit consent. The query is recorded for the person's own data.
    pub async fn itinerary_card(
        &self,
        phone: &Phone,
        consent: bool,
        channel: &str,
    ) -> Result<IssuedCard, ApiError> {
        if !consent {
            return Err(consent_refused());
        }
        let hash = self.phones.hash(phone);
        let now = self.now();
        let it = &self.itinerary;
        let (from, until) = it.window.bounds(now);
        let records = self.store.carrier_stays(&hash, from, until).await?;
        let stays: Vec<Stay> = records
            .into_iter()
            .map(|r| Stay {
                city: r.city,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
            })
            .collect();
        let mut cities: Vec<_> = stays.iter().map(|s| s.city.clone()).collect();
        cities.sort();
        cities.dedup();
        // Areas met during the stays, and areas in force now (the asterisk).
        let areas: Vec<RiskArea> = self
            .store
            .risk_areas_in(&cities, from.min(now), now)
            .await?;
        let card = compute_card(&stays, &areas, now, it.window, &it.rules);
        let masked_phone = phone.masked();
        let mut code_id = [0u8; CODE_ID_LEN];
        self.rng
            .fill(&mut code_id)
            .map_err(|_| ApiError::internal("rng failed"))?;
        let code = {
            let mut issuer = self
                .issuer
                .lock()
                .map_err(|_| ApiError::internal("issuer lock poisoned"))?;
            issuer
                .issue_itinerary_card(
                    card.decision.colour,
                    &masked_phone,
                    it.card_ttl_seconds,
                    now.unix_timestamp(),
                    now.unix_timestamp(),
                    code_id,
                    &self.rng,
                )
                .map_err(ApiError::internal)?
        };
        self.store
            .record_card_query(&CardQueryRecord {
                phone: hash,
                at: now,
                consent,
                window_days: it.window.days,
                channel: channel.to_owned(),
                colour: card.decision.colour,
                cities: u32::try_from(card.cities.len()).unwrap_or(u32::MAX),
            })
            .await?;
        Ok(IssuedCard {
            card,
            code,
            masked_phone,
        })
    }

    /// The card queries recorded for a phone.
    pub async fn my_card_queries(
        &self,
        phone: &PhoneHash,
    ) -> Result<Vec<CardQueryRecord>, ApiError> {
        Ok(self.store.card_queries(phone).await?)
    }

    /// The carrier account an API key belongs to.
    pub async fn carrier_for_key(&self, key: &str) -> Result<Option<CarrierAccount>, ApiError> {
        Ok(self
            .store
            .carrier_account_by_key(&carrier_key_hash(key))
            .await?)
    }

    /// Validates and stores a carrier's batch: each item is imported,
    /// already present or rejected with its reason.
    pub async fn import_stays(
        &self,
        carrier: &CarrierAccount,
        items: &[serde_json::Value],
    ) -> Result<BatchResult, ApiError> {
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(ApiError::invalid(
                "items",
                format!("每批须有 1 至 {MAX_BATCH} 条记录。"),
                format!("A batch holds 1 to {MAX_BATCH} records."),
            ));
        }
        let now = self.now();
        let mut results: Vec<ItemResult> = Vec::with_capacity(items.len());
        let mut valid = Vec::new();
        let mut valid_index = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let parsed = serde_json::from_value::<StayInput>(item.clone())
                .map_err(|e| {
                    Rejection::new(
                        "item",
                        format!("记录格式有误：{e}"),
                        format!("Malformed record: {e}"),
                    )
                })
                .and_then(|input| records::stay(&input, &self.phones, now, Some(&carrier.name)));
            match parsed {
                Ok(stay) => {
                    valid.push(stay);
                    valid_index.push(index);
                    results.push(ItemResult {
                        index,
                        status: "imported",
                        error: None,
                    });
                }
                Err(rejection) => results.push(ItemResult {
                    index,
                    status: "rejected",
                    error: Some(rejection),
                }),
            }
        }
        let inserted_each = self.store.insert_carrier_stays_each(&valid).await?;
        let mut counts = InsertCounts::default();
        for (&i, &new) in valid_index.iter().zip(&inserted_each) {
            if new {
                counts.inserted += 1;
            } else {
                counts.already_present += 1;
                if let Some(r) = results.get_mut(i) {
                    r.status = "already_present";
                }
            }
        }
        let rejected = (items.len() - valid.len()) as u64;
        let InsertCounts {
            inserted,
            already_present,
        } = counts;
        Ok(BatchResult {
            imported: inserted,
            already_present,
            rejected,
            items: results,
        })
    }

    /// Publishes a risk area on an official's authority (audited).
    pub async fn publish_risk_area(
        &self,
        official: &OfficialAccount,
        input: &RiskAreaInput,
    ) -> Result<RiskAreaRecord, ApiError> {
        require_health_official(official)?;
        let area = records::risk_area(input).map_err(rejection_error)?;
        let record = RiskAreaRecord {
            area,
            published_by: format!("official:{}", official.username),
            published_at: self.now(),
            ended_by: None,
            supersedes: None,
        };
        match self.store.create_risk_area(&record).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::conflict(
                    "该风险地区已发布。",
                    "This risk area is already published.",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        self.audit_area(&official.username, "risk_area.published", &record)
            .await?;
        Ok(record)
    }

    /// Ends a risk area now, or at `at` (audited). History is kept: only
    /// the end is set, once.
    pub async fn end_risk_area(
        &self,
        official: &OfficialAccount,
        id: &str,
        at: Option<OffsetDateTime>,
    ) -> Result<RiskAreaRecord, ApiError> {
        require_health_official(official)?;
        let at = at.unwrap_or_else(|| self.now());
        let existing = self
            .store
            .risk_area(id)
            .await?
            .ok_or_else(|| ApiError::not_found("该风险地区", "Risk area"))?;
        if at <= existing.area.starts_at {
            return Err(ApiError::invalid(
                "ends_at",
                "结束时间须晚于开始时间。",
                "The end must be after the start.",
            ));
        }
        let record = match self
            .store
            .end_risk_area(id, at, &format!("official:{}", official.username))
            .await
        {
            Ok(r) => r,
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::conflict(
                    "该风险地区已结束。",
                    "This risk area has already ended.",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        self.audit_area(&official.username, "risk_area.ended", &record)
            .await?;
        Ok(record)
    }

    async fn audit_area(
        &self,
        username: &str,
        action: &str,
        r: &RiskAreaRecord,
    ) -> Result<(), ApiError> {
        self.store
            .append_audit(AuditRecord {
                at: self.now(),
                actor: format!("official:{username}"),
                action: action.into(),
                subject: format!("risk_area:{}", r.area.id),
                details: serde_json::json!({
                    "city_code": r.area.city.as_str(),
                    "area": r.area.area,
                    "level": r.area.level.as_str(),
                    "starts_at": r.area.starts_at.unix_timestamp(),
                    "ends_at": r.area.ends_at.map(OffsetDateTime::unix_timestamp),
                })
                .to_string(),
            })
            .await?;
        Ok(())
    }
}

fn require_health_official(official: &OfficialAccount) -> Result<(), ApiError> {
    if official.roles.contains(&Role::HealthOfficial) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "只有卫生健康工作人员可以发布或结束风险地区。",
            "Only health officials may publish or end risk areas.",
        ))
    }
}

/// A record's rejection as an API error naming the field.
pub fn rejection_error(r: Rejection) -> ApiError {
    ApiError::invalid(&r.field, r.message.zh, r.message.en)
}

/// Bilingual to the API's text type.
pub fn text(b: &Bilingual) -> Text {
    Text::new(b.zh.clone(), b.en.clone())
}
