//! The library's error type, shared by the model, weights, preprocessing and training sides.
//! Every variant that concerns a file names it (and the line, for index files), so the binary
//! can print one clear line. Modules with failures of their own (capture, the live pipeline, the
//! checkpoint importer, the clip generator) have their own error types beside their code.

use std::path::PathBuf;

/// Errors from loading, converting, running and training models, and from reading data sets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that is not (or no longer) what it claims to be: truncated, wrong format, bad metadata.
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// A malformed line in an index or label file.
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// Tensors that do not fit the model they are meant for.
    #[error("weights do not match {model}: {details}")]
    Mismatch { model: String, details: String },
    /// An invalid model or run configuration (flags or recipe).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A data set that cannot be trained or evaluated on as given.
    #[error("{0}")]
    Data(String),
    /// The loss or the gradients stopped being finite or exploded.
    #[error("{0}")]
    Diverged(String),
    /// The hand tracker failed on a frame (a landmark model's per-frame stage).
    #[error("hand tracker: {0}")]
    HandTracker(String),
    /// The caller asked the work to stop (what was being done is named).
    #[error("cancelled while {0}")]
    Cancelled(String),
    /// A clip (frame folder) that cannot be used.
    #[error("{path}: {reason}")]
    Clip { path: PathBuf, reason: String },
    /// A tensor operation failed. Its message is shown here and not again as a source, so
    /// the printed cause chain does not repeat it.
    #[error("tensor error: {0}")]
    Candle(candle_core::Error),
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}

impl Error {
    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`Error::BadFile`].
    pub fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl From<crate::util::WriteError> for Error {
    fn from(e: crate::util::WriteError) -> Self {
        Error::io(e.path, e.source)
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and every cause under it, joined with ": " — for places that show errors to people
/// without anyhow (the window). Each level's own text already names what it concerns.
pub fn report(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
