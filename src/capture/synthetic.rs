//! Generated clips: a hand-like blob (palm and fingers in skin tone) on a textured background,
//! swiping left, right, up or down, or holding still, one motion after another, forever. Lets
//! the live pipeline run where there is no camera; the motions are named after Jester classes.

use super::{CaptureError, FrameSource, SourceFrame};
use image::{Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// Default generation rate: a typical webcam's.
pub const DEFAULT_FPS: f32 = 30.0;
/// Frame size: 4:3 like most webcams.
pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 240;

/// The motions, in the order they are performed (then a seeded shuffle of the next round).
pub const MOTIONS: [&str; 5] = [
    "Swiping Left",
    "Swiping Right",
    "Swiping Up",
    "Swiping Down",
    "No gesture",
];

/// Seconds per motion: still, moving, still.
const HOLD_S: f64 = 0.5;
const MOVE_S: f64 = 1.2;

/// An endless stream of generated gestures.
pub struct SyntheticSource {
    fps: f32,
    rng: StdRng,
    frame: u64,
    /// Index into [`MOTIONS`] of the motion being performed and its first frame.
    motion: usize,
    motion_start: u64,
    /// Hand centre at the start of the motion (fractions of the frame) and its scale.
    origin: (f64, f64),
    scale: f64,
    background: [f32; 3],
}

impl SyntheticSource {
    /// A source generating at `fps`, reproducible from `seed`.
    pub fn new(fps: f32, seed: u64) -> Self {
        let mut s = SyntheticSource {
            fps,
            rng: StdRng::seed_from_u64(seed),
            frame: 0,
            motion: 0,
            motion_start: 0,
            origin: (0.5, 0.5),
            scale: 1.0,
            background: [90.0, 110.0, 130.0],
        };
        s.start_motion(0);
        s
    }

    /// The motion being performed now.
    pub fn current_motion(&self) -> &'static str {
        MOTIONS[self.motion]
    }

    fn frames_per_motion(&self) -> u64 {
        (((2.0 * HOLD_S + MOVE_S) * self.fps as f64).round() as u64).max(1)
    }

    fn start_motion(&mut self, motion: usize) {
        self.motion = motion;
        self.motion_start = self.frame;
        let (dx, dy) = displacement(MOTIONS[motion]);
        // Start where the whole swipe stays inside the frame.
        self.origin = (
            0.5 - dx / 2.0 + self.rng.random_range(-0.05..0.05),
            0.5 - dy / 2.0 + self.rng.random_range(-0.05..0.05),
        );
        self.scale = self.rng.random_range(0.8..1.2);
        self.background = [
            self.rng.random_range(40.0..160.0),
            self.rng.random_range(60.0..170.0),
            self.rng.random_range(80.0..200.0),
        ];
    }

    fn render(&mut self, progress: f64) -> RgbImage {
        let (dx, dy) = displacement(MOTIONS[self.motion]);
        // Smoothstep: hands accelerate and decelerate.
        let p = progress * progress * (3.0 - 2.0 * progress);
        let cx = (self.origin.0 + dx * p) * WIDTH as f64;
        let cy = (self.origin.1 + dy * p) * HEIGHT as f64;
        let r = 34.0 * self.scale;
        let bg = self.background;
        let noise_seed: u32 = self.rng.random();
        let mut state = noise_seed | 1;
        RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
            // xorshift: cheap per-pixel sensor noise.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state % 9) as f32 - 4.0;
            let (fx, fy) = (x as f64, y as f64);
            if in_hand(fx - cx, fy - cy, r) {
                let shade = 1.0 - 0.25 * ((fy - cy) / (2.0 * r)).clamp(-1.0, 1.0) as f32;
                Rgb([
                    (224.0 * shade + n).clamp(0.0, 255.0) as u8,
                    (172.0 * shade + n).clamp(0.0, 255.0) as u8,
                    (140.0 * shade + n).clamp(0.0, 255.0) as u8,
                ])
            } else {
                let g = 0.7 + 0.3 * (fx / WIDTH as f64) as f32;
                Rgb([
                    (bg[0] * g + n).clamp(0.0, 255.0) as u8,
                    (bg[1] * g + n).clamp(0.0, 255.0) as u8,
                    (bg[2] * (1.2 - 0.2 * g) + n).clamp(0.0, 255.0) as u8,
                ])
            }
        })
    }
}

/// How far (in frame fractions) the hand travels during a motion.
fn displacement(motion: &str) -> (f64, f64) {
    match motion {
        "Swiping Left" => (-0.5, 0.0),
        "Swiping Right" => (0.5, 0.0),
        "Swiping Up" => (0.0, -0.45),
        "Swiping Down" => (0.0, 0.45),
        _ => (0.0, 0.0),
    }
}

/// An open palm of radius `r` centred at the origin, fingers pointing up.
fn in_hand(x: f64, y: f64, r: f64) -> bool {
    let palm = (x / r).powi(2) + (y / (1.1 * r)).powi(2) <= 1.0;
    if palm {
        return true;
    }
    // Four fingers above the palm, the thumb to the left.
    let finger_w = 0.28 * r;
    for (i, len) in [1.5, 1.75, 1.7, 1.35].iter().enumerate() {
        let fx = -0.66 * r + i as f64 * 0.44 * r;
        if (x - fx).abs() <= finger_w / 2.0 && y <= -0.3 * r && y >= -len * r {
            return true;
        }
    }
    let (tx, ty) = (x + 0.95 * r, y - 0.1 * r);
    (tx / (0.55 * r)).powi(2) + (ty / (0.22 * r)).powi(2) <= 1.0
}

impl FrameSource for SyntheticSource {
    fn describe(&self) -> String {
        format!(
            "generated swipes ({}x{}) at {} fps",
            WIDTH, HEIGHT, self.fps
        )
    }

    fn nominal_fps(&self) -> Option<f32> {
        Some(self.fps)
    }

    fn next_frame(&mut self) -> Result<Option<SourceFrame>, CaptureError> {
        let per_motion = self.frames_per_motion();
        if self.frame - self.motion_start >= per_motion {
            let next = (self.motion + 1) % MOTIONS.len();
            self.start_motion(next);
        }
        let t = (self.frame - self.motion_start) as f64 / self.fps as f64;
        let progress = ((t - HOLD_S) / MOVE_S).clamp(0.0, 1.0);
        let image = self.render(progress);
        let pts = Duration::from_secs_f64(self.frame as f64 / self.fps as f64);
        self.frame += 1;
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

    /// Mean x of skin-coloured pixels.
    fn hand_x(img: &RgbImage) -> f64 {
        let (mut sum, mut n) = (0.0, 0.0);
        for (x, _, p) in img.enumerate_pixels() {
            if p.0[0] > 180 && p.0[1] > 120 && p.0[0] as i32 - p.0[2] as i32 > 50 {
                sum += x as f64;
                n += 1.0;
            }
        }
        sum / n
    }

    #[test]
    fn the_hand_moves_as_named_and_clips_cycle() {
        let mut src = SyntheticSource::new(10.0, 7);
        assert_eq!(src.current_motion(), "Swiping Left");
        let frames: Vec<SourceFrame> = (0..22)
            .map(|_| src.next_frame().unwrap().unwrap())
            .collect();
        assert_eq!(frames[21].pts, Duration::from_millis(2100));
        assert_eq!(frames[0].image.dimensions(), (WIDTH, HEIGHT));
        // Swiping left: the hand ends well left of where it started.
        assert!(hand_x(&frames[0].image) - hand_x(&frames[20].image) > 0.3 * WIDTH as f64);
        assert_eq!(src.current_motion(), "Swiping Left");
        src.next_frame().unwrap();
        assert_eq!(src.current_motion(), "Swiping Right");
    }
}
