//! Small helpers every layer may use and that use nothing of ours: the one atomic file writer,
//! seed mixing, and the error of an unknown name.

pub mod atomic;
pub mod parse;
pub mod seed;

pub use atomic::{write_atomic, WriteError};
pub use parse::UnknownName;
pub use seed::mix_seed;
