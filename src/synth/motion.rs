//! The generated gestures: which Jester classes they imitate and the hand's path (position,
//! scale, rotation) over a clip.

use rand::Rng;
use std::f32::consts::PI;

/// A generated gesture, named after the Jester class it imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Motion {
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

impl Motion {
    /// Every motion, in Jester's (alphabetical) label order.
    pub const ALL: [Motion; 9] = [
        Motion::NoGesture,
        Motion::SwipingDown,
        Motion::SwipingLeft,
        Motion::SwipingRight,
        Motion::SwipingUp,
        Motion::TurningClockwise,
        Motion::TurningCounterclockwise,
        Motion::ZoomingIn,
        Motion::ZoomingOut,
    ];

    /// The Jester label.
    pub fn label(self) -> &'static str {
        match self {
            Motion::NoGesture => "No gesture",
            Motion::SwipingDown => "Swiping Down",
            Motion::SwipingLeft => "Swiping Left",
            Motion::SwipingRight => "Swiping Right",
            Motion::SwipingUp => "Swiping Up",
            Motion::TurningClockwise => "Turning Hand Clockwise",
            Motion::TurningCounterclockwise => "Turning Hand Counterclockwise",
            Motion::ZoomingIn => "Zooming In With Full Hand",
            Motion::ZoomingOut => "Zooming Out With Full Hand",
        }
    }

    /// Looks a motion up by its Jester label (case-insensitive).
    pub fn from_label(s: &str) -> Option<Motion> {
        Motion::ALL
            .into_iter()
            .find(|m| m.label().eq_ignore_ascii_case(s.trim()))
    }
}

/// Where the hand is in one frame, in pixels and radians (y down, so a growing angle turns
/// clockwise on screen).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    pub x: f32,
    pub y: f32,
    /// Hand radius in pixels (palm centre to fingertip is about 1.2 radii).
    pub scale: f32,
    pub angle: f32,
}

/// A clip's motion: a start and end pose, eased between `t0` and `t1` (fractions of the clip).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Path {
    pub from: Pose,
    pub to: Pose,
    pub t0: f32,
    pub t1: f32,
}

fn smoothstep(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

impl Path {
    /// Draws a path of `motion` in a `size`-pixel square frame, default look.
    pub fn random(motion: Motion, size: f32, rng: &mut impl Rng) -> Path {
        Path::random_in(motion, size, size, false, false, rng)
    }

    /// Draws a path of `motion` in a `width × height` frame. The default look's swiping hand
    /// leads with its fingers (it leans into a sideways swipe and points along a vertical one),
    /// so every frame shows which way it goes; a `hard` path has no such cue (the hand stays
    /// upright up to a small tilt, as the hard look's independent renderers draw it), varies
    /// more in size, place and speed, and only its position over time tells a swipe's direction.
    pub fn random_in(
        motion: Motion,
        width: f32,
        height: f32,
        hard: bool,
        recording: bool,
        rng: &mut impl Rng,
    ) -> Path {
        let short = width.min(height);
        let scale = if hard {
            short * rng.random_range(0.14..0.3)
        } else {
            short * rng.random_range(0.2..0.26)
        };
        let jitter = rng.random_range(-0.12..0.12);
        let tilt = rng.random_range(-0.25..0.25);
        // A recording's hand is anywhere in the frame, up to a hand's size from its edges.
        let centre = match (hard, recording) {
            (_, true) => 0.2..0.8,
            (true, false) => 0.3..0.7,
            (false, false) => 0.4..0.6,
        };
        let cx = width * rng.random_range(centre.clone());
        let cy = height * rng.random_range(centre);
        let pose = |x, y, scale, angle| Pose { x, y, scale, angle };
        let reach = rng.random_range(0.45..0.65) / 2.0;
        let (travel_x, travel_y) = (width * reach, height * reach);
        let (lean, down) = if hard { (0.0, 0.0) } else { (0.5, PI) };
        let (from, to) = match motion {
            Motion::SwipingLeft => (
                pose(cx + travel_x, cy, scale, -lean + jitter),
                pose(cx - travel_x, cy, scale, -lean + jitter),
            ),
            Motion::SwipingRight => (
                pose(cx - travel_x, cy, scale, lean + jitter),
                pose(cx + travel_x, cy, scale, lean + jitter),
            ),
            Motion::SwipingUp => (
                pose(cx, cy + travel_y, scale, jitter),
                pose(cx, cy - travel_y, scale, jitter),
            ),
            Motion::SwipingDown => (
                pose(cx, cy - travel_y, scale, down + jitter),
                pose(cx, cy + travel_y, scale, down + jitter),
            ),
            Motion::ZoomingIn | Motion::ZoomingOut => {
                let small = scale * rng.random_range(0.55..0.7);
                let big = scale * rng.random_range(1.35..1.6);
                let (a, b) = if motion == Motion::ZoomingIn {
                    (small, big)
                } else {
                    (big, small)
                };
                (pose(cx, cy, a, tilt), pose(cx, cy, b, tilt))
            }
            Motion::TurningClockwise | Motion::TurningCounterclockwise => {
                let half = rng.random_range(0.3..0.4) * PI;
                let (a, b) = if motion == Motion::TurningClockwise {
                    (-half, half)
                } else {
                    (half, -half)
                };
                (
                    pose(cx, cy, scale, a + jitter),
                    pose(cx, cy, scale, b + jitter),
                )
            }
            Motion::NoGesture => {
                let p = pose(cx, cy, scale, tilt);
                (p, p)
            }
        };
        let (t0, t1) = if recording {
            // As in a recording: the movement takes 30-75 % of the clip, starting anywhere.
            let span = rng.random_range(0.3..0.75);
            let t0 = rng.random_range(0.0..(1.0 - span));
            (t0, t0 + span)
        } else if hard {
            (rng.random_range(0.0..0.3), rng.random_range(0.6..1.0))
        } else {
            (rng.random_range(0.0..0.2), rng.random_range(0.75..0.95))
        };
        Path { from, to, t0, t1 }
    }

    /// The pose at clip time `t` (0 = first frame, 1 = last).
    pub fn at(&self, t: f32) -> Pose {
        let k = smoothstep((t - self.t0) / (self.t1 - self.t0).max(1e-3));
        let lerp = |a: f32, b: f32| a + (b - a) * k;
        Pose {
            x: lerp(self.from.x, self.to.x),
            y: lerp(self.from.y, self.to.y),
            // Scale changes geometrically, as an approaching hand's image does.
            scale: self.from.scale * (self.to.scale / self.from.scale).powf(k),
            angle: lerp(self.from.angle, self.to.angle),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn labels_round_trip_in_jester_order() {
        let labels: Vec<&str> = Motion::ALL.iter().map(|m| m.label()).collect();
        let mut sorted = labels.clone();
        sorted.sort();
        assert_eq!(labels, sorted);
        for m in Motion::ALL {
            assert_eq!(Motion::from_label(&m.label().to_uppercase()), Some(m));
        }
        assert_eq!(Motion::from_label("Thumb Up"), None);
    }

    #[test]
    fn paths_move_the_right_way() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..20 {
            let mut p = |m| Path::random(m, 128.0, &mut rng);
            let (l, r) = (p(Motion::SwipingLeft), p(Motion::SwipingRight));
            assert!(l.at(1.0).x < l.at(0.0).x && r.at(1.0).x > r.at(0.0).x);
            let (u, d) = (p(Motion::SwipingUp), p(Motion::SwipingDown));
            assert!(u.at(1.0).y < u.at(0.0).y && d.at(1.0).y > d.at(0.0).y);
            let (zi, zo) = (p(Motion::ZoomingIn), p(Motion::ZoomingOut));
            assert!(zi.at(1.0).scale > 1.8 * zi.at(0.0).scale);
            assert!(zo.at(1.0).scale < zo.at(0.0).scale / 1.8);
            let cw = p(Motion::TurningClockwise);
            assert!(cw.at(1.0).angle > cw.at(0.0).angle + 1.5);
            let still = p(Motion::NoGesture);
            assert_eq!(still.at(0.0), still.at(1.0));
        }
    }

    #[test]
    fn hard_swipes_keep_the_hand_upright_in_wide_frames() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for m in [
            Motion::SwipingLeft,
            Motion::SwipingRight,
            Motion::SwipingUp,
            Motion::SwipingDown,
        ] {
            for _ in 0..20 {
                let p = Path::random_in(m, 176.0, 100.0, true, false, &mut rng);
                // No lean and no pointing along the motion: only the position tells.
                assert!(p.from.angle.abs() <= 0.12 && p.to.angle == p.from.angle);
                assert!(p.from.scale < 0.3 * 100.0);
                let (dx, dy) = (p.to.x - p.from.x, p.to.y - p.from.y);
                match m {
                    Motion::SwipingLeft | Motion::SwipingRight => {
                        assert!(dx.abs() > 0.45 * 176.0 && dy == 0.0)
                    }
                    _ => assert!(dy.abs() > 0.45 * 100.0 && dx == 0.0),
                }
            }
        }
    }
}
