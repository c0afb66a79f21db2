//! Timing the model: median (and fastest) wall time of the backbone on one frame, of the head
//! on N features, and of a whole clip, with random weights (speed does not depend on their
//! values). Beside the
//! wall time, the CPU time all threads of the process spent per clip (Unix only): on a machine
//! shared with other work it shows what a change costs even when the wall time is noise.

use crate::model::config::{Arch, Consensus, ModelConfig};
use crate::model::GestureModel;
use crate::Result;
use candle_core::{Device, Tensor};
use std::time::Instant;

/// What to time.
#[derive(Debug, Clone, Copy)]
pub struct BenchCase {
    pub arch: Arch,
    pub consensus: Consensus,
    pub num_segments: usize,
    pub input_size: usize,
}

/// Median milliseconds (and the fastest run, which on a shared machine drifts less than the
/// median from one run of the benchmark to the next).
#[derive(Debug, Clone, Copy)]
pub struct BenchResult {
    /// Backbone + new_fc on one frame.
    pub frame_ms: f64,
    /// The fastest of the frame runs.
    pub frame_best_ms: f64,
    /// Consensus head on `[1, N, D]`.
    pub head_ms: f64,
    /// Mean CPU time of all threads per head call (None where the OS does not tell or the calls
    /// were too short to measure).
    pub head_cpu_ms: Option<f64>,
    /// The whole model on one clip `[1, N, 3, S, S]`.
    pub clip_ms: f64,
    /// The fastest of the clip runs.
    pub clip_best_ms: f64,
    /// Mean CPU time of all threads per clip (None where the OS does not tell or the calls were
    /// too short to measure).
    pub clip_cpu_ms: Option<f64>,
}

/// Wall ms of `f` over the timed runs, and its mean CPU ms (all threads) when measured on the CPU over a span
/// long enough (a quarter second) that the CPU time is not dominated by a stray wake-up.
fn time_ms(
    device: &Device,
    warmup: usize,
    iters: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<(Times, Option<f64>)> {
    const MIN_CPU_SPAN_MS: f64 = 250.0;
    let cpu_before = super::process_cpu_ns();
    let start = Instant::now();
    for _ in 0..warmup {
        f()?;
    }
    device.synchronize()?;
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f()?;
        device.synchronize()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let span_ms = start.elapsed().as_secs_f64() * 1e3;
    times.sort_by(f64::total_cmp);
    let cpu_ms = match (cpu_before, super::process_cpu_ns()) {
        (Some(a), Some(b)) if device.is_cpu() && span_ms >= MIN_CPU_SPAN_MS => {
            Some(b.saturating_sub(a) as f64 / 1e6 / (warmup + iters) as f64)
        }
        _ => None,
    };
    let times = Times {
        median: times[times.len() / 2],
        best: times[0],
    };
    Ok((times, cpu_ms))
}

/// Median and fastest of the timed runs, ms.
#[derive(Debug, Clone, Copy)]
struct Times {
    median: f64,
    best: f64,
}

/// Times `case` on `device`.
pub fn bench_model(
    case: &BenchCase,
    device: &Device,
    warmup: usize,
    iters: usize,
) -> Result<BenchResult> {
    let labels = (0..27).map(|i| format!("class {i}")).collect();
    let mut cfg = ModelConfig::new(case.arch, case.consensus, case.num_segments, labels);
    cfg.input_size = case.input_size;
    cfg.resize_size = case.input_size.max(cfg.resize_size);
    let model = crate::testing::random_model(&cfg, device)?;
    let s = case.input_size;
    let frame = Tensor::randn(0f32, 1., (1, 3, s, s), device)?;
    let clip = Tensor::randn(0f32, 1., (1, case.num_segments, 3, s, s), device)?;
    let feats = Tensor::randn(
        0f32,
        1.,
        (1, case.num_segments, cfg.frame_feature_dim()),
        device,
    )?;
    let (frame, _) = time_ms(device, warmup, iters, || {
        model.frame_features(&frame).map(|_| ())
    })?;
    let (head, head_cpu_ms) = time_ms(device, warmup, iters, || model.head(&feats).map(|_| ()))?;
    let (clip, clip_cpu_ms) = time_ms(device, warmup, iters, || model.forward(&clip).map(|_| ()))?;
    Ok(BenchResult {
        frame_ms: frame.median,
        frame_best_ms: frame.best,
        head_ms: head.median,
        head_cpu_ms,
        clip_ms: clip.median,
        clip_best_ms: clip.best,
        clip_cpu_ms,
    })
}

/// Milliseconds per clip of a loaded model (its own N, input channels and size), as
/// [`bench_model`] times its clips: the median and the fastest of `iters` runs after `warmup`,
/// and the mean CPU time of all threads where measured.
#[derive(Debug, Clone, Copy)]
pub struct ClipTiming {
    pub median_ms: f64,
    pub best_ms: f64,
    pub cpu_ms: Option<f64>,
}

/// Times `model.forward` on one random clip `[1, N, c_in, S, S]`.
pub fn bench_clip(model: &GestureModel, warmup: usize, iters: usize) -> Result<ClipTiming> {
    let cfg = model.config();
    let s = cfg.input_size;
    let device = model.device();
    let clip = Tensor::randn(
        0f32,
        1.,
        (1, cfg.num_segments, cfg.input_channels(), s, s),
        device,
    )?;
    let (t, cpu_ms) = time_ms(device, warmup, iters.max(1), || {
        model.forward(&clip).map(|_| ())
    })?;
    Ok(ClipTiming {
        median_ms: t.median,
        best_ms: t.best,
        cpu_ms,
    })
}
