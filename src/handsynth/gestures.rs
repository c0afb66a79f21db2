//! How each of Jester's 27 classes is performed, as a script: the hand's shape, its offset from
//! where the clip places it, and its roll, pitch and yaw, as functions of the gesture's phase
//! (0 before the gesture, 1 after it). Scripts are drawn per clip: amplitudes, repetitions,
//! directions of incidental motion and the exact hand shapes vary.
//!
//! Directions are those of the picture as shown (a mirrored, selfie view, the view MediaPipe's
//! handedness assumes): "Swiping Left" moves the hand toward the picture's left edge, "Turning
//! Hand Clockwise" turns it clockwise on the screen. The camera looks along `+z`, `x` to the
//! right, `y` down; offsets are in metres.
//!
//! What Jester's clips show, class by class (from the data set's description and its clips):
//! swipes move an open hand across most of the picture; "Sliding Two Fingers" moves a hand with
//! two fingers out a shorter way; pushing and pulling move the hand away from or toward the
//! camera, palm forward; rolling turns the hand about a horizontal axis in a circling, repeated
//! motion; turning rotates the hand in the picture's plane like a dial; zooming with the full
//! hand opens gathered fingers (in) or gathers spread ones (out), with two fingers spreads or
//! closes thumb and index; thumb up/down and the stop sign are held poses raised into view;
//! shaking waves the hand to and fro; drumming taps the fingers one after another; "No gesture"
//! is a still or resting hand, or none; "Doing other things" is everyday motion.

use super::hand::{Joints, Shape, Thumb, V3};
use rand::Rng;
use std::f32::consts::{FRAC_PI_2, PI};

/// The hand at one phase of a script.
#[derive(Debug, Clone, Copy)]
pub struct Pose {
    pub joints: Joints,
    /// Offset from the clip's home position, metres, camera frame.
    pub offset: V3,
    /// Rotation in the picture's plane (clockwise on screen positive), radians.
    pub roll: f32,
    /// Rotation about the horizontal axis: fingers toward the camera positive.
    pub pitch: f32,
    /// Rotation about the vertical axis.
    pub yaw: f32,
}

/// A clip's gesture: the pose at each phase, and how the clip frames it.
pub struct Script {
    pub pose: Box<dyn Fn(f32) -> Pose + Send + Sync>,
    /// No hand at all in the clip.
    pub no_hand: bool,
    /// The gesture fills the whole clip at an even pace (idle and everyday motion): no lead-in,
    /// no hold.
    pub whole_clip: bool,
    /// The roll is given for a right hand and is reflected for a left one: mirroring the hand
    /// moves its thumb to the other side, so "thumb up" needs the opposite turn.
    pub roll_follows_hand: bool,
    /// The hand comes into view during the clip (idle and everyday motion; a gesture's lead-in
    /// from below is the clip's timing's).
    pub arrive: Option<Passage>,
    /// The hand leaves the view during the clip.
    pub depart: Option<Passage>,
    /// The least part of the clip the gesture takes (a gesture takes 30-85 %): repeated
    /// motions are made at a human pace, so enough frames see each repetition.
    pub min_span: f32,
}

/// Where a hand comes from or goes to when it enters or leaves the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Below,
    Left,
    Right,
    /// The tracker just finds the hand where it is (or loses it): no hand, then a hand.
    Pop,
}

/// A hand entering or leaving the picture between clip times `from` and `to` (0..1).
#[derive(Debug, Clone, Copy)]
pub struct Passage {
    pub edge: Edge,
    pub from: f32,
    pub to: f32,
    /// Extra pitch (fingers toward the camera) while the hand is on its way: a hand raised from
    /// below comes up fingers first.
    pub tilt: f32,
}

impl Passage {
    /// How far out of place the hand is at clip time `u` (1 out of view, 0 in place), arriving
    /// (`true`) or leaving.
    pub fn away(&self, u: f32, arriving: bool) -> f32 {
        let k = smooth((u - self.from) / (self.to - self.from).max(1e-3));
        if arriving {
            1.0 - k
        } else {
            k
        }
    }
}

/// Between gestures the hand comes and goes: draws an arrival (chance `arrive`) and a
/// departure after it (chance `depart`), each from below, a side, or the tracker finding or
/// losing the hand where it is.
fn passages(arrive: f64, depart: f64, rng: &mut impl Rng) -> (Option<Passage>, Option<Passage>) {
    let edge = |rng: &mut dyn rand::RngCore| match rng.random_range(0..20) {
        0..=8 => Edge::Below,
        9..=15 => Edge::Pop,
        16 | 17 => Edge::Left,
        _ => Edge::Right,
    };
    let a = rng.random_bool(arrive).then(|| {
        // Sometimes only as the clip ends: a hand that has just appeared is no gesture yet.
        let to = rng.random_range(0.15..0.95f32);
        Passage {
            edge: edge(rng),
            from: (to - rng.random_range(0.1..0.35f32)).max(0.0),
            to,
            tilt: rng.random_range(0.0..0.8),
        }
    });
    // Sometimes early: the hand leaves after a gesture and the rest of the clip is empty.
    let earliest = a.map_or(0.05, |a| a.to + 0.15);
    let d = (earliest < 0.85 && rng.random_bool(depart)).then(|| {
        let from = rng.random_range(earliest..0.9f32);
        Passage {
            edge: edge(rng),
            from,
            to: (from + rng.random_range(0.1..0.35f32)).min(1.0),
            tilt: rng.random_range(0.0..0.8),
        }
    });
    (a, d)
}

/// How a push or pull covers its depth: one way, out and part of the way back, or out and
/// then the arm drops.
#[derive(Debug, Clone, Copy)]
enum DepthProfile {
    OneWay,
    /// Out by phase `peak`, then back by a `back` fraction of the way.
    Return {
        peak: f32,
        back: f32,
    },
    /// Out by phase `peak`, then the hand falls `fall` metres.
    Drop {
        peak: f32,
        fall: f32,
    },
}

impl DepthProfile {
    /// How far along the move the hand is (0 start, 1 the far end) and how far it has fallen
    /// (metres), at phase `s`.
    fn at(self, s: f32) -> (f32, f32) {
        match self {
            DepthProfile::OneWay => (s, 0.0),
            DepthProfile::Return { peak, back } => {
                if s < peak {
                    (smooth(s / peak), 0.0)
                } else {
                    (1.0 - back * smooth((s - peak) / (1.0 - peak)), 0.0)
                }
            }
            DepthProfile::Drop { peak, fall } => {
                (smooth(s / peak), fall * smooth((s - peak) / (1.0 - peak)))
            }
        }
    }
}

fn smooth(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn shape(s: Shape, rng: &mut impl Rng) -> Joints {
    let mut j = s.joints();
    if matches!(s, Shape::TwoFingers | Shape::Point) {
        j.thumb = free_thumb(rng);
    }
    if s == Shape::TwoFingers {
        // Index and middle touching, apart, or in a V, whatever the gesture: how far apart
        // they are must not tell a push from a slide.
        let v = rng.random_range(-0.14..0.35f32);
        j.fingers[0].spread -= v;
        j.fingers[1].spread += v;
    }
    j.jittered(0.12, rng)
}

/// Where a hand that holds out one or two fingers keeps its thumb: people differ, and a model
/// must read such gestures from the fingers and the motion, not from the thumb. Tucked over
/// the folded fingers (half of them), resting against their side, or out to the side.
fn free_thumb(rng: &mut impl Rng) -> Thumb {
    let tucked = Shape::Fist.joints().thumb;
    match rng.random_range(0..4) {
        0 | 1 => tucked,
        2 => Thumb {
            swing: rng.random_range(0.75..1.0),
            lift: rng.random_range(0.35..0.6),
            flex: [0.15, 0.3, 0.2],
        },
        _ => Thumb {
            swing: rng.random_range(0.2..0.6),
            lift: rng.random_range(0.15..0.35),
            flex: [0.05, 0.1, 0.05],
        },
    }
}

fn still(joints: Joints, roll: f32, pitch: f32, yaw: f32) -> Pose {
    Pose {
        joints,
        offset: [0.0; 3],
        roll,
        pitch,
        yaw,
    }
}

/// A random resting orientation near "palm to the camera, fingers up".
fn facing(rng: &mut impl Rng) -> (f32, f32, f32) {
    (
        rng.random_range(-0.3..0.3),
        rng.random_range(-0.3..0.3),
        rng.random_range(-0.35..0.35),
    )
}

/// A gesture's script: a lead-in, the gesture, a hold (the clip's timing decides).
fn gesture(pose: impl Fn(f32) -> Pose + Send + Sync + 'static) -> Script {
    Script {
        pose: Box::new(pose),
        no_hand: false,
        whole_clip: false,
        roll_follows_hand: false,
        arrive: None,
        depart: None,
        min_span: 0.3,
    }
}

/// The script of class `label` (one of Jester's labels; anything else is "Doing other things").
pub fn script(label: &str, rng: &mut impl Rng) -> Script {
    let (roll0, pitch0, yaw0) = facing(rng);
    // Directional moves: (dx, dy, dz) unit direction and the hand shape.
    // `lean`: how often and how far (radians) the fingers lean toward the camera.
    let translate =
        |dir: V3, amp: f32, hand: Joints, lean: (f64, f32), rng: &mut dyn rand::RngCore| {
            let wobble = [
                rng.random_range(-0.15..0.15f32),
                rng.random_range(-0.15..0.15f32),
            ];
            let turn = rng.random_range(-0.25..0.25f32);
            // The hand drifts a little in depth and the wrist tilts as it goes, and some people
            // hold the fingers toward the camera: what tells these from a push is that the hand
            // mostly crosses the picture.
            let dz = rng.random_range(-0.04..0.04f32);
            let tilt = rng.random_range(-0.3..0.3f32);
            let lean = if rng.random_bool(lean.0) {
                rng.random_range(0.2..lean.1)
            } else {
                0.0
            };
            Box::new(move |s: f32| {
                let e = s; // the clip's timing eases the phase
                let side = (PI * e).sin();
                Pose {
                    joints: hand,
                    offset: [
                        amp * (dir[0] * (e - 0.5) + wobble[0] * side * (1.0 - dir[0].abs())),
                        amp * (dir[1] * (e - 0.5) + wobble[1] * side * (1.0 - dir[1].abs())),
                        amp * dir[2] * (e - 0.5) + dz * (e - 0.5),
                    ],
                    roll: roll0 + turn * (e - 0.5),
                    pitch: pitch0 + lean + tilt * (e - 0.5),
                    yaw: yaw0 + turn * (e - 0.5) * dir[0],
                }
            }) as Box<dyn Fn(f32) -> Pose + Send + Sync>
        };
    match label {
        "Swiping Left" | "Swiping Right" | "Swiping Up" | "Swiping Down" => {
            let dir = match label {
                "Swiping Left" => [-1.0, 0.0, 0.0],
                "Swiping Right" => [1.0, 0.0, 0.0],
                "Swiping Up" => [0.0, -1.0, 0.0],
                _ => [0.0, 1.0, 0.0],
            };
            let hand = shape(
                if rng.random_bool(0.7) {
                    Shape::Open
                } else {
                    Shape::Relaxed
                },
                rng,
            );
            let amp = rng.random_range(0.22..0.4);
            gesture(translate(dir, amp, hand, (0.3, 0.9), rng))
        }
        "Sliding Two Fingers Left"
        | "Sliding Two Fingers Right"
        | "Sliding Two Fingers Up"
        | "Sliding Two Fingers Down" => {
            let dir = match label {
                "Sliding Two Fingers Left" => [-1.0, 0.0, 0.0],
                "Sliding Two Fingers Right" => [1.0, 0.0, 0.0],
                "Sliding Two Fingers Up" => [0.0, -1.0, 0.0],
                _ => [0.0, 1.0, 0.0],
            };
            let hand = shape(Shape::TwoFingers, rng);
            let amp = rng.random_range(0.07..0.22);
            // Two fingers slide pointing up or toward the camera as far as they push: how
            // they point must not tell a slide from a push.
            gesture(translate(dir, amp, hand, (0.5, 1.4), rng))
        }
        "Pushing Hand Away"
        | "Pulling Hand In"
        | "Pushing Two Fingers Away"
        | "Pulling Two Fingers In" => {
            let away = label.starts_with("Pushing");
            let two = label.contains("Two");
            let hand = if two {
                shape(Shape::TwoFingers, rng)
            } else {
                shape(
                    match rng.random_range(0..5) {
                        0 => Shape::Spread,
                        1 => Shape::Relaxed,
                        _ => Shape::Open,
                    },
                    rng,
                )
            };
            // People push and pull in every way they hold the hand: palm to the camera with
            // the fingers up, tilted, fingers pointing at the camera (two fingers foreshortened)
            // or the hand flat, palm down. What all of them share is the change of distance.
            let point = if rng.random_bool(if two { 0.4 } else { 0.6 }) {
                rng.random_range(-0.15..0.2f32)
            } else if two || rng.random_bool(0.7) {
                rng.random_range(0.2..if two { 1.4 } else { 0.9 })
            } else {
                rng.random_range(1.0..1.5f32)
            };
            // The wrist flexes as the arm moves, either way.
            let flex = rng.random_range(-0.3..0.3f32);
            // Small to the arm's length, and sometimes out and (part of the way) back, or a push
            // and then the arm drops.
            let amp = rng.random_range(0.12..0.4f32);
            let sign = if away { 1.0 } else { -1.0 };
            let profile = match rng.random_range(0..20) {
                0..=13 => DepthProfile::OneWay,
                14..=17 => DepthProfile::Return {
                    peak: rng.random_range(0.5..0.75),
                    back: rng.random_range(0.3..0.6),
                },
                _ => DepthProfile::Drop {
                    peak: rng.random_range(0.5..0.75),
                    fall: rng.random_range(0.08..0.2),
                },
            };
            // The arm carries the hand across the picture too, up to 0.4 of the depth move.
            let heading = rng.random_range(0.0..2.0 * PI);
            let carry = amp * rng.random_range(0.0..0.4f32);
            let travel = [carry * heading.cos(), carry * heading.sin()];
            // Pulling in often ends with the fingers curling toward the palm.
            let curl = if away {
                0.0
            } else {
                rng.random_range(0.0..0.5f32)
            };
            let curled = Shape::Relaxed.joints();
            gesture(move |s: f32| {
                let (p, fall) = profile.at(s);
                Pose {
                    joints: hand.lerp(&curled, curl * s),
                    offset: [
                        travel[0] * (p - 0.5),
                        travel[1] * (p - 0.5) + fall,
                        amp * sign * (p - 0.5),
                    ],
                    roll: roll0,
                    pitch: pitch0 + point + flex * (p - 0.5) + 0.6 * fall,
                    yaw: yaw0,
                }
            })
        }
        "Rolling Hand Forward" | "Rolling Hand Backward" => {
            let dir = if label.ends_with("Forward") {
                1.0
            } else {
                -1.0
            };
            // One to two turns, over at least 55 % of the clip: about a turn a second, as
            // people roll, and at least four of the model's samples a turn.
            let turns = rng.random_range(1.0..2.0f32);
            let r = rng.random_range(0.04..0.08f32);
            let tilt = rng.random_range(0.6..1.0f32);
            let hand = shape(
                if rng.random_bool(0.5) {
                    Shape::Open
                } else {
                    Shape::Relaxed
                },
                rng,
            );
            let dz = rng.random_range(-0.04..0.04f32);
            // Forward: the top of the hand goes away from the camera and comes back under.
            let roll = gesture(move |s: f32| {
                let phi = dir * 2.0 * PI * turns * s;
                Pose {
                    joints: hand,
                    offset: [0.0, -r * phi.cos() + r, -r * phi.sin() + dz * (s - 0.5)],
                    roll: roll0,
                    pitch: pitch0 + 0.3 - tilt * phi.sin(),
                    yaw: yaw0,
                }
            });
            Script {
                min_span: 0.55,
                ..roll
            }
        }
        "Turning Hand Clockwise" | "Turning Hand Counterclockwise" => {
            let dir = if label.ends_with("Counterclockwise") {
                -1.0
            } else {
                1.0
            };
            let angle = rng.random_range(1.0..3.0f32);
            let r = rng.random_range(0.0..0.05f32);
            // People turn whatever shape their hand is in: open, pointing, gripping an
            // imaginary knob, thumb and index out (an L), two fingers, a fist.
            let shapes = [
                Shape::Open,
                Shape::Point,
                Shape::Relaxed,
                Shape::PinchOpen,
                Shape::Claw,
                Shape::Grasp,
                Shape::TwoFingers,
                Shape::ThumbOut,
                Shape::Fist,
                Shape::Spread,
            ];
            let hand = shape(shapes[rng.random_range(0..shapes.len())], rng);
            let pitch0 = pitch0 + rng.random_range(-0.3..0.4f32);
            let start = rng.random_range(-0.6..0.2f32);
            gesture(move |s: f32| {
                let a = dir * angle * s;
                Pose {
                    joints: hand,
                    // A little circle the same way round as the turn.
                    offset: [r * (a.cos() - 1.0), r * a.sin(), 0.0],
                    roll: dir * start + a,
                    pitch: pitch0,
                    yaw: yaw0,
                }
            })
        }
        "Zooming In With Full Hand"
        | "Zooming Out With Full Hand"
        | "Zooming In With Two Fingers"
        | "Zooming Out With Two Fingers" => {
            let (closed, open) = if label.ends_with("Full Hand") {
                (shape(Shape::Bunch, rng), shape(Shape::Spread, rng))
            } else {
                (shape(Shape::Pinch, rng), shape(Shape::PinchOpen, rng))
            };
            let zoom_in = label.starts_with("Zooming In");
            let push = rng.random_range(-0.04..0.04f32);
            let reps = if rng.random_bool(0.25) { 2.0 } else { 1.0 };
            gesture(move |s: f32| {
                // Repeated zooms go back between two; the last one ends open (in) or closed (out).
                let t = 0.5 - 0.5 * (PI * (2.0 * reps - 1.0) * s).cos();
                let (a, b) = if zoom_in {
                    (&closed, &open)
                } else {
                    (&open, &closed)
                };
                Pose {
                    joints: a.lerp(b, t),
                    offset: [0.0, 0.0, push * s],
                    roll: roll0,
                    pitch: pitch0,
                    yaw: yaw0,
                }
            })
        }
        "Thumb Up" | "Thumb Down" => {
            let hand = shape(Shape::ThumbOut, rng);
            // The thumb points along -x of a right hand, to the left on screen: a clockwise
            // quarter turn points it up.
            let up = label == "Thumb Up";
            let roll = if up { FRAC_PI_2 } else { -FRAC_PI_2 } + rng.random_range(-0.35..0.35);
            let yaw = rng.random_range(-0.9..0.9f32);
            let bob = rng.random_range(0.0..0.04f32) * if up { -1.0 } else { 1.0 };
            let open = shape(Shape::Relaxed, rng);
            let pose = gesture(move |s: f32| Pose {
                // The hand forms the pose as it comes up.
                joints: open.lerp(&hand, smooth(s * 2.0)),
                offset: [0.0, bob * s, 0.0],
                roll: roll * smooth(s * 2.0) + roll0 * 0.3,
                pitch: pitch0 * 0.5,
                yaw,
            });
            Script {
                roll_follows_hand: true,
                ..pose
            }
        }
        "Stop Sign" => {
            let hand = shape(Shape::Open, rng);
            let rise = rng.random_range(0.08..0.2f32);
            let push = rng.random_range(0.0..0.05f32);
            let rest = shape(Shape::Relaxed, rng);
            gesture(move |s: f32| {
                // Open early and held: a hand that opens as it arrives and moves on at once is
                // getting ready for another gesture.
                let u = smooth(s * 2.2);
                Pose {
                    joints: rest.lerp(&hand, u),
                    offset: [0.0, rise * (1.0 - u), -push * u],
                    roll: roll0 * 0.5,
                    pitch: 0.9 * (1.0 - u) + pitch0 * 0.3,
                    yaw: yaw0 * 0.5,
                }
            })
        }
        "Shaking Hand" => {
            let hand = shape(
                match rng.random_range(0..10) {
                    0..=5 => Shape::Open,
                    6 | 7 => Shape::Relaxed,
                    _ => Shape::Spread,
                },
                rng,
            );
            let cycles = rng.random_range(1.5..4.5f32);
            let swing = rng.random_range(0.25..0.8f32);
            // How the hand waves: turning about the forearm, pivoting at the wrist in the
            // picture's plane, or going side to side as the forearm swings (a wave hello).
            let (k_roll, k_yaw, side) = match rng.random_range(0..3) {
                0 => (0.3, 1.5, rng.random_range(0.0..0.03f32)),
                1 => (1.0, 0.2, rng.random_range(0.0..0.04f32)),
                _ => (
                    rng.random_range(0.3..1.0f32),
                    rng.random_range(0.0..0.5f32),
                    rng.random_range(0.03..0.1f32),
                ),
            };
            // The hand drifts in depth, swings on an arc (a little nearer at both ends of a
            // wave), and the wrist nods.
            let dz = rng.random_range(-0.04..0.04f32);
            let arc = rng.random_range(0.0..0.025f32);
            // Half of the waves are made with the fingers straight up.
            let lean = if rng.random_bool(0.5) {
                rng.random_range(0.0..0.6f32)
            } else {
                0.0
            };
            let nod = rng.random_range(0.0..0.25f32);
            gesture(move |s: f32| {
                let w = (2.0 * PI * cycles * s).sin() * (PI * s).sin().sqrt();
                Pose {
                    joints: hand,
                    offset: [side * w, 0.0, dz * (s - 0.5) - arc * w * w],
                    roll: roll0 + k_roll * swing * w,
                    pitch: pitch0 + lean + nod * w,
                    yaw: yaw0 + k_yaw * swing * w,
                }
            })
        }
        "Drumming Fingers" => {
            let base = shape(Shape::Relaxed, rng).lerp(&Shape::Open.joints(), 0.4);
            let waves = rng.random_range(1.5..4.0f32);
            let depth = rng.random_range(0.5..0.9f32);
            let pitch = rng.random_range(0.3..1.1f32);
            gesture(move |s: f32| {
                let mut j = base;
                // Little finger first, index last: a wave running across the fingers.
                for (i, finger) in j.fingers.iter_mut().enumerate() {
                    let lag = (3 - i) as f32 * 0.18;
                    let v = (2.0 * PI * (waves * s - lag)).sin().max(0.0);
                    finger.flex[0] += depth * v;
                    finger.flex[1] += 0.5 * depth * v;
                }
                Pose {
                    joints: j,
                    offset: [0.0; 3],
                    roll: roll0,
                    pitch,
                    yaw: yaw0,
                }
            })
        }
        "No gesture" => idle(rng),
        _ => everyday(rng),
    }
}

/// "No gesture": no hand, a still hand in any shape, a resting hand low in the picture, a hand
/// that drifts or fidgets a little.
fn idle(rng: &mut impl Rng) -> Script {
    let kind = rng.random_range(0..8);
    if kind == 6 {
        return getting_ready(rng);
    }
    if kind == 7 {
        return presented(rng);
    }
    if kind == 0 {
        return Script {
            pose: Box::new(|_| still(Shape::Relaxed.joints(), 0.0, 0.0, 0.0)),
            no_hand: true,
            whole_clip: true,
            roll_follows_hand: false,
            arrive: None,
            depart: None,
            min_span: 0.3,
        };
    }
    // Also the shapes a hand holds between gestures.
    let shapes = [
        Shape::Relaxed,
        Shape::Fist,
        Shape::Open,
        Shape::Grasp,
        Shape::Point,
        Shape::Claw,
        Shape::Relaxed,
        Shape::Open,
        Shape::TwoFingers,
        Shape::Spread,
        Shape::PinchOpen,
    ];
    let hand = shape(shapes[rng.random_range(0..shapes.len())], rng);
    // A hand raised into view (or found by the tracker) and held, or one that is lowered out
    // of view: the hand appearing is no gesture.
    let (arrive, depart) = passages(0.4, 0.2, rng);
    let roll = rng.random_range(-1.2..1.2f32);
    let pitch = rng.random_range(-0.5..1.3f32);
    let yaw = rng.random_range(-1.0..1.0f32);
    let drift = [
        rng.random_range(-0.04..0.04f32),
        rng.random_range(-0.04..0.04f32),
        rng.random_range(-0.04..0.04f32),
    ];
    let sway = rng.random_range(0.0..0.02f32);
    let freq = rng.random_range(0.5..2.0f32);
    let phase = rng.random_range(0.0..2.0 * PI);
    let resting = kind == 1;
    // Fingers that move a little on their own while the hand waits (kind 4).
    let fidget = if kind == 4 {
        rng.random_range(0.1..0.35f32)
    } else {
        0.0
    };
    let rates: [f32; 5] = std::array::from_fn(|_| rng.random_range(0.5..3.0));
    Script {
        pose: Box::new(move |s: f32| {
            let w = (2.0 * PI * freq * s + phase).sin();
            let mut joints = hand;
            for (i, f) in joints.fingers.iter_mut().enumerate() {
                f.flex[0] += fidget * (0.5 + 0.5 * (2.0 * PI * rates[i] * s + phase).sin());
            }
            joints.thumb.flex[1] += fidget * (2.0 * PI * rates[4] * s).sin();
            Pose {
                joints,
                offset: [
                    drift[0] * s + sway * w,
                    drift[1] * s + sway * 0.5 * w + if resting { 0.12 } else { 0.0 },
                    drift[2] * s,
                ],
                roll: roll + 0.05 * w,
                pitch: if resting { 1.3 } else { pitch },
                yaw,
            }
        }),
        no_hand: false,
        whole_clip: true,
        roll_follows_hand: false,
        arrive,
        depart,
        min_span: 0.3,
    }
}

/// "No gesture" before a gesture: the hand comes up (from below the picture or from a rest in
/// view) into the pose a gesture starts from (an open palm to the camera, two fingers, a thumb
/// out...) as the clip ends, with no time to hold it. Raising the hand to start a swipe is not
/// a stop sign.
fn getting_ready(rng: &mut impl Rng) -> Script {
    let poses = [
        Shape::Open,
        Shape::Open,
        Shape::Spread,
        Shape::TwoFingers,
        Shape::ThumbOut,
        Shape::Fist,
        Shape::Pinch,
        Shape::Bunch,
        Shape::Point,
        Shape::PinchOpen,
    ];
    let target = shape(poses[rng.random_range(0..poses.len())], rng);
    let rest = shape(Shape::Relaxed, rng);
    let (roll, pitch, yaw) = facing(rng);
    let at = rng.random_range(0.8..1.0f32);
    let len = rng.random_range(0.2..0.45f32);
    let rise = rng.random_range(0.05..0.2f32);
    let tilt = rng.random_range(0.5..1.2f32);
    let arrive = rng.random_bool(0.5).then(|| Passage {
        edge: if rng.random_bool(0.8) {
            Edge::Below
        } else {
            Edge::Pop
        },
        from: (at - len - rng.random_range(0.0..0.2f32)).max(0.0),
        to: at - len * 0.5,
        tilt: 0.0,
    });
    Script {
        pose: Box::new(move |s: f32| {
            let u = smooth((s - (at - len)) / len);
            Pose {
                joints: rest.lerp(&target, u),
                offset: [0.0, rise * (1.0 - u), 0.0],
                roll: roll * u,
                pitch: pitch + tilt * (1.0 - u),
                yaw,
            }
        }),
        no_hand: false,
        whole_clip: true,
        roll_follows_hand: false,
        arrive,
        depart: None,
        min_span: 0.3,
    }
}

/// "No gesture": a hand already open (or in a gesture's shape) and facing the camera comes into
/// view from a side or is found by the tracker where it is, and waits. Only a hand that rises and
/// opens into the palm is a stop sign.
fn presented(rng: &mut impl Rng) -> Script {
    let poses = [
        Shape::Open,
        Shape::Open,
        Shape::Spread,
        Shape::TwoFingers,
        Shape::Relaxed,
    ];
    let hand = shape(poses[rng.random_range(0..poses.len())], rng);
    let (roll, pitch, yaw) = facing(rng);
    let sway = rng.random_range(0.0..0.015f32);
    let freq = rng.random_range(0.5..1.5f32);
    let to = rng.random_range(0.1..0.95f32);
    let arrive = Some(Passage {
        edge: match rng.random_range(0..4) {
            0 => Edge::Left,
            1 => Edge::Right,
            _ => Edge::Pop,
        },
        from: (to - rng.random_range(0.1..0.3f32)).max(0.0),
        to,
        tilt: 0.0,
    });
    Script {
        pose: Box::new(move |s: f32| {
            let w = (2.0 * PI * freq * s).sin();
            Pose {
                joints: hand,
                offset: [sway * w, 0.5 * sway * w, 0.0],
                roll,
                pitch,
                yaw,
            }
        }),
        no_hand: false,
        whole_clip: true,
        roll_follows_hand: false,
        arrive,
        depart: None,
        min_span: 0.3,
    }
}

/// "Doing other things": reaching for something, scratching, typing, picking up a cup, touching
/// the face, or wandering with changing hand shapes.
fn everyday(rng: &mut impl Rng) -> Script {
    let kind = rng.random_range(0..13);
    let pose: Box<dyn Fn(f32) -> Pose + Send + Sync> = match kind {
        // Reach: in from an edge, grasp, back out.
        0 => {
            let from = [
                rng.random_range(-1.0..1.0f32).signum() * rng.random_range(0.1..0.25f32),
                rng.random_range(0.05..0.25f32),
                rng.random_range(-0.1..0.1f32),
            ];
            let open = shape(Shape::Open, rng);
            let grasp = shape(Shape::Grasp, rng);
            let yaw = rng.random_range(-1.2..1.2f32);
            let pitch = rng.random_range(0.2..1.2f32);
            Box::new(move |s: f32| {
                let out = (PI * s).sin(); // 0 at both ends, 1 at the object
                let grip = smooth((s - 0.4) * 4.0);
                Pose {
                    joints: open.lerp(&grasp, grip),
                    offset: [
                        from[0] * (1.0 - out),
                        from[1] * (1.0 - out),
                        from[2] * (1.0 - out),
                    ],
                    roll: 0.4 * from[0].signum(),
                    pitch,
                    yaw,
                }
            })
        }
        // Scratch: a clawed hand, fingers working fast, barely moving.
        1 => {
            let claw = shape(Shape::Claw, rng);
            let rate = rng.random_range(4.0..9.0f32);
            let depth = rng.random_range(0.2..0.5f32);
            let (roll, pitch, yaw) = (
                rng.random_range(-2.0..2.0f32),
                rng.random_range(-0.5..1.0f32),
                rng.random_range(-1.2..1.2f32),
            );
            Box::new(move |s: f32| {
                let w = (2.0 * PI * rate * s).sin();
                let mut j = claw;
                for f in &mut j.fingers {
                    f.flex[1] += depth * w;
                    f.flex[2] += 0.5 * depth * w;
                }
                Pose {
                    joints: j,
                    offset: [0.005 * w, 0.01 * w, 0.0],
                    roll,
                    pitch,
                    yaw,
                }
            })
        }
        // Typing: palm down, low, fingers moving on their own.
        2 => {
            let base = shape(Shape::Relaxed, rng);
            let phases: [f32; 4] = [
                rng.random_range(0.0..6.3),
                rng.random_range(0.0..6.3),
                rng.random_range(0.0..6.3),
                rng.random_range(0.0..6.3),
            ];
            let rates: [f32; 4] = [
                rng.random_range(3.0..8.0),
                rng.random_range(3.0..8.0),
                rng.random_range(3.0..8.0),
                rng.random_range(3.0..8.0),
            ];
            let slide = rng.random_range(-0.05..0.05f32);
            Box::new(move |s: f32| {
                let mut j = base;
                for (i, f) in j.fingers.iter_mut().enumerate() {
                    f.flex[0] += 0.35 * (2.0 * PI * rates[i] * s + phases[i]).sin().max(0.0);
                }
                Pose {
                    joints: j,
                    offset: [slide * s, 0.1, 0.0],
                    roll: 0.0,
                    pitch: 1.4,
                    yaw: 0.2,
                }
            })
        }
        // Cup: down to the table, grasp, up toward the mouth (toward the camera), turned.
        3 => {
            let open = shape(Shape::Relaxed, rng);
            let grasp = shape(Shape::Grasp, rng);
            let yaw = rng.random_range(0.8..1.5f32) * rng.random_range(-1.0..1.0f32).signum();
            let side = rng.random_range(-0.1..0.1f32);
            Box::new(move |s: f32| {
                let down = smooth(s * 3.0);
                let up = smooth((s - 0.45) * 2.5);
                Pose {
                    joints: open.lerp(&grasp, down),
                    offset: [side * (1.0 - up), 0.12 * down - 0.2 * up, -0.08 * up],
                    roll: 0.2,
                    pitch: 0.3 * up,
                    yaw,
                }
            })
        }
        // Face: the hand goes up to the face (out of the top) and comes back.
        4 => {
            let hand = shape(Shape::Relaxed, rng);
            let x = rng.random_range(-0.1..0.1f32);
            let yaw = rng.random_range(-1.5..1.5f32);
            Box::new(move |s: f32| {
                let up = (PI * s).sin();
                Pose {
                    joints: hand,
                    offset: [x * up, -0.25 * up, 0.03 * up],
                    roll: 0.6 * up,
                    pitch: 0.5,
                    yaw,
                }
            })
        }
        // A phone in the hand: held, palm up and tilted, the thumb scrolling or tapping.
        6 => {
            let hold = shape(Shape::Grasp, rng);
            let rate = rng.random_range(1.0..4.0f32);
            let (roll, pitch, yaw) = (
                rng.random_range(-0.6..0.6f32),
                rng.random_range(1.6..2.6f32),
                rng.random_range(-0.5..0.5f32),
            );
            let drift = rng.random_range(-0.03..0.03f32);
            Box::new(move |s: f32| {
                let w = (2.0 * PI * rate * s).sin();
                let mut j = hold;
                j.thumb.flex[1] += 0.4 * w;
                j.thumb.flex[2] += 0.3 * w;
                j.thumb.swing += 0.2 * w;
                Pose {
                    joints: j,
                    offset: [drift * s, 0.08 + 0.01 * w, 0.0],
                    roll,
                    pitch,
                    yaw,
                }
            })
        }
        // Counting on the fingers: from a fist, fingers come out one after another.
        7 => {
            let fist = shape(Shape::Fist, rng);
            let open = shape(Shape::Spread, rng);
            let thumb_first = rng.random_bool(0.5);
            let (roll, pitch, yaw) = facing(rng);
            Box::new(move |s: f32| {
                let mut j = fist;
                let at = |k: f32| smooth((s * 5.5 - k) * 1.5);
                for i in 0..4 {
                    let k = i as f32 + if thumb_first { 1.0 } else { 0.0 };
                    j.fingers[i] = fist.lerp(&open, at(k)).fingers[i];
                }
                let k = if thumb_first { 0.0 } else { 4.0 };
                j.thumb = fist.lerp(&open, at(k)).thumb;
                Pose {
                    joints: j,
                    offset: [0.0, 0.0, 0.0],
                    roll,
                    pitch,
                    yaw,
                }
            })
        }
        // Pointing at something: the index out, the hand moves there and holds.
        8 => {
            let rest = shape(Shape::Relaxed, rng);
            let point = shape(Shape::Point, rng);
            let to = [
                rng.random_range(-0.12..0.12f32),
                rng.random_range(-0.1..0.05f32),
                rng.random_range(-0.05..0.1f32),
            ];
            let (roll, pitch, yaw) = (
                rng.random_range(-1.3..1.3f32),
                rng.random_range(-0.2..1.0f32),
                rng.random_range(-1.0..1.0f32),
            );
            Box::new(move |s: f32| {
                let u = smooth(s * 2.0);
                Pose {
                    joints: rest.lerp(&point, u),
                    offset: [to[0] * u, to[1] * u, to[2] * u],
                    roll: roll * u,
                    pitch,
                    yaw,
                }
            })
        }
        // Hair, glasses or an ear: the hand goes up beside the head, fiddles, comes down.
        9 => {
            let hand = shape(
                if rng.random_bool(0.5) {
                    Shape::Pinch
                } else {
                    Shape::Relaxed
                },
                rng,
            );
            let x = rng.random_range(-0.15..0.15f32);
            let rate = rng.random_range(2.0..5.0f32);
            let yaw = rng.random_range(-1.5..1.5f32);
            Box::new(move |s: f32| {
                let up = smooth(s * 3.0) * (1.0 - smooth((s - 0.7) * 3.3));
                let w = (2.0 * PI * rate * s).sin() * up;
                Pose {
                    joints: hand,
                    offset: [x * up + 0.01 * w, -0.18 * up + 0.01 * w, 0.05 * up],
                    roll: 0.8 * up * x.signum(),
                    pitch: 0.3,
                    yaw,
                }
            })
        }
        // A stretch or rub: the hand wanders fast, turning every way.
        10 => {
            let hand = shape(Shape::Relaxed, rng);
            let k: [f32; 9] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
            let rate = rng.random_range(0.7..2.0f32);
            Box::new(move |s: f32| {
                let a = 2.0 * PI * rate * s;
                Pose {
                    joints: hand,
                    offset: [
                        0.06 * (k[0] * a.sin() + k[1] * (0.7 * a).cos()),
                        0.06 * (k[2] * a.cos() + k[3] * (1.3 * a).sin()),
                        0.04 * k[4] * a.sin(),
                    ],
                    roll: k[5] + 0.8 * k[6] * a.sin(),
                    pitch: 0.4 + 0.6 * k[7] * a.cos(),
                    yaw: k[8] * (1.0 + 0.5 * a.sin()),
                }
            })
        }
        // Repositioning, as between two gestures: the hand holds, moves somewhere on a curve
        // and stops, changing its shape and turn on the way.
        11 | 12 => {
            let shapes = [
                Shape::Open,
                Shape::Spread,
                Shape::Relaxed,
                Shape::TwoFingers,
                Shape::Point,
                Shape::Fist,
                Shape::ThumbOut,
                Shape::Grasp,
                Shape::Claw,
                Shape::PinchOpen,
            ];
            let i = rng.random_range(0..shapes.len());
            let k = (i + rng.random_range(1..shapes.len())) % shapes.len();
            let (a, b) = (shape(shapes[i], rng), shape(shapes[k], rng));
            let dist = rng.random_range(0.08..0.25f32);
            let heading = rng.random_range(0.0..2.0 * PI);
            let to = [
                dist * heading.cos(),
                dist * heading.sin(),
                dist * rng.random_range(-0.3..0.3f32),
            ];
            let bow = rng.random_range(-0.3..0.3f32) * dist;
            let (r0, p0, y0) = facing(rng);
            let turn = [
                rng.random_range(-0.6..0.6f32),
                rng.random_range(-0.5..0.8f32),
                rng.random_range(-0.6..0.6f32),
            ];
            let start = rng.random_range(0.05..0.5f32);
            let len = rng.random_range(0.2..0.45f32);
            Box::new(move |s: f32| {
                let u = smooth((s - start) / len);
                let arc = (PI * u).sin() * bow;
                Pose {
                    joints: a.lerp(&b, smooth(u * 1.3)),
                    offset: [
                        to[0] * u - arc * heading.sin(),
                        to[1] * u + arc * heading.cos(),
                        to[2] * u,
                    ],
                    roll: r0 + turn[0] * u,
                    pitch: p0 + turn[1] * u,
                    yaw: y0 + turn[2] * u,
                }
            })
        }
        // Wander: slow, curving motion while the hand changes shape.
        _ => {
            let shapes = [
                Shape::Relaxed,
                Shape::Fist,
                Shape::Grasp,
                Shape::Point,
                Shape::Claw,
            ];
            let a = shape(shapes[rng.random_range(0..shapes.len())], rng);
            let b = shape(shapes[rng.random_range(0..shapes.len())], rng);
            let k: [f32; 6] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
            Box::new(move |s: f32| Pose {
                joints: a.lerp(&b, smooth(s)),
                offset: [
                    0.08 * (k[0] * s + 0.5 * k[1] * (3.0 * s).sin()),
                    0.08 * (k[2] * s + 0.5 * k[3] * (2.0 * s).cos()),
                    0.04 * k[4] * s,
                ],
                roll: k[5] * (1.0 + s),
                pitch: 0.5 * k[1],
                yaw: k[3],
            })
        }
    };
    let (arrive, depart) = passages(0.15, 0.15, rng);
    Script {
        pose,
        no_hand: false,
        whole_clip: true,
        roll_follows_hand: false,
        arrive,
        depart,
        min_span: 0.3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn two_finger_hands_vary_the_thumb_and_the_gap() {
        // The thumb tip's distance from the wrist, in palm lengths: tucked over the folded
        // fingers it stays near the palm, out to the side it reaches past the knuckles.
        let props = super::super::hand::Proportions::average();
        let mut rng = StdRng::seed_from_u64(4);
        let (mut near, mut far, mut together, mut vee) = (0, 0, 0, 0);
        for _ in 0..200 {
            let l = shape(Shape::TwoFingers, &mut rng).landmarks(&props);
            let d = (0..3)
                .map(|k| (l[4][k] - l[0][k]).powi(2))
                .sum::<f32>()
                .sqrt();
            // The fingers stay out whatever the thumb does.
            assert!(l[8][1].abs() > 1.5 && l[12][1].abs() > 1.5, "{:?}", l[8]);
            near += (d < 1.15) as usize;
            far += (d > 1.35) as usize;
            let apart = (0..3)
                .map(|k| (l[8][k] - l[12][k]).powi(2))
                .sum::<f32>()
                .sqrt();
            together += (apart < 0.4) as usize;
            vee += (apart > 0.8) as usize;
        }
        assert!(near >= 70 && far >= 30, "{near} tucked, {far} out of 200");
        assert!(
            together >= 30 && vee >= 30,
            "{together} together, {vee} in a V"
        );
    }

    #[test]
    fn swipes_move_the_way_their_name_says() {
        let mut rng = StdRng::seed_from_u64(3);
        for (label, axis, sign) in [
            ("Swiping Left", 0, -1.0),
            ("Swiping Right", 0, 1.0),
            ("Swiping Up", 1, -1.0),
            ("Sliding Two Fingers Down", 1, 1.0),
        ] {
            let s = script(label, &mut rng);
            let d = (s.pose)(1.0).offset[axis] - (s.pose)(0.0).offset[axis];
            assert!(d * sign > 0.05, "{label}: {d}");
        }
        let cw = script("Turning Hand Clockwise", &mut rng);
        assert!((cw.pose)(1.0).roll > (cw.pose)(0.0).roll + 1.0);
    }

    /// The farthest the hand gets from where it starts, per axis (signed), over the phase.
    fn excursion(s: &Script) -> V3 {
        let a = (s.pose)(0.0).offset;
        let mut far = [0f32; 3];
        for i in 1..=50 {
            let b = (s.pose)(i as f32 / 50.0).offset;
            for k in 0..3 {
                if (b[k] - a[k]).abs() > far[k].abs() {
                    far[k] = b[k] - a[k];
                }
            }
        }
        far
    }

    #[test]
    fn pushes_move_in_depth_and_slides_across() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut returns = 0;
        let mut pitched = 0;
        for _ in 0..40 {
            for (label, sign) in [
                ("Pushing Two Fingers Away", 1.0),
                ("Pulling Two Fingers In", -1.0),
                ("Pushing Hand Away", 1.0),
                ("Pulling Hand In", -1.0),
            ] {
                let s = script(label, &mut rng);
                let far = excursion(&s);
                // The first move is in depth, the named way, at least 12 cm, more than twice
                // as far as the hand crosses the picture.
                assert!(far[2] * sign >= 0.119, "{label}: depth {}", far[2]);
                assert!(
                    far[0].abs() <= 0.4 * far[2].abs() + 1e-6,
                    "{label}: across {} depth {}",
                    far[0],
                    far[2]
                );
                let end = (s.pose)(1.0).offset[2] - (s.pose)(0.0).offset[2];
                if (end - far[2]).abs() > 0.03 {
                    returns += 1;
                }
                if (s.pose)(0.5).pitch.abs() > 0.6 {
                    pitched += 1;
                }
            }
            // Slides cross the picture and drift less in depth than any push moves.
            let s = script("Sliding Two Fingers Left", &mut rng);
            let far = excursion(&s);
            assert!(far[0] <= -0.07 && far[2].abs() <= 0.04 + 1e-6, "{far:?}");
            let s = script("Shaking Hand", &mut rng);
            assert!(excursion(&s)[2].abs() <= 0.05);
        }
        // Some pushes come back, some are made with the fingers toward the camera.
        assert!((10..=70).contains(&returns), "{returns} of 160 came back");
        assert!(pitched >= 20, "{pitched} of 160 pitched");
    }
}
