//! `healthcode bench`: measures, on this machine, what a checkpoint cares
//! about: how long the full string → verdict pipeline takes next to one bare
//! signature check of the same algorithm. The two alternate operation by
//! operation in one process, so machine noise hits both samples alike; the
//! ratio of their medians (and of their 10th percentiles, the undisturbed
//! runs) is stable even where absolute times are not.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use healthcode_codec::qr::QrMatrix;
use healthcode_codec::sample::sample_code;
use healthcode_codec::Algorithm;
use ring::rand::SystemRandom;
use serde_json::json;
use time::OffsetDateTime;

#[derive(Args)]
pub struct BenchArgs {
    /// Rounds of measurement / 轮数
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Operation pairs per round (one bare check, one full verification) / 每轮操作对数
    #[arg(long, default_value_t = 50)]
    iters: usize,
    /// Print JSON / 输出 JSON
    #[arg(long)]
    json: bool,
}

/// The bar: the pipeline may cost at most this many bare verifications.
const RATIO_BAR: f64 = 1.25;

pub fn run(a: BenchArgs) -> Result<ExitCode> {
    if a.rounds == 0 || a.iters == 0 || a.rounds > 100_000 || a.iters > 100_000 {
        bail!("--rounds and --iters must be between 1 and 100000");
    }
    let rng = SystemRandom::new();
    let now = OffsetDateTime::now_utc();
    let mut results = Vec::new();
    for alg in [Algorithm::EdDsa, Algorithm::Es256] {
        let mut sample = sample_code(alg, now, &rng)?;
        let mut verifier = sample.verifier();
        let at = sample.issued_at + 1;
        // One bare check and one full verification alternate, each timed on
        // its own, so bursts of machine noise hit both samples alike.
        let bare_once = || {
            let start = Instant::now();
            let ok = sample.public_key.verify(
                black_box(&sample.signed_bytes),
                black_box(&sample.signature),
            );
            (ok, start.elapsed().as_secs_f64())
        };
        let mut pipeline_once = || {
            let start = Instant::now();
            let ok = verifier.verify(black_box(&sample.code), at).is_ok();
            (ok, start.elapsed().as_secs_f64())
        };
        let total = a.rounds * a.iters;
        let (mut bares, mut pipes) = (Vec::with_capacity(total), Vec::with_capacity(total));
        for i in 0..total + 100 {
            let ((ok_b, b), (ok_p, p)) = if i % 2 == 0 {
                let b = bare_once();
                (b, pipeline_once())
            } else {
                let p = pipeline_once();
                (bare_once(), p)
            };
            if !(ok_b && ok_p) {
                bail!("the sample {alg} code did not verify");
            }
            // The first 100 pairs warm caches and clocks.
            if i >= 100 {
                bares.push(b);
                pipes.push(p);
            }
        }
        let (bare_median, pipe_median) = (median(&mut bares), median(&mut pipes));
        let (bare_p10, pipe_p10) = (percentile(&mut bares, 0.1), percentile(&mut pipes, 0.1));
        let issue_us = median_of(a.rounds.min(101), || {
            let start = Instant::now();
            let _ = sample
                .issuer
                .issue(&sample.request, sample.issued_at, [7; 16], &rng);
            start.elapsed().as_secs_f64()
        }) * 1e6;
        results.push(json!({
            "alg": alg.name(),
            "bare_signature_us": bare_median * 1e6,
            "pipeline_us": pipe_median * 1e6,
            "ratio_median": pipe_median / bare_median,
            "ratio_p10": pipe_p10 / bare_p10,
            "issue_us": issue_us,
        }));
    }
    let sample = sample_code(Algorithm::EdDsa, now, &rng)?;
    let qr_render_us = median_of(51, || {
        let start = Instant::now();
        let _ = QrMatrix::encode(&sample.code).and_then(|m| m.to_png(8, false));
        start.elapsed().as_secs_f64()
    }) * 1e6;
    let report = json!({
        "rounds": a.rounds,
        "iters_per_round": a.iters,
        "ratio_bar": RATIO_BAR,
        "algorithms": results,
        "qr_encode_and_png_us": qr_render_us,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "healthcode bench: {} rounds × {} operations, medians / 中位数",
            a.rounds, a.iters
        );
        println!(
            "  {:<6} {:>12} {:>12} {:>8} {:>10} {:>10}",
            "alg", "bare sig µs", "pipeline µs", "ratio", "ratio p10", "issue µs"
        );
        for r in &results {
            println!(
                "  {:<6} {:>12.1} {:>12.1} {:>7.3}× {:>9.3}× {:>10.1}",
                r["alg"].as_str().unwrap_or(""),
                r["bare_signature_us"].as_f64().unwrap_or(0.0),
                r["pipeline_us"].as_f64().unwrap_or(0.0),
                r["ratio_median"].as_f64().unwrap_or(0.0),
                r["ratio_p10"].as_f64().unwrap_or(0.0),
                r["issue_us"].as_f64().unwrap_or(0.0),
            );
        }
        println!("  QR encode + PNG render: {qr_render_us:.0} µs");
        println!("  bar: pipeline ≤ {RATIO_BAR}× one bare signature verification / 目标：完整核验 ≤ {RATIO_BAR} 倍签名验证");
    }
    Ok(ExitCode::SUCCESS)
}

fn median_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
    let mut xs: Vec<f64> = (0..n).map(|_| f()).collect();
    median(&mut xs)
}

fn median(xs: &mut [f64]) -> f64 {
    percentile(xs, 0.5)
}

fn percentile(xs: &mut [f64], q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len() as f64 - 1.0) * q).round() as usize;
    xs.get(i).copied().unwrap_or(f64::NAN)
}
