//! `gesture-app bench-train`: training and data-loading throughput on this machine.

use gesture_app::bench::train::{self as bench, BenchOptions};
use gesture_app::model::config::{Arch, Consensus};
use std::process::ExitCode;

/// Measure training-step and data-loading throughput (CPU).
#[derive(clap::Args, Debug)]
pub struct BenchTrainArgs {
    #[arg(long, default_value = "squeezenet1_1")]
    pub arch: Arch,
    #[arg(long, default_value = "TRNmultiscale")]
    pub consensus: Consensus,
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub segments: usize,
    #[arg(long, default_value_t = 224, value_name = "PX")]
    pub input_size: usize,
    #[arg(long, short = 'b', default_value_t = 8, value_name = "N")]
    pub batch_size: usize,
    /// Timed training steps.
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Generated clips for the loading benchmark.
    #[arg(long, default_value_t = 64)]
    pub clips: usize,
    /// Loader thread counts to try.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub workers: Vec<usize>,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Measure loading on this data set root instead of generated clips (needs --data-list).
    #[arg(long, value_name = "DIR", requires = "data_list")]
    pub data_root: Option<std::path::PathBuf>,
    /// The index file of --data-root to load (TRN list, Jester CSV or SSv2 JSON).
    #[arg(long, value_name = "FILE", requires = "data_root")]
    pub data_list: Option<std::path::PathBuf>,
}

/// Runs `gesture-app bench-train`.
pub fn run(a: BenchTrainArgs) -> anyhow::Result<ExitCode> {
    let r = bench::run(&BenchOptions {
        arch: a.arch,
        consensus: a.consensus,
        segments: a.segments,
        input_size: a.input_size,
        batch_size: a.batch_size.max(1),
        steps: a.steps.max(1),
        clips: a.clips.max(1),
        workers: a.workers.iter().map(|&w| w.max(1)).collect(),
        dataset: match (&a.data_root, &a.data_list) {
            (Some(root), Some(list)) => Some(
                gesture_app::train::data::DataSpec {
                    root: root.clone(),
                    labels: None,
                    frames_dir: None,
                    naming: None,
                }
                .open(list)?,
            ),
            _ => None,
        },
    })?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} + {}, N={}, {}px, batch {}, {} compute threads",
        r.arch, r.consensus, r.segments, r.input_size, r.batch_size, r.threads
    );
    for l in &r.loading {
        println!(
            "data loading ({} thread(s), {}, train augmentation): {:.1} clips/s",
            l.workers,
            match &a.data_list {
                Some(list) => format!("{}", list.display()),
                None => "176x100 JPEG".to_string(),
            },
            l.clips_per_s
        );
    }
    println!(
        "training step: forward {:.0} ms, backward {:.0} ms, optimiser {:.0} ms per batch -> {:.2} clips/s",
        r.forward_ms, r.backward_ms, r.step_ms, r.train_clips_per_s
    );
    Ok(ExitCode::SUCCESS)
}
