//! `gesture-app synth`: writes generated clips in Jester's layout.

use anyhow::bail;
use gesture_app::synth::{self, Motion, SynthOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Generate Jester-layout clips of a drawn hand performing Jester gestures.
#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Output folder (category.txt, train/val_videofolder.txt, rgb/ID/00001.jpg...).
    pub out_dir: PathBuf,
    /// Classes to generate, comma-separated Jester labels (default: all nine: Swiping
    /// Left/Right/Up/Down, Zooming In/Out With Full Hand, Turning Hand Clockwise/Counterclockwise,
    /// No gesture).
    #[arg(long, value_delimiter = ',', value_name = "LABEL,...")]
    pub classes: Vec<String>,
    #[arg(long, default_value_t = 40, value_name = "K")]
    pub clips_per_class: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frame width in pixels; also the height unless --height is given.
    #[arg(long, default_value_t = 128, value_name = "PX")]
    pub size: u32,
    /// Frame height in pixels, for frames that are not square (Jester's are 176×100:
    /// `--size 176 --height 100`). Not with --session.
    #[arg(long, value_name = "PX", conflicts_with = "session")]
    pub height: Option<u32>,
    /// Frames per clip (Jester clips are ~36 frames at 12 fps); with --max-frames, the
    /// shortest clip.
    #[arg(long, default_value_t = 24, value_name = "F")]
    pub frames: usize,
    /// Clip lengths vary: each clip has between --frames and this many frames (Jester: 30–40
    /// at 12 fps). Not with --session.
    #[arg(long, value_name = "F", conflicts_with = "session")]
    pub max_frames: Option<usize>,
    /// The hard look, for tuning a training recipe on data unlike the default clips: no
    /// motion trail and no hand leaning into a swipe (the cues the default look draws so that
    /// one frame shows the motion), saturated, textured, noisy backgrounds, hands of varied
    /// shape, size and skin tone with less contrast, more varied places and speeds. Not with
    /// --session.
    #[arg(long, conflicts_with = "session")]
    pub hard: bool,
    /// With --hard: what a recording adds. The hand anywhere in the frame (partly outside it
    /// too) and swaying, a camera that shakes in most clips, and a movement that takes 30-75 %
    /// of the clip at any point of it.
    #[arg(long, requires = "hard")]
    pub recording: bool,
    /// Every N-th clip of a class goes to the validation list (0: none).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub val_every: usize,
    /// JPEG quality.
    #[arg(long, default_value_t = 90)]
    pub quality: u8,
    /// Fraction of "No gesture" clips that show the cut-off start or end of another gesture
    /// (the hand just coming in or leaving), as a live window sees between gestures. Teaches a
    /// live model to wait until a gesture fills its window.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub partial_no_gesture: f32,
    /// Write one continuous recording instead of a data set: the classes in the order given,
    /// one after another in a single scene, the hand leaving the picture between them. OUT_DIR
    /// becomes one clip folder (00001.jpg...) with script.txt (FIRST LAST LABEL per gesture);
    /// play it with `--source OUT_DIR`.
    #[arg(long)]
    pub session: bool,
    /// With --session: frames without a hand between two gestures.
    #[arg(long, default_value_t = 12, value_name = "F", requires = "session")]
    pub gap: usize,
}

/// Runs `gesture-app synth`.
pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let motions = if args.classes.is_empty() {
        Motion::ALL.to_vec()
    } else {
        let mut v = Vec::new();
        for c in &args.classes {
            match Motion::from_label(c) {
                Some(m) => v.push(m),
                None => bail!(
                    "unknown class '{c}'; synth can generate: {}",
                    Motion::ALL.map(|m| m.label()).join(", ")
                ),
            }
        }
        v
    };
    let opts = SynthOptions {
        motions,
        clips_per_class: args.clips_per_class,
        seed: args.seed,
        size: args.size,
        height: args.height,
        frames: args.frames,
        max_frames: args.max_frames,
        hard: args.hard,
        recording: args.recording,
        val_every: args.val_every,
        jpeg_quality: args.quality.clamp(1, 100),
        partial_no_gesture: args.partial_no_gesture.clamp(0.0, 1.0),
    };
    if args.session {
        let parts = synth::write_session(&args.out_dir, &opts.motions, &opts, args.gap)?;
        let frames = parts.last().map_or(0, |p| p.end);
        println!(
            "{}: one recording of {} gestures, {frames} frames of {}px (script.txt lists them)",
            args.out_dir.display(),
            parts.len(),
            args.size
        );
        return Ok(ExitCode::SUCCESS);
    }
    let bar = indicatif::ProgressBar::new(0);
    let s = synth::generate(&args.out_dir, &opts, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    println!(
        "{}: {} classes, {} training + {} validation clips, {} frames of {}×{}px{}",
        args.out_dir.display(),
        s.labels.len(),
        s.train_clips,
        s.val_clips,
        s.frames_written,
        args.size,
        args.height.unwrap_or(args.size),
        match (args.hard, args.recording) {
            (true, true) => " (hard look, recording)",
            (true, false) => " (hard look)",
            _ => "",
        }
    );
    Ok(ExitCode::SUCCESS)
}
