//! The exact tensor names and shapes a model configuration expects, read off the model itself by
//! building it against a recording variable store — so the list can never drift from the code.

use crate::model::backbone::Backbone;
use crate::model::config::{Arch, ModelConfig};
use crate::model::layers::BnMode;
use crate::model::tsn::{BuildOptions, Tsn};
use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

struct Recorder(Arc<Mutex<BTreeMap<String, Vec<usize>>>>);

impl SimpleBackend for Recorder {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> Result<Tensor> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), s.dims().to_vec());
        Tensor::zeros(s, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> Result<Tensor> {
        candle_core::bail!("shape of '{name}' unknown while recording the model's tensors")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        true
    }
}

/// Name → shape of every tensor the model of `cfg` reads, built with `opts` (folded BN expects
/// no BatchNorm tensors; unfolded expects them, running statistics included).
pub fn expected_tensors(
    cfg: &ModelConfig,
    opts: BuildOptions,
) -> Result<BTreeMap<String, Vec<usize>>> {
    record(|vb| Tsn::new(cfg, vb, opts).map(drop))
}

/// Name → shape of every tensor of `arch`'s backbone alone (`base_model.*`, BatchNorm
/// statistics included) for RGB input: what an ImageNet state_dict must provide. Needs no head,
/// so no labels.
pub fn expected_backbone_tensors(arch: Arch) -> Result<BTreeMap<String, Vec<usize>>> {
    record(|vb| {
        Backbone::new(
            arch,
            3,
            vb.pp("base_model"),
            BnMode::Trainable,
            BnMode::Trainable,
        )
        .map(drop)
    })
}

/// Every tensor `build` reads from the store it is given.
fn record(build: impl FnOnce(VarBuilder) -> Result<()>) -> Result<BTreeMap<String, Vec<usize>>> {
    let store = Arc::new(Mutex::new(BTreeMap::new()));
    let vb = VarBuilder::from_backend(Box::new(Recorder(store.clone())), DType::F32, Device::Cpu);
    build(vb)?;
    let map = store.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(map)
}

/// Compares `actual` with `expected`; on mismatch a readable report listing every missing,
/// unexpected and mis-shaped tensor by name.
pub fn diff_report(
    expected: &BTreeMap<String, Vec<usize>>,
    actual: &BTreeMap<String, Vec<usize>>,
) -> Option<String> {
    let missing: Vec<&String> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let unexpected: Vec<&String> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    let misshaped: Vec<String> = expected
        .iter()
        .filter_map(|(k, want)| {
            let got = actual.get(k)?;
            (got != want).then(|| format!("{k} (expected {want:?}, found {got:?})"))
        })
        .collect();
    if missing.is_empty() && unexpected.is_empty() && misshaped.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    let list = |v: Vec<String>| {
        const SHOW: usize = 12;
        let more = v.len().saturating_sub(SHOW);
        let mut s = v.into_iter().take(SHOW).collect::<Vec<_>>().join(", ");
        if more > 0 {
            s.push_str(&format!(", ... and {more} more"));
        }
        s
    };
    if !missing.is_empty() {
        parts.push(format!(
            "{} missing: {}",
            missing.len(),
            list(missing.into_iter().cloned().collect())
        ));
    }
    if !unexpected.is_empty() {
        parts.push(format!(
            "{} unexpected: {}",
            unexpected.len(),
            list(unexpected.into_iter().cloned().collect())
        ));
    }
    if !misshaped.is_empty() {
        parts.push(format!(
            "{} with the wrong shape: {}",
            misshaped.len(),
            list(misshaped)
        ));
    }
    Some(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Arch, Consensus};

    #[test]
    fn squeezenet_mlp_names_follow_pytorch() {
        let cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Mlp, 8, vec!["x".into(); 27]);
        let spec = expected_tensors(&cfg, BuildOptions::inference()).unwrap();
        assert_eq!(spec["base_model.0.weight"], vec![64, 3, 3, 3]);
        assert_eq!(spec["base_model.12.expand3x3.weight"], vec![256, 64, 3, 3]);
        assert_eq!(spec["new_fc.weight"], vec![256, 512]);
        assert_eq!(spec["consensus.classifier.1.weight"], vec![512, 2048]);
        assert_eq!(spec["consensus.classifier.4.bias"], vec![27]);
        // squeezenet1_1: 25 convs (weight + bias), new_fc, two linears.
        assert_eq!(spec.len(), 50 + 2 + 4);
    }

    #[test]
    fn backbone_alone_is_the_models_base_model() {
        for arch in Arch::ALL {
            let cfg = ModelConfig::new(arch, Consensus::Mlp, 3, vec!["x".into(); 5]);
            let model = expected_tensors(&cfg, BuildOptions::training(false, 0)).unwrap();
            let base: BTreeMap<_, _> = model
                .into_iter()
                .filter(|(k, _)| k.starts_with("base_model."))
                .collect();
            assert!(!base.is_empty());
            assert_eq!(expected_backbone_tensors(arch).unwrap(), base, "{arch}");
        }
    }

    #[test]
    fn unfolded_bninception_lists_batchnorm() {
        let cfg = ModelConfig::new(Arch::BnInception, Consensus::Blstm, 3, vec!["x".into(); 5]);
        let folded = expected_tensors(&cfg, BuildOptions::inference()).unwrap();
        let full = expected_tensors(&cfg, BuildOptions::training(true, 0)).unwrap();
        assert!(!folded.keys().any(|k| k.contains("_bn.")));
        assert_eq!(
            full["base_model.inception_5b_pool_proj_bn.running_var"],
            vec![128]
        );
        assert_eq!(full["consensus.rnn.weight_hh_l0_reverse"], vec![512, 128]);
        assert_eq!(full["consensus.fc.weight"], vec![5, 256]);
    }

    #[test]
    fn report_names_every_problem() {
        let mut want = BTreeMap::new();
        want.insert("a".to_string(), vec![2]);
        want.insert("b".to_string(), vec![3]);
        let mut got = BTreeMap::new();
        got.insert("b".to_string(), vec![4]);
        got.insert("c".to_string(), vec![1]);
        let r = diff_report(&want, &got).unwrap();
        assert!(
            r.contains("1 missing: a") && r.contains("1 unexpected: c"),
            "{r}"
        );
        assert!(r.contains("b (expected [3], found [4])"), "{r}");
        assert!(diff_report(&want, &want).is_none());
    }
}
