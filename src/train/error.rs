//! Errors of the training side: data sets, runs, checkpoints. Each one that concerns a file names
//! it (and the line, for index files), so the binary can print one clear line.

use std::path::PathBuf;

/// Errors from reading data sets, training, evaluating and checkpointing.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A malformed line in an index or label file.
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A file that is not what it should be (truncated checkpoint, bad metadata, bad image).
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// A data set that cannot be trained or evaluated on as given.
    #[error("{0}")]
    Data(String),
    /// An invalid run configuration (flags or recipe).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The loss or the gradients stopped being finite or exploded.
    #[error("{0}")]
    Diverged(String),
    #[error(transparent)]
    Model(#[from] crate::Error),
    /// A tensor operation failed. Its message is shown here and not again as a source, so
    /// the printed cause chain does not repeat it.
    #[error("tensor error: {0}")]
    Candle(candle_core::Error),
}

impl From<candle_core::Error> for TrainError {
    fn from(e: candle_core::Error) -> Self {
        TrainError::Candle(e)
    }
}

impl TrainError {
    /// Shorthand for [`TrainError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`TrainError::BadFile`].
    pub fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        TrainError::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Result with [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
