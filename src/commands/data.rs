//! `gesture-app data check`: audits a data set (missing folders, frame counts, unreadable
//! frames) before training on it; `data extract` ([`super::extract`]) turns videos into one.

use super::dataset_args::DataSetArgs;
use gesture_app::train::data::check::check_dataset;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Data set tools.
#[derive(clap::Args, Debug)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
}

/// What to do with a data set.
#[derive(clap::Subcommand, Debug)]
pub enum DataCommand {
    /// Report missing clip folders, frame-count mismatches and unreadable frames.
    Check(CheckArgs),
    /// Extract video files (Something-Something v2's .webm...) to frame folders, in parallel
    /// and resumable, with the label and list files beside them for `train`.
    Extract(super::extract::ExtractArgs),
}

/// `data check` flags.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub data: DataSetArgs,
    /// Index file (TRN `ID NUM_FRAMES LABEL` or the release CSV `ID;Label`).
    #[arg(long, value_name = "FILE")]
    pub list: PathBuf,
    /// Check folders and counts only; do not decode frames.
    #[arg(long)]
    pub no_decode: bool,
    /// One JSON report on stdout.
    #[arg(long)]
    pub json: bool,
    /// Problems listed in the text report (all of them are in the JSON).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub max_listed: usize,
}

/// Runs `gesture-app data ...`.
pub fn run(args: DataArgs) -> anyhow::Result<ExitCode> {
    let a = match args.command {
        DataCommand::Check(a) => a,
        DataCommand::Extract(a) => return super::extract::run(a),
    };
    let ds = a.data.spec().open(&a.list)?;
    let bar = (!a.json && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(ds.len() as u64));
    let report = check_dataset(&ds, !a.no_decode, &|done| {
        if let Some(b) = &bar {
            b.set_position(done as u64)
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{}: {} clips, {} classes, frames in {} (named like {})",
            ds.list.path.display(),
            report.clips,
            ds.labels.len(),
            ds.frames_dir.display(),
            ds.naming.file_name(0)
        );
        for p in report.problems.iter().take(a.max_listed) {
            println!(
                "{}:{}: clip {}: {}",
                ds.list.path.display(),
                p.line,
                p.id,
                p.detail
            );
        }
        if report.problems.len() > a.max_listed {
            println!(
                "... and {} more problems",
                report.problems.len() - a.max_listed
            );
        }
        let decoded = if a.no_decode {
            "frames not decoded".to_string()
        } else {
            format!("{} frames decoded", report.frames_decoded)
        };
        println!(
            "{} of {} clips OK, {} problem(s); {decoded}",
            report.clips_ok,
            report.clips,
            report.problems.len()
        );
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
