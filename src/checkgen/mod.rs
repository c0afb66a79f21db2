//! A second clip generator, used only to *check* training, never to tune it: clips in Jester's
//! layout (`category.txt`, `train_videofolder.txt`, `val_videofolder.txt`, `rgb/ID/00001.jpg...`)
//! of the same nine classes as [`synth`](../synth/index.html), written exactly as a user's own
//! recordings would be (176×100 JPEG frames by default, 30–40 frames a clip, clip lengths that
//! differ, the frame count of each clip in the index).
//!
//! It is independent of `synth` **on purpose** and shares none of its drawing or motion code: a
//! recipe tuned on `synth`'s clips that also learns these has learnt gestures, not one
//! renderer's look. So the hands, backgrounds, noise and timing here are drawn differently
//! (`scene`, `motion`): mitten and fist shapes with two to five fingers, the full range of skin
//! tones and gloves, striped, checked, gradient and value-noise backgrounds with moving blobs,
//! blur, Gaussian sensor noise, camera shake, JPEG quality 35–95, gestures that start and end
//! at different points of a clip. Nothing in a frame shows where the hand is going (no motion
//! trail, no hand leaning into a swipe): only the change from frame to frame does.
//!
//! Everything is a pure function of the seed: the same options give the same bytes.

mod motion;
mod scene;

use crate::util::{mix_seed, write_atomic, WriteError};
use image::RgbImage;
pub use motion::Gesture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// Errors of the check generator.
#[derive(Debug, thiserror::Error)]
pub enum CheckgenError {
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
}

impl From<WriteError> for CheckgenError {
    fn from(e: WriteError) -> Self {
        CheckgenError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub gestures: Vec<Gesture>,
    pub clips_per_class: usize,
    pub seed: u64,
    /// Frame width and height in pixels (Jester's are about 176×100).
    pub width: u32,
    pub height: u32,
    /// Shortest and longest clip, in frames (each clip draws its length in between).
    pub min_frames: usize,
    pub max_frames: usize,
    /// Every `val_every`-th clip of a class goes to the validation list (0: none).
    pub val_every: usize,
}

impl Default for CheckOptions {
    /// Jester-like: all nine classes, 40 training and 10 validation clips each, 176×100,
    /// 30–40 frames.
    fn default() -> Self {
        CheckOptions {
            gestures: Gesture::ALL.to_vec(),
            clips_per_class: 50,
            seed: 0,
            width: 176,
            height: 100,
            min_frames: 30,
            max_frames: 40,
            val_every: 5,
        }
    }
}

impl CheckOptions {
    fn validate(&self) -> Result<(), CheckgenError> {
        let bad = |m: String| Err(CheckgenError::Options(m));
        if self.gestures.is_empty() || self.clips_per_class == 0 {
            return bad(
                "nothing to generate: give at least one class and one clip per class".into(),
            );
        }
        for (flag, v) in [("--width", self.width), ("--height", self.height)] {
            if !(32..=1024).contains(&v) {
                return bad(format!("{flag} {v} is outside 32..=1024 pixels"));
            }
        }
        if self.min_frames < 8 || self.min_frames > self.max_frames || self.max_frames > 1000 {
            return bad(format!(
                "--frames {}-{}: give MIN-MAX with 8 <= MIN <= MAX <= 1000",
                self.min_frames, self.max_frames
            ));
        }
        Ok(())
    }
}

/// Renders one clip of `gesture` from `seed`: between `min_frames` and `max_frames` frames of
/// `width`×`height` pixels, and the JPEG quality the clip is to be saved at.
pub fn render_clip(
    gesture: Gesture,
    seed: u64,
    width: u32,
    height: u32,
    (min_frames, max_frames): (usize, usize),
) -> (Vec<RgbImage>, u8) {
    let mut rng = StdRng::seed_from_u64(seed);
    let frames = rng.random_range(min_frames..=max_frames.max(min_frames));
    let look = scene::Look::random(width, height, frames, &mut rng);
    let track = motion::Track::random(gesture, width as f32, height as f32, frames, &mut rng);
    let images = (0..frames)
        .map(|f| {
            let mut frng = StdRng::seed_from_u64(mix_seed(seed, f as u64 + 1));
            look.render(f, track.pose(f), &mut frng)
        })
        .collect();
    (images, look.jpeg_quality)
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSummary {
    pub labels: Vec<String>,
    pub train_clips: usize,
    pub val_clips: usize,
    pub frames_written: usize,
}

fn save_jpeg(img: &RgbImage, path: &Path, quality: u8) -> Result<(), CheckgenError> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(img)
        .map_err(|source| CheckgenError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(write_atomic(path, &bytes)?)
}

/// Writes a Jester-layout data set into `out` (created if needed). `progress(done, total)` is
/// called with the clips written so far.
pub fn generate(
    out: &Path,
    opts: &CheckOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<CheckSummary, CheckgenError> {
    opts.validate()?;
    let mut gestures = opts.gestures.clone();
    gestures.sort();
    gestures.dedup();
    let labels: Vec<String> = gestures.iter().map(|g| g.label().to_string()).collect();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckgenError::Io { path, source }
    };
    let rgb = out.join("rgb");
    std::fs::create_dir_all(&rgb).map_err(io(&rgb))?;

    // (id, class, k-th clip of its class); ids interleave the classes as a recording session.
    let jobs: Vec<(usize, usize, usize)> = (0..opts.clips_per_class)
        .flat_map(|k| (0..gestures.len()).map(move |c| (c, k)))
        .enumerate()
        .map(|(i, (c, k))| (i + 1, c, k))
        .collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    use rayon::prelude::*;
    let lengths: Vec<usize> = jobs
        .par_iter()
        .map(|&(id, class, _)| {
            let dir = rgb.join(id.to_string());
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let (frames, quality) = render_clip(
                gestures[class],
                mix_seed(opts.seed ^ CHECKGEN_SALT, id as u64),
                opts.width,
                opts.height,
                (opts.min_frames, opts.max_frames),
            );
            for (f, img) in frames.iter().enumerate() {
                save_jpeg(img, &dir.join(format!("{:05}.jpg", f + 1)), quality)?;
            }
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(d, jobs.len());
            Ok::<usize, CheckgenError>(frames.len())
        })
        .collect::<Result<_, _>>()?;

    let (mut train, mut val) = (String::new(), String::new());
    for (&(id, class, k), n) in jobs.iter().zip(&lengths) {
        let list = if opts.val_every > 0 && k % opts.val_every == opts.val_every - 1 {
            &mut val
        } else {
            &mut train
        };
        list.push_str(&format!("{id} {n} {class}\n"));
    }
    write_atomic(&out.join("train_videofolder.txt"), train.as_bytes())?;
    write_atomic(&out.join("val_videofolder.txt"), val.as_bytes())?;
    let mut category = labels.join("\n");
    category.push('\n');
    write_atomic(&out.join("category.txt"), category.as_bytes())?;
    Ok(CheckSummary {
        labels,
        train_clips: train.lines().count(),
        val_clips: val.lines().count(),
        frames_written: lengths.iter().sum(),
    })
}

/// Mixed into the seed so that `checkgen --seed S` and `synth --seed S` never draw from the
/// same random stream, even by accident.
const CHECKGEN_SALT: u64 = 0xC4EC_6E40_0000_0002;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::data::DataSpec;

    fn small(gestures: Vec<Gesture>, clips: usize) -> CheckOptions {
        CheckOptions {
            gestures,
            clips_per_class: clips,
            width: 64,
            height: 36,
            min_frames: 8,
            max_frames: 12,
            ..Default::default()
        }
    }

    #[test]
    fn clips_are_a_pure_function_of_the_seed() {
        let a = render_clip(Gesture::SwipingUp, 7, 88, 50, (30, 40));
        let b = render_clip(Gesture::SwipingUp, 7, 88, 50, (30, 40));
        let c = render_clip(Gesture::SwipingUp, 8, 88, 50, (30, 40));
        assert_eq!(a, b);
        assert_ne!(a.0, c.0);
        assert!((30..=40).contains(&a.0.len()), "{}", a.0.len());
        assert_eq!(a.0[0].dimensions(), (88, 50));
        assert!((35..=95).contains(&a.1));
        // Clip lengths and JPEG qualities vary from clip to clip.
        let looks: std::collections::BTreeSet<(usize, u8)> = (0..20)
            .map(|s| {
                let (f, q) = render_clip(Gesture::NoGesture, s, 32, 32, (30, 40));
                (f.len(), q)
            })
            .collect();
        assert!(looks.len() > 10, "{looks:?}");
    }

    #[test]
    fn writes_a_data_set_the_trainer_reads_and_data_check_passes() {
        let dir = tempfile::tempdir().unwrap();
        let opts = small(
            vec![
                Gesture::ZoomingOut,
                Gesture::NoGesture,
                Gesture::SwipingLeft,
            ],
            5,
        );
        let s = generate(dir.path(), &opts, &|_, _| {}).unwrap();
        assert_eq!(
            s.labels,
            vec!["No gesture", "Swiping Left", "Zooming Out With Full Hand"]
        );
        assert_eq!((s.train_clips, s.val_clips), (12, 3));
        let spec = DataSpec::new(dir.path());
        let mut frames = 0;
        let mut per_class = [0usize; 3];
        for (list, clips) in [("train_videofolder.txt", 12), ("val_videofolder.txt", 3)] {
            let ds = spec.open(Path::new(list)).unwrap();
            assert_eq!(ds.len(), clips);
            assert_eq!(ds.labels, s.labels);
            let report = crate::train::data::check::check_dataset(&ds, true, &|_| {});
            assert!(report.problems.is_empty(), "{list}: {:?}", report.problems);
            frames += report.frames_decoded;
            for e in &ds.list.entries {
                per_class[e.label.unwrap()] += 1;
                let n = e.num_frames.unwrap();
                assert!((8..=12).contains(&n), "clip {} has {n} frames", e.id);
                let img = image::open(ds.frame_path(e, n - 1)).unwrap();
                assert_eq!((img.width(), img.height()), (64, 36));
            }
        }
        assert_eq!(per_class, [5, 5, 5]);
        assert_eq!(frames, s.frames_written);
        // Same seed, same bytes; another seed, other clips.
        let again = tempfile::tempdir().unwrap();
        generate(again.path(), &opts, &|_, _| {}).unwrap();
        let other = tempfile::tempdir().unwrap();
        generate(other.path(), &CheckOptions { seed: 1, ..opts }, &|_, _| {}).unwrap();
        for rel in ["rgb/4/00003.jpg", "train_videofolder.txt", "category.txt"] {
            let read = |d: &Path| std::fs::read(d.join(rel)).unwrap();
            assert_eq!(read(dir.path()), read(again.path()), "{rel}");
        }
        let first = |d: &Path| std::fs::read(d.join("rgb/1/00001.jpg")).unwrap();
        assert_ne!(first(dir.path()), first(other.path()));
    }

    #[test]
    fn bad_options_are_refused_with_the_flag_named() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                CheckOptions {
                    width: 8,
                    ..Default::default()
                },
                "--width 8",
            ),
            (
                CheckOptions {
                    height: 2000,
                    ..Default::default()
                },
                "--height 2000",
            ),
            (
                CheckOptions {
                    min_frames: 40,
                    max_frames: 30,
                    ..Default::default()
                },
                "--frames 40-30",
            ),
            (
                CheckOptions {
                    gestures: vec![],
                    ..Default::default()
                },
                "nothing to generate",
            ),
        ];
        for (opts, want) in cases {
            let e = generate(dir.path(), &opts, &|_, _| {})
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
