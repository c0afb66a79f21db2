//! Recurrent consensus heads (stmodeling `RNNmodule`): `rnn` over time with PyTorch's parameter
//! names and gate order (`weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`,
//! `_reverse` for the backward direction; LSTM gates i, f, g, o; GRU r, z, n), then `fc` on the
//! last output. BLSTM runs `hidden / 2` per direction and feeds `fc` with
//! concat(output[t = 0][backward half], output[t = N−1][forward half]) — backward first, as the
//! original does.
//!
//! candle-nn has no vanilla RNN and only renames weights for its backward LSTM, so all four cells
//! are written here, once, on plain tensor ops (which also makes them trainable).

use crate::model::layers::linear;
use crate::model::layers::Dense;
use candle_core::{Module, Result, Tensor, D};
use candle_nn::{ops::sigmoid, VarBuilder};

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Tanh,
    Relu,
    Lstm,
    Gru,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Tanh | Cell::Relu => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}

/// One direction of one layer.
#[derive(Debug, Clone)]
struct DirWeights {
    w_ih: Tensor, // [G·H, in]
    w_hh: Tensor, // [G·H, H]
    b_ih: Tensor, // [G·H]
    b_hh: Tensor, // [G·H]
}

impl DirWeights {
    fn new(
        cell: Cell,
        c_in: usize,
        h: usize,
        layer: usize,
        reverse: bool,
        vb: &VarBuilder,
    ) -> Result<Self> {
        let sfx = if reverse { "_reverse" } else { "" };
        let g = cell.gates() * h;
        // PyTorch initialises every RNN tensor from U(-1/sqrt(H), 1/sqrt(H)).
        let bound = 1.0 / (h as f64).sqrt();
        let init = candle_nn::Init::Uniform {
            lo: -bound,
            up: bound,
        };
        Ok(DirWeights {
            w_ih: vb.get_with_hints((g, c_in), &format!("weight_ih_l{layer}{sfx}"), init)?,
            w_hh: vb.get_with_hints((g, h), &format!("weight_hh_l{layer}{sfx}"), init)?,
            b_ih: vb.get_with_hints(g, &format!("bias_ih_l{layer}{sfx}"), init)?,
            b_hh: vb.get_with_hints(g, &format!("bias_hh_l{layer}{sfx}"), init)?,
        })
    }

    /// Runs over `x` `[b, T, in]` in time order (or reversed) → outputs `[b, T, H]`.
    fn run(&self, cell: Cell, x: &Tensor, h: usize, reverse: bool) -> Result<Tensor> {
        let (b, t, c_in) = x.dims3()?;
        // Input projections for every step at once: [b·T, in] x [in, G·H] → [b, T, G·H]
        let xp = x
            .reshape((b * t, c_in))?
            .matmul(&self.w_ih.t()?)?
            .broadcast_add(&self.b_ih)?
            .reshape((b, t, cell.gates() * h))?;
        let w_hh_t = self.w_hh.t()?;
        let mut hs = Tensor::zeros((b, h), x.dtype(), x.device())?;
        let mut cs = hs.clone();
        let mut outs = vec![None; t];
        let steps: Vec<usize> = if reverse {
            (0..t).rev().collect()
        } else {
            (0..t).collect()
        };
        for step in steps {
            let gx = xp.narrow(1, step, 1)?.squeeze(1)?; // [b, G·H]
            let gh = hs.matmul(&w_hh_t)?.broadcast_add(&self.b_hh)?; // [b, G·H]
            hs = match cell {
                Cell::Tanh => (gx + gh)?.tanh()?,
                Cell::Relu => (gx + gh)?.relu()?,
                Cell::Lstm => {
                    let g = (gx + gh)?;
                    let i = sigmoid(&g.narrow(1, 0, h)?)?;
                    let f = sigmoid(&g.narrow(1, h, h)?)?;
                    let c_new = g.narrow(1, 2 * h, h)?.tanh()?;
                    let o = sigmoid(&g.narrow(1, 3 * h, h)?)?;
                    cs = ((f * &cs)? + (i * c_new)?)?;
                    (o * cs.tanh()?)?
                }
                Cell::Gru => {
                    let r = sigmoid(&(gx.narrow(1, 0, h)? + gh.narrow(1, 0, h)?)?)?;
                    let z = sigmoid(&(gx.narrow(1, h, h)? + gh.narrow(1, h, h)?)?)?;
                    let n = (gx.narrow(1, 2 * h, h)? + (r * gh.narrow(1, 2 * h, h)?)?)?.tanh()?;
                    // h' = (1 − z)·n + z·h = n + z·(h − n)
                    (&n + (z * (&hs - &n)?)?)?
                }
            };
            outs[step] = Some(hs.clone());
        }
        let outs: Vec<Tensor> = outs.into_iter().flatten().collect();
        Tensor::stack(&outs, 1) // [b, T, H]
    }
}

/// A recurrent head: RNN_TANH, RNN_RELU, LSTM, GRU (unidirectional) or BLSTM.
#[derive(Debug, Clone)]
pub struct RnnHead {
    cell: Cell,
    bidirectional: bool,
    /// Hidden size per direction.
    hidden: usize,
    layers: Vec<Vec<DirWeights>>,
    fc: Dense,
}

impl RnnHead {
    /// `vb` points at `consensus`; `hidden` is the original's `rnn_hidden_size` (BLSTM uses half
    /// of it per direction).
    pub fn new(
        cell: Cell,
        bidirectional: bool,
        d: usize,
        hidden: usize,
        num_layers: usize,
        classes: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let dirs = if bidirectional { 2 } else { 1 };
        let h = hidden / dirs;
        let rnn = vb.pp("rnn");
        let layers = (0..num_layers)
            .map(|l| {
                let c_in = if l == 0 { d } else { h * dirs };
                (0..dirs)
                    .map(|dir| DirWeights::new(cell, c_in, h, l, dir == 1, &rnn))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        Ok(RnnHead {
            cell,
            bidirectional,
            hidden: h,
            layers,
            fc: linear(h * dirs, classes, vb.pp("fc"))?,
        })
    }

    /// `[b, N, D]` → `[b, C]`.
    pub fn forward_t(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let mut seq = x.clone();
        for layer in &self.layers {
            let outs = layer
                .iter()
                .enumerate()
                .map(|(dir, w)| w.run(self.cell, &seq, self.hidden, dir == 1))
                .collect::<Result<Vec<_>>>()?;
            seq = Tensor::cat(&outs, D::Minus1)?; // [b, N, H·dirs]
        }
        let t = seq.dim(1)?;
        let last = if self.bidirectional {
            let h = self.hidden;
            let backward_first = seq.narrow(1, 0, 1)?.squeeze(1)?.narrow(1, h, h)?;
            let forward_last = seq.narrow(1, t - 1, 1)?.squeeze(1)?.narrow(1, 0, h)?;
            Tensor::cat(&[backward_first, forward_last], 1)? // [b, 2H]
        } else {
            seq.narrow(1, t - 1, 1)?.squeeze(1)? // [b, H]
        };
        self.fc.forward(&last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// A one-step, one-unit LSTM worked by hand: with all weights w and biases 0, x = 1, h0 = 0:
    /// every gate pre-activation is w, c = σ(w)·tanh(w), h = σ(w)·tanh(c).
    #[test]
    fn lstm_single_step_by_hand() -> Result<()> {
        let dev = Device::Cpu;
        let w = 0.5f32;
        let mut ts = std::collections::HashMap::new();
        ts.insert(
            "rnn.weight_ih_l0".to_string(),
            Tensor::full(w, (4, 1), &dev)?,
        );
        ts.insert(
            "rnn.weight_hh_l0".to_string(),
            Tensor::full(w, (4, 1), &dev)?,
        );
        ts.insert(
            "rnn.bias_ih_l0".to_string(),
            Tensor::zeros(4, DType::F32, &dev)?,
        );
        ts.insert(
            "rnn.bias_hh_l0".to_string(),
            Tensor::zeros(4, DType::F32, &dev)?,
        );
        ts.insert(
            "fc.weight".to_string(),
            Tensor::ones((1, 1), DType::F32, &dev)?,
        );
        ts.insert("fc.bias".to_string(), Tensor::zeros(1, DType::F32, &dev)?);
        let vb = VarBuilder::from_tensors(ts, DType::F32, &dev);
        let head = RnnHead::new(Cell::Lstm, false, 1, 1, 1, 1, vb)?;
        let y = head.forward_t(&Tensor::ones((1, 1, 1), DType::F32, &dev)?, false)?;
        let s = 1.0 / (1.0 + (-w).exp());
        let c = s * w.tanh();
        let want = s * c.tanh();
        let got = y.flatten_all()?.to_vec1::<f32>()?[0];
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        Ok(())
    }

    #[test]
    fn shapes_for_every_cell() -> Result<()> {
        let dev = Device::Cpu;
        for (cell, bi) in [
            (Cell::Tanh, false),
            (Cell::Relu, false),
            (Cell::Lstm, false),
            (Cell::Gru, false),
            (Cell::Lstm, true),
        ] {
            for n in [3, 8, 16] {
                let vm = candle_nn::VarMap::new();
                let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
                let head = RnnHead::new(cell, bi, 16, 8, 2, 5, vb)?;
                let x = Tensor::randn(0f32, 1., (2, n, 16), &dev)?;
                assert_eq!(head.forward_t(&x, false)?.dims(), &[2, 5]);
            }
        }
        Ok(())
    }
}
