//! Measuring the live pipeline as a user feels it: a frame folder played through the real
//! capture thread, ring, clip-rate worker and channel; predictions per second (at most the
//! model's clip rate: one per clip-rate sample), backbone passes per prediction (1: each sample
//! computed once) and glass-to-label latency (frame capture → prediction sent).
//! `gesture-app bench-pipeline` prints it.

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
        worker: WorkerOptions::default(),
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
    let mut latencies: Vec<f64> = Vec::new();
    let mut passes = 0u64;
    while Instant::now() < end {
        let Ok(msg) = rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        match msg {
            WorkerMsg::Prediction(p) if Instant::now() >= measure_from => {
                pushed_at_start.get_or_insert_with(|| pipeline.ring().pushed());
                latencies.push(p.latency.as_secs_f64() * 1000.0);
                passes += p.backbone_passes as u64;
            }
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
    })
}
