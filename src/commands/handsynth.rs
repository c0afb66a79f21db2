//! `gesture-app handsynth`: writes a data set of generated hand-landmark clips (what a hand
//! tracker reports, not frames) in Jester's index layout.

use anyhow::{bail, Context};
use gesture_app::handsynth::{self, HandSynthOptions, JESTER_LABELS};
use std::path::PathBuf;
use std::process::ExitCode;

/// Generate hand-landmark clips of Jester's 27 gestures (a kinematic hand through a camera,
/// with a hand tracker's noise).
#[derive(clap::Args, Debug)]
pub struct HandSynthArgs {
    /// Output folder (category.txt, train/val_videofolder.txt, landmarks/ID.json).
    pub out_dir: PathBuf,
    /// Classes to generate, comma-separated Jester labels (default: all 27).
    #[arg(long, value_delimiter = ',', value_name = "LABEL,...")]
    pub classes: Vec<String>,
    #[arg(long, default_value_t = 40, value_name = "K")]
    pub clips_per_class: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Every N-th clip of a class goes to the validation list (0: none).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub val_every: usize,
}

/// Runs `gesture-app handsynth`.
pub fn run(args: HandSynthArgs) -> anyhow::Result<ExitCode> {
    let mut opts = HandSynthOptions::jester(args.clips_per_class, args.seed);
    opts.val_every = args.val_every;
    if !args.classes.is_empty() {
        opts.labels.clear();
        for c in &args.classes {
            match JESTER_LABELS
                .iter()
                .find(|l| l.eq_ignore_ascii_case(c.trim()))
            {
                Some(l) => opts.labels.push(l.to_string()),
                None => bail!("--classes: '{c}' is not one of Jester's 27 labels"),
            }
        }
    }
    let w = handsynth::write_dataset(&args.out_dir, &opts)
        .with_context(|| format!("writing {}", args.out_dir.display()))?;
    println!(
        "{} training and {} validation clips of {} classes in {}",
        w.train,
        w.val,
        opts.labels.len(),
        args.out_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
