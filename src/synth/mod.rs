//! Generated clips in Jester's layout (`category.txt`, `train_videofolder.txt`,
//! `val_videofolder.txt`, `rgb/ID/00001.jpg...`): a drawn hand swiping in four directions,
//! zooming in and out, turning either way, or holding still, over random backgrounds with random
//! sizes, speeds, colours and noise. They let training, evaluation and the live app run where
//! Jester itself cannot be downloaded; a model trained on them recognises these drawings, not
//! real hands. Everything is a pure function of the seed.

pub mod motion;
pub mod render;

use crate::train::atomic::write_atomic;
use crate::train::data::loader::mix_seed;
use image::RgbImage;
pub use motion::Motion;
use motion::Path;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use render::{render_frame, Scene};
use std::path::{Path as FsPath, PathBuf};

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot encode frame")]
    Encode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub motions: Vec<Motion>,
    pub clips_per_class: usize,
    pub seed: u64,
    /// Frame side in pixels (frames are square).
    pub size: u32,
    pub frames: usize,
    /// Every `val_every`-th clip of a class goes to the validation list (0: none).
    pub val_every: usize,
    pub jpeg_quality: u8,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            motions: Motion::ALL.to_vec(),
            clips_per_class: 40,
            seed: 0,
            size: 128,
            frames: 24,
            val_every: 5,
            jpeg_quality: 90,
        }
    }
}

/// Renders one clip of `motion`: `frames` square frames of `size` pixels.
pub fn render_clip(motion: Motion, seed: u64, size: u32, frames: usize) -> Vec<RgbImage> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut scene = Scene::random(size, &mut rng);
    let path = Path::random(motion, size as f32, &mut rng);
    if motion == Motion::NoGesture && rng.random_bool(0.25) {
        scene.hand_visible = false;
    }
    let jitter = if motion == Motion::NoGesture {
        1.0
    } else {
        0.0
    };
    let last = (frames.max(2) - 1) as f32;
    (0..frames)
        .map(|f| {
            let mut frng = StdRng::seed_from_u64(mix_seed(seed, f as u64 + 1));
            let mut pose = path.at(f as f32 / last);
            // A still hand is never perfectly still.
            pose.x += frng.random_range(-jitter..=jitter);
            pose.y += frng.random_range(-jitter..=jitter);
            let trail: Vec<_> = (1..=4)
                .map(|k| path.at((f as f32 - k as f32) / last))
                .collect();
            render_frame(&scene, pose, &trail, &mut frng)
        })
        .collect()
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSummary {
    pub labels: Vec<String>,
    pub train_clips: usize,
    pub val_clips: usize,
    pub frames_written: usize,
}

fn save_jpeg(img: &RgbImage, path: &FsPath, quality: u8) -> Result<(), SynthError> {
    let file = std::fs::File::create(path).map_err(|source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut w = std::io::BufWriter::new(file);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut w, quality)
        .encode_image(img)
        .map_err(|source| SynthError::Encode {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes a Jester-layout data set into `out` (created if needed). `progress` is called with
/// the clips done so far.
pub fn generate(
    out: &FsPath,
    opts: &SynthOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SynthSummary, SynthError> {
    if opts.motions.is_empty() || opts.clips_per_class == 0 || opts.frames == 0 {
        return Err(SynthError::Options(
            "nothing to generate: give at least one class, one clip per class and one frame".into(),
        ));
    }
    if !(32..=1024).contains(&opts.size) {
        return Err(SynthError::Options(format!(
            "--size {} is outside 32..=1024 pixels",
            opts.size
        )));
    }
    let mut motions = opts.motions.clone();
    motions.sort();
    motions.dedup();
    let labels: Vec<String> = motions.iter().map(|m| m.label().to_string()).collect();
    let io = |path: &FsPath| {
        let path = path.to_path_buf();
        move |source| SynthError::Io { path, source }
    };
    let rgb = out.join("rgb");
    std::fs::create_dir_all(&rgb).map_err(io(&rgb))?;

    // Clip ids interleave the classes, as a real recording session would.
    let jobs: Vec<(usize, usize, usize)> = (0..opts.clips_per_class)
        .flat_map(|k| (0..motions.len()).map(move |c| (c, k)))
        .enumerate()
        .map(|(i, (c, k))| (i + 1, c, k))
        .collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    use rayon::prelude::*;
    jobs.par_iter().try_for_each(|&(id, class, _)| {
        let dir = rgb.join(id.to_string());
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let frames = render_clip(
            motions[class],
            mix_seed(opts.seed, id as u64),
            opts.size,
            opts.frames,
        );
        for (f, img) in frames.iter().enumerate() {
            save_jpeg(
                img,
                &dir.join(format!("{:05}.jpg", f + 1)),
                opts.jpeg_quality,
            )?;
        }
        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(d, jobs.len());
        Ok::<(), SynthError>(())
    })?;

    let (mut train, mut val) = (Vec::new(), Vec::new());
    for &(id, class, k) in &jobs {
        let line = (id.to_string(), opts.frames, class);
        if opts.val_every > 0 && k % opts.val_every == opts.val_every - 1 {
            val.push(line);
        } else {
            train.push(line);
        }
    }
    let write_list = |name: &str, lines: &[(String, usize, usize)]| {
        crate::train::data::index::write_trn_list(&out.join(name), lines)
    };
    write_list("train_videofolder.txt", &train)?;
    write_list("val_videofolder.txt", &val)?;
    let mut category = labels.join("\n");
    category.push('\n');
    write_atomic(&out.join("category.txt"), category.as_bytes())?;
    Ok(SynthSummary {
        labels,
        train_clips: train.len(),
        val_clips: val.len(),
        frames_written: jobs.len() * opts.frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_are_deterministic_per_seed() {
        let a = render_clip(Motion::SwipingLeft, 5, 48, 4);
        let b = render_clip(Motion::SwipingLeft, 5, 48, 4);
        let c = render_clip(Motion::SwipingLeft, 6, 48, 4);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 4);
        assert_eq!(a[0].dimensions(), (48, 48));
    }

    #[test]
    fn writes_a_jester_layout_data_set() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SynthOptions {
            motions: vec![Motion::SwipingRight, Motion::NoGesture],
            clips_per_class: 5,
            size: 40,
            frames: 6,
            ..Default::default()
        };
        let s = generate(dir.path(), &opts, &|_, _| {}).unwrap();
        assert_eq!(s.labels, vec!["No gesture", "Swiping Right"]);
        assert_eq!((s.train_clips, s.val_clips, s.frames_written), (8, 2, 60));
        let ds = crate::train::data::DataSpec::new(dir.path())
            .open(FsPath::new("val_videofolder.txt"))
            .unwrap();
        assert_eq!(ds.len(), 2);
        let report = crate::train::data::check::check_dataset(&ds, true, &|_| {});
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.frames_decoded, 12);
        // Same seed, same bytes.
        let dir2 = tempfile::tempdir().unwrap();
        generate(dir2.path(), &opts, &|_, _| {}).unwrap();
        for rel in ["rgb/3/00004.jpg", "train_videofolder.txt", "category.txt"] {
            assert_eq!(
                std::fs::read(dir.path().join(rel)).unwrap(),
                std::fs::read(dir2.path().join(rel)).unwrap()
            );
        }
    }
}
