//! The subcommands' bodies (flags and behaviour); `cli.rs` only lists them.

pub mod bench_pipeline;
pub mod cameras;
pub mod run;
