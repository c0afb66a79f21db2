//! Every consensus head against PyTorch's own modules: `tests/fixtures/heads.safetensors` holds,
//! per case, random frame features, the head's parameters (original state_dict names) and the
//! logits PyTorch 2.11 computed in eval mode — made by `tests/fixtures/make_head_cases.py`
//! (transcriptions of stmodeling's MLP/TRN/RNN/FCN2D modules; TRN as the expectation).
//! Covers what the whole-model fixtures in ../shared do not: RNN_TANH, RNN_RELU, GRU, 2-layer
//! stacks, BLSTM at N = 3 and 16, TRN at N = 2 and 8, MLP at N = 16, FCN at N = 3 and 16, avg.

use crate::common;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use gesture_app::model::config::{Arch, Consensus, ModelConfig};
use gesture_app::model::consensus::ConsensusHead;
use gesture_app::model::layers::BnMode;
use std::collections::HashMap;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/heads.safetensors"
);

fn case_tensors(all: &HashMap<String, Tensor>, case: &str) -> HashMap<String, Tensor> {
    let prefix = format!("{case}/");
    all.iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v.clone())))
        .collect()
}

#[test]
fn every_head_matches_pytorch() {
    let dev = Device::Cpu;
    let all =
        candle_core::safetensors::load(FIXTURE, &dev).expect("tests/fixtures/heads.safetensors");
    let cases: [(&str, Consensus, usize, usize); 13] = [
        ("MLP_16", Consensus::Mlp, 16, 1),
        ("TRNmultiscale_8", Consensus::TrnMultiscale, 8, 1),
        ("TRNmultiscale_2", Consensus::TrnMultiscale, 2, 1),
        ("RNN_TANH_8", Consensus::RnnTanh, 8, 1),
        ("RNN_RELU_5", Consensus::RnnRelu, 5, 1),
        ("GRU_8", Consensus::Gru, 8, 1),
        ("GRU_2layers_6", Consensus::Gru, 6, 2),
        ("LSTM_2layers_8", Consensus::Lstm, 8, 2),
        ("BLSTM_16", Consensus::Blstm, 16, 1),
        ("BLSTM_2layers_3", Consensus::Blstm, 3, 2),
        ("FCN_3", Consensus::Fcn, 3, 1),
        ("FCN_16", Consensus::Fcn, 16, 1),
        ("avg_5", Consensus::Avg, 5, 1),
    ];
    for (case, consensus, n, layers) in cases {
        let mut ts = case_tensors(&all, case);
        let input = ts.remove("input").expect("input");
        let want = ts.remove("output").expect("output");
        let head_ts: HashMap<String, Tensor> = ts
            .into_iter()
            .map(|(k, v)| (k.strip_prefix("consensus.").unwrap_or(&k).to_string(), v))
            .collect();
        let classes = want.dim(1).unwrap();
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, consensus, n, vec!["c".into(); classes]);
        cfg.img_feature_dim = input.dim(2).unwrap();
        cfg.rnn_hidden = 48;
        cfg.rnn_layers = layers;
        let vb = VarBuilder::from_tensors(head_ts, DType::F32, &dev);
        let head = ConsensusHead::new(&cfg, BnMode::Trainable, 0, vb).unwrap();
        let got = head.forward_t(&input, false).unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (got, want) = (flat(&got), flat(&want));
        let scale = common::max_abs(&want);
        let diff = common::max_abs_diff(&got, &want);
        eprintln!("{case}: max |Δ| = {diff:.2e} (max |logit| {scale:.3})");
        assert!(
            diff <= 1e-4 * scale.max(1e-3),
            "{case}: max |Δ| {diff} vs scale {scale}"
        );
    }
}
