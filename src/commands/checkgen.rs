//! `gesture-app checkgen`: clips from the second, independent generator (`checkgen`), for
//! checking that a recipe learns data it was not tuned on.

use anyhow::{bail, Context};
use gesture_app::checkgen::{self, CheckOptions, Gesture};
use std::path::PathBuf;
use std::process::ExitCode;

/// Generate check clips in Jester's layout with a second renderer, independent of `synth`:
/// other hand shapes, skin tones, textured backgrounds, blur, noise, camera shake and timing.
/// Use them to check a recipe tuned on `synth`'s clips, never to tune it.
#[derive(clap::Args, Debug)]
pub struct CheckgenArgs {
    /// Output folder (category.txt, train/val_videofolder.txt, rgb/ID/00001.jpg...).
    pub out_dir: PathBuf,
    /// Classes to generate, comma-separated Jester labels (default: the same nine as `synth`).
    #[arg(long, value_delimiter = ',', value_name = "LABEL,...")]
    pub classes: Vec<String>,
    /// Clips per class; with the default --val-every 5, 50 gives 40 training and 10
    /// validation clips.
    #[arg(long, default_value_t = 50, value_name = "K")]
    pub clips_per_class: usize,
    /// Seed of every random choice: the same options and seed give the same bytes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frame width in pixels (Jester's frames are about 176×100).
    #[arg(long, default_value_t = 176, value_name = "PX")]
    pub width: u32,
    /// Frame height in pixels.
    #[arg(long, default_value_t = 100, value_name = "PX")]
    pub height: u32,
    /// Clip length in frames: each clip draws its own between MIN and MAX (Jester: ~30–40 at
    /// 12 fps).
    #[arg(long, default_value = "30-40", value_name = "MIN-MAX")]
    pub frames: String,
    /// Every N-th clip of a class goes to the validation list (0: none).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub val_every: usize,
}

fn frame_range(s: &str) -> anyhow::Result<(usize, usize)> {
    let parse = |v: &str| v.trim().parse::<usize>();
    let range = match s.split_once('-') {
        Some((a, b)) => parse(a).and_then(|a| parse(b).map(|b| (a, b))),
        None => parse(s).map(|n| (n, n)),
    };
    range.with_context(|| format!("--frames '{s}': expected MIN-MAX (e.g. 30-40) or one number"))
}

/// Runs `gesture-app checkgen`.
pub fn run(args: CheckgenArgs) -> anyhow::Result<ExitCode> {
    let mut gestures = Vec::new();
    for c in &args.classes {
        match Gesture::from_label(c) {
            Some(g) => gestures.push(g),
            None => bail!(
                "unknown class '{c}'; checkgen can generate: {}",
                Gesture::ALL.map(|g| g.label()).join(", ")
            ),
        }
    }
    if gestures.is_empty() {
        gestures = Gesture::ALL.to_vec();
    }
    let (min_frames, max_frames) = frame_range(&args.frames)?;
    let opts = CheckOptions {
        gestures,
        clips_per_class: args.clips_per_class,
        seed: args.seed,
        width: args.width,
        height: args.height,
        min_frames,
        max_frames,
        val_every: args.val_every,
    };
    let bar = indicatif::ProgressBar::new(0);
    let s = checkgen::generate(&args.out_dir, &opts, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    println!(
        "{}: {} classes, {} training + {} validation clips, {} frames of {}×{} px",
        args.out_dir.display(),
        s.labels.len(),
        s.train_clips,
        s.val_clips,
        s.frames_written,
        args.width,
        args.height
    );
    Ok(ExitCode::SUCCESS)
}
