//! `gesture-app compare`: the grid from flags or a TOML file, checked whole before anything
//! trains; one progress line for the sweep; the table printed at the end.

use anyhow::{bail, Context};
use gesture_app::compare::grid::{self, GridFile, Mode, RawEntry};
use gesture_app::compare::{self, OutFiles, Settings, SweepProgress};
use gesture_app::device::{self, DeviceChoice};
use gesture_app::train::data::loader::default_workers;
use gesture_app::train::finetune::FinetuneData;
use gesture_app::train::optim::OptimizerKind;
use gesture_app::Consensus;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

/// Train and compare a grid of backbones × heads × N on one data set.
#[derive(clap::Args, Debug, Default)]
pub struct CompareArgs {
    /// TOML grid: `backbones`, `heads`, `segments` lists (their product), `[[run]]` tables
    /// (backbone, head, segments, recipe), and settings (mode, root, recipe, epochs, lr,
    /// batch_size, seed); flags given here win.
    #[arg(long, value_name = "FILE")]
    pub grid: Option<PathBuf>,
    /// fast: the backbone frozen, every frame through it once into one shared feature cache,
    /// then every head trained on it (minutes); full: `train`'s whole network per
    /// configuration [default: fast].
    #[arg(long, value_name = "fast|full")]
    pub mode: Option<String>,
    /// Backbones, comma-separated: weights files (frozen in fast mode, `--pretrained` in full
    /// mode) or squeezenet1_1 / BNInception (full mode, from scratch or the recipe's weights).
    #[arg(long, value_delimiter = ',', value_name = "FILE|ARCH,...")]
    pub backbones: Vec<String>,
    /// Heads as --consensus spells them, comma-separated [default: all nine].
    #[arg(long, value_delimiter = ',', value_name = "HEAD,...")]
    pub heads: Vec<String>,
    /// Segment counts N, comma-separated [default: a weights file's own N, else 8].
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub segments: Vec<usize>,
    /// Data set root (category.txt, index files, rgb/ID/00001.jpg...).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Training index file (relative to the root unless it exists as given).
    #[arg(long, value_name = "FILE", default_value = "train_videofolder.txt")]
    pub train_list: PathBuf,
    /// Validation index file: every row's top-1/top-5 is measured on it.
    #[arg(long, value_name = "FILE", default_value = "val_videofolder.txt")]
    pub val_list: PathBuf,
    /// Output folder: compare.{md,csv,json,png}, compare_state.json, runs/<configuration>/.
    /// Run the same command again to continue a sweep that was stopped.
    #[arg(long, value_name = "DIR", default_value = "runs/compare")]
    pub out: PathBuf,
    /// Full mode: the `train` recipe (TOML) every configuration starts from.
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,
    /// Epochs per configuration [default: fast 30, full the recipe's].
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Learning rate [default: fast 0.001, full the recipe's].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Clips per batch.
    #[arg(long, short = 'b', value_name = "N")]
    pub batch_size: Option<usize>,
    /// sgd or adam [default: fast adam, full the recipe's].
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Seed of every random choice [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Data-loading threads (default: a quarter of the cores, at least 1).
    #[arg(long, short = 'j', value_name = "N")]
    pub workers: Option<usize>,
    /// Timed clips per configuration (after 3 warm-up clips).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub bench_iters: usize,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// No progress line (one line per finished configuration).
    #[arg(long)]
    pub no_progress: bool,
}

fn parse_mode(s: &str) -> anyhow::Result<Mode> {
    match s.to_ascii_lowercase().as_str() {
        "fast" => Ok(Mode::Fast),
        "full" => Ok(Mode::Full),
        _ => bail!("--mode {s}: expected fast or full"),
    }
}

/// The grid's entries: the flags' product, or the file's (flags' lists replace its lists).
fn raw_entries(args: &CompareArgs, file: &GridFile) -> Vec<RawEntry> {
    let pick = |flag: &Vec<String>, from_file: &Vec<String>| {
        if flag.is_empty() {
            from_file.clone()
        } else {
            flag.clone()
        }
    };
    let backbones = pick(&args.backbones, &file.backbones);
    let mut heads = pick(&args.heads, &file.heads);
    let lists_given = !backbones.is_empty();
    if heads.is_empty() && lists_given {
        heads = Consensus::ALL
            .iter()
            .map(|c| c.name().to_string())
            .collect();
    }
    let segments = if args.segments.is_empty() {
        file.segments.clone()
    } else {
        args.segments.clone()
    };
    let mut out = Vec::new();
    for b in &backbones {
        // Default N: the weights file's own (a missing file is refused by the check).
        let ns = if segments.is_empty() {
            let own = gesture_app::weights::read_config(std::path::Path::new(b))
                .map(|(c, _)| c.num_segments);
            vec![own.unwrap_or(8)]
        } else {
            segments.clone()
        };
        out.extend(grid::product(std::slice::from_ref(b), &heads, &ns));
    }
    out.extend(file.runs.iter().cloned());
    out
}

/// Runs `gesture-app compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.grid {
        Some(p) => GridFile::read(p)?,
        None => GridFile::default(),
    };
    let mode = match args.mode.as_deref().or(file.mode.as_deref()) {
        Some(m) => parse_mode(m)?,
        None => Mode::Fast,
    };
    let Some(root) = args.root.clone().or(file.root.clone()) else {
        bail!("compare needs the data set: give --root DIR (or `root` in the --grid file)");
    };
    let raw = raw_entries(&args, &file);
    // Every entry is checked before anything trains.
    let entries = grid::check(&raw, mode)?;
    let mut data = FinetuneData::new(&root);
    data.train_list = args.train_list.clone();
    data.val_list = args.val_list.clone();
    if args.bench_iters == 0 {
        bail!("--bench-iters must be at least 1");
    }
    let settings = Settings {
        mode,
        data,
        out: args.out.clone(),
        epochs: args.epochs.or(file.epochs),
        lr: args.lr.or(file.lr),
        batch_size: args.batch_size.or(file.batch_size),
        optimizer: args.optimizer,
        seed: args.seed.or(file.seed).unwrap_or(1),
        recipe: args.recipe.clone().or(file.recipe.clone()),
        workers: args.workers.unwrap_or_else(default_workers).max(1),
        bench_warmup: 3,
        bench_iters: args.bench_iters,
    };
    if let Some(r) = &settings.recipe {
        if mode == Mode::Fast {
            bail!(
                "--recipe {} trains the whole network: use --mode full",
                r.display()
            );
        }
        if !r.is_file() {
            bail!("--recipe {}: file not found", r.display());
        }
    }
    let (device, why) = device::select(args.device)?;
    println!(
        "compare: {} configuration(s), {} mode, data {}, device: {why}",
        entries.len(),
        mode.name(),
        root.display()
    );
    let bar = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
        let b =
            ProgressBar::with_draw_target(Some(entries.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "compare [{bar:24}] {pos}/{len} {msg} [{elapsed_precise}]",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        b
    });
    let say = |line: String| match &bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    };
    let mut progress = |p: SweepProgress| match p {
        SweepProgress::Begin { total, finished } => {
            if finished > 0 {
                say(format!(
                    "resuming: {finished} of {total} configuration(s) already done"
                ));
            }
        }
        SweepProgress::Features {
            backbone,
            done,
            total,
        } => {
            if let Some(b) = &bar {
                b.set_message(format!("{backbone}: shared features {done}/{total} frames"));
            }
        }
        SweepProgress::Stage { name, what, .. } => {
            if let Some(b) = &bar {
                b.set_message(format!("{name}: {what}"));
            }
        }
        SweepProgress::Skipped { name, .. } => {
            if let Some(b) = &bar {
                b.inc(1);
            }
            say(format!("{name}: done before, kept"));
        }
        SweepProgress::Done { row, .. } => {
            if let Some(b) = &bar {
                b.inc(1);
            }
            say(match &row.note {
                Some(n) => format!("{}: {n}", row.name),
                None => format!(
                    "{}: top-1 {:.2}%, top-5 {:.2}%, {:.2} ms/clip, trained in {:.1} s",
                    row.name, row.top1, row.top5, row.cpu_ms, row.train_s
                ),
            });
        }
    };
    let cancel = AtomicBool::new(false);
    let summary = compare::run(&entries, &settings, &device, &mut progress, &cancel)
        .with_context(|| format!("the sweep into {} stopped", settings.out.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for (backbone, secs) in &summary.features_s {
        println!("{backbone}: shared features computed in {secs:.1} s");
    }
    println!("\n{}", gesture_app::compare::table::markdown(&summary.rows));
    let f = OutFiles::in_dir(&settings.out);
    println!(
        "{} trained, {} kept from before; table: {}, {}, {}; plot: {}",
        summary.ran,
        summary.skipped,
        f.markdown.display(),
        f.csv.display(),
        f.json.display(),
        f.png.display()
    );
    Ok(ExitCode::SUCCESS)
}
