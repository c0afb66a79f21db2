//! A training session: the run folder, the data sets, the trainable network with its
//! optimiser, set up fresh or restored from the run's checkpoint.

use crate::model::config::{ModelConfig, TrnMode};
use crate::model::tsn::{BuildOptions, Tsn};
use crate::train::checkpoint::{self, CheckpointState};
use crate::train::config::RunConfig;
use crate::train::data::flip::FlipPolicy;
use crate::train::data::loader::{default_workers, LoaderOptions};
use crate::train::data::{DataSpec, Dataset, FrameNaming};
use crate::train::optim::Optimizer;
use crate::train::params::{is_running_stat, trainable_params, GroupSummary};
use crate::util::write_atomic;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The files of a run folder.
#[derive(Debug, Clone)]
pub struct RunPaths {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub checkpoint: PathBuf,
    pub best: PathBuf,
    pub curves: PathBuf,
    pub log: PathBuf,
    /// Written when the run looks collapsed ([`crate::train::collapse`]).
    pub diagnosis: PathBuf,
}

impl RunPaths {
    /// The files in `dir`.
    pub fn new(dir: &Path) -> Self {
        RunPaths {
            dir: dir.to_path_buf(),
            config: dir.join("config.toml"),
            checkpoint: dir.join("checkpoint.safetensors"),
            best: dir.join("best.safetensors"),
            curves: dir.join("curves.png"),
            log: dir.join("train.log"),
            diagnosis: dir.join("diagnosis.txt"),
        }
    }
}

/// Everything a running training needs.
pub struct Session {
    pub cfg: RunConfig,
    pub model_cfg: ModelConfig,
    pub paths: RunPaths,
    pub device: Device,
    pub varmap: VarMap,
    /// The network in its training form (TRN draws its relations at random, as the original).
    pub model: Tsn,
    /// The same variables in the inference form (TRN's deterministic expectation), for
    /// validation that agrees with `gesture-app eval`.
    pub eval_model: Tsn,
    pub optimizer: Optimizer,
    pub groups: GroupSummary,
    pub train: Arc<Dataset>,
    pub val: Arc<Dataset>,
    pub flip: FlipPolicy,
    pub loader: LoaderOptions,
    pub state: CheckpointState,
    /// Notes for the run log (what was loaded from where).
    pub notes: Vec<String>,
}

fn open_datasets(cfg: &RunConfig) -> Result<(Dataset, Dataset)> {
    let root = cfg.data.root.clone().expect("validated: root is set");
    let spec = DataSpec {
        root,
        labels: cfg.data.labels.clone(),
        frames_dir: cfg.data.frames_dir.clone(),
        naming: cfg.data.frame_digits.map(|digits| FrameNaming {
            digits,
            ext: "jpg".into(),
        }),
    };
    let train = spec.open(&cfg.data.train_list)?;
    let val = spec.open(&cfg.data.val_list)?;
    train.require_labels()?;
    val.require_labels()?;
    Ok((train, val))
}

/// Copies matching tensors of `file` into the model; returns a note on what was loaded.
fn load_pretrained(varmap: &VarMap, file: &Path) -> Result<String> {
    let weights = crate::weights::ensemble::first_member(crate::weights::load_file(file)?, file)?;
    let vars = varmap.data().lock().expect("varmap lock");
    let (mut loaded, mut wrong_shape) = (0, Vec::new());
    for (name, t) in &weights.tensors {
        // torchvision / pretrainedmodels names, in case the file kept them.
        let name = match name.strip_prefix("features.") {
            Some(rest) => format!("base_model.{rest}"),
            None => name.clone(),
        };
        let Some(var) = vars.get(&name) else { continue };
        let t = t.to_dtype(DType::F32)?.to_device(var.device())?;
        let t = if var.shape() == t.shape() {
            t
        } else if let Some(expanded) = rgb_kernel_for_diffs(&t, var.dims())? {
            expanded
        } else {
            wrong_shape.push(name);
            continue;
        };
        var.set(&t)?;
        loaded += 1;
    }
    if loaded == 0 {
        return Err(Error::Config(format!(
            "--pretrained {}: none of its {} tensors fits this model (is it the same --arch?)",
            file.display(),
            weights.tensors.len()
        )));
    }
    let total = vars.keys().filter(|k| !is_running_stat(k)).count();
    let mut note = format!(
        "initialised {loaded} tensors from {} ({} model tensors in all)",
        file.display(),
        total
    );
    if !wrong_shape.is_empty() {
        wrong_shape.sort();
        note.push_str(&format!(
            "; left at random init (shape differs): {}",
            wrong_shape.join(", ")
        ));
    }
    Ok(note)
}

/// An RGB first convolution `[o, 3, k, k]` for a model fed frame differences `[o, 3K, k, k]`:
/// TSN's `_construct_diff_model` initialisation, the kernel averaged over its colour channels
/// and repeated on every input channel. `None` when the shapes are not that case.
fn rgb_kernel_for_diffs(t: &Tensor, want: &[usize]) -> Result<Option<Tensor>> {
    let got = t.dims();
    let fits = got.len() == 4
        && want.len() == 4
        && got[1] == 3
        && want[1] > 3
        && want[1].is_multiple_of(3)
        && (got[0], got[2], got[3]) == (want[0], want[2], want[3]);
    if !fits {
        return Ok(None);
    }
    Ok(Some(t.mean_keepdim(1)?.broadcast_as(want)?.contiguous()?))
}

/// Deletes the temp files (`.tmp-*`) a killed run may have left while writing atomically.
fn remove_stale_temps(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            // A leftover that cannot be removed is harmless: it is never read.
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Session {
    fn build(
        cfg: RunConfig,
        paths: RunPaths,
        device: &Device,
        state: CheckpointState,
    ) -> Result<Self> {
        cfg.validate()?;
        let (train, val) = open_datasets(&cfg)?;
        if train.labels != val.labels {
            return Err(Error::Data(
                "the training and validation lists use different label files".into(),
            ));
        }
        let model_cfg = cfg.model_config(train.labels.clone())?;
        let varmap = VarMap::new();
        let vb = crate::train::init::seeded_var_builder(
            &varmap,
            cfg.run.seed,
            cfg.model.linear_init,
            device,
        );
        let build = BuildOptions::training(cfg.model.partial_bn, cfg.run.seed);
        let mut train_cfg = model_cfg.clone();
        train_cfg.trn_mode = TrnMode::Random;
        let model = Tsn::new(&train_cfg, vb.clone(), build)?;
        let eval_model = Tsn::new(&model_cfg, vb, build)?;
        let vars = varmap.data().lock().expect("varmap lock").clone();
        let (params, groups) = trainable_params(&vars, model_cfg.arch, cfg.model.partial_bn);
        let optimizer = Optimizer::new(params, cfg.optim_config());
        let flip = FlipPolicy::from_spec(&cfg.run.flip, &train.labels)?;
        let loader = LoaderOptions::for_model(
            &model_cfg,
            cfg.run.workers.unwrap_or_else(default_workers),
            4,
        );
        Ok(Session {
            cfg,
            model_cfg,
            paths,
            device: device.clone(),
            varmap,
            model,
            eval_model,
            optimizer,
            groups,
            train: Arc::new(train),
            val: Arc::new(val),
            flip,
            loader,
            state,
            notes: Vec::new(),
        })
    }

    /// A new run in `dir` (which must not hold one already).
    pub fn fresh(cfg: RunConfig, dir: &Path, device: &Device) -> Result<Self> {
        let paths = RunPaths::new(dir);
        if paths.checkpoint.exists() {
            return Err(Error::Config(format!(
                "{} already holds a run; continue it with --resume {} or choose another --run-dir",
                dir.display(),
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let state = CheckpointState {
            format: checkpoint::FORMAT,
            epoch: 0,
            seed: cfg.run.seed,
            optimizer_steps: 0,
            best_val_top1: None,
            best_epoch: None,
            history: Vec::new(),
        };
        let mut s = Self::build(cfg, paths, device, state)?;
        if let Some(p) = s.cfg.model.pretrained.clone() {
            let note = load_pretrained(&s.varmap, &p)?;
            s.notes.push(note);
        }
        write_atomic(&s.paths.config, s.cfg.to_toml().as_bytes())?;
        Ok(s)
    }

    /// Continues the run in `dir` from its checkpoint; `adjust` may change the saved
    /// configuration (more epochs, another learning rate) before it is used.
    pub fn resume(
        dir: &Path,
        device: &Device,
        adjust: impl FnOnce(&mut RunConfig),
    ) -> Result<Self> {
        let paths = RunPaths::new(dir);
        if !paths.config.exists() {
            return Err(Error::Config(format!(
                "{} is not a run folder (no config.toml)",
                dir.display()
            )));
        }
        let mut cfg = RunConfig::from_toml_file(&paths.config)?;
        let before = cfg.clone();
        adjust(&mut cfg);
        if !paths.checkpoint.exists() {
            return Err(Error::Config(format!(
                "{} has no checkpoint yet (the run stopped before its first epoch ended); \
                 start it again without --resume",
                dir.display()
            )));
        }
        remove_stale_temps(dir);
        let ckpt = checkpoint::load(&paths.checkpoint, device)?;
        let mut s = Self::build(cfg, paths, device, ckpt.state)?;
        s.restore_tensors(&ckpt.model)?;
        s.optimizer
            .load_state(&ckpt.optim, s.state.optimizer_steps)?;
        if s.cfg != before {
            write_atomic(&s.paths.config, s.cfg.to_toml().as_bytes())?;
        }
        s.notes.push(format!(
            "resumed from {} after epoch {}",
            s.paths.checkpoint.display(),
            s.state.epoch
        ));
        Ok(s)
    }

    fn restore_tensors(&self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let vars = self.varmap.data().lock().expect("varmap lock");
        let missing: Vec<&String> = vars.keys().filter(|k| !tensors.contains_key(*k)).collect();
        if !missing.is_empty() {
            return Err(Error::bad_file(
                &self.paths.checkpoint,
                format!("does not fit the run's model: missing {missing:?}"),
            ));
        }
        for (name, var) in vars.iter() {
            let t = &tensors[name];
            if t.shape() != var.shape() {
                return Err(Error::bad_file(
                    &self.paths.checkpoint,
                    format!(
                        "tensor {name} has shape {:?}, the model {:?}",
                        t.dims(),
                        var.dims()
                    ),
                ));
            }
            var.set(t)?;
        }
        Ok(())
    }

    /// The model's tensors (parameters and BatchNorm statistics), by state_dict name.
    pub fn model_tensors(&self) -> Vec<(String, Tensor)> {
        let vars = self.varmap.data().lock().expect("varmap lock");
        let mut v: Vec<(String, Tensor)> = vars
            .iter()
            .map(|(k, var)| (k.clone(), var.as_tensor().clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Writes the checkpoint of the current state.
    pub fn save_checkpoint(&self) -> Result<()> {
        checkpoint::save(
            &self.paths.checkpoint,
            &self.model_tensors(),
            &self.optimizer.state_tensors()?,
            &self.state,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Arch, Consensus};
    use crate::weights::{save_with, Contents};

    fn build(seed: u64) -> (VarMap, ModelConfig) {
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Avg, 2, vec!["a".into(); 3]);
        cfg.input_size = 32;
        cfg.resize_size = 32;
        let map = VarMap::new();
        let vb = crate::train::init::seeded_var_builder(
            &map,
            seed,
            crate::train::init::LinearInit::Candle,
            &Device::Cpu,
        );
        Tsn::new(&cfg, vb, BuildOptions::training(true, 0)).unwrap();
        (map, cfg)
    }

    fn values(map: &VarMap, name: &str) -> Vec<f32> {
        let data = map.data().lock().unwrap();
        data[name]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn pretrained_backbone_initialises_only_matching_tensors() {
        let (src, cfg) = build(1);
        let backbone: HashMap<String, Tensor> = src
            .data()
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("base_model."))
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imagenet.safetensors");
        save_with(&file, &backbone, &cfg, Contents::Backbone).unwrap();

        let (dst, _) = build(2);
        assert_ne!(
            values(&src, "base_model.0.weight"),
            values(&dst, "base_model.0.weight")
        );
        let note = load_pretrained(&dst, &file).unwrap();
        assert!(
            note.contains(&format!("initialised {} tensors", backbone.len())),
            "{note}"
        );
        for name in backbone.keys() {
            assert_eq!(values(&src, name), values(&dst, name), "{name}");
        }
        assert_ne!(values(&src, "new_fc.weight"), values(&dst, "new_fc.weight"));

        // A file for another backbone fits nothing: a clear error.
        let other: HashMap<String, Tensor> = HashMap::from([(
            "base_model.conv1_7x7_s2.weight".to_string(),
            Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
        )]);
        save_with(&file, &other, &cfg, Contents::Backbone).unwrap();
        let e = load_pretrained(&dst, &file).unwrap_err().to_string();
        assert!(e.contains("none of its 1 tensors fits this model"), "{e}");
    }

    #[test]
    fn an_rgb_first_convolution_initialises_a_diff_model_as_tsn_does() {
        let w = Tensor::arange(0f32, 2.0 * 3.0 * 4.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 3, 2, 2))
            .unwrap();
        let got = rgb_kernel_for_diffs(&w, &[2, 6, 2, 2]).unwrap().unwrap();
        assert_eq!(got.dims(), &[2, 6, 2, 2]);
        // Output 0, tap (0, 0): channels hold 0, 4, 8 → mean 4 on all six channels.
        let v: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
        assert!((0..6).all(|c| v[c * 4] == 4.0), "{v:?}");
        assert!((0..6).all(|c| v[24 + c * 4] == 16.0), "{v:?}");
        assert!(rgb_kernel_for_diffs(&w, &[2, 5, 2, 2]).unwrap().is_none());
        assert!(rgb_kernel_for_diffs(&w, &[3, 6, 2, 2]).unwrap().is_none());
    }
}
