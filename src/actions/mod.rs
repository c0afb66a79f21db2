//! Gestures that do something on the desktop: an [`ActionMap`] (TOML file and `--on` flags)
//! says which gesture presses which key chord, runs which program or prints which line, and a
//! [`Dispatcher`] does it for each gesture event — only while armed, at most once per
//! cooldown — and reports what it did or why it did nothing. Key chords go through enigo on a
//! thread of their own, programs each on theirs, so nothing here ever blocks the caller.

pub mod chord;
pub mod dispatch;
pub mod exec;
pub mod gate;
pub mod inject;
pub mod map;
pub mod report;

pub use dispatch::Dispatcher;
pub use map::{Action, ActionMap, Binding};
pub use report::{Completion, Report, Skip, Status};

use std::path::PathBuf;
use std::sync::Arc;

/// Called when an action finishes on its thread (the window's repaint).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// A map that cannot be used; each names where it is (file, `FILE:LINE`, or the `--on` flag).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("cannot read the action map {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bad entry: `origin` is `FILE:LINE` or `--on "..."`.
    #[error("{origin}: {message}")]
    Entry { origin: String, message: String },
}
