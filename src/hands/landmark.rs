//! One hand from the landmark model's four outputs, as `mediapipe/modules/hand_landmark/
//! hand_landmark_cpu.pbtxt` decodes them: presence (`ThresholdingCalculator`, kept above the
//! threshold), handedness (`TensorsToClassificationCalculator`, binary, labels of
//! `handedness.txt`: Left, Right), landmarks (`TensorsToLandmarksCalculator` with 224×224 and
//! `normalize_z` 0.4, `LandmarkLetterboxRemovalCalculator`, `LandmarkProjectionCalculator`) and
//! world landmarks (`WorldLandmarkProjectionCalculator`: rotated by the region, metres).

use super::crop::Padding;
use super::roi::NormRect;

/// Landmarks per hand.
pub const NUM_LANDMARKS: usize = 21;
/// The model's input side.
pub const INPUT_SIZE: usize = 224;
/// `normalize_z` of the landmark decoder: "the Z coordinate distribution in the training data".
const NORMALIZE_Z: f32 = 0.4;

/// Which hand, as MediaPipe labels it. The model assumes a mirrored (selfie) image: a right
/// hand seen unmirrored is reported as `Left`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Handedness {
    Left,
    Right,
}

impl Handedness {
    /// "Left" or "Right".
    pub fn label(self) -> &'static str {
        match self {
            Handedness::Left => "Left",
            Handedness::Right => "Right",
        }
    }
}

/// The decoded outputs for one hand region.
#[derive(Clone, Debug, PartialEq)]
pub struct HandLandmarks {
    /// x, y normalised to the image; z at the scale of x (MediaPipe's normalised landmarks).
    pub landmarks: [[f32; 3]; NUM_LANDMARKS],
    /// Metres, origin near the hand's centre, rotated back to the image's axes.
    pub world_landmarks: [[f32; 3]; NUM_LANDMARKS],
    /// The model's hand-presence probability.
    pub presence: f32,
    pub handedness: Handedness,
    /// The probability of `handedness` (at least 0.5).
    pub handedness_score: f32,
}

/// The four outputs of the landmark model, in its output order (`SplitTensorVectorCalculator`
/// ranges 0..4): `[63]` landmarks in input pixels, `[1]` presence, `[1]` handedness (the
/// probability of "Left"), `[63]` world landmarks.
#[derive(Clone, Copy, Debug)]
pub struct RawLandmarkOutputs<'a> {
    pub landmarks: &'a [f32],
    pub presence: &'a [f32],
    pub handedness: &'a [f32],
    pub world: &'a [f32],
}

/// The hand in `roi` (the region the crop was taken from, `padding` its letterbox), or `None`
/// when the presence is not above `min_presence` or an output has the wrong size.
pub fn decode(
    raw: &RawLandmarkOutputs<'_>,
    roi: &NormRect,
    padding: &Padding,
    min_presence: f32,
) -> Option<HandLandmarks> {
    if raw.landmarks.len() != NUM_LANDMARKS * 3 || raw.world.len() != NUM_LANDMARKS * 3 {
        return None;
    }
    let presence = *raw.presence.first()?;
    // ThresholdingCalculator: present when strictly above; NaN is not.
    if presence.is_nan() || presence <= min_presence {
        return None;
    }
    let left = *raw.handedness.first()?;
    let (handedness, handedness_score) = if left >= 1.0 - left {
        (Handedness::Left, left)
    } else {
        (Handedness::Right, 1.0 - left)
    };

    let [pl, pt, pr, pb] = *padding;
    let (lr, tb) = (pl + pr, pt + pb);
    let (s, c) = roi.rotation.sin_cos();
    let size = INPUT_SIZE as f32;
    let mut landmarks = [[0.0f32; 3]; NUM_LANDMARKS];
    for (i, out) in landmarks.iter_mut().enumerate() {
        let r = &raw.landmarks[i * 3..i * 3 + 3];
        // Normalised to the crop, then the letterbox removed.
        let x = (r[0] / size - pl) / (1.0 - lr);
        let y = (r[1] / size - pt) / (1.0 - tb);
        let z = r[2] / size / NORMALIZE_Z / (1.0 - lr);
        // Projected into the image by the region (rotation about the crop's centre).
        let (x, y) = (x - 0.5, y - 0.5);
        let nx = c * x - s * y;
        let ny = s * x + c * y;
        *out = [
            nx * roi.width + roi.x_center,
            ny * roi.height + roi.y_center,
            z * roi.width,
        ];
    }
    let mut world_landmarks = [[0.0f32; 3]; NUM_LANDMARKS];
    for (i, out) in world_landmarks.iter_mut().enumerate() {
        let r = &raw.world[i * 3..i * 3 + 3];
        *out = [c * r[0] - s * r[1], s * r[0] + c * r[1], r[2]];
    }
    Some(HandLandmarks {
        landmarks,
        world_landmarks,
        presence,
        handedness,
        handedness_score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centre_of_the_crop_lands_on_the_region_centre_and_rotation_turns_offsets() {
        let mut lm = vec![112.0f32; 63];
        // Landmark 1: 56 px right of the crop centre (a quarter of the crop).
        lm[3] = 168.0;
        lm[5] = 22.4; // z: 22.4 / 224 / 0.4 = 0.25 of the crop width
        let world = vec![0.0f32; 63];
        let raw = RawLandmarkOutputs {
            landmarks: &lm,
            presence: &[0.9],
            handedness: &[0.2],
            world: &world,
        };
        let roi = NormRect {
            x_center: 0.5,
            y_center: 0.4,
            width: 0.4,
            height: 0.3,
            rotation: std::f32::consts::FRAC_PI_2,
        };
        let h = decode(&raw, &roi, &[0.0; 4], 0.5).unwrap();
        assert_eq!(h.handedness, Handedness::Right);
        assert!((h.handedness_score - 0.8).abs() < 1e-6);
        assert!((h.landmarks[0][0] - 0.5).abs() < 1e-6 && (h.landmarks[0][1] - 0.4).abs() < 1e-6);
        // Quarter turn: +x in the crop is +y in the image, scaled by the region's height.
        assert!(
            (h.landmarks[1][0] - 0.5).abs() < 1e-6,
            "{:?}",
            h.landmarks[1]
        );
        assert!((h.landmarks[1][1] - (0.4 + 0.25 * 0.3)).abs() < 1e-6);
        assert!((h.landmarks[1][2] - 0.25 * 0.4).abs() < 1e-6);
    }

    #[test]
    fn absent_or_malformed_hands_are_none() {
        let lm = vec![0.0f32; 63];
        let roi = NormRect {
            x_center: 0.5,
            y_center: 0.5,
            width: 0.5,
            height: 0.5,
            rotation: 0.0,
        };
        for (p, l) in [(0.5, 63), (f32::NAN, 63), (0.9, 60)] {
            let raw = RawLandmarkOutputs {
                landmarks: &lm[..l],
                presence: &[p],
                handedness: &[0.5],
                world: &lm,
            };
            assert!(decode(&raw, &roi, &[0.0; 4], 0.5).is_none(), "{p} {l}");
        }
        let raw = RawLandmarkOutputs {
            landmarks: &lm,
            presence: &[],
            handedness: &[0.5],
            world: &lm,
        };
        assert!(decode(&raw, &roi, &[0.0; 4], 0.5).is_none());
    }
}
