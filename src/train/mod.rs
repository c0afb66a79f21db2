//! Training and evaluation (ARCHITECTURE §3, §5, §6): data sets and the threaded loader, the
//! original's optimiser recipe, the training loop with atomic checkpoints and exact resume,
//! metrics and their plots.

pub mod atomic;
pub mod data;
pub mod error;

pub use error::{Result, TrainError};
