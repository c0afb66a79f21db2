//! Hands seen by models trained on real hands: MediaPipe's palm detector and hand landmarker
//! (Apache-2.0, shipped in `weights/hands/`) run on our own CPU kernels. [`tflite`] reads their
//! `.tflite` files and runs them; the hand-tracking graph built on it (anchors, NMS, the hand
//! region, landmark mapping, tracking) lives beside it. See docs/hands.md.

pub mod anchors;
pub mod crop;
pub mod landmark;
pub mod palm;
pub mod roi;
pub mod shipped;
#[cfg(test)]
mod stage_parity;
pub mod tflite;
pub mod tracker;

use std::path::PathBuf;

/// Errors from reading and running the hand models. Each names the model file (or the name it
/// was given when read from memory) and, where one is at fault, the operator.
#[derive(Debug, thiserror::Error)]
pub enum HandsError {
    /// The file could not be read.
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not a TFLite model we can read: truncated, malformed, or outside the subset we run
    /// (more than one subgraph, a tensor type other than float32/float16/int32...).
    #[error("{file}: {reason}")]
    BadModel { file: String, reason: String },
    /// An operator we do not run, or one whose options or shapes we do not accept.
    #[error("{file}: operator {index} ({op}): {reason}")]
    Op {
        file: String,
        index: usize,
        op: String,
        reason: String,
    },
    /// An input that does not match the model's input tensor.
    #[error("{file}: input `{name}` is {expected:?} ({want} values), got {got} values")]
    Input {
        file: String,
        name: String,
        expected: Vec<usize>,
        want: usize,
        got: usize,
    },
}
