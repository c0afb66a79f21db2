//! Generated gestures as a live source: clips from the clip generator ([`crate::synth`], the
//! one the bundled demo model was trained on) — a drawn hand swiping, zooming, turning or
//! holding still — one after another, forever, as a camera at `fps` would film them. Lets the
//! live pipeline run where there is no camera.

use super::{CaptureError, FrameSource, SourceFrame};
use crate::synth::{render_clip, Motion};
use crate::train::data::loader::mix_seed;
use image::RgbImage;
use std::time::Duration;

/// Default delivery rate: a typical webcam's.
pub const DEFAULT_FPS: f32 = 30.0;
/// Frame side in pixels: the generator's default, what the demo model was trained on.
pub const SIZE: u32 = 128;
/// The generated clips' own rate and length (the generator's defaults: 24 frames at 12 fps).
const CLIP_FPS: f32 = 12.0;
const CLIP_FRAMES: usize = 24;

/// An endless stream of generated gestures. Each clip is rendered at its own rate (12 fps)
/// and delivered at `fps` by showing, at each delivery time, the clip frame of that moment —
/// as a faster camera films a slower scene — so the motion takes the same time at any `fps`.
pub struct SyntheticSource {
    fps: f32,
    seed: u64,
    /// Frames delivered so far (the presentation clock).
    delivered: u64,
    /// Clips started so far; the current one is `clips - 1`.
    clips: u64,
    clip: Vec<RgbImage>,
    motion: Motion,
    /// Delivery index of the current clip's first frame.
    clip_start: u64,
}

impl SyntheticSource {
    /// A source delivering at `fps`, reproducible from `seed`.
    pub fn new(fps: f32, seed: u64) -> Self {
        let mut s = SyntheticSource {
            fps,
            seed,
            delivered: 0,
            clips: 0,
            clip: Vec::new(),
            motion: Motion::ALL[0],
            clip_start: 0,
        };
        s.next_clip();
        s
    }

    /// The motion being performed now.
    pub fn current_motion(&self) -> Motion {
        self.motion
    }

    fn next_clip(&mut self) {
        // Every motion once per round, in an order that changes from round to round.
        let round = self.clips / Motion::ALL.len() as u64;
        let shift = (mix_seed(self.seed, round) % Motion::ALL.len() as u64) as usize;
        let index = (self.clips as usize + shift) % Motion::ALL.len();
        self.motion = Motion::ALL[index];
        self.clip = render_clip(
            self.motion,
            mix_seed(self.seed, 1_000_000 + self.clips),
            SIZE,
            CLIP_FRAMES,
        );
        self.clip_start = self.delivered;
        self.clips += 1;
    }
}

impl FrameSource for SyntheticSource {
    fn describe(&self) -> String {
        format!(
            "generated gestures ({SIZE}x{SIZE}, {CLIP_FRAMES} frames at {CLIP_FPS} fps each) at {} fps",
            self.fps
        )
    }

    fn nominal_fps(&self) -> Option<f32> {
        Some(self.fps)
    }

    fn next_frame(&mut self) -> Result<Option<SourceFrame>, CaptureError> {
        let since = (self.delivered - self.clip_start) as f64 / self.fps as f64;
        let mut frame = (since * CLIP_FPS as f64).floor() as usize;
        if frame >= self.clip.len() {
            self.next_clip();
            frame = 0;
        }
        let image = self.clip[frame].clone();
        let pts = Duration::from_secs_f64(self.delivered as f64 / self.fps as f64);
        self.delivered += 1;
        Ok(Some(SourceFrame {
            image,
            pts,
            captured_at: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_take_their_own_time_at_any_rate_and_cycle_through_every_motion() {
        for fps in [12.0f32, 30.0] {
            let mut src = SyntheticSource::new(fps, 7);
            let first = src.current_motion();
            // One clip lasts 2 s whatever the delivery rate.
            let per_clip = (2.0 * fps).round() as usize;
            let frames: Vec<SourceFrame> = (0..per_clip)
                .map(|_| src.next_frame().unwrap().unwrap())
                .collect();
            assert_eq!(src.current_motion(), first, "{fps}");
            assert_eq!(frames[0].image.dimensions(), (SIZE, SIZE));
            assert_eq!(
                frames[per_clip - 1].pts,
                Duration::from_secs_f64((per_clip - 1) as f64 / fps as f64)
            );
            // The clip's frames in order, each shown for 1/12 s.
            let clip = render_clip(first, mix_seed(7, 1_000_000), SIZE, CLIP_FRAMES);
            assert!(frames[per_clip - 1].image == clip[CLIP_FRAMES - 1]);
            src.next_frame().unwrap();
            assert_ne!(src.current_motion(), first);
        }
        let mut src = SyntheticSource::new(12.0, 3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..Motion::ALL.len() {
            // The first frame of a clip switches to it.
            src.next_frame().unwrap();
            seen.insert(src.current_motion());
            for _ in 1..CLIP_FRAMES {
                src.next_frame().unwrap();
            }
        }
        assert_eq!(seen.len(), Motion::ALL.len());
    }
}
