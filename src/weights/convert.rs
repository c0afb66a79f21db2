//! From an original checkpoint (or an ImageNet state_dict) to our weights file: strip
//! `module.`, rename ImageNet layouts to `base_model.*`, drop what the model does not use
//! (`num_batches_tracked`, the ImageNet classifier), check every name and shape against the model,
//! and write atomically. Nothing is written on error.

use super::{import, save_with, Contents};
use crate::model::config::{Arch, Consensus, ModelConfig};
use crate::model::spec::{diff_report, expected_tensors};
use crate::model::tsn::BuildOptions;
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// What the user told `convert`.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    pub arch: Arch,
    pub consensus: Consensus,
    pub num_segments: usize,
    pub labels: Vec<String>,
    /// `--img-feature-dim`; inferred from `new_fc` when absent.
    pub img_feature_dim: Option<usize>,
    /// Frame rate of the training clips (Jester: 12).
    pub clip_fps: f32,
}

/// What was converted.
#[derive(Debug, Clone)]
pub struct ConvertSummary {
    pub config: ModelConfig,
    pub contents: Contents,
    pub tensors: usize,
    pub parameters: usize,
}

/// Reads `input` (`.pth.tar` / `.pth`, zip or legacy), converts and writes `output`.
pub fn convert_checkpoint(
    input: &Path,
    output: &Path,
    opts: &ConvertOptions,
) -> Result<ConvertSummary> {
    let ckpt = import::read_checkpoint(input)?;
    let (config, tensors, contents) =
        convert_state_dict(ckpt.tensors, &ckpt.meta, opts).map_err(|e| match e {
            Error::Mismatch { model, details } => Error::BadFile {
                path: input.to_path_buf(),
                reason: format!("weights do not match {model}: {details}"),
            },
            Error::Config(reason) => Error::BadFile {
                path: input.to_path_buf(),
                reason,
            },
            other => other,
        })?;
    let parameters = tensors.values().map(|t| t.elem_count()).sum();
    let mut config = config;
    config.provenance.insert(
        "converted_from".into(),
        input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    for (k, v) in &ckpt.meta {
        if matches!(k.as_str(), "epoch" | "best_prec1" | "arch") {
            config
                .provenance
                .insert(format!("checkpoint_{k}"), v.clone());
        }
    }
    save_with(output, &tensors, &config, contents)?;
    Ok(ConvertSummary {
        config,
        contents,
        tensors: tensors.len(),
        parameters,
    })
}

/// Which layout a state_dict uses, by its names.
fn guess_arch(names: &[&str]) -> Option<Arch> {
    if names.iter().any(|n| n.contains("conv1_7x7_s2")) {
        Some(Arch::BnInception)
    } else if names.iter().any(|n| n.contains("expand3x3")) {
        Some(Arch::SqueezeNet11)
    } else {
        None
    }
}

/// Renames and filters a state_dict, then checks it against the model `opts` describe.
pub fn convert_state_dict(
    raw: Vec<(String, Tensor)>,
    meta: &BTreeMap<String, String>,
    opts: &ConvertOptions,
) -> Result<(ModelConfig, HashMap<String, Tensor>, Contents)> {
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for (name, t) in raw {
        let name = name.strip_prefix("module.").unwrap_or(&name).to_string();
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        tensors.insert(name, t.to_dtype(DType::F32)?);
    }
    let names: Vec<&str> = tensors.keys().map(String::as_str).collect();
    if let Some(found) = guess_arch(&names) {
        if found != opts.arch {
            return Err(Error::Config(format!(
                "--arch {} given, but the tensors are {} (layer names such as {})",
                opts.arch,
                found,
                if found == Arch::BnInception {
                    "conv1_7x7_s2"
                } else {
                    "expand3x3"
                }
            )));
        }
    }
    if let Some(a) = meta.get("arch") {
        if a.parse::<Arch>().ok().is_some_and(|a| a != opts.arch) {
            return Err(Error::Config(format!(
                "--arch {} given, but the checkpoint says arch '{a}'",
                opts.arch
            )));
        }
    }

    let full_model = tensors
        .keys()
        .any(|k| k.starts_with("base_model.") || k.starts_with("new_fc."));
    let mut cfg = ModelConfig::new(
        opts.arch,
        opts.consensus,
        opts.num_segments,
        opts.labels.clone(),
    );
    cfg.clip_fps = opts.clip_fps;
    if !full_model {
        return convert_imagenet(tensors, cfg);
    }

    // What the tensors say about the sizes the user did not give.
    if let Some(w) = tensors.get("new_fc.weight") {
        let rows = w.dim(0)?;
        if opts.consensus == Consensus::Avg {
            check_classes(&cfg, rows, "new_fc")?;
        } else {
            match opts.img_feature_dim {
                Some(d) if d != rows => {
                    return Err(Error::Config(format!(
                        "--img-feature-dim {d} given, but new_fc has {rows} outputs"
                    )))
                }
                _ => cfg.img_feature_dim = rows,
            }
        }
    }
    if let Some(w) = tensors.get("consensus.rnn.weight_hh_l0") {
        let h = w.dim(1)?;
        cfg.rnn_hidden = if opts.consensus == Consensus::Blstm {
            2 * h
        } else {
            h
        };
        cfg.rnn_layers = (0..)
            .take_while(|l| tensors.contains_key(&format!("consensus.rnn.weight_ih_l{l}")))
            .count()
            .max(1);
    }
    let classifier = match opts.consensus {
        Consensus::Mlp => Some("consensus.classifier.4.bias"),
        Consensus::Fcn => Some("consensus.classifier.17.bias"),
        Consensus::TrnMultiscale => Some("consensus.fc_fusion_scales.0.3.bias"),
        Consensus::Avg => None,
        _ => Some("consensus.fc.bias"),
    };
    if let Some(b) = classifier.and_then(|k| tensors.get(k)) {
        check_classes(&cfg, b.dim(0)?, "the classifier")?;
    }
    cfg.validate()?;

    let model_name = format!("{} + {} (N={})", cfg.arch, cfg.consensus, cfg.num_segments);
    let expected = expected_tensors(&cfg, BuildOptions::training(false, 0))?;
    let actual: BTreeMap<String, Vec<usize>> = tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.dims().to_vec()))
        .collect();
    if let Some(details) = diff_report(&expected, &actual) {
        return Err(Error::Mismatch {
            model: model_name,
            details,
        });
    }
    Ok((cfg, tensors, Contents::Model))
}

fn check_classes(cfg: &ModelConfig, outputs: usize, what: &str) -> Result<()> {
    if outputs != cfg.num_classes {
        return Err(Error::Config(format!(
            "the label list has {} classes but {what} has {outputs} outputs",
            cfg.num_classes
        )));
    }
    Ok(())
}

/// torchvision squeezenet1_1 (`features.*`, `classifier.*`) or pretrainedmodels bninception
/// (top-level layer names, `last_linear.*`): keep the backbone as `base_model.*`.
fn convert_imagenet(
    tensors: HashMap<String, Tensor>,
    cfg: ModelConfig,
) -> Result<(ModelConfig, HashMap<String, Tensor>, Contents)> {
    let mut out = HashMap::new();
    for (name, t) in tensors {
        let renamed = match cfg.arch {
            Arch::SqueezeNet11 => match name.strip_prefix("features.") {
                Some(rest) => format!("base_model.{rest}"),
                None if name.starts_with("classifier.") => continue,
                None => name,
            },
            Arch::BnInception => {
                if name.starts_with("last_linear.") || name.starts_with("fc.") {
                    continue;
                }
                format!("base_model.{name}")
            }
        };
        out.insert(renamed, t);
    }
    let expected: BTreeMap<String, Vec<usize>> =
        expected_tensors(&cfg, BuildOptions::training(false, 0))?
            .into_iter()
            .filter(|(k, _)| k.starts_with("base_model."))
            .collect();
    let actual = out
        .iter()
        .map(|(k, t)| (k.clone(), t.dims().to_vec()))
        .collect();
    if let Some(details) = diff_report(&expected, &actual) {
        return Err(Error::Mismatch {
            model: format!("the {} ImageNet backbone", cfg.arch),
            details,
        });
    }
    Ok((cfg, out, Contents::Backbone))
}
