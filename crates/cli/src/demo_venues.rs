//! Demo venues (场所码), all marked DEMO: an open mall and hospital, a
//! sealed café, check-ins of the demo people around the demo confirmed
//! case (赵六), so that tracing from the case finds a candidate. Operator
//! credentials and the café's venue key are derived from the deployment's
//! secret, so they are stable across restarts and printed at start.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use healthcode_codec::sealed;
use healthcode_server::venues::logic::{hash_token, OPERATOR_PREFIX, SEALED_HOURS};
use healthcode_server::AppState;
use healthcode_store::venues::{CheckIn, HourKeys, VenueId, VenueMode, VenueRecord};
use healthcode_store::{PersonId, Store};
use ring::hmac;
use time::{Duration, OffsetDateTime};

struct DemoVenue {
    name: &'static str,
    address: &'static str,
    region: &'static str,
    category: &'static str,
    mode: VenueMode,
}

const VENUES: [DemoVenue; 3] = [
    DemoVenue {
        name: "演示商场 DEMO Mall",
        address: "长春市南关区演示大街 1 号 (DEMO)",
        region: "220102",
        category: "mall",
        mode: VenueMode::Open,
    },
    DemoVenue {
        name: "演示咖啡馆 DEMO Café",
        address: "长春市朝阳区演示路 8 号 (DEMO)",
        region: "220104",
        category: "restaurant",
        mode: VenueMode::Sealed,
    },
    DemoVenue {
        name: "演示医院 DEMO Hospital",
        address: "长春市朝阳区演示医院路 3 号 (DEMO)",
        region: "220104",
        category: "hospital",
        mode: VenueMode::Open,
    },
];

fn derive(secret: &str, label: &str) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("demo-venue:{label}").as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The demo people's ids (as `demo_server::seed` makes them).
fn demo_person(n: u8) -> PersonId {
    let mut id = [0u8; 16];
    id[0] = 0xde;
    id[15] = n;
    PersonId::from_bytes(id)
}

/// Seeds the demo venues and check-ins (once), and prints their URLs and
/// credentials.
pub async fn seed_venues<S: Store>(state: &AppState<S>, addr: SocketAddr) -> Result<()> {
    let secret = state.settings.phone_hash_secret.expose().to_owned();
    let now = OffsetDateTime::now_utc();
    let base = format!("http://{addr}");
    println!("\n  Venues 场所码 (DEMO) — operators sign in at {base}/venue:");
    let mut ids = Vec::new();
    for (i, v) in VENUES.iter().enumerate() {
        let bytes = derive(&secret, &format!("id:{i}"));
        let id = VenueId(u64::from_be_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]));
        let token = format!(
            "{OPERATOR_PREFIX}{}",
            hex::encode(derive(&secret, &format!("operator:{i}")))
        );
        let seed = derive(&secret, &format!("seed:{i}"));
        let venue = match state.store.venue(id).await? {
            Some(existing) => existing,
            None => {
                let hour_keys = match v.mode {
                    VenueMode::Open => None,
                    VenueMode::Sealed => {
                        let first_hour =
                            sealed::hour_of((now - Duration::days(3)).unix_timestamp());
                        Some(HourKeys {
                            first_hour,
                            publics: sealed::venue_hour_publics(
                                &seed,
                                &id.to_string(),
                                first_hour,
                                SEALED_HOURS,
                            )?,
                        })
                    }
                };
                let venue = VenueRecord {
                    id,
                    name: v.name.to_owned(),
                    address: v.address.to_owned(),
                    region_code: v.region.to_owned(),
                    category: v.category.to_owned(),
                    cell: Some(format!("g800:DEMO:{i}")),
                    mode: v.mode,
                    operator_token_hash: hash_token(&token),
                    demo: true,
                    registered_by: "official:demo-official".to_owned(),
                    created_at: now,
                    hour_keys,
                };
                state
                    .store
                    .create_venue(&venue)
                    .await
                    .context("seeding demo venues")?;
                venue
            }
        };
        let url = format!(
            "{base}/v/{}",
            state
                .venue_token(&venue)
                .map_err(|e| anyhow::anyhow!(e.message.en))?
        );
        println!("    {} [{}]", v.name, v.mode.as_str());
        println!("      check in 扫码登记  {url}");
        println!("      operator 管理凭证  {token}");
        if v.mode == VenueMode::Sealed {
            println!("      venue key 场所密钥 {}", hex::encode(seed));
        }
        ids.push(venue);
    }
    // The confirmed case 赵六 (4) at the mall 30 h ago; 张三 (1) overlaps by
    // an hour; 李四 (2) came after the case left; the traveller at the
    // hospital. In the sealed café: the case and 钱七 (5).
    let hours = |h: i64| now - Duration::hours(h);
    let stays = [
        (0, 4, hours(30), hours(28)),
        (0, 1, hours(29), hours(27)),
        (0, 2, hours(20), hours(19)),
        (2, 6, hours(10), hours(9)),
    ];
    let checkins: Vec<CheckIn> = stays
        .iter()
        .map(|&(v, p, arrived, left)| CheckIn {
            venue: ids[v].id,
            person: demo_person(p),
            dependent: 0,
            arrived,
            left,
        })
        .collect();
    state
        .store
        .insert_checkins_once(
            "demo",
            &checkins
                .into_iter()
                .enumerate()
                .map(|(i, c)| (format!("demo-{i}"), c))
                .collect::<Vec<_>>(),
        )
        .await?;
    let cafe = &ids[1];
    if state
        .store
        .sealed_counts(
            cafe.id,
            sealed::hour_of(hours(40).unix_timestamp()),
            sealed::hour_of(now.unix_timestamp()),
        )
        .await?
        .is_empty()
    {
        for p in [4u8, 5] {
            if let Some(person) = state.store.person(&demo_person(p)).await? {
                state
                    .seal_checkin_at(cafe, &person, hours(40))
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message.en))?;
            }
        }
    }
    println!(
        "    Trace the demo case 追踪演示病例: {base}/official/trace  (case 220302196204056784)"
    );
    Ok(())
}
