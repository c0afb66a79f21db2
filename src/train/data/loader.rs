//! The batch loader: decodes, samples (TSN rules), augments and normalises clips on worker
//! threads, ahead of the model, through bounded queues.
//!
//! Worker `w` builds batches `w, w + W, w + 2W, ...` into its own bounded channel and the
//! consumer reads the channels round-robin, so batches arrive in order and the result does not
//! depend on thread timing. Every random choice of a clip comes from a seed derived from
//! (epoch seed, position in the epoch), which makes an epoch reproducible — and a resumed run
//! identical to an uninterrupted one — whatever the number of workers.
//!
//! A clip whose folder or frames cannot be read is left out of its batch and reported in
//! [`Batch::skipped`]; it never stops the run.

use super::augment::{crop_resize, sample_crop};
use super::flip::FlipPolicy;
use super::{landmarks, Dataset};
use crate::model::backbone::hand_landmarks;
use crate::model::config::{Framing, InputNorm, Modality, ModelConfig};
use crate::preprocess;
use crate::util::mix_seed;
use crate::{Error, Result};
use crossbeam_channel::{bounded, Receiver};
use image::RgbImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What every clip becomes: N segments of `input_size`² normalised per `norm` (one frame each
/// for RGB, frame differences for RGBDiff).
#[derive(Debug, Clone)]
pub struct LoaderOptions {
    pub num_segments: usize,
    /// What a segment feeds the backbone.
    pub modality: Modality,
    /// Frame differences per segment with RGBDiff.
    pub new_length: usize,
    pub input_size: usize,
    /// Shorter side before the evaluation centre crop.
    pub resize_size: usize,
    /// Which part of each frame the model sees.
    pub framing: Framing,
    pub norm: InputNorm,
    /// Decoding threads.
    pub workers: usize,
    /// Batches decoded ahead of the consumer (across all workers).
    pub prefetch: usize,
    /// The model's clip rate: clips whose recording rate the data set gives (`dataset.toml`)
    /// are resampled to it before segments are picked. `None`: every clip is used as stored.
    pub clip_fps: Option<f32>,
    /// Clips are landmark files (`ID.json`) for the `hand_landmarks` backbone, not frames.
    pub landmarks: bool,
}

impl LoaderOptions {
    /// What `cfg`'s model reads, at its clip rate, decoded by `workers` threads with
    /// `prefetch` batches ahead.
    pub fn for_model(cfg: &ModelConfig, workers: usize, prefetch: usize) -> Self {
        LoaderOptions {
            num_segments: cfg.num_segments,
            modality: cfg.modality,
            new_length: cfg.new_length,
            input_size: cfg.input_size,
            resize_size: cfg.resize_size,
            framing: cfg.framing,
            norm: cfg.input,
            workers,
            prefetch,
            clip_fps: Some(cfg.clip_fps),
            landmarks: cfg.arch.reads_landmarks(),
        }
    }

    /// Consecutive frames a segment reads ([`Modality::frames_per_segment`]).
    pub fn frames_per_segment(&self) -> usize {
        self.modality.frames_per_segment(self.new_length)
    }

    /// Channels of one segment's input ([`Modality::input_channels`]).
    pub fn channels(&self) -> usize {
        self.modality.input_channels(self.new_length)
    }

    /// Floats of one preprocessed clip.
    pub fn clip_len(&self) -> usize {
        self.num_segments * self.segment_dims().iter().product::<usize>()
    }

    /// The shape of one segment's input: `[c_in, S, S]`, or `[22, 3]` for landmarks.
    pub fn segment_dims(&self) -> Vec<usize> {
        if self.landmarks {
            vec![hand_landmarks::INPUT_ROWS, 3]
        } else {
            vec![self.channels(), self.input_size, self.input_size]
        }
    }

    /// The shape of a batch of `b` clips: `[b, N, ...segment_dims]`.
    pub fn batch_dims(&self, b: usize) -> Vec<usize> {
        let mut d = vec![b, self.num_segments];
        d.extend(self.segment_dims());
        d
    }
}

/// Training or evaluation preprocessing.
#[derive(Debug, Clone)]
pub enum Augment {
    /// Random TSN sampling, multi-scale crop, flip per the policy.
    Train { flip: FlipPolicy },
    /// Centre-of-segment sampling, resize + centre crop.
    Eval,
}

/// A clip that was left out, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// One batch: `data` is `[b, N, c_in, S, S]` row-major.
#[derive(Debug)]
pub struct Batch {
    /// Position of the batch in the epoch.
    pub index: usize,
    pub data: Vec<f32>,
    pub labels: Vec<u32>,
    /// Dataset entry index of every clip in the batch.
    pub entries: Vec<usize>,
    pub skipped: Vec<Skipped>,
}

impl Batch {
    /// Clips in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when every clip of the batch was skipped.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Loads, samples and preprocesses one clip into `out` ([`LoaderOptions::clip_len`] floats);
/// returns its label after augmentation. Errors name the clip folder or frame file.
pub fn load_clip_into(
    ds: &Dataset,
    entry_idx: usize,
    opts: &LoaderOptions,
    aug: &Augment,
    seed: u64,
    out: &mut [f32],
) -> Result<u32> {
    let entry = &ds.list.entries[entry_idx];
    let label = entry.label.ok_or_else(|| Error::Clip {
        path: ds.clip_dir(entry),
        reason: "clip has no label".into(),
    })?;
    if opts.landmarks {
        return load_landmark_clip_into(ds, entry_idx, label, opts, aug, seed, out);
    }
    let n = opts.num_segments;
    let num_frames = match entry.num_frames {
        Some(k) => k,
        None => preprocess::list_clip_frames(&ds.clip_dir(entry))?.len(),
    };
    // Steps at the model's clip rate, each a stored frame: segments are picked among these.
    let steps = match (opts.clip_fps, ds.rates.rate(&entry.id)) {
        (Some(to), Some(from)) => preprocess::resample_clip(num_frames, from, to),
        _ => (0..num_frames).collect(),
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let per = opts.frames_per_segment();
    let starts_len = preprocess::segment_starts_len(steps.len(), per);
    let starts = match aug {
        Augment::Train { .. } => preprocess::sample_train_indices(starts_len, n, &mut rng),
        Augment::Eval => preprocess::sample_eval_indices(starts_len, n),
    };
    // Every segment's frames, segment after segment.
    let indices: Vec<usize> = preprocess::segment_frames(&starts, per, steps.len())
        .iter()
        .map(|&i| steps[i.min(steps.len() - 1)])
        .collect();
    // Decode each distinct frame once (short clips repeat indices).
    let mut decoded: Vec<(usize, RgbImage)> = Vec::with_capacity(n);
    for &i in &indices {
        if decoded.iter().all(|(j, _)| *j != i) {
            let path = ds.frame_path(entry, i);
            if !path.exists() {
                return Err(Error::Clip {
                    path,
                    reason: format!("frame missing (the index says {num_frames} frames)"),
                });
            }
            let img = preprocess::load_frame(&path)?;
            decoded.push((i, img));
        }
    }
    let seg_len = opts.channels() * opts.input_size * opts.input_size;
    let (first_w, first_h) = decoded[0].1.dimensions();
    let (crop, flip, label) = match aug {
        Augment::Train { flip } => {
            let crop = sample_crop(opts.framing, first_w, first_h, opts.input_size, &mut rng);
            let coin = rng.random_bool(0.5);
            match flip.flipped_label(label) {
                Some(mirrored) if coin => (Some(crop), true, mirrored),
                _ => (Some(crop), false, label),
            }
        }
        Augment::Eval => (None, false, label),
    };
    // Each distinct frame is cropped once; a segment then reads its frames' crops.
    let mut crops: Vec<(usize, RgbImage)> = Vec::with_capacity(decoded.len());
    for (i, img) in &decoded {
        let mut frame = match crop {
            Some(c) => crop_resize(img, c, opts.input_size),
            None => preprocess::frame_view(img, opts.framing, opts.resize_size, opts.input_size),
        };
        if flip {
            image::imageops::flip_horizontal_in_place(&mut frame);
        }
        crops.push((*i, frame));
    }
    for (slot, seg) in indices.chunks(per).enumerate() {
        let frames: Vec<&RgbImage> = seg
            .iter()
            .map(|i| &crops.iter().find(|(j, _)| j == i).expect("cropped above").1)
            .collect();
        preprocess::segment_into(
            &frames,
            opts.modality,
            &opts.norm,
            &mut out[slot * seg_len..(slot + 1) * seg_len],
        );
    }
    Ok(label as u32)
}

/// [`load_clip_into`] for a landmark clip: TSN's segment picks over the clip's frames (the
/// file's frame count, at the rate it was written), one tracked frame per segment; a flip
/// mirrors the landmarks and the handedness and maps the label like a frame flip.
fn load_landmark_clip_into(
    ds: &Dataset,
    entry_idx: usize,
    label: usize,
    opts: &LoaderOptions,
    aug: &Augment,
    seed: u64,
    out: &mut [f32],
) -> Result<u32> {
    let entry = &ds.list.entries[entry_idx];
    let clip = landmarks::read_clip(&ds.landmark_path(entry))?;
    let mut rng = StdRng::seed_from_u64(seed);
    let frames = clip.frames.len();
    let (indices, flip, label) = match aug {
        Augment::Train { flip } => {
            let idx = preprocess::sample_train_indices(frames, opts.num_segments, &mut rng);
            let coin = rng.random_bool(0.5);
            match flip.flipped_label(label) {
                Some(mirrored) if coin => (idx, true, mirrored),
                _ => (idx, false, label),
            }
        }
        Augment::Eval => (
            preprocess::sample_eval_indices(frames, opts.num_segments),
            false,
            label,
        ),
    };
    landmarks::pack_frames(&clip, &indices, flip, out);
    Ok(label as u32)
}

fn build_batch(
    ds: &Dataset,
    opts: &LoaderOptions,
    aug: &Augment,
    index: usize,
    items: &[(usize, u64)],
) -> Batch {
    let clip_len = opts.clip_len();
    let mut data = vec![0f32; items.len() * clip_len];
    let mut labels = Vec::with_capacity(items.len());
    let mut entries = Vec::with_capacity(items.len());
    let mut skipped = Vec::new();
    for &(entry, seed) in items {
        let slot = labels.len();
        let out = &mut data[slot * clip_len..(slot + 1) * clip_len];
        match load_clip_into(ds, entry, opts, aug, seed, out) {
            Ok(label) => {
                labels.push(label);
                entries.push(entry);
            }
            Err(e) => skipped.push(Skipped {
                id: ds.list.entries[entry].id.clone(),
                reason: crate::error::report(&e),
            }),
        }
    }
    data.truncate(labels.len() * clip_len);
    Batch {
        index,
        data,
        labels,
        entries,
        skipped,
    }
}

/// The batches of one pass over `order` (dataset entry indices), produced by worker threads.
pub struct EpochLoader {
    receivers: Vec<Receiver<Batch>>,
    next: usize,
    num_batches: usize,
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl EpochLoader {
    /// Starts the workers. Clip `k` of `order` gets the seed `mix_seed(seed, k)`.
    pub fn start(
        ds: Arc<Dataset>,
        opts: &LoaderOptions,
        aug: Augment,
        order: Vec<usize>,
        batch_size: usize,
        seed: u64,
    ) -> Self {
        let batch_size = batch_size.max(1);
        let num_batches = order.len().div_ceil(batch_size);
        let workers = opts.workers.clamp(1, num_batches.max(1));
        let per_worker = opts.prefetch.div_ceil(workers).max(1);
        let stop = Arc::new(AtomicBool::new(false));
        let order = Arc::new(order);
        let aug = Arc::new(aug);
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = bounded::<Batch>(per_worker);
            receivers.push(rx);
            let (ds, order, aug, stop, opts) = (
                ds.clone(),
                order.clone(),
                aug.clone(),
                stop.clone(),
                opts.clone(),
            );
            let handle = std::thread::Builder::new()
                .name(format!("loader-{w}"))
                .spawn(move || {
                    for b in (w..num_batches).step_by(workers) {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let lo = b * batch_size;
                        let hi = (lo + batch_size).min(order.len());
                        let items: Vec<(usize, u64)> = (lo..hi)
                            .map(|k| (order[k], mix_seed(seed, k as u64)))
                            .collect();
                        let batch = build_batch(&ds, &opts, &aug, b, &items);
                        if tx.send(batch).is_err() {
                            return; // The consumer went away.
                        }
                    }
                })
                .expect("spawning a loader thread");
            handles.push(handle);
        }
        EpochLoader {
            receivers,
            next: 0,
            num_batches,
            stop,
            handles,
        }
    }

    /// Batches in the epoch.
    pub fn num_batches(&self) -> usize {
        self.num_batches
    }
}

impl Iterator for EpochLoader {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.num_batches {
            return None;
        }
        let rx = &self.receivers[self.next % self.receivers.len()];
        self.next += 1;
        Some(
            rx.recv()
                .map_err(|_| Error::Data("a data loader thread stopped unexpectedly".into())),
        )
    }
}

impl Drop for EpochLoader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receivers unblocks workers waiting to send.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Decoding threads to use by default: the model's own math runs on rayon's pool over every
/// core, so the loader takes a quarter of them (at least one).
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::Arch;
    use crate::train::data::index::{ClipEntry, ClipList};
    use crate::train::data::FrameNaming;

    /// A data set of `k` clips of 6 frames, 20×16, whose pixel value encodes (clip, frame).
    fn tiny_dataset(dir: &std::path::Path, k: usize) -> Dataset {
        let mut entries = Vec::new();
        for c in 0..k {
            let clip = dir.join(format!("c{c}"));
            std::fs::create_dir_all(&clip).unwrap();
            for f in 0..6 {
                let img = RgbImage::from_pixel(20, 16, image::Rgb([(c * 10 + f) as u8, 0, 0]));
                img.save(clip.join(format!("{:05}.png", f + 1))).unwrap();
            }
            entries.push(ClipEntry {
                id: format!("c{c}"),
                num_frames: Some(6),
                label: Some(c % 2),
                line: c + 1,
            });
        }
        Dataset {
            frames_dir: dir.to_path_buf(),
            naming: FrameNaming {
                digits: 5,
                ext: "png".into(),
            },
            labels: vec!["a".into(), "b".into()],
            rates: Default::default(),
            list: ClipList {
                path: dir.join("list.txt"),
                entries,
            },
        }
    }

    /// A data set of one clip, `c0` (label 0), of `frames`.
    fn one_clip_dataset(dir: &std::path::Path, frames: &[RgbImage]) -> Dataset {
        let clip = dir.join("c0");
        std::fs::create_dir_all(&clip).unwrap();
        for (f, img) in frames.iter().enumerate() {
            img.save(clip.join(format!("{:05}.png", f + 1))).unwrap();
        }
        let mut ds = tiny_dataset(dir, 0);
        ds.list.entries.push(ClipEntry {
            id: "c0".into(),
            num_frames: Some(frames.len()),
            label: Some(0),
            line: 1,
        });
        ds
    }

    fn opts(workers: usize) -> LoaderOptions {
        let mut norm = Arch::SqueezeNet11.default_input();
        norm.scale = 1.0;
        norm.mean = [0.0; 3];
        norm.std = [1.0; 3];
        LoaderOptions {
            num_segments: 3,
            modality: Modality::Rgb,
            new_length: 0,
            input_size: 8,
            resize_size: 8,
            framing: Framing::CenterCrop,
            norm,
            workers,
            prefetch: 2,
            clip_fps: None,
            landmarks: false,
        }
    }

    #[test]
    fn eval_batches_arrive_in_order_with_centre_frames() {
        let dir = tempfile::tempdir().unwrap();
        let ds = Arc::new(tiny_dataset(dir.path(), 5));
        let loader = EpochLoader::start(ds, &opts(2), Augment::Eval, vec![4, 3, 2, 1, 0], 2, 0);
        assert_eq!(loader.num_batches(), 3);
        let batches: Vec<Batch> = loader.map(Result::unwrap).collect();
        assert_eq!(
            batches.iter().map(|b| b.index).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(batches[0].entries, vec![4, 3]);
        assert_eq!(batches[0].labels, vec![0, 1]);
        // Clip 4, frames 1, 3, 5 (0-based centres of 3 segments of 6): red = 40 + f.
        let plane = 3 * 64;
        let red: Vec<f32> = (0..3).map(|s| batches[0].data[s * plane]).collect();
        assert_eq!(red, vec![41.0, 43.0, 45.0]);
        assert_eq!(batches[2].len(), 1);
    }

    #[test]
    fn whole_frame_models_see_the_edges_of_wide_frames() {
        // One clip of 3 frames, 32×8, bright only in its 4 leftmost columns.
        let dir = tempfile::tempdir().unwrap();
        let edge = RgbImage::from_fn(32, 8, |x, _| {
            image::Rgb(if x < 4 { [200, 200, 200] } else { [0, 0, 0] })
        });
        let ds = one_clip_dataset(dir.path(), &[edge.clone(), edge.clone(), edge]);
        let left_column = |framing: Framing, aug: &Augment, seed: u64| -> f32 {
            let o = LoaderOptions { framing, ..opts(1) };
            let mut out = vec![f32::NAN; o.clip_len()];
            load_clip_into(&ds, 0, &o, aug, seed, &mut out).unwrap();
            // Red of the first segment's column 0, mean over the 8 rows.
            (0..8).map(|y| out[y * 8]).sum::<f32>() / 8.0
        };
        assert!(left_column(Framing::WholeFrame, &Augment::Eval, 0) > 150.0);
        assert!(left_column(Framing::CenterCrop, &Augment::Eval, 0) < 1.0);
        // Training crops of a whole-frame model cover the left edge in some draws (corner and
        // edge places), as the scale-1 crop does.
        let train = Augment::Train {
            flip: FlipPolicy::Off,
        };
        let seen = (0..40)
            .filter(|&seed| left_column(Framing::WholeFrame, &train, seed) > 150.0)
            .count();
        assert!((1..40).contains(&seen), "{seen} of 40 draws saw the edge");
    }

    #[test]
    fn rgb_diff_segments_hold_the_differences_of_consecutive_frames() {
        // One clip of 6 frames whose red value is f²; 3 segments of 3 frames (2 differences):
        // TSN's centres over the 4 possible starts are 0, 2, 3.
        let dir = tempfile::tempdir().unwrap();
        let frames: Vec<RgbImage> = (0..6u8)
            .map(|f| RgbImage::from_pixel(8, 8, image::Rgb([f * f, 7, 0])))
            .collect();
        let ds = one_clip_dataset(dir.path(), &frames);
        let o = LoaderOptions {
            modality: Modality::RgbDiff,
            new_length: 2,
            ..opts(1)
        };
        assert_eq!((o.channels(), o.clip_len()), (6, 3 * 6 * 64));
        let mut out = vec![f32::NAN; o.clip_len()];
        load_clip_into(&ds, 0, &o, &Augment::Eval, 0, &mut out).unwrap();
        let plane = 64;
        // Per segment: diff 1 (red, green, blue), diff 2 (red, green, blue).
        let red: Vec<f32> = (0..6).map(|d| out[d * 3 * plane]).collect();
        assert_eq!(red, vec![1.0, 3.0, 5.0, 7.0, 7.0, 9.0]);
        assert!(out.iter().all(|v| v.is_finite()));
        let green_max = (0..6)
            .map(|d| out[(d * 3 + 1) * plane].abs())
            .fold(0f32, f32::max);
        assert_eq!(green_max, 0.0, "a constant channel differences to zero");
        // Training picks random starts but keeps each segment's frames consecutive.
        let aug = Augment::Train {
            flip: FlipPolicy::Off,
        };
        for seed in 0..20 {
            load_clip_into(&ds, 0, &o, &aug, seed, &mut out).unwrap();
            for seg in 0..3 {
                let d1 = out[(seg * 6) * plane];
                let d2 = out[(seg * 6 + 3) * plane];
                assert_eq!(d2 - d1, 2.0, "seed {seed} segment {seg}: {d1} then {d2}");
            }
        }
    }

    #[test]
    fn unreadable_clips_are_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut ds = tiny_dataset(dir.path(), 4);
        std::fs::write(dir.path().join("c1/00002.png"), b"not a png").unwrap();
        std::fs::remove_dir_all(dir.path().join("c2")).unwrap();
        ds.list.entries[3].num_frames = Some(40);
        let ds = Arc::new(ds);
        let aug = Augment::Train {
            flip: FlipPolicy::Off,
        };
        let batches: Vec<Batch> = EpochLoader::start(ds, &opts(1), aug, vec![0, 1, 2, 3], 4, 9)
            .map(Result::unwrap)
            .collect();
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(b.entries, vec![0]);
        assert_eq!(b.data.len(), 3 * 3 * 64);
        let ids: Vec<&str> = b.skipped.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["c1", "c2", "c3"]);
        assert!(
            b.skipped[2].reason.contains("missing"),
            "{:?}",
            b.skipped[2]
        );
    }

    #[test]
    fn train_epochs_are_reproducible_across_worker_counts() {
        let dir = tempfile::tempdir().unwrap();
        let ds = Arc::new(tiny_dataset(dir.path(), 6));
        let run = |workers: usize, seed: u64| -> Vec<f32> {
            let aug = Augment::Train {
                flip: FlipPolicy::Naive,
            };
            EpochLoader::start(ds.clone(), &opts(workers), aug, (0..6).collect(), 2, seed)
                .flat_map(|b| b.unwrap().data)
                .collect()
        };
        assert_eq!(run(1, 5), run(3, 5));
        assert_ne!(run(1, 5), run(1, 6));
    }

    #[test]
    fn flips_mirror_the_label_and_the_pixels() {
        let dir = tempfile::tempdir().unwrap();
        // Left half dark, right half bright.
        let half = RgbImage::from_fn(8, 8, |x, _| image::Rgb([if x < 4 { 0 } else { 200 }; 3]));
        let ds = one_clip_dataset(dir.path(), &[half.clone(), half.clone(), half]);
        let flip = FlipPolicy::Mirror(vec![Some(1), Some(0)]);
        let o = opts(1);
        let (mut flipped, mut kept) = (0, 0);
        for seed in 0..40 {
            let mut out = vec![0f32; 3 * 3 * 64];
            let aug = Augment::Train { flip: flip.clone() };
            let label = load_clip_into(&ds, 0, &o, &aug, seed, &mut out).unwrap();
            let left_bright = out[0] > 100.0;
            assert_eq!(label == 1, left_bright, "the label follows the pixels");
            if label == 1 {
                flipped += 1
            } else {
                kept += 1
            }
        }
        assert!(flipped > 5 && kept > 5, "{flipped} {kept}");
    }

    #[test]
    fn recorded_clips_are_resampled_to_the_model_rate() {
        // 13 frames recorded at 24 fps (0.5 s) for a model at 6 fps: 4 steps, frames 0, 4, 8,
        // 12, of which 3 centre segments take steps 0, 2, 3.
        let dir = tempfile::tempdir().unwrap();
        let frames: Vec<RgbImage> = (0..13u8)
            .map(|f| RgbImage::from_pixel(8, 8, image::Rgb([f * 10, 0, 0])))
            .collect();
        let mut ds = one_clip_dataset(dir.path(), &frames);
        let red = |ds: &Dataset, clip_fps: Option<f32>| -> Vec<f32> {
            let o = LoaderOptions {
                clip_fps,
                ..opts(1)
            };
            let mut out = vec![0f32; 3 * 3 * 64];
            load_clip_into(ds, 0, &o, &Augment::Eval, 0, &mut out).unwrap();
            (0..3).map(|s| out[s * 3 * 64]).collect()
        };
        // Without a stored rate (or without a model rate) the clip is used as stored: frames
        // 2, 6, 10.
        assert_eq!(red(&ds, Some(6.0)), vec![20.0, 60.0, 100.0]);
        ds.rates.clip_fps.insert("c0".into(), 24.0);
        assert_eq!(red(&ds, None), vec![20.0, 60.0, 100.0]);
        assert_eq!(red(&ds, Some(6.0)), vec![0.0, 80.0, 120.0]);
        // At the recording's own rate nothing changes.
        assert_eq!(red(&ds, Some(24.0)), vec![20.0, 60.0, 100.0]);
        // Training picks stay inside the resampled steps: only multiples of 4 frames at 6 fps.
        for seed in 0..20 {
            let o = LoaderOptions {
                clip_fps: Some(6.0),
                ..opts(1)
            };
            let mut out = vec![0f32; 3 * 3 * 64];
            let aug = Augment::Train {
                flip: FlipPolicy::Off,
            };
            load_clip_into(&ds, 0, &o, &aug, seed, &mut out).unwrap();
            for s in 0..3 {
                // Crops resize a uniform frame: its value is kept.
                let v = out[s * 3 * 64].round() as usize;
                assert_eq!(v % 40, 0, "seed {seed}: frame value {v}");
            }
        }
    }
}
