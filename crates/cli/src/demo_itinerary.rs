//! DEMO data for the itinerary card: carrier stays for the demo phones and
//! risk areas, relative to the time the demo starts, so each demo phone's
//! card has a different colour. All of it is fictional and marked DEMO.

use anyhow::{anyhow, Result};
use healthcode_core::itinerary::{AreaLevel, CityCode, RiskArea};
use healthcode_core::{AuditRecord, Bilingual};
use healthcode_server::security::{Phone, PhoneHasher};
use healthcode_server::Settings;
use healthcode_store::itinerary::{CarrierStay, RiskAreaRecord};
use healthcode_store::Store;
use time::{Duration, OffsetDateTime};

const DEMO_CARRIER: &str = "DEMO-carrier";
const PUBLISHER: &str = "demo:seed";

/// (phone, city, hours ago the stay began, hours it lasted), and what the card shows.
const STAYS: &[(&str, &str, i64, i64)] = &[
    // 13800000001: Hangzhou and Nanjing, no risk area: green.
    ("13800000001", "330100", 240, 60),
    ("13800000001", "320100", 120, 30),
    // 13800000002: Beijing, where a medium-risk area is in force: yellow, Beijing*.
    ("13800000002", "110100", 100, 50),
    ("13800000002", "330100", 300, 3), // 3 h: not listed
    // 13800000003: Changchun during its high-risk area, 9 days ago: orange.
    ("13800000003", "220100", 230, 12),
    ("13800000003", "110100", 150, 20),
    // 13800000004: Changchun 4 days ago: red.
    ("13800000004", "220100", 110, 14),
    // 13800000005: Shenzhen; Shanghai only in the last day (the lag hides it): green.
    ("13800000005", "440300", 200, 8),
    ("13800000005", "310100", 20, 10),
];

/// (city, area zh, area en, level, started hours ago, ended hours ago).
type DemoArea = (
    &'static str,
    &'static str,
    &'static str,
    AreaLevel,
    i64,
    Option<i64>,
);

const AREAS: &[DemoArea] = &[
    (
        "220100",
        "南关区（演示）",
        "Nanguan District (DEMO)",
        AreaLevel::High,
        240,
        None,
    ),
    (
        "110100",
        "朝阳区某街道（演示）",
        "A Chaoyang street (DEMO)",
        AreaLevel::Medium,
        120,
        None,
    ),
    (
        "310100",
        "浦东新区某小区（演示）",
        "A Pudong estate (DEMO)",
        AreaLevel::High,
        480,
        Some(300),
    ),
];

/// Seeds DEMO stays and risk areas unless they are already there.
pub async fn seed_itinerary<S: Store>(store: &S, settings: &Settings) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let hasher = PhoneHasher::new(settings.phone_hash_secret.expose().as_bytes());
    let city = |c: &str| CityCode::parse(c).map_err(|e| anyhow!(e));
    let mut stays = Vec::new();
    for &(phone, c, ago, hours) in STAYS {
        let phone = Phone::parse(phone).map_err(|e| anyhow!(e.message.en))?;
        let hash = hasher.hash(&phone);
        if !store
            .carrier_stays(&hash, now - Duration::days(20), now)
            .await?
            .is_empty()
        {
            continue;
        }
        let first_seen = now - Duration::hours(ago);
        stays.push(CarrierStay {
            phone: hash,
            city: city(c)?,
            first_seen,
            last_seen: first_seen + Duration::hours(hours),
            cell: Some("DEMO-cell".into()),
            carrier: Some(DEMO_CARRIER.into()),
        });
    }
    store.insert_carrier_stays(&stays).await?;

    let seeded = store
        .risk_areas()
        .await?
        .iter()
        .any(|r| r.published_by == PUBLISHER);
    if !seeded {
        for (i, &(c, zh, en, level, started, ended)) in AREAS.iter().enumerate() {
            let record = RiskAreaRecord {
                area: RiskArea {
                    id: format!("ra-demo-{}-{}", now.unix_timestamp(), i + 1),
                    city: city(c)?,
                    area: Bilingual::new(zh, en),
                    level,
                    starts_at: now - Duration::hours(started),
                    ends_at: ended.map(|h| now - Duration::hours(h)),
                },
                published_by: PUBLISHER.into(),
                published_at: now,
                ended_by: ended.map(|_| PUBLISHER.into()),
                supersedes: None,
            };
            store.create_risk_area(&record).await?;
            store
                .append_audit(AuditRecord {
                    at: now,
                    actor: PUBLISHER.into(),
                    action: "risk_area.published".into(),
                    subject: format!("risk_area:{}", record.area.id),
                    details: serde_json::json!({"demo": true}).to_string(),
                })
                .await?;
        }
    }
    Ok(())
}

/// The itinerary lines of the demo's welcome.
pub fn print_itinerary_urls(base: &str) {
    println!("\n  Itinerary card 行程卡 (DEMO)  {base}/itinerary");
    println!("    13800000001 green 绿 · 13800000002 yellow 黄 · 13800000003 orange 橙 · 13800000004 red 红 · 13800000005 green 绿");
    println!("  Risk areas 中高风险地区       {base}/risk-areas   (officials 工作人员: {base}/official/risk-areas)");
    println!("  Carrier API 运营商接口        POST {base}/api/v1/carrier/stays   (key 密钥: healthcode carrier create-account NAME --data DIR)");
}
