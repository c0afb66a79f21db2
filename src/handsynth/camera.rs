//! The camera and the tracker's noise: a pinhole camera (field of view, frame size, a tilted
//! mount) turns the hand's 3D landmarks into what MediaPipe's hand tracker reports — normalised
//! x and y, z relative to the wrist in x's scale, presence and handedness — and adds the
//! tracker's faults: landmark jitter, frames where the hand is lost, a hand dropped when too
//! much of it is out of the picture, a handedness score that wavers or is wrong.

use super::hand::V3;
use super::{Handedness, TrackedHand};
use rand::Rng;

/// A pinhole camera, slightly tilted.
#[derive(Debug, Clone)]
pub struct Camera {
    pub width: u32,
    pub height: u32,
    /// Focal length in pixels.
    pub focal: f32,
    /// The mount's tilt: rotation about the camera's x axis, then its roll, radians.
    pub tilt: f32,
    pub roll: f32,
}

/// Frame sizes of webcams and of Jester's clips (176×100).
const SIZES: [(u32, u32); 5] = [(176, 100), (320, 240), (640, 480), (1280, 720), (640, 360)];

impl Camera {
    /// A random webcam: frame size, a horizontal field of view of 55–78°, tilt up to ±14°.
    pub fn random(rng: &mut impl Rng) -> Self {
        let (width, height) = SIZES[rng.random_range(0..SIZES.len())];
        let fov = rng.random_range(55f32..78.0).to_radians();
        Camera {
            width,
            height,
            focal: width as f32 / 2.0 / (fov / 2.0).tan(),
            tilt: rng.random_range(-0.25..0.25),
            roll: rng.random_range(-0.12..0.12),
        }
    }

    /// A camera-frame point seen through the tilted mount.
    fn mount(&self, p: V3) -> V3 {
        let (s, c) = self.tilt.sin_cos();
        let p = [p[0], c * p[1] - s * p[2], s * p[1] + c * p[2]];
        let (s, c) = self.roll.sin_cos();
        [c * p[0] - s * p[1], s * p[0] + c * p[1], p[2]]
    }

    /// Pixel coordinates (u, v) and the wrist-relative depth in pixels, MediaPipe-style, of
    /// 21 camera-frame points; `None` when a point is behind or at the lens.
    pub fn project(&self, points: &[V3; 21]) -> Option<[V3; 21]> {
        let (cx, cy) = (self.width as f32 / 2.0, self.height as f32 / 2.0);
        let wrist_z = self.mount(points[0])[2];
        if wrist_z < 0.1 {
            return None;
        }
        let mut out = [[0f32; 3]; 21];
        for (o, p) in out.iter_mut().zip(points) {
            let q = self.mount(*p);
            if q[2] < 0.05 {
                return None;
            }
            *o = [
                self.focal * q[0] / q[2] + cx,
                self.focal * q[1] / q[2] + cy,
                // MediaPipe: depth relative to the wrist, smaller is nearer, in x's scale.
                self.focal * (q[2] - wrist_z) / wrist_z,
            ];
        }
        Some(out)
    }
}

/// A standard normal draw (Box–Muller), so the crate needs no distribution library.
pub fn normal(rng: &mut impl Rng) -> f32 {
    let u1: f32 = rng.random_range(1e-7..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

/// One clip's tracker behaviour.
#[derive(Debug, Clone)]
pub struct TrackerNoise {
    /// Landmark jitter, as a fraction of the palm's length in the picture.
    pub jitter: f32,
    /// Chance that a frame loses the hand although it is in view.
    pub drop: f32,
    /// Fewest landmarks inside the picture for the hand to be tracked.
    pub min_inside: usize,
    /// The label the tracker gives this hand (it can be wrong for a whole clip).
    pub label: Handedness,
    pub score: f32,
    /// Chance per frame that the label flips for that frame.
    pub flip: f32,
    /// The scale of the tracker's z against x: MediaPipe's z is "roughly" in x's scale, and
    /// comes out flatter than the true depth.
    pub z_scale: f32,
}

impl TrackerNoise {
    /// A random tracker for a hand that is truly `truth`.
    pub fn random(truth: Handedness, rng: &mut impl Rng) -> Self {
        let wrong = rng.random_bool(0.03);
        TrackerNoise {
            jitter: rng.random_range(0.003..0.03),
            drop: if rng.random_bool(0.5) {
                0.0
            } else {
                rng.random_range(0.0..0.1)
            },
            min_inside: rng.random_range(10..16),
            label: if wrong { truth.other() } else { truth },
            score: rng.random_range(0.75..0.995),
            flip: if rng.random_bool(0.3) { 0.02 } else { 0.0 },
            z_scale: rng.random_range(0.75..1.1),
        }
    }

    /// What the tracker reports for projected landmarks `px` (pixels, see [`Camera::project`]),
    /// `palm_px` the palm's length in the picture; `None` when it loses the hand.
    pub fn observe(
        &self,
        cam: &Camera,
        px: &[V3; 21],
        palm_px: f32,
        rng: &mut impl Rng,
    ) -> Option<TrackedHand> {
        let (w, h) = (cam.width as f32, cam.height as f32);
        let inside = px
            .iter()
            .filter(|p| p[0] >= 0.0 && p[0] < w && p[1] >= 0.0 && p[1] < h)
            .count();
        // Too small to find (a palm under ~2 % of the frame height) or mostly outside.
        if inside < self.min_inside || palm_px < 0.02 * h || rng.random_bool(self.drop as f64) {
            return None;
        }
        let sigma = self.jitter * palm_px;
        let shared = [normal(rng) * sigma * 0.5, normal(rng) * sigma * 0.5];
        let mut landmarks = [[0f32; 3]; 21];
        for (l, p) in landmarks.iter_mut().zip(px) {
            *l = [
                (p[0] + shared[0] + normal(rng) * sigma) / w,
                (p[1] + shared[1] + normal(rng) * sigma) / h,
                // MediaPipe's z is noisier than x and y, and normalised by the width too.
                (p[2] * self.z_scale + normal(rng) * sigma * 2.0) / w,
            ];
        }
        landmarks[0][2] = 0.0;
        let handedness = if rng.random_bool(self.flip as f64) {
            self.label.other()
        } else {
            self.label
        };
        Some(TrackedHand {
            landmarks,
            handedness,
            score: (self.score + normal(rng) * 0.02).clamp(0.5, 1.0),
            presence: rng.random_range(0.85..1.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_on_the_axis_lands_in_the_middle_and_nearer_is_negative_z() {
        let cam = Camera {
            width: 640,
            height: 480,
            focal: 500.0,
            tilt: 0.0,
            roll: 0.0,
        };
        let mut pts = [[0.0, 0.0, 0.5]; 21];
        pts[1] = [0.1, 0.0, 0.4];
        let px = cam.project(&pts).unwrap();
        assert_eq!(px[0], [320.0, 240.0, 0.0]);
        assert!(px[1][2] < 0.0 && px[1][0] > 320.0 + 100.0);
        pts[3] = [0.0, 0.0, -0.1];
        assert!(cam.project(&pts).is_none(), "a point behind the lens");
    }
}
