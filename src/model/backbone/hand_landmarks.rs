//! The landmark backbone (`hand_landmarks`): per frame, what a hand tracker reported — MediaPipe's
//! 21 landmarks, presence and handedness — becomes a feature vector of the hand's shape, place,
//! size and turn (docs/ARCHITECTURE.md §4), then one Linear + ReLU (`base_model.fc`) gives the
//! backbone width the TSN wrapper's `new_fc` and consensus heads read, as from a CNN.
//!
//! The tracker itself is not here (`model` does not import it): the backbone takes its output
//! as tensors, packed per frame as [`INPUT_ROWS`] × 3 floats ([`pack_frame`]). The features have
//! no parameters and are computed on the host: a few hundred floats a frame.

use crate::model::layers::{linear, Dense};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// MediaPipe's hand landmarks.
pub const LANDMARKS: usize = 21;
/// Rows of one frame's input: the 21 landmarks, then `[presence, handedness, aspect]`.
pub const INPUT_ROWS: usize = LANDMARKS + 1;
/// Floats of one frame's input.
pub const INPUT_LEN: usize = INPUT_ROWS * 3;
/// Width of the hand features ([`hand_features`]).
pub const FEATURES: usize = 91;
/// Width of the backbone's output (`base_model.fc`).
pub const WIDTH: usize = 128;

/// The finger tips: thumb, index, middle, ring, little.
const TIPS: [usize; 5] = [4, 8, 12, 16, 20];

/// Packs one frame for the backbone into `out` ([`INPUT_LEN`] floats): `landmarks` are
/// MediaPipe's normalised landmarks (x / width, y / height, z / width, z relative to the wrist)
/// or `None` when no hand was found; `right` is the handedness as a signed score (+score for
/// "Right", −score for "Left", MediaPipe's mirrored-view convention); `aspect` is the frame's
/// width / height.
pub fn pack_frame(
    landmarks: Option<(&[[f32; 3]; LANDMARKS], f32, f32)>,
    aspect: f32,
    out: &mut [f32],
) {
    out[..INPUT_LEN].fill(0.0);
    if let Some((lm, right, presence)) = landmarks {
        for (k, l) in lm.iter().enumerate() {
            out[3 * k..3 * k + 3].copy_from_slice(l);
        }
        out[3 * LANDMARKS] = presence;
        out[3 * LANDMARKS + 1] = right;
    }
    out[3 * LANDMARKS + 2] = aspect;
}

type V = [f32; 3];
fn sub(a: V, b: V) -> V {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: V, b: V) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: V, b: V) -> V {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn len(a: V) -> f32 {
    dot(a, a).sqrt()
}
fn unit(a: V) -> Option<V> {
    let l = len(a);
    (l > 1e-6 && l.is_finite()).then(|| [a[0] / l, a[1] / l, a[2] / l])
}

/// The features of one packed frame (docs/ARCHITECTURE.md §4); all zeros when no hand is
/// present or the landmarks are degenerate (a palm of no size).
pub fn hand_features(frame: &[f32]) -> [f32; FEATURES] {
    let mut f = [0f32; FEATURES];
    let meta = &frame[3 * LANDMARKS..INPUT_LEN];
    let (presence, right) = (meta[0], meta[1]);
    let aspect = if meta[2].is_finite() && meta[2] > 0.0 {
        meta[2]
    } else {
        1.0
    };
    if presence.is_nan() || presence <= 0.0 {
        return f;
    }
    // In frame heights, x to the right, y down, z away from the camera.
    let p: [V; LANDMARKS] = std::array::from_fn(|k| {
        let l = &frame[3 * k..3 * k + 3];
        [l[0] * aspect, l[1], l[2] * aspect]
    });
    if p.iter().flatten().any(|v| !v.is_finite()) {
        return f;
    }
    let palm = (len(sub(p[5], p[0])) + len(sub(p[9], p[0])) + len(sub(p[17], p[0]))) / 3.0;
    // The hand's own frame: u wrist → middle knuckle, n out of the palm, v toward the little
    // finger. The handedness sign makes a left hand's frame the mirror of a right hand's, so
    // the same shape of either hand gives the same coordinates.
    let side = if right >= 0.0 { 1.0 } else { -1.0 };
    let Some(u) = unit(sub(p[9], p[0])) else {
        return f;
    };
    let Some(n) = unit(cross(sub(p[5], p[0]), sub(p[17], p[0]))) else {
        return f;
    };
    let n = [-side * n[0], -side * n[1], -side * n[2]];
    let Some(n) = unit(sub(
        n,
        [u[0] * dot(n, u), u[1] * dot(n, u), u[2] * dot(n, u)],
    )) else {
        return f;
    };
    let c = cross(u, n);
    let v = [side * c[0], side * c[1], side * c[2]];
    // A NaN palm size is degenerate too.
    if palm.is_nan() || palm <= 1e-4 {
        return f;
    }
    let mut i = 0;
    let mut put = |x: f32| {
        f[i] = x;
        i += 1;
    };
    // Shape: landmarks 1..20 in the hand's frame, in palm sizes (60).
    for q in &p[1..] {
        let d = sub(*q, p[0]);
        put(dot(d, v) / palm);
        put(dot(d, u) / palm);
        put(dot(d, n) / palm);
    }
    // Turn: the hand's axes in the picture (9).
    for a in [v, u, n] {
        for x in a {
            put(x);
        }
    }
    // Place: wrist and palm centre from the picture's centre, in frame heights (4).
    let centre: V =
        std::array::from_fn(|d| [0, 5, 9, 13, 17].iter().map(|&k| p[k][d]).sum::<f32>() / 5.0);
    put(p[0][0] - aspect / 2.0);
    put(p[0][1] - 0.5);
    put(centre[0] - aspect / 2.0);
    put(centre[1] - 0.5);
    // Size (1), handedness and presence (2).
    put(palm.ln());
    put(right);
    put(presence);
    // Finger tips: to each other (10) and to the wrist (5), in palm sizes.
    for a in 0..TIPS.len() {
        for b in a + 1..TIPS.len() {
            put(len(sub(p[TIPS[a]], p[TIPS[b]])) / palm);
        }
    }
    for t in TIPS {
        put(len(sub(p[t], p[0])) / palm);
    }
    debug_assert_eq!(i, FEATURES);
    f
}

/// The landmark backbone: hand features, then `fc` (Linear + ReLU) to [`WIDTH`].
#[derive(Debug, Clone)]
pub struct HandLandmarks {
    fc: Dense,
}

impl HandLandmarks {
    /// Builds the backbone under `vb` (= `base_model`).
    pub fn new(vb: VarBuilder) -> Result<Self> {
        Ok(HandLandmarks {
            fc: linear(FEATURES, WIDTH, vb.pp("fc"))?,
        })
    }

    /// `[n, 22, 3]` packed frames (any shape of `n` × [`INPUT_LEN`] floats) → `[n, WIDTH]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.dim(0)?;
        if x.elem_count() != n * INPUT_LEN {
            candle_core::bail!(
                "the hand_landmarks backbone reads {INPUT_ROWS}×3 floats a frame, got shape {:?}",
                x.dims()
            );
        }
        let x = x
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        let mut feats = Vec::with_capacity(n * FEATURES);
        for frame in x.chunks_exact(INPUT_LEN) {
            feats.extend_from_slice(&hand_features(frame));
        }
        let feats = Tensor::from_vec(feats, (n, FEATURES), self.fc.weight().device())?; // [n, 91]
        self.fc.forward(&feats)?.relu() // [n, 128]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat hand, fingers up, in a 4:3 frame; `mirror` makes it the other hand.
    fn hand(mirror: bool, shift: f32, size: f32) -> [[f32; 3]; 21] {
        let mut lm = [[0f32; 3]; 21];
        let knuckles = [-0.24f32, 0.0, 0.21, 0.40];
        lm[1] = [-0.25, -0.24, 0.0];
        for (k, p) in lm.iter_mut().enumerate().take(5).skip(2) {
            *p = [
                -0.25 - 0.2 * (k - 1) as f32,
                -0.24 - 0.15 * (k - 1) as f32,
                0.0,
            ];
        }
        for (i, kx) in knuckles.iter().enumerate() {
            for j in 0..4 {
                lm[5 + 4 * i + j] = [*kx, -1.0 - 0.3 * j as f32, -0.02 * j as f32];
            }
        }
        lm.map(|[x, y, z]| {
            let x = if mirror { -x } else { x };
            [
                (0.5 * 4.0 / 3.0 + shift + 0.1 * size * x) / (4.0 / 3.0),
                0.7 + 0.1 * size * y,
                0.1 * size * z / (4.0 / 3.0),
            ]
        })
    }

    fn features(lm: &[[f32; 3]; 21], right: f32) -> [f32; FEATURES] {
        let mut buf = [0f32; INPUT_LEN];
        pack_frame(Some((lm, right, 1.0)), 4.0 / 3.0, &mut buf);
        hand_features(&buf)
    }

    #[test]
    fn shape_features_ignore_place_size_and_which_hand() {
        let a = features(&hand(false, 0.0, 1.0), 0.9);
        let b = features(&hand(false, 0.2, 1.7), 0.9);
        let c = features(&hand(true, -0.1, 1.0), -0.9);
        for k in 0..60 {
            assert!(
                (a[k] - b[k]).abs() < 1e-4,
                "shape {k}: {} vs {}",
                a[k],
                b[k]
            );
            assert!(
                (a[k] - c[k]).abs() < 1e-4,
                "mirrored shape {k}: {} vs {}",
                a[k],
                c[k]
            );
        }
        // The middle finger tip is straight up the hand's axis: 1.9 / palm size 1.035 out.
        assert!((a[3 * 11 + 1] - 1.836).abs() < 0.01, "{}", a[3 * 11 + 1]);
        assert!(a[3 * 11].abs() < 0.01);
        // Place and size do change: wrist x (69) and the log palm size (73).
        assert!((b[69] - a[69] - 0.2).abs() < 1e-4);
        assert!((b[73] - a[73] - 1.7f32.ln()).abs() < 1e-4);
        assert_eq!(a[75], 1.0, "presence");
        assert!(a.iter().chain(&b).chain(&c).all(|v| v.is_finite()));
    }

    #[test]
    fn no_hand_or_a_degenerate_hand_gives_zeros() {
        let mut buf = [0f32; INPUT_LEN];
        pack_frame(None, 1.5, &mut buf);
        assert!(hand_features(&buf).iter().all(|&v| v == 0.0));
        let flat = [[0.5f32, 0.5, 0.0]; 21];
        pack_frame(Some((&flat, 1.0, 1.0)), 1.5, &mut buf);
        assert!(hand_features(&buf).iter().all(|&v| v == 0.0));
        let mut nan = hand(false, 0.0, 1.0);
        nan[3][1] = f32::NAN;
        pack_frame(Some((&nan, 1.0, 1.0)), 1.5, &mut buf);
        assert!(hand_features(&buf).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn the_backbone_maps_frames_to_its_width_and_refuses_other_shapes() {
        let vm = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, candle_core::DType::F32, &candle_core::Device::Cpu);
        let b = HandLandmarks::new(vb).unwrap();
        let x = Tensor::zeros(
            (5, INPUT_ROWS, 3),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        assert_eq!(b.forward(&x).unwrap().dims(), &[5, WIDTH]);
        let bad = Tensor::zeros(
            (5, 3, 8, 8),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        assert!(b.forward(&bad).is_err());
    }
}
