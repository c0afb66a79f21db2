//! Which tensors of a model are trained, and in which parameter group (the original's
//! `get_optim_policies`): weights lr ×1 with decay, biases lr ×2 without decay, BatchNorm affine
//! parameters lr ×1 without decay. BatchNorm running statistics are never trained, and with
//! partial BatchNorm every BN layer of the backbone but the first is frozen.

use crate::model::config::Arch;
use crate::train::optim::Param;
use candle_core::Var;
use std::collections::{BTreeMap, HashMap};

/// The first BatchNorm of each backbone: the only one partial BN keeps training.
fn first_bn(arch: Arch) -> Option<&'static str> {
    match arch {
        Arch::BnInception => Some("base_model.conv1_7x7_s2_bn"),
        Arch::SqueezeNet11 | Arch::HandLandmarks => None,
    }
}

/// True for tensors that are state, not parameters.
pub fn is_running_stat(name: &str) -> bool {
    name.ends_with(".running_mean")
        || name.ends_with(".running_var")
        || name.ends_with(".num_batches_tracked")
}

/// How the tensors of a model were split up, for the run log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupSummary {
    /// (group name, tensors, scalars) per group.
    pub groups: BTreeMap<&'static str, (usize, usize)>,
    pub frozen: Vec<String>,
}

impl std::fmt::Display for GroupSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .groups
            .iter()
            .map(|(g, (n, s))| format!("{g}: {n} tensors / {s} values"))
            .collect();
        write!(f, "{}", parts.join(", "))?;
        if !self.frozen.is_empty() {
            write!(f, "; frozen (partial BN): {} tensors", self.frozen.len())?;
        }
        Ok(())
    }
}

/// Splits a model's variables into trainable parameters with their group multipliers.
/// A `X.weight`/`X.bias` is a BatchNorm parameter when `X.running_mean` exists.
pub fn trainable_params(
    vars: &HashMap<String, Var>,
    arch: Arch,
    partial_bn: bool,
) -> (Vec<Param>, GroupSummary) {
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let mut params = Vec::new();
    let mut summary = GroupSummary::default();
    for name in names {
        if is_running_stat(name) {
            continue;
        }
        let var = &vars[name];
        let layer = name.rsplit_once('.').map_or("", |(l, _)| l);
        let is_bn = vars.contains_key(&format!("{layer}.running_mean"));
        if is_bn && partial_bn && layer.starts_with("base_model.") && Some(layer) != first_bn(arch)
        {
            summary.frozen.push(name.clone());
            continue;
        }
        let leaf = name.rsplit('.').next().unwrap_or("");
        let is_bias = leaf == "bias" || leaf.starts_with("bias_");
        let (group, lr_mult, decay_mult) = if is_bn {
            ("bn", 1.0, 0.0)
        } else if is_bias {
            ("bias", 2.0, 0.0)
        } else {
            ("weight", 1.0, 1.0)
        };
        let e = summary.groups.entry(group).or_default();
        e.0 += 1;
        e.1 += var.elem_count();
        params.push(Param {
            name: name.clone(),
            var: var.clone(),
            lr_mult,
            decay_mult,
        });
    }
    (params, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn vars(names: &[&str]) -> HashMap<String, Var> {
        names
            .iter()
            .map(|n| {
                let t = Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap();
                (n.to_string(), Var::from_tensor(&t).unwrap())
            })
            .collect()
    }

    #[test]
    fn bninception_partial_bn_and_groups() {
        let v = vars(&[
            "base_model.conv1_7x7_s2.weight",
            "base_model.conv1_7x7_s2.bias",
            "base_model.conv1_7x7_s2_bn.weight",
            "base_model.conv1_7x7_s2_bn.bias",
            "base_model.conv1_7x7_s2_bn.running_mean",
            "base_model.conv1_7x7_s2_bn.running_var",
            "base_model.inception_3a_1x1_bn.weight",
            "base_model.inception_3a_1x1_bn.bias",
            "base_model.inception_3a_1x1_bn.running_mean",
            "base_model.inception_3a_1x1_bn.running_var",
            "new_fc.weight",
            "new_fc.bias",
            "consensus.rnn.weight_ih_l0",
            "consensus.rnn.bias_hh_l0",
            "consensus.classifier.2.weight",
            "consensus.classifier.2.bias",
            "consensus.classifier.2.running_mean",
            "consensus.classifier.2.running_var",
        ]);
        let (params, summary) = trainable_params(&v, Arch::BnInception, true);
        let got: HashMap<&str, (f64, f64)> = params
            .iter()
            .map(|p| (p.name.as_str(), (p.lr_mult, p.decay_mult)))
            .collect();
        assert_eq!(got.len(), 10);
        assert_eq!(got["base_model.conv1_7x7_s2.weight"], (1.0, 1.0));
        assert_eq!(got["base_model.conv1_7x7_s2.bias"], (2.0, 0.0));
        assert_eq!(got["base_model.conv1_7x7_s2_bn.bias"], (1.0, 0.0));
        assert_eq!(got["consensus.rnn.bias_hh_l0"], (2.0, 0.0));
        assert_eq!(got["consensus.rnn.weight_ih_l0"], (1.0, 1.0));
        // The FCN head's BN is not part of the backbone: it trains, without decay.
        assert_eq!(got["consensus.classifier.2.weight"], (1.0, 0.0));
        assert!(!got.contains_key("base_model.inception_3a_1x1_bn.weight"));
        assert_eq!(summary.frozen.len(), 2);
        assert!(summary.to_string().contains("frozen (partial BN): 2"));

        let (all, summary) = trainable_params(&v, Arch::BnInception, false);
        assert_eq!(all.len(), 12);
        assert!(summary.frozen.is_empty());
    }
}
