//! The graph's stages, each on MediaPipe's own inputs, against MediaPipe's own intermediate
//! outputs (no model run here): the letterboxed palm input, the palm decoding and NMS, the hand
//! region from a palm, the landmark decoding and projection, and the tracked region from
//! landmarks. Reference data: tests/fixtures/hands/make_mediapipe_reference.py (mediapipe
//! 0.10.21 and the TFLite interpreter on right04.jpg from Debian's opencv-doc).

use super::anchors::{ssd_anchors, SsdAnchorOptions};
use super::crop::{crop_u8, pad_to_square, Border, RotatedRect};
use super::landmark::{self, RawLandmarkOutputs};
use super::palm;
use super::roi::{self, NormRect};
use safetensors::SafeTensors;
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/tests/fixtures/hands/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn f32s(t: &SafeTensors<'_>, name: &str) -> Vec<f32> {
    let v = t.tensor(name).unwrap();
    assert_eq!(v.dtype(), safetensors::Dtype::F32);
    v.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn num(v: &Value) -> f32 {
    v.as_f64().unwrap() as f32
}

fn rect(v: &Value) -> NormRect {
    NormRect {
        x_center: num(&v["x_center"]),
        y_center: num(&v["y_center"]),
        width: num(&v["width"]),
        height: num(&v["height"]),
        rotation: num(&v["rotation"]),
    }
}

/// |a − b| over the rect's fields; NaN propagates (so `<= tol` fails).
fn rect_diff(a: &NormRect, b: &NormRect) -> f32 {
    let d = [
        a.x_center - b.x_center,
        a.y_center - b.y_center,
        a.width - b.width,
        a.height - b.height,
        a.rotation - b.rotation,
    ];
    d.iter().fold(0.0f32, |m, x| {
        if m.is_nan() || x.is_nan() {
            f32::NAN
        } else {
            m.max(x.abs())
        }
    })
}

#[test]
fn letterboxed_palm_input_matches_opencv() {
    let raw = fixture("raw_right04.safetensors");
    let t = SafeTensors::deserialize(&raw).unwrap();
    let theirs = t.tensor("palm_input").unwrap().data().to_vec();
    let img = image::load_from_memory(&fixture("photos/right04.jpg"))
        .unwrap()
        .to_rgb8();
    let mut roi = RotatedRect::whole(img.width(), img.height());
    assert_eq!(pad_to_square(&mut roi), [0.0, 0.125, 0.0, 0.125]);
    let ours = crop_u8(&img, &roi, palm::INPUT_SIZE, Border::Zero);
    assert_eq!(ours.len(), theirs.len());
    // The JPEG is decoded by `image` here and by Pillow (libjpeg-turbo) in the script; their
    // IDCTs differ by a level or two in places, the sampling itself is OpenCV's.
    let diffs: Vec<i32> = ours
        .iter()
        .zip(&theirs)
        .map(|(&a, &b)| (a as i32 - b as i32).abs())
        .collect();
    let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
    let max = *diffs.iter().max().unwrap();
    eprintln!("palm input vs OpenCV: mean {mean:.4}, max {max} levels");
    assert!(mean < 0.5 && max <= 8, "mean {mean}, max {max}");
    // The letterbox bands are black.
    assert!(ours[..192 * 24 * 3].iter().all(|&v| v == 0));
}

#[test]
fn palm_decoding_nms_and_region_match_mediapipe() {
    let raw = fixture("raw_right04.safetensors");
    let t = SafeTensors::deserialize(&raw).unwrap();
    let boxes = f32s(&t, "palm_output_0");
    let scores = f32s(&t, "palm_output_1");
    let reference = json("mediapipe_reference.json");
    let expected = &reference["images"]["right04.jpg"];
    let anchors = ssd_anchors(&SsdAnchorOptions::palm());
    let decoded = palm::decode(&boxes, &scores, &anchors, 0.5);
    assert!(
        decoded.len() > 1,
        "several anchors see the palm, NMS merges them"
    );
    let kept = palm::weighted_nms(decoded, palm::NMS_IOU);
    let palms: Vec<_> = kept
        .iter()
        .map(|d| palm::remove_letterbox(d, &[0.0, 0.125, 0.0, 0.125]))
        .collect();
    let theirs = expected["palms"].as_array().unwrap();
    assert_eq!(palms.len(), theirs.len());
    for (p, e) in palms.iter().zip(theirs) {
        assert!(
            (p.score - num(&e["score"])).abs() < 1e-5,
            "score {} vs {}",
            p.score,
            e["score"]
        );
        let b = e["box"].as_array().unwrap();
        for (ours, theirs) in [p.xmin, p.ymin, p.width, p.height].iter().zip(b) {
            assert!((ours - num(theirs)).abs() < 1e-5, "box {ours} vs {theirs}");
        }
        for (k, kp) in e["keypoints"].as_array().unwrap().iter().enumerate() {
            assert!(
                (p.keypoints[k][0] - num(&kp[0])).abs() < 1e-5
                    && (p.keypoints[k][1] - num(&kp[1])).abs() < 1e-5,
                "keypoint {k}"
            );
        }
    }
    let region = roi::from_palm(&palms[0], 640, 480);
    let theirs = rect(&expected["rois_from_palms"][0]);
    assert!(
        rect_diff(&region, &theirs) < 1e-5,
        "{region:?} vs {theirs:?}"
    );
}

#[test]
fn landmark_decoding_and_projection_match_mediapipe() {
    let raw = fixture("raw_right04.safetensors");
    let t = SafeTensors::deserialize(&raw).unwrap();
    let (lm, presence, handedness, world) = (
        f32s(&t, "landmark_output_0"),
        f32s(&t, "landmark_output_1"),
        f32s(&t, "landmark_output_2"),
        f32s(&t, "landmark_output_3"),
    );
    let raw = RawLandmarkOutputs {
        landmarks: &lm,
        presence: &presence,
        handedness: &handedness,
        world: &world,
    };
    let reference = json("mediapipe_reference.json");
    let expected = &reference["images"]["right04.jpg"];
    let region = rect(&expected["regions"][0]);
    // The region is square in pixels: no letterbox inside the crop.
    let mut px = region.to_pixels(640, 480);
    let padding = pad_to_square(&mut px);
    assert!(padding.iter().all(|p| p.abs() < 1e-5), "{padding:?}");
    let hand = landmark::decode(&raw, &region, &padding, 0.5).expect("present");
    let e = &expected["hands"][0];
    assert_eq!(hand.handedness.label(), e["handedness"].as_str().unwrap());
    assert!((hand.handedness_score - num(&e["score"])).abs() < 1e-5);
    for (i, (ours, theirs)) in hand
        .landmarks
        .iter()
        .zip(e["landmarks"].as_array().unwrap())
        .enumerate()
    {
        let p = [ours[0] * 640.0, ours[1] * 480.0, ours[2] * 640.0];
        for k in 0..3 {
            // The interpreter here and MediaPipe's XNNPACK run agree to ~1e-3 px.
            assert!(
                (p[k] - num(&theirs[k])).abs() < 0.02,
                "landmark {i}.{k}: {} vs {}",
                p[k],
                theirs[k]
            );
        }
    }
    for (i, (ours, theirs)) in hand
        .world_landmarks
        .iter()
        .zip(e["world_landmarks"].as_array().unwrap())
        .enumerate()
    {
        for k in 0..3 {
            assert!(
                (ours[k] - num(&theirs[k])).abs() < 1e-4,
                "world landmark {i}.{k}: {} vs {}",
                ours[k],
                theirs[k]
            );
        }
    }
}

#[test]
fn tracked_region_from_landmarks_matches_mediapipe() {
    // Each frame's region in MediaPipe's tracking run is made from the previous frame's
    // landmarks (frame 0's from the palm).
    let reference = json("mediapipe_tracking.json");
    let frames = reference["frames"].as_array().unwrap();
    let (w, h) = (600.0f32, 440.0f32);
    for i in 1..frames.len() {
        let lm: Vec<[f32; 3]> = frames[i - 1]["hands"][0]["landmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| [num(&p[0]) / w, num(&p[1]) / h, num(&p[2]) / w])
            .collect();
        let ours = roi::from_landmarks(&lm, 600, 440);
        let theirs = rect(&frames[i]["regions"][0]);
        assert!(
            rect_diff(&ours, &theirs) < 1e-5,
            "frame {i}: {ours:?} vs {theirs:?}"
        );
    }
}
