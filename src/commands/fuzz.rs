//! `gesture-app fuzz` (hidden): the long fuzz pass over every parser of untrusted input
//! (`gesture_app::fuzz`), one line per parser with the inputs run, how many were accepted and
//! the slowest; a panic is saved to a file and ends the command with an error.

use anyhow::bail;
use gesture_app::fuzz::{run as fuzz, targets};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `fuzz`.
#[derive(clap::Args, Debug, Clone)]
pub struct FuzzArgs {
    /// Mutated inputs per parser (after its seeds).
    #[arg(long, default_value_t = 1_000_000)]
    pub inputs: u64,
    /// Seed of the mutations (a run is reproducible from it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only the parsers whose name contains this.
    #[arg(long)]
    pub only: Option<String>,
    /// An input running longer than this many seconds is a hang.
    #[arg(long, default_value_t = 10)]
    pub hang_s: u64,
    /// Where a crashing or hanging input is saved.
    #[arg(long, default_value = "fuzz-crash.bin")]
    pub save: PathBuf,
}

/// Runs every parser for `--inputs` inputs.
pub fn run(args: FuzzArgs) -> anyhow::Result<ExitCode> {
    for target in targets() {
        if args
            .only
            .as_ref()
            .is_some_and(|o| !target.name.contains(o.as_str()))
        {
            continue;
        }
        let report = fuzz(
            &target,
            args.inputs,
            args.seed,
            Duration::from_secs(args.hang_s),
            &args.save,
        );
        println!(
            "{}: {} inputs ({} seeds), {} accepted, {} refused with an error, slowest {:.1} ms, \
             {:.0} s",
            report.name,
            report.inputs,
            target.seeds.len(),
            report.accepted,
            report.inputs - report.accepted,
            report.slowest.as_secs_f64() * 1e3,
            report.elapsed.as_secs_f64()
        );
        if let Some((input, msg)) = report.crash {
            std::fs::write(&args.save, &input)?;
            bail!(
                "{}: panicked ({msg}) on a {}-byte input, saved to {}",
                report.name,
                input.len(),
                args.save.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
