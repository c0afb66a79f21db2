//! MediaPipe's hand-tracking graph (`mediapipe/modules/hand_landmark/
//! hand_landmark_tracking_cpu.pbtxt`) over our executor: palm detection on the letterboxed
//! frame, a hand region per palm, the landmark model in each region, and the loop that reuses
//! this frame's landmarks as the next frame's regions.
//!
//! What the graph does, and so what this does:
//! - the regions made from the previous frame's landmarks (only when not `static_image_mode`)
//!   are counted; palm detection runs only when there are fewer than `max_hands` of them
//!   (`NormalizedRectVectorHasMinSizeCalculator` gating the image). So with `max_hands` 2 and
//!   one hand in view the detector runs on every frame, as in MediaPipe;
//! - at most `max_hands` palms are kept (`ClipDetectionVectorSizeCalculator`), best first;
//! - palm regions and tracked regions are merged, a tracked region replacing a palm region it
//!   overlaps by IoU above 0.5 (`AssociationNormRectCalculator`);
//! - a hand whose presence is not above `min_tracking_confidence` is dropped and not tracked.

use super::anchors::{ssd_anchors, Anchor, SsdAnchorOptions};
use super::crop::{crop_to_tensor, pad_to_square, Border, RotatedRect};
use super::landmark::{self, HandLandmarks, Handedness, RawLandmarkOutputs, NUM_LANDMARKS};
use super::palm::{self, PalmDetection, NUM_COORDS};
use super::roi::{self, NormRect};
use super::tflite::TfliteModel;
use super::HandsError;
use image::RgbImage;
use std::path::Path;

/// The palm model shipped in `weights/hands/` (`model_complexity` 1).
pub const PALM_MODEL_FILE: &str = "palm_detection_full.tflite";
/// The landmark model shipped in `weights/hands/` (`model_complexity` 1).
pub const LANDMARK_MODEL_FILE: &str = "hand_landmark_full.tflite";

/// The settings of `mediapipe.solutions.hands.Hands`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HandOptions {
    /// Every image on its own: palm detection each time, no tracking.
    pub static_image_mode: bool,
    /// At most this many hands (`max_num_hands`, 2).
    pub max_hands: usize,
    /// Palm score threshold (`min_detection_confidence`, 0.5).
    pub min_detection_confidence: f32,
    /// Hand presence threshold (`min_tracking_confidence`, 0.5).
    pub min_tracking_confidence: f32,
}

impl HandOptions {
    /// `Hands(static_image_mode=True)`: what `gesture-app hands` uses on photographs.
    pub fn static_images() -> Self {
        Self {
            static_image_mode: true,
            ..Self::video()
        }
    }

    /// `Hands()`: a video stream, tracked from frame to frame.
    pub fn video() -> Self {
        Self {
            static_image_mode: false,
            max_hands: 2,
            min_detection_confidence: 0.5,
            min_tracking_confidence: 0.5,
        }
    }
}

/// A hand found in an image.
#[derive(Clone, Debug, PartialEq)]
pub struct Hand {
    /// The 21 landmarks in pixels of the image: x, y, and z at the scale of x (relative to the
    /// wrist's depth; smaller is nearer the camera).
    pub landmarks: [[f32; 3]; NUM_LANDMARKS],
    /// The 21 landmarks in metres, origin near the hand's centre.
    pub world_landmarks: [[f32; 3]; NUM_LANDMARKS],
    /// MediaPipe's label, which assumes a mirrored (selfie) image.
    pub handedness: Handedness,
    /// The probability of `handedness`.
    pub score: f32,
    /// The hand-presence probability.
    pub presence: f32,
    /// The region (normalised to the image) the landmarks were read in.
    pub region: NormRect,
}

impl Hand {
    /// `[x_min, y_min, x_max, y_max]` of the landmarks, in pixels.
    pub fn bounding_box(&self) -> [f32; 4] {
        let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        for p in &self.landmarks {
            b[0] = b[0].min(p[0]);
            b[1] = b[1].min(p[1]);
            b[2] = b[2].max(p[0]);
            b[3] = b[3].max(p[1]);
        }
        b
    }
}

/// The hand-tracking graph with its two models and the state it carries between frames.
pub struct HandTracker {
    palm: TfliteModel,
    landmark: TfliteModel,
    anchors: Vec<Anchor>,
    options: HandOptions,
    /// Regions from the last frame's landmarks (`prev_hand_rects_from_landmarks`).
    previous: Vec<NormRect>,
    palm_runs: u64,
}

fn bad(model: &str, reason: String) -> HandsError {
    HandsError::BadModel {
        file: model.to_string(),
        reason,
    }
}

impl HandTracker {
    /// The graph over `palm` (palm_detection_full/lite) and `landmark` (hand_landmark_full/lite);
    /// checks their input shapes against what the graph feeds them.
    pub fn new(
        palm: TfliteModel,
        landmark: TfliteModel,
        options: HandOptions,
    ) -> Result<Self, HandsError> {
        for (model, side, name) in [
            (&palm, palm::INPUT_SIZE, "palm detection"),
            (&landmark, landmark::INPUT_SIZE, "hand landmark"),
        ] {
            let shape: Vec<usize> = model.input_shape().to_vec();
            if shape != [1, side, side, 3] {
                return Err(bad(
                    model.name(),
                    format!("the {name} model should take [1, {side}, {side}, 3], this one takes {shape:?}"),
                ));
            }
        }
        Ok(Self {
            palm,
            landmark,
            anchors: ssd_anchors(&SsdAnchorOptions::palm()),
            options,
            previous: Vec::new(),
            palm_runs: 0,
        })
    }

    /// The full models from a folder (`weights/hands`).
    pub fn from_dir(dir: &Path, options: HandOptions) -> Result<Self, HandsError> {
        let palm = TfliteModel::from_file(dir.join(PALM_MODEL_FILE))?;
        let landmark = TfliteModel::from_file(dir.join(LANDMARK_MODEL_FILE))?;
        Self::new(palm, landmark, options)
    }

    /// The settings in use.
    pub fn options(&self) -> HandOptions {
        self.options
    }

    /// How many times the palm detector has run since this tracker was made.
    pub fn palm_detection_runs(&self) -> u64 {
        self.palm_runs
    }

    /// Forgets the tracked hands: the next frame starts with palm detection.
    pub fn reset(&mut self) {
        self.previous.clear();
    }

    /// The palm stage alone (`PalmDetectionCpu` + `ClipDetectionVectorSizeCalculator`): palms
    /// normalised to `image`, best first, at most `max_hands`. Counts as a palm-detection run.
    pub fn detect_palms(&mut self, image: &RgbImage) -> Result<Vec<PalmDetection>, HandsError> {
        self.palm_runs += 1;
        let mut roi = RotatedRect::whole(image.width(), image.height());
        let padding = pad_to_square(&mut roi);
        let input = crop_to_tensor(image, &roi, palm::INPUT_SIZE, Border::Zero);
        let outputs = self.palm.run(&input)?;
        let n = self.anchors.len();
        let (boxes, scores) = match outputs.as_slice() {
            [b, s] if b.data.len() == n * NUM_COORDS && s.data.len() == n => (&b.data, &s.data),
            _ => {
                return Err(bad(
                    self.palm.name(),
                    format!(
                        "the palm detection model should give [{n}, {NUM_COORDS}] boxes and [{n}] scores, this one gives {:?}",
                        outputs.iter().map(|o| o.shape.clone()).collect::<Vec<_>>()
                    ),
                ))
            }
        };
        let detections = palm::decode(
            boxes,
            scores,
            &self.anchors,
            self.options.min_detection_confidence,
        );
        let mut kept = palm::weighted_nms(detections, palm::NMS_IOU);
        kept.truncate(self.options.max_hands);
        Ok(kept
            .iter()
            .map(|d| palm::remove_letterbox(d, &padding))
            .collect())
    }

    /// The landmark stage (`HandLandmarkCpu`) in one region; `None` when no hand is present.
    pub fn landmarks_in(
        &self,
        image: &RgbImage,
        region: &NormRect,
    ) -> Result<Option<HandLandmarks>, HandsError> {
        let mut roi = region.to_pixels(image.width(), image.height());
        if !(roi.width > 0.0 && roi.height > 0.0) {
            return Ok(None);
        }
        let padding = pad_to_square(&mut roi);
        let input = crop_to_tensor(image, &roi, landmark::INPUT_SIZE, Border::Replicate);
        let outputs = self.landmark.run(&input)?;
        let raw = match outputs.as_slice() {
            [l, p, h, w] => RawLandmarkOutputs {
                landmarks: &l.data,
                presence: &p.data,
                handedness: &h.data,
                world: &w.data,
            },
            _ => {
                return Err(bad(
                    self.landmark.name(),
                    format!(
                        "the hand landmark model should give 4 outputs, this one gives {}",
                        outputs.len()
                    ),
                ))
            }
        };
        let sizes = [
            raw.landmarks.len(),
            raw.presence.len(),
            raw.handedness.len(),
            raw.world.len(),
        ];
        if sizes != [NUM_LANDMARKS * 3, 1, 1, NUM_LANDMARKS * 3] {
            return Err(bad(
                self.landmark.name(),
                format!("the hand landmark model's outputs should have 63, 1, 1, 63 values, this one's have {sizes:?}"),
            ));
        }
        Ok(landmark::decode(
            &raw,
            region,
            &padding,
            self.options.min_tracking_confidence,
        ))
    }

    /// One frame through the graph: the hands in it, in MediaPipe's order (palm-detected hands,
    /// then tracked ones).
    pub fn process(&mut self, image: &RgbImage) -> Result<Vec<Hand>, HandsError> {
        let (w, h) = (image.width(), image.height());
        if w == 0 || h == 0 {
            self.previous.clear();
            return Ok(Vec::new());
        }
        let previous: Vec<NormRect> = if self.options.static_image_mode {
            Vec::new()
        } else {
            std::mem::take(&mut self.previous)
        };
        let from_palms: Vec<NormRect> = if previous.len() >= self.options.max_hands {
            Vec::new()
        } else {
            self.detect_palms(image)?
                .iter()
                .map(|d| roi::from_palm(d, w, h))
                .collect()
        };
        let regions = roi::associate(&from_palms, &previous);
        let mut hands = Vec::new();
        let mut next = Vec::new();
        for region in regions.iter().filter(|r| r.is_valid()) {
            let Some(found) = self.landmarks_in(image, region)? else {
                continue;
            };
            let to_px = |p: &[f32; 3]| [p[0] * w as f32, p[1] * h as f32, p[2] * w as f32];
            next.push(roi::from_landmarks(&found.landmarks, w, h));
            hands.push(Hand {
                landmarks: found.landmarks.map(|p| to_px(&p)),
                world_landmarks: found.world_landmarks,
                handedness: found.handedness,
                score: found.handedness_score,
                presence: found.presence,
                region: *region,
            });
        }
        if !self.options.static_image_mode {
            self.previous = next;
        }
        Ok(hands)
    }
}
