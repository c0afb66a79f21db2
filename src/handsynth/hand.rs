//! A kinematic 3D hand: bone lengths and joint angles give MediaPipe's 21 landmarks in the hand's
//! own frame, and named hand shapes (open palm, fist, thumb out, two fingers, pinch...) are sets
//! of joint angles that can be blended.
//!
//! The hand's frame, for a right hand: origin at the wrist, `y` from the wrist to the middle
//! finger's knuckle, `x` from the thumb side to the little-finger side, `z` out of the palm
//! (a finger flexes toward `+z`). Lengths are in palm lengths (wrist to middle knuckle); a left
//! hand is the mirror image (`x` negated), made by the caller.

use rand::Rng;

/// A 3D point or direction.
pub type V3 = [f32; 3];

pub(crate) fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
pub(crate) fn scale(a: V3, s: f32) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}
fn norm(a: V3) -> V3 {
    let l = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt().max(1e-9);
    scale(a, 1.0 / l)
}
fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Where the four fingers' knuckles (index, middle, ring, little) sit on the palm.
const KNUCKLES: [[f32; 2]; 4] = [[-0.24, 0.96], [0.0, 1.0], [0.21, 0.93], [0.40, 0.83]];
/// Proximal, middle and distal phalanx of index, middle, ring and little finger (palm lengths).
const PHALANGES: [[f32; 3]; 4] = [
    [0.43, 0.25, 0.19],
    [0.48, 0.29, 0.20],
    [0.45, 0.28, 0.20],
    [0.35, 0.20, 0.18],
];
/// The thumb's carpometacarpal joint, and its metacarpal, proximal and distal bones.
const THUMB_CMC: V3 = [-0.25, 0.24, 0.05];
const THUMB_BONES: [f32; 3] = [0.45, 0.35, 0.28];
/// Where a flexing thumb bends to: across the palm, toward the little finger.
const THUMB_BEND_TOWARD: V3 = [0.7, 0.25, 0.7];

/// One person's hand: bone lengths and knuckle places, varied around the average.
#[derive(Debug, Clone)]
pub struct Proportions {
    knuckles: [[f32; 2]; 4],
    phalanges: [[f32; 3]; 4],
    thumb_cmc: V3,
    thumb: [f32; 3],
}

impl Proportions {
    /// The average hand.
    pub fn average() -> Self {
        Proportions {
            knuckles: KNUCKLES,
            phalanges: PHALANGES,
            thumb_cmc: THUMB_CMC,
            thumb: THUMB_BONES,
        }
    }

    /// A random person: palm width, finger length and every bone varied independently.
    pub fn random(rng: &mut impl Rng) -> Self {
        let mut p = Self::average();
        let width = rng.random_range(0.8..1.2f32);
        let fingers = rng.random_range(0.85..1.18f32);
        for k in &mut p.knuckles {
            k[0] *= width;
        }
        for f in &mut p.phalanges {
            for b in f.iter_mut() {
                *b *= fingers * rng.random_range(0.92..1.08f32);
            }
        }
        p.thumb_cmc[0] *= width;
        for b in &mut p.thumb {
            *b *= fingers * rng.random_range(0.9..1.1f32);
        }
        p
    }
}

/// Joint angles (radians) of one finger: spread in the palm plane (toward the little finger
/// positive), then flexion at the knuckle, middle and end joints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finger {
    pub spread: f32,
    pub flex: [f32; 3],
}

/// Joint angles of the thumb: `swing` turns it in the palm plane from pointing sideways (0) to
/// along the fingers (π/2), `lift` raises it out of the palm plane toward the palm side, `flex`
/// bends its three joints across the palm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thumb {
    pub swing: f32,
    pub lift: f32,
    pub flex: [f32; 3],
}

/// A whole hand's joint angles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Joints {
    pub thumb: Thumb,
    /// Index, middle, ring, little.
    pub fingers: [Finger; 4],
}

/// Named hand shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Fingers straight and slightly apart, thumb out.
    Open,
    /// Fingers straight and wide apart.
    Spread,
    /// A hand at rest: every joint a little bent.
    Relaxed,
    Fist,
    /// A fist with the thumb straight out sideways (thumb up or down, by the hand's roll).
    ThumbOut,
    /// Index and middle finger straight, the others folded under the thumb.
    TwoFingers,
    /// Index finger straight.
    Point,
    /// Thumb tip and index tip together, the other fingers folded.
    Pinch,
    /// Thumb and index straight and apart, the other fingers folded.
    PinchOpen,
    /// All finger tips gathered to the thumb tip.
    Bunch,
    /// The curved hand that holds a cup.
    Grasp,
    /// Fingers bent at the middle joints, as when scratching.
    Claw,
}

const fn f(spread: f32, a: f32, b: f32, c: f32) -> Finger {
    Finger {
        spread,
        flex: [a, b, c],
    }
}
const FOLDED: [f32; 3] = [1.5, 1.7, 1.1];
const fn folded(spread: f32) -> Finger {
    f(spread, FOLDED[0], FOLDED[1], FOLDED[2])
}
const THUMB_TUCKED: Thumb = Thumb {
    swing: 1.2,
    lift: 0.9,
    flex: [0.3, 0.6, 0.5],
};

impl Shape {
    /// The shape's joint angles.
    pub fn joints(self) -> Joints {
        let straight = |s| f(s, 0.05, 0.05, 0.03);
        match self {
            Shape::Open => Joints {
                thumb: Thumb {
                    swing: 0.6,
                    lift: 0.3,
                    flex: [0.1, 0.1, 0.1],
                },
                fingers: [
                    straight(-0.12),
                    straight(-0.03),
                    straight(0.05),
                    straight(0.15),
                ],
            },
            Shape::Spread => Joints {
                thumb: Thumb {
                    swing: 0.25,
                    lift: 0.2,
                    flex: [0.0, 0.05, 0.05],
                },
                fingers: [
                    straight(-0.3),
                    straight(-0.08),
                    straight(0.12),
                    straight(0.35),
                ],
            },
            Shape::Relaxed => Joints {
                thumb: Thumb {
                    swing: 0.8,
                    lift: 0.5,
                    flex: [0.2, 0.3, 0.2],
                },
                fingers: [
                    f(-0.08, 0.35, 0.45, 0.3),
                    f(-0.02, 0.4, 0.5, 0.3),
                    f(0.04, 0.45, 0.55, 0.3),
                    f(0.1, 0.5, 0.55, 0.3),
                ],
            },
            Shape::Fist => Joints {
                thumb: THUMB_TUCKED,
                fingers: [folded(0.0), folded(0.0), folded(0.0), folded(0.0)],
            },
            Shape::ThumbOut => Joints {
                thumb: Thumb {
                    swing: 0.1,
                    lift: 0.2,
                    flex: [0.0, 0.0, 0.05],
                },
                fingers: [folded(0.0), folded(0.0), folded(0.0), folded(0.0)],
            },
            Shape::TwoFingers => Joints {
                thumb: THUMB_TUCKED,
                fingers: [straight(-0.08), straight(0.06), folded(0.0), folded(0.0)],
            },
            Shape::Point => Joints {
                thumb: THUMB_TUCKED,
                fingers: [straight(-0.02), folded(0.0), folded(0.0), folded(0.0)],
            },
            Shape::Pinch => Joints {
                thumb: Thumb {
                    swing: 0.95,
                    lift: 0.7,
                    flex: [0.25, 0.35, 0.2],
                },
                fingers: [
                    f(0.0, 0.75, 0.6, 0.35),
                    folded(0.0),
                    folded(0.0),
                    folded(0.0),
                ],
            },
            Shape::PinchOpen => Joints {
                thumb: Thumb {
                    swing: 0.2,
                    lift: 0.2,
                    flex: [0.0, 0.0, 0.0],
                },
                fingers: [
                    f(-0.1, 0.1, 0.1, 0.05),
                    folded(0.0),
                    folded(0.0),
                    folded(0.0),
                ],
            },
            Shape::Bunch => Joints {
                thumb: Thumb {
                    swing: 1.0,
                    lift: 0.9,
                    flex: [0.3, 0.2, 0.1],
                },
                fingers: [
                    f(0.15, 0.75, 0.6, 0.3),
                    f(0.05, 0.8, 0.6, 0.3),
                    f(-0.05, 0.85, 0.6, 0.3),
                    f(-0.15, 0.9, 0.6, 0.3),
                ],
            },
            Shape::Grasp => Joints {
                thumb: Thumb {
                    swing: 0.75,
                    lift: 0.75,
                    flex: [0.15, 0.2, 0.15],
                },
                fingers: [
                    f(-0.05, 0.5, 0.7, 0.35),
                    f(0.0, 0.5, 0.75, 0.35),
                    f(0.05, 0.55, 0.8, 0.35),
                    f(0.1, 0.6, 0.8, 0.35),
                ],
            },
            Shape::Claw => Joints {
                thumb: Thumb {
                    swing: 0.7,
                    lift: 0.5,
                    flex: [0.2, 0.4, 0.4],
                },
                fingers: [
                    f(-0.08, 0.3, 1.1, 0.8),
                    f(0.0, 0.3, 1.1, 0.8),
                    f(0.05, 0.3, 1.1, 0.8),
                    f(0.12, 0.3, 1.1, 0.8),
                ],
            },
        }
    }
}

impl Joints {
    /// `self` blended toward `other` by `t` in [0, 1].
    pub fn lerp(&self, other: &Joints, t: f32) -> Joints {
        let l = |a: f32, b: f32| a + (b - a) * t;
        let l3 = |a: [f32; 3], b: [f32; 3]| [l(a[0], b[0]), l(a[1], b[1]), l(a[2], b[2])];
        let mut out = *self;
        out.thumb = Thumb {
            swing: l(self.thumb.swing, other.thumb.swing),
            lift: l(self.thumb.lift, other.thumb.lift),
            flex: l3(self.thumb.flex, other.thumb.flex),
        };
        for (o, (a, b)) in out
            .fingers
            .iter_mut()
            .zip(self.fingers.iter().zip(&other.fingers))
        {
            o.spread = l(a.spread, b.spread);
            o.flex = l3(a.flex, b.flex);
        }
        out
    }

    /// Every angle moved by up to `amount` radians at random: one person's way of making a shape.
    pub fn jittered(&self, amount: f32, rng: &mut impl Rng) -> Joints {
        let mut j = *self;
        let mut d = || rng.random_range(-amount..=amount);
        j.thumb.swing += d();
        j.thumb.lift += d();
        for a in &mut j.thumb.flex {
            *a += d();
        }
        for finger in &mut j.fingers {
            finger.spread += 0.3 * d();
            for a in &mut finger.flex {
                *a = (*a + d()).max(-0.2);
            }
        }
        j
    }

    /// The 21 landmarks in MediaPipe's order (0 wrist, 1–4 thumb CMC, MCP, IP, tip, then
    /// index, middle, ring and little finger from knuckle to tip), in the hand's frame, in palm
    /// lengths.
    pub fn landmarks(&self, p: &Proportions) -> [V3; 21] {
        let mut out = [[0f32; 3]; 21];
        // Thumb: a planar chain bending from its base direction toward the palm.
        let t = &self.thumb;
        let d0 = [
            -t.swing.cos() * t.lift.cos(),
            t.swing.sin() * t.lift.cos(),
            t.lift.sin(),
        ];
        let w = norm(add(
            THUMB_BEND_TOWARD,
            scale(d0, -dot(THUMB_BEND_TOWARD, d0)),
        ));
        out[1] = p.thumb_cmc;
        let mut angle = 0.0;
        for k in 0..3 {
            angle += t.flex[k];
            let d = add(scale(d0, angle.cos()), scale(w, angle.sin()));
            out[2 + k] = add(out[1 + k], scale(d, p.thumb[k]));
        }
        // Fingers: a chain in the plane of the finger's direction and the palm normal.
        for (i, finger) in self.fingers.iter().enumerate() {
            let base = 5 + 4 * i;
            let [kx, ky] = p.knuckles[i];
            // The knuckles fan out: each finger's rest direction points away from the wrist.
            let rest = kx.atan2(ky) * 0.5;
            let s = rest + finger.spread;
            let d0 = [s.sin(), s.cos(), 0.0];
            out[base] = [kx, ky, 0.0];
            let mut angle = 0.0;
            for k in 0..3 {
                angle += finger.flex[k];
                let d = add(scale(d0, angle.cos()), [0.0, 0.0, angle.sin()]);
                out[base + 1 + k] = add(out[base + k], scale(d, p.phalanges[i][k]));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: V3, b: V3) -> f32 {
        let d = add(a, scale(b, -1.0));
        dot(d, d).sqrt()
    }

    #[test]
    fn an_open_hand_is_long_and_a_fist_is_short() {
        let p = Proportions::average();
        let open = Shape::Open.joints().landmarks(&p);
        let fist = Shape::Fist.joints().landmarks(&p);
        // Middle finger tip to wrist: about 2 palm lengths open, under 1.2 in a fist.
        assert!(dist(open[12], open[0]) > 1.8, "{:?}", open[12]);
        assert!(dist(fist[12], fist[0]) < 1.2, "{:?}", fist[12]);
        // Bones keep their lengths whatever the angles.
        for (a, b) in [(5, 6), (9, 10), (17, 18)] {
            assert!((dist(open[a], open[b]) - dist(fist[a], fist[b])).abs() < 1e-5);
        }
        // A folded finger bends toward the palm side (+z).
        assert!(fist[6][2] > 0.3, "{:?}", fist[6]);
    }

    #[test]
    fn pinch_brings_thumb_and_index_tips_together() {
        let p = Proportions::average();
        let pinch = Shape::Pinch.joints().landmarks(&p);
        let apart = Shape::PinchOpen.joints().landmarks(&p);
        assert!(
            dist(pinch[4], pinch[8]) < 0.5 * dist(apart[4], apart[8]),
            "{} vs {}",
            dist(pinch[4], pinch[8]),
            dist(apart[4], apart[8])
        );
    }
}
