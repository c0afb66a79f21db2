//! One module per subcommand: its flags (clap) and its `run`; `cli.rs` puts them together.
//! Commands print for people (or JSON with `--json`) and return `anyhow` errors with context
//! naming what failed.

pub mod actions_args;
pub mod bench;
pub mod bench_events;
pub mod bench_finetune;
pub mod bench_pipeline;
pub mod bench_teach;
pub mod bench_train;
pub mod bundled;
pub mod cameras;
pub mod checkgen;
pub mod classify;
pub mod compare;
pub mod convert;
pub mod data;
pub mod dataset_args;
pub mod ensemble;
pub mod eval;
pub mod export;
pub mod extract;
pub mod finetune;
pub mod fuzz;
pub mod handcheck;
pub mod hands;
pub mod handsynth;
pub mod info;
pub mod install_desktop;
pub mod record;
pub mod run;
pub mod synth;
pub mod train;
