//! DEMO channels for `healthcode demo`: one mini-program per partner app,
//! with secrets derived from the deployment's secret (stable across
//! restarts, printed at start, stored hashed like any channel's).

use anyhow::Result;
use healthcode_core::regions::ChannelKind;
use healthcode_server::channels::hash_secret;
use healthcode_server::Settings;
use healthcode_store::{Channel, Store};
use ring::hmac;
use time::OffsetDateTime;

/// The demo channels: client id, kind, display name.
pub const CHANNELS: [(&str, ChannelKind, &str); 3] = [
    (
        "demo-alipay",
        ChannelKind::Alipay,
        "DEMO 演示 · 支付宝小程序",
    ),
    ("demo-wechat", ChannelKind::Wechat, "DEMO 演示 · 微信小程序"),
    (
        "demo-unionpay",
        ChannelKind::Unionpay,
        "DEMO 演示 · 云闪付小程序",
    ),
];

/// A demo channel's secret, derived from the deployment's secret.
pub fn channel_secret(secret: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("demo-channel-secret:{client_id}").as_bytes());
    format!("hcs_{}", hex::encode(tag.as_ref()))
}

/// Registers the demo channels unless they are already there.
pub async fn seed_channels<S: Store>(store: &S, settings: &Settings) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    for (client_id, kind, name) in CHANNELS {
        if store.channel(client_id).await?.is_some() {
            continue;
        }
        let secret = channel_secret(settings.phone_hash_secret.expose(), client_id);
        store
            .create_channel(&Channel {
                client_id: client_id.to_owned(),
                name: name.to_owned(),
                kind,
                secret_hash: hash_secret(&secret),
                created_at: now,
                created_by: "demo".to_owned(),
                disabled_at: None,
            })
            .await?;
    }
    Ok(())
}

/// The guide, trust and channel lines of the demo's welcome.
pub fn print_channels(base: &str, secret: &str) {
    println!("  guide 申领指南        {base}/guide   (where each code could be applied for / 各地健康码申领渠道)");
    println!("  trust 互认            {base}/trust");
    println!("\n  DEMO channels 演示渠道 (HTTP Basic client_id:secret on {base}/api/v1/channel/…; what each may do: {base}/guide):");
    for (client_id, kind, _) in CHANNELS {
        println!(
            "    {client_id:<14} {:<9} {}",
            kind.as_str(),
            channel_secret(secret, client_id)
        );
    }
}
