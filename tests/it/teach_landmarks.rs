//! Teaching a landmark model gestures it does not know: a small base trained on a few of
//! Jester's gestures from the first hand generator (`handsynth`) is fine-tuned with a frozen
//! backbone (`train --finetune BASE --freeze-backbone`) on 5 clips each of 4 gestures outside
//! Jester's 27 from the second generator (`handcheck`), and must name held-out clips of them
//! (another seed) well above chance; `bench-teach` runs the same check and reports it. On a data
//! set of frame folders (what the Teach panel records) the feature cache runs the hand tracker
//! over each clip's frames: its rows are what the tracker and the backbone give frame by frame.

use super::common::{run_ok, s};
use super::hand_live::{hand_footage, landmark_weights};
use candle_core::{Device, Tensor};
use gesture_app::hands::shipped::{pack_hand, tracker_for};
use gesture_app::hands::tracker::HandOptions;
use gesture_app::model::backbone::hand_landmarks::{INPUT_LEN, INPUT_ROWS};
use gesture_app::train::data::DataSpec;
use gesture_app::train::finetune::features::FeatureCache;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

const BASE_CLASSES: &str =
    "No gesture,Swiping Left,Swiping Right,Thumb Up,Zooming In With Two Fingers,Shaking Hand";
const NEW: &str = "Drawing a Circle,Double Pinch,Beckoning,OK Sign";

/// A small landmark base: 6 of Jester's gestures, 20 generated clips each, a few epochs.
fn small_base(dir: &Path) -> PathBuf {
    let (data, run_dir) = (dir.join("base_data"), dir.join("base_run"));
    run_ok(&[
        "handsynth",
        s(&data),
        "--classes",
        BASE_CLASSES,
        "--clips-per-class",
        "20",
        "--seed",
        "4",
    ]);
    crate::common::train_small_landmark_model(&data, &run_dir, "6", &[]);
    run_dir.join("best.safetensors")
}

#[test]
fn a_landmark_model_learns_new_gestures_from_five_clips_each() {
    let dir = tempfile::tempdir().unwrap();
    let base = small_base(dir.path());
    // 6 clips a gesture: the 5th to validation, 5 to learn from; 10 a gesture held out.
    let (teach, held) = (dir.path().join("teach"), dir.path().join("held"));
    for (out, k, seed) in [(&teach, "6", "21"), (&held, "10", "22")] {
        run_ok(&[
            "handcheck",
            s(out),
            "--classes",
            NEW,
            "--clips-per-class",
            k,
            "--seed",
            seed,
        ]);
    }
    let run_dir = dir.path().join("taught");
    let out = run_ok(&[
        "train",
        "--finetune",
        s(&base),
        "--freeze-backbone",
        "--root",
        s(&teach),
        "--run-dir",
        s(&run_dir),
        "--epochs",
        "60",
        "--no-progress",
    ]);
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("features: 24 clips cached"), "{log}");
    assert!(!log.contains("skipped clip"), "{log}");
    // 32 held-out clips, drawn with another seed.
    let out = run_ok(&[
        "eval",
        "--weights",
        s(&run_dir.join("best.safetensors")),
        "--root",
        s(&held),
        "--list",
        "train_videofolder.txt",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let top1 = v["top1"].as_f64().unwrap();
    assert!(
        top1 >= 60.0,
        "held-out top-1 {top1:.1}% (chance 25%)\n{v}\n{log}"
    );

    // The benchmark: the same check, one JSON report.
    let out = run_ok(&[
        "bench-teach",
        "--base",
        s(&base),
        "--test-clips",
        "24",
        "--epochs",
        "40",
        "--json",
    ]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["train_clips"], 20, "{r}");
    assert_eq!(r["test_clips"], 24, "{r}");
    let per_class = r["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 4, "{r}");
    assert!(per_class.iter().all(|c| c["clips"] == 6), "{r}");
    let top1 = r["top1"].as_f64().unwrap();
    assert!(top1 >= 60.0, "bench-teach top-1 {top1:.1}%\n{r}");
    assert!(r["train_s"].as_f64().unwrap() > 0.0, "{r}");
}

#[test]
fn bench_teach_refuses_a_pixel_model_naming_the_file() {
    let out = super::common::run(&[
        "bench-teach",
        "--base",
        concat!(env!("CARGO_MANIFEST_DIR"), "/weights/demo.safetensors"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("demo.safetensors") && err.contains("landmark model"),
        "{err}"
    );
}

/// Clip folders of a real photograph with a hand (the hand tracker's reference footage) under
/// two labels, in Jester's layout with the frames in `rgb/`.
fn frame_folder_set(dir: &Path) -> PathBuf {
    let root = dir.join("frames_set");
    let rgb = root.join("rgb");
    std::fs::create_dir_all(&rgb).unwrap();
    let footage = hand_footage(dir, 6);
    for id in ["c1", "c2"] {
        let to = rgb.join(id);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&footage).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(root.join("category.txt"), "Wave\nPoint\n").unwrap();
    std::fs::write(root.join("train_videofolder.txt"), "c1 6 0\nc2 6 1\n").unwrap();
    std::fs::write(root.join("val_videofolder.txt"), "c2 6 1\n").unwrap();
    root
}

#[test]
fn frame_folders_are_tracked_for_a_landmark_model() {
    let dir = tempfile::tempdir().unwrap();
    let root = frame_folder_set(dir.path());
    let weights = landmark_weights(dir.path());
    let model = gesture_app::weights::load_model(&weights, &Device::Cpu).unwrap();
    let ds = DataSpec::new(&root)
        .open(Path::new("train_videofolder.txt"))
        .unwrap();
    let cache = FeatureCache::compute(
        &model,
        &ds,
        &|label| label == 0,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert!(cache.skipped.is_empty(), "{:?}", cache.skipped);
    assert_eq!(cache.clips.len(), 2);
    assert_eq!(cache.clips[0].frames, 6);
    assert!(cache.clips[0].flipped.is_some() && cache.clips[1].flipped.is_none());

    // The rows are the tracker's hands (one tracked, frame after frame) through the backbone.
    let options = HandOptions {
        max_hands: 1,
        ..HandOptions::video()
    };
    let mut tracker = tracker_for(&model.config().hand_models, options).unwrap();
    let mut packed = vec![0f32; 6 * INPUT_LEN];
    let mut found = 0;
    for (i, row) in packed.chunks_mut(INPUT_LEN).enumerate() {
        let img = image::open(ds.frame_path(&ds.list.entries[0], i))
            .unwrap()
            .to_rgb8();
        let hands = tracker.process(&img).unwrap();
        found += usize::from(!hands.is_empty());
        pack_hand(hands.first(), img.width(), img.height(), row);
    }
    assert_eq!(found, 6, "the tracker lost the hand");
    let x = Tensor::from_vec(packed, (6, INPUT_ROWS, 3), &Device::Cpu).unwrap();
    let want: Vec<f32> = model
        .backbone_features(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let got = &cache.clips[0].plain;
    assert_eq!(got.len(), want.len());
    let diff = super::common::max_abs_diff(got, &want);
    assert!(diff < 1e-5, "{diff}");
    assert!(got.iter().any(|&v| v != 0.0), "no hand features");
    assert_ne!(cache.clips[0].flipped.as_ref().unwrap(), got);

    // The whole fine-tuning runs on it from the command line.
    let run_dir = dir.path().join("run");
    let out = run_ok(&[
        "train",
        "--finetune",
        s(&weights),
        "--freeze-backbone",
        "--root",
        s(&root),
        "--run-dir",
        s(&run_dir),
        "--epochs",
        "2",
        "--no-progress",
    ]);
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("features: 3 clips cached"), "{log}");
    assert!(run_dir.join("best.safetensors").is_file(), "{log}");
    // Training the backbone too would read landmark files these clips do not have: refused.
    let out = super::common::run(&[
        "train",
        "--finetune",
        s(&weights),
        "--train-last-blocks",
        "all",
        "--root",
        s(&root),
        "--run-dir",
        s(&dir.path().join("run2")),
        "--no-progress",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("frames_set") && err.contains("--freeze-backbone"),
        "{err}"
    );
}
