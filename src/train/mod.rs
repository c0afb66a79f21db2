//! Training and evaluation (ARCHITECTURE §3, §5, §6): data sets and the threaded loader, the
//! original's optimiser recipe, the training loop with atomic checkpoints and exact resume,
//! metrics and their plots.

pub mod atomic;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod metrics;
pub mod optim;
pub mod params;

pub use error::{Result, TrainError};
