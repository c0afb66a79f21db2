//! `gesture-app train --finetune BASE`: the command-line face of
//! [`gesture_app::train::finetune::run`] — flags to options, a progress bar for the feature
//! pass, one line per epoch.

use super::train::TrainArgs;
use anyhow::{bail, Context};
use gesture_app::device;
use gesture_app::train::finetune::{
    self, BackboneMode, FinetuneData, FinetuneOptions, FinetuneProgress,
};
use gesture_app::train::progress::Console;
use gesture_app::train::trainer::summary_line;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

/// `--train-last-blocks K|all` (absent: frozen).
fn backbone_mode(args: &TrainArgs) -> anyhow::Result<BackboneMode> {
    Ok(match args.train_last_blocks.as_deref() {
        None => BackboneMode::Frozen,
        Some("all") => BackboneMode::All,
        Some(k) => match k.parse::<usize>() {
            Ok(k) if k > 0 => BackboneMode::LastBlocks(k),
            _ => bail!(
                "--train-last-blocks {k}: expected a number of blocks (1 or more) or `all`; \
                 use --freeze-backbone to train the head only"
            ),
        },
    })
}

/// The flags of a from-scratch `train` that a fine-tuning takes from its base instead.
fn refuse_unused(args: &TrainArgs) -> anyhow::Result<()> {
    let given = [
        ("--recipe", args.recipe.is_some()),
        ("--resume", args.resume.is_some()),
        ("--arch", args.arch.is_some()),
        ("--img-feature-dim", args.img_feature_dim.is_some()),
        ("--framing", args.framing.is_some()),
        ("--modality", args.modality.is_some()),
        ("--new-length", args.new_length.is_some()),
        ("--no-partialbn", args.no_partialbn),
        ("--pretrained", args.pretrained.is_some()),
        ("--eval-freq", args.eval_freq.is_some()),
    ];
    let bad: Vec<&str> = given.iter().filter(|g| g.1).map(|g| g.0).collect();
    if !bad.is_empty() {
        bail!(
            "--finetune takes the model from its base file; {} cannot be used with it",
            bad.join(", ")
        );
    }
    Ok(())
}

/// The options the flags ask for, over the fine-tuning defaults.
fn options(args: &TrainArgs) -> anyhow::Result<FinetuneOptions> {
    let mut o = FinetuneOptions {
        backbone: backbone_mode(args)?,
        command: gesture_app::train::provenance::this_command(),
        ..FinetuneOptions::default()
    };
    macro_rules! take {
        ($($field:ident <- $flag:expr),* $(,)?) => {
            $(if let Some(v) = $flag.clone() { o.$field = v; })*
        };
    }
    take!(
        epochs <- args.epochs,
        batch_size <- args.batch_size,
        optimizer <- args.optimizer,
        lr <- args.lr,
        lr_steps <- args.lr_steps,
        momentum <- args.momentum,
        weight_decay <- args.weight_decay,
        clip_gradient <- args.clip_gradient,
        flip <- args.flip_map,
        seed <- args.seed,
        max_loss <- args.max_loss,
    );
    o.dropout = args.dropout;
    o.consensus = args.consensus;
    o.segments = args.segments;
    o.input_size = args.input_size;
    o.resize_size = args.resize_size;
    o.clip_fps = args.clip_fps;
    o.stop_at_val_top1 = args.stop_at_val_top1;
    o.workers = args.workers;
    o.validate()?;
    Ok(o)
}

fn default_run_dir(root: &Path) -> PathBuf {
    let data = root
        .canonicalize()
        .ok()
        .and_then(|r| r.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "data".into());
    PathBuf::from("runs").join(format!("{data}_finetune"))
}

/// Runs `gesture-app train --finetune BASE`.
pub fn run(args: &TrainArgs, base: &Path) -> anyhow::Result<ExitCode> {
    refuse_unused(args)?;
    let Some(root) = args.root.clone() else {
        bail!("--finetune needs the data set: give --root DIR");
    };
    let opts = options(args)?;
    let mut data = FinetuneData::new(&root);
    if let Some(p) = &args.train_list {
        data.train_list = p.clone();
    }
    if let Some(p) = &args.val_list {
        data.val_list = p.clone();
    }
    data.spec.labels = args.labels.clone();
    data.spec.frames_dir = args.frames_dir.clone();
    data.spec.naming = args
        .frame_digits
        .map(|digits| gesture_app::train::data::FrameNaming {
            digits,
            ext: "jpg".into(),
        });
    let run_dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| default_run_dir(&root));
    let (device, why) = device::select(args.device)?;
    let mut console = Console::new(None, !args.no_progress);
    console.line(&format!("run folder: {}", run_dir.display()));
    console.line(&format!("device: {why}"));
    let mut features_started = false;
    let mut progress = |p: FinetuneProgress| match p {
        FinetuneProgress::Note(line) => console.line(&line),
        FinetuneProgress::Features { done, total } => {
            if !features_started {
                console.start("features".into(), total);
                features_started = true;
            }
            console.update(done, String::new());
            if done == total {
                console.finish();
                features_started = false;
            }
        }
        FinetuneProgress::Epoch {
            record,
            epochs,
            best,
        } => console.line(&summary_line(&record, epochs, best)),
    };
    let cancel = AtomicBool::new(false);
    let summary = finetune::run(
        base,
        &data,
        &run_dir,
        &opts,
        &device,
        &mut progress,
        &cancel,
    )
    .with_context(|| {
        format!(
            "fine-tuning {} on {} failed",
            base.display(),
            root.display()
        )
    })?;
    console.finish();
    println!(
        "labels: {}; load it with --weights {}",
        summary.labels.join(", "),
        summary.best_weights.display()
    );
    Ok(ExitCode::SUCCESS)
}
