//! A run's checkpoint: one safetensors file holding the model's variables (`model.*`, BatchNorm
//! running statistics included), the optimiser's state (`optim.*`) and, in its metadata, the
//! rest as JSON (epochs done, RNG state, best accuracy, metrics history). One file written
//! atomically, so a run killed at any instant leaves either the old checkpoint or the new one.

use crate::train::metrics::EpochRecord;
use crate::util::write_atomic;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// Version of the checkpoint layout.
pub const FORMAT: u32 = 1;
const META_KEY: &str = "gesture_app_checkpoint";

/// Everything but the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    pub format: u32,
    /// Epochs completed.
    pub epoch: usize,
    /// The run's RNG state. Every random stream of epoch `e` (shuffle, sampling, crops, flips)
    /// is derived from (seed, e), so (seed, epochs done) is the whole state.
    pub seed: u64,
    pub optimizer_steps: u64,
    pub best_val_top1: Option<f64>,
    pub best_epoch: Option<usize>,
    /// Every epoch's metrics so far.
    pub history: Vec<EpochRecord>,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    pub state: CheckpointState,
    pub model: HashMap<String, Tensor>,
    pub optim: HashMap<String, Tensor>,
}

/// A tensor's little-endian f32 bytes, as the safetensors writer wants them.
struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn to_view(t: &Tensor) -> Result<F32View> {
    let values: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    Ok(F32View {
        shape: t.dims().to_vec(),
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    })
}

/// Writes a checkpoint atomically.
pub fn save(
    path: &Path,
    model: &[(String, Tensor)],
    optim: &[(String, Tensor)],
    state: &CheckpointState,
) -> Result<()> {
    let mut views = Vec::with_capacity(model.len() + optim.len());
    for (prefix, list) in [("model", model), ("optim", optim)] {
        for (name, t) in list {
            views.push((format!("{prefix}.{name}"), to_view(t)?));
        }
    }
    let meta = HashMap::from([(
        META_KEY.to_string(),
        serde_json::to_string(state).expect("state serialises"),
    )]);
    let bytes =
        safetensors::tensor::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), Some(meta))
            .map_err(|e| Error::bad_file(path, format!("cannot serialise checkpoint: {e}")))?;
    Ok(write_atomic(path, &bytes)?)
}

/// Reads a checkpoint onto `device`.
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |r: String| Error::bad_file(path, r);
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a complete checkpoint (safetensors: {e})")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| bad("not a gesture-app checkpoint (no run state in its metadata)".into()))?;
    let state: CheckpointState =
        serde_json::from_str(json).map_err(|e| bad(format!("bad run state: {e}")))?;
    if state.format != FORMAT {
        return Err(bad(format!(
            "checkpoint format {} is not the supported {FORMAT}",
            state.format
        )));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("corrupt: {e}")))?;
    let mut model = HashMap::new();
    let mut optim = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor {name} is {:?}, expected F32",
                view.dtype()
            )));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let t = Tensor::from_vec(values, view.shape(), device)?;
        if let Some(n) = name.strip_prefix("model.") {
            model.insert(n.to_string(), t);
        } else if let Some(n) = name.strip_prefix("optim.") {
            optim.insert(n.to_string(), t);
        } else {
            return Err(bad(format!("unexpected tensor {name}")));
        }
    }
    Ok(Checkpoint {
        state,
        model,
        optim,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(epoch: usize) -> CheckpointState {
        CheckpointState {
            format: FORMAT,
            epoch,
            seed: 42,
            optimizer_steps: 7,
            best_val_top1: Some(81.25),
            best_epoch: Some(1),
            history: vec![],
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint.safetensors");
        let w = Tensor::new(&[[1f32, 2.0], [3.0, -4.5]], &Device::Cpu).unwrap();
        let m = Tensor::new(&[0.25f32], &Device::Cpu).unwrap();
        save(
            &p,
            &[("fc.weight".into(), w)],
            &[("momentum.fc.bias".into(), m)],
            &state(3),
        )
        .unwrap();
        let c = load(&p, &Device::Cpu).unwrap();
        assert_eq!(c.state, state(3));
        assert_eq!(
            c.model["fc.weight"].to_vec2::<f32>().unwrap(),
            vec![vec![1.0, 2.0], vec![3.0, -4.5]]
        );
        assert_eq!(
            c.optim["momentum.fc.bias"].to_vec1::<f32>().unwrap(),
            vec![0.25]
        );
    }

    #[test]
    fn truncated_or_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.safetensors");
        let w = Tensor::zeros((64, 64), DType::F32, &Device::Cpu).unwrap();
        save(&p, &[("w".into(), w)], &[], &state(1)).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        for bytes in [&bytes[..bytes.len() / 2], b"hello"] {
            std::fs::write(&p, bytes).unwrap();
            let e = load(&p, &Device::Cpu).unwrap_err().to_string();
            assert!(e.contains("not a complete checkpoint"), "{e}");
        }
    }
}
