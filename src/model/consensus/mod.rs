//! Consensus heads: fuse the N frame features `[b, N, D]` into class logits `[b, C]`
//! (docs/ARCHITECTURE.md §4). Parameters live under `consensus.`.

pub mod avg;
pub mod fcn;
pub mod mlp;
pub mod rnn;
pub mod trn;

use crate::model::config::{Consensus, ModelConfig};
use crate::model::layers::BnMode;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// One of the heads.
#[derive(Debug)]
pub enum ConsensusHead {
    Mlp(mlp::MlpHead),
    Trn(Box<trn::TrnHead>),
    Rnn(rnn::RnnHead),
    Fcn(fcn::FcnHead),
    Avg,
}

impl ConsensusHead {
    /// Builds the head of `cfg` under `vb` (= `consensus`). `bn` applies to FCN's BatchNorms.
    pub fn new(cfg: &ModelConfig, bn: BnMode, seed: u64, vb: VarBuilder) -> Result<Self> {
        let (n, d, c) = (cfg.num_segments, cfg.img_feature_dim, cfg.num_classes);
        let rnn = |cell, bi| {
            rnn::RnnHead::new(cell, bi, d, cfg.rnn_hidden, cfg.rnn_layers, c, vb.clone())
        };
        Ok(match cfg.consensus {
            Consensus::Mlp => ConsensusHead::Mlp(mlp::MlpHead::new(n, d, c, vb)?),
            Consensus::TrnMultiscale => ConsensusHead::Trn(Box::new(trn::TrnHead::new(
                n,
                d,
                c,
                cfg.trn_mode,
                seed,
                vb,
            )?)),
            Consensus::RnnTanh => ConsensusHead::Rnn(rnn(rnn::Cell::Tanh, false)?),
            Consensus::RnnRelu => ConsensusHead::Rnn(rnn(rnn::Cell::Relu, false)?),
            Consensus::Lstm => ConsensusHead::Rnn(rnn(rnn::Cell::Lstm, false)?),
            Consensus::Gru => ConsensusHead::Rnn(rnn(rnn::Cell::Gru, false)?),
            Consensus::Blstm => ConsensusHead::Rnn(rnn(rnn::Cell::Lstm, true)?),
            Consensus::Fcn => ConsensusHead::Fcn(fcn::FcnHead::new(c, bn, vb)?),
            Consensus::Avg => ConsensusHead::Avg,
        })
    }

    /// `[b, N, D]` → `[b, C]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            ConsensusHead::Mlp(h) => h.forward_t(x, train),
            ConsensusHead::Trn(h) => h.forward_t(x, train),
            ConsensusHead::Rnn(h) => h.forward_t(x, train),
            ConsensusHead::Fcn(h) => h.forward_t(x, train),
            ConsensusHead::Avg => avg::forward(x),
        }
    }
}
