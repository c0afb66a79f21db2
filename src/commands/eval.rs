//! `gesture-app eval`: a weights file over a labelled clip list — top-1, top-5, per-class
//! accuracy and the confusion matrix (text and PNG), or all of it as JSON.

use super::dataset_args::DataSetArgs;
use anyhow::Context;
use gesture_app::device::{self, DeviceChoice};
use gesture_app::train::data::loader::default_workers;
use gesture_app::train::evaluate::{evaluate_file, FileEval};
use gesture_app::train::plot;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Evaluate a model on a labelled clip list.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Weights file (ours, `.safetensors`).
    #[arg(long, value_name = "FILE")]
    pub weights: PathBuf,
    #[command(flatten)]
    pub data: DataSetArgs,
    /// Index file (relative to the root unless it exists as given).
    #[arg(long, value_name = "FILE", default_value = "val_videofolder.txt")]
    pub list: PathBuf,
    #[arg(long, short = 'b', default_value_t = 8, value_name = "N")]
    pub batch_size: usize,
    /// Data-loading threads.
    #[arg(long, short = 'j', value_name = "N")]
    pub workers: Option<usize>,
    /// Also draw the confusion matrix into this PNG (nothing is written without it).
    #[arg(long, value_name = "FILE")]
    pub confusion_png: Option<PathBuf>,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

/// Runs `gesture-app eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let (device, why) = device::select(args.device)?;
    let spec = args.data.spec();
    let bar =
        (!args.json && std::io::stderr().is_terminal()).then(|| indicatif::ProgressBar::new(0));
    let FileEval {
        result,
        labels,
        list_path,
    } = evaluate_file(
        &args.weights,
        &spec,
        &args.list,
        args.batch_size,
        args.workers.unwrap_or_else(default_workers),
        &device,
        &mut |done, total| {
            if let Some(b) = &bar {
                b.set_length(total as u64);
                b.set_position(done as u64)
            }
        },
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(png) = &args.confusion_png {
        plot::write_confusion(png, &result.confusion, &labels)
            .with_context(|| format!("cannot write the confusion matrix PNG {}", png.display()))?;
    }
    let t = &result.tally;
    let per_class = result.confusion.per_class();
    if args.json {
        let classes: Vec<_> = labels
            .iter()
            .zip(&per_class)
            .map(|(l, (n, acc))| serde_json::json!({"label": l, "clips": n, "top1": acc}))
            .collect();
        let skipped: Vec<_> = result
            .skipped
            .iter()
            .map(|s| serde_json::json!({"id": s.id, "reason": s.reason}))
            .collect();
        let out = serde_json::json!({
            "weights": args.weights,
            "list": list_path,
            "clips": t.clips,
            "skipped": skipped,
            "loss": t.loss(),
            "top1": t.top1_pct(),
            "top5": t.top5_pct(),
            "per_class": classes,
            "confusion": result.confusion.counts,
            "confusion_png": args.confusion_png,
        });
        println!("{out}");
    } else {
        println!("device: {why}");
        println!(
            "{}: {} clips, top-1 {:.2}%, top-5 {:.2}%, loss {:.4}",
            list_path.display(),
            t.clips,
            t.top1_pct(),
            t.top5_pct(),
            t.loss()
        );
        for s in &result.skipped {
            println!("skipped clip {}: {}", s.id, s.reason);
        }
        println!("\nper class:");
        for (l, (n, acc)) in labels.iter().zip(&per_class) {
            let acc = acc.map_or("-".to_string(), |a| format!("{a:.1}%"));
            println!("  {acc:>7}  {n:>6} clips  {l}");
        }
        println!("\n{}", result.confusion.to_text(&labels));
        if let Some(png) = &args.confusion_png {
            println!("confusion matrix PNG: {}", png.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
