//! The feature cache of a frozen backbone: every frame of every clip goes through the backbone
//! once (the fast inference path, at the model's input size and normalisation, resize + centre
//! crop as in evaluation), and so does its mirror image where a flip may be drawn for the clip's
//! label. Epochs then pick TSN segments and flips from the cache instead of decoding and
//! running the backbone again. With RGBDiff a cache row is one possible segment (the
//! differences of the consecutive frames starting there), not one frame.
//!
//! A landmark model's backbone reads what the hand tracker reported instead of pixels: a cache
//! row is one tracked frame, from the clip's landmark file or from its frames run through the
//! tracker ([`super::landmark_inputs`]).

use super::landmark_inputs;
use crate::hands::tracker::HandTracker;
use crate::model::backbone::hand_landmarks::INPUT_ROWS;
use crate::model::GestureModel;
use crate::preprocess;
use crate::train::data::landmarks::LandmarkClip;
use crate::train::data::loader::Skipped;
use crate::train::data::Dataset;
use crate::{Error, Result};
use candle_core::Tensor;
use image::RgbImage;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// One clip's backbone features.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipFeatures {
    /// Index of the clip in its data set's list.
    pub entry: usize,
    pub label: usize,
    /// Rows of `plain`: the frames at the model's clip rate (a recorded clip, `dataset.toml`,
    /// is resampled by time as the train loader and the live worker do, so segments are picked
    /// among the frames the model would see); with RGBDiff, the places a segment of
    /// consecutive frames may start among them.
    pub frames: usize,
    /// `[frames, F]` row-major.
    pub plain: Vec<f32>,
    /// The horizontally mirrored frames' features, `[frames, F]`; `None` when the clip is never
    /// flipped.
    pub flipped: Option<Vec<f32>>,
}

/// The backbone features of a data set's readable clips.
#[derive(Debug, Clone, Default)]
pub struct FeatureCache {
    /// Width F of one frame's feature.
    pub dim: usize,
    pub clips: Vec<ClipFeatures>,
    /// Clips that could not be read, and why.
    pub skipped: Vec<Skipped>,
}

/// Frames sent through the backbone at once.
const CHUNK: usize = 64;

/// Frames in the clip: from the index when it says, else counted on disk.
fn frame_count(ds: &Dataset, entry: usize) -> Result<usize> {
    let e = &ds.list.entries[entry];
    match e.num_frames {
        Some(k) if k > 0 => Ok(k),
        Some(_) => Err(Error::Clip {
            path: ds.clip_dir(e),
            reason: "the index says the clip has 0 frames".into(),
        }),
        None => {
            let n = preprocess::list_clip_frames(&ds.clip_dir(e))?.len();
            if n == 0 {
                return Err(Error::Clip {
                    path: ds.clip_dir(e),
                    reason: "no frames".into(),
                });
            }
            Ok(n)
        }
    }
}

/// The stored frames a clip of `stored` frames contributes at the model's clip rate.
fn clip_steps(ds: &Dataset, entry: usize, stored: usize, model: &GestureModel) -> Vec<usize> {
    match ds.rates.rate(&ds.list.entries[entry].id) {
        Some(from) => preprocess::resample_clip(stored, from, model.config().clip_fps),
        None => (0..stored).collect(),
    }
}

/// Cache rows of a clip whose frames at the clip rate are `steps` (at least one): one per
/// possible segment start, which for RGB is one per frame.
fn clip_rows(model: &GestureModel, steps: usize) -> usize {
    preprocess::segment_starts_len(steps, model.config().frames_per_segment())
}

/// Decodes, crops and normalises the stored frames `steps` of a clip into its backbone inputs,
/// one per cache row (and their mirror images when `flip`): `[rows (+ rows), c_in, S, S]`
/// row-major, the mirrored rows after the plain ones.
fn clip_pixels(
    ds: &Dataset,
    entry: usize,
    steps: &[usize],
    model: &GestureModel,
    flip: bool,
) -> Result<Vec<f32>> {
    let cfg = model.config();
    let plane = cfg.input_channels() * cfg.input_size * cfg.input_size;
    let e = &ds.list.entries[entry];
    let per = cfg.frames_per_segment();
    let frames = clip_rows(model, steps.len());
    // Row r reads the frames r..r + per (the last one repeated past the clip's end).
    let segment = |r: usize| preprocess::segment_frames(&[r], per, steps.len());
    let images: Vec<RgbImage> = steps
        .par_iter()
        .map(|&i| {
            let path = ds.frame_path(e, i);
            if !path.exists() {
                return Err(Error::Clip {
                    path,
                    reason: "frame missing (the index names more frames)".to_string(),
                });
            }
            let img = preprocess::load_frame(&path)?;
            Ok(preprocess::frame_view(
                &img,
                cfg.framing,
                cfg.resize_size,
                cfg.input_size,
            ))
        })
        .collect::<Result<_>>()?;
    let copies = if flip { 2 } else { 1 };
    let mut out = vec![0f32; copies * frames * plane];
    let (plain, mirrored) = out.split_at_mut(frames * plane);
    let write = |images: &[RgbImage], dst: &mut [f32]| {
        dst.par_chunks_mut(plane).enumerate().for_each(|(r, d)| {
            let crops: Vec<&RgbImage> = segment(r).into_iter().map(|i| &images[i]).collect();
            preprocess::segment_into(&crops, cfg.modality, &cfg.input, d);
        });
    };
    write(&images, plain);
    if flip {
        let mirrored_images: Vec<RgbImage> = images
            .par_iter()
            .map(image::imageops::flip_horizontal)
            .collect();
        write(&mirrored_images, mirrored);
    }
    Ok(out)
}

/// Where a clip's backbone inputs come from.
enum Inputs {
    /// Stored frames at the clip rate, decoded and cropped (a pixel backbone).
    Pixels(Vec<usize>),
    /// A landmark file, read (a landmark backbone).
    Landmarks(LandmarkClip),
    /// Stored frames at the clip rate, to run through the hand tracker (a landmark backbone
    /// on a folder of frames).
    Tracked(Vec<usize>),
}

impl Inputs {
    /// Cache rows of the clip (plain only).
    fn rows(&self, model: &GestureModel) -> usize {
        match self {
            Inputs::Pixels(steps) => clip_rows(model, steps.len()),
            Inputs::Landmarks(clip) => clip.frames.len(),
            Inputs::Tracked(steps) => steps.len(),
        }
    }
}

/// How clip `entry` of `ds` is read for `model`, or why it cannot be.
fn plan_inputs(model: &GestureModel, ds: &Dataset, entry: usize) -> Result<Inputs> {
    if !model.config().arch.reads_landmarks() {
        let stored = frame_count(ds, entry)?;
        return Ok(Inputs::Pixels(clip_steps(ds, entry, stored, model)));
    }
    if landmark_inputs::is_frame_folder(ds, entry) {
        let stored = frame_count(ds, entry)?;
        return Ok(Inputs::Tracked(clip_steps(ds, entry, stored, model)));
    }
    landmark_inputs::read(ds, entry).map(Inputs::Landmarks)
}

/// The shape of one backbone input row: `[c_in, S, S]`, or `[22, 3]` for landmarks.
fn row_shape(model: &GestureModel) -> Vec<usize> {
    let cfg = model.config();
    if cfg.arch.reads_landmarks() {
        vec![INPUT_ROWS, 3]
    } else {
        vec![cfg.input_channels(), cfg.input_size, cfg.input_size]
    }
}

/// `[n, c_in, S, S]` pixels (landmarks: `[n, 22, 3]`) → `[n, F]` backbone features, in
/// chunks.
fn backbone(model: &GestureModel, pixels: &[f32], n: usize) -> Result<Vec<f32>> {
    let shape = row_shape(model);
    let plane: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n * model.config().arch.feature_dim());
    for (k, chunk) in pixels.chunks(CHUNK * plane).enumerate() {
        let m = chunk.len() / plane;
        debug_assert!(k * CHUNK + m <= n);
        let mut dims = vec![m];
        dims.extend_from_slice(&shape);
        let x = Tensor::from_slice(chunk, dims, model.device())?;
        let f = model.backbone_features(&x)?; // [m, F]
        out.extend(f.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(out)
}

impl FeatureCache {
    /// Runs the backbone of `model` over every clip of `ds`. `flip(label)` says whether the
    /// mirrored frames of a clip with that label are needed too. `progress(done, total)` counts
    /// frames (mirrored ones included). Unreadable clips are skipped and listed; `cancel` stops
    /// between clips with [`Error::Cancelled`].
    pub fn compute(
        model: &GestureModel,
        ds: &Dataset,
        flip: &dyn Fn(usize) -> bool,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<Self> {
        let dim = model.config().arch.feature_dim();
        // Frame counts first, so progress knows the total.
        let mut plan = Vec::with_capacity(ds.len());
        let mut skipped = Vec::new();
        for (i, e) in ds.list.entries.iter().enumerate() {
            let label = e.label.ok_or_else(|| Error::Clip {
                path: ds.clip_dir(e),
                reason: "clip has no label".into(),
            })?;
            match plan_inputs(model, ds, i) {
                Ok(inputs) => plan.push((i, label, inputs, flip(label))),
                Err(err) => skipped.push(Skipped {
                    id: e.id.clone(),
                    reason: crate::error::report(&err),
                }),
            }
        }
        let total: usize = plan
            .iter()
            .map(|(_, _, inputs, f)| {
                let rows = inputs.rows(model);
                if *f {
                    2 * rows
                } else {
                    rows
                }
            })
            .sum();
        let mut done = 0;
        progress(done, total);
        let mut clips = Vec::with_capacity(plan.len());
        // Built at the first clip of frames a landmark model needs tracked.
        let mut tracker: Option<HandTracker> = None;
        for (entry, label, inputs, flip) in plan {
            let frames = inputs.rows(model);
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled("computing backbone features".into()));
            }
            let rows = if flip { 2 * frames } else { frames };
            let read = match &inputs {
                Inputs::Pixels(steps) => clip_pixels(ds, entry, steps, model, flip),
                Inputs::Landmarks(clip) => Ok(landmark_inputs::packed(clip, flip)),
                Inputs::Tracked(steps) => {
                    let t = match &mut tracker {
                        Some(t) => t,
                        None => tracker.insert(landmark_inputs::tracker(model.config())?),
                    };
                    landmark_inputs::track(ds, entry, steps, t)
                        .map(|clip| landmark_inputs::packed(&clip, flip))
                }
            };
            let pixels = match read {
                Ok(p) => p,
                Err(err) => {
                    skipped.push(Skipped {
                        id: ds.list.entries[entry].id.clone(),
                        reason: crate::error::report(&err),
                    });
                    done += rows;
                    progress(done, total);
                    continue;
                }
            };
            let mut features = backbone(model, &pixels, rows)?;
            let flipped = flip.then(|| features.split_off(frames * dim));
            clips.push(ClipFeatures {
                entry,
                label,
                frames,
                plain: features,
                flipped,
            });
            done += rows;
            progress(done, total);
        }
        Ok(FeatureCache {
            dim,
            clips,
            skipped,
        })
    }

    /// Appends the features of frames `indices` of clip `clip` (mirrored when `flipped`, which
    /// the clip must have) to `out`: `[indices.len(), F]`.
    pub fn gather(&self, clip: usize, indices: &[usize], flipped: bool, out: &mut Vec<f32>) {
        let c = &self.clips[clip];
        let rows = match (&c.flipped, flipped) {
            (Some(f), true) => f,
            (None, true) => panic!("clip {} has no mirrored features", c.entry),
            _ => &c.plain,
        };
        for &i in indices {
            let i = i.min(c.frames - 1);
            out.extend_from_slice(&rows[i * self.dim..(i + 1) * self.dim]);
        }
    }

    /// Bytes the cached features take.
    pub fn bytes(&self) -> usize {
        self.clips
            .iter()
            .map(|c| (c.plain.len() + c.flipped.as_ref().map_or(0, Vec::len)) * 4)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Arch, Consensus, ModelConfig};
    use crate::train::data::index::{ClipEntry, ClipList};
    use crate::train::data::FrameNaming;

    /// Clips of `frames` frames whose left half is bright and right half dark.
    fn dataset(dir: &std::path::Path, frames: &[usize]) -> Dataset {
        let mut entries = Vec::new();
        for (c, &n) in frames.iter().enumerate() {
            let clip = dir.join(format!("c{c}"));
            std::fs::create_dir_all(&clip).unwrap();
            for f in 0..n {
                let img = RgbImage::from_fn(40, 40, |x, y| {
                    let v = if x < 20 {
                        230
                    } else {
                        10 + (f * 20 + y as usize) as u8
                    };
                    image::Rgb([v, v / 2, (c * 40) as u8])
                });
                img.save(clip.join(format!("{:05}.png", f + 1))).unwrap();
            }
            entries.push(ClipEntry {
                id: format!("c{c}"),
                num_frames: Some(n),
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
            labels: vec!["Left".into(), "Right".into()],
            list: ClipList {
                path: dir.join("list.txt"),
                entries,
            },
            rates: Default::default(),
        }
    }

    fn model() -> GestureModel {
        let mut cfg = ModelConfig::new(
            Arch::SqueezeNet11,
            Consensus::Avg,
            2,
            vec!["Left".into(), "Right".into()],
        );
        cfg.input_size = 32;
        cfg.resize_size = 32;
        crate::testing::random_model(&cfg, &candle_core::Device::Cpu).unwrap()
    }

    /// A recorded clip (its rate in `dataset.toml`) is cached at the model's clip rate: the
    /// rows are the stored frames the train loader would resample to.
    #[test]
    fn recorded_clips_are_cached_at_the_clip_rate() {
        let dir = tempfile::tempdir().unwrap();
        let mut ds = dataset(dir.path(), &[8]);
        let m = model();
        let none = AtomicBool::new(false);
        let stored = FeatureCache::compute(&m, &ds, &|_| false, &mut |_, _| {}, &none).unwrap();
        ds.rates
            .clip_fps
            .insert("c0".into(), 2.0 * m.config().clip_fps);
        let rated = FeatureCache::compute(&m, &ds, &|_| false, &mut |_, _| {}, &none).unwrap();
        let steps = preprocess::resample_clip(8, 2.0 * m.config().clip_fps, m.config().clip_fps);
        assert_eq!(steps.len(), 4, "{steps:?}");
        assert_eq!(rated.clips[0].frames, 4);
        let mut want = Vec::new();
        stored.gather(0, &steps, false, &mut want);
        assert_eq!(rated.clips[0].plain, want);
    }

    #[test]
    fn shapes_flips_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let mut ds = dataset(dir.path(), &[3, 5, 2]);
        // Clip 2 claims more frames than it has: skipped, not fatal.
        ds.list.entries[2].num_frames = Some(9);
        let m = model();
        let mut seen = Vec::new();
        let cache = FeatureCache::compute(
            &m,
            &ds,
            &|label| label == 1,
            &mut |d, t| seen.push((d, t)),
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(cache.dim, 512);
        assert_eq!(cache.clips.len(), 2);
        let (a, b) = (&cache.clips[0], &cache.clips[1]);
        assert_eq!((a.entry, a.label, a.frames), (0, 0, 3));
        assert_eq!(a.plain.len(), 3 * 512);
        assert!(a.flipped.is_none(), "label 0 is never flipped");
        assert_eq!(b.flipped.as_ref().unwrap().len(), 5 * 512);
        assert_ne!(b.flipped.as_ref().unwrap(), &b.plain);
        assert_eq!(cache.skipped.len(), 1);
        assert!(cache.skipped[0].reason.contains("frame missing"));
        assert_eq!(seen.last(), Some(&(3 + 10 + 9, 3 + 10 + 9)));
        assert_eq!(cache.bytes(), (3 + 10) * 512 * 4);

        // The cache holds exactly what the inference model computes per frame.
        let frame = preprocess::load_frame(&ds.frame_path(&ds.list.entries[1], 4)).unwrap();
        let x = preprocess::frames_to_tensor(std::slice::from_ref(&frame), m.config(), m.device())
            .unwrap();
        let x = x.reshape((1, 3, 32, 32)).unwrap();
        let want = m.backbone_features(&x).unwrap().flatten_all().unwrap();
        let mut got = Vec::new();
        cache.gather(1, &[4], false, &mut got);
        let want: Vec<f32> = want.to_vec1().unwrap();
        let diff = crate::model::kernels::max_abs_diff(&got, &want);
        assert!(diff < 1e-4, "{diff}");
        // ... and the mirrored row is the mirrored frame's.
        let mirrored = image::imageops::flip_horizontal(&frame);
        let x = preprocess::frames_to_tensor(&[mirrored], m.config(), m.device()).unwrap();
        let want: Vec<f32> = m
            .backbone_features(&x.reshape((1, 3, 32, 32)).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let mut got = Vec::new();
        cache.gather(1, &[4], true, &mut got);
        let diff = crate::model::kernels::max_abs_diff(&got, &want);
        assert!(diff < 1e-4, "{diff}");

        // Gathering repeats and clamps indices as segment sampling asks.
        let mut rows = Vec::new();
        cache.gather(0, &[0, 0, 2], false, &mut rows);
        assert_eq!(rows.len(), 3 * 512);
        assert_eq!(rows[..512], rows[512..1024]);
    }

    /// With RGBDiff a row is a segment: the differences of the frames starting there, as the
    /// inference model computes them from the same frames.
    #[test]
    fn frame_difference_rows_are_segments_of_consecutive_frames() {
        let dir = tempfile::tempdir().unwrap();
        let ds = dataset(dir.path(), &[6]);
        let mut cfg = model().config().clone();
        cfg.modality = crate::model::config::Modality::RgbDiff;
        cfg.new_length = 2;
        let m = crate::testing::random_model(&cfg, &candle_core::Device::Cpu).unwrap();
        let none = AtomicBool::new(false);
        let cache = FeatureCache::compute(&m, &ds, &|_| true, &mut |_, _| {}, &none).unwrap();
        // 6 frames, segments of 3: 4 starts.
        assert_eq!(cache.clips[0].frames, 4);
        assert_eq!(cache.clips[0].plain.len(), 4 * 512);
        let e = &ds.list.entries[0];
        for (flipped, start) in [(false, 1), (true, 3)] {
            let frames: Vec<RgbImage> = (start..start + 3)
                .map(|i| {
                    let f = preprocess::load_frame(&ds.frame_path(e, i)).unwrap();
                    if flipped {
                        image::imageops::flip_horizontal(&f)
                    } else {
                        f
                    }
                })
                .collect();
            let x = preprocess::frames_to_tensor(&frames, m.config(), m.device()).unwrap();
            assert_eq!(x.dims(), &[1, 6, 32, 32]);
            let want: Vec<f32> = m
                .backbone_features(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let mut got = Vec::new();
            cache.gather(0, &[start], flipped, &mut got);
            let diff = crate::model::kernels::max_abs_diff(&got, &want);
            assert!(diff < 1e-4, "start {start} flipped {flipped}: {diff}");
        }
    }

    #[test]
    fn cancel_stops_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let ds = dataset(dir.path(), &[2]);
        let e = FeatureCache::compute(
            &model(),
            &ds,
            &|_| true,
            &mut |_, _| {},
            &AtomicBool::new(true),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Cancelled(_)), "{e}");
    }
}
