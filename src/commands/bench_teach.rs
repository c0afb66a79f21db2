//! `gesture-app bench-teach`: the teaching check of a landmark model (issue 22).

use anyhow::bail;
use gesture_app::bench::teach::{self as bench, TeachCheckOptions};
use gesture_app::handcheck::EXTRA_LABELS;
use std::path::PathBuf;
use std::process::ExitCode;

/// Teach a landmark model gestures it does not know from a few clips of the second hand
/// generator (head fine-tuning, frozen backbone), then measure top-1 on held-out clips.
#[derive(clap::Args, Debug)]
pub struct BenchTeachArgs {
    /// The landmark model to teach (hand_landmarks).
    #[arg(long, value_name = "FILE")]
    pub base: PathBuf,
    /// Gestures to teach, comma-separated, from: Drawing a Circle, Double Pinch, Beckoning,
    /// OK Sign, Writing a Z [default: the first four].
    #[arg(long, value_delimiter = ',', value_name = "LABEL,...")]
    pub classes: Vec<String>,
    /// Clips per gesture to teach from.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub clips: usize,
    /// Held-out clips in all, dealt round the gestures.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub test_clips: usize,
    /// Epochs of head training.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub epochs: usize,
    /// Seed of the teaching clips (the held-out clips use the next one).
    #[arg(long, default_value_t = 11)]
    pub seed: u64,
    /// Keep the data set and the run folder here (must not hold a run).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `gesture-app bench-teach`.
pub fn run(a: BenchTeachArgs) -> anyhow::Result<ExitCode> {
    let mut o = TeachCheckOptions::new(a.base);
    if !a.classes.is_empty() {
        o.labels.clear();
        for c in &a.classes {
            match EXTRA_LABELS
                .iter()
                .find(|l| l.eq_ignore_ascii_case(c.trim()))
            {
                Some(l) => o.labels.push(l.to_string()),
                None => bail!("--classes: '{c}' is not one of {}", EXTRA_LABELS.join(", ")),
            }
        }
    }
    if a.clips == 0 || a.test_clips == 0 || a.epochs == 0 {
        bail!("--clips, --test-clips and --epochs must be at least 1");
    }
    o.train_per_class = a.clips;
    o.test_clips = a.test_clips;
    o.train_seed = a.seed;
    o.test_seed = a.seed + 1;
    o.options.epochs = a.epochs;
    let r = bench::run(&o, a.keep.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "taught {} gestures from {} clips: {:.1} s to the model ({:.1} s base + features, {:.1} s \
         training, {} epochs; {:.1} s CPU, {} compute threads)",
        r.per_class.len(),
        r.train_clips,
        r.total_s,
        r.setup_s,
        r.train_s,
        r.epochs,
        r.cpu_s,
        r.threads
    );
    println!("held-out top-1: {:.1}% of {} clips", r.top1, r.test_clips);
    for c in &r.per_class {
        println!(
            "  {:<18} {:>5} of {} clips",
            c.label,
            c.recall.map_or("-".into(), |v| format!("{v:.0}%")),
            c.clips
        );
    }
    Ok(ExitCode::SUCCESS)
}
