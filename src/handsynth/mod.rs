//! Generated hand motion in the form a hand tracker reports it: per frame, MediaPipe's 21 hand
//! landmarks, presence and handedness, not images. A kinematic 3D hand ([`hand`]: bone lengths,
//! joint angles, named hand shapes) performs Jester's 27 gestures ([`gestures`]), seen through a
//! pinhole camera with the tracker's noise ([`camera`]). Everything a person and a room vary
//! varies per clip: hand size and proportions, left or right hand, distance, place in the
//! picture, speed, timing, pauses, camera tilt and field of view, the hand coming in from below
//! or leaving, the hand partly out of the picture, jitter, lost frames, wrong handedness.
//!
//! [`write_dataset`] writes a data set in Jester's index layout with one landmark file per clip
//! instead of frames (docs/ARCHITECTURE.md §7); [`session`] writes one person performing
//! classes one after another, for `bench-events`. Everything is a pure function of the seed.
//! Stands alone (imports `util` only): its motion code is not shared with `synth` or
//! `checkgen`, and readers of the files (`train::data::landmarks`) follow the documented format,
//! not these types.

pub mod camera;
pub mod gestures;
pub mod hand;
pub mod session;

use crate::util::{mix_seed, write_atomic, WriteError};
use camera::{Camera, TrackerNoise};
use hand::{Proportions, V3};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Jester's 27 classes, in `category.txt`'s order.
pub const JESTER_LABELS: [&str; 27] = [
    "Doing other things",
    "Drumming Fingers",
    "No gesture",
    "Pulling Hand In",
    "Pulling Two Fingers In",
    "Pushing Hand Away",
    "Pushing Two Fingers Away",
    "Rolling Hand Backward",
    "Rolling Hand Forward",
    "Shaking Hand",
    "Sliding Two Fingers Down",
    "Sliding Two Fingers Left",
    "Sliding Two Fingers Right",
    "Sliding Two Fingers Up",
    "Stop Sign",
    "Swiping Down",
    "Swiping Left",
    "Swiping Right",
    "Swiping Up",
    "Thumb Down",
    "Thumb Up",
    "Turning Hand Clockwise",
    "Turning Hand Counterclockwise",
    "Zooming In With Full Hand",
    "Zooming In With Two Fingers",
    "Zooming Out With Full Hand",
    "Zooming Out With Two Fingers",
];

/// Jester's rate: clips are generated at 12 frames a second.
pub const CLIP_FPS: f32 = 12.0;

/// Which hand MediaPipe says it is. MediaPipe assumes a mirrored (selfie) picture, the view
/// generated here, so a person's right hand is `Right`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Handedness {
    Left,
    Right,
}

impl Handedness {
    /// The other hand.
    pub fn other(self) -> Self {
        match self {
            Handedness::Left => Handedness::Right,
            Handedness::Right => Handedness::Left,
        }
    }
}

/// One tracked hand in one frame, as MediaPipe's hand landmarker reports it.
#[derive(Debug, Clone, Serialize)]
pub struct TrackedHand {
    /// x and y normalised by the frame's width and height (0..1 inside the picture, beyond it
    /// for points outside); z relative to the wrist, normalised by the width (MediaPipe's
    /// normalised landmarks). Smaller z is nearer the camera.
    pub landmarks: [[f32; 3]; 21],
    pub handedness: Handedness,
    /// The handedness score.
    pub score: f32,
    /// The hand presence score.
    pub presence: f32,
}

/// A generated clip: what the tracker reports frame by frame.
#[derive(Debug, Clone, Serialize)]
pub struct LandmarkClip {
    pub width: u32,
    pub height: u32,
    pub fps: f32,
    /// Per frame, the hands found (none or one here).
    pub frames: Vec<Vec<TrackedHand>>,
}

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum HandSynthError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Options(String),
}

impl From<WriteError> for HandSynthError {
    fn from(e: WriteError) -> Self {
        HandSynthError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The gesture's phase over the clip: when it starts and ends, its easing and an optional pause.
pub(crate) struct Timing {
    start: f32,
    end: f32,
    /// 0: constant speed, 1: smoothstep.
    ease: f32,
    /// A hold at phase `pause.0` for a `pause.1` fraction of the gesture's time.
    pause: Option<(f32, f32)>,
}

impl Timing {
    pub(crate) fn random(whole: bool, min_span: f32, rng: &mut impl Rng) -> Self {
        if whole {
            return Timing {
                start: 0.0,
                end: 1.0,
                ease: rng.random_range(0.0..0.5),
                pause: None,
            };
        }
        let len = rng.random_range(min_span.clamp(0.3, 0.8)..0.85f32);
        let start = rng.random_range(0.0..(1.0 - len).max(0.01));
        Timing {
            start,
            end: start + len,
            ease: rng.random_range(0.3..1.0),
            pause: rng
                .random_bool(0.25)
                .then(|| (rng.random_range(0.2..0.8), rng.random_range(0.1..0.3))),
        }
    }

    /// The phase at clip time `u` in [0, 1].
    fn phase(&self, u: f32) -> f32 {
        let mut t = ((u - self.start) / (self.end - self.start)).clamp(0.0, 1.0);
        if let Some((at, hold)) = self.pause {
            // Time runs through the pause without the phase moving.
            let moving = 1.0 - hold;
            t = if t < at * moving {
                t / moving
            } else if t < at * moving + hold {
                at
            } else {
                (t - hold) / moving
            };
        }
        self.ease * smooth(t) + (1.0 - self.ease) * t
    }
}

fn rotate(r: &[[f32; 3]; 3], p: V3) -> V3 {
    [
        r[0][0] * p[0] + r[0][1] * p[1] + r[0][2] * p[2],
        r[1][0] * p[0] + r[1][1] * p[1] + r[1][2] * p[2],
        r[2][0] * p[0] + r[2][1] * p[1] + r[2][2] * p[2],
    ]
}

fn matmul(a: &[[f32; 3]; 3], b: &[[f32; 3]; 3]) -> [[f32; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

/// The hand's orientation in the camera frame: roll in the picture's plane, pitch about the
/// horizontal axis, yaw about the vertical, applied to "palm to the camera, fingers up"
/// (hand x → camera x, hand y → up = −y, palm normal → toward the camera = −z).
fn orientation(roll: f32, pitch: f32, yaw: f32) -> [[f32; 3]; 3] {
    let (sr, cr) = roll.sin_cos();
    let (sp, cp) = pitch.sin_cos();
    let (sy, cy) = yaw.sin_cos();
    let rz = [[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]];
    let rx = [[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]];
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let base = [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]];
    matmul(&rz, &matmul(&rx, &matmul(&ry, &base)))
}

/// One person in one room: what stays the same from frame to frame of a clip or a session.
pub(crate) struct Scene {
    pub(crate) cam: Camera,
    pub(crate) left: bool,
    /// Metres, wrist to middle knuckle.
    pub(crate) palm: f32,
    pub(crate) props: Proportions,
    pub(crate) noise: TrackerNoise,
    /// A hand never holds perfectly still: a tremor of a few millimetres and degrees.
    pub(crate) tremor: f32,
    pub(crate) tremor_hz: [f32; 2],
}

/// Where the hand is placed in a scene: its home (the palm's centre) and how far it must move
/// to leave the picture below or by a side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub(crate) home: V3,
    out_of_view: f32,
    out_left: f32,
    out_right: f32,
}

impl Place {
    /// The home at `dist` metres seen at `(ax, ay)` of the picture (0..1 each).
    pub(crate) fn new(scene: &Scene, dist: f32, ax: f32, ay: f32) -> Place {
        let cam = &scene.cam;
        let (w, h) = (cam.width as f32, cam.height as f32);
        let home = [
            (ax * w - w / 2.0) * dist / cam.focal,
            (ay * h - h / 2.0) * dist / cam.focal + 0.5 * scene.palm,
            dist,
        ];
        let out_of_view = h / 2.0 * dist / cam.focal + 2.5 * scene.palm - home[1] + 0.05;
        let half_w = w / 2.0 * dist / cam.focal + 2.5 * scene.palm + 0.05;
        Place {
            home,
            out_of_view,
            out_left: -half_w - home[0],
            out_right: half_w - home[0],
        }
    }
}

/// The hand in one frame before the camera sees it: its joints, where its palm's centre is
/// (camera frame, metres) and its turn, the roll already reflected for a left hand where the
/// script asks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    pub(crate) joints: hand::Joints,
    pub(crate) at: V3,
    pub(crate) roll: f32,
    pub(crate) pitch: f32,
    pub(crate) yaw: f32,
}

impl Held {
    /// `self` moved toward `other` by `t` in [0, 1].
    pub(crate) fn lerp(&self, other: &Held, t: f32) -> Held {
        let l = |a: f32, b: f32| a + (b - a) * t;
        Held {
            joints: self.joints.lerp(&other.joints, t),
            at: std::array::from_fn(|k| l(self.at[k], other.at[k])),
            roll: l(self.roll, other.roll),
            pitch: l(self.pitch, other.pitch),
            yaw: l(self.yaw, other.yaw),
        }
    }
}

/// A gesture's script played with its timing in one place: the hand at clip time `u` (0..1),
/// `t` seconds into the clip, `None` where no hand is to be seen. `enters` and `leaves`: the hand
/// comes up from below before the gesture and drops away after it.
pub(crate) struct Performance<'a> {
    pub(crate) script: &'a gestures::Script,
    pub(crate) timing: &'a Timing,
    pub(crate) place: Place,
    pub(crate) enters: bool,
    pub(crate) leaves: bool,
}

impl Performance<'_> {
    pub(crate) fn held(&self, scene: &Scene, u: f32, t: f32) -> Option<Held> {
        let (script, timing, place) = (self.script, self.timing, &self.place);
        if script.no_hand {
            return None;
        }
        let mut pose = (script.pose)(timing.phase(u));
        let shake = [
            (2.0 * std::f32::consts::PI * scene.tremor_hz[0] * t).sin(),
            (2.0 * std::f32::consts::PI * scene.tremor_hz[1] * t + 1.0).sin(),
        ];
        pose.offset[0] += scene.tremor * shake[0];
        pose.offset[1] += scene.tremor * shake[1];
        pose.roll += 4.0 * scene.tremor * shake[1];
        let mut drop = 0.0;
        if self.enters && u < timing.start {
            drop += place.out_of_view * (1.0 - smooth(u / timing.start.max(1e-3) * 1.3));
        }
        if self.leaves && u > timing.end {
            drop +=
                place.out_of_view * smooth((u - timing.end) / (1.0 - timing.end).max(1e-3) * 1.5);
        }
        // Idle hands come into view and leave it (the script says when and where).
        let mut side = 0.0;
        let mut hidden = false;
        let passing = [(script.arrive, true), (script.depart, false)];
        for (passage, arriving) in passing.iter().filter_map(|(p, a)| p.map(|p| (p, *a))) {
            let k = passage.away(u, arriving);
            match passage.edge {
                gestures::Edge::Below => drop += place.out_of_view * k,
                gestures::Edge::Left => side += place.out_left * k,
                gestures::Edge::Right => side += place.out_right * k,
                gestures::Edge::Pop => hidden |= k > 0.5,
            }
            if passage.edge != gestures::Edge::Pop {
                pose.pitch += passage.tilt * k;
            }
        }
        if hidden {
            return None;
        }
        let roll = if script.roll_follows_hand && scene.left {
            -pose.roll
        } else {
            pose.roll
        };
        let home = place.home;
        Some(Held {
            joints: pose.joints,
            at: [
                home[0] + pose.offset[0] + side,
                home[1] + pose.offset[1] + drop,
                home[2] + pose.offset[2],
            ],
            roll,
            pitch: pose.pitch,
            yaw: pose.yaw,
        })
    }
}

impl Scene {
    /// What the tracker reports of `held`: the hand through the camera with the tracker's
    /// noise, or nothing where it loses the hand.
    pub(crate) fn observe(&self, held: &Held, rng: &mut impl Rng) -> Option<TrackedHand> {
        let r = orientation(held.roll, held.pitch, held.yaw);
        let local = held.joints.landmarks(&self.props);
        let points: [V3; 21] = std::array::from_fn(|k| {
            let mut p = hand::scale(local[k], self.palm);
            if self.left {
                p[0] = -p[0];
            }
            let p = rotate(&r, p);
            [held.at[0] + p[0], held.at[1] + p[1], held.at[2] + p[2]]
        });
        let cam = &self.cam;
        cam.project(&points).and_then(|px| {
            let (dx, dy) = (px[9][0] - px[0][0], px[9][1] - px[0][1]);
            let palm_px = (cam.focal * self.palm / points[0][2]).max((dx * dx + dy * dy).sqrt());
            self.noise.observe(cam, &px, palm_px, rng)
        })
    }
}

/// Generates one clip of class `label` (a Jester label; unknown labels are "Doing other
/// things") from `seed`.
pub fn generate_clip(label: &str, seed: u64) -> LandmarkClip {
    let mut rng = StdRng::seed_from_u64(seed);
    let frames = rng.random_range(30..=40usize);
    let cam = Camera::random(&mut rng);
    let truth = if rng.random_bool(0.4) {
        Handedness::Left
    } else {
        Handedness::Right
    };
    let left = truth == Handedness::Left;
    let palm = rng.random_range(0.068..0.11f32); // metres, wrist to middle knuckle
    let props = Proportions::random(&mut rng);
    let noise = TrackerNoise::random(truth, &mut rng);
    let script = gestures::script(label, &mut rng);
    let timing = Timing::random(script.whole_clip, script.min_span, &mut rng);
    // Home: the palm's centre at a random place in the picture, at arm's length or nearer.
    let dist = rng.random_range(0.35..1.0f32);
    let edge = rng.random_bool(0.15);
    let (ax, ay) = if edge {
        (
            rng.random_range(0.05..0.95f32),
            rng.random_range(0.1..0.95f32),
        )
    } else {
        (
            rng.random_range(0.25..0.75f32),
            rng.random_range(0.3..0.75f32),
        )
    };
    // The hand may come up from below before the gesture and drop away after it.
    let enters = !script.whole_clip && rng.random_bool(0.35);
    let leaves = !script.whole_clip && rng.random_bool(0.2);
    let tremor = rng.random_range(0.0..0.006f32);
    let tremor_hz: [f32; 2] = [rng.random_range(2.0..6.0), rng.random_range(3.0..9.0)];
    // The tracker loses the hand for a few frames in a row now and then.
    let burst = rng.random_bool(0.15).then(|| {
        let len = rng.random_range(2..6usize);
        let at = rng.random_range(0..frames.saturating_sub(len).max(1));
        at..at + len
    });
    let scene = Scene {
        cam,
        left,
        palm,
        props,
        noise,
        tremor,
        tremor_hz,
    };
    let play = Performance {
        script: &script,
        timing: &timing,
        place: Place::new(&scene, dist, ax, ay),
        enters,
        leaves,
    };
    let mut clip = LandmarkClip {
        width: scene.cam.width,
        height: scene.cam.height,
        fps: CLIP_FPS,
        frames: Vec::with_capacity(frames),
    };
    for i in 0..frames {
        if script.no_hand || burst.as_ref().is_some_and(|b| b.contains(&i)) {
            clip.frames.push(Vec::new());
            continue;
        }
        let u = i as f32 / (frames - 1) as f32;
        let seen = play
            .held(&scene, u, i as f32 / CLIP_FPS)
            .and_then(|held| scene.observe(&held, &mut rng));
        clip.frames.push(seen.into_iter().collect());
    }
    clip
}

/// What to write.
#[derive(Debug, Clone)]
pub struct HandSynthOptions {
    /// Class names, `category.txt`'s order: Jester's by default.
    pub labels: Vec<String>,
    pub clips_per_class: usize,
    pub seed: u64,
    /// Every `val_every`-th clip of a class goes to the validation list (0: none).
    pub val_every: usize,
    /// Generated sessions to cut more clips from ([`session::windows`]), after the clips of
    /// every class: whole gestures with the motion around them, and the motion between
    /// gestures as "No gesture" or "Doing other things". Every `val_every`-th session's go to
    /// the validation list.
    pub sessions: usize,
}

impl HandSynthOptions {
    /// All 27 of Jester's classes.
    pub fn jester(clips_per_class: usize, seed: u64) -> Self {
        HandSynthOptions {
            labels: JESTER_LABELS.iter().map(|s| s.to_string()).collect(),
            clips_per_class,
            seed,
            val_every: 5,
            sessions: 0,
        }
    }
}

/// What [`write_dataset`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub train: usize,
    pub val: usize,
}

/// The subfolder of a landmark data set holding one `ID.json` per clip.
pub const LANDMARK_DIR: &str = "landmarks";

/// Writes a landmark data set under `out`: `category.txt`, `train_videofolder.txt` and
/// `val_videofolder.txt` (`ID NUM_FRAMES LABEL_INDEX`), and `landmarks/ID.json` per clip
/// (docs/ARCHITECTURE.md §7). Clip files are written first and the index files last, each
/// atomically.
pub fn write_dataset(out: &Path, opts: &HandSynthOptions) -> Result<Written, HandSynthError> {
    if opts.labels.is_empty() || opts.clips_per_class == 0 {
        return Err(HandSynthError::Options(
            "need at least one class and one clip per class".into(),
        ));
    }
    let dir = out.join(LANDMARK_DIR);
    std::fs::create_dir_all(&dir).map_err(|source| HandSynthError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut train = String::new();
    let mut val = String::new();
    let mut id = 0u64;
    let mut written = Written { train: 0, val: 0 };
    // Writes the next clip file, of class `c`, and lists it.
    let mut put = |clip: &LandmarkClip, c: usize, to_val: bool| -> Result<(), HandSynthError> {
        id += 1;
        let path = dir.join(format!("{id}.json"));
        write_atomic(&path, &clip_json(clip).into_bytes())?;
        let line = format!("{id} {} {c}\n", clip.frames.len());
        if to_val {
            val.push_str(&line);
            written.val += 1;
        } else {
            train.push_str(&line);
            written.train += 1;
        }
        Ok(())
    };
    let to_val = |k: usize| opts.val_every > 0 && k % opts.val_every == opts.val_every - 1;
    let mut n = 0u64;
    for k in 0..opts.clips_per_class {
        for (c, label) in opts.labels.iter().enumerate() {
            n += 1;
            put(&generate_clip(label, mix_seed(opts.seed, n)), c, to_val(k))?;
        }
    }
    let session_seed = mix_seed(opts.seed, u64::MAX);
    for k in 0..opts.sessions {
        for (clip, label) in session::windows(&opts.labels, mix_seed(session_seed, k as u64)) {
            // Background labels the data set does not have are left out.
            if let Some(c) = opts.labels.iter().position(|l| *l == label) {
                put(&clip, c, to_val(k))?;
            }
        }
    }
    let mut categories = opts.labels.join("\n");
    categories.push('\n');
    write_atomic(&out.join("category.txt"), categories.as_bytes())?;
    write_atomic(&out.join("val_videofolder.txt"), val.as_bytes())?;
    write_atomic(&out.join("train_videofolder.txt"), train.as_bytes())?;
    Ok(written)
}

/// The clip file's text: the format of docs/ARCHITECTURE.md §7, numbers to 5 decimals.
pub fn clip_json(clip: &LandmarkClip) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "{{\"format\":\"hand-landmarks/1\",\"width\":{},\"height\":{},\"fps\":{},\"frames\":[",
        clip.width, clip.height, clip.fps
    );
    for (i, hands) in clip.frames.iter().enumerate() {
        s.push_str(if i == 0 { "\n[" } else { ",\n[" });
        for (j, hand) in hands.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"handedness\":\"{:?}\",\"score\":{:.4},\"presence\":{:.4},\"landmarks\":[",
                hand.handedness, hand.score, hand.presence
            );
            for (k, l) in hand.landmarks.iter().enumerate() {
                let sep = if k == 0 { "" } else { "," };
                let _ = write!(s, "{sep}[{:.5},{:.5},{:.5}]", l[0], l[1], l[2]);
            }
            s.push_str("]}");
        }
        s.push(']');
    }
    s.push_str("]}\n");
    s
}

/// Whether the hand's middle knuckle ends the clip left of where it started by 5 % of the
/// picture's width or more.
#[cfg(test)]
pub(crate) fn moves_left(clip: &LandmarkClip) -> bool {
    let xs: Vec<f32> = clip
        .frames
        .iter()
        .filter_map(|h| h.first())
        .map(|h| h.landmarks[9][0])
        .collect();
    xs.len() >= 2 && xs[xs.len() - 1] < xs[0] - 0.05
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_are_reproducible_and_mostly_tracked() {
        for (c, label) in JESTER_LABELS.iter().enumerate() {
            let a = generate_clip(label, c as u64);
            let b = generate_clip(label, c as u64);
            assert_eq!(clip_json(&a), clip_json(&b), "{label}");
            assert!((30..=40).contains(&a.frames.len()));
            for hands in &a.frames {
                for hand in hands {
                    assert!(hand.landmarks.iter().flatten().all(|v| v.is_finite()));
                }
            }
        }
        // Over many clips, gestures are seen in most frames.
        let mut seen = 0;
        let mut total = 0;
        for seed in 0..40 {
            let clip = generate_clip("Swiping Left", seed);
            total += clip.frames.len();
            seen += clip.frames.iter().filter(|h| !h.is_empty()).count();
        }
        assert!(seen * 10 > total * 6, "{seen} of {total} frames tracked");
    }

    #[test]
    fn a_swipe_left_moves_left_on_screen_and_a_right_hand_is_called_right() {
        let mut moved = 0;
        let mut right = 0;
        let mut hands = 0;
        for seed in 0..30 {
            let clip = generate_clip("Swiping Left", seed);
            moved += moves_left(&clip) as usize;
            // A right hand with the palm to the camera has its thumb left of the little finger.
            for h in clip.frames.iter().filter_map(|h| h.first()) {
                hands += 1;
                if h.handedness == Handedness::Right {
                    right += 1;
                }
            }
        }
        assert!(moved >= 24, "{moved} of 30 swipes moved left");
        assert!(right * 10 > hands * 4 && right * 10 < hands * 9);
    }

    #[test]
    fn a_right_hand_palm_to_camera_has_its_thumb_on_the_left() {
        // One open right hand straight up, palm forward: as a person's right hand looks in a
        // mirror (MediaPipe's selfie view).
        let props = Proportions::average();
        let local = hand::Shape::Open.joints().landmarks(&props);
        let r = orientation(0.0, 0.0, 0.0);
        let thumb = rotate(&r, local[4]);
        let little = rotate(&r, local[20]);
        let middle = rotate(&r, local[12]);
        assert!(thumb[0] < little[0]);
        assert!(middle[1] < 0.0, "fingers up (y down)");
        // Palm to the camera: a folded finger tip comes toward it (−z).
        let fist = hand::Shape::Fist.joints().landmarks(&props);
        assert!(rotate(&r, fist[8])[2] < 0.0);
    }

    #[test]
    fn a_gesture_takes_at_least_its_least_span() {
        let mut rng = StdRng::seed_from_u64(9);
        for _ in 0..200 {
            let t = Timing::random(false, 0.55, &mut rng);
            assert!(
                t.end - t.start >= 0.55 && t.end <= 1.0,
                "{}..{}",
                t.start,
                t.end
            );
            let t = Timing::random(false, 0.3, &mut rng);
            assert!(t.end - t.start >= 0.3 && t.end <= 1.0);
        }
        // Rolls are made at a human pace: over at least 55 % of the clip.
        let mut rng = StdRng::seed_from_u64(10);
        assert_eq!(
            gestures::script("Rolling Hand Forward", &mut rng).min_span,
            0.55
        );
    }

    #[test]
    fn idle_hands_come_into_view_and_leave_it() {
        // Between gestures a hand is raised into view, found by the tracker or lowered out of
        // view: "No gesture" clips show it, so the hand appearing is not taken for a gesture.
        let (mut arrive, mut leave) = (0, 0);
        for seed in 0..80 {
            let clip = generate_clip("No gesture", seed);
            let seen: Vec<bool> = clip.frames.iter().map(|h| !h.is_empty()).collect();
            let (Some(first), Some(last)) =
                (seen.iter().position(|&s| s), seen.iter().rposition(|&s| s))
            else {
                continue;
            };
            let tracked = |r: &[bool]| r.iter().filter(|&&s| s).count();
            if first >= 4 && tracked(&seen[first..]) >= 8 {
                arrive += 1;
            }
            if last + 4 < seen.len() && tracked(&seen[..=last]) >= 8 {
                leave += 1;
            }
        }
        assert!((12..=50).contains(&arrive), "{arrive} of 80 arrived");
        assert!((5..=30).contains(&leave), "{leave} of 80 left");
    }

    #[test]
    fn the_data_set_has_jester_layout_and_a_split() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = HandSynthOptions::jester(5, 7);
        opts.labels.truncate(3);
        let w = write_dataset(dir.path(), &opts).unwrap();
        assert_eq!(w, Written { train: 12, val: 3 });
        let train = std::fs::read_to_string(dir.path().join("train_videofolder.txt")).unwrap();
        let first: Vec<&str> = train.lines().next().unwrap().split(' ').collect();
        assert_eq!(first[0], "1");
        assert_eq!(first[2], "0");
        let text = std::fs::read_to_string(dir.path().join("landmarks/1.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["frames"].as_array().unwrap().len(),
            first[1].parse::<usize>().unwrap()
        );
        assert!(write_dataset(dir.path(), &HandSynthOptions::jester(0, 0)).is_err());
    }
}
