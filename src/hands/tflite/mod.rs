//! Runs TFLite models — MediaPipe's palm detector and hand landmarker — on our CPU kernels.
//!
//! `schema` reads the flatbuffer (`flatbuf`), `graph` checks every operator and turns the
//! model into a list of steps with their weights arranged for our kernels (float16 constants
//! behind `DEQUANTIZE` widened to f32 once, at load; filters packed into panels), and `ops`
//! holds the kernels the steps run: convolutions as a register-tiled product (`pointwise`),
//! depthwise convolution (`depthwise`), PReLU and residual additions fused into them, pooling,
//! bilinear resize and the small shape operators, on pulp's run-time SIMD dispatch
//! (`model::kernels::simd`); `team` shares each operator's rows between threads, and `fused`
//! runs an inverted-residual block on a small map as one step split by channels. Only
//! the operators and options these models use are run; anything else is refused at load with
//! an error naming the file and the operator.
//!
//! Why our own reader and executor:
//! - **not the `flatbuffers` crate with code generated from `schema.fbs`**: the generated code
//!   is about 20,000 lines (the Python version ai-edge-litert ships has 19,922) for the ~40
//!   fields we read, would have to be regenerated with a matching `flatc`, and its verifier
//!   leaves us the checks that matter here (shapes that fit the operator); the layout we read
//!   is a few offsets, bounds-checked in one small file.
//! - **not tract-tflite** (0.23.9): it refuses `DEQUANTIZE` and `PRELU`, and, worse, turns a
//!   float `MEAN` into a quantised scale that rounds to an integer, so the landmarks came out up
//!   to 14 px wrong without an error (issue 21); patched, it was 2–3× slower than the TFLite
//!   interpreter and a second inference engine in the build.

mod depthwise;
mod flatbuf;
mod fused;
mod graph;
mod ops;
mod pointwise;
#[cfg(test)]
mod reference;
mod schema;
mod team;

use super::HandsError;
use std::path::Path;

/// A TFLite model ready to run: weights widened to f32 and arranged for our kernels.
/// [`TfliteModel::run`] takes `&self`: one model may serve several threads at once.
pub struct TfliteModel {
    name: String,
    plan: graph::Plan,
}

/// The name and shapes only: the weights would be megabytes of text.
impl std::fmt::Debug for TfliteModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TfliteModel")
            .field("name", &self.name)
            .field("input_shape", &self.plan.input_shape)
            .field("outputs", &self.output_names())
            .finish()
    }
}

/// Time spent per kind of operator in one run ([`TfliteModel::run_profiled`]).
pub type Profile = Vec<(String, std::time::Duration)>;

/// One output tensor of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorOut {
    /// The tensor's name in the model (`Identity`, `Identity_1`, ...).
    pub name: String,
    pub shape: Vec<usize>,
    /// Row-major, `shape`'s product long.
    pub data: Vec<f32>,
}

impl TfliteModel {
    /// Reads a model from memory; `name` stands for the file in errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, HandsError> {
        let raw = schema::read(bytes).map_err(|reason| HandsError::BadModel {
            file: name.to_string(),
            reason,
        })?;
        let plan = graph::Plan::build(&raw, name)?;
        Ok(TfliteModel {
            name: name.to_string(),
            plan,
        })
    }

    /// Reads a `.tflite` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, HandsError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| HandsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// The name errors use (the file's path when read from a file).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The input tensor's shape, e.g. `[1, 192, 192, 3]` (NHWC).
    pub fn input_shape(&self) -> &[usize] {
        &self.plan.input_shape
    }

    /// The output tensors' names, in the model's output order.
    pub fn output_names(&self) -> Vec<String> {
        self.plan.outputs.iter().map(|o| o.name.clone()).collect()
    }

    /// Runs the model on one input tensor (row-major, [`Self::input_shape`]). The work is
    /// split over the current rayon pool's threads (install a pool to bound them).
    pub fn run(&self, input: &[f32]) -> Result<Vec<TensorOut>, HandsError> {
        self.check_input(input)?;
        Ok(self.plan.run(input, None))
    }

    fn check_input(&self, input: &[f32]) -> Result<(), HandsError> {
        let want: usize = self.plan.input_shape.iter().product();
        if input.len() != want {
            return Err(HandsError::Input {
                file: self.name.clone(),
                name: self.plan.input_name.clone(),
                expected: self.plan.input_shape.clone(),
                want,
                got: input.len(),
            });
        }
        Ok(())
    }

    /// [`Self::run`], and the time spent in each kind of operator (convolutions by window and
    /// stride), for benchmarks.
    pub fn run_profiled(&self, input: &[f32]) -> Result<(Vec<TensorOut>, Profile), HandsError> {
        self.check_input(input)?;
        let mut times = Vec::new();
        let outs = self.plan.run(input, Some(&mut times));
        Ok((outs, times))
    }

    /// Multiply-adds of one run (convolutions and fully connected layers), for benchmarks.
    pub fn macs(&self) -> u64 {
        self.plan.macs()
    }

    /// Floats written by one run (every operator's output), for callers that bound the work.
    pub fn activation_floats(&self) -> usize {
        self.plan.activation_floats()
    }
}

#[cfg(test)]
mod tests;
