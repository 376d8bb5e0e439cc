//! "Everything held about me" as one JSON document.
//!
//! One function per data source, each returning its section; [`AppState::export_for`]
//! calls them in turn. A new source is one more function and one more
//! line there.

use serde_json::{json, Map, Value};

use healthcode_store::{PersonRecord, PhoneHash, Store};

use crate::api::EventView;
use crate::error::ApiError;
use crate::oversight::plain::{access_view, correction_view, RequestView};
use crate::oversight::service::fmt_time;
use crate::state::AppState;

/// Whose data is exported.
pub struct ExportSubject<'a> {
    pub person: &'a PersonRecord,
    /// The phone of the session asking (the person's own).
    pub phone: &'a PhoneHash,
}

/// The format marker of an export; bump it when a section changes shape.
pub const EXPORT_FORMAT: &str = "healthcode-export/1";

fn value<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

impl<S: Store> AppState<S> {
    /// The whole export: every section, in a fixed order.
    pub async fn export_for(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let mut sections = Map::new();
        sections.insert("person".into(), self.export_person(who)?);
        sections.insert("events".into(), self.export_events(who).await?);
        sections.insert("audit_entries".into(), self.export_audit(who).await?);
        sections.insert(
            "correction_requests".into(),
            self.export_corrections(who).await?,
        );
        sections.insert(
            "override_requests".into(),
            self.export_override_requests(who).await?,
        );
        sections.insert("access_log".into(), self.export_access_log(who).await?);
        sections.insert("sessions".into(), self.export_sessions(who).await?);
        sections.insert(
            "carrier_stays".into(),
            self.export_carrier_stays(who).await?,
        );
        sections.insert(
            "itinerary_card_queries".into(),
            self.export_card_queries(who).await?,
        );
        sections.insert("dependents".into(), self.export_dependents(who).await?);
        sections.insert("checkins".into(), self.export_checkins(who).await?);
        Ok(json!({
            "format": EXPORT_FORMAT,
            "exported_at": fmt_time(self.now()),
            "region": self.settings.region_id,
            "issuer": self.issuer_id,
            "demo": self.settings.demo || self.demo_issuer,
            "notes": {
                "zh": "本文件包含本系统保存的关于您的全部数据。手机号码仅以带密钥的哈希保存，无法还原；会话只列出时间，不含令牌。在加密场所的扫码记录只有场所与卫生健康部门共同才能打开，本系统无法读出，因此不在其中。",
                "en": "This file holds everything this system keeps about you. Your phone number is held only as a keyed hash, which cannot be reversed; sessions are listed by time only, never their tokens. Check-ins at sealed venues can be opened only by the venue and the health authority together; this system cannot read them, so they are not listed."
            },
            "sections": Value::Object(sections),
        }))
    }

    /// The person record, unmasked: it is theirs.
    fn export_person(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let p = who.person;
        Ok(json!({
            "id": p.id,
            "region": p.region,
            "full_name": p.full_name,
            "identity": value(&p.identity)?,
            "code_kind": p.identity.code_kind().as_str(),
            "phone_keyed_hash": p.phone.to_hex(),
            "channel": p.channel,
            "created_at": fmt_time(p.created_at),
        }))
    }

    /// Every event (fact) recorded about the person.
    async fn export_events(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let events = self.store.events(&who.person.id).await?;
        value(&events.iter().map(EventView::from).collect::<Vec<_>>())
    }

    /// Every audit entry about the person, as sealed in the chain.
    async fn export_audit(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        value(&self.store.audit_about(who.person.id.as_str()).await?)
    }

    async fn export_corrections(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let now = self.now();
        let mut out = Vec::new();
        for c in self.store.corrections_about(&who.person.id).await? {
            let roles = match &c.answer {
                Some(a) => Some(self.roles_of(&a.by).await?),
                None => None,
            };
            out.push(correction_view(&c, now, None, roles.as_deref()));
        }
        value(&out)
    }

    async fn export_override_requests(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let requests = self.store.requests_about(&who.person.id).await?;
        value(
            &requests
                .iter()
                .map(|r| RequestView::new(r, Some(who.person)))
                .collect::<Vec<_>>(),
        )
    }

    /// Officials' reads of the person's data.
    async fn export_access_log(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let reads = self.store.accesses_about(&who.person.id, 10_000).await?;
        value(&reads.iter().map(access_view).collect::<Vec<_>>())
    }

    /// Live sessions of the person's phone: times only.
    async fn export_sessions(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let sessions = self.store.sessions_of_phone(who.phone, self.now()).await?;
        Ok(Value::Array(
            sessions
                .iter()
                .map(|s| {
                    json!({
                        "created_at": fmt_time(s.created_at),
                        "expires_at": fmt_time(s.expires_at),
                    })
                })
                .collect(),
        ))
    }

    /// The carrier stays held for the phone (itinerary card), every one.
    async fn export_carrier_stays(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let far = self.now() + time::Duration::days(3660);
        let stays = self
            .store
            .carrier_stays(who.phone, time::OffsetDateTime::UNIX_EPOCH, far)
            .await?;
        Ok(Value::Array(
            stays
                .iter()
                .map(|s| {
                    json!({
                        "city": s.city.to_string(),
                        "first_seen": fmt_time(s.first_seen),
                        "last_seen": fmt_time(s.last_seen),
                        "cell": s.cell,
                        "carrier": s.carrier,
                    })
                })
                .collect(),
        ))
    }

    /// The people the person checks in with, unmasked as the person
    /// record is: the person entered them.
    async fn export_dependents(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let dependents = self.store.dependents(&who.person.id).await?;
        let mut out = Vec::with_capacity(dependents.len());
        for d in &dependents {
            out.push(json!({
                "number": d.number,
                "full_name": d.full_name,
                "identity": value(&d.identity)?,
                "created_at": fmt_time(d.created_at),
            }));
        }
        Ok(Value::Array(out))
    }

    /// The person's check-ins (and their dependents'), every one held, in
    /// arrival order: the venue, its name and address, the times, and who
    /// checked in (the person, or a dependent by number and name).
    async fn export_checkins(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        let far = self.now() + time::Duration::days(3660);
        let checkins = self
            .store
            .person_checkins(&who.person.id, time::OffsetDateTime::UNIX_EPOCH, far)
            .await?;
        let dependents = self.store.dependents(&who.person.id).await?;
        let mut venues = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(checkins.len());
        for c in &checkins {
            if let std::collections::hash_map::Entry::Vacant(slot) = venues.entry(c.venue) {
                slot.insert(self.store.venue(c.venue).await?);
            }
            let venue = venues.get(&c.venue).and_then(Option::as_ref);
            let dependent = (c.dependent > 0).then(|| {
                json!({
                    "number": c.dependent,
                    "full_name": dependents
                        .iter()
                        .find(|d| d.number == c.dependent)
                        .map(|d| d.full_name.clone()),
                })
            });
            out.push(json!({
                "venue": c.venue.to_string(),
                "venue_name": venue.map(|v| v.name.clone()),
                "venue_address": venue.map(|v| v.address.clone()),
                "arrived": fmt_time(c.arrived),
                "left": fmt_time(c.left),
                "dependent": dependent,
            }));
        }
        Ok(Value::Array(out))
    }

    /// The person's own itinerary-card queries: when, with which consent.
    async fn export_card_queries(&self, who: &ExportSubject<'_>) -> Result<Value, ApiError> {
        value(&self.store.card_queries(who.phone).await?)
    }
}
