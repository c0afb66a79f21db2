//! The hand models this program carries, found by what a landmark gesture model asks for: its
//! weights name the palm detector and hand landmarker it was trained behind by sha256
//! (`ModelConfig::hand_models`), and this module builds a tracker from the built-in files with
//! those hashes. A model naming files this program does not carry is refused with their names,
//! rather than run behind other models whose landmarks it was not trained on.
//!
//! Also the bridge from a tracked [`Hand`] to what the landmark backbone reads
//! ([`normalised`], [`pack_hand`]): MediaPipe's normalised landmarks, the handedness as a signed
//! score, the presence.

use super::landmark::Handedness;
use super::tflite::TfliteModel;
use super::tracker::{Hand, HandOptions, HandTracker};
use super::HandsError;
use crate::builtin;
use crate::model::backbone::hand_landmarks::{pack_frame, LANDMARKS};
use crate::model::config::HandModelRef;

/// The built-in file whose sha256 is `model.sha256`, read as a TFLite model.
fn built_in(model: &HandModelRef) -> Result<TfliteModel, HandsError> {
    let file = builtin::FILES
        .iter()
        .find(|f| f.sha256.eq_ignore_ascii_case(&model.sha256))
        .ok_or_else(|| HandsError::BadModel {
            file: model.file.clone(),
            reason: format!(
                "the {} model with sha256 {} is not built into this program (it carries \
                 MediaPipe 0.10.21's palm_detection_full and hand_landmark_full)",
                model.role, model.sha256
            ),
        })?;
    TfliteModel::from_bytes(file.bytes, &file.path())
}

/// The tracker a landmark model was trained behind: its palm detector and hand landmarker, by
/// the sha256s `models` names (one of each role), from the files built into this program.
pub fn tracker_for(
    models: &[HandModelRef],
    options: HandOptions,
) -> Result<HandTracker, HandsError> {
    let role = |r: &str| {
        models
            .iter()
            .find(|m| m.role == r)
            .ok_or_else(|| HandsError::BadModel {
                file: "the model's hand_models".into(),
                reason: format!("no {r} model is named"),
            })
    };
    let palm = built_in(role("palm_detection")?)?;
    let landmark = built_in(role("hand_landmark")?)?;
    HandTracker::new(palm, landmark, options)
}

/// One tracked frame as the landmark backbone and the landmark clip format take it: the 21
/// landmarks normalised to the `width` × `height` image (x / width, y / height, z / width),
/// the handedness as a signed score (+score "Right", −score "Left") and the presence.
pub fn normalised(hand: &Hand, width: u32, height: u32) -> ([[f32; 3]; LANDMARKS], f32, f32) {
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let lm = hand.landmarks.map(|[x, y, z]| [x / w, y / h, z / w]);
    let sign = match hand.handedness {
        Handedness::Right => 1.0,
        Handedness::Left => -1.0,
    };
    (lm, sign * hand.score, hand.presence)
}

/// Packs what the tracker found in a `width` × `height` frame for the landmark backbone
/// (`INPUT_LEN` floats into `out`): its first hand, or no hand.
pub fn pack_hand(hand: Option<&Hand>, width: u32, height: u32, out: &mut [f32]) {
    let aspect = width.max(1) as f32 / height.max(1) as f32;
    match hand.map(|h| normalised(h, width, height)) {
        Some((lm, right, presence)) => pack_frame(Some((&lm, right, presence)), aspect, out),
        None => pack_frame(None, aspect, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::mediapipe_hand_models;

    #[test]
    fn the_models_landmark_weights_name_are_built_in() {
        let mut tracker = tracker_for(&mediapipe_hand_models(), HandOptions::video()).unwrap();
        // A blank frame has no hand.
        let blank = image::RgbImage::new(64, 48);
        assert!(tracker.process(&blank).unwrap().is_empty());
    }

    #[test]
    fn a_model_asking_for_other_hand_models_is_refused_by_name() {
        let mut models = mediapipe_hand_models();
        models[1].sha256 = "00".repeat(32);
        let err = tracker_for(&models, HandOptions::video())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("hand_landmark") && err.contains(&"00".repeat(32)),
            "{err}"
        );
        let err = tracker_for(&models[..1], HandOptions::video())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no hand_landmark model"), "{err}");
    }

    #[test]
    fn a_hand_is_packed_normalised_with_signed_handedness() {
        use crate::hands::roi::NormRect;
        let mut landmarks = [[0f32; 3]; LANDMARKS];
        landmarks[3] = [320.0, 120.0, -64.0];
        let hand = Hand {
            landmarks,
            world_landmarks: [[0.0; 3]; LANDMARKS],
            handedness: Handedness::Left,
            score: 0.9,
            presence: 0.8,
            region: NormRect {
                x_center: 0.5,
                y_center: 0.5,
                width: 0.5,
                height: 0.5,
                rotation: 0.0,
            },
        };
        let (lm, right, presence) = normalised(&hand, 640, 480);
        assert_eq!(lm[3], [0.5, 0.25, -0.1]);
        assert_eq!((right, presence), (-0.9, 0.8));
        let mut out = [f32::NAN; crate::model::backbone::hand_landmarks::INPUT_LEN];
        pack_hand(Some(&hand), 640, 480, &mut out);
        assert_eq!(&out[9..12], &[0.5, 0.25, -0.1]);
        assert_eq!(&out[63..], &[0.8, -0.9, 640.0 / 480.0]);
        pack_hand(None, 640, 480, &mut out);
        assert!(out[..65].iter().all(|&v| v == 0.0));
    }
}
