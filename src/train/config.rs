//! A training run's configuration: the data, the model, the optimiser and the run's own
//! settings, with the original's defaults (docs/ARCHITECTURE.md §6). It is read from a TOML
//! recipe (`training/*.toml`), overridden by command-line flags, and saved as `config.toml` in
//! the run folder, from which `--resume` continues.

use crate::model::config::{Arch, Consensus, Framing, Modality, ModelConfig, DEFAULT_NEW_LENGTH};
use crate::train::init::LinearInit;
use crate::train::optim::{OptimConfig, OptimizerKind};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the clips are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Data set root; required (flag `--root` or the recipe).
    pub root: Option<PathBuf>,
    /// Index files, relative to the root unless absolute.
    pub train_list: PathBuf,
    pub val_list: PathBuf,
    /// Label file; default `ROOT/category.txt` (or `jester-v1-labels.csv`).
    pub labels: Option<PathBuf>,
    /// Frames folder; default `ROOT/rgb` if present, else the root.
    pub frames_dir: Option<PathBuf>,
    /// Zero-padded width of frame numbers (5 Jester, 6 Something-Something); default detected.
    pub frame_digits: Option<usize>,
    /// The model's clip rate, stored with the weights for the live app (Jester: 12). Clips whose
    /// recording rate the data set gives (`dataset.toml`, written by `record`) are resampled to
    /// it; others are taken to be at this rate already.
    pub clip_fps: f32,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            root: None,
            train_list: "train_videofolder.txt".into(),
            val_list: "val_videofolder.txt".into(),
            labels: None,
            frames_dir: None,
            frame_digits: None,
            clip_fps: 12.0,
        }
    }
}

/// The network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    pub arch: Arch,
    pub consensus: Consensus,
    pub segments: usize,
    pub img_feature_dim: usize,
    pub dropout: f32,
    pub input_size: usize,
    pub resize_size: usize,
    /// Which part of each frame the network sees: `center_crop` (the original) or
    /// `whole_frame` (squashed to the square input).
    pub framing: Framing,
    pub rnn_hidden: usize,
    pub rnn_layers: usize,
    /// What a segment feeds the backbone: `RGB` (one frame) or `RGBDiff` (frame differences).
    pub modality: Modality,
    /// Frame differences per segment with RGBDiff (TSN's `new_length`).
    pub new_length: usize,
    /// The original's partial BatchNorm (`--no-partialbn` turns it off).
    pub partial_bn: bool,
    /// Initial weights: backbone (from `gesture-app convert`) or a whole model.
    pub pretrained: Option<PathBuf>,
    /// How fully connected layers start from scratch: `candle` (Kaiming normal, ReLU gain) or
    /// `torch` (PyTorch's uniform ±1/√fan_in, about 2.45 times smaller).
    pub linear_init: LinearInit,
}

/// The schedule checks every training shares (`train` and `train --finetune`).
pub(crate) fn check_schedule(epochs: usize, batch_size: usize, lr: f64) -> Result<()> {
    if epochs == 0 {
        return Err(Error::Config("epochs must be at least 1".into()));
    }
    if batch_size == 0 {
        return Err(Error::Config("batch size must be at least 1".into()));
    }
    if !(lr > 0.0 && lr.is_finite()) {
        return Err(Error::Config(format!(
            "lr must be a positive number, got {lr}"
        )));
    }
    Ok(())
}

/// A dropout probability must lie in [0, 1).
pub(crate) fn check_dropout(p: f32) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::Config(format!("dropout must be in [0, 1), got {p}")));
    }
    Ok(())
}

impl Default for ModelSection {
    fn default() -> Self {
        ModelSection {
            arch: Arch::BnInception,
            consensus: Consensus::TrnMultiscale,
            segments: 8,
            img_feature_dim: 256,
            dropout: 0.3,
            input_size: 224,
            resize_size: 256,
            framing: Framing::CenterCrop,
            rnn_hidden: 256,
            rnn_layers: 1,
            modality: Modality::Rgb,
            new_length: DEFAULT_NEW_LENGTH,
            partial_bn: true,
            pretrained: None,
            linear_init: LinearInit::Candle,
        }
    }
}

/// Optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimSection {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    /// Epochs (0-based) at which the learning rate is divided by 10.
    pub lr_steps: Vec<usize>,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Gradient-norm clipping; 0 turns it off.
    pub clip_gradient: f64,
    pub epochs: usize,
    pub batch_size: usize,
    /// Epochs over which the learning rate ramps up linearly, step by step, from lr/steps to
    /// lr (0: none): gentler first updates for a network trained from scratch (on its own it
    /// does not get squeezenet1_1 off the ln C plateau on hard clips; training/README.md).
    pub warmup_epochs: usize,
}

impl Default for OptimSection {
    fn default() -> Self {
        OptimSection {
            optimizer: OptimizerKind::Sgd,
            lr: 0.001,
            lr_steps: vec![15, 25],
            momentum: 0.9,
            weight_decay: 5e-4,
            clip_gradient: 20.0,
            epochs: 30,
            batch_size: 16,
            warmup_epochs: 0,
        }
    }
}

/// The run itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    pub seed: u64,
    /// Data-loading threads; default a quarter of the cores, at least one.
    pub workers: Option<usize>,
    /// Validate every this many epochs (and after the last).
    pub eval_freq: usize,
    /// Horizontal flip: `auto` (mirror classes by name), `off`, `naive` (the original), or a
    /// file of mirror pairs.
    pub flip: String,
    /// A batch loss above this stops the run as diverged.
    pub max_loss: f64,
    /// Stop once validation top-1 (percent) reaches this, before the planned epochs.
    pub stop_at_val_top1: Option<f64>,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            seed: 1,
            workers: None,
            eval_freq: 1,
            flip: "auto".into(),
            max_loss: 100.0,
            stop_at_val_top1: None,
        }
    }
}

/// Everything a training run needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub data: DataConfig,
    pub model: ModelSection,
    pub optim: OptimSection,
    pub run: RunSection,
}

impl RunConfig {
    /// Reads a TOML recipe (missing keys take the defaults; unknown keys are an error).
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::bad_file(path, e.to_string()))
    }

    /// The configuration as TOML (what the run folder keeps).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("run configs serialise")
    }

    /// Checks values a run cannot start with.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.data.root.is_none() {
            return bad("no data root: give --root DIR or set data.root in the recipe".into());
        }
        check_schedule(self.optim.epochs, self.optim.batch_size, self.optim.lr)?;
        check_dropout(self.model.dropout)?;
        if self.run.eval_freq == 0 {
            return bad("eval_freq must be at least 1".into());
        }
        if let Some(0) = self.run.workers {
            return bad("workers must be at least 1".into());
        }
        Ok(())
    }

    /// The optimiser's settings.
    pub fn optim_config(&self) -> OptimConfig {
        OptimConfig {
            kind: self.optim.optimizer,
            momentum: self.optim.momentum,
            weight_decay: self.optim.weight_decay,
            clip_gradient: (self.optim.clip_gradient > 0.0).then_some(self.optim.clip_gradient),
            ..OptimConfig::default()
        }
    }

    /// The model's configuration for `labels`.
    pub fn model_config(&self, labels: Vec<String>) -> Result<ModelConfig> {
        let m = &self.model;
        let mut cfg = ModelConfig::new(m.arch, m.consensus, m.segments, labels);
        cfg.img_feature_dim = m.img_feature_dim;
        cfg.dropout = m.dropout;
        cfg.input_size = m.input_size;
        cfg.resize_size = m.resize_size;
        cfg.framing = m.framing;
        cfg.rnn_hidden = m.rnn_hidden;
        cfg.rnn_layers = m.rnn_layers;
        cfg.clip_fps = self.data.clip_fps;
        cfg.modality = m.modality;
        cfg.new_length = m.new_length;
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_original_recipe() {
        let c = RunConfig::default();
        assert_eq!(c.optim.lr, 0.001);
        assert_eq!(c.optim.lr_steps, vec![15, 25]);
        assert_eq!((c.optim.momentum, c.optim.weight_decay), (0.9, 5e-4));
        assert_eq!((c.optim.epochs, c.optim.clip_gradient), (30, 20.0));
        assert!(c.model.partial_bn);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no data root"));
    }

    #[test]
    fn toml_round_trip_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.toml");
        std::fs::write(
            &p,
            "[model]\narch = \"squeezenet1_1\"\nconsensus = \"MLP\"\nsegments = 4\n\
             [optim]\nlr_steps = [3]\noptimizer = \"adam\"\n",
        )
        .unwrap();
        let c = RunConfig::from_toml_file(&p).unwrap();
        assert_eq!(c.model.arch, Arch::SqueezeNet11);
        assert_eq!(c.model.consensus, Consensus::Mlp);
        assert_eq!(c.optim.optimizer, OptimizerKind::Adam);
        assert_eq!(c.optim.batch_size, 16);
        let back: RunConfig = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
        std::fs::write(&p, "[optim]\nlearning_rate = 0.1\n").unwrap();
        let e = RunConfig::from_toml_file(&p).unwrap_err().to_string();
        assert!(e.contains("learning_rate"), "{e}");
    }

    #[test]
    fn shipped_recipes_parse() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/training"));
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                let c = RunConfig::from_toml_file(&p).unwrap();
                c.model_config(vec!["x".into(); 3]).unwrap();
                n += 1;
            }
        }
        assert!(
            n >= 3,
            "expected the Jester, Something-Something and demo recipes"
        );
    }
}
