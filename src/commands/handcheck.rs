//! `gesture-app handcheck`: writes hand-landmark check clips with the second generator.

use anyhow::Context;
use gesture_app::handsynth::JESTER_LABELS;
use std::path::PathBuf;
use std::process::ExitCode;

/// Generate hand-landmark clips of Jester's 27 gestures with the second, independent generator.
#[derive(clap::Args, Debug)]
pub struct HandCheckArgs {
    /// Output folder (category.txt, train/val_videofolder.txt, landmarks/ID.json).
    pub out_dir: PathBuf,
    #[arg(long, default_value_t = 20, value_name = "K")]
    pub clips_per_class: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `gesture-app handcheck`.
pub fn run(args: HandCheckArgs) -> anyhow::Result<ExitCode> {
    let labels: Vec<String> = JESTER_LABELS.iter().map(|s| s.to_string()).collect();
    gesture_app::handcheck::write_dataset(&args.out_dir, &labels, args.clips_per_class, args.seed)
        .with_context(|| format!("writing {}", args.out_dir.display()))?;
    println!(
        "{} clips of {} classes in {}",
        args.clips_per_class * labels.len(),
        labels.len(),
        args.out_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
