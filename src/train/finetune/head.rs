//! The head a fine-tuning trains on backbone features: dropout, `new_fc` and the consensus head,
//! under the model's own tensor names so it drops into a weights file as it is. It starts from
//! the base model's head wherever that fits: tensors of the same name and shape are copied, and
//! the class layer is copied row by row for every label the base model already knows, so a data
//! set with a subset of the base's labels starts where the base model stands.

use crate::model::config::{ModelConfig, TrnMode};
use crate::model::consensus::ConsensusHead;
use crate::model::layers::{linear, seeded_dropout, BnMode, Dense};
use crate::model::spec::expected_tensors;
use crate::model::tsn::BuildOptions;
use crate::Result;
use candle_core::{DType, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Seeds the head's dropout masks (apart from every other draw of the same seed).
const DROPOUT_STREAM: u64 = 0xd50f_d50f;

/// `new_fc` + consensus over cached backbone features.
#[derive(Debug)]
pub struct Head {
    new_fc: Dense,
    consensus: ConsensusHead,
    dropout: f32,
    /// Draws the dropout masks, so that one seed gives one run.
    masks: Mutex<StdRng>,
}

impl Head {
    /// The head of `cfg` under the root `vb` (tensors `new_fc.*`, `consensus.*`).
    /// `train_mode`: TRN draws its relations at random, as in training; otherwise the
    /// deterministic expectation the live app uses.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder, seed: u64, train_mode: bool) -> Result<Self> {
        let mut cfg = cfg.clone();
        cfg.trn_mode = if train_mode {
            TrnMode::Random
        } else {
            TrnMode::Expectation
        };
        let new_fc = linear(
            cfg.arch.feature_dim(),
            cfg.frame_feature_dim(),
            vb.pp("new_fc"),
        )?;
        let consensus = ConsensusHead::new(&cfg, BnMode::Trainable, seed, vb.pp("consensus"))?;
        Ok(Head {
            new_fc,
            consensus,
            dropout: cfg.dropout,
            masks: Mutex::new(StdRng::seed_from_u64(crate::util::mix_seed(
                seed,
                DROPOUT_STREAM,
            ))),
        })
    }

    /// `[b, N, F]` backbone features → `[b, C]` logits.
    pub fn forward_t(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        let x = if train {
            let mut rng = self.masks.lock().unwrap_or_else(|e| e.into_inner());
            seeded_dropout(features, self.dropout, &mut *rng)? // [b, N, F]
        } else {
            features.clone()
        };
        let x = self.new_fc.forward(&x)?; // [b, N, D]
        Ok(self.consensus.forward_t(&x, train)?) // [b, C]
    }
}

/// Name → shape of the head's tensors (everything outside `base_model.`) for `cfg`.
pub fn head_tensors(cfg: &ModelConfig) -> Result<BTreeMap<String, Vec<usize>>> {
    let all = expected_tensors(cfg, BuildOptions::training(false, 0))?;
    Ok(all
        .into_iter()
        .filter(|(k, _)| !k.starts_with("base_model."))
        .collect())
}

/// The head tensors whose first dimension is the class count (the class layer: MLP's last
/// Linear, TRN's last layer per scale, the recurrent heads' `fc`, FCN's last conv, `new_fc` for
/// `avg`), found by building the head for one more class and seeing what changes.
pub fn class_tensors(cfg: &ModelConfig) -> Result<Vec<String>> {
    let mut more = cfg.clone();
    more.labels.push(String::from("\u{0}extra"));
    more.num_classes += 1;
    let (a, b) = (head_tensors(cfg)?, head_tensors(&more)?);
    Ok(a.iter()
        .filter(|(name, shape)| {
            b.get(*name).is_some_and(|s| {
                s.len() == shape.len()
                    && s[0] == shape[0] + 1
                    && s[1..] == shape[1..]
                    && shape[0] == cfg.num_classes
            })
        })
        .map(|(name, _)| name.clone())
        .collect())
}

/// What [`init_from_base`] took from the base model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeadInit {
    /// Head tensors copied whole.
    pub copied: Vec<String>,
    /// Labels whose class-layer rows came from the base model.
    pub known_labels: Vec<String>,
    /// Labels the base model does not know (their rows start at random).
    pub new_labels: Vec<String>,
}

impl HeadInit {
    /// One line for the run log.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "head: {} tensors from the base model; class rows of {} known label(s)",
            self.copied.len(),
            self.known_labels.len()
        );
        if !self.new_labels.is_empty() {
            s.push_str(&format!(", new: {}", self.new_labels.join(", ")));
        }
        s
    }
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

/// Sets the head variables in `vars` (built for `cfg`) from the base model's tensors where they
/// fit: same name and shape, or — for the class layer — the rows of labels the base knows
/// (matched by name). `base` is `None` for a backbone-only file.
pub fn init_from_base(
    vars: &VarMap,
    cfg: &ModelConfig,
    base: Option<(&ModelConfig, &HashMap<String, Tensor>)>,
) -> Result<HeadInit> {
    let mut report = HeadInit::default();
    let Some((base_cfg, tensors)) = base else {
        report.new_labels = cfg.labels.clone();
        return Ok(report);
    };
    // Base row of each new label, by name.
    let rows: Vec<Option<usize>> = cfg
        .labels
        .iter()
        .map(|l| base_cfg.labels.iter().position(|b| b == l))
        .collect();
    let class = class_tensors(cfg)?;
    let base_class = class_tensors(base_cfg)?;
    let data = vars.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data
        .keys()
        .filter(|k| !k.starts_with("base_model."))
        .collect();
    names.sort();
    let mut any_rows = false;
    for name in names {
        let var = &data[name];
        let Some(src) = tensors.get(name) else {
            continue;
        };
        if class.contains(name) && base_class.contains(name) {
            // The class layer: the other dimensions must agree, rows move by label.
            let (dst_dims, src_dims) = (var.dims(), src.dims());
            if dst_dims[1..] != src_dims[1..] {
                continue;
            }
            let row = dst_dims[1..].iter().product::<usize>();
            let mut out = values(var.as_tensor())?;
            let from = values(src)?;
            for (i, r) in rows.iter().enumerate() {
                if let Some(j) = r {
                    out[i * row..(i + 1) * row].copy_from_slice(&from[j * row..(j + 1) * row]);
                    any_rows = true;
                }
            }
            var.set(&Tensor::from_vec(out, dst_dims, var.device())?)?;
        } else if var.dims() == src.dims() && !class.contains(name) {
            var.set(&src.to_dtype(DType::F32)?.to_device(var.device())?)?;
            report.copied.push(name.clone());
        }
    }
    for (label, r) in cfg.labels.iter().zip(&rows) {
        match r {
            Some(_) if any_rows => report.known_labels.push(label.clone()),
            _ => report.new_labels.push(label.clone()),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Arch, Consensus};
    use crate::train::init::{seeded_var_builder, LinearInit};
    use candle_core::Device;

    fn cfg(consensus: Consensus, labels: &[&str]) -> ModelConfig {
        let mut c = ModelConfig::new(
            Arch::SqueezeNet11,
            consensus,
            3,
            labels.iter().map(|s| s.to_string()).collect(),
        );
        c.input_size = 32;
        c.resize_size = 32;
        c
    }

    fn build(c: &ModelConfig, seed: u64) -> (VarMap, Head) {
        let vars = VarMap::new();
        let head = Head::new(
            c,
            seeded_var_builder(&vars, seed, LinearInit::Candle, &Device::Cpu),
            seed,
            true,
        )
        .unwrap();
        (vars, head)
    }

    fn tensors(vars: &VarMap) -> HashMap<String, Tensor> {
        let data = vars.data().lock().unwrap();
        data.iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().copy().unwrap()))
            .collect()
    }

    #[test]
    fn class_layers_are_found_for_every_head() {
        for consensus in Consensus::ALL {
            let c = cfg(consensus, &["a", "b", "c"]);
            let class = class_tensors(&c).unwrap();
            assert!(!class.is_empty(), "{consensus}");
            let heads = head_tensors(&c).unwrap();
            for name in &class {
                assert_eq!(heads[name][0], 3, "{consensus} {name}");
            }
        }
        let mlp = class_tensors(&cfg(Consensus::Mlp, &["a", "b"])).unwrap();
        assert_eq!(
            mlp,
            vec![
                "consensus.classifier.4.bias",
                "consensus.classifier.4.weight"
            ]
        );
    }

    #[test]
    fn head_is_rebuilt_for_a_label_subset_and_new_labels() {
        let base_cfg = cfg(
            Consensus::Mlp,
            &["Swiping Left", "Swiping Right", "Zoom", "Stop"],
        );
        let (base_vars, _) = build(&base_cfg, 1);
        let base = tensors(&base_vars);
        // A reordered subset plus one new label.
        let new_cfg = cfg(Consensus::Mlp, &["Stop", "Swiping Left", "Thumb Up"]);
        let (vars, head) = build(&new_cfg, 2);
        let fresh = tensors(&vars);
        let init = init_from_base(&vars, &new_cfg, Some((&base_cfg, &base))).unwrap();
        assert_eq!(init.known_labels, vec!["Stop", "Swiping Left"]);
        assert_eq!(init.new_labels, vec!["Thumb Up"]);
        let now = tensors(&vars);
        let rows = |t: &Tensor| t.to_vec2::<f32>().unwrap();
        let w = "consensus.classifier.4.weight";
        assert_eq!(now[w].dims(), &[3, 512]);
        assert_eq!(rows(&now[w])[0], rows(&base[w])[3], "Stop");
        assert_eq!(rows(&now[w])[1], rows(&base[w])[0], "Swiping Left");
        assert_eq!(
            rows(&now[w])[2],
            rows(&fresh[w])[2],
            "new label stays random"
        );
        let b = "consensus.classifier.4.bias";
        assert_eq!(
            now[b].to_vec1::<f32>().unwrap()[0],
            base[b].to_vec1::<f32>().unwrap()[3]
        );
        // Same-shaped layers are copied whole.
        for name in ["new_fc.weight", "consensus.classifier.1.weight"] {
            assert!(init.copied.contains(&name.to_string()), "{name}");
            assert_eq!(values(&now[name]).unwrap(), values(&base[name]).unwrap());
        }
        // The rebuilt head answers with the new class count.
        let x = Tensor::randn(0f32, 1., (2, 3, 512), &Device::Cpu).unwrap();
        assert_eq!(head.forward_t(&x, true).unwrap().dims(), &[2, 3]);
    }

    #[test]
    fn another_head_or_no_base_starts_fresh() {
        let base_cfg = cfg(Consensus::Mlp, &["a", "b"]);
        let (base_vars, _) = build(&base_cfg, 1);
        let base = tensors(&base_vars);
        let new_cfg = cfg(Consensus::TrnMultiscale, &["a", "b"]);
        let (vars, _) = build(&new_cfg, 2);
        let init = init_from_base(&vars, &new_cfg, Some((&base_cfg, &base))).unwrap();
        assert_eq!(init.copied, vec!["new_fc.bias", "new_fc.weight"]);
        assert!(
            init.known_labels.is_empty(),
            "no class layer to take rows from"
        );
        let none = init_from_base(&vars, &new_cfg, None).unwrap();
        assert_eq!(none.new_labels, vec!["a", "b"]);
    }
}
