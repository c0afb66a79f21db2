//! `gesture-app bench-pipeline`: the live pipeline on a frame folder at 30 fps (by default
//! squeezenet1_1 + TRNmultiscale N=8 with random weights): predictions/s against the model's
//! clip rate, backbone passes per prediction, glass-to-label latency p50/p95 and CPU time per
//! second of footage, as a Markdown table for docs/speed.md. A landmark model (hand_landmarks)
//! runs the hand tracker per prediction; its table also says how often the palm detector ran.

use anyhow::{bail, Context};
use gesture_app::bench::pipeline::measure;
use gesture_app::device::{self, DeviceChoice};
use gesture_app::testing::{random_model, write_generated_frames};
use gesture_app::{Arch, Consensus, ModelConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Flags of the pipeline benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchPipelineArgs {
    /// Weights to run. Without it: random weights for --arch, --consensus, --segments
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
    /// 240×240 JPEG frames in a temporary folder.
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

/// Runs the benchmark and prints its table (or JSON).
pub fn run(args: BenchPipelineArgs) -> anyhow::Result<ExitCode> {
    let (device, device_desc) = device::select(args.device)?;
    let model = match &args.weights {
        Some(w) => gesture_app::weights::load_model(w, &device)
            .with_context(|| format!("cannot use weights {}", w.display()))?,
        None => {
            let labels = (0..27).map(|i| format!("class {i}")).collect();
            let cfg = ModelConfig::new(args.arch, args.consensus, args.segments, labels);
            random_model(&cfg, &device)?
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
        return Ok(ExitCode::SUCCESS);
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
    println!(
        "| predictions/s | {:.1} (clip rate {}) |",
        r.predictions_per_s, r.clip_fps
    );
    println!(
        "| backbone passes per prediction | {:.2} |",
        r.backbone_passes_per_prediction
    );
    println!(
        "| glass-to-label latency p50 / p95 / max | {:.1} / {:.1} / {:.1} ms |",
        r.latency_p50_ms, r.latency_p95_ms, r.latency_max_ms
    );
    match r.cpu_s_per_s {
        Some(c) => println!(
            "| CPU time per second of footage | {:.2} s ({:.0} % of one core) |",
            c,
            c * 100.0
        ),
        None => println!("| CPU time per second of footage | not measured on this platform |"),
    }
    if cfg.arch.reads_landmarks() {
        println!(
            "| palm detector runs (tracker passes: one per prediction) | {} in {} predictions |",
            r.palm_detections, r.predictions
        );
    }
    Ok(ExitCode::SUCCESS)
}
