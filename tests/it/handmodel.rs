//! The landmark model end to end through the built binary: `handsynth` writes landmark clips,
//! `train --arch hand_landmarks` learns them (loss well below ln C, accuracy well above chance)
//! in seconds, `eval` agrees with training and `info` names the arch and the hand models.

use super::common::{run, run_ok, s};
use gesture_app::train::metrics::MetricsFiles;
use std::time::Instant;

const CLASSES: &str = "No gesture,Swiping Left,Swiping Right,Thumb Up,Zooming In With Two Fingers,Rolling Hand Forward";

#[test]
fn a_landmark_model_learns_generated_hand_motion() {
    let dir = tempfile::tempdir().unwrap();
    let (data, run_dir) = (dir.path().join("data"), dir.path().join("run"));
    run_ok(&[
        "handsynth",
        s(&data),
        "--classes",
        CLASSES,
        "--clips-per-class",
        "40",
        "--seed",
        "3",
    ]);
    assert!(data.join("landmarks/1.json").is_file());
    let start = Instant::now();
    let out =
        crate::common::train_small_landmark_model(&data, &run_dir, "12", &["--lr-steps", "100"]);
    let log = String::from_utf8_lossy(&out.stdout);
    eprintln!("{log}\ntrained in {:.1} s", start.elapsed().as_secs_f64());
    let history = MetricsFiles::in_dir(&run_dir).read().unwrap();
    let last = history.last().unwrap();
    let chance = 100.0 / 6.0;
    let ln_c = (6f64).ln();
    assert!(
        last.train_loss < 0.5 * ln_c,
        "train loss {} not well below ln 6 = {ln_c:.2}\n{log}",
        last.train_loss
    );
    let best = history
        .iter()
        .filter_map(|r| r.val_top1)
        .fold(0.0, f64::max);
    assert!(
        best > 3.0 * chance,
        "val top-1 {best:.1}% vs chance {chance:.1}%\n{log}"
    );

    // The weights name the hand models by sha256; eval and info take the model.
    let weights = run_dir.join("best.safetensors");
    let (cfg, _) = gesture_app::weights::load(&weights).unwrap();
    assert_eq!(cfg.arch.name(), "hand_landmarks");
    assert!(cfg
        .hand_models
        .iter()
        .any(|m| m.sha256 == "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"));
    let out = run_ok(&[
        "eval",
        "--weights",
        s(&weights),
        "--root",
        s(&data),
        "--list",
        "val_videofolder.txt",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top1 = report["top1"].as_f64().unwrap();
    assert!(
        (top1 - best).abs() <= 100.0 / 48.0 + 1e-9,
        "eval {top1} vs training {best}"
    );
    let out = run_ok(&["info", s(&weights)]);
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(info.contains("hand_landmarks"), "{info}");
}

#[test]
fn a_broken_landmark_clip_is_skipped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(&[
        "handsynth",
        s(&data),
        "--classes",
        "Swiping Left,Swiping Right",
        "--clips-per-class",
        "5",
    ]);
    std::fs::write(
        data.join("landmarks/1.json"),
        "{\"width\": 4, \"frames\": [",
    )
    .unwrap();
    let out = run(&[
        "train",
        "--root",
        s(&data),
        "--run-dir",
        s(&dir.path().join("run")),
        "--arch",
        "hand_landmarks",
        "--consensus",
        "avg",
        "--segments",
        "4",
        "--epochs",
        "1",
        "--no-progress",
    ]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("1.json"), "{all}");
}
