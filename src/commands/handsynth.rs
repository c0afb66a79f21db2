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
    /// After the clips: cut more from N generated sessions of one person performing several
    /// gestures in a row: whole gestures with the motion around them, a gesture's end with the
    /// way back, and the motion between gestures as "No gesture" or "Doing other things" (what
    /// the live app sees between gestures and single clips never show).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sessions: usize,
    /// Instead of clips: one continuous session of one person performing these Jester classes
    /// in order (comma-separated), the hand moving on its own between them, written as
    /// OUT_DIR/session.json with OUT_DIR/script.txt (one `FIRST LAST LABEL` line per class),
    /// for `bench-events --source OUT_DIR/session.json`.
    #[arg(long, value_name = "CLASSES", value_delimiter = ',')]
    pub session: Option<Vec<String>>,
}

/// `name` as Jester spells it, or an error naming `flag`.
fn jester_label(flag: &str, name: &str) -> anyhow::Result<String> {
    match JESTER_LABELS
        .iter()
        .find(|l| l.eq_ignore_ascii_case(name.trim()))
    {
        Some(l) => Ok(l.to_string()),
        None => bail!("{flag}: '{name}' is not one of Jester's 27 labels"),
    }
}

/// Runs `gesture-app handsynth`.
pub fn run(args: HandSynthArgs) -> anyhow::Result<ExitCode> {
    if let Some(session) = &args.session {
        let labels = session
            .iter()
            .map(|c| jester_label("--session", c))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let s = handsynth::session::write_session(&args.out_dir, &labels, args.seed)
            .with_context(|| format!("writing {}", args.out_dir.display()))?;
        println!(
            "a session of {} classes, {} frames, in {}",
            labels.len(),
            s.clip.frames.len(),
            args.out_dir.join("session.json").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut opts = HandSynthOptions::jester(args.clips_per_class, args.seed);
    opts.val_every = args.val_every;
    opts.sessions = args.sessions;
    if !args.classes.is_empty() {
        opts.labels.clear();
        for c in &args.classes {
            opts.labels.push(jester_label("--classes", c)?);
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
