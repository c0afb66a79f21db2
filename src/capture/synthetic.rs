//! Generated gestures as a live source: a drawn hand swiping, zooming, turning or holding still
//! — the motions of the clip generator ([`crate::synth`]) the bundled demo model was trained on
//! — performed one after another in one continuous scene, with the hand out of the picture
//! between two gestures, forever, as a camera at `fps` would film them. Lets the live pipeline
//! run where there is no camera.

use super::{CaptureError, FrameSource, Pulled, SourceFrame};
use crate::synth::{Motion, Session};
use crate::util::mix_seed;
use image::RgbImage;

/// Default delivery rate: a typical webcam's.
pub const DEFAULT_FPS: f32 = 30.0;
/// Frame side in pixels: the generator's default, what the demo model was trained on.
pub const SIZE: u32 = 128;
/// The generated gestures' own rate and length (the generator's defaults: 24 frames at 12 fps).
const CLIP_FPS: f32 = 12.0;
const CLIP_FRAMES: usize = 24;
/// Frames without a hand before each gesture (1 s).
const GAP_FRAMES: usize = 12;

/// An endless stream of generated gestures. Frames are rendered at their own rate (12 fps) and
/// delivered at `fps` by showing, at each delivery time, the frame of that moment — as a faster
/// camera films a slower scene — so a motion takes the same time at any `fps`.
pub struct SyntheticSource {
    fps: f32,
    seed: u64,
    /// Frames delivered so far (the presentation clock).
    delivered: u64,
    /// Rounds started: each is every motion once, in its own order, in a scene of its own.
    rounds: u64,
    session: Session,
    order: Vec<Motion>,
    /// Segments of the round started so far: gap, gesture, gap, gesture...
    segments: usize,
    segment: Vec<RgbImage>,
    /// What the current segment shows: a motion, or `None` for the hand out of the picture.
    showing: Option<Motion>,
    /// Delivery index of the current segment's first frame.
    segment_start: u64,
}

impl SyntheticSource {
    /// A source delivering at `fps`, reproducible from `seed`.
    pub fn new(fps: f32, seed: u64) -> Self {
        let mut s = SyntheticSource {
            fps,
            seed,
            delivered: 0,
            rounds: 0,
            session: Session::new(seed, SIZE),
            order: Vec::new(),
            segments: 0,
            segment: Vec::new(),
            showing: None,
            segment_start: 0,
        };
        s.next_segment();
        s
    }

    /// The motion being performed now; "No gesture" while the hand is out of the picture.
    pub fn current_motion(&self) -> Motion {
        self.showing.unwrap_or(Motion::NoGesture)
    }

    fn next_segment(&mut self) {
        if self.segments == 2 * self.order.len() {
            // Every motion once per round, in an order that changes from round to round.
            let round = self.rounds;
            let shift = (mix_seed(self.seed, round) % Motion::ALL.len() as u64) as usize;
            self.order = (0..Motion::ALL.len())
                .map(|i| Motion::ALL[(i + shift) % Motion::ALL.len()])
                .collect();
            self.session = Session::new(mix_seed(self.seed, 1_000_000 + round), SIZE);
            self.segments = 0;
            self.rounds += 1;
        }
        if self.segments.is_multiple_of(2) {
            self.segment = self.session.gap(GAP_FRAMES);
            self.showing = None;
        } else {
            let motion = self.order[self.segments / 2];
            self.segment = self.session.gesture(motion, CLIP_FRAMES);
            self.showing = Some(motion);
        }
        self.segments += 1;
        self.segment_start = self.delivered;
    }
}

impl FrameSource for SyntheticSource {
    fn describe(&self) -> String {
        format!(
            "generated gestures ({SIZE}x{SIZE}, {CLIP_FRAMES} frames at {CLIP_FPS} fps each, \
             {GAP_FRAMES} without a hand before each) at {} fps",
            self.fps
        )
    }

    fn nominal_fps(&self) -> Option<f32> {
        Some(self.fps)
    }

    fn next_frame(&mut self) -> Result<Pulled, CaptureError> {
        let since = (self.delivered - self.segment_start) as f64 / self.fps as f64;
        let mut frame = (since * CLIP_FPS as f64).floor() as usize;
        if frame >= self.segment.len() {
            self.next_segment();
            frame = 0;
        }
        let played = SourceFrame::played(self.segment[frame].clone(), self.delivered, self.fps);
        self.delivered += 1;
        Ok(Pulled::Frame(played))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::render_session;
    use std::time::Duration;

    #[test]
    fn gestures_take_their_own_time_at_any_rate_in_one_continuous_scene() {
        for fps in [12.0f32, 30.0] {
            let mut src = SyntheticSource::new(fps, 7);
            // 1 s without a hand, then a gesture of 2 s, whatever the delivery rate.
            let per_gap = fps.round() as usize;
            let per_gesture = (2.0 * fps).round() as usize;
            let frames: Vec<SourceFrame> = (0..per_gap + per_gesture)
                .map(|_| match src.next_frame().unwrap() {
                    Pulled::Frame(f) => f,
                    _ => panic!("generated gestures never end"),
                })
                .collect();
            let first = src.current_motion();
            assert_ne!(first, Motion::NoGesture, "{fps}");
            assert_eq!(frames[0].image.dimensions(), (SIZE, SIZE));
            let last = per_gap + per_gesture - 1;
            assert_eq!(
                frames[last].pts,
                Duration::from_secs_f64(last as f64 / fps as f64)
            );
            src.next_frame().unwrap();
            assert_eq!(
                src.current_motion(),
                Motion::NoGesture,
                "gap before the next"
            );
            // The frames are those of the same recording rendered whole.
            let (recording, parts) = render_session(
                &[first, Motion::SwipingUp],
                mix_seed(7, 1_000_000),
                SIZE,
                CLIP_FRAMES,
                GAP_FRAMES,
            );
            assert_eq!(parts[0].end, GAP_FRAMES + CLIP_FRAMES);
            assert!(frames[0].image == recording[0]);
            assert!(frames[last].image == recording[GAP_FRAMES + CLIP_FRAMES - 1]);
        }
    }

    #[test]
    fn a_round_shows_every_motion_once() {
        let mut src = SyntheticSource::new(12.0, 3);
        let mut seen = Vec::new();
        for _ in 0..Motion::ALL.len() {
            for _ in 0..GAP_FRAMES {
                src.next_frame().unwrap();
            }
            // The first frame of a segment switches to it.
            src.next_frame().unwrap();
            seen.push(src.current_motion());
            for _ in 1..CLIP_FRAMES {
                src.next_frame().unwrap();
            }
        }
        let distinct: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(distinct.len(), Motion::ALL.len(), "{seen:?}");
    }
}
