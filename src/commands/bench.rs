//! `gesture-app bench`: model speed on this machine — per-frame backbone time, head time and
//! whole-clip time for the chosen backbones, heads and segment counts, beside the PyTorch
//! original's CPU numbers from the reference benchmark (../shared/REFERENCE_BENCH.md, measured
//! on another machine: a hint, not a comparison; `docs/bench/side_by_side.sh` runs both here).
//! Weights are random: speed does not depend on their values.

use clap::Args;
use gesture_app::bench::model::{bench_model, BenchCase, BenchResult};
use gesture_app::device::{self, DeviceChoice};
use gesture_app::{Arch, Consensus};
use std::process::ExitCode;

/// Flags of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Backbones to measure
    #[arg(long, value_delimiter = ',', default_values = ["squeezenet1_1", "BNInception"])]
    pub arch: Vec<Arch>,
    /// Heads to measure
    #[arg(long, value_delimiter = ',', default_values = ["MLP", "TRNmultiscale"])]
    pub consensus: Vec<Consensus>,
    /// Segment counts N to measure
    #[arg(long, value_delimiter = ',', default_values_t = [8usize, 16])]
    pub segments: Vec<usize>,
    /// Timed repetitions per measurement (the median is reported, and the fastest in --json)
    #[arg(long, default_value_t = 15)]
    pub iters: usize,
    /// Untimed warm-up runs before each measurement
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Where to run: auto, cpu, cuda
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// One JSON line per case instead of a table
    #[arg(long)]
    pub json: bool,
}

/// The PyTorch original's median per-clip ms on 2 CPU cores of the reference machine (a Zen 3
/// with AVX2, REFERENCE_BENCH.md).
fn reference_clip_ms(arch: Arch, consensus: Consensus, n: usize) -> Option<f64> {
    Some(match (arch, consensus, n) {
        (Arch::SqueezeNet11, Consensus::Mlp, 8) => 138.1,
        (Arch::SqueezeNet11, Consensus::Mlp, 16) => 300.7,
        (Arch::SqueezeNet11, Consensus::TrnMultiscale, 8) => 144.9,
        (Arch::SqueezeNet11, Consensus::TrnMultiscale, 16) => 311.4,
        (Arch::BnInception, Consensus::Mlp, 8) => 470.2,
        (Arch::BnInception, Consensus::Mlp, 16) => 965.7,
        (Arch::BnInception, Consensus::TrnMultiscale, 8) => 508.4,
        (Arch::BnInception, Consensus::TrnMultiscale, 16) => 925.2,
        _ => return None,
    })
}

fn reference_frame_ms(arch: Arch) -> Option<f64> {
    match arch {
        Arch::SqueezeNet11 => Some(25.8),
        Arch::BnInception => Some(79.4),
        Arch::HandLandmarks => None,
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let (dev, why) = device::select(args.device)?;
    let simd = gesture_app::model::simd_level();
    eprintln!(
        "device: {why}; threads: {}; CPU {simd}; {} warm-up + median of {} runs; input 224x224, batch 1",
        candle_core::utils::get_num_threads(),
        args.warmup,
        args.iters
    );
    let on_cpu = dev.is_cpu();
    if !args.json {
        eprintln!(
            "PyTorch columns: the reference benchmark's machine (REFERENCE_BENCH.md), not this \
             one; docs/bench/side_by_side.sh compares both on this machine"
        );
        println!("| backbone | head | N | backbone ms/frame | head ms | clip ms | reference PyTorch clip ms | ratio to reference | head CPU ms | clip CPU ms |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
    }
    for &arch in &args.arch {
        for &consensus in &args.consensus {
            for &n in &args.segments {
                let case = BenchCase {
                    arch,
                    consensus,
                    num_segments: n,
                    input_size: 224,
                };
                let r: BenchResult = bench_model(&case, &dev, args.warmup, args.iters.max(1))?;
                let reference = reference_clip_ms(arch, consensus, n).filter(|_| on_cpu);
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "arch": arch.name(), "consensus": consensus.name(), "segments": n,
                            "device": why, "simd": on_cpu.then_some(&simd), "frame_ms": r.frame_ms,
                            "frame_best_ms": r.frame_best_ms, "head_ms": r.head_ms,
                            "head_cpu_ms": r.head_cpu_ms, "clip_ms": r.clip_ms,
                            "clip_best_ms": r.clip_best_ms,
                            "clip_cpu_ms": r.clip_cpu_ms,
                            "pytorch_clip_ms": reference,
                            "pytorch_frame_ms": on_cpu.then(|| reference_frame_ms(arch)).flatten(),
                        })
                    );
                } else {
                    let (rs, ratio) = match reference {
                        Some(p) => (format!("{p:.1}"), format!("{:.2}x", r.clip_ms / p)),
                        None => ("-".into(), "-".into()),
                    };
                    let cpu =
                        |c: Option<f64>, p: usize| c.map_or("-".into(), |c| format!("{c:.p$}"));
                    println!(
                        "| {arch} | {consensus} | {n} | {:.2} | {:.2} | {:.1} | {rs} | {ratio} | {} | {} |",
                        r.frame_ms,
                        r.head_ms,
                        r.clip_ms,
                        cpu(r.head_cpu_ms, 2),
                        cpu(r.clip_cpu_ms, 1)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
