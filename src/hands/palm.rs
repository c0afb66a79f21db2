//! Palm detections from the palm model's raw outputs, as the nodes of
//! `mediapipe/modules/palm_detection/palm_detection_cpu.pbtxt` compute them:
//! `TensorsToDetectionsCalculator` (anchor decoding, sigmoid scores clipped at ±100, score
//! threshold), `NonMaxSuppressionCalculator` (weighted, IoU 0.3) and
//! `DetectionLetterboxRemovalCalculator`. The letterboxed input itself is [`crate::hands::crop`]
//! with the whole image and `BORDER_ZERO`.

use super::anchors::Anchor;
use super::crop::Padding;

/// Values per anchor in the box tensor: box (4) then 7 keypoints × (x, y) (`num_coords` 18).
pub const NUM_COORDS: usize = 18;
/// Palm keypoints: 0 the wrist centre, 2 the middle finger's MCP (the two the hand region uses).
pub const NUM_KEYPOINTS: usize = 7;
/// The model's input side; the box and keypoint offsets are in its pixels (`x_scale` … 192).
pub const INPUT_SIZE: usize = 192;
/// `score_clipping_thresh`.
const SCORE_CLIP: f32 = 100.0;
/// `min_suppression_threshold` (`overlap_type: INTERSECTION_OVER_UNION`, `algorithm: WEIGHTED`).
pub const NMS_IOU: f32 = 0.3;

/// A detected palm, normalised to the image (or, before [`remove_letterbox`], to the model's
/// letterboxed input).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PalmDetection {
    pub score: f32,
    pub xmin: f32,
    pub ymin: f32,
    pub width: f32,
    pub height: f32,
    /// (x, y) of the 7 palm keypoints.
    pub keypoints: [[f32; 2]; NUM_KEYPOINTS],
}

/// Decodes every anchor's box (`reverse_output_order`: x, y, w, h) and keypoints and keeps
/// those whose sigmoid score reaches `min_score` (`min_score_thresh`; MediaPipe drops a score
/// below it). `raw_boxes` is `[anchors, 18]`, `raw_scores` `[anchors]` logits.
pub fn decode(
    raw_boxes: &[f32],
    raw_scores: &[f32],
    anchors: &[Anchor],
    min_score: f32,
) -> Vec<PalmDetection> {
    let scale = INPUT_SIZE as f32;
    let n = anchors
        .len()
        .min(raw_scores.len())
        .min(raw_boxes.len() / NUM_COORDS);
    let mut out = Vec::new();
    for i in 0..n {
        let logit = raw_scores[i].clamp(-SCORE_CLIP, SCORE_CLIP);
        let score = 1.0 / (1.0 + (-logit).exp());
        if score.is_nan() || score < min_score {
            continue;
        }
        let a = &anchors[i];
        let r = &raw_boxes[i * NUM_COORDS..(i + 1) * NUM_COORDS];
        let xc = r[0] / scale * a.w + a.x_center;
        let yc = r[1] / scale * a.h + a.y_center;
        let w = r[2] / scale * a.w;
        let h = r[3] / scale * a.h;
        let (xmin, ymin, xmax, ymax) = (xc - w / 2.0, yc - h / 2.0, xc + w / 2.0, yc + h / 2.0);
        let (width, height) = (xmax - xmin, ymax - ymin);
        // b/171391719 in MediaPipe: negative or NaN sizes are dropped.
        if !(width >= 0.0 && height >= 0.0) {
            continue;
        }
        let mut keypoints = [[0.0; 2]; NUM_KEYPOINTS];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            let o = 4 + 2 * k;
            *kp = [
                r[o] / scale * a.w + a.x_center,
                r[o + 1] / scale * a.h + a.y_center,
            ];
        }
        out.push(PalmDetection {
            score,
            xmin,
            ymin,
            width,
            height,
            keypoints,
        });
    }
    out
}

fn iou(a: &PalmDetection, b: &PalmDetection) -> f32 {
    let ix = (a.xmin + a.width).min(b.xmin + b.width) - a.xmin.max(b.xmin);
    let iy = (a.ymin + a.height).min(b.ymin + b.height) - a.ymin.max(b.ymin);
    // Rectangle_f::Intersects counts touching edges as intersecting (area 0 then).
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

/// MediaPipe's weighted non-maximum suppression: the best remaining detection and every one
/// overlapping it by more than `iou_threshold` are averaged, weighted by score (box corners and
/// keypoints); the result keeps the best one's score. In descending order of score.
pub fn weighted_nms(mut dets: Vec<PalmDetection>, iou_threshold: f32) -> Vec<PalmDetection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut remaining = dets;
    let mut out = Vec::new();
    while let Some(top) = remaining.first().copied() {
        let (candidates, rest): (Vec<_>, Vec<_>) = remaining
            .into_iter()
            .partition(|d| iou(d, &top) > iou_threshold);
        let mut merged = top;
        if !candidates.is_empty() {
            let (mut x0, mut y0, mut x1, mut y1, mut total) =
                (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
            let mut kps = [[0.0f32; 2]; NUM_KEYPOINTS];
            for c in &candidates {
                total += c.score;
                x0 += c.xmin * c.score;
                y0 += c.ymin * c.score;
                x1 += (c.xmin + c.width) * c.score;
                y1 += (c.ymin + c.height) * c.score;
                for (k, kp) in kps.iter_mut().enumerate() {
                    kp[0] += c.keypoints[k][0] * c.score;
                    kp[1] += c.keypoints[k][1] * c.score;
                }
            }
            merged.xmin = x0 / total;
            merged.ymin = y0 / total;
            merged.width = x1 / total - merged.xmin;
            merged.height = y1 / total - merged.ymin;
            for (k, kp) in kps.iter().enumerate() {
                merged.keypoints[k] = [kp[0] / total, kp[1] / total];
            }
        }
        out.push(merged);
        // A detection that overlaps nothing, not even itself (zero area), ends the loop as in
        // MediaPipe (the list would not shrink).
        if candidates.is_empty() {
            break;
        }
        remaining = rest;
    }
    out
}

/// From the letterboxed input's coordinates back to the image's (`padding` as
/// [`crate::hands::crop::pad_to_square`] returned it).
pub fn remove_letterbox(d: &PalmDetection, padding: &Padding) -> PalmDetection {
    let [left, top, right, bottom] = *padding;
    let (lr, tb) = (left + right, top + bottom);
    let mut out = *d;
    out.xmin = (d.xmin - left) / (1.0 - lr);
    out.ymin = (d.ymin - top) / (1.0 - tb);
    out.width = d.width / (1.0 - lr);
    out.height = d.height / (1.0 - tb);
    for (k, kp) in out.keypoints.iter_mut().enumerate() {
        *kp = [
            (d.keypoints[k][0] - left) / (1.0 - lr),
            (d.keypoints[k][1] - top) / (1.0 - tb),
        ];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(score: f32, xmin: f32, ymin: f32, size: f32) -> PalmDetection {
        PalmDetection {
            score,
            xmin,
            ymin,
            width: size,
            height: size,
            keypoints: [[xmin, ymin]; NUM_KEYPOINTS],
        }
    }

    #[test]
    fn weighted_nms_averages_overlapping_boxes_by_score() {
        let out = weighted_nms(
            vec![
                det(0.6, 0.1, 0.1, 0.2),
                det(0.9, 0.12, 0.1, 0.2),
                det(0.7, 0.6, 0.6, 0.1),
            ],
            NMS_IOU,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        let x = (0.12 * 0.9 + 0.1 * 0.6) / 1.5;
        assert!((out[0].xmin - x).abs() < 1e-6, "{}", out[0].xmin);
        assert!((out[0].keypoints[3][0] - x).abs() < 1e-6);
        // Alone, a detection is averaged with itself: itself again (to rounding).
        let (a, b) = (out[1], det(0.7, 0.6, 0.6, 0.1));
        assert_eq!(a.score, b.score);
        for (x, y) in [
            (a.xmin, b.xmin),
            (a.ymin, b.ymin),
            (a.width, b.width),
            (a.keypoints[6][1], b.keypoints[6][1]),
        ] {
            assert!((x - y).abs() < 1e-6, "{a:?}");
        }
    }

    #[test]
    fn decode_applies_anchor_scale_and_threshold() {
        let anchors = [Anchor {
            x_center: 0.5,
            y_center: 0.25,
            w: 1.0,
            h: 1.0,
        }; 2];
        let mut boxes = vec![0.0f32; 2 * NUM_COORDS];
        boxes[0] = 19.2; // x offset 0.1
        boxes[2] = 38.4; // width 0.2
        boxes[3] = 19.2; // height 0.1
        boxes[4] = -9.6; // keypoint 0 x −0.05
        let d = decode(&boxes, &[2.0, -2.0], &anchors, 0.5);
        assert_eq!(d.len(), 1);
        assert!((d[0].score - 0.880797).abs() < 1e-5);
        assert!((d[0].xmin - 0.5).abs() < 1e-6 && (d[0].ymin - 0.2).abs() < 1e-6);
        assert!((d[0].keypoints[0][0] - 0.45).abs() < 1e-6);
        assert!(
            decode(&boxes, &[f32::NAN, 0.0], &anchors, 0.5).len() == 1,
            "NaN dropped, 0.5 kept"
        );
    }

    #[test]
    fn letterbox_removal_inverts_the_padding() {
        let d = det(0.9, 0.25, 0.5, 0.25);
        let out = remove_letterbox(&d, &[0.0, 0.125, 0.0, 0.125]);
        assert_eq!(out.xmin, 0.25);
        assert!((out.ymin - 0.5).abs() < 1e-6 && (out.height - 1.0 / 3.0).abs() < 1e-6);
    }
}
