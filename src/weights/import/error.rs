//! The checkpoint reader's error type. Every message starts with the file's path and then says,
//! in plain words, what is wrong with it.

use std::path::{Path, PathBuf};

/// Why a PyTorch checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Neither a zip archive nor a pickle, or one of those without PyTorch's markers.
    #[error("{path}: not a PyTorch checkpoint ({reason})", path = path.display())]
    NotACheckpoint { path: PathBuf, reason: String },
    /// The file ends before the data it announces.
    #[error("{path}: truncated: {what}", path = path.display())]
    Truncated { path: PathBuf, what: String },
    /// The pickle names a Python global outside the allow-list: loading it would run code.
    #[error(
        "{path}: refuses to load global '{global}': only tensor storages and containers are allowed",
        path = path.display()
    )]
    ForbiddenGlobal { path: PathBuf, global: String },
    /// The pickle stream is broken or uses something this reader does not understand.
    #[error("{path}: malformed pickle: {reason}", path = path.display())]
    Malformed { path: PathBuf, reason: String },
    /// A valid checkpoint written in a way this reader does not support.
    #[error("{path}: unsupported checkpoint: {reason}", path = path.display())]
    Unsupported { path: PathBuf, reason: String },
    /// The zip container itself is damaged (bad directory, checksum mismatch, ...).
    #[error("{path}: damaged or truncated zip archive", path = path.display())]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    /// One tensor's layout does not fit its storage, or its data cannot be converted.
    #[error("{path}: tensor '{name}': {reason}", path = path.display())]
    BadTensor {
        path: PathBuf,
        name: String,
        reason: String,
    },
    /// The checkpoint holds no recognisable state_dict.
    #[error("{path}: no state_dict found: {reason}", path = path.display())]
    NoStateDict { path: PathBuf, reason: String },
}

impl ImportError {
    /// The checkpoint file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ImportError::Io { path, .. }
            | ImportError::NotACheckpoint { path, .. }
            | ImportError::Truncated { path, .. }
            | ImportError::ForbiddenGlobal { path, .. }
            | ImportError::Malformed { path, .. }
            | ImportError::Unsupported { path, .. }
            | ImportError::Zip { path, .. }
            | ImportError::BadTensor { path, .. }
            | ImportError::NoStateDict { path, .. } => path,
        }
    }

    /// The message without the leading `path: `.
    pub fn reason(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.path().display());
        match full.strip_prefix(&prefix) {
            Some(rest) => rest.to_string(),
            None => full,
        }
    }
}

impl From<ImportError> for crate::Error {
    fn from(e: ImportError) -> Self {
        let reason = e.reason();
        match e {
            ImportError::Io { path, source } => crate::Error::Io { path, source },
            other => crate::Error::BadFile {
                path: other.path().to_path_buf(),
                reason,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_bad_file_without_repeating_the_path() {
        let e = ImportError::Truncated {
            path: PathBuf::from("/tmp/x.pth"),
            what: "storage '0' needs 8 bytes but 4 remain".into(),
        };
        assert_eq!(
            e.to_string(),
            "/tmp/x.pth: truncated: storage '0' needs 8 bytes but 4 remain"
        );
        match crate::Error::from(e) {
            crate::Error::BadFile { path, reason } => {
                assert_eq!(path, PathBuf::from("/tmp/x.pth"));
                assert_eq!(reason, "truncated: storage '0' needs 8 bytes but 4 remain");
            }
            other => panic!("expected BadFile, got {other:?}"),
        }
    }
}
