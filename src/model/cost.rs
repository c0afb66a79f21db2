//! What a model costs, counted the way thop counts it (pytorch-OpCounter 0.1.1, commit 43c064a,
//! `thop/profile.py`, `thop/vision/basic_hooks.py`, `thop/vision/calc_func.py`,
//! `thop/rnn_hooks.py`): the convention the seed paper's cost figures use.
//!
//! Per leaf module, as thop's hooks say: a convolution is one multiply-add per weight tap per
//! output value (`out · c_in/groups · kh · kw`, no bias term); a Linear `in_features · out`;
//! a BatchNorm `4 · numel` (2 per value, doubled for its affine); an `AvgPool2d` one per output
//! value; ReLU, max pooling and dropout nothing; `nn.RNN`, `nn.LSTM`, `nn.GRU` the cell formulas
//! of `rnn_hooks.py` (gate products, biases and Hadamard products) per step. Functional ops in a
//! `forward` (concatenation, the mean of TSN's average consensus, `F.avg_pool2d`) are not
//! modules and count nothing.
//!
//! The model is counted as the original (fubel/stmodeling on TRN-pytorch) runs one clip: the
//! backbone on N segments, `new_fc` on each, the head once. TRNmultiscale counts the relations
//! the original's forward scores — 1 for the N-frame scale and min(3, C(N, k)) for each smaller
//! scale — not the expectation over every relation that our inference computes.
//!
//! Written here rather than taken from a crate: thop is Python and hooks a live PyTorch model;
//! the layer plans are the architectures of `model::backbone` and `model::consensus`, so the
//! counts are read off the configuration.

use crate::model::backbone::bninception::{PoolKind, BLOCKS};
use crate::model::backbone::hand_landmarks;
use crate::model::config::{Arch, Consensus, ModelConfig};
use crate::model::consensus::trn::binomial;

/// Multiply-adds of one clip, thop's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacCount {
    /// The consensus head on `[1, N, D]` (what the paper profiles as the ST module).
    pub head: u64,
    /// The whole model on one clip: backbone × N, `new_fc` × N, the head.
    pub model: u64,
}

/// thop's count for `cfg` (an ensemble's: the sum over its networks).
pub fn thop_macs(cfg: &ModelConfig) -> MacCount {
    let n = cfg.num_segments as u64;
    let backbone = match cfg.arch {
        Arch::SqueezeNet11 => squeezenet_macs(cfg.input_channels(), cfg.input_size),
        Arch::BnInception => bninception_macs(cfg.input_channels(), cfg.input_size),
        // The hand features are arithmetic in `forward`, not modules: thop counts only the
        // Linear `base_model.fc`.
        Arch::HandLandmarks => (hand_landmarks::FEATURES * hand_landmarks::WIDTH) as u64,
    };
    let new_fc = n * cfg.arch.feature_dim() as u64 * cfg.frame_feature_dim() as u64;
    let head = head_macs(cfg);
    // An ensemble runs each of its networks.
    let k = cfg.members as u64;
    MacCount {
        head: k * head,
        model: k * (n * backbone + new_fc + head),
    }
}

/// A `k`×`k` convolution's multiply-adds for an `h`×`w` output.
fn conv(c_in: usize, c_out: usize, k: usize, h: usize, w: usize) -> u64 {
    (c_out * h * w) as u64 * (c_in * k * k) as u64
}

/// Output side of a convolution or a floor-mode pool.
fn floor_out(side: usize, k: usize, stride: usize, pad: usize) -> usize {
    (side + 2 * pad).saturating_sub(k) / stride + 1
}

/// Output side of PyTorch's ceil-mode pooling (the last window must start inside the input or
/// its left padding).
fn ceil_out(side: usize, k: usize, stride: usize, pad: usize) -> usize {
    let span = (side + 2 * pad).saturating_sub(k);
    let mut out = span.div_ceil(stride) + 1;
    if (out - 1) * stride >= side + pad {
        out -= 1;
    }
    out
}

/// squeezenet1_1 `features` on one `c_in`×`s`×`s` input, then the original's `AvgPool2d(13)`
/// (one per output value: 512).
fn squeezenet_macs(c_in: usize, s: usize) -> u64 {
    let mut side = floor_out(s, 3, 2, 0);
    let mut total = conv(c_in, 64, 3, side, side);
    side = ceil_out(side, 3, 2, 0);
    // (c_in, squeeze, expand1x1, expand3x3, pool after)
    let fires = [
        (64, 16, 64, 64, false),
        (128, 16, 64, 64, true),
        (128, 32, 128, 128, false),
        (256, 32, 128, 128, true),
        (256, 48, 192, 192, false),
        (384, 48, 192, 192, false),
        (384, 64, 256, 256, false),
        (512, 64, 256, 256, false),
    ];
    for (c, sq, e1, e3, pool) in fires {
        total += conv(c, sq, 1, side, side) + conv(sq, e1, 1, side, side);
        total += conv(sq, e3, 3, side, side);
        if pool {
            side = ceil_out(side, 3, 2, 0);
        }
    }
    total + 512
}

/// A convolution followed by its BatchNorm (4 per output value); returns the output side.
fn conv_bn(
    total: &mut u64,
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    side: usize,
) -> usize {
    let out = floor_out(side, k, stride, k / 2);
    *total += conv(c_in, c_out, k, out, out) + 4 * (c_out * out * out) as u64;
    out
}

/// BNInception on one `c_in`×`s`×`s` input. The final average pool is `F.avg_pool2d` in
/// pretrainedmodels' `logits`, so thop counts nothing for it.
fn bninception_macs(c_in: usize, s: usize) -> u64 {
    let mut t = 0;
    let mut side = conv_bn(&mut t, c_in, 64, 7, 2, s);
    side = ceil_out(side, 3, 2, 0);
    side = conv_bn(&mut t, 64, 64, 1, 1, side);
    side = conv_bn(&mut t, 64, 192, 3, 1, side);
    side = ceil_out(side, 3, 2, 0);
    for b in &BLOCKS {
        let stride = if b.pool == PoolKind::MaxReduce { 2 } else { 1 };
        if let Some(c1) = b.c1 {
            conv_bn(&mut t, b.c_in, c1, 1, 1, side);
        }
        let r = conv_bn(&mut t, b.c_in, b.c3_reduce, 1, 1, side);
        let out = conv_bn(&mut t, b.c3_reduce, b.c3, 3, stride, r);
        let r = conv_bn(&mut t, b.c_in, b.cd_reduce, 1, 1, side);
        let r = conv_bn(&mut t, b.cd_reduce, b.cd, 3, 1, r);
        conv_bn(&mut t, b.cd, b.cd, 3, stride, r);
        match b.pool {
            // AvgPool2d(3, 1, 1): one per output value, then the projection.
            PoolKind::Avg => t += (b.c_in * side * side) as u64,
            PoolKind::MaxSame | PoolKind::MaxReduce => {}
        }
        if let Some(p) = b.proj {
            conv_bn(&mut t, b.c_in, p, 1, 1, side);
        }
        side = out;
    }
    t
}

/// thop's `_count_rnn_cell` (`nn.RNN`, tanh or ReLU).
fn rnn_cell(input: u64, hidden: u64) -> u64 {
    hidden * (input + hidden) + hidden + 2 * hidden
}

/// thop's `_count_lstm_cell`.
fn lstm_cell(input: u64, hidden: u64) -> u64 {
    let state = (input + hidden) * hidden + hidden + 2 * hidden;
    4 * state + 3 * hidden + hidden
}

/// thop's `_count_gru_cell`.
fn gru_cell(input: u64, hidden: u64) -> u64 {
    let state = (hidden + input) * hidden + hidden + 2 * hidden;
    2 * state + ((hidden + input) * hidden + hidden + 2 * hidden) + hidden + 3 * hidden
}

/// thop's `count_rnn` / `count_lstm` / `count_gru` for one clip: layer 0 reads the `input`-wide
/// features, later layers the previous layer's output; both directions when `bidirectional`;
/// times the N steps.
fn recurrent(
    cell: fn(u64, u64) -> u64,
    cfg: &ModelConfig,
    hidden: u64,
    bidirectional: bool,
) -> u64 {
    let dirs = if bidirectional { 2 } else { 1 };
    let d = cfg.img_feature_dim as u64;
    let mut per_step = dirs * cell(d, hidden);
    for _ in 1..cfg.rnn_layers {
        per_step += dirs * cell(hidden * dirs, hidden);
    }
    per_step * cfg.num_segments as u64
}

/// The consensus head on `[1, N, D]`.
fn head_macs(cfg: &ModelConfig) -> u64 {
    let (n, d, c) = (
        cfg.num_segments as u64,
        cfg.img_feature_dim as u64,
        cfg.num_classes as u64,
    );
    let h = cfg.rnn_hidden as u64;
    match cfg.consensus {
        Consensus::Avg => 0,
        // Linear(N·D, 512), Linear(512, C).
        Consensus::Mlp => n * d * 512 + 512 * c,
        // Per relation scored: Linear(k·D, 256), Linear(256, C).
        Consensus::TrnMultiscale => (2..=cfg.num_segments)
            .map(|k| {
                let draws = binomial(cfg.num_segments, k).min(3) as u64;
                draws * (k as u64 * d * 256 + 256 * c)
            })
            .sum(),
        Consensus::RnnTanh | Consensus::RnnRelu => recurrent(rnn_cell, cfg, h, false) + h * c,
        Consensus::Lstm => recurrent(lstm_cell, cfg, h, false) + h * c,
        Consensus::Gru => recurrent(gru_cell, cfg, h, false) + h * c,
        Consensus::Blstm => recurrent(lstm_cell, cfg, h / 2, true) + h * c,
        Consensus::Fcn => {
            // A 1×N×D map; five 3×3 convs with stride (1, 2) and padding 1, each with its BN.
            let channels = [1u64, 64, 64, 128, 128, 256];
            let mut w = d;
            let mut total = 0;
            for pair in channels.windows(2) {
                w = (w + 2 - 3) / 2 + 1;
                let out = pair[1] * n * w;
                total += out * pair[0] * 9 + 4 * out;
            }
            // Conv2d(256, C, 1), then AvgPool2d((N, 8)): one per output value.
            total + c * n * w * 256 + c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(arch: Arch, consensus: Consensus, n: usize, classes: usize) -> ModelConfig {
        let labels = (0..classes).map(|i| i.to_string()).collect();
        ModelConfig::new(arch, consensus, n, labels)
    }

    /// Hand-counted from the module shapes with thop's formulas (Jester: 27 classes, N = 8,
    /// D = 256, hidden 256).
    #[test]
    fn heads_match_thops_formulas() {
        let c = |h| head_macs(&cfg(Arch::SqueezeNet11, h, 8, 27));
        assert_eq!(c(Consensus::Mlp), 8 * 256 * 512 + 512 * 27);
        // nn.LSTM(256, 256): per step 4·((256+256)·256 + 256 + 512) + 4·256, 8 steps; fc 256·27.
        let lstm_step = 4 * (512 * 256 + 256 + 512) + 4 * 256;
        assert_eq!(c(Consensus::Lstm), 8 * lstm_step + 256 * 27);
        // Bidirectional, 128 per direction.
        let half = 4 * ((256 + 128) * 128 + 128 + 256) + 4 * 128;
        assert_eq!(c(Consensus::Blstm), 8 * 2 * half + 256 * 27);
        let rnn_step = 256 * 512 + 256 + 512;
        assert_eq!(c(Consensus::RnnTanh), 8 * rnn_step + 256 * 27);
        assert_eq!(c(Consensus::RnnRelu), c(Consensus::RnnTanh));
        let gru_step = 2 * (512 * 256 + 256 + 512) + (512 * 256 + 256 + 512) + 256 + 768;
        assert_eq!(c(Consensus::Gru), 8 * gru_step + 256 * 27);
        assert_eq!(c(Consensus::Avg), 0);
        // TRN, N = 3: the 3-frame relation once, 3 of the 3 pairs.
        let trn3 = head_macs(&cfg(Arch::SqueezeNet11, Consensus::TrnMultiscale, 3, 27));
        assert_eq!(
            trn3,
            (3 * 256 * 256 + 256 * 27) + 3 * (2 * 256 * 256 + 256 * 27)
        );
        // FCN on 1×8×256: widths 128, 64, 32, 16, 8.
        let mut fcn = 0;
        for (c_in, c_out, w) in [(1, 64, 128), (64, 64, 64), (64, 128, 32), (128, 128, 16)] {
            fcn += c_out * 8 * w * (c_in * 9 + 4);
        }
        fcn += 256 * 8 * 8 * (128 * 9 + 4);
        fcn += 27 * 8 * 8 * 256 + 27;
        assert_eq!(c(Consensus::Fcn), fcn);
    }

    /// squeezenet1_1 at 224 px: torchvision lists 0.35 GFLOPS for the whole classifier, of which
    /// its final Conv2d(512, 1000) on 13×13 is 86.5 M, so `features` is ~0.26 G; BNInception
    /// ~2.0 G (its published figure, BN included).
    #[test]
    fn backbones_land_on_their_published_size() {
        let sq = squeezenet_macs(3, 224) as f64 / 1e9;
        assert!((0.255..0.27).contains(&sq), "{sq}");
        let bn = bninception_macs(3, 224) as f64 / 1e9;
        assert!((1.95..2.1).contains(&bn), "{bn}");
        // The whole model: N backbones, new_fc, the head.
        let m = thop_macs(&cfg(Arch::SqueezeNet11, Consensus::Mlp, 8, 27));
        assert_eq!(
            m.model,
            8 * squeezenet_macs(3, 224) + 8 * 512 * 256 + m.head
        );
    }

    #[test]
    fn pooling_sizes_follow_pytorch() {
        assert_eq!(ceil_out(111, 3, 2, 0), 55);
        assert_eq!(ceil_out(55, 3, 2, 0), 27);
        assert_eq!(ceil_out(27, 3, 2, 0), 13);
        assert_eq!(ceil_out(112, 3, 2, 0), 56);
        assert_eq!(ceil_out(31, 3, 2, 0), 15);
        assert_eq!(floor_out(224, 7, 2, 3), 112);
    }
}
