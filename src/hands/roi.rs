//! The hand region the landmark model looks at: from a palm detection
//! (`palm_detection_detection_to_roi.pbtxt`: `DetectionsToRectsCalculator` rotated by palm
//! keypoints 0 → 2 to 90°, then `RectTransformationCalculator` scale 2.6, shift_y −0.5,
//! square_long), from the previous frame's landmarks (`hand_landmark_landmarks_to_roi.pbtxt`:
//! `HandLandmarksToRectCalculator`, then scale 2.0, shift_y −0.1, square_long), and the
//! `AssociationNormRectCalculator` that merges the two lists (IoU above 0.5 = the same hand).

use super::crop::RotatedRect;
use super::palm::PalmDetection;
use std::f32::consts::PI;

/// A rotated rectangle normalised to the image (x by its width, y by its height):
/// MediaPipe's `NormalizedRect`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormRect {
    pub x_center: f32,
    pub y_center: f32,
    pub width: f32,
    pub height: f32,
    pub rotation: f32,
}

impl NormRect {
    /// In pixels of a `width`×`height` image (`GetRoi`).
    pub fn to_pixels(&self, width: u32, height: u32) -> RotatedRect {
        let (w, h) = (width as f32, height as f32);
        RotatedRect {
            center_x: self.x_center * w,
            center_y: self.y_center * h,
            width: self.width * w,
            height: self.height * h,
            rotation: self.rotation,
        }
    }

    /// Every field finite and the size positive (`ValidateRoi` in MediaPipe).
    pub fn is_valid(&self) -> bool {
        [
            self.x_center,
            self.y_center,
            self.width,
            self.height,
            self.rotation,
        ]
        .iter()
        .all(|v| v.is_finite())
            && self.width > 0.0
            && self.height > 0.0
    }
}

/// `RectTransformationCalculatorOptions` as the hand graphs use them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RectTransform {
    pub scale: f32,
    pub shift_y: f32,
}

/// palm_detection_detection_to_roi.pbtxt: scale 2.6, shift_y −0.5, square_long.
pub const PALM_TO_HAND: RectTransform = RectTransform {
    scale: 2.6,
    shift_y: -0.5,
};
/// hand_landmark_landmarks_to_roi.pbtxt: scale 2.0, shift_y −0.1, square_long.
pub const LANDMARKS_TO_HAND: RectTransform = RectTransform {
    scale: 2.0,
    shift_y: -0.1,
};
/// `AssociationCalculatorOptions.min_similarity_threshold` in hand_landmark_tracking_cpu.pbtxt.
pub const ASSOCIATION_IOU: f32 = 0.5;

/// `NormalizeRadians` of MediaPipe: into [−π, π).
pub fn normalize_radians(angle: f32) -> f32 {
    angle - 2.0 * PI * ((angle - (-PI)) / (2.0 * PI)).floor()
}

/// `RectTransformationCalculator::TransformNormalizedRect` with shift_x 0 and square_long.
pub fn transform(
    rect: &NormRect,
    t: RectTransform,
    image_width: u32,
    image_height: u32,
) -> NormRect {
    let (iw, ih) = (image_width as f32, image_height as f32);
    let mut out = *rect;
    if rect.rotation == 0.0 {
        out.y_center = rect.y_center + rect.height * t.shift_y;
    } else {
        let x_shift = -(ih * rect.height * t.shift_y * rect.rotation.sin()) / iw;
        let y_shift = (ih * rect.height * t.shift_y * rect.rotation.cos()) / ih;
        out.x_center = rect.x_center + x_shift;
        out.y_center = rect.y_center + y_shift;
    }
    let long_side = (rect.width * iw).max(rect.height * ih);
    out.width = long_side / iw * t.scale;
    out.height = long_side / ih * t.scale;
    out
}

/// The hand region of a palm detection (normalised to the image).
pub fn from_palm(d: &PalmDetection, image_width: u32, image_height: u32) -> NormRect {
    let (iw, ih) = (image_width as f32, image_height as f32);
    // rotation_vector_start_keypoint_index 0 (wrist), end 2 (middle MCP), target 90°.
    let (x0, y0) = (d.keypoints[0][0] * iw, d.keypoints[0][1] * ih);
    let (x1, y1) = (d.keypoints[2][0] * iw, d.keypoints[2][1] * ih);
    let rotation = normalize_radians(0.5 * PI - (-(y1 - y0)).atan2(x1 - x0));
    let raw = NormRect {
        x_center: d.xmin + d.width / 2.0,
        y_center: d.ymin + d.height / 2.0,
        width: d.width,
        height: d.height,
        rotation,
    };
    transform(&raw, PALM_TO_HAND, image_width, image_height)
}

/// `HandLandmarksToRectCalculator` then [`LANDMARKS_TO_HAND`]: the next frame's region from
/// landmarks normalised to the image (x, y used).
pub fn from_landmarks(landmarks: &[[f32; 3]], image_width: u32, image_height: u32) -> NormRect {
    // hand_landmarks_to_rect_calculator.cc: with all 21 landmarks it keeps 12 of them (wrist,
    // thumb 1-3, and the MCP and PIP of the four fingers), then takes 0 (wrist), 4 (index MCP),
    // 6 (middle MCP) and 8 (ring MCP) of that list for the rotation, and the box around the 12.
    const PARTIAL: [usize; 12] = [0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18];
    const WRIST: usize = 0;
    const INDEX_PIP: usize = 4;
    const MIDDLE_PIP: usize = 6;
    const RING_PIP: usize = 8;
    let partial: Vec<[f32; 3]> = if landmarks.len() == 21 {
        PARTIAL.iter().map(|&i| landmarks[i]).collect()
    } else {
        landmarks.to_vec()
    };
    let lm = &partial;
    let (iw, ih) = (image_width as f32, image_height as f32);
    let (x0, y0) = (lm[WRIST][0] * iw, lm[WRIST][1] * ih);
    let x1 = ((lm[INDEX_PIP][0] + lm[RING_PIP][0]) / 2.0 + lm[MIDDLE_PIP][0]) / 2.0 * iw;
    let y1 = ((lm[INDEX_PIP][1] + lm[RING_PIP][1]) / 2.0 + lm[MIDDLE_PIP][1]) / 2.0 * ih;
    let rotation = normalize_radians(0.5 * PI - (-(y1 - y0)).atan2(x1 - x0));
    let reverse = normalize_radians(-rotation);

    // MediaPipe starts its maxima at numeric_limits<float>::min() (the smallest positive float,
    // not the lowest value); kept, so a box lying wholly at negative coordinates ends the same.
    let (mut min_x, mut min_y, mut max_x, mut max_y) =
        (f32::MAX, f32::MAX, f32::MIN_POSITIVE, f32::MIN_POSITIVE);
    for p in lm {
        max_x = max_x.max(p[0]);
        max_y = max_y.max(p[1]);
        min_x = min_x.min(p[0]);
        min_y = min_y.min(p[1]);
    }
    let (acx, acy) = ((max_x + min_x) / 2.0, (max_y + min_y) / 2.0);
    let (mut min_x, mut min_y, mut max_x, mut max_y) =
        (f32::MAX, f32::MAX, f32::MIN_POSITIVE, f32::MIN_POSITIVE);
    let (rs, rc) = reverse.sin_cos();
    for p in lm {
        let ox = (p[0] - acx) * iw;
        let oy = (p[1] - acy) * ih;
        let px = ox * rc - oy * rs;
        let py = ox * rs + oy * rc;
        max_x = max_x.max(px);
        max_y = max_y.max(py);
        min_x = min_x.min(px);
        min_y = min_y.min(py);
    }
    let (pcx, pcy) = ((max_x + min_x) / 2.0, (max_y + min_y) / 2.0);
    let (s, c) = rotation.sin_cos();
    let cx = pcx * c - pcy * s + iw * acx;
    let cy = pcx * s + pcy * c + ih * acy;
    let raw = NormRect {
        x_center: cx / iw,
        y_center: cy / ih,
        width: (max_x - min_x) / iw,
        height: (max_y - min_y) / ih,
        rotation,
    };
    transform(&raw, LANDMARKS_TO_HAND, image_width, image_height)
}

/// IoU of the axis-aligned boxes of two regions, rotation ignored (`rectangle_util.cc`).
pub fn iou(a: &NormRect, b: &NormRect) -> f32 {
    let (ax, ay) = (a.x_center - a.width / 2.0, a.y_center - a.height / 2.0);
    let (bx, by) = (b.x_center - b.width / 2.0, b.y_center - b.height / 2.0);
    let ix = (ax + a.width).min(bx + b.width) - ax.max(bx);
    let iy = (ay + a.height).min(by + b.height) - ay.max(by);
    if ix < 0.0 || iy < 0.0 {
        return 0.0;
    }
    let inter = ix * iy;
    let norm = a.width * a.height + b.width * b.height - inter;
    if norm > 0.0 {
        inter / norm
    } else {
        0.0
    }
}

/// `AssociationNormRectCalculator` over (palm regions, previous frame's regions): lists in
/// increasing priority; each element removes the already kept ones it overlaps by more than
/// [`ASSOCIATION_IOU`] and is appended. So a tracked hand replaces the palm detection of it.
pub fn associate(from_palms: &[NormRect], from_previous: &[NormRect]) -> Vec<NormRect> {
    let mut out: Vec<NormRect> = Vec::new();
    for r in from_palms.iter().chain(from_previous) {
        out.retain(|kept| iou(r, kept) <= ASSOCIATION_IOU);
        out.push(*r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_radians_wraps_into_minus_pi_pi() {
        assert!((normalize_radians(3.0 * PI / 2.0) + PI / 2.0).abs() < 1e-6);
        assert!((normalize_radians(-3.0 * PI / 2.0) - PI / 2.0).abs() < 1e-6);
        assert_eq!(normalize_radians(0.25), 0.25);
    }

    #[test]
    fn upright_palm_gives_a_square_region_shifted_up() {
        // A 640×480 image; palm box 0.1×0.2 (64×96 px) at (0.5, 0.5); wrist below the MCP.
        let mut kp = [[0.5, 0.5]; 7];
        kp[0] = [0.5, 0.6];
        kp[2] = [0.5, 0.4];
        let d = PalmDetection {
            score: 0.9,
            xmin: 0.45,
            ymin: 0.4,
            width: 0.1,
            height: 0.2,
            keypoints: kp,
        };
        let r = from_palm(&d, 640, 480);
        assert!(r.rotation.abs() < 1e-6);
        // Shift −0.5 of the height, then the long side (96 px) × 2.6 on both axes.
        assert!((r.y_center - 0.4).abs() < 1e-6, "{r:?}");
        assert!(
            (r.width * 640.0 - 96.0 * 2.6).abs() < 1e-3
                && (r.height * 480.0 - 96.0 * 2.6).abs() < 1e-3
        );
    }

    #[test]
    fn sideways_palm_rotates_and_shifts_along_the_hand() {
        // Fingers pointing right (wrist left of the MCP): a quarter turn.
        let mut kp = [[0.5, 0.5]; 7];
        kp[0] = [0.4, 0.5];
        kp[2] = [0.6, 0.5];
        let d = PalmDetection {
            score: 0.9,
            xmin: 0.4,
            ymin: 0.4,
            width: 0.2,
            height: 0.2,
            keypoints: kp,
        };
        let r = from_palm(&d, 500, 500);
        assert!((r.rotation - PI / 2.0).abs() < 1e-6, "{r:?}");
        // The −0.5 shift moves the centre towards the fingers (+x).
        assert!(
            (r.x_center - 0.6).abs() < 1e-6 && (r.y_center - 0.5).abs() < 1e-6,
            "{r:?}"
        );
    }

    #[test]
    fn association_prefers_the_later_list_and_keeps_distinct_hands() {
        let a = NormRect {
            x_center: 0.3,
            y_center: 0.5,
            width: 0.2,
            height: 0.2,
            rotation: 0.0,
        };
        let b = NormRect { x_center: 0.7, ..a };
        let a2 = NormRect {
            x_center: 0.31,
            ..a
        };
        assert_eq!(associate(&[a, b], &[a2]), vec![b, a2]);
        assert_eq!(associate(&[], &[a, b]), vec![a, b]);
    }
}
