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
use crate::train::error::{Result, TrainError};
use crate::train::optim::{OptimConfig, Optimizer};
use crate::train::params::trainable_params;
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
        std::fs::create_dir_all(&clip_dir).map_err(|e| TrainError::io(&clip_dir, e))?;
        for (f, img) in render_clip(motion, c as u64, 176, 36).iter().enumerate() {
            let frame = image::imageops::crop_imm(img, 0, 38, 176, 100).to_image();
            let p = clip_dir.join(format!("{:05}.jpg", f + 1));
            frame
                .save(&p)
                .map_err(|e| TrainError::bad_file(&p, e.to_string()))?;
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
        list: ClipList {
            path: dir.join("bench.txt"),
            entries,
        },
    })
}

/// Runs both benchmarks on the CPU.
pub fn run(opts: &BenchOptions) -> Result<BenchReport> {
    let tmp = tempfile::tempdir().map_err(|e| TrainError::io(std::env::temp_dir(), e))?;
    let ds = Arc::new(write_jester_like(tmp.path(), opts.clips)?);
    let labels = ds.labels.clone();
    let mut cfg = ModelConfig::new(opts.arch, opts.consensus, opts.segments, labels);
    cfg.input_size = opts.input_size;
    cfg.resize_size = opts.input_size * 256 / 224;

    let mut loading = Vec::new();
    for &workers in &opts.workers {
        let lo = LoaderOptions {
            num_segments: opts.segments,
            input_size: opts.input_size,
            resize_size: cfg.resize_size,
            norm: cfg.input,
            workers,
            prefetch: 2 * workers,
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

#[cfg(test)]
mod scratch {
    use super::*;
    use crate::model::layers::max_pool_ceil;
    fn t<F: FnMut() -> candle_core::Result<()>>(name: &str, mut f: F) {
        f().unwrap();
        let s = Instant::now();
        for _ in 0..3 {
            f().unwrap();
        }
        eprintln!("{name}: {:.1} ms", s.elapsed().as_secs_f64() * 1e3 / 3.0);
    }
    #[test]
    #[ignore]
    fn ops() {
        let dev = Device::Cpu;
        let n = 128;
        let x = candle_core::Var::randn(0f32, 1.0, (n, 16, 15, 15), &dev).unwrap();
        let w = candle_core::Var::randn(0f32, 0.1, (64, 16, 3, 3), &dev).unwrap();
        t("conv3x3 16->64 @15 fwd", || {
            x.conv2d(&w, 1, 1, 1, 1)?;
            Ok(())
        });
        t("conv3x3 16->64 @15 fwd+bwd", || {
            let y = x.conv2d(&w, 1, 1, 1, 1)?;
            y.sum_all()?.backward()?;
            Ok(())
        });
        t("FAST conv3x3 16->64 @15 fwd+bwd", || {
            let y = crate::ops::conv2d(&x, &w, 1, 1)?;
            y.sum_all()?.backward()?;
            Ok(())
        });
        let x1 = candle_core::Var::randn(0f32, 1.0, (n, 64, 15, 15), &dev).unwrap();
        let w1 = candle_core::Var::randn(0f32, 0.1, (16, 64, 1, 1), &dev).unwrap();
        t("1x1 matmul 64->16 fwd+bwd", || {
            let (b, c, h, ww) = x1.dims4()?;
            let y = w1
                .reshape((16, 64))?
                .broadcast_matmul(&x1.reshape((b, c, h * ww))?)?;
            y.sum_all()?.backward()?;
            Ok(())
        });
        t("relu+cat fwd+bwd", || {
            let y = Tensor::cat(&[&x1.relu()?, &x1.relu()?], 1)?;
            y.sum_all()?.backward()?;
            Ok(())
        });
        let g = Tensor::randn(0f32, 1.0, (n, 64, 15, 15), &dev).unwrap();
        t("  conv_transpose (grad input)", || {
            g.conv_transpose2d(&w, 1, 0, 1, 1)?;
            Ok(())
        });
        t("  grad kernel conv", || {
            x.transpose(0, 1)?.conv2d(&g.transpose(0, 1)?, 1, 1, 1, 1)?;
            Ok(())
        });
        let x0 = candle_core::Var::randn(0f32, 1.0, (n, 3, 64, 64), &dev).unwrap();
        let w0 = candle_core::Var::randn(0f32, 0.1, (64, 3, 3, 3), &dev).unwrap();
        t("conv0 fwd+bwd", || {
            let y = x0.conv2d(&w0, 0, 2, 1, 1)?;
            y.sum_all()?.backward()?;
            Ok(())
        });
        let x0c = x0.as_tensor().detach();
        t("FAST conv0 fwd+bwd (untracked input)", || {
            let y = crate::ops::conv2d(&x0c, &w0, 0, 2)?;
            y.sum_all()?.backward()?;
            Ok(())
        });
        let p = candle_core::Var::randn(0f32, 1.0, (n, 64, 31, 31), &dev).unwrap();
        t("maxpool train fwd", || {
            max_pool_ceil(&p, 3, 2, 0, true)?;
            Ok(())
        });
        t("maxpool train fwd+bwd", || {
            max_pool_ceil(&p, 3, 2, 0, true)?.sum_all()?.backward()?;
            Ok(())
        });
        let cfg = ModelConfig::new(
            Arch::SqueezeNet11,
            Consensus::TrnMultiscale,
            8,
            vec!["a".into(); 9],
        );
        let vm = VarMap::new();
        let m = Tsn::new(
            &cfg,
            VarBuilder::from_varmap(&vm, DType::F32, &dev),
            BuildOptions::training(true, 0),
        )
        .unwrap();
        let xin = Tensor::randn(0f32, 1.0, (128, 3, 64, 64), &dev).unwrap();
        t("backbone fwd inference (no grad)", || {
            let xi = xin.clone();
            let mm = &m;
            let _ = (mm, xi);
            Ok(())
        });
        t("backbone fwd", || {
            m.backbone_features_t(&xin, true)?;
            Ok(())
        });
        t("backbone fwd+bwd", || {
            m.backbone_features_t(&xin, true)?.sum_all()?.backward()?;
            Ok(())
        });
        let f = Tensor::randn(0f32, 1.0, (16, 8, 256), &dev).unwrap();
        t("TRN head fwd+bwd", || {
            m.head_t(&f, true)?.sum_all()?.backward()?;
            Ok(())
        });
        let mut cfg2 = cfg.clone();
        cfg2.trn_mode = crate::model::config::TrnMode::Random;
        let m2 = Tsn::new(
            &cfg2,
            VarBuilder::from_varmap(&vm, DType::F32, &dev),
            BuildOptions::training(true, 0),
        )
        .unwrap();
        t("TRN random head fwd+bwd", || {
            m2.head_t(&f, true)?.sum_all()?.backward()?;
            Ok(())
        });
        let mut cfg3 = cfg.clone();
        cfg3.consensus = Consensus::Mlp;
        let vm3 = VarMap::new();
        let m3 = Tsn::new(
            &cfg3,
            VarBuilder::from_varmap(&vm3, DType::F32, &dev),
            BuildOptions::training(true, 0),
        )
        .unwrap();
        t("MLP head fwd+bwd", || {
            m3.head_t(&f, true)?.sum_all()?.backward()?;
            Ok(())
        });
    }
}
#[cfg(test)]
mod scratch2 {
    use super::*;
    #[test]
    #[ignore]
    fn overfit() {
        let dev = Device::Cpu;
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Mlp, 2, vec!["a".into(); 4]);
        cfg.input_size = 48;
        cfg.resize_size = 48;
        let vm = VarMap::new();
        let m = Tsn::new(
            &cfg,
            VarBuilder::from_varmap(&vm, DType::F32, &dev),
            BuildOptions::training(true, 0),
        )
        .unwrap();
        let vars = vm.data().lock().unwrap().clone();
        let (params, sum) = trainable_params(&vars, cfg.arch, true);
        eprintln!("{sum}");
        let mut opt = Optimizer::new(
            params,
            OptimConfig {
                kind: crate::train::optim::OptimizerKind::Adam,
                weight_decay: 0.0,
                ..OptimConfig::default()
            },
        );
        let x = Tensor::randn(0f32, 1.0, (8, 2, 3, 48, 48), &dev).unwrap();
        let y = Tensor::new(&[0u32, 1, 2, 3, 0, 1, 2, 3], &dev).unwrap();
        for i in 0..30 {
            let logits = m.forward_t(&x, true).unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
            let g = loss.backward().unwrap();
            let with = opt
                .params()
                .iter()
                .filter(|p| g.get(p.var.as_tensor()).is_some())
                .count();
            let r = opt.step(&g, 1e-3).unwrap();
            eprintln!(
                "{i}: loss {:.4} grad_norm {:.4} params with grads {with}/{}",
                loss.to_scalar::<f32>().unwrap(),
                r.grad_norm,
                opt.params().len()
            );
        }
    }
}
#[cfg(test)]
mod scratch3 {
    use super::*;
    use crate::train::data::DataSpec;
    #[test]
    #[ignore]
    fn diag() {
        let dev = Device::Cpu;
        let ds = DataSpec::new("/tmp/syn64")
            .open(Path::new("train_videofolder.txt"))
            .unwrap();
        let labels = ds.labels.clone();
        let ds = Arc::new(ds);
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Mlp, 4, labels);
        cfg.input_size = 64;
        cfg.resize_size = 64;
        let lo = LoaderOptions {
            num_segments: 4,
            input_size: 64,
            resize_size: 64,
            norm: cfg.input,
            workers: 1,
            prefetch: 2,
        };
        let batches: Vec<_> =
            EpochLoader::start(ds.clone(), &lo, Augment::Eval, (0..64).collect(), 16, 0)
                .map(|b| b.unwrap())
                .collect();
        let vm = VarMap::new();
        let m = Tsn::new(
            &cfg,
            VarBuilder::from_varmap(&vm, DType::F32, &dev),
            BuildOptions::training(true, 0),
        )
        .unwrap();
        let vars = vm.data().lock().unwrap().clone();
        let (params, _) = trainable_params(&vars, cfg.arch, true);
        let mut opt = Optimizer::new(
            params,
            OptimConfig {
                kind: crate::train::optim::OptimizerKind::Adam,
                weight_decay: 0.0,
                ..OptimConfig::default()
            },
        );
        let stats = |t: &Tensor| {
            let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
            let z = v.iter().filter(|x| **x == 0.0).count() as f32 / v.len() as f32;
            let mean = v.iter().sum::<f32>() / v.len() as f32;
            let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / v.len() as f32;
            format!("zeros {:.2} mean {:.4} std {:.4}", z, mean, var.sqrt())
        };
        for step in 0..40 {
            let b = &batches[step % batches.len()];
            let x = Tensor::from_vec(b.data.clone(), (b.len(), 4, 3, 64, 64), &dev).unwrap();
            let y = Tensor::from_vec(b.labels.clone(), b.len(), &dev).unwrap();
            if step % 10 == 0 {
                let f = m
                    .backbone_features_t(&x.reshape((b.len() * 4, 3, 64, 64)).unwrap(), false)
                    .unwrap();
                // spread across samples per feature
                let sd = f
                    .var_keepdim(0)
                    .unwrap()
                    .sqrt()
                    .unwrap()
                    .mean_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                eprintln!("step {step}: input {} | backbone feats {} | per-feature std across frames {sd:.5}", stats(&x), stats(&f));
            }
            let logits = m.forward_t(&x, true).unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
            let g = loss.backward().unwrap();
            let r = opt.step(&g, 1e-3).unwrap();
            eprintln!(
                "  {step}: loss {:.4} grad {:.4}",
                loss.to_scalar::<f32>().unwrap(),
                r.grad_norm
            );
        }
    }
}
