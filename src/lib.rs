//! gesture-app: live dynamic hand-gesture recognition (TSN sampling, a 2D CNN per frame and a
//! spatiotemporal consensus head, after arXiv 1909.05165), and the tools that convert, train and
//! evaluate its models.

pub mod atomic;
pub mod bench;
pub mod capture;
pub mod cpu_threads;
pub mod device;
pub mod error;
pub mod live;
pub mod malloc;
pub mod model;
pub mod preprocess;
pub mod synth;
pub mod train;
pub mod ui;
pub mod weights;

pub use error::{Error, Result};
pub use model::config::{Arch, Consensus, ModelConfig};
pub use model::GestureModel;
