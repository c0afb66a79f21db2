//! `gesture-app handcheck`: writes hand-landmark check clips with the second generator.

use anyhow::{bail, Context};
use gesture_app::handcheck::EXTRA_LABELS;
use gesture_app::handsynth::JESTER_LABELS;
use std::path::PathBuf;
use std::process::ExitCode;

/// Generate hand-landmark clips of Jester's 27 gestures (and a few others, for the teaching
/// check) with the second, independent generator.
#[derive(clap::Args, Debug)]
pub struct HandCheckArgs {
    /// Output folder (category.txt, train/val_videofolder.txt, landmarks/ID.json).
    pub out_dir: PathBuf,
    /// Classes to generate, comma-separated: Jester labels or the gestures outside Jester's 27
    /// ("Drawing a Circle", "Double Pinch", "Beckoning", "OK Sign", "Writing a Z") [default:
    /// Jester's 27].
    #[arg(long, value_delimiter = ',', value_name = "LABEL,...")]
    pub classes: Vec<String>,
    #[arg(long, default_value_t = 20, value_name = "K")]
    pub clips_per_class: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Instead of clips: one continuous session of one person performing these classes in
    /// order (comma-separated), written as OUT_DIR/session.json with OUT_DIR/script.txt (one
    /// `FIRST LAST LABEL` line per gesture), for `bench-events --source OUT_DIR/session.json`.
    #[arg(long, value_name = "CLASSES", value_delimiter = ',')]
    pub session: Option<Vec<String>>,
    /// With --session: frames of the hand moving on its own between two classes (12 fps).
    #[arg(long, default_value_t = 12, value_name = "FRAMES")]
    pub gap: usize,
}

/// Runs `gesture-app handcheck`.
pub fn run(args: HandCheckArgs) -> anyhow::Result<ExitCode> {
    if let Some(session) = &args.session {
        let known: Vec<String> = JESTER_LABELS
            .iter()
            .chain(EXTRA_LABELS.iter())
            .map(|s| s.to_string())
            .collect();
        let session: Vec<String> = session.iter().map(|s| s.trim().to_string()).collect();
        if let Some(bad) = session.iter().find(|s| !known.contains(s)) {
            bail!(
                "--session: unknown class '{bad}' (the classes are Jester's 27 and {})",
                EXTRA_LABELS.join(", ")
            );
        }
        gesture_app::handcheck::session::write_session(
            &args.out_dir,
            &session,
            args.gap,
            args.seed,
        )
        .with_context(|| format!("writing {}", args.out_dir.display()))?;
        println!(
            "a session of {} classes in {}",
            session.len(),
            args.out_dir.join("session.json").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut labels: Vec<String> = Vec::new();
    for c in &args.classes {
        match JESTER_LABELS
            .iter()
            .chain(EXTRA_LABELS.iter())
            .find(|l| l.eq_ignore_ascii_case(c.trim()))
        {
            Some(l) => labels.push(l.to_string()),
            None => bail!(
                "--classes: '{c}' is neither one of Jester's 27 labels nor one of {}",
                EXTRA_LABELS.join(", ")
            ),
        }
    }
    if labels.is_empty() {
        labels = JESTER_LABELS.iter().map(|s| s.to_string()).collect();
    }
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
