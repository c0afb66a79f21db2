//! Per-call time of a MediaPipe hand model (`weights/hands/*.tflite`) run by `hands::tflite`,
//! for the side-by-side with the TFLite interpreter (docs/bench/hands_tflite.py, docs/hands.md).
//!
//! `cargo run --release --example bench_hands -- MODEL THREADS CALLS [--profile]` prints one
//! JSON line: the model, the threads, and the minimum and median milliseconds of CALLS calls
//! after 5 warm-up calls; with `--profile`, also the fewest milliseconds a call spent in each
//! kind of operator.

use anyhow::Context;
use gesture_app::hands::tflite::TfliteModel;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, threads, calls, profile) = match &args[..] {
        [m, t, c] => (m, t, c, false),
        [m, t, c, p] if p == "--profile" => (m, t, c, true),
        _ => anyhow::bail!("usage: bench_hands MODEL.tflite THREADS CALLS [--profile]"),
    };
    let threads: usize = threads.parse().context("THREADS")?;
    let calls: usize = calls.parse().context("CALLS")?;
    let model = TfliteModel::from_file(model)?;
    let n: usize = model.input_shape().iter().product();
    // Values in [-1, 1] like a normalised image (timing does not depend on them).
    let input: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0)
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let times = pool.install(|| -> anyhow::Result<Vec<f64>> {
        for _ in 0..5 {
            model.run(&input)?;
        }
        let mut times = Vec::with_capacity(calls);
        for _ in 0..calls.max(1) {
            let t = Instant::now();
            std::hint::black_box(model.run(&input)?);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(times)
    })?;
    if profile {
        // The fastest call's time per kind (the machine may be shared: minima are steadier).
        let mut kinds: Vec<(String, f64)> = pool.install(|| -> anyhow::Result<_> {
            let mut best: Vec<(String, f64)> = Vec::new();
            for _ in 0..calls.max(1) {
                for (kind, t) in model.run_profiled(&input)?.1 {
                    let ms = t.as_secs_f64() * 1e3;
                    match best.iter_mut().find(|(k, _)| *k == kind) {
                        Some((_, v)) => *v = v.min(ms),
                        None => best.push((kind, ms)),
                    }
                }
            }
            Ok(best)
        })?;
        kinds.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (kind, ms) in kinds {
            eprintln!("{ms:8.3} ms  {kind}");
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "engine": "gesture-app",
            "model": model.name(),
            "threads": threads,
            "gmacs": model.macs() as f64 * 1e-9,
            "calls": sorted.len(),
            "min_ms": sorted[0],
            "median_ms": sorted[sorted.len() / 2],
        })
    );
    Ok(())
}
