//! `healthcode demo`: a complete offline walk-through with DEMO keys.
//!
//! Writes keys, a signed trust list, one code of every colour (PNG and SVG)
//! and a bilingual page that shows them, verifies each code as a checkpoint
//! would, and shows a forgery and a stale screenshot failing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use healthcode_codec::qr::QrMatrix;
use healthcode_codec::report::VerificationReport;
use healthcode_codec::{
    Algorithm, CodeIssuer, CodeRequest, IssuerKey, TrustList, TrustStore, Verifier, VerifyOptions,
};
use healthcode_core::{CodeKind, Colour, ColourDecision, ShippedRuleSet};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use crate::args::write_file;
use crate::demo_server::{DemoPerson, PEOPLE};

#[derive(Args)]
pub struct DemoArgs {
    /// Directory for the demo's keys, codes and page / 演示输出目录
    #[arg(long, value_name = "DIR", default_value = "demo-data")]
    out: PathBuf,
}

const DEMO_ISSUER: &str = "DEMO-22";
const DEMO_PUBLISHER: &str = "DEMO-PUBLISHER";

pub fn run(a: DemoArgs) -> Result<ExitCode> {
    let rng = SystemRandom::new();
    let now = OffsetDateTime::now_utc();
    let t = now.unix_timestamp();
    let out = &a.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;

    println!(
        "healthcode demo — DEMO keys only, never a real authority's code / 演示：仅使用演示密钥\n"
    );
    let year = time::Duration::days(365);
    let issuer_key =
        IssuerKey::generate(DEMO_ISSUER, Algorithm::EdDsa, now, now + year, true, &rng)?;
    let publisher = IssuerKey::generate(
        DEMO_PUBLISHER,
        Algorithm::EdDsa,
        now,
        now + year,
        true,
        &rng,
    )?;
    write_file(
        &out.join("keys/issuer.key.json"),
        issuer_key.to_private_json()?.as_bytes(),
        true,
    )?;
    write_file(
        &out.join("keys/issuer.pub.json"),
        issuer_key.to_public_json()?.as_bytes(),
        false,
    )?;
    write_file(
        &out.join("keys/publisher.key.json"),
        publisher.to_private_json()?.as_bytes(),
        true,
    )?;
    let trust_text = TrustList::new(publisher.description(), now, vec![issuer_key.description()])
        .sign(&publisher.signing_key, &rng)?
        .to_json();
    let trust_path = out.join("trust-list.json");
    write_file(&trust_path, trust_text.as_bytes(), false)?;
    let fingerprint = publisher.signing_key.public_key().fingerprint();
    println!(
        "  keys and trust list 密钥与信任列表   {}",
        out.join("keys").display()
    );
    println!("  publisher fingerprint 发布者指纹     {fingerprint}\n");

    let mut store = TrustStore::new();
    store.add_trust_list(&TrustList::open(&trust_text, Some(&fingerprint))?);
    // The demo's own codes are DEMO codes: accept them here, knowingly.
    let mut verifier = Verifier::with_options(
        store,
        VerifyOptions {
            accept_demo: true,
            ..VerifyOptions::default()
        },
    );
    let mut issuer = CodeIssuer::new(issuer_key);

    let rules = ShippedRuleSet::Jilin.load()?;
    println!(
        "  colours decided by rule set 规则集 {} v{} over each person's facts\n",
        rules.id, rules.version
    );
    let mut cards = String::new();
    let mut first_code = String::new();
    for (i, person) in PEOPLE.iter().enumerate() {
        let decision = rules.evaluate(&person.facts(now)?, now);
        let mut code_id = [0u8; 16];
        rng.fill(&mut code_id)
            .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
        let code = issuer.issue(&request_for(person, decision.colour, t)?, t, code_id, &rng)?;
        let qr = QrMatrix::encode(&code.text)?;
        let stem = format!("code-{}-{}", i + 1, decision.colour.as_str());
        write_file(
            &out.join(format!("{stem}.png")),
            &qr.to_png(8, true)?,
            false,
        )?;
        let svg = qr.to_svg(Some("DEMO 演示"));
        write_file(&out.join(format!("{stem}.svg")), svg.as_bytes(), false)?;
        write_file(
            &out.join(format!("{stem}.txt")),
            code.text.as_bytes(),
            false,
        )?;
        let report = VerificationReport::from_result(&verifier.verify(&code.text, t));
        println!(
            "  {:<8} {:<20} {:<12} → {}   {}",
            decision.colour.as_str(),
            code.claims.masked_id,
            code.claims.masked_name,
            if report.is_valid() {
                "VALID 有效"
            } else {
                "INVALID 无效"
            },
            out.join(format!("{stem}.png")).display(),
        );
        if first_code.is_empty() {
            first_code = code.text.clone();
        }
        card(
            &mut cards,
            code.claims.kind,
            &decision,
            &code.claims.masked_name,
            &code.claims.masked_id,
            &svg,
            &report,
        );
    }

    println!("\n  What a checkpoint refuses / 卡口拒绝的情形:");
    let mut failures = String::new();
    let stale = VerificationReport::from_result(&verifier.verify(&first_code, t + 600));
    let forged = forge(&first_code);
    let forged_report = VerificationReport::from_result(&verifier.verify(&forged, t));
    // A forger with a key of their own, claiming to be the demo issuer.
    let forger_key =
        IssuerKey::generate(DEMO_ISSUER, Algorithm::EdDsa, now, now + year, true, &rng)?;
    let green = request_for(&PEOPLE[0], Colour::Green, t)?;
    let counterfeit = CodeIssuer::new(forger_key).issue(&green, t, [0; 16], &rng)?;
    let counterfeit_report =
        VerificationReport::from_result(&verifier.verify(&counterfeit.text, t));
    for (what_en, what_zh, r) in [
        (
            "a screenshot shown 10 minutes later",
            "10 分钟后出示的截图",
            &stale,
        ),
        (
            "a code with one character altered",
            "被改动一个字符的码",
            &forged_report,
        ),
        (
            "a code signed with a forger's key",
            "用伪造者密钥签名的码",
            &counterfeit_report,
        ),
    ] {
        println!("  {what_en} / {what_zh} → {} ({})", r.verdict, r.reason);
        let _ = write!(
            failures,
            "<li><b>{what_en} / {what_zh}</b>: <code>{}</code>: {} / {}</li>",
            r.reason, r.message.en, r.message.zh
        );
    }

    let page = out.join("index.html");
    write_file(
        &page,
        page_html(&cards, &failures, &fingerprint).as_bytes(),
        false,
    )?;
    let page_abs = std::fs::canonicalize(&page).unwrap_or(page.clone());
    println!(
        "\n  Open the page / 打开页面:  file://{}",
        page_abs.display()
    );
    println!("\n  Try it yourself / 自己试试:");
    let first_png = out.join("code-1-green.png");
    println!(
        "    healthcode verify --accept-demo --trust {} --trust-pin {fingerprint} {}",
        shell_path(&trust_path),
        shell_path(&first_png)
    );
    println!(
        "    healthcode issue --key {} --colour yellow --name 李四 --id 220104198506120025 --ttl 5m --png yellow.png",
        shell_path(&out.join("keys/issuer.key.json"))
    );
    Ok(ExitCode::SUCCESS)
}

fn request_for(person: &DemoPerson, colour: Colour, now: i64) -> Result<CodeRequest> {
    let identity = person.identity(OffsetDateTime::now_utc().date())?;
    Ok(CodeRequest {
        colour,
        full_name: person.name.into(),
        document_id: identity.number().to_owned(),
        kind: identity.code_kind(),
        ttl_seconds: 300,
        status_as_of: now,
    })
}

/// Changes one character of the body, as a forger editing a code would.
fn forge(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    if let Some(c) = chars.get_mut(40) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

fn shell_path(p: &Path) -> String {
    p.display().to_string()
}

fn css_colour(c: Colour) -> &'static str {
    match c {
        Colour::Pending => "#222",
        Colour::Green => "#1a9641",
        Colour::Yellow => "#e6b800",
        Colour::Orange => "#f07d00",
        Colour::Red => "#d7191c",
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn card(
    out: &mut String,
    kind: CodeKind,
    d: &ColourDecision,
    name: &str,
    id: &str,
    svg: &str,
    r: &VerificationReport,
) {
    let rule = d
        .fired
        .first()
        .map(|f| {
            let evidence: Vec<&str> = f.evidence.iter().map(|e| e.as_str()).collect();
            format!("{} ({})", f.rule_id, evidence.join(", "))
        })
        .unwrap_or_else(|| "—".into());
    let _ = write!(
        out,
        r#"<section class="card" style="--c:{colour}">
<header><span class="dot"></span>{zh} · {en}</header>
<div class="qr">{svg}</div>
<dl><dt>姓名 Name</dt><dd>{name}</dd><dt>证件 ID</dt><dd>{id}</dd><dt>类型 Kind</dt><dd>{kind}</dd>
<dt>核验 Check</dt><dd>{verdict}</dd><dt>规则 Rule</dt><dd><code>{rule}</code></dd></dl>
<p class="why"><b>为什么是这个颜色？</b> {why_zh}<br><b>Why this colour?</b> {why_en}</p>
</section>
"#,
        colour = css_colour(d.colour),
        zh = d.colour.label_zh(),
        en = d.colour.label_en(),
        name = html_escape(name),
        id = html_escape(id),
        kind = if kind == CodeKind::Traveller {
            "外籍人员版 traveller"
        } else {
            "居民 resident"
        },
        verdict = if r.is_valid() {
            "有效 VALID"
        } else {
            "无效 INVALID"
        },
        rule = html_escape(&rule),
        why_zh = html_escape(&d.explanation.zh),
        why_en = html_escape(&d.explanation.en),
    );
}

fn page_html(cards: &str, failures: &str, fingerprint: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>健康码演示 · Health code demo (DEMO)</title>
<style>
body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:0;background:#f4f5f7;color:#222}}
.banner{{background:#b00020;color:#fff;padding:.6em 1em;font-weight:bold;text-align:center}}
main{{max-width:1100px;margin:auto;padding:1em}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:1em}}
.card{{background:#fff;border-radius:12px;border-top:10px solid var(--c);padding:1em;box-shadow:0 1px 4px #0002}}
.card header{{font-size:1.2em;font-weight:bold;color:var(--c)}}
.dot{{display:inline-block;width:.8em;height:.8em;border-radius:50%;background:var(--c);margin-right:.4em}}
.qr svg{{width:100%;max-width:260px;display:block;margin:.5em auto}}
dl{{display:grid;grid-template-columns:auto 1fr;gap:.2em .8em;margin:.5em 0}} dt{{color:#666}}
.why{{font-size:.9em;color:#444}} code{{background:#eee;padding:0 .3em}}
</style></head><body>
<div class="banner">演示 DEMO — 演示密钥签发，并非真实健康码 · Signed with demonstration keys: not a real health code</div>
<main>
<h1>健康码演示 · Health code demo</h1>
<p>每个码都是签名的：任何持有信任列表的卡口都能离线核验，伪造或过期的截图无法通过。<br>
Every code is signed: any checkpoint holding the trust list verifies it offline; forged codes and stale screenshots fail.</p>
<div class="grid">
{cards}</div>
<h2>卡口拒绝的情形 · What a checkpoint refuses</h2>
<ul>{failures}</ul>
<p>信任列表发布者指纹 · Trust list publisher fingerprint: <code>{fingerprint}</code></p>
</main></body></html>
"#
    )
}
