//! Seeding the demo deployment: fictional people of every colour (decided
//! by the rule set from their facts, like everyone's) and demo officials.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use healthcode_core::facts::{
    DiagnosisStatus, Event, EventId, Fact, OfficialId, QuarantinePlace, Source, Temperature,
};
use healthcode_core::{AuditRecord, Identity, Passport, ResidentId};
use healthcode_server::security::{hash_password, Phone, PhoneHasher};
use healthcode_server::Settings;
use healthcode_store::{OfficialAccount, PersonId, PersonRecord, Role, Store};
use ring::hmac;
use ring::rand::SystemRandom;
use time::{Duration, OffsetDateTime};

pub struct DemoPerson {
    pub phone: &'static str,
    pub name: &'static str,
    pub id: &'static str,
    pub expect: &'static str,
    facts: fn(OffsetDateTime) -> Result<Vec<Event>>,
}

pub const PEOPLE: [DemoPerson; 6] = [
    DemoPerson {
        phone: "13800000001",
        name: "张三",
        id: "220102199003071235",
        expect: "green 绿码",
        facts: |now| {
            Ok(vec![
                declared("zs-1", now - hours(20))?,
                reading("zs-2", now - hours(3), 36.5)?,
            ])
        },
    },
    DemoPerson {
        phone: "13800000002",
        name: "李四",
        id: "220104198506120025",
        expect: "yellow 黄码",
        facts: |now| {
            Ok(vec![
                declared("ls-1", now - hours(30))?,
                reading("ls-2", now - hours(1), 37.8)?,
            ])
        },
    },
    DemoPerson {
        phone: "13800000003",
        name: "王小五",
        id: "220203197511203452",
        expect: "orange 橙码",
        facts: |now| {
            let tracer = official()?;
            Ok(vec![
                declared("ww-1", now - hours(72))?,
                event(
                    "ww-2",
                    now - hours(48),
                    tracer.clone(),
                    Fact::CloseContact {
                        case_reference: None,
                    },
                )?,
                event(
                    "ww-3",
                    now - hours(47),
                    tracer,
                    Fact::QuarantineStarted {
                        place: QuarantinePlace::Centralised,
                    },
                )?,
            ])
        },
    },
    DemoPerson {
        phone: "13800000004",
        name: "赵六",
        id: "220302196204056784",
        expect: "red 红码",
        facts: |now| {
            let clinic = Source::Clinic {
                facility: "DEMO Hospital".into(),
            };
            Ok(vec![
                declared("zl-1", now - hours(50))?,
                event(
                    "zl-2",
                    now - hours(26),
                    clinic,
                    Fact::Diagnosis {
                        status: DiagnosisStatus::Confirmed,
                    },
                )?,
            ])
        },
    },
    DemoPerson {
        phone: "13800000005",
        name: "钱七",
        id: "110105200109091110",
        expect: "pending 黑码（待定）",
        facts: |_| Ok(Vec::new()),
    },
    DemoPerson {
        phone: "+447700900123",
        name: "John Smith",
        id: "GBR:123456789",
        expect: "green 绿码 (traveller 外籍人员版)",
        facts: |now| Ok(vec![declared("js-1", now - hours(5))?]),
    },
];

pub const OFFICIALS: [(&str, Role); 2] = [
    ("demo-official", Role::HealthOfficial),
    ("demo-reviewer", Role::Reviewer),
];

fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

fn event(id: &str, at: OffsetDateTime, source: Source, fact: Fact) -> Result<Event> {
    Ok(Event::new(EventId::new(id)?, at, source, fact)?)
}

fn declared(id: &str, at: OffsetDateTime) -> Result<Event> {
    let fact = Fact::SelfDeclaration {
        fever: false,
        symptoms: false,
        temperature: None,
        travel: Vec::new(),
        contact_with_case: false,
    };
    event(id, at, Source::SelfDeclared, fact)
}

fn reading(id: &str, at: OffsetDateTime, celsius: f64) -> Result<Event> {
    let site = Source::Checkpoint {
        site: "DEMO Railway Station".into(),
    };
    event(
        id,
        at,
        site,
        Fact::Temperature {
            reading: Temperature::from_celsius(celsius)?,
        },
    )
}

fn official() -> Result<Source> {
    Ok(Source::HealthAuthority {
        official: OfficialId::new("demo-tracer-7")?,
    })
}

/// A demo official's password: derived from the deployment's secret, so it
/// is stable across restarts and printed at start, never stored in clear.
pub fn official_password(secret: &str, username: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(
        &key,
        format!("demo-official-password:{username}").as_bytes(),
    );
    hex::encode(&tag.as_ref()[..6])
}

impl DemoPerson {
    /// The facts on record for this person, relative to `now`.
    pub fn facts(&self, now: OffsetDateTime) -> Result<Vec<Event>> {
        (self.facts)(now)
    }

    /// A resident ID, or `COUNTRY:NUMBER` for a passport.
    pub fn identity(&self, today: time::Date) -> Result<Identity> {
        Ok(match self.id.split_once(':') {
            Some((country, number)) => Identity::Passport(Passport::new(country, number)?),
            None => Identity::Resident {
                id: ResidentId::parse_as_of(self.id, today)?,
            },
        })
    }
}

/// Adds the demo people and officials unless they are already there.
pub async fn seed<S: Store>(store: &S, settings: &Settings) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let rng = SystemRandom::new();
    let hasher = PhoneHasher::new(settings.phone_hash_secret.expose().as_bytes());
    for (i, p) in PEOPLE.iter().enumerate() {
        let phone = Phone::parse(p.phone).map_err(|e| anyhow::anyhow!(e.message.en))?;
        let hash = hasher.hash(&phone);
        if store
            .person_by_phone(&settings.region_id, &hash)
            .await?
            .is_some()
        {
            continue;
        }
        let mut id = [0u8; 16];
        id[15] = u8::try_from(i + 1).unwrap_or(0);
        id[0] = 0xde;
        let person = PersonRecord {
            id: PersonId::from_bytes(id),
            region: settings.region_id.clone(),
            identity: p.identity(now.date())?,
            full_name: p.name.to_owned(),
            phone: hash,
            channel: "demo".to_owned(),
            created_at: now,
        };
        store
            .create_person(&person)
            .await
            .context("seeding demo people")?;
        for event in p.facts(now)? {
            store.append_event(&person.id, &event).await?;
            store
                .append_audit(AuditRecord::event_recorded(person.id.as_str(), now, &event))
                .await?;
        }
    }
    crate::demo_checkpoint::seed_checkpoint(store, now).await?;
    crate::demo_channels::seed_channels(store, settings).await?;
    for (username, role) in OFFICIALS {
        if store.official(username).await?.is_some() {
            continue;
        }
        let password = official_password(settings.phone_hash_secret.expose(), username);
        let hash = hash_password(&password, &rng).map_err(|e| anyhow::anyhow!(e.message.en))?;
        store
            .create_official(&OfficialAccount {
                username: username.to_owned(),
                display_name: username.to_owned(),
                password_hash: hash,
                roles: vec![role],
                created_at: now,
            })
            .await?;
    }
    crate::demo_oversight::seed_oversight(store, settings).await?;
    crate::demo_itinerary::seed_itinerary(store, settings).await?;
    Ok(())
}

pub fn print_welcome(addr: SocketAddr, engine: &str, dir: &Path, secret: &str) {
    let base = format!("http://{addr}");
    println!(
        "healthcode demo — DEMO keys only, never a real authority's code / 演示：仅使用演示密钥\n"
    );
    println!("  open 打开            {base}/");
    println!(
        "  SMS outbox 短信发件箱 {base}/outbox   (one-time codes appear here / 验证码在此显示)"
    );
    println!("  API docs 接口文档     {base}/docs/");
    println!("  trust list 信任列表   {base}/.well-known/healthcode/trust-list.json");
    println!(
        "  checkpoint 卡口核验   {base}/checkpoint   (sample codes 示例码: {})",
        crate::demo_checkpoint::samples_file(dir).display()
    );
    crate::demo_channels::print_channels(&base, secret);
    println!("  database 数据库       {engine} in {}\n", dir.display());
    println!("  Sign in with one of these phones to see a code of each colour / 用以下手机号登录查看各颜色的码:");
    for p in &PEOPLE {
        println!("    {:<15} {:<10} {}", p.phone, p.name, p.expect);
    }
    println!("\n  Officials 工作人员 ({base}/official):");
    for (username, role) in OFFICIALS {
        println!(
            "    {username:<14} password 密码 {}   ({})",
            official_password(secret, username),
            role.as_str()
        );
    }
    crate::demo_itinerary::print_itinerary_urls(&base);
    println!(
        "  approvals and corrections 审批与纠错队列 {base}/official/oversight   (a DEMO override request and correction request wait there)"
    );
    println!("  a person's record 我的记录  {base}/me/record   (after signing in with a phone above: audit entries, corrections, who read the data, export)");
    println!(
        "\n  Verify a code offline 离线核验: curl -s {base}/.well-known/healthcode/trust-list.json > trust.json && healthcode verify --accept-demo --trust trust.json CODE_OR_PICTURE"
    );
    println!("\n  Ctrl-C stops the server / 按 Ctrl-C 停止");
}
