//! Our weights file: one `.safetensors` holding the tensors (original state_dict names without
//! `module.`) and, in its metadata, the whole [`ModelConfig`] (ARCHITECTURE §7).

pub mod import;

use crate::model::config::ModelConfig;
use crate::Result;
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// Writes tensors + config atomically (temp file in the same folder, then rename).
pub fn save(_path: &Path, _tensors: &HashMap<String, Tensor>, _config: &ModelConfig) -> Result<()> {
    todo!("model core in progress")
}

/// Reads a weights file: its config and its tensors (on the CPU).
pub fn load(_path: &Path) -> Result<(ModelConfig, HashMap<String, Tensor>)> {
    todo!("model core in progress")
}
