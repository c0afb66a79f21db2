//! Measuring the live pipeline as a user feels it: a frame folder played through the real
//! capture thread, ring, clip-rate worker and channel; predictions per second (at most the
//! model's clip rate: one per clip-rate sample), backbone passes per prediction (1: each sample
//! computed once), glass-to-label latency (frame capture → prediction sent), and the CPU time
//! the process spent per second of footage (all threads: capture, decoding, the worker; 1.0
//! is one core kept busy). For a landmark model it also counts the palm detector's runs (the
//! tracker detects a hand once, then follows it). `gesture-app bench-pipeline` prints it.

use crate::capture::{SourceOptions, SourceSpec};
use crate::live::{FrameModel, LiveError, Pipeline, PipelineOptions, WorkerMsg, WorkerOptions};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PipelineBench {
    pub seconds: f64,
    /// The model's clip rate: the most predictions a second the worker makes.
    pub clip_fps: f64,
    pub frames_captured: u64,
    pub predictions: u64,
    pub predictions_per_s: f64,
    pub backbone_passes_per_prediction: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_max_ms: f64,
    /// Process CPU seconds (user + system, all threads) per second of footage played while
    /// measuring; `None` where the platform does not say.
    pub cpu_s_per_s: Option<f64>,
    /// Palm detector runs while measuring (landmark models; 0 for image models).
    pub palm_detections: u64,
}

/// CPU time this process has used so far (user + system, all threads).
#[cfg(unix)]
fn process_cpu_time() -> Option<Duration> {
    // SAFETY: getrusage writes into the zeroed struct we own; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return None;
        }
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Some(tv(usage.ru_utime) + tv(usage.ru_stime))
}

#[cfg(not(unix))]
fn process_cpu_time() -> Option<Duration> {
    None
}

/// Plays `source` (looping) at `fps` through a pipeline on `model` and measures for `seconds`
/// after `warmup`.
pub fn measure(
    model: Arc<dyn FrameModel>,
    source: &Path,
    fps: f32,
    warmup: Duration,
    seconds: Duration,
) -> Result<PipelineBench, LiveError> {
    let clip_fps = model.config().clip_fps as f64;
    let options = PipelineOptions {
        source: SourceOptions {
            fps: Some(fps),
            looping: true,
            ..SourceOptions::default()
        },
        worker: WorkerOptions {
            stats_every: Duration::from_millis(250),
            ..WorkerOptions::default()
        },
        max_source_fps: Some(fps.max(30.0)),
    };
    let mut pipeline = Pipeline::start(
        model,
        &SourceSpec::Folder(source.to_path_buf()),
        &options,
        None,
    )?;
    let rx = pipeline.messages().clone();
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + seconds;
    let mut pushed_at_start = None;
    let mut cpu_at_start = None;
    // Palm detections so far: at the first measured prediction, and the latest figure.
    let (mut palms_at_start, mut palms) = (None, 0u64);
    let mut latencies: Vec<f64> = Vec::new();
    let mut passes = 0u64;
    while Instant::now() < end {
        let Ok(msg) = rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        match msg {
            WorkerMsg::Prediction(p) if Instant::now() >= measure_from => {
                pushed_at_start.get_or_insert_with(|| pipeline.ring().pushed());
                cpu_at_start.get_or_insert_with(|| (process_cpu_time(), Instant::now()));
                palms_at_start.get_or_insert(palms);
                latencies.push(p.latency.as_secs_f64() * 1000.0);
                passes += p.backbone_passes as u64;
            }
            WorkerMsg::Stats(s) => palms = s.palm_detections,
            WorkerMsg::Quit(Some(e)) => {
                return Err(LiveError::Stopped(format!("the pipeline stopped: {e}")))
            }
            WorkerMsg::Quit(None) => {
                return Err(LiveError::Stopped(
                    "the source ended during the benchmark".into(),
                ))
            }
            _ => {}
        }
    }
    let frames = pipeline.ring().pushed() - pushed_at_start.unwrap_or(0);
    let cpu_s_per_s = match cpu_at_start {
        Some((Some(cpu0), t0)) => process_cpu_time()
            .map(|cpu| (cpu - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64().max(1e-3)),
        _ => None,
    };
    pipeline.stop();
    if latencies.is_empty() {
        return Err(LiveError::Stopped(format!(
            "no prediction in {seconds:?}: the model is too slow for this benchmark"
        )));
    }
    let n = latencies.len();
    let mean_passes = passes as f64 / n as f64;
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| latencies[((n as f64 - 1.0) * q).round() as usize];
    let secs = seconds.as_secs_f64();
    Ok(PipelineBench {
        seconds: secs,
        clip_fps,
        frames_captured: frames,
        predictions: n as u64,
        predictions_per_s: n as f64 / secs,
        backbone_passes_per_prediction: mean_passes,
        latency_p50_ms: pct(0.5),
        latency_p95_ms: pct(0.95),
        latency_max_ms: latencies[n - 1],
        cpu_s_per_s,
        palm_detections: palms - palms_at_start.unwrap_or(0),
    })
}
