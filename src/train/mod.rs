//! Training and evaluation (docs/ARCHITECTURE.md §2, §5–§7): data sets and the threaded loader,
//! the original's optimiser recipe, the training loop with atomic checkpoints and exact resume,
//! metrics and their plots.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod finetune;
pub mod init;
pub mod metrics;
pub mod optim;
pub mod params;
pub mod plot;
pub mod progress;
pub mod provenance;
pub mod session;
pub mod trainer;
