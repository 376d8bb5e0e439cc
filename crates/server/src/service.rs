//! What the platform does, independent of HTTP: the citizen flow (SMS
//! check, application, declarations, live code) and officials' actions.
//! Handlers in `api` and `pages` are thin wrappers around these.

use std::net::IpAddr;

use healthcode_codec::claims::CODE_ID_LEN;
use healthcode_codec::{CodeRequest, IssuedCode};
use healthcode_core::facts::{
    DiagnosisStatus, Event, EventId, Fact, QuarantinePlace, Source, Temperature, TestKind,
    TestOutcome,
};
use healthcode_core::identity::PermitKind;
use healthcode_core::{AuditRecord, ColourDecision, Identity, Passport, ResidentId, TravelPermit};
use healthcode_store::{
    OfficialAccount, OtpChallenge, PersonId, PersonRecord, PhoneHash, Role, Session,
    SessionSubject, Store,
};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::security::{
    constant_time_eq, new_otp_code, new_session_token, otp_hash, token_hash, verify_password, Phone,
};
use crate::state::AppState;

/// At or above this self-measured temperature the declaration counts as fever.
const FEVER_TENTHS: u16 = 373;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityInput {
    /// `resident_id`, `passport`, `home_return_permit` or `taiwan_permit`.
    pub kind: String,
    pub number: String,
    /// Issuing country of a passport (3 letters, as in its machine-readable zone).
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclarationInput {
    #[serde(default)]
    pub fever: bool,
    #[serde(default)]
    pub symptoms: bool,
    /// Self-measured body temperature in ℃, if any.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Places visited in the last 14 days.
    #[serde(default)]
    pub travel: Vec<String>,
    /// Contact with a confirmed or suspected case.
    #[serde(default)]
    pub contact_with_case: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    pub name: String,
    pub identity: IdentityInput,
    pub declaration: DeclarationInput,
    /// The channel the application comes through; `web` by default.
    #[serde(default)]
    pub channel: Option<String>,
}

/// A fact an official records for a person.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FactInput {
    /// A temperature measured at a checkpoint.
    Temperature {
        celsius: f64,
        site: String,
    },
    /// A test result from a laboratory; `sampled_at` defaults to now.
    TestResult {
        #[schema(value_type = String, example = "pcr")]
        test: TestKind,
        #[schema(value_type = String, example = "negative")]
        outcome: TestOutcome,
        lab: String,
        #[serde(default, with = "time::serde::rfc3339::option")]
        #[schema(value_type = Option<String>, format = DateTime)]
        sampled_at: Option<OffsetDateTime>,
    },
    Diagnosis {
        #[schema(value_type = String, example = "confirmed")]
        status: DiagnosisStatus,
        facility: String,
    },
    CloseContact {
        #[serde(default)]
        case_reference: Option<String>,
    },
    QuarantineStarted {
        #[schema(value_type = String, example = "centralised")]
        place: QuarantinePlace,
    },
    QuarantineEnded {
        symptoms: bool,
    },
}

/// A signed code for now, and why it has its colour.
#[derive(Debug, Clone)]
pub struct LiveCode {
    pub code: IssuedCode,
    pub decision: ColourDecision,
    pub person: PersonRecord,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OtpSent {
    /// The number the code went to, masked.
    pub sent_to: String,
    pub expires_in_seconds: i64,
}

impl<S: Store> AppState<S> {
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn limit(&self, key: &str, limit: usize, window: Duration) -> Result<(), ApiError> {
        self.limiter
            .check(key, limit, window, self.now())
            .map_err(ApiError::too_many)
    }

    fn random_hex(&self, bytes: usize) -> Result<String, ApiError> {
        let mut buf = vec![0u8; bytes];
        self.rng
            .fill(&mut buf)
            .map_err(|_| ApiError::internal("rng failed"))?;
        Ok(hex::encode(buf))
    }

    // ----- citizens -----

    /// Sends a one-time code by SMS. Limited per phone (1 a minute, 5 an
    /// hour) and per client address (20 an hour).
    pub async fn request_otp(&self, phone_input: &str, ip: IpAddr) -> Result<OtpSent, ApiError> {
        let phone = Phone::parse(phone_input)?;
        let hash = self.phones.hash(&phone);
        self.limit(&format!("otp-ip:{ip}"), 20, Duration::hours(1))?;
        self.limit(
            &format!("otp-phone-min:{}", hash.to_hex()),
            1,
            Duration::minutes(1),
        )?;
        self.limit(
            &format!("otp-phone-hour:{}", hash.to_hex()),
            5,
            Duration::hours(1),
        )?;
        let code = new_otp_code(&self.rng)?;
        let now = self.now();
        let ttl = self.settings.otp_ttl_seconds;
        self.store
            .put_otp(&OtpChallenge {
                phone: hash,
                code_hash: otp_hash(&hash, &code),
                created_at: now,
                expires_at: now + Duration::seconds(ttl),
                failed_attempts: 0,
            })
            .await?;
        let minutes = ttl / 60;
        let demo = if self.settings.demo {
            "【DEMO 演示】"
        } else {
            ""
        };
        let body = format!(
            "{demo}{}验证码 {code}，{minutes} 分钟内有效，请勿告诉他人。Your {} code is {code}, valid for {minutes} min. Do not share it.",
            self.settings.code_name.zh, self.settings.code_name.en
        );
        self.sms.send(&phone, &body, now).await?;
        Ok(OtpSent {
            sent_to: phone.masked(),
            expires_in_seconds: ttl,
        })
    }

    /// Checks a one-time code; on success opens a session for the phone and
    /// returns its token.
    pub async fn verify_otp(&self, phone_input: &str, code: &str) -> Result<String, ApiError> {
        let phone = Phone::parse(phone_input)?;
        let hash = self.phones.hash(&phone);
        let now = self.now();
        let none = || {
            ApiError::invalid(
                "code",
                "没有有效的验证码：请重新获取。",
                "No valid code for this number: request a new one.",
            )
        };
        let challenge = self.store.otp(&hash).await?.ok_or_else(none)?;
        if challenge.expires_at <= now {
            self.store.delete_otp(&hash).await?;
            return Err(none());
        }
        if challenge.failed_attempts >= self.settings.otp_max_attempts {
            self.store.delete_otp(&hash).await?;
            return Err(ApiError::too_many(60).with_field("code"));
        }
        let given = code.trim();
        if !constant_time_eq(&otp_hash(&hash, given), &challenge.code_hash) {
            let failed = self.store.fail_otp(&hash).await?;
            let left = self.settings.otp_max_attempts.saturating_sub(failed);
            return Err(ApiError::invalid(
                "code",
                format!("验证码错误，还可尝试 {left} 次。"),
                format!("Wrong code; {left} attempts left."),
            ));
        }
        self.store.delete_otp(&hash).await?;
        self.open_session(
            SessionSubject::Phone(hash),
            Duration::hours(self.settings.citizen_session_hours),
        )
        .await
    }

    async fn open_session(
        &self,
        subject: SessionSubject,
        ttl: Duration,
    ) -> Result<String, ApiError> {
        let (token, token_hash) = new_session_token(&self.rng)?;
        let now = self.now();
        self.store
            .create_session(&Session {
                token_hash,
                subject,
                created_at: now,
                expires_at: now + ttl,
            })
            .await?;
        Ok(token)
    }

    pub async fn session(&self, token: &str) -> Result<Option<Session>, ApiError> {
        Ok(self.store.session(&token_hash(token), self.now()).await?)
    }

    pub async fn sign_out(&self, token: &str) -> Result<(), ApiError> {
        Ok(self.store.delete_session(&token_hash(token)).await?)
    }

    pub async fn person_for_phone(
        &self,
        phone: &PhoneHash,
    ) -> Result<Option<PersonRecord>, ApiError> {
        Ok(self
            .store
            .person_by_phone(&self.settings.region_id, phone)
            .await?)
    }

    /// A first application through the web: identity, name and a health
    /// declaration. Other channels apply through the channel API with their
    /// credentials (`crate::channels`).
    pub async fn apply(
        &self,
        phone: PhoneHash,
        input: ApplicationInput,
    ) -> Result<PersonRecord, ApiError> {
        match input.channel.as_deref() {
            None | Some("web") => self.apply_through(phone, input, "web").await,
            Some(other) => {
                validate_channel(other)?;
                Err(crate::channels::credentials_required())
            }
        }
    }

    /// A first application through `channel` (a registered client id, or
    /// `web`), already authenticated and allowed by the caller.
    pub async fn apply_through(
        &self,
        phone: PhoneHash,
        input: ApplicationInput,
        channel: &str,
    ) -> Result<PersonRecord, ApiError> {
        if self.person_for_phone(&phone).await?.is_some() {
            return Err(ApiError::conflict(
                "此手机号已申领健康码。",
                "This phone number already has a health code.",
            ));
        }
        let name = validate_name(&input.name)?;
        let identity = self.parse_identity(&input.identity)?;
        crate::federation::refer_travellers(&self.settings, &identity)?;
        let channel = validate_channel(channel)?;
        let now = self.now();
        if self
            .store
            .person_by_identity(&self.settings.region_id, identity.number())
            .await?
            .is_some()
        {
            return Err(ApiError::conflict(
                "该证件已申领健康码。",
                "A health code already exists for this document.",
            )
            .with_field("identity.number"));
        }
        let person = PersonRecord {
            id: PersonId::from_bytes(self.random_bytes()?),
            region: self.settings.region_id.clone(),
            identity,
            full_name: name,
            phone,
            channel,
            created_at: now,
        };
        let declaration = self.declaration_event(&input.declaration, now)?;
        self.store.create_person(&person).await?;
        self.audit(AuditRecord {
            at: now,
            actor: "self".into(),
            action: "person.applied".into(),
            subject: person.id.to_string(),
            details: serde_json::json!({"channel": person.channel, "kind": person.identity.code_kind().as_str()})
                .to_string(),
        })
        .await?;
        self.record_event(&person.id, &declaration).await?;
        Ok(person)
    }

    /// A further self-declaration.
    pub async fn declare(
        &self,
        person: &PersonId,
        input: &DeclarationInput,
    ) -> Result<Event, ApiError> {
        let event = self.declaration_event(input, self.now())?;
        self.record_event(person, &event).await?;
        Ok(event)
    }

    fn declaration_event(
        &self,
        d: &DeclarationInput,
        now: OffsetDateTime,
    ) -> Result<Event, ApiError> {
        let temperature = d
            .temperature
            .map(Temperature::from_celsius)
            .transpose()
            .map_err(|e| field_error("declaration.temperature", &e.to_string()))?;
        if d.travel.len() > 20
            || d.travel
                .iter()
                .any(|p| p.trim().is_empty() || p.chars().count() > 64)
        {
            return Err(ApiError::invalid(
                "declaration.travel",
                "行程最多 20 项，每项 1 至 64 个字。",
                "Up to 20 places, each 1 to 64 characters.",
            ));
        }
        let fever = d.fever || temperature.is_some_and(|t| t.tenths() >= FEVER_TENTHS);
        let fact = Fact::SelfDeclaration {
            fever,
            symptoms: d.symptoms,
            temperature,
            travel: d.travel.iter().map(|p| p.trim().to_owned()).collect(),
            contact_with_case: d.contact_with_case,
        };
        self.new_event(now, Source::SelfDeclared, fact)
    }

    fn new_event(&self, at: OffsetDateTime, source: Source, fact: Fact) -> Result<Event, ApiError> {
        let id = EventId::new(&format!("ev-{}", self.random_hex(8)?))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Event::new(id, at, source, fact).map_err(|e| field_error("fact", &e.to_string()))
    }

    async fn record_event(&self, person: &PersonId, event: &Event) -> Result<(), ApiError> {
        self.store.append_event(person, event).await?;
        self.audit(AuditRecord::event_recorded(
            person.as_str(),
            self.now(),
            event,
        ))
        .await
    }

    async fn audit(&self, record: AuditRecord) -> Result<(), ApiError> {
        self.store.append_audit(record).await?;
        Ok(())
    }

    fn random_bytes(&self) -> Result<[u8; 16], ApiError> {
        let mut b = [0u8; 16];
        self.rng
            .fill(&mut b)
            .map_err(|_| ApiError::internal("rng failed"))?;
        Ok(b)
    }

    fn parse_identity(&self, input: &IdentityInput) -> Result<Identity, ApiError> {
        let err = |e: &dyn std::fmt::Display| field_error("identity.number", &e.to_string());
        match input.kind.as_str() {
            "resident_id" => ResidentId::parse_as_of(&input.number, self.now().date())
                .map(|id| Identity::Resident { id })
                .map_err(|e| err(&e)),
            "passport" => {
                let country = input.country.as_deref().ok_or_else(|| {
                    ApiError::invalid("identity.country", "护照须填写签发国。", "A passport needs its issuing country.")
                })?;
                Passport::new(country, &input.number)
                    .map(Identity::Passport)
                    .map_err(|e| err(&e))
            }
            "home_return_permit" => TravelPermit::new(PermitKind::HongKongMacaoHomeReturn, &input.number)
                .map(Identity::Permit)
                .map_err(|e| err(&e)),
            "taiwan_permit" => TravelPermit::new(PermitKind::TaiwanCompatriot, &input.number)
                .map(Identity::Permit)
                .map_err(|e| err(&e)),
            other => Err(ApiError::invalid(
                "identity.kind",
                format!("未知证件类型 {other:?}：应为 resident_id、passport、home_return_permit 或 taiwan_permit。"),
                format!("Unknown document kind {other:?}: expected resident_id, passport, home_return_permit or taiwan_permit."),
            )),
        }
    }

    /// Evaluates the person's colour now and signs a short-lived code.
    pub async fn live_code(&self, person: PersonRecord) -> Result<LiveCode, ApiError> {
        let events = self.store.events(&person.id).await?;
        let now = self.now();
        let decision = self.rules.evaluate(&events, now);
        let request = CodeRequest {
            colour: decision.colour,
            full_name: person.full_name.clone(),
            document_id: person.identity.number().to_owned(),
            kind: person.identity.code_kind(),
            ttl_seconds: self.settings.code_ttl_seconds,
            status_as_of: now.unix_timestamp(),
        };
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
                .issue(&request, now.unix_timestamp(), code_id, &self.rng)
                .map_err(ApiError::internal)?
        };
        Ok(LiveCode {
            code,
            decision,
            person,
        })
    }

    // ----- officials -----

    pub async fn official_sign_in(
        &self,
        username: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<String, ApiError> {
        self.limit(&format!("login-ip:{ip}"), 30, Duration::minutes(15))?;
        self.limit(&format!("login-user:{username}"), 10, Duration::minutes(15))?;
        let wrong = || {
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "wrong_credentials",
                crate::i18n::Text::new("用户名或密码错误。", "Wrong username or password."),
            )
        };
        let account = self.store.official(username).await?.ok_or_else(wrong)?;
        if !verify_password(password, &account.password_hash) {
            return Err(wrong());
        }
        self.audit(AuditRecord {
            at: self.now(),
            actor: format!("official:{}", account.username),
            action: "official.signed_in".into(),
            subject: format!("official:{}", account.username),
            details: "{}".into(),
        })
        .await?;
        self.open_session(
            SessionSubject::Official(account.username),
            Duration::hours(self.settings.official_session_hours),
        )
        .await
    }

    pub async fn find_person(
        &self,
        identity_number: &str,
    ) -> Result<Option<PersonRecord>, ApiError> {
        Ok(self
            .store
            .person_by_identity(&self.settings.region_id, identity_number.trim())
            .await?)
    }

    /// Records a fact for a person on an official's authority; the official
    /// is the actor in the audit chain.
    pub async fn record_fact(
        &self,
        official: &OfficialAccount,
        person: &PersonId,
        input: FactInput,
    ) -> Result<Event, ApiError> {
        if !official.roles.contains(&Role::HealthOfficial) {
            return Err(ApiError::forbidden(
                "只有卫生健康工作人员可以登记健康信息。",
                "Only health officials may record health facts.",
            ));
        }
        if self.store.person(person).await?.is_none() {
            return Err(ApiError::not_found("此人", "Person"));
        }
        let now = self.now();
        let official_id = healthcode_core::OfficialId::new(&official.username)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let place = |field: &str, value: &str| -> Result<String, ApiError> {
            let v = value.trim();
            if v.is_empty() || v.chars().count() > 100 {
                return Err(ApiError::invalid(
                    field,
                    "须填写 1 至 100 个字。",
                    "Must be 1 to 100 characters.",
                ));
            }
            Ok(v.to_owned())
        };
        let (at, source, fact) = match input {
            FactInput::Temperature { celsius, site } => {
                let reading = Temperature::from_celsius(celsius)
                    .map_err(|e| field_error("celsius", &e.to_string()))?;
                (
                    now,
                    Source::Checkpoint {
                        site: place("site", &site)?,
                    },
                    Fact::Temperature { reading },
                )
            }
            FactInput::TestResult {
                test,
                outcome,
                lab,
                sampled_at,
            } => {
                let at = sampled_at.unwrap_or(now);
                if at > now {
                    return Err(ApiError::invalid(
                        "sampled_at",
                        "采样时间不能晚于现在。",
                        "The sampling time cannot be in the future.",
                    ));
                }
                (
                    at,
                    Source::Laboratory {
                        lab: place("lab", &lab)?,
                    },
                    Fact::TestResult { test, outcome },
                )
            }
            FactInput::Diagnosis { status, facility } => (
                now,
                Source::Clinic {
                    facility: place("facility", &facility)?,
                },
                Fact::Diagnosis { status },
            ),
            FactInput::CloseContact { case_reference } => (
                now,
                Source::HealthAuthority {
                    official: official_id.clone(),
                },
                Fact::CloseContact { case_reference },
            ),
            FactInput::QuarantineStarted { place: where_ } => (
                now,
                Source::HealthAuthority {
                    official: official_id.clone(),
                },
                Fact::QuarantineStarted { place: where_ },
            ),
            FactInput::QuarantineEnded { symptoms } => (
                now,
                Source::HealthAuthority {
                    official: official_id.clone(),
                },
                Fact::QuarantineEnded { symptoms },
            ),
        };
        let event = self.new_event(at, source, fact)?;
        self.store.append_event(person, &event).await?;
        let mut record = AuditRecord::event_recorded(person.as_str(), now, &event);
        record.actor = format!("official:{}", official.username);
        self.audit(record).await?;
        Ok(event)
    }
}

fn field_error(field: &str, message: &str) -> ApiError {
    // Core messages are "English / 中文".
    let (en, zh) = message.split_once(" / ").unwrap_or((message, message));
    ApiError::invalid(field, zh, en)
}

fn validate_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "姓名须为 1 至 64 个字。",
            "The name must be 1 to 64 characters.",
        ));
    }
    Ok(name.to_owned())
}

fn validate_channel(channel: &str) -> Result<String, ApiError> {
    let ok = (1..=32).contains(&channel.len())
        && channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(ApiError::invalid(
            "channel",
            "渠道标识须为 1 至 32 个字母、数字、- 或 _。",
            "The channel id must be 1 to 32 letters, digits, - or _.",
        ));
    }
    Ok(channel.to_owned())
}
