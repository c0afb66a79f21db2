//! A second generator of hand-landmark clips, independent of `handsynth` on purpose, used only to
//! check that a landmark model learns motion it was not tuned on (never to tune). Other code and
//! another way of making motion: `handsynth` drives joint angles and Euler turns with closed-form
//! functions of a phase; here a hand is a handful of coarse controls (one curl per finger, a fan,
//! a thumb opposition), turned by axis–angle rotations, and moved through per-class keyframes
//! joined by Catmull–Rom splines, seen through a camera placed by its vertical field of view,
//! with temporally correlated (AR(1)) landmark noise and lost frames in bursts.
//!
//! Besides Jester's 27 it performs a few gestures outside them ([`EXTRA_LABELS`]: a circle drawn
//! in the air, a double pinch, beckoning, an OK sign, a Z), for the teaching check: a model is
//! taught them from a few clips and checked on clips of another seed (`bench::teach`).
//!
//! Writes the same on-disk format (docs/ARCHITECTURE.md §7) with its own writer. Imports `util`
//! only.

pub mod session;

use crate::util::{mix_seed, write_atomic, WriteError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

type P3 = [f32; 3];

/// Errors of the check generator.
#[derive(Debug, thiserror::Error)]
pub enum HandCheckError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Options(String),
}

impl From<WriteError> for HandCheckError {
    fn from(e: WriteError) -> Self {
        HandCheckError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// Coarse hand controls: curl of thumb, index, middle, ring, little (0 straight, 1 folded), how
/// far the fingers fan out, and how far the thumb crosses toward the fingers.
#[derive(Debug, Clone, Copy)]
struct Grip {
    curl: [f32; 5],
    fan: f32,
    oppose: f32,
}

const fn grip(curl: [f32; 5], fan: f32, oppose: f32) -> Grip {
    Grip { curl, fan, oppose }
}
const FLAT: Grip = grip([0.0, 0.0, 0.0, 0.0, 0.0], 0.4, 0.1);
const WIDE: Grip = grip([0.0, 0.0, 0.0, 0.0, 0.0], 1.0, 0.0);
const LOOSE: Grip = grip([0.3, 0.3, 0.35, 0.4, 0.45], 0.3, 0.4);
const FIST: Grip = grip([0.6, 1.0, 1.0, 1.0, 1.0], 0.0, 0.8);
const THUMB: Grip = grip([0.0, 1.0, 1.0, 1.0, 1.0], 0.0, 0.0);
const VEE: Grip = grip([0.6, 0.0, 0.0, 1.0, 1.0], 0.5, 0.8);
const PINCHED: Grip = grip([0.45, 0.45, 1.0, 1.0, 1.0], 0.0, 0.75);
const L_SHAPE: Grip = grip([0.0, 0.0, 1.0, 1.0, 1.0], 0.3, 0.0);
const CLUSTER: Grip = grip([0.4, 0.55, 0.55, 0.55, 0.6], -0.6, 0.9);
const CUP: Grip = grip([0.3, 0.5, 0.55, 0.6, 0.6], 0.1, 0.6);
const POINT: Grip = grip([0.6, 0.0, 1.0, 1.0, 1.0], 0.0, 0.8);
/// Thumb and index tips meeting in a ring, the other three fingers up and fanned.
const OK_RING: Grip = grip([0.0, 0.55, 0.0, 0.05, 0.1], 0.7, 1.0);

/// The gestures outside Jester's 27 this generator also performs, for the teaching check (a
/// model taught new gestures from a few clips). "Writing a Z" is not its own mirror image:
/// teach it with flips off.
pub const EXTRA_LABELS: [&str; 5] = [
    "Drawing a Circle",
    "Double Pinch",
    "Beckoning",
    "OK Sign",
    "Writing a Z",
];

fn mix(a: &Grip, b: &Grip, t: f32) -> Grip {
    let l = |x: f32, y: f32| x + (y - x) * t;
    Grip {
        curl: std::array::from_fn(|i| l(a.curl[i], b.curl[i])),
        fan: l(a.fan, b.fan),
        oppose: l(a.oppose, b.oppose),
    }
}

/// Rodrigues' rotation of `v` about the axis–angle vector `r`.
fn turn(r: P3, v: P3) -> P3 {
    let a = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    if a < 1e-8 {
        return v;
    }
    let k = [r[0] / a, r[1] / a, r[2] / a];
    let (s, c) = a.sin_cos();
    let kv = k[0] * v[0] + k[1] * v[1] + k[2] * v[2];
    let x = [
        k[1] * v[2] - k[2] * v[1],
        k[2] * v[0] - k[0] * v[2],
        k[0] * v[1] - k[1] * v[0],
    ];
    std::array::from_fn(|i| v[i] * c + x[i] * s + k[i] * kv * (1.0 - c))
}

/// The 21 points of a hand with grip `g`, in centimetres, for a right hand seen palm-on with the
/// fingers up in camera axes (x right, y down, z away): palm facing −z.
fn hand_points(g: &Grip, size: f32, long: f32) -> [P3; 21] {
    let mut p = [[0f32; 3]; 21];
    // Knuckle line (cm): index to little, left to right for a right hand palm-on.
    let knuckles = [[-2.2, -8.6], [-0.3, -9.0], [1.5, -8.5], [3.1, -7.6]];
    let bones = [
        [4.0, 2.4, 1.9],
        [4.5, 2.8, 2.0],
        [4.2, 2.7, 1.9],
        [3.3, 2.0, 1.8],
    ];
    for f in 0..4 {
        let [kx, ky] = knuckles[f];
        let splay = (f as f32 - 1.2) * 0.12 * g.fan;
        let c = g.curl[f + 1];
        let bends = [1.45 * c, 1.65 * c, 1.05 * c];
        let mut at = [kx * size, ky * size, 0.0];
        p[5 + 4 * f] = at;
        let mut ang = 0.0f32;
        for j in 0..3 {
            ang += bends[j];
            // Bending folds the finger toward the camera side of the palm (−z).
            let d = [
                splay.sin() * ang.cos(),
                -splay.cos() * ang.cos(),
                -ang.sin(),
            ];
            let len = bones[f][j] * size * long;
            at = [at[0] + d[0] * len, at[1] + d[1] * len, at[2] + d[2] * len];
            p[6 + 4 * f + j] = at;
        }
    }
    // Thumb: from its base, out to the left; opposition swings it in front of the palm.
    let base = [-2.4 * size, -2.3 * size, -0.6 * size];
    p[1] = base;
    let swing = 0.5 + 0.9 * g.oppose;
    let bends = [0.3 * g.curl[0], 0.8 * g.curl[0], 0.7 * g.curl[0]];
    let lens = [4.0, 3.1, 2.5];
    let mut at = base;
    let mut ang = 0.0f32;
    for j in 0..3 {
        ang += bends[j];
        let d0 = [-swing.cos(), -swing.sin(), -0.35 - 0.5 * g.oppose];
        let d = turn([0.0, 0.0, -ang], d0);
        let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        let len = lens[j] * size * long / n;
        at = [at[0] + d[0] * len, at[1] + d[1] * len, at[2] + d[2] * len];
        p[2 + j] = at;
    }
    p
}

/// One keyframe: where the hand is (cm from its home), how it is turned (axis–angle), its grip.
#[derive(Debug, Clone, Copy)]
struct Key {
    pos: P3,
    rot: P3,
    grip: Grip,
}

fn key(pos: P3, rot: P3, grip: Grip) -> Key {
    Key { pos, rot, grip }
}

fn catmull(p0: f32, p1: f32, p2: f32, p3: f32, t: f32) -> f32 {
    0.5 * (2.0 * p1
        + (p2 - p0) * t
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t * t
        + (3.0 * p1 - p0 - 3.0 * p2 + p3) * t * t * t)
}

/// The keyframes at time `t` in [0, 1] (evenly spaced), Catmull–Rom between them.
fn sample(keys: &[Key], t: f32) -> Key {
    let n = keys.len();
    if n == 1 {
        return keys[0];
    }
    let x = t.clamp(0.0, 1.0) * (n - 1) as f32;
    let i = (x.floor() as usize).min(n - 2);
    let u = x - i as f32;
    let k = |j: isize| keys[j.clamp(0, n as isize - 1) as usize];
    let (a, b, c, d) = (
        k(i as isize - 1),
        k(i as isize),
        k(i as isize + 1),
        k(i as isize + 2),
    );
    let v3 = |f: fn(&Key) -> P3| -> P3 {
        std::array::from_fn(|m| catmull(f(&a)[m], f(&b)[m], f(&c)[m], f(&d)[m], u))
    };
    Key {
        pos: v3(|k| k.pos),
        rot: v3(|k| k.rot),
        grip: mix(&b.grip, &c.grip, u * u * (3.0 - 2.0 * u)),
    }
}

/// Keyframes of class `label`, drawn per clip; `Ok(None)` for a clip with no hand, an error
/// for a label this generator does not perform.
fn keyframes(label: &str, rng: &mut impl Rng) -> Result<Option<Vec<Key>>, HandCheckError> {
    let mut j = |a: f32| rng.random_range(-a..=a);
    let r0 = [j(0.25), j(0.3), j(0.2)];
    let still = |g: Grip| key([0.0; 3], r0, g);
    let mv = |x: f32, y: f32, z: f32, g: Grip| key([x, y, z], r0, g);
    let amp = 1.0 + j(0.3);
    let keys = match label {
        "Swiping Left" => vec![
            mv(14.0 * amp, 0.0, 0.0, FLAT),
            mv(-14.0 * amp, 1.0, 0.0, FLAT),
        ],
        "Swiping Right" => vec![
            mv(-14.0 * amp, 0.0, 0.0, FLAT),
            mv(14.0 * amp, 1.0, 0.0, FLAT),
        ],
        "Swiping Up" => vec![
            mv(0.0, 13.0 * amp, 0.0, FLAT),
            mv(1.0, -13.0 * amp, 0.0, FLAT),
        ],
        "Swiping Down" => vec![
            mv(0.0, -13.0 * amp, 0.0, FLAT),
            mv(1.0, 13.0 * amp, 0.0, FLAT),
        ],
        "Sliding Two Fingers Left" => {
            vec![mv(6.0 * amp, 0.0, 0.0, VEE), mv(-6.0 * amp, 0.0, 0.0, VEE)]
        }
        "Sliding Two Fingers Right" => {
            vec![mv(-6.0 * amp, 0.0, 0.0, VEE), mv(6.0 * amp, 0.0, 0.0, VEE)]
        }
        "Sliding Two Fingers Up" => {
            vec![mv(0.0, 6.0 * amp, 0.0, VEE), mv(0.0, -6.0 * amp, 0.0, VEE)]
        }
        "Sliding Two Fingers Down" => {
            vec![mv(0.0, -6.0 * amp, 0.0, VEE), mv(0.0, 6.0 * amp, 0.0, VEE)]
        }
        "Pushing Hand Away" => vec![
            mv(0.0, 0.0, -10.0 * amp, FLAT),
            mv(0.0, -1.0, 12.0 * amp, FLAT),
        ],
        "Pulling Hand In" => vec![
            mv(0.0, -1.0, 12.0 * amp, FLAT),
            mv(0.0, 0.0, -10.0 * amp, LOOSE),
        ],
        "Pushing Two Fingers Away" => vec![
            mv(0.0, 0.0, -10.0 * amp, VEE),
            mv(0.0, 0.0, 12.0 * amp, VEE),
        ],
        "Pulling Two Fingers In" => vec![
            mv(0.0, 0.0, 12.0 * amp, VEE),
            mv(0.0, 0.0, -10.0 * amp, VEE),
        ],
        "Rolling Hand Forward" | "Rolling Hand Backward" => {
            let s = if label.ends_with("Forward") {
                1.0
            } else {
                -1.0
            };
            let turns = if rng.random_bool(0.5) { 2 } else { 1 };
            (0..=4 * turns)
                .map(|i| {
                    let a = s * i as f32 * std::f32::consts::FRAC_PI_2;
                    key(
                        [0.0, 4.0 * (1.0 - a.cos()), -4.0 * a.sin()],
                        [r0[0] - 0.8 * a.sin(), r0[1], r0[2]],
                        LOOSE,
                    )
                })
                .collect()
        }
        "Turning Hand Clockwise" | "Turning Hand Counterclockwise" => {
            let s = if label.ends_with("Counterclockwise") {
                -1.0
            } else {
                1.0
            };
            let total = rng.random_range(1.3..2.6f32);
            let g = if rng.random_bool(0.5) { FLAT } else { L_SHAPE };
            (0..4)
                .map(|i| {
                    key(
                        [0.0; 3],
                        [r0[0], r0[1], s * total * i as f32 / 3.0 - s * 0.4],
                        g,
                    )
                })
                .collect()
        }
        "Zooming In With Full Hand" => vec![still(CLUSTER), still(CLUSTER), still(WIDE)],
        "Zooming Out With Full Hand" => vec![still(WIDE), still(WIDE), still(CLUSTER)],
        "Zooming In With Two Fingers" => vec![still(PINCHED), still(PINCHED), still(L_SHAPE)],
        "Zooming Out With Two Fingers" => vec![still(L_SHAPE), still(L_SHAPE), still(PINCHED)],
        "Thumb Up" | "Thumb Down" => {
            // The thumb points left on screen for a right hand palm-on: a quarter turn about
            // the view axis points it up (clockwise on screen) or down.
            let s = if label == "Thumb Up" { 1.0 } else { -1.0 };
            let r = [r0[0] * 0.5, 0.6 + r0[1], s * 1.5];
            vec![
                key([0.0, 6.0, 0.0], r0, LOOSE),
                key([0.0, 0.0, 0.0], r, THUMB),
                key([0.0, -s, 0.0], r, THUMB),
            ]
        }
        "Stop Sign" => vec![
            key([0.0, 8.0, 0.0], [1.0, 0.0, 0.0], LOOSE),
            still(WIDE),
            mv(0.0, 0.0, -2.0, WIDE),
        ],
        "Shaking Hand" => {
            let n = rng.random_range(4..9);
            (0..n)
                .map(|i| {
                    key(
                        [0.0; 3],
                        [r0[0], r0[1] + if i % 2 == 0 { 0.5 } else { -0.5 }, r0[2]],
                        FLAT,
                    )
                })
                .collect()
        }
        "Drumming Fingers" => {
            let mut ks = Vec::new();
            for _ in 0..rng.random_range(2..4) {
                for f in (1..5).rev() {
                    let mut g = LOOSE;
                    g.curl[f] = 0.8;
                    ks.push(key([0.0; 3], [0.9, r0[1], r0[2]], g));
                }
            }
            ks
        }
        // A pointing finger circles in the picture's plane, either way round, once or twice.
        "Drawing a Circle" => {
            let s = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let radius = rng.random_range(5.0..10.0f32);
            let start = rng.random_range(0.0..std::f32::consts::TAU);
            let steps = if rng.random_bool(0.5) { 8 } else { 16 };
            (0..=steps)
                .map(|i| {
                    let a = start + s * i as f32 * std::f32::consts::TAU / 8.0;
                    key(
                        [radius * a.cos(), radius * a.sin(), 0.0],
                        [r0[0], r0[1], r0[2] - 0.15 * a.sin()],
                        POINT,
                    )
                })
                .collect()
        }
        // Thumb and index tap together twice, quickly, the other fingers loosely curled.
        "Double Pinch" => {
            let open = grip([0.0, 0.1, 0.5, 0.6, 0.65], 0.2, 0.3);
            let shut = grip([0.0, 0.55, 0.5, 0.6, 0.65], 0.0, 1.0);
            vec![
                still(open),
                still(shut),
                still(open),
                still(shut),
                still(open),
            ]
        }
        // "Come here": palm up and toward the camera, the index finger curling in and out two
        // or three times.
        "Beckoning" => {
            let r = [r0[0] + 1.1, r0[1], r0[2]];
            let mut curled = POINT;
            curled.curl[1] = 0.95;
            let n = rng.random_range(2..4);
            let mut ks = vec![key([0.0; 3], r, POINT)];
            for _ in 0..n {
                ks.push(key([0.0, 0.0, 0.5], r, curled));
                ks.push(key([0.0; 3], r, POINT));
            }
            ks
        }
        // The ring of thumb and index held up to the camera, then let go into an open hand.
        "OK Sign" => vec![
            key([0.0, 5.0, 0.0], [r0[0] + 0.6, r0[1], r0[2]], LOOSE),
            still(OK_RING),
            mv(0.0, -0.5, 0.0, OK_RING),
            still(OK_RING),
            still(FLAT),
        ],
        // A pointing finger writes a Z: along the top, down the diagonal, along the bottom.
        "Writing a Z" => {
            let a = rng.random_range(5.0..9.0f32);
            let b = a * rng.random_range(0.8..1.2f32);
            vec![
                mv(-a, -b, 0.0, POINT),
                mv(a, -b, 0.0, POINT),
                mv(a, -b, 0.0, POINT),
                mv(-a, b, 0.0, POINT),
                mv(-a, b, 0.0, POINT),
                mv(a, b, 0.0, POINT),
            ]
        }
        "No gesture" => match rng.random_range(0..3) {
            0 => return Ok(None),
            1 => {
                let grips = [LOOSE, FIST, CUP, FLAT];
                let g = grips[rng.random_range(0..grips.len())];
                let r = [
                    rng.random_range(-0.5..1.4f32),
                    rng.random_range(-1.0..1.0f32),
                    rng.random_range(-1.0..1.0f32),
                ];
                vec![
                    key([0.0; 3], r, g),
                    key([0.6, 0.4, 0.0], r, g),
                    key([0.0, 0.8, 0.3], r, g),
                ]
            }
            _ => vec![
                key([0.0, 10.0, 0.0], [1.3, 0.0, 0.2], LOOSE),
                key([1.0, 10.5, 0.0], [1.3, 0.0, 0.2], LOOSE),
            ],
        },
        "Doing other things" => match rng.random_range(0..4) {
            // Reach for something off to one side and take it.
            0 => {
                let s = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                vec![
                    key([s * 16.0, 8.0, 0.0], [0.5, s * 0.8, 0.0], FLAT),
                    key([0.0, 2.0, 4.0], [0.8, s * 0.8, 0.0], CUP),
                    key([s * 16.0, 8.0, 0.0], [0.5, s * 0.8, 0.0], FIST),
                ]
            }
            // Scratch: a hooked hand jiggling.
            1 => (0..12)
                .map(|i| {
                    let mut g = LOOSE;
                    g.curl[1..]
                        .iter_mut()
                        .for_each(|c| *c = if i % 2 == 0 { 0.5 } else { 0.8 });
                    key([0.0, -8.0, 0.0], [0.2, 1.0, 2.0], g)
                })
                .collect(),
            // Typing.
            2 => (0..10)
                .map(|i| {
                    let mut g = LOOSE;
                    g.curl[1 + i % 4] = 0.7;
                    key([0.0, 9.0, 0.0], [1.4, 0.0, 0.0], g)
                })
                .collect(),
            // A cup to the mouth and back.
            _ => vec![
                key([4.0, 9.0, 0.0], [0.3, 1.2, 0.0], CUP),
                key([0.0, -9.0, -6.0], [0.0, 1.2, 0.3], CUP),
                key([4.0, 9.0, 0.0], [0.3, 1.2, 0.0], CUP),
            ],
        },
        other => {
            return Err(HandCheckError::Options(format!(
                "'{other}' is not a gesture this generator performs"
            )))
        }
    };
    Ok(Some(keys))
}

fn normal(rng: &mut impl Rng) -> f32 {
    // Sum of uniforms (Irwin–Hall), unlike the first generator's Box–Muller.
    (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0
}

/// How one person's hand is seen: the camera (picture size, focal length), the hand (which side,
/// size, finger length, where it rests) and the tracker's noise (AR(1) size and memory, the
/// handedness score). Clips and sessions draw their own and render frames with it.
struct View {
    w: u32,
    h: u32,
    focal: f32,
    left: bool,
    size: f32,
    long: f32,
    home: P3,
    sigma: f32,
    rho: f32,
    score: f32,
}

impl View {
    /// The hand at key `k` as one frame's hand list (`[{...}]`) of the clip format, with the
    /// tracker's noise (`noise` carries it from frame to frame); `None` when the tracker would
    /// not report it (fewer than 12 landmarks in the picture, or the hand at the lens).
    fn render(
        &self,
        k: &Key,
        keep_roll: bool,
        noise: &mut [P3; 21],
        rng: &mut impl Rng,
    ) -> Option<String> {
        let (w, h) = (self.w as f32, self.h as f32);
        let pts = hand_points(&k.grip, self.size, self.long);
        let world: Vec<P3> = pts
            .iter()
            .map(|p| {
                let p = if self.left { [-p[0], p[1], p[2]] } else { *p };
                // A left hand is the mirror image of a right one, turned by the mirrored
                // rotation, except that a turn in the picture's plane keeps its sense.
                let r = match (self.left, keep_roll) {
                    (false, _) => k.rot,
                    (true, false) => [k.rot[0], -k.rot[1], -k.rot[2]],
                    (true, true) => [k.rot[0], -k.rot[1], k.rot[2]],
                };
                let q = turn(r, p);
                std::array::from_fn(|m| q[m] + self.home[m] + k.pos[m])
            })
            .collect();
        let wrist_z = world[0][2];
        let px: Vec<P3> = world
            .iter()
            .map(|q| {
                [
                    self.focal * q[0] / q[2] + w / 2.0,
                    self.focal * q[1] / q[2] + h / 2.0,
                    self.focal * (q[2] - wrist_z) / wrist_z,
                ]
            })
            .collect();
        let inside = px
            .iter()
            .filter(|q| q[0] >= 0.0 && q[1] >= 0.0 && q[0] < w && q[1] < h)
            .count();
        if inside < 12 || world.iter().any(|q| q[2] < 5.0) {
            return None;
        }
        let palm = ((px[9][0] - px[0][0]).powi(2) + (px[9][1] - px[0][1]).powi(2)).sqrt();
        let hand = if self.left { "Left" } else { "Right" };
        let mut text = format!(
            "[{{\"handedness\":\"{hand}\",\"score\":{:.3},\"presence\":0.95,\"landmarks\":[",
            self.score
        );
        for (m, q) in px.iter().enumerate() {
            for nd in noise[m].iter_mut() {
                *nd = self.rho * *nd
                    + (1.0 - self.rho * self.rho).sqrt() * normal(rng) * self.sigma * palm;
            }
            let z = if m == 0 {
                0.0
            } else {
                (q[2] + 1.5 * noise[m][2]) / w
            };
            text.push_str(&format!(
                "{}[{:.5},{:.5},{:.5}]",
                if m == 0 { "" } else { "," },
                (q[0] + noise[m][0]) / w,
                (q[1] + noise[m][1]) / h,
                z
            ));
        }
        text.push_str("]}]");
        Some(text)
    }
}

/// One clip as the format's JSON text, and its frame count; an error for a label this generator
/// does not perform.
pub fn clip_text(label: &str, seed: u64) -> Result<(String, usize), HandCheckError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let frames = rng.random_range(28..=42usize);
    let (w, h) = [(176u32, 100u32), (640, 480), (1280, 720)][rng.random_range(0..3)];
    let fov_v = rng.random_range(40f32..58.0).to_radians();
    let focal = h as f32 / 2.0 / (fov_v / 2.0).tan();
    let left = rng.random_bool(0.4);
    let size = rng.random_range(0.82..1.18f32);
    let long = rng.random_range(0.9..1.1f32);
    let depth = rng.random_range(40.0..85.0f32);
    let home = [
        rng.random_range(-0.3..0.3f32) * depth * w as f32 / focal * 0.5,
        rng.random_range(-0.15..0.3f32) * depth * h as f32 / focal * 0.5,
        depth,
    ];
    let keys = keyframes(label, &mut rng)?;
    // A left hand is the mirror image of a right one, turned by the mirrored rotation, except
    // that a turn in the picture's plane keeps its sense of rotation.
    let keep_roll = label.starts_with("Turning");
    // The gesture's span of the clip; idle and other motion fill it all.
    let whole = matches!(label, "No gesture" | "Doing other things");
    // Repeated small motions need more of the clip to be seen at 12 fps.
    let repeated = matches!(label, "Drawing a Circle" | "Double Pinch" | "Beckoning");
    let (t0, t1) = if whole {
        (0.0, 1.0)
    } else if repeated {
        let a = rng.random_range(0.0..0.3f32);
        (a, (a + rng.random_range(0.6..0.9f32)).min(1.0))
    } else {
        let a = rng.random_range(0.0..0.35f32);
        (a, (a + rng.random_range(0.4..0.75f32)).min(1.0))
    };
    let sigma = rng.random_range(0.003..0.015f32);
    let rho = rng.random_range(0.3..0.8f32);
    let burst = rng.random_range(0.0..0.06f64);
    let score = rng.random_range(0.7..1.0f32);
    let view = View {
        w,
        h,
        focal,
        left,
        size,
        long,
        home,
        sigma,
        rho,
        score,
    };
    let mut noise = [[0f32; 3]; 21];
    let mut lost = 0;
    let mut text = format!(
        "{{\"format\":\"hand-landmarks/1\",\"width\":{w},\"height\":{h},\"fps\":12,\"frames\":["
    );
    for i in 0..frames {
        if i > 0 {
            text.push(',');
        }
        let Some(keys) = &keys else {
            text.push_str("[]");
            continue;
        };
        let t = ((i as f32 / (frames - 1) as f32 - t0) / (t1 - t0)).clamp(0.0, 1.0);
        let k = sample(keys, t);
        if rng.random_bool(burst) {
            lost = rng.random_range(1..4);
        }
        if lost > 0 {
            lost -= 1;
            text.push_str("[]");
            continue;
        }
        match view.render(&k, keep_roll, &mut noise, &mut rng) {
            Some(hand) => text.push_str(&hand),
            None => text.push_str("[]"),
        }
    }
    text.push_str("]}\n");
    Ok((text, frames))
}

/// Writes a check data set (Jester's index layout, `landmarks/ID.json`) of `labels`, `k` clips
/// each, every 5th to the validation list.
pub fn write_dataset(
    out: &Path,
    labels: &[String],
    k: usize,
    seed: u64,
) -> Result<(), HandCheckError> {
    if labels.is_empty() || k == 0 {
        return Err(HandCheckError::Options("need classes and clips".into()));
    }
    let dir = out.join("landmarks");
    std::fs::create_dir_all(&dir).map_err(|source| HandCheckError::Io {
        path: dir.clone(),
        source,
    })?;
    let (mut train, mut val) = (String::new(), String::new());
    let mut id = 0u64;
    for i in 0..k {
        for (c, label) in labels.iter().enumerate() {
            id += 1;
            let (text, frames) = clip_text(label, mix_seed(seed ^ 0x5eed_c0de, id))?;
            write_atomic(&dir.join(format!("{id}.json")), text.as_bytes())?;
            let line = format!("{id} {frames} {c}\n");
            if i % 5 == 4 {
                val.push_str(&line)
            } else {
                train.push_str(&line)
            }
        }
    }
    write_atomic(
        &out.join("category.txt"),
        format!("{}\n", labels.join("\n")).as_bytes(),
    )?;
    write_atomic(&out.join("val_videofolder.txt"), val.as_bytes())?;
    write_atomic(&out.join("train_videofolder.txt"), train.as_bytes())?;
    Ok(())
}

/// One index file of [`write_lists`]: the class of each clip, in order, and the seed they are
/// drawn with.
#[derive(Debug, Clone)]
pub struct ClipList {
    pub file: &'static str,
    pub classes: Vec<usize>,
    pub seed: u64,
}

/// `n` clips dealt round the classes in turn (`n` = 50 over 4 classes: 13, 13, 12, 12).
pub fn dealt(n: usize, classes: usize) -> Vec<usize> {
    (0..n).map(|i| i % classes.max(1)).collect()
}

/// Writes a check data set whose index files are `lists` (clip ids numbered on across them, so
/// that each list's clips are drawn from its own seed and no two clips are alike).
pub fn write_lists(
    out: &Path,
    labels: &[String],
    lists: &[ClipList],
) -> Result<(), HandCheckError> {
    if labels.is_empty() || lists.iter().all(|l| l.classes.is_empty()) {
        return Err(HandCheckError::Options("need classes and clips".into()));
    }
    if let Some(c) = lists
        .iter()
        .flat_map(|l| &l.classes)
        .find(|&&c| c >= labels.len())
    {
        return Err(HandCheckError::Options(format!(
            "class {c} of {} labels",
            labels.len()
        )));
    }
    let dir = out.join("landmarks");
    std::fs::create_dir_all(&dir).map_err(|source| HandCheckError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut id = 0u64;
    for list in lists {
        let mut lines = String::new();
        for &c in &list.classes {
            id += 1;
            let (text, frames) = clip_text(&labels[c], mix_seed(list.seed ^ 0x5eed_c0de, id))?;
            write_atomic(&dir.join(format!("{id}.json")), text.as_bytes())?;
            lines.push_str(&format!("{id} {frames} {c}\n"));
        }
        write_atomic(&out.join(list.file), lines.as_bytes())?;
    }
    write_atomic(
        &out.join("category.txt"),
        format!("{}\n", labels.join("\n")).as_bytes(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_parse_and_swipes_move_their_way() {
        for label in [
            "Swiping Left",
            "Thumb Up",
            "No gesture",
            "Doing other things",
            "Drumming Fingers",
        ] {
            for seed in 0..5 {
                let (text, frames) = clip_text(label, seed).unwrap();
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["frames"].as_array().unwrap().len(), frames, "{label}");
            }
        }
        let mut left = 0;
        for seed in 0..20 {
            let (text, _) = clip_text("Swiping Left", seed).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let xs: Vec<f64> = v["frames"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f.get(0))
                .map(|h| h["landmarks"][9][0].as_f64().unwrap())
                .collect();
            if xs.len() > 1 && xs[xs.len() - 1] < xs[0] - 0.05 {
                left += 1;
            }
        }
        assert!(left >= 15, "{left} of 20 moved left");
    }

    /// Per frame with a hand: landmark `k` as (x, y) in the picture's pixels.
    fn track(label: &str, seed: u64, k: usize) -> Vec<[f64; 2]> {
        let (text, _) = clip_text(label, seed).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (w, h) = (v["width"].as_f64().unwrap(), v["height"].as_f64().unwrap());
        v["frames"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f.get(0))
            .map(|hand| {
                let l = &hand["landmarks"][k];
                [l[0].as_f64().unwrap() * w, l[1].as_f64().unwrap() * h]
            })
            .collect()
    }

    fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
    }

    /// Dips of a series below `lo` after being above `hi` (a hysteresis count of closings).
    fn dips(xs: &[f64], lo: f64, hi: f64) -> usize {
        let (mut n, mut open) = (0, false);
        for &x in xs {
            if x > hi {
                open = true;
            } else if x < lo && open {
                n += 1;
                open = false;
            }
        }
        n
    }

    #[test]
    fn the_gestures_outside_jester_do_what_they_say() {
        let (mut circles, mut pinches, mut beckons, mut rings) = (0, 0, 0, 0);
        for seed in 0..20 {
            // The index tip winds round its mean at least once.
            let tip = track("Drawing a Circle", seed, 8);
            let n = tip.len() as f64;
            let c = [0, 1].map(|d| tip.iter().map(|p| p[d]).sum::<f64>() / n);
            let mut wound = 0.0;
            for w in tip.windows(2) {
                let a = (w[0][1] - c[1]).atan2(w[0][0] - c[0]);
                let b = (w[1][1] - c[1]).atan2(w[1][0] - c[0]);
                let mut d = b - a;
                while d > std::f64::consts::PI {
                    d -= std::f64::consts::TAU;
                }
                while d < -std::f64::consts::PI {
                    d += std::f64::consts::TAU;
                }
                wound += d;
            }
            circles += usize::from(wound.abs() > 1.5 * std::f64::consts::PI);
            // Thumb and index tips close twice, in palm lengths (wrist to middle knuckle).
            let gap = |label: &str, a: usize, b: usize| -> Vec<f64> {
                let (ta, tb) = (track(label, seed, a), track(label, seed, b));
                let (w, m) = (track(label, seed, 0), track(label, seed, 9));
                (0..ta.len())
                    .map(|i| dist(ta[i], tb[i]) / dist(w[i], m[i]))
                    .collect()
            };
            pinches += usize::from(dips(&gap("Double Pinch", 4, 8), 0.35, 0.55) == 2);
            // The index tip comes toward the wrist at least twice.
            beckons += usize::from(dips(&gap("Beckoning", 8, 0), 1.2, 1.5) >= 2);
            // The ring is held (tips together) while the middle finger is up, then let go.
            let ring = gap("OK Sign", 4, 8);
            let held = ring.iter().filter(|&&g| g < 0.35).count();
            rings += usize::from(held >= 3 && ring.last().is_some_and(|&g| g > 0.6));
        }
        let counts = format!(
            "of 20: {circles} circles wound round, {pinches} double pinches closed twice, \
             {beckons} beckonings curled twice, {rings} OK signs held and let go"
        );
        assert!(
            circles >= 16 && pinches >= 16 && beckons >= 16 && rings >= 16,
            "{counts}"
        );
        let e = clip_text("Juggling", 1).unwrap_err().to_string();
        assert!(e.contains("Juggling"), "{e}");
    }

    #[test]
    fn lists_are_written_with_their_own_seeds() {
        let dir = tempfile::tempdir().unwrap();
        let labels: Vec<String> = EXTRA_LABELS[..4].iter().map(|s| s.to_string()).collect();
        let lists = [
            ClipList {
                file: "train.txt",
                classes: dealt(8, 4),
                seed: 1,
            },
            ClipList {
                file: "val.txt",
                classes: dealt(10, 4),
                seed: 2,
            },
        ];
        write_lists(dir.path(), &labels, &lists).unwrap();
        let val = std::fs::read_to_string(dir.path().join("val.txt")).unwrap();
        let classes: Vec<&str> = val.lines().map(|l| l.split(' ').nth(2).unwrap()).collect();
        assert_eq!(classes, ["0", "1", "2", "3", "0", "1", "2", "3", "0", "1"]);
        assert!(dir.path().join("landmarks/18.json").is_file());
        let bad = [ClipList {
            file: "x.txt",
            classes: vec![4],
            seed: 1,
        }];
        assert!(write_lists(dir.path(), &labels, &bad).is_err());
    }
}
