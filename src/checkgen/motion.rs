//! The check generator's gestures and their timing: where the hand is, how big, how turned and
//! how far its fingers are spread in each frame of a clip. A gesture starts and ends at points
//! drawn per clip (the hand waits before and after), with one of several speed profiles, and a
//! slow sway plus a tremor move every hand, the still one included.

use rand::{Rng, SeedableRng};
use std::f32::consts::PI;

/// One of the nine Jester classes both generators draw, in Jester's (alphabetical) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gesture {
    NoGesture,
    SwipingDown,
    SwipingLeft,
    SwipingRight,
    SwipingUp,
    TurningClockwise,
    TurningCounterclockwise,
    ZoomingIn,
    ZoomingOut,
}

impl Gesture {
    /// Every gesture, in label order.
    pub const ALL: [Gesture; 9] = [
        Gesture::NoGesture,
        Gesture::SwipingDown,
        Gesture::SwipingLeft,
        Gesture::SwipingRight,
        Gesture::SwipingUp,
        Gesture::TurningClockwise,
        Gesture::TurningCounterclockwise,
        Gesture::ZoomingIn,
        Gesture::ZoomingOut,
    ];

    /// The Jester label.
    pub fn label(self) -> &'static str {
        match self {
            Gesture::NoGesture => "No gesture",
            Gesture::SwipingDown => "Swiping Down",
            Gesture::SwipingLeft => "Swiping Left",
            Gesture::SwipingRight => "Swiping Right",
            Gesture::SwipingUp => "Swiping Up",
            Gesture::TurningClockwise => "Turning Hand Clockwise",
            Gesture::TurningCounterclockwise => "Turning Hand Counterclockwise",
            Gesture::ZoomingIn => "Zooming In With Full Hand",
            Gesture::ZoomingOut => "Zooming Out With Full Hand",
        }
    }

    /// Looks a gesture up by its Jester label (case-insensitive).
    pub fn from_label(s: &str) -> Option<Gesture> {
        Gesture::ALL
            .into_iter()
            .find(|g| g.label().eq_ignore_ascii_case(s.trim()))
    }
}

/// The hand in one frame. Pixels, y down; `angle` in radians, growing clockwise on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandPose {
    pub x: f32,
    pub y: f32,
    /// Half the palm's height, in pixels.
    pub size: f32,
    pub angle: f32,
    /// Finger spread, 0 (together) to 1 (wide apart).
    pub spread: f32,
    /// False where the clip shows no hand at all.
    pub visible: bool,
}

/// How the gesture's progress follows time between its start and end.
#[derive(Debug, Clone, Copy)]
enum Speed {
    Even,
    Smooth,
    FastStart,
    FastEnd,
}

impl Speed {
    fn at(self, p: f32) -> f32 {
        let p = p.clamp(0.0, 1.0);
        match self {
            Speed::Even => p,
            Speed::Smooth => p * p * (3.0 - 2.0 * p),
            Speed::FastStart => 1.0 - (1.0 - p) * (1.0 - p),
            Speed::FastEnd => p * p,
        }
    }
}

/// A clip's hand track: a pose at the gesture's start and end, when it happens, and the small
/// movements of a hand held in the air.
#[derive(Debug, Clone)]
pub struct Track {
    from: HandPose,
    to: HandPose,
    /// Frames at which the gesture starts and ends.
    start: f32,
    end: f32,
    speed: Speed,
    /// A bend of the path across the direction of motion, in pixels at mid-gesture.
    arc: (f32, f32),
    sway_amp: (f32, f32),
    sway_period: f32,
    sway_phase: f32,
    tremor: f32,
    seed: u64,
}

impl Track {
    /// A random track of `gesture` over `frames` frames of `w`×`h` pixels.
    pub fn random(gesture: Gesture, w: f32, h: f32, frames: usize, rng: &mut impl Rng) -> Track {
        let n = frames as f32;
        // When the gesture happens: it may start at once or after a wait, and end before the
        // last frame or with it; it lasts at least 8 frames and 30 % of the clip.
        let len = rng.random_range(0.3..0.7f32).max(8.0 / n).min(1.0) * (n - 1.0);
        let start = rng.random_range(0.0..=(n - 1.0 - len).max(0.0));
        let speed =
            [Speed::Even, Speed::Smooth, Speed::FastStart, Speed::FastEnd][rng.random_range(0..4)];
        let size = rng.random_range(0.13..0.26f32) * h;
        let base = HandPose {
            x: w * rng.random_range(0.3..0.7f32),
            y: h * rng.random_range(0.4..0.6f32),
            size,
            angle: rng.random_range(-0.45..0.45f32),
            spread: rng.random_range(0.2..0.8f32),
            visible: true,
        };
        let (mut from, mut to) = (base, base);
        let mut arc = (0.0, 0.0);
        let swipe = |dx: f32,
                     dy: f32,
                     from: &mut HandPose,
                     to: &mut HandPose,
                     rng: &mut dyn rand::RngCore| {
            // Horizontal swipes cross 35–60 % of the width, vertical ones 35–55 % of the
            // height, around a centre off the middle.
            let dist = if dx != 0.0 {
                rng.random_range(0.35..0.6f32) * w
            } else {
                rng.random_range(0.35..0.55f32) * h
            };
            let cx = w * rng.random_range(0.4..0.6f32);
            let cy = h * rng.random_range(0.4..0.6f32);
            from.x = cx - dx * dist / 2.0;
            from.y = cy - dy * dist / 2.0;
            to.x = cx + dx * dist / 2.0;
            to.y = cy + dy * dist / 2.0;
            let bend = rng.random_range(-0.08..0.08f32) * h;
            (dy * bend, dx * bend)
        };
        match gesture {
            Gesture::SwipingLeft => arc = swipe(-1.0, 0.0, &mut from, &mut to, rng),
            Gesture::SwipingRight => arc = swipe(1.0, 0.0, &mut from, &mut to, rng),
            Gesture::SwipingUp => arc = swipe(0.0, -1.0, &mut from, &mut to, rng),
            Gesture::SwipingDown => arc = swipe(0.0, 1.0, &mut from, &mut to, rng),
            Gesture::ZoomingIn | Gesture::ZoomingOut => {
                // The hand comes closer (or goes away) and opens (or closes) as it does.
                let small = rng.random_range(0.11..0.17f32) * h;
                let grow = rng.random_range(1.5..2.1f32);
                let (closed, open) = (
                    rng.random_range(0.0..0.3f32),
                    rng.random_range(0.75..1.0f32),
                );
                from.size = small;
                from.spread = closed;
                to.size = small * grow;
                to.spread = open;
                to.x += rng.random_range(-0.05..0.05f32) * w;
                to.y += rng.random_range(-0.05..0.05f32) * h;
                if gesture == Gesture::ZoomingOut {
                    std::mem::swap(&mut from, &mut to);
                }
            }
            Gesture::TurningClockwise | Gesture::TurningCounterclockwise => {
                let turn = rng.random_range(70.0..160.0f32) * PI / 180.0;
                let sign = if gesture == Gesture::TurningClockwise {
                    1.0
                } else {
                    -1.0
                };
                from.angle -= sign * turn / 2.0;
                to.angle = from.angle + sign * turn;
            }
            Gesture::NoGesture => {
                // A hand held up, resting or drifting a little; or nobody in the picture.
                if rng.random_bool(0.25) {
                    from.visible = false;
                    to.visible = false;
                } else {
                    to.x += rng.random_range(-0.03..0.03f32) * w;
                    to.y += rng.random_range(-0.03..0.03f32) * h;
                    to.angle += rng.random_range(-0.1..0.1f32);
                }
            }
        }
        let sway = rng.random_range(0.0..0.02f32) * h;
        Track {
            from,
            to,
            start,
            end: start + len,
            speed,
            arc,
            sway_amp: (sway, sway * rng.random_range(0.3..1.0f32)),
            sway_period: rng.random_range(15.0..40.0f32),
            sway_phase: rng.random_range(0.0..2.0 * PI),
            tremor: rng.random_range(0.0..0.6f32),
            seed: rng.random(),
        }
    }

    /// The pose in frame `f` (0-based).
    pub fn pose(&self, f: usize) -> HandPose {
        let t = f as f32;
        let p = self
            .speed
            .at((t - self.start) / (self.end - self.start).max(1e-3));
        let lerp = |a: f32, b: f32| a + (b - a) * p;
        let bend = (PI * p).sin();
        let phase = 2.0 * PI * t / self.sway_period + self.sway_phase;
        // Tremor: a per-frame offset from (seed, frame), so the pose stays a function of `f`.
        let mut r = rand::rngs::StdRng::seed_from_u64(crate::util::mix_seed(self.seed, f as u64));
        let mut shake = || r.random_range(-1.0..=1.0f32) * self.tremor;
        HandPose {
            x: lerp(self.from.x, self.to.x)
                + self.arc.0 * bend
                + self.sway_amp.0 * phase.sin()
                + shake(),
            y: lerp(self.from.y, self.to.y)
                + self.arc.1 * bend
                + self.sway_amp.1 * (1.3 * phase).cos()
                + shake(),
            size: lerp(self.from.size, self.to.size),
            angle: lerp(self.from.angle, self.to.angle),
            spread: lerp(self.from.spread, self.to.spread),
            visible: self.from.visible,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;

    fn track(g: Gesture, seed: u64) -> (Track, usize) {
        let mut rng = StdRng::seed_from_u64(seed);
        let frames = rng.random_range(30..=40);
        (Track::random(g, 176.0, 100.0, frames, &mut rng), frames)
    }

    #[test]
    fn each_gesture_moves_the_way_its_label_says() {
        for seed in 0..50 {
            let check = |g: Gesture, ok: &dyn Fn(HandPose, HandPose) -> bool| {
                let (t, n) = track(g, seed);
                let (a, b) = (t.pose(0), t.pose(n - 1));
                assert!(ok(a, b), "{g:?} seed {seed}: {a:?} -> {b:?}");
            };
            check(Gesture::SwipingLeft, &|a, b| a.x - b.x > 0.3 * 176.0);
            check(Gesture::SwipingRight, &|a, b| b.x - a.x > 0.3 * 176.0);
            check(Gesture::SwipingUp, &|a, b| a.y - b.y > 0.25 * 100.0);
            check(Gesture::SwipingDown, &|a, b| b.y - a.y > 0.25 * 100.0);
            check(Gesture::ZoomingIn, &|a, b| {
                b.size > 1.4 * a.size && b.spread > a.spread
            });
            check(Gesture::ZoomingOut, &|a, b| {
                a.size > 1.4 * b.size && a.spread > b.spread
            });
            check(Gesture::TurningClockwise, &|a, b| b.angle - a.angle > 1.2);
            check(Gesture::TurningCounterclockwise, &|a, b| {
                a.angle - b.angle > 1.2
            });
            check(Gesture::NoGesture, &|a, b| {
                (a.x - b.x).abs() < 12.0 && (a.y - b.y).abs() < 12.0 && a.size == b.size
            });
        }
    }

    #[test]
    fn gestures_start_and_end_at_different_points() {
        let spans: Vec<(f32, f32)> = (0..30)
            .map(|s| {
                let (t, n) = track(Gesture::SwipingUp, s);
                assert!(t.start >= 0.0 && t.end <= n as f32 - 1.0 + 1e-3, "{t:?}");
                assert!(t.end - t.start >= 8.0 - 1e-3);
                (t.start / n as f32, t.end / n as f32)
            })
            .collect();
        assert!(spans.iter().any(|s| s.0 < 0.05) && spans.iter().any(|s| s.0 > 0.25));
        assert!(spans.iter().any(|s| s.1 < 0.7) && spans.iter().any(|s| s.1 > 0.9));
    }

    #[test]
    fn labels_round_trip() {
        for g in Gesture::ALL {
            assert_eq!(Gesture::from_label(&g.label().to_uppercase()), Some(g));
        }
        let mut labels: Vec<&str> = Gesture::ALL.iter().map(|g| g.label()).collect();
        labels.sort();
        assert_eq!(labels, Gesture::ALL.map(|g| g.label()));
    }
}
