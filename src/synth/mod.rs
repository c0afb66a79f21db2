//! Generated clips in Jester's layout (`category.txt`, `train_videofolder.txt`,
//! `val_videofolder.txt`, `rgb/ID/00001.jpg...`): a drawn hand swiping in four directions,
//! zooming in and out, turning either way, or holding still, over random backgrounds with random
//! sizes, speeds, colours and noise. They let training, evaluation and the live app run where
//! Jester itself cannot be downloaded; a model trained on them recognises these drawings, not
//! real hands. Everything is a pure function of the seed.
//!
//! The hard look ([`SynthOptions::hard`], `synth --hard`) turns off the cues drawn for global
//! average pooling (trail, lean) and makes backgrounds, hands and speeds vary much more, in
//! frames of any size (Jester's are 176×100) and clips of varying length: data of the kind an
//! independent renderer or a user's own recordings give, to tune training recipes on.
//! [`Look::recording`] (`synth --hard --recording`) adds what a recording adds: a hand anywhere
//! in the frame that sways, a shaking camera, a movement that fills only part of the clip.

pub mod motion;
pub mod render;

use crate::util::{mix_seed, write_atomic, WriteError};
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
}

impl From<WriteError> for SynthError {
    fn from(e: WriteError) -> Self {
        SynthError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub motions: Vec<Motion>,
    pub clips_per_class: usize,
    pub seed: u64,
    /// Frame width in pixels (and height, unless `height` is set).
    pub size: u32,
    /// Frame height in pixels; `None`: square frames.
    pub height: Option<u32>,
    /// Frames per clip; with `max_frames`, the shortest clip.
    pub frames: usize,
    /// Longest clip: each clip's length is drawn from `frames..=max_frames`.
    pub max_frames: Option<usize>,
    /// The hard look (module doc).
    pub hard: bool,
    /// With `hard`: what a recording adds ([`Look::recording`]).
    pub recording: bool,
    /// Every `val_every`-th clip of a class goes to the validation list (0: none).
    pub val_every: usize,
    pub jpeg_quality: u8,
    /// Fraction of "No gesture" clips that show a cut-off gesture ([`render_clip_with`]).
    pub partial_no_gesture: f32,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            motions: Motion::ALL.to_vec(),
            clips_per_class: 40,
            seed: 0,
            size: 128,
            height: None,
            frames: 24,
            max_frames: None,
            hard: false,
            recording: false,
            val_every: 5,
            jpeg_quality: 90,
            partial_no_gesture: 0.0,
        }
    }
}

/// Renders one clip of `motion`: `frames` square frames of `size` pixels.
pub fn render_clip(motion: Motion, seed: u64, size: u32, frames: usize) -> Vec<RgbImage> {
    render_clip_with(motion, seed, size, frames, 0.0)
}

/// [`render_clip`], where a "No gesture" clip is, with probability `partial`, a cut-off
/// motion instead of a still hand: the start of a motion after an empty picture (the hand comes
/// in and has just begun, or comes in and holds still), or the end of one before it leaves. A live window
/// slides over such moments between gestures; a model that saw them in training learns to wait
/// until a gesture fills its window instead of guessing from its first frames.
pub fn render_clip_with(
    motion: Motion,
    seed: u64,
    size: u32,
    frames: usize,
    partial: f32,
) -> Vec<RgbImage> {
    let look = Look {
        width: size,
        height: size,
        hard: false,
        recording: false,
    };
    render_clip_look(motion, seed, &look, frames, partial)
}

/// A clip's frame size and look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    pub width: u32,
    pub height: u32,
    /// The hard look (module doc).
    pub hard: bool,
    /// What a recording adds to a clip: the hand anywhere in the frame (partly outside it too),
    /// swaying; a camera that shakes in 60 % of the clips; a movement over 30–75 % of the clip
    /// at any point of it.
    pub recording: bool,
}

/// [`render_clip_with`] in frames of any size and either look.
pub fn render_clip_look(
    motion: Motion,
    seed: u64,
    look: &Look,
    frames: usize,
    partial: f32,
) -> Vec<RgbImage> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (w, h) = (look.width, look.height);
    let mut scene = if look.hard {
        Scene::random_hard(w, h, &mut rng)
    } else {
        Scene::random_sized(w, h, &mut rng)
    };
    let new_path = |m, rng: &mut StdRng| {
        Path::random_in(m, w as f32, h as f32, look.hard, look.recording, rng)
    };
    let mut path = new_path(motion, &mut rng);
    if motion == Motion::NoGesture && rng.random_bool(0.25) {
        scene.hand_visible = false;
    }
    let last = (frames.max(2) - 1) as f32;
    // Clip time → the motion's own time, or `None` where the hand is out of the picture.
    let mut timing: Box<dyn Fn(f32) -> Option<f32>> = Box::new(Some);
    if motion == Motion::NoGesture && partial > 0.0 && rng.random_bool(partial.min(1.0) as f64) {
        // A still hand coming in or leaving is no gesture either.
        let other = Motion::ALL[rng.random_range(0..Motion::ALL.len())];
        path = new_path(other, &mut rng);
        scene.hand_visible = true;
        // The part of the other motion shown, as a fraction of its length: at most about half
        // of the movement itself (which takes the middle 55–95 % of a clip).
        let shown = rng.random_range(0.2..0.6f32);
        timing = if rng.random_bool(0.5) {
            Box::new(move |t| (t >= 1.0 - shown).then_some(t - (1.0 - shown)))
        } else {
            Box::new(move |t| (t <= shown).then_some(t + (1.0 - shown)))
        };
    }
    let jitter = if motion == Motion::NoGesture || look.recording {
        1.0
    } else {
        0.0
    };
    // A recording's hand sways as a held-up hand does, and its camera shakes (a laptop on a
    // knee, a hand-held phone): the whole picture moves a few pixels from frame to frame.
    let short = w.min(h) as f32;
    let (sway, sway_hz, phase) = if look.recording {
        (
            short * rng.random_range(0.0..0.04),
            rng.random_range(0.5..2.0f32),
            rng.random_range(0.0..std::f32::consts::TAU),
        )
    } else {
        (0.0, 0.0, 0.0)
    };
    let shake = if look.recording && rng.random_bool(0.6) {
        short * rng.random_range(0.005..0.03)
    } else {
        0.0
    };
    let mut empty = scene.clone();
    empty.hand_visible = false;
    (0..frames)
        .map(|f| {
            let mut frng = StdRng::seed_from_u64(mix_seed(seed, f as u64 + 1));
            let t = f as f32 / last;
            let (dx, dy) = if shake > 0.0 {
                (
                    frng.random_range(-shake..=shake).round() as i64,
                    frng.random_range(-shake..=shake).round() as i64,
                )
            } else {
                (0, 0)
            };
            let Some(tm) = timing(t) else {
                return shifted(render_frame(&empty, OUT_OF_PICTURE, &[], &mut frng), dx, dy);
            };
            let mut pose = path.at(tm);
            // A still hand is never perfectly still.
            pose.x += frng.random_range(-jitter..=jitter);
            pose.y += frng.random_range(-jitter..=jitter);
            // About 1.2 s of sway at 12 fps: `t` spans the clip.
            let angle = phase + std::f32::consts::TAU * sway_hz * t * last / 12.0;
            pose.x += sway * angle.sin();
            pose.y += 0.5 * sway * (1.3 * angle).cos();
            let trail: Vec<_> = (1..=4)
                .filter_map(|k| timing(t - k as f32 / last).map(|tk| path.at(tk)))
                .collect();
            shifted(render_frame(&scene, pose, &trail, &mut frng), dx, dy)
        })
        .collect()
}

/// `img` moved by (`dx`, `dy`) pixels, its edge pixels repeated where the picture moved away:
/// a shaking camera.
fn shifted(img: RgbImage, dx: i64, dy: i64) -> RgbImage {
    if dx == 0 && dy == 0 {
        return img;
    }
    let (w, h) = (img.width() as i64, img.height() as i64);
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let sx = (x as i64 - dx).clamp(0, w - 1) as u32;
        let sy = (y as i64 - dy).clamp(0, h - 1) as u32;
        *img.get_pixel(sx, sy)
    })
}

/// The pose of a hand that is not drawn.
const OUT_OF_PICTURE: motion::Pose = motion::Pose {
    x: -1.0,
    y: -1.0,
    scale: 1.0,
    angle: 0.0,
};

/// One gesture of a [`render_session`]: its frames are `start..end` (0-based) of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPart {
    pub motion: Motion,
    pub start: usize,
    pub end: usize,
}

/// A continuous recording being rendered piece by piece, as a camera would film one person: one
/// scene (background, hand, noise) throughout, gestures performed one after another, and gaps
/// in which the hand is out of the picture. Unlike clips cut one after another, nothing but the
/// hand changes from frame to frame, so a model run over a sliding window (the live app) sees
/// what it would see live.
pub struct Session {
    scene: Scene,
    empty: Scene,
    seed: u64,
    rng: StdRng,
    size: u32,
    /// Frames rendered so far: each frame's noise derives from (seed, its index).
    rendered: usize,
}

impl Session {
    /// A new recording with a scene drawn from `seed`.
    pub fn new(seed: u64, size: u32) -> Session {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut scene = Scene::random(size, &mut rng);
        scene.hand_visible = true;
        let mut empty = scene.clone();
        empty.hand_visible = false;
        Session {
            scene,
            empty,
            seed,
            rng,
            size,
            rendered: 0,
        }
    }

    fn frame_rng(&mut self) -> StdRng {
        self.rendered += 1;
        StdRng::seed_from_u64(mix_seed(self.seed, self.rendered as u64))
    }

    /// `frames` frames of `motion` (a still hand for "No gesture").
    pub fn gesture(&mut self, motion: Motion, frames: usize) -> Vec<RgbImage> {
        let path = Path::random(motion, self.size as f32, &mut self.rng);
        let jitter = if motion == Motion::NoGesture {
            1.0
        } else {
            0.0
        };
        let last = (frames.max(2) - 1) as f32;
        (0..frames)
            .map(|f| {
                let mut frng = self.frame_rng();
                let mut pose = path.at(f as f32 / last);
                pose.x += frng.random_range(-jitter..=jitter);
                pose.y += frng.random_range(-jitter..=jitter);
                let trail: Vec<_> = (1..=4)
                    .map(|k| path.at((f as f32 - k as f32) / last))
                    .collect();
                render_frame(&self.scene, pose, &trail, &mut frng)
            })
            .collect()
    }

    /// `frames` frames with the hand out of the picture.
    pub fn gap(&mut self, frames: usize) -> Vec<RgbImage> {
        (0..frames)
            .map(|_| {
                let mut frng = self.frame_rng();
                render_frame(&self.empty, OUT_OF_PICTURE, &[], &mut frng)
            })
            .collect()
    }
}

/// Renders a whole [`Session`]: each of `motions` for `frames` frames, each after `gap` frames
/// without a hand (a live window fills with an empty scene before the first gesture). Returns the frames and where each gesture lies among them.
pub fn render_session(
    motions: &[Motion],
    seed: u64,
    size: u32,
    frames: usize,
    gap: usize,
) -> (Vec<RgbImage>, Vec<SessionPart>) {
    let mut session = Session::new(seed, size);
    let mut images = Vec::new();
    let mut parts = Vec::new();
    for &motion in motions {
        images.extend(session.gap(gap));
        let start = images.len();
        images.extend(session.gesture(motion, frames));
        parts.push(SessionPart {
            motion,
            start,
            end: images.len(),
        });
    }
    (images, parts)
}

/// Writes a [`render_session`] as one clip folder: `out/00001.jpg...` and `out/script.txt`, one
/// line per gesture: `FIRST_FRAME LAST_FRAME LABEL` (1-based, inclusive). Returns the parts.
pub fn write_session(
    out: &FsPath,
    motions: &[Motion],
    opts: &SynthOptions,
    gap: usize,
) -> Result<Vec<SessionPart>, SynthError> {
    if motions.is_empty() || opts.frames < 2 || opts.size < 16 {
        return Err(SynthError::Options(
            "a session needs at least one class, 2 frames per gesture and 16 px frames".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|source| SynthError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let (images, parts) = render_session(motions, opts.seed, opts.size, opts.frames, gap);
    for (i, img) in images.iter().enumerate() {
        save_jpeg(
            img,
            &out.join(format!("{:05}.jpg", i + 1)),
            opts.jpeg_quality,
        )?;
    }
    let script: String = parts
        .iter()
        .map(|p| format!("{} {} {}\n", p.start + 1, p.end, p.motion.label()))
        .collect();
    write_atomic(&out.join("script.txt"), script.as_bytes())?;
    Ok(parts)
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
    if let Some(h) = opts.height.filter(|h| !(32..=1024).contains(h)) {
        return Err(SynthError::Options(format!(
            "--height {h} is outside 32..=1024 pixels"
        )));
    }
    if let Some(m) = opts.max_frames.filter(|&m| m < opts.frames) {
        return Err(SynthError::Options(format!(
            "--max-frames {m} is below --frames {}",
            opts.frames
        )));
    }
    let look = Look {
        width: opts.size,
        height: opts.height.unwrap_or(opts.size),
        hard: opts.hard,
        recording: opts.hard && opts.recording,
    };
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
    let lengths: Vec<usize> = jobs
        .iter()
        .map(|&(id, _, _)| clip_length(opts, id))
        .collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    use rayon::prelude::*;
    jobs.par_iter()
        .zip(&lengths)
        .try_for_each(|(&(id, class, _), &len)| {
            let dir = rgb.join(id.to_string());
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let frames = render_clip_look(
                motions[class],
                mix_seed(opts.seed, id as u64),
                &look,
                len,
                opts.partial_no_gesture,
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
    for (&(id, class, k), &len) in jobs.iter().zip(&lengths) {
        let line = (id.to_string(), len, class);
        if opts.val_every > 0 && k % opts.val_every == opts.val_every - 1 {
            val.push(line);
        } else {
            train.push(line);
        }
    }
    let write_list =
        |name: &str, lines: &[(String, usize, usize)]| write_trn_list(&out.join(name), lines);
    write_list("train_videofolder.txt", &train)?;
    write_list("val_videofolder.txt", &val)?;
    let mut category = labels.join("\n");
    category.push('\n');
    write_atomic(&out.join("category.txt"), category.as_bytes())?;
    Ok(SynthSummary {
        labels,
        train_clips: train.len(),
        val_clips: val.len(),
        frames_written: lengths.iter().sum(),
    })
}

/// Frames in clip `id`: `opts.frames`, or drawn from `frames..=max_frames` (its own stream, so
/// the pictures of a clip do not depend on its length's draw).
fn clip_length(opts: &SynthOptions, id: usize) -> usize {
    match opts.max_frames {
        Some(max) if max > opts.frames => {
            let mut rng = StdRng::seed_from_u64(mix_seed(mix_seed(opts.seed, id as u64), 0x1e57));
            rng.random_range(opts.frames..=max)
        }
        _ => opts.frames,
    }
}

/// Writes a clip list in the TRN format `<folder> <frames> <label>` (one clip a line), which
/// the training side's index reader reads back.
fn write_trn_list(path: &FsPath, entries: &[(String, usize, usize)]) -> Result<(), WriteError> {
    let text: String = entries
        .iter()
        .map(|(id, n, label)| format!("{id} {n} {label}\n"))
        .collect();
    write_atomic(path, text.as_bytes())
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

    /// Mean absolute difference of the 8×8-pixel block averages, at equal overall brightness:
    /// what changed in the picture, with the sensor noise averaged out.
    fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
        let blocks = |img: &RgbImage| -> Vec<f64> {
            let (w, h) = img.dimensions();
            let mut out = Vec::new();
            for by in (0..h).step_by(8) {
                for bx in (0..w).step_by(8) {
                    for c in 0..3 {
                        let mut sum = 0.0;
                        for y in by..(by + 8).min(h) {
                            for x in bx..(bx + 8).min(w) {
                                sum += img.get_pixel(x, y).0[c] as f64;
                            }
                        }
                        out.push(sum / 64.0);
                    }
                }
            }
            out
        };
        // Brightness flickers from frame to frame (as a camera's gain does): compare shapes.
        let normalised = |v: Vec<f64>| -> Vec<f64> {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            v.into_iter().map(|x| x * 128.0 / mean.max(1.0)).collect()
        };
        let (a, b) = (normalised(blocks(a)), normalised(blocks(b)));
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
    }

    #[test]
    fn partial_no_gesture_clips_show_a_hand_at_one_end_only() {
        // A still hand's first and last frames differ by noise; a cut-off gesture's differ by
        // a whole hand (present at one end, gone at the other) or by its motion.
        let ends = |partial: f32| -> f64 {
            (0..12u64)
                .map(|seed| {
                    let c = render_clip_with(Motion::NoGesture, seed, 64, 12, partial);
                    mean_abs_diff(&c[0], &c[11])
                })
                .sum::<f64>()
                / 12.0
        };
        let (still, partial) = (ends(0.0), ends(1.0));
        assert!(
            partial > 3.0 * still,
            "still {still:.2}, partial {partial:.2}"
        );
        // Other classes are untouched by the option.
        assert_eq!(
            render_clip_with(Motion::SwipingUp, 3, 32, 5, 1.0),
            render_clip(Motion::SwipingUp, 3, 32, 5)
        );
    }

    #[test]
    fn a_session_is_one_scene_with_gaps_between_gestures() {
        let motions = [
            Motion::SwipingLeft,
            Motion::ZoomingIn,
            Motion::TurningClockwise,
        ];
        let (frames, parts) = render_session(&motions, 4, 48, 10, 5);
        assert_eq!(frames.len(), 3 * (5 + 10));
        let spans: Vec<_> = parts.iter().map(|p| (p.motion, p.start, p.end)).collect();
        assert_eq!(
            spans,
            vec![
                (Motion::SwipingLeft, 5, 15),
                (Motion::ZoomingIn, 20, 30),
                (Motion::TurningClockwise, 35, 45)
            ]
        );
        // Gap frames are the same empty picture up to noise: one background throughout.
        let gap = mean_abs_diff(&frames[15], &frames[19]);
        let with_hand = mean_abs_diff(&frames[15], &frames[14]);
        assert!(gap * 3.0 < with_hand, "gap {gap:.2}, hand {with_hand:.2}");
        assert_eq!(render_session(&motions, 4, 48, 10, 5).0, frames);

        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("session");
        let opts = SynthOptions {
            size: 32,
            frames: 4,
            ..Default::default()
        };
        write_session(&out, &motions[..2], &opts, 2).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("script.txt")).unwrap(),
            "3 6 Swiping Left\n9 12 Zooming In With Full Hand\n"
        );
        assert_eq!(crate::preprocess::list_clip_frames(&out).unwrap().len(), 12);
    }

    #[test]
    fn the_hard_look_has_any_frame_size_and_varied_clip_lengths() {
        let look = Look {
            width: 176,
            height: 100,
            hard: true,
            recording: false,
        };
        let a = render_clip_look(Motion::SwipingLeft, 5, &look, 3, 0.0);
        assert_eq!(a[0].dimensions(), (176, 100));
        assert_eq!(a, render_clip_look(Motion::SwipingLeft, 5, &look, 3, 0.0));
        let easy = Look {
            hard: false,
            ..look
        };
        assert_ne!(a, render_clip_look(Motion::SwipingLeft, 5, &easy, 3, 0.0));
        // A recording's clip shakes: a still hand's frames differ by more than sensor noise
        // in some clips, and the same seed still gives the same frames.
        let recording = Look {
            recording: true,
            ..look
        };
        let r = render_clip_look(Motion::NoGesture, 5, &recording, 3, 0.0);
        assert_eq!(
            r,
            render_clip_look(Motion::NoGesture, 5, &recording, 3, 0.0)
        );
        let moved = (0..20u64).any(|seed| {
            let f = render_clip_look(Motion::NoGesture, seed, &recording, 2, 0.0);
            let still = render_clip_look(Motion::NoGesture, seed, &look, 2, 0.0);
            let mad = |v: &[RgbImage]| {
                v[0].as_raw()
                    .iter()
                    .zip(v[1].as_raw())
                    .map(|(a, b)| a.abs_diff(*b) as f64)
                    .sum::<f64>()
                    / v[0].as_raw().len() as f64
            };
            mad(&f) > 2.0 * mad(&still)
        });
        assert!(moved, "no clip of a recording shook");

        let dir = tempfile::tempdir().unwrap();
        let opts = SynthOptions {
            motions: vec![Motion::SwipingUp, Motion::ZoomingIn],
            clips_per_class: 6,
            size: 48,
            height: Some(32),
            frames: 3,
            max_frames: Some(6),
            hard: true,
            ..Default::default()
        };
        let s = generate(dir.path(), &opts, &|_, _| {}).unwrap();
        let mut lengths = Vec::new();
        for list in ["train_videofolder.txt", "val_videofolder.txt"] {
            for line in std::fs::read_to_string(dir.path().join(list))
                .unwrap()
                .lines()
            {
                let f: Vec<&str> = line.split(' ').collect();
                let n: usize = f[1].parse().unwrap();
                assert!((3..=6).contains(&n), "{line}");
                let frames =
                    crate::preprocess::list_clip_frames(&dir.path().join("rgb").join(f[0]));
                assert_eq!(frames.unwrap().len(), n, "{line}");
                lengths.push(n);
            }
        }
        assert_eq!(s.frames_written, lengths.iter().sum::<usize>());
        assert!(lengths.iter().any(|&n| n != lengths[0]), "{lengths:?}");
        let img = image::open(dir.path().join("rgb/1/00001.jpg")).unwrap();
        assert_eq!((img.width(), img.height()), (48, 32));
        let bad = SynthOptions {
            max_frames: Some(2),
            ..opts
        };
        let e = generate(dir.path(), &bad, &|_, _| {}).unwrap_err();
        assert!(e.to_string().contains("--max-frames 2"), "{e}");
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
