//! `gesture-app classify`: run a model on clip folders or video files and print the top-5
//! gestures per clip, or one JSON line per clip with `--json`. A video file is resampled to the
//! model's clip rate by its timestamps (the frame nearest each clip-rate instant), as `train`
//! resamples recorded clips and the live worker a camera, then sampled like a clip folder.
//! A landmark model (`hand_landmarks`) also takes landmark clip files (`ID.json`); on frames it
//! runs the hand tracker over every clip-rate frame in order, tracking the hand as the live
//! worker does, and reads the sampled frames' hands.

use anyhow::Context;
use candle_core::{Tensor, D};
use clap::Args;
use gesture_app::capture::video::{self, VideoOptions};
use gesture_app::device::{self, DeviceChoice};
use gesture_app::hands::shipped::{normalised, tracker_for};
use gesture_app::hands::tracker::HandOptions;
use gesture_app::live::rate::nearest;
use gesture_app::model::backbone::hand_landmarks::{INPUT_LEN, INPUT_ROWS};
use gesture_app::model::config::ModelConfig;
use gesture_app::preprocess::{
    frames_to_tensor, load_clip, sample_eval_indices, segment_frames, segment_starts_len,
};
use gesture_app::preprocess::{list_clip_frames, load_frame};
use gesture_app::train::data::landmarks::{pack_frames, read_clip, LandmarkClip};
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Weights file (.safetensors made by `convert` or `train`)
    #[arg(long, short)]
    pub weights: PathBuf,
    /// One line of JSON per clip: {"clip", "top": [{"label", "index", "prob"}], "logits"}
    #[arg(long)]
    pub json: bool,
    /// Where to run: auto (CUDA if built with it and a GPU is present, else CPU), cpu, cuda
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// How many classes to list per clip
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Clip folders holding numbered frames (00001.jpg, 00002.jpg, ... or .png), or video files
    /// (any FFmpeg plays); for a landmark model (hand_landmarks) also landmark clip files
    /// (ID.json, docs/ARCHITECTURE.md §7)
    #[arg(required = true, value_name = "CLIP")]
    pub clips: Vec<PathBuf>,
}

/// One class of a clip's ranking.
#[derive(Debug, serde::Serialize)]
pub struct Ranked {
    pub label: String,
    pub index: usize,
    pub prob: f32,
}

/// Softmax of `logits` `[C]` and the `k` best classes.
pub fn rank(logits: &Tensor, labels: &[String], k: usize) -> anyhow::Result<Vec<Ranked>> {
    let probs = candle_nn::ops::softmax(logits, D::Minus1)?.to_vec1::<f32>()?;
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    Ok(order
        .into_iter()
        .take(k)
        .map(|i| Ranked {
            label: labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("class {i}")),
            index: i,
            prob: probs[i],
        })
        .collect())
}

/// A video file's frames at the model's clip rate (the frame nearest each clip-rate instant).
fn video_at_clip_rate(path: &Path, cfg: &ModelConfig) -> anyhow::Result<Vec<image::RgbImage>> {
    let (frames, undecodable) = video::read_all(path, &VideoOptions::default())?;
    if undecodable > 0 {
        eprintln!(
            "{}: {undecodable} undecodable frame(s) skipped",
            path.display()
        );
    }
    let secs: Vec<f64> = frames.iter().map(|f| f.0).collect();
    let fps = cfg.clip_fps as f64;
    let last = secs.last().copied().unwrap_or(0.0);
    // Clip-rate instants up to the last frame (half a step of slack for rounded timestamps).
    let grid: Vec<usize> = (0..=((last * fps + 0.5).floor() as usize))
        .map(|k| nearest(&secs, k as f64 / fps))
        .collect();
    if grid.len() < cfg.num_segments {
        anyhow::bail!(
            "{}: {:.2} s of video gives {} frame(s) at the model's {} fps, and it samples {} \
             segments",
            path.display(),
            last,
            grid.len(),
            cfg.clip_fps,
            cfg.num_segments
        );
    }
    Ok(grid.into_iter().map(|i| frames[i].1.clone()).collect())
}

/// A video file as the model's input `[N, c_in, S, S]`: resampled to the clip rate, then the
/// TSN evaluation frames.
fn load_video(path: &Path, cfg: &ModelConfig, dev: &candle_core::Device) -> anyhow::Result<Tensor> {
    let frames = video_at_clip_rate(path, cfg)?;
    let per = cfg.frames_per_segment();
    let starts = sample_eval_indices(segment_starts_len(frames.len(), per), cfg.num_segments);
    let picked: Vec<image::RgbImage> = segment_frames(&starts, per, frames.len())
        .into_iter()
        .map(|i| frames[i].clone())
        .collect();
    Ok(frames_to_tensor(&picked, cfg, dev)?)
}

/// A clip as a landmark model's input `[N, 22, 3]`: a landmark clip file as it is, or a video
/// file or clip folder through the hand tracker (every frame, in order, one hand tracked).
fn load_landmarks(
    path: &Path,
    cfg: &ModelConfig,
    dev: &candle_core::Device,
) -> anyhow::Result<Tensor> {
    let clip = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        read_clip(path)?
    } else {
        let frames = if path.is_file() {
            video_at_clip_rate(path, cfg)?
        } else {
            list_clip_frames(path)?
                .iter()
                .map(|f| load_frame(f))
                .collect::<Result<Vec<_>, _>>()?
        };
        let Some(first) = frames.first() else {
            anyhow::bail!("{}: no frames", path.display());
        };
        let (width, height) = first.dimensions();
        let options = HandOptions {
            max_hands: 1,
            ..HandOptions::video()
        };
        let mut tracker = tracker_for(&cfg.hand_models, options)
            .context("loading the hand models the weights name")?;
        let mut tracked = Vec::with_capacity(frames.len());
        for (i, frame) in frames.iter().enumerate() {
            let hands = tracker
                .process(frame)
                .with_context(|| format!("{}: frame {}: hand tracker", path.display(), i + 1))?;
            let (w, h) = frame.dimensions();
            tracked.push(hands.first().map(|hand| normalised(hand, w, h)));
        }
        LandmarkClip {
            width,
            height,
            fps: Some(cfg.clip_fps),
            frames: tracked,
        }
    };
    if clip.frames.is_empty() {
        anyhow::bail!("{}: no frames", path.display());
    }
    let n = cfg.num_segments;
    let picked = sample_eval_indices(clip.frames.len(), n);
    let mut data = vec![0f32; n * INPUT_LEN];
    pack_frames(&clip, &picked, false, &mut data);
    Ok(Tensor::from_vec(data, (n, INPUT_ROWS, 3), dev)?)
}

pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let (dev, why) = device::select(args.device)?;
    if !args.json {
        eprintln!("device: {why}");
    }
    let model = gesture_app::weights::load_model(&args.weights, &dev)?;
    let cfg = model.config().clone();
    for clip in &args.clips {
        let frames = if cfg.arch.reads_landmarks() {
            load_landmarks(clip, &cfg, &dev)? // [N, 22, 3]
        } else if clip.is_file() {
            load_video(clip, &cfg, &dev)?
        } else {
            load_clip(clip, &cfg, &dev)?
        }; // [N, c_in, S, S]
        let logits = model.forward(&frames.unsqueeze(0)?)?.squeeze(0)?; // [C]
        let logits = logits.to_device(&candle_core::Device::Cpu)?;
        let top = rank(&logits, &cfg.labels, args.top.max(1))?;
        if args.json {
            let line = serde_json::json!({
                "clip": clip.display().to_string(),
                "top": top,
                "logits": logits.to_vec1::<f32>()?,
            });
            println!("{line}");
        } else {
            println!("{}", clip.display());
            for (i, r) in top.iter().enumerate() {
                println!("  {}. {:<40} {:6.2}%", i + 1, r.label, 100.0 * r.prob);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
