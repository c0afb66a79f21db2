//! Training and evaluation (ARCHITECTURE §3, §5, §6): data sets and the threaded loader, the
//! original's optimiser recipe, the training loop with atomic checkpoints and exact resume,
//! metrics and their plots.

pub mod atomic;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod init;
pub mod metrics;
pub mod optim;
pub mod params;
pub mod plot;
pub mod progress;
pub mod provenance;
pub mod session;
pub mod trainer;

pub use error::{Result, TrainError};
