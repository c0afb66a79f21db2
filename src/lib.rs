//! gesture-app: live dynamic hand-gesture recognition (TSN sampling, a 2D CNN per frame and a
//! spatiotemporal consensus head, after arXiv 1909.05165), and the tools that convert, train and
//! evaluate its models.
//!
//! The modules follow the data flow (docs/ARCHITECTURE.md §3): [`capture`] → [`live`] → [`ui`]
//! for the live app, [`train`] for training, both on [`model`], whose files [`weights`] reads and
//! writes; [`synth`] generates clips for both, and [`checkgen`], a second and independent
//! generator, clips that only check training. What is public here is what the `gesture-app`
//! binary, the tests and the benchmarks use; the kernels, the training ops and the small helpers
//! stay inside.

pub mod actions;
pub mod bench;
pub mod builtin;
pub mod capture;
pub mod checkgen;
pub mod compare;
pub mod device;
mod error;
pub mod fuzz;
pub mod handcheck;
pub mod hands;
pub mod handsynth;
pub mod live;
pub mod model;
pub mod preprocess;
pub mod synth;
#[doc(hidden)]
pub mod testing;
pub mod train;
pub mod ui;
mod util;
pub mod weights;

pub use error::{Error, Result};
pub use model::config::{Arch, Consensus, ModelConfig};
pub use model::GestureModel;
pub use util::UnknownName;
/// The atomic file writer (temp file, fsync, rename), for the binary's own files.
pub use util::{write_atomic, WriteError};
