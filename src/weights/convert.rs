//! From an original checkpoint (or an ImageNet state_dict) to our weights file: strip
//! `module.`, rename ImageNet layouts to `base_model.*`, drop what the model does not use
//! (`num_batches_tracked`, the ImageNet classifier), check every name and shape against the model,
//! and write atomically. Nothing is written on error.

use super::{import, save_with, Contents};
use crate::model::config::{Arch, Consensus, Modality, ModelConfig};
use crate::model::spec::{diff_report, expected_backbone_tensors, expected_tensors};
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
    if opts.labels.is_empty() {
        return Err(Error::Config(missing_labels(&tensors, opts.consensus)?));
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
    if let Some(b) = classifier_bias(opts.consensus).and_then(|k| tensors.get(k)) {
        check_classes(&cfg, b.dim(0)?, "the classifier")?;
    }
    // TSN's RGBDiff models differ only in their first convolution's input channels (3 per
    // frame difference); the original's checkpoints do not store the modality.
    let first_conv = match cfg.arch {
        Arch::SqueezeNet11 => "base_model.0.weight",
        Arch::BnInception => "base_model.conv1_7x7_s2.weight",
        // Reads landmarks, not channels: never a frame-difference model.
        Arch::HandLandmarks => "",
    };
    if let Some(w) = tensors.get(first_conv) {
        let c_in = w.dim(1)?;
        if c_in != 3 {
            if !c_in.is_multiple_of(3) {
                return Err(Error::Config(format!(
                    "{first_conv} reads {c_in} input channels: neither RGB (3) nor RGBDiff \
                     (3 per frame difference)"
                )));
            }
            cfg.modality = Modality::RgbDiff;
            cfg.new_length = c_in / 3;
        }
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

/// Why a whole model cannot be converted without `--labels`, with its class count when the
/// classifier shows it.
fn missing_labels(tensors: &HashMap<String, Tensor>, consensus: Consensus) -> Result<String> {
    let classes = match classifier_bias(consensus) {
        Some(name) => tensors.get(name).map(|b| b.dim(0)).transpose()?,
        None => tensors.get("new_fc.weight").map(|w| w.dim(0)).transpose()?,
    };
    let what = match classes {
        Some(n) => format!("a whole {consensus} model with {n} classes"),
        None => "a whole model (base_model.*, new_fc.*)".to_string(),
    };
    Ok(format!(
        "this checkpoint is {what}: give its label list with --labels FILE (one class a line, in \
         index order, as Jester's category.txt)"
    ))
}

/// The head's last bias, whose length is the class count (`avg` has none: `new_fc` classifies).
fn classifier_bias(consensus: Consensus) -> Option<&'static str> {
    match consensus {
        Consensus::Mlp => Some("consensus.classifier.4.bias"),
        Consensus::Fcn => Some("consensus.classifier.17.bias"),
        Consensus::TrnMultiscale => Some("consensus.fc_fusion_scales.0.3.bias"),
        Consensus::Avg => None,
        _ => Some("consensus.fc.bias"),
    }
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
/// (top-level layer names, `last_linear.*`): keep the backbone as `base_model.*`. No head is
/// built, so no labels are needed (any given are not stored).
fn convert_imagenet(
    tensors: HashMap<String, Tensor>,
    mut cfg: ModelConfig,
) -> Result<(ModelConfig, HashMap<String, Tensor>, Contents)> {
    cfg.labels.clear();
    cfg.num_classes = 0;
    let mut names: Vec<String> = tensors.keys().cloned().collect();
    names.sort();
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
            Arch::HandLandmarks => {
                return Err(Error::Config(
                    "hand_landmarks has no ImageNet backbone to convert".into(),
                ))
            }
        };
        out.insert(renamed, t);
    }
    let expected = expected_backbone_tensors(cfg.arch)?;
    let actual: BTreeMap<String, Vec<usize>> = out
        .iter()
        .map(|(k, t)| (k.clone(), t.dims().to_vec()))
        .collect();
    // Nothing in common: not a near miss to list tensor by tensor, but the wrong kind of file.
    if !actual.keys().any(|k| expected.contains_key(k)) {
        let found = if names.is_empty() {
            "it holds no tensors".to_string()
        } else {
            format!(
                "its {} tensors are named like {}",
                names.len(),
                names[..names.len().min(3)].join(", ")
            )
        };
        return Err(Error::Config(format!(
            "neither a model checkpoint (base_model.*, new_fc.*, consensus.*) nor a {} ImageNet \
             state_dict ({}): {found}",
            cfg.arch,
            match cfg.arch {
                Arch::SqueezeNet11 => "torchvision's names: features.0.weight, ...",
                Arch::BnInception => "pretrainedmodels' names: conv1_7x7_s2.weight, ...",
                Arch::HandLandmarks => "none exists",
            },
        )));
    }
    if let Some(details) = diff_report(&expected, &actual) {
        return Err(Error::Mismatch {
            model: format!("the {} ImageNet backbone", cfg.arch),
            details,
        });
    }
    Ok((cfg, out, Contents::Backbone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn opts(arch: Arch, labels: usize) -> ConvertOptions {
        ConvertOptions {
            arch,
            consensus: Consensus::TrnMultiscale,
            num_segments: 8,
            labels: (0..labels).map(|i| format!("class {i}")).collect(),
            img_feature_dim: None,
            clip_fps: 12.0,
        }
    }

    /// A state_dict of zeros with `arch`'s ImageNet names (torchvision / pretrainedmodels),
    /// the ImageNet classifier and BatchNorm's `num_batches_tracked` included, under `prefix`.
    fn imagenet_state_dict(arch: Arch, prefix: &str) -> Vec<(String, Tensor)> {
        let mut sd: Vec<(String, Tensor)> = expected_backbone_tensors(arch)
            .unwrap()
            .into_iter()
            .map(|(name, shape)| {
                let rest = name.strip_prefix("base_model.").unwrap();
                let name = match arch {
                    Arch::SqueezeNet11 => format!("features.{rest}"),
                    Arch::BnInception | Arch::HandLandmarks => rest.to_string(),
                };
                (
                    name,
                    Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap(),
                )
            })
            .collect();
        let (classifier, tracked) = match arch {
            Arch::SqueezeNet11 => ("classifier.1.weight", None),
            Arch::BnInception | Arch::HandLandmarks => (
                "last_linear.weight",
                Some("conv1_7x7_s2_bn.num_batches_tracked"),
            ),
        };
        let zeros = |n| Tensor::zeros(n, DType::F32, &Device::Cpu).unwrap();
        sd.push((classifier.to_string(), zeros(10)));
        if let Some(t) = tracked {
            sd.push((t.to_string(), Tensor::new(3i64, &Device::Cpu).unwrap()));
        }
        sd.into_iter()
            .map(|(n, t)| (format!("{prefix}{n}"), t))
            .collect()
    }

    #[test]
    fn imagenet_state_dicts_need_no_labels() {
        for arch in Arch::ALL {
            for prefix in ["", "module."] {
                let sd = imagenet_state_dict(arch, prefix);
                let (cfg, tensors, contents) =
                    convert_state_dict(sd, &BTreeMap::new(), &opts(arch, 0)).unwrap();
                assert_eq!(contents, Contents::Backbone);
                assert_eq!(cfg.arch, arch);
                assert_eq!(cfg.num_classes, 0);
                let want = expected_backbone_tensors(arch).unwrap();
                assert_eq!(tensors.len(), want.len(), "{arch} {prefix}");
                assert!(tensors.keys().all(|k| want.contains_key(k)));
            }
            // Labels given anyway change nothing and are not stored.
            let sd = imagenet_state_dict(arch, "");
            let (cfg, _, _) = convert_state_dict(sd, &BTreeMap::new(), &opts(arch, 27)).unwrap();
            assert!(cfg.labels.is_empty());
        }
    }

    #[test]
    fn imagenet_errors_say_what_is_wrong() {
        let none = BTreeMap::new();
        // The other backbone's state_dict.
        let sd = imagenet_state_dict(Arch::BnInception, "");
        let e = convert_state_dict(sd, &none, &opts(Arch::SqueezeNet11, 0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--arch squeezenet1_1 given, but the tensors are BNInception"),
            "{e}"
        );
        // A tensor missing and one mis-shaped: both named.
        let mut sd = imagenet_state_dict(Arch::SqueezeNet11, "");
        sd.retain(|(n, _)| n != "features.0.bias");
        for (n, t) in sd.iter_mut() {
            if n == "features.3.squeeze.bias" {
                *t = Tensor::zeros(5, DType::F32, &Device::Cpu).unwrap();
            }
        }
        let e = convert_state_dict(sd, &none, &opts(Arch::SqueezeNet11, 0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("squeezenet1_1 ImageNet backbone")
                && e.contains("1 missing: base_model.0.bias")
                && e.contains("base_model.3.squeeze.bias (expected [16], found [5])"),
            "{e}"
        );
        // Something else entirely.
        let sd = vec![(
            "encoder.layer0.weight".to_string(),
            Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap(),
        )];
        let e = convert_state_dict(sd, &none, &opts(Arch::BnInception, 0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("neither a model checkpoint")
                && e.contains("its 1 tensors are named like encoder.layer0.weight"),
            "{e}"
        );
    }

    #[test]
    fn rgb_diff_models_are_recognised_by_their_first_convolution() {
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Mlp, 3, vec!["x".into(); 4]);
        cfg.modality = Modality::RgbDiff;
        cfg.new_length = 5;
        let expected = expected_tensors(&cfg, BuildOptions::training(false, 0)).unwrap();
        assert_eq!(expected["base_model.0.weight"], vec![64, 15, 3, 3]);
        let sd: Vec<(String, Tensor)> = expected
            .iter()
            .map(|(k, s)| {
                let t = Tensor::zeros(s.as_slice(), DType::F32, &Device::Cpu).unwrap();
                (format!("module.{k}"), t)
            })
            .collect();
        let mut o = opts(Arch::SqueezeNet11, 4);
        o.num_segments = 3;
        o.consensus = Consensus::Mlp;
        let (got, _, _) = convert_state_dict(sd.clone(), &BTreeMap::new(), &o).unwrap();
        assert_eq!((got.modality, got.new_length), (Modality::RgbDiff, 5));
        // Channels that are not whole frames are refused, naming the tensor.
        let odd: Vec<(String, Tensor)> = sd
            .into_iter()
            .map(|(k, t)| {
                if k == "module.base_model.0.weight" {
                    (
                        k,
                        Tensor::zeros((64, 4, 3, 3), DType::F32, &Device::Cpu).unwrap(),
                    )
                } else {
                    (k, t)
                }
            })
            .collect();
        let e = convert_state_dict(odd, &BTreeMap::new(), &o)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("base_model.0.weight reads 4 input channels"),
            "{e}"
        );
    }

    #[test]
    fn a_whole_model_without_labels_asks_for_them() {
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Mlp, 3, vec!["x".into(); 7]);
        cfg.img_feature_dim = 16;
        let sd: Vec<(String, Tensor)> = expected_tensors(&cfg, BuildOptions::training(false, 0))
            .unwrap()
            .into_iter()
            .map(|(n, s)| (n, Tensor::zeros(s, DType::F32, &Device::Cpu).unwrap()))
            .collect();
        let mut o = opts(Arch::SqueezeNet11, 0);
        o.consensus = Consensus::Mlp;
        o.num_segments = 3;
        let e = convert_state_dict(sd.clone(), &BTreeMap::new(), &o)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a whole MLP model with 7 classes") && e.contains("--labels FILE"),
            "{e}"
        );
        o.labels = vec!["x".into(); 7];
        let (got, _, contents) = convert_state_dict(sd, &BTreeMap::new(), &o).unwrap();
        assert_eq!(
            (contents, got.num_classes, got.img_feature_dim),
            (Contents::Model, 7, 16)
        );
    }
}
