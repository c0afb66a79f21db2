//! `gesture-app train`: flags named as the original's (with its underscore spellings as
//! aliases), a TOML recipe, or `--resume RUN_DIR`.

use anyhow::{bail, Context};
use gesture_app::device::{self, DeviceChoice};
use gesture_app::model::config::{Arch, Consensus, Framing, Modality};
use gesture_app::train::config::RunConfig;
use gesture_app::train::init::LinearInit;
use gesture_app::train::optim::OptimizerKind;
use gesture_app::train::progress::Console;
use gesture_app::train::session::Session;
use gesture_app::train::trainer::{self, Provenance};
use std::path::PathBuf;
use std::process::ExitCode;

/// Train a model on Jester-layout data (or Something-Something v2).
#[derive(clap::Args, Debug, Default)]
pub struct TrainArgs {
    /// TOML recipe (see training/); flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,
    /// Continue the run in RUN_DIR from its last checkpoint (its config.toml is used; only
    /// --epochs, --lr, --lr-steps, --clip-gradient, --eval-freq, --max-loss, --workers,
    /// --stop-at-val-top1 and --device may be changed).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// Run folder (config, checkpoint, best model, metrics, curves); default
    /// runs/<data>_<arch>_<consensus>_<N>seg.
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,

    /// Data set root: category.txt, index files, rgb/ID/00001.jpg...
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Training index file (relative to the root unless it exists as given).
    #[arg(long, value_name = "FILE")]
    pub train_list: Option<PathBuf>,
    /// Validation index file.
    #[arg(long, value_name = "FILE")]
    pub val_list: Option<PathBuf>,
    /// Label file (default ROOT/category.txt).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Frames folder (default ROOT/rgb if present, else ROOT).
    #[arg(long, value_name = "DIR")]
    pub frames_dir: Option<PathBuf>,
    /// Digits of frame file numbers: 5 (Jester) or 6 (Something-Something); default detected.
    #[arg(long, value_name = "N")]
    pub frame_digits: Option<usize>,
    /// The model's clip rate, stored with the weights for the live app [default: 12, Jester's].
    /// Clips recorded with `gesture-app record` (their rate is in ROOT/dataset.toml) are
    /// resampled to it; other clips are taken to be at this rate.
    #[arg(long, value_name = "FPS")]
    pub clip_fps: Option<f32>,

    /// Backbone: squeezenet1_1, BNInception, or hand_landmarks (a hand tracker's landmarks, data
    /// sets from `handsynth`).
    #[arg(long)]
    pub arch: Option<Arch>,
    /// Consensus head: MLP, TRNmultiscale, RNN_TANH, RNN_RELU, LSTM, GRU, BLSTM, FCN, avg.
    #[arg(long, alias = "consensus_type")]
    pub consensus: Option<Consensus>,
    /// Number of segments N.
    #[arg(long, alias = "num_segments", value_name = "N")]
    pub segments: Option<usize>,
    /// Width of the per-frame feature new_fc projects to [default: 256].
    #[arg(long, alias = "img_feature_dim", value_name = "D")]
    pub img_feature_dim: Option<usize>,
    /// Dropout before new_fc.
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Side of the square network input.
    #[arg(long, value_name = "PX")]
    pub input_size: Option<usize>,
    /// Shorter side before the evaluation centre crop.
    #[arg(long, value_name = "PX")]
    pub resize_size: Option<usize>,
    /// Which part of each frame the network sees: center_crop (the original's centre square of
    /// the shorter side) or whole_frame (the whole frame squashed to the square input, so a
    /// hand near an edge stays in view) [default: center_crop].
    #[arg(long, value_name = "center_crop|whole_frame")]
    pub framing: Option<Framing>,
    /// What each segment feeds the backbone: RGB (one frame) or RGBDiff (the differences of
    /// new_length + 1 consecutive frames: motion the CNN sees directly; what the demo recipe
    /// uses to learn from scratch) [default: RGB].
    #[arg(long)]
    pub modality: Option<Modality>,
    /// Frame differences per segment with RGBDiff (TSN's new_length) [default: 5].
    #[arg(long, alias = "new_length", value_name = "K")]
    pub new_length: Option<usize>,
    /// Train every BatchNorm layer (the original's partial BN is the default).
    #[arg(long, alias = "no_partialbn")]
    pub no_partialbn: bool,
    /// Initial weights: ImageNet backbone from `gesture-app convert`, or a whole model.
    #[arg(long, value_name = "FILE")]
    pub pretrained: Option<PathBuf>,
    /// How fully connected layers start from scratch: candle (Kaiming normal, ReLU gain) or
    /// torch (PyTorch's default, uniform ±1/√fan_in: about 2.45 times smaller) [default: candle].
    #[arg(long, value_name = "candle|torch", value_parser = ["candle", "torch"])]
    pub linear_init: Option<String>,

    /// Fine-tune BASE (any weights file: a model or an ImageNet backbone) on the data set at
    /// --root: the head is rebuilt for its labels and trained in seconds on cached backbone
    /// features. Architecture, input size, normalisation and clip rate come from BASE; BASE is
    /// only read. Defaults: 30 epochs, adam, lr 0.001, weight decay 1e-4, batch 8.
    #[arg(long, value_name = "BASE")]
    pub finetune: Option<PathBuf>,
    /// With --finetune: keep the whole backbone frozen and train the head on cached features
    /// (the default).
    #[arg(long, requires = "finetune", conflicts_with = "train_last_blocks")]
    pub freeze_backbone: bool,
    /// With --finetune: also train the backbone's last K blocks (Fire modules of squeezenet1_1,
    /// inception blocks of BNInception), or `all` layers; frames are then decoded and run
    /// through the backbone every epoch (slower; for larger data sets).
    #[arg(long, requires = "finetune", value_name = "K|all")]
    pub train_last_blocks: Option<String>,

    /// sgd (the original) or adam.
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Epochs to train [default: 30].
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Clips per batch [default: 16].
    #[arg(long, short = 'b', value_name = "N")]
    pub batch_size: Option<usize>,
    /// Initial learning rate [default: 0.001].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Epochs at which the learning rate is divided by 10.
    #[arg(long, alias = "lr_steps", num_args = 1.., value_name = "EPOCH")]
    pub lr_steps: Option<Vec<usize>>,
    /// SGD momentum [default: 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// L2 weight decay (not on biases or BatchNorm) [default: 5e-4].
    #[arg(long, alias = "wd")]
    pub weight_decay: Option<f64>,
    /// Gradient-norm clipping limit (0: off).
    #[arg(long, alias = "gd", value_name = "NORM")]
    pub clip_gradient: Option<f64>,
    /// Ramp the learning rate up linearly over the first N epochs, step by step (0: off)
    /// [default: 0]: gentler first updates for a network trained from scratch.
    #[arg(long, value_name = "N")]
    pub warmup_epochs: Option<usize>,

    /// Horizontal flip: auto (mirror left/right classes by name), off, naive (the original:
    /// flipped clips keep their label), or a file of `Label A;Label B` pairs.
    #[arg(long, value_name = "auto|off|naive|FILE")]
    pub flip_map: Option<String>,
    /// Seed of every random choice (initial weights, order, sampling, augmentation) [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Data-loading threads (default: a quarter of the cores, at least 1).
    #[arg(long, short = 'j', value_name = "N")]
    pub workers: Option<usize>,
    /// Validate every N epochs (and after the last).
    #[arg(long, value_name = "N")]
    pub eval_freq: Option<usize>,
    /// A batch loss above this stops the run as diverged.
    #[arg(long, value_name = "LOSS")]
    pub max_loss: Option<f64>,
    /// Stop once validation top-1 reaches this percentage.
    #[arg(long, value_name = "PERCENT")]
    pub stop_at_val_top1: Option<f64>,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// No progress bars (summary lines only).
    #[arg(long)]
    pub no_progress: bool,
}

impl TrainArgs {
    /// Flags that may change when resuming.
    fn apply_resumable(&self, c: &mut RunConfig) {
        if let Some(v) = self.epochs {
            c.optim.epochs = v;
        }
        if let Some(v) = self.lr {
            c.optim.lr = v;
        }
        if let Some(v) = &self.lr_steps {
            c.optim.lr_steps = v.clone();
        }
        if let Some(v) = self.clip_gradient {
            c.optim.clip_gradient = v;
        }
        if let Some(v) = self.eval_freq {
            c.run.eval_freq = v;
        }
        if let Some(v) = self.max_loss {
            c.run.max_loss = v;
        }
        if let Some(v) = self.workers {
            c.run.workers = Some(v);
        }
        if let Some(v) = self.stop_at_val_top1 {
            c.run.stop_at_val_top1 = Some(v);
        }
    }

    /// Names of the given flags that a resumed run cannot change.
    fn fixed_flags_given(&self) -> Vec<&'static str> {
        let given = [
            ("--recipe", self.recipe.is_some()),
            ("--run-dir", self.run_dir.is_some()),
            ("--root", self.root.is_some()),
            ("--train-list", self.train_list.is_some()),
            ("--val-list", self.val_list.is_some()),
            ("--labels", self.labels.is_some()),
            ("--frames-dir", self.frames_dir.is_some()),
            ("--frame-digits", self.frame_digits.is_some()),
            ("--clip-fps", self.clip_fps.is_some()),
            ("--arch", self.arch.is_some()),
            ("--consensus", self.consensus.is_some()),
            ("--segments", self.segments.is_some()),
            ("--img-feature-dim", self.img_feature_dim.is_some()),
            ("--dropout", self.dropout.is_some()),
            ("--input-size", self.input_size.is_some()),
            ("--resize-size", self.resize_size.is_some()),
            ("--framing", self.framing.is_some()),
            ("--modality", self.modality.is_some()),
            ("--new-length", self.new_length.is_some()),
            ("--no-partialbn", self.no_partialbn),
            ("--pretrained", self.pretrained.is_some()),
            ("--linear-init", self.linear_init.is_some()),
            ("--optimizer", self.optimizer.is_some()),
            ("--batch-size", self.batch_size.is_some()),
            ("--momentum", self.momentum.is_some()),
            ("--weight-decay", self.weight_decay.is_some()),
            ("--warmup-epochs", self.warmup_epochs.is_some()),
            ("--flip-map", self.flip_map.is_some()),
            ("--seed", self.seed.is_some()),
        ];
        given.iter().filter(|g| g.1).map(|g| g.0).collect()
    }

    /// Every flag over a recipe (or the defaults).
    fn apply(&self, c: &mut RunConfig) {
        self.apply_resumable(c);
        let d = &mut c.data;
        set(&mut d.root, self.root.clone().map(Some));
        set(&mut d.train_list, self.train_list.clone());
        set(&mut d.val_list, self.val_list.clone());
        set(&mut d.labels, self.labels.clone().map(Some));
        set(&mut d.frames_dir, self.frames_dir.clone().map(Some));
        set(&mut d.frame_digits, self.frame_digits.map(Some));
        set(&mut d.clip_fps, self.clip_fps);
        let m = &mut c.model;
        set(&mut m.arch, self.arch);
        set(&mut m.consensus, self.consensus);
        set(&mut m.segments, self.segments);
        set(&mut m.img_feature_dim, self.img_feature_dim);
        set(&mut m.dropout, self.dropout);
        set(&mut m.input_size, self.input_size);
        set(&mut m.resize_size, self.resize_size);
        set(&mut m.framing, self.framing);
        set(&mut m.modality, self.modality);
        set(&mut m.new_length, self.new_length);
        if self.no_partialbn {
            m.partial_bn = false;
        }
        set(&mut m.pretrained, self.pretrained.clone().map(Some));
        if let Some(v) = &self.linear_init {
            m.linear_init = if v == "torch" {
                LinearInit::Torch
            } else {
                LinearInit::Candle
            };
        }
        let o = &mut c.optim;
        set(&mut o.optimizer, self.optimizer);
        set(&mut o.batch_size, self.batch_size);
        set(&mut o.momentum, self.momentum);
        set(&mut o.weight_decay, self.weight_decay);
        set(&mut o.warmup_epochs, self.warmup_epochs);
        set(&mut c.run.flip, self.flip_map.clone());
        set(&mut c.run.seed, self.seed);
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn default_run_dir(c: &RunConfig) -> PathBuf {
    let data = c
        .data
        .root
        .as_ref()
        .and_then(|r| r.canonicalize().ok())
        .and_then(|r| r.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "data".into());
    let m = &c.model;
    PathBuf::from("runs").join(format!(
        "{data}_{}_{}_{}seg",
        m.arch, m.consensus, m.segments
    ))
}

/// Runs `gesture-app train`.
pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    if let Some(base) = args.finetune.clone() {
        return super::finetune::run(&args, &base);
    }
    let (device, why) = device::select(args.device)?;
    let mut session = match &args.resume {
        Some(dir) => {
            let fixed = args.fixed_flags_given();
            if !fixed.is_empty() {
                bail!(
                    "--resume continues with the run's saved config.toml; {} cannot be changed \
                     (start a new run for that)",
                    fixed.join(", ")
                );
            }
            Session::resume(dir, &device, |c| args.apply_resumable(c))
                .with_context(|| format!("cannot resume {}", dir.display()))?
        }
        None => {
            let mut cfg = match &args.recipe {
                Some(p) => RunConfig::from_toml_file(p)?,
                None => RunConfig::default(),
            };
            args.apply(&mut cfg);
            cfg.validate()?;
            let dir = args
                .run_dir
                .clone()
                .unwrap_or_else(|| default_run_dir(&cfg));
            Session::fresh(cfg, &dir, &device)?
        }
    };
    let mut console = Console::new(Some(session.paths.log.clone()), !args.no_progress);
    let s = &session;
    let m = &s.model_cfg;
    for line in [
        format!("run folder: {}", s.paths.dir.display()),
        format!("device: {why}"),
        format!(
            "data: {} training clips ({}), {} validation clips ({}), {} classes",
            s.train.len(),
            s.train.list.path.display(),
            s.val.len(),
            s.val.list.path.display(),
            m.num_classes
        ),
        format!(
            "model: {} + {}, {} segments{}, input {}px ({}), dropout {}, partial BN {}",
            m.arch,
            m.consensus,
            m.num_segments,
            match m.modality {
                Modality::Rgb => String::new(),
                Modality::RgbDiff => format!(" of {} frame differences (RGBDiff)", m.new_length),
            },
            m.input_size,
            m.framing,
            m.dropout,
            s.cfg.model.partial_bn
        ),
        format!(
            "optimiser: {:?}, lr {} (÷10 at epochs {:?}{}), momentum {}, weight decay {}, clip {}, batch {}, {} epochs",
            s.cfg.optim.optimizer,
            s.cfg.optim.lr,
            s.cfg.optim.lr_steps,
            match s.cfg.optim.warmup_epochs {
                0 => String::new(),
                w => format!(", warm-up over {w} epoch(s)"),
            },
            s.cfg.optim.momentum,
            s.cfg.optim.weight_decay,
            s.cfg.optim.clip_gradient,
            s.cfg.optim.batch_size,
            s.cfg.optim.epochs
        ),
        format!("parameters: {}", s.groups),
        format!("flip: {}", s.flip.describe(&s.train.labels)),
        format!("loader: {} worker thread(s)", s.loader.workers),
    ]
    .into_iter()
    .chain(s.notes.iter().cloned())
    {
        console.line(&line);
    }
    let prov = Provenance {
        command: gesture_app::train::provenance::this_command(),
    };
    match trainer::run(&mut session, &prov, &mut console) {
        Ok(summary) => {
            match (summary.best_val_top1, summary.best_epoch) {
                (Some(top1), Some(epoch)) => console.line(&format!(
                    "done: {} epochs; best validation top-1 {top1:.2}% at epoch {epoch}: {}",
                    summary.epochs_done,
                    summary.best_weights.display()
                )),
                _ => console.line(&format!("done: {} epochs", summary.epochs_done)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(gesture_app::Error::Diverged(msg)) => {
            let kept = if session.paths.checkpoint.exists() {
                format!(
                    "the last good checkpoint (epoch {}) is kept: continue with \
                     `gesture-app train --resume {} --lr <smaller>`",
                    session.state.epoch,
                    session.paths.dir.display()
                )
            } else {
                "no epoch had finished, so there is no checkpoint; start again with a smaller --lr"
                    .to_string()
            };
            let line = format!("error: training stopped, it diverged: {msg}; {kept}");
            console.error(&line);
            Ok(ExitCode::from(3))
        }
        Err(e) => Err(e.into()),
    }
}
