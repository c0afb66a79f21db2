//! The live pipeline benchmark (`gesture-app bench-pipeline`): a frame folder played at 30 fps
//! through the real capture thread, ring, cached-feature worker and channel, measuring what a
//! user feels — predictions per second, backbone passes per prediction (≈ 1 thanks to the
//! feature cache) and glass-to-label latency (frame capture → prediction sent), p50 / p95.

use crate::capture::synthetic::SyntheticSource;
use crate::capture::{FrameSource, SourceOptions, SourceSpec};
use crate::device::{self, DeviceChoice};
use crate::live::{FrameModel, Pipeline, PipelineOptions, WorkerMsg, WorkerOptions};
use crate::model::config::{Arch, Consensus, ModelConfig};
use crate::model::tsn::BuildOptions;
use crate::weights::spec::expected_tensors;
use crate::GestureModel;
use anyhow::{bail, Context};
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flags of the pipeline benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchPipelineArgs {
    /// Weights to run. Without it: seeded random weights for --arch, --consensus, --segments
    /// (speed does not depend on the values).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    #[arg(long, default_value = "squeezenet1_1")]
    pub arch: Arch,
    #[arg(long, default_value = "TRNmultiscale")]
    pub consensus: Consensus,
    #[arg(long, default_value_t = 8)]
    pub segments: usize,
    /// Frame folder (or folder of clip folders) to play, looping. Without it: 64 generated
    /// 320×240 JPEG frames in a temporary folder.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Playback rate.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f32,
    /// Measured seconds.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f32,
    /// Seconds run before measuring (window fill, allocator warm-up).
    #[arg(long, default_value_t = 3.0)]
    pub warmup: f32,
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PipelineBench {
    pub seconds: f64,
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
) -> anyhow::Result<PipelineBench> {
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
            WorkerMsg::Quit(Some(e)) => bail!("the pipeline stopped: {e}"),
            WorkerMsg::Quit(None) => bail!("the source ended during the benchmark"),
            _ => {}
        }
    }
    let frames = pipeline.ring().pushed() - pushed_at_start.unwrap_or(0);
    pipeline.stop();
    if latencies.is_empty() {
        bail!("no prediction in {seconds:?}: the model is too slow for this benchmark");
    }
    let n = latencies.len();
    let mean_passes = passes as f64 / n as f64;
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| latencies[((n as f64 - 1.0) * q).round() as usize];
    let secs = seconds.as_secs_f64();
    Ok(PipelineBench {
        seconds: secs,
        frames_captured: frames,
        predictions: n as u64,
        predictions_per_s: n as f64 / secs,
        backbone_passes_per_prediction: mean_passes,
        latency_p50_ms: pct(0.5),
        latency_p95_ms: pct(0.95),
        latency_max_ms: latencies[n - 1],
    })
}

/// Seeded random weights for the inference model of `cfg` (uniform, He-scaled; biases zero),
/// for speed measurements and tests where no trained weights are needed.
pub fn random_tensors(cfg: &ModelConfig, seed: u64) -> crate::Result<HashMap<String, Tensor>> {
    let shapes = expected_tensors(cfg, BuildOptions::inference())?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tensors = HashMap::new();
    for (name, shape) in shapes {
        let count: usize = shape.iter().product();
        let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
        // Uniform on ±√(6 / fan_in) has the He standard deviation √(2 / fan_in).
        let bound = (6.0 / fan_in as f32).sqrt();
        let data: Vec<f32> = if shape.len() > 1 {
            (0..count)
                .map(|_| rng.random_range(-bound..bound))
                .collect()
        } else {
            vec![0.0; count]
        };
        tensors.insert(name, Tensor::from_vec(data, shape, &Device::Cpu)?);
    }
    Ok(tensors)
}

/// [`random_tensors`] loaded as a model on `device`.
pub fn random_model(cfg: &ModelConfig, device: &Device, seed: u64) -> crate::Result<GestureModel> {
    GestureModel::from_tensors(cfg.clone(), random_tensors(cfg, seed)?, device)
}

/// Writes `count` generated 320×240 frames as JPEGs into `dir`.
pub fn write_generated_frames(dir: &Path, count: usize) -> anyhow::Result<()> {
    let mut src = SyntheticSource::new(30.0, 1);
    for i in 1..=count {
        let Some(frame) = src.next_frame()? else {
            break;
        };
        let path = dir.join(format!("{i:05}.jpg"));
        frame
            .image
            .save(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Runs the benchmark and prints its table (or JSON).
pub fn run(args: &BenchPipelineArgs) -> anyhow::Result<()> {
    let (device, device_desc) = device::select(args.device)?;
    let model = match &args.weights {
        Some(w) => GestureModel::load(w, &device)
            .with_context(|| format!("cannot use weights {}", w.display()))?,
        None => {
            let labels = (0..27).map(|i| format!("class {i}")).collect();
            let cfg = ModelConfig::new(args.arch, args.consensus, args.segments, labels);
            random_model(&cfg, &device, 0)?
        }
    };
    let cfg = model.config().clone();
    let tmp;
    let source = match &args.source {
        Some(s) => s.clone(),
        None => {
            tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
            write_generated_frames(tmp.path(), 64)?;
            tmp.path().to_path_buf()
        }
    };
    if !(args.seconds > 0.0 && args.warmup >= 0.0) {
        bail!("--seconds must be positive and --warmup not negative");
    }
    let threads = rayon::current_num_threads();
    let r = measure(
        Arc::new(model),
        &source,
        args.fps,
        Duration::from_secs_f32(args.warmup),
        Duration::from_secs_f32(args.seconds),
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!(
        "live pipeline: {} + {} N={} ({}×{} input, window resampled to {} fps) on {device_desc}, {threads} threads",
        cfg.arch, cfg.consensus, cfg.num_segments, cfg.input_size, cfg.input_size, cfg.clip_fps
    );
    println!(
        "source: {} at {} fps, looping; {:.0} s measured after {:.0} s warm-up",
        source.display(),
        args.fps,
        r.seconds,
        args.warmup
    );
    println!("| metric | value |");
    println!("|---|---|");
    println!(
        "| frames captured | {} ({:.1} fps) |",
        r.frames_captured,
        r.frames_captured as f64 / r.seconds
    );
    println!("| predictions/s | {:.1} |", r.predictions_per_s);
    println!(
        "| backbone passes per prediction | {:.2} |",
        r.backbone_passes_per_prediction
    );
    println!(
        "| glass-to-label latency p50 / p95 / max | {:.1} / {:.1} / {:.1} ms |",
        r.latency_p50_ms, r.latency_p95_ms, r.latency_max_ms
    );
    Ok(())
}
