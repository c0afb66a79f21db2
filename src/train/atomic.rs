//! Atomic file writes for training runs: [`crate::atomic`] with errors as [`TrainError`].

use super::error::{Result, TrainError};
use std::path::Path;

impl From<crate::atomic::WriteError> for TrainError {
    fn from(e: crate::atomic::WriteError) -> Self {
        TrainError::io(e.path, e.source)
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(crate::atomic::write_atomic(path, bytes)?)
}
