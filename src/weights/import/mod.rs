//! Reading the original PyTorch checkpoints (`.pth.tar`, zip and pre-1.6 formats).
//! TEMPORARY: zip format through candle's reader until the safe importer lands.

use crate::{Error, Result};
use candle_core::Tensor;
use std::collections::BTreeMap;
use std::path::Path;

/// A checkpoint's tensors and scalar metadata.
pub struct Checkpoint {
    pub tensors: Vec<(String, Tensor)>,
    pub meta: BTreeMap<String, String>,
}

/// Reads a checkpoint.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let tensors = candle_core::pickle::read_all_with_key(path, Some("state_dict"))
        .map_err(|e| Error::bad_file(path, e.to_string()))?;
    Ok(Checkpoint {
        tensors,
        meta: BTreeMap::new(),
    })
}
