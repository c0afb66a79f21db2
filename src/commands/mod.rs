//! The subcommands' flags and entry points (binary side: anyhow errors, printing).

pub mod bench_train;
pub mod data;
pub mod eval;
pub mod synth;
pub mod train;
