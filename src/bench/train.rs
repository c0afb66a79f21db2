//! Training benchmarks: data-loading throughput (decode + TSN sampling + multi-scale crop +
//! normalise, on the loader's threads) and training-step throughput (forward, backward,
//! optimiser step) with a breakdown, on generated Jester-sized frames (176×100 JPEG).

use crate::model::config::{Arch, Consensus, ModelConfig};
use crate::model::tsn::{BuildOptions, Tsn};
use crate::synth::{render_clip, Motion};
use crate::train::data::flip::FlipPolicy;
use crate::train::data::index::{ClipEntry, ClipList};
use crate::train::data::loader::{Augment, EpochLoader, LoaderOptions};
use crate::train::data::{Dataset, FrameNaming};
use crate::train::optim::{OptimConfig, Optimizer};
use crate::train::params::trainable_params;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub arch: Arch,
    pub consensus: Consensus,
    pub segments: usize,
    pub input_size: usize,
    pub batch_size: usize,
    /// Timed training steps (after one warm-up step).
    pub steps: usize,
    /// Clips in the generated data set for the loading benchmark.
    pub clips: usize,
    /// Loader thread counts to measure.
    pub workers: Vec<usize>,
    /// A real data set to measure loading on instead of the generated one (e.g.
    /// Something-Something v2 after `data extract`).
    pub dataset: Option<Dataset>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            arch: Arch::SqueezeNet11,
            consensus: Consensus::TrnMultiscale,
            segments: 8,
            input_size: 224,
            batch_size: 8,
            steps: 3,
            clips: 64,
            workers: vec![1, 2],
            dataset: None,
        }
    }
}

/// Loader throughput with a given number of threads.
#[derive(Debug, Clone, Serialize)]
pub struct LoadRate {
    pub workers: usize,
    pub clips_per_s: f64,
}

/// The measurements.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub arch: String,
    pub consensus: String,
    pub segments: usize,
    pub input_size: usize,
    pub batch_size: usize,
    pub threads: usize,
    pub loading: Vec<LoadRate>,
    /// Mean milliseconds per batch.
    pub forward_ms: f64,
    pub backward_ms: f64,
    pub step_ms: f64,
    /// Training clips per second (forward + backward + step, data already in memory).
    pub train_clips_per_s: f64,
}

/// Writes `clips` generated clips of 36 Jester-sized frames (176×100) under `dir`.
fn write_jester_like(dir: &Path, clips: usize) -> Result<Dataset> {
    let mut entries = Vec::new();
    for c in 0..clips {
        let motion = Motion::ALL[c % Motion::ALL.len()];
        let clip_dir = dir.join(c.to_string());
        std::fs::create_dir_all(&clip_dir).map_err(|e| Error::io(&clip_dir, e))?;
        for (f, img) in render_clip(motion, c as u64, 176, 36).iter().enumerate() {
            let frame = image::imageops::crop_imm(img, 0, 38, 176, 100).to_image();
            let p = clip_dir.join(format!("{:05}.jpg", f + 1));
            frame
                .save(&p)
                .map_err(|e| Error::bad_file(&p, e.to_string()))?;
        }
        entries.push(ClipEntry {
            id: c.to_string(),
            num_frames: Some(36),
            label: Some(c % Motion::ALL.len()),
            line: c + 1,
        });
    }
    Ok(Dataset {
        frames_dir: dir.to_path_buf(),
        naming: FrameNaming::jester(),
        labels: Motion::ALL.iter().map(|m| m.label().to_string()).collect(),
        rates: Default::default(),
        list: ClipList {
            path: dir.join("bench.txt"),
            entries,
        },
    })
}

/// Runs both benchmarks on the CPU.
pub fn run(opts: &BenchOptions) -> Result<BenchReport> {
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let ds = Arc::new(match &opts.dataset {
        Some(d) => d.clone(),
        None => write_jester_like(tmp.path(), opts.clips)?,
    });
    let labels = ds.labels.clone();
    let mut cfg = ModelConfig::new(opts.arch, opts.consensus, opts.segments, labels);
    cfg.input_size = opts.input_size;
    cfg.resize_size = opts.input_size * 256 / 224;

    let mut loading = Vec::new();
    for &workers in &opts.workers {
        let lo = LoaderOptions {
            clip_fps: None,
            ..LoaderOptions::for_model(&cfg, workers, 2 * workers)
        };
        let aug = Augment::Train {
            flip: FlipPolicy::Naive,
        };
        let start = Instant::now();
        let mut n = 0;
        for b in EpochLoader::start(ds.clone(), &lo, aug, (0..ds.len()).collect(), 8, 1) {
            n += b?.len();
        }
        loading.push(LoadRate {
            workers,
            clips_per_s: n as f64 / start.elapsed().as_secs_f64(),
        });
    }

    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = Tsn::new(&cfg, vb, BuildOptions::training(true, 0))?;
    let vars = varmap.data().lock().expect("varmap lock").clone();
    let (params, _) = trainable_params(&vars, cfg.arch, true);
    let mut opt = Optimizer::new(params, OptimConfig::default());
    let (b, s) = (opts.batch_size, opts.input_size);
    let x = Tensor::randn(0f32, 1.0, (b, opts.segments, 3, s, s), &device)?;
    let y = Tensor::from_vec(
        (0..b as u32)
            .map(|i| i % cfg.num_classes as u32)
            .collect::<Vec<_>>(),
        b,
        &device,
    )?;
    let (mut fwd, mut bwd, mut stp) = (0.0, 0.0, 0.0);
    for i in 0..=opts.steps {
        let t0 = Instant::now();
        let logits = model.forward_t(&x, true)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
        loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        opt.step(&grads, 1e-4)?;
        let t3 = Instant::now();
        if i > 0 {
            fwd += (t1 - t0).as_secs_f64();
            bwd += (t2 - t1).as_secs_f64();
            stp += (t3 - t2).as_secs_f64();
        }
    }
    let n = opts.steps.max(1) as f64;
    Ok(BenchReport {
        arch: cfg.arch.to_string(),
        consensus: cfg.consensus.to_string(),
        segments: opts.segments,
        input_size: s,
        batch_size: b,
        threads: rayon::current_num_threads(),
        loading,
        forward_ms: 1e3 * fwd / n,
        backward_ms: 1e3 * bwd / n,
        step_ms: 1e3 * stp / n,
        train_clips_per_s: b as f64 * n / (fwd + bwd + stp),
    })
}
