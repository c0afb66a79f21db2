//! `train --finetune`: a few generated clips per label under names the base model does not know
//! are learned from `weights/demo.safetensors` with a frozen backbone to ≥ 90 % validation
//! top-1, `eval` on the saved model agrees, and the base file is never written; a partly
//! unfrozen backbone trains too; bad flags and a used run folder are clear errors.

use super::common::{run, run_ok, s, synth_three_classes};
use gesture_app::train::metrics::MetricsFiles;
use std::path::{Path, PathBuf};

/// 3 classes × 6 clips (2 of each for validation), relabelled "My Left", "My Right", "My Zoom":
/// labels the demo model does not have, two of them mirrors of each other.
fn my_clips(dir: &Path) -> PathBuf {
    let data = dir.join("my_clips");
    synth_three_classes(&data, "5");
    std::fs::write(data.join("category.txt"), "My Left\nMy Right\nMy Zoom\n").unwrap();
    data
}

/// A copy of the demo model in `dir` (the base must stay byte for byte as it was).
fn base_copy(dir: &Path) -> PathBuf {
    let base = dir.join("base").join("demo.safetensors");
    std::fs::create_dir_all(base.parent().unwrap()).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/weights/demo.safetensors"),
        &base,
    )
    .unwrap();
    base
}

fn folder_snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn frozen_backbone_learns_new_labels_and_never_touches_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let data = my_clips(dir.path());
    let base = base_copy(dir.path());
    let before = folder_snapshot(base.parent().unwrap());
    let run_dir = dir.path().join("run");
    let out = run_ok(&[
        "train",
        "--finetune",
        s(&base),
        "--freeze-backbone",
        "--root",
        s(&data),
        "--run-dir",
        s(&run_dir),
        "--no-progress",
    ]);
    let log = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        folder_snapshot(base.parent().unwrap()),
        before,
        "the base folder changed"
    );

    let history = MetricsFiles::in_dir(&run_dir).read().unwrap();
    assert_eq!(history.len(), 30, "{log}");
    let best = history
        .iter()
        .filter_map(|r| r.val_top1)
        .fold(0.0, f64::max);
    assert!(
        best >= 90.0,
        "best validation top-1 {best:.1}% < 90%\n{log}"
    );
    assert!(log.contains("new: My Left, My Right, My Zoom"), "{log}");
    assert!(log.contains("My Left <-> My Right"), "{log}");

    // The new weights: the new labels, the base's preprocessing, a provenance naming the base
    // and the clip counts.
    let best_file = run_dir.join("best.safetensors");
    let (cfg, _) = gesture_app::weights::load(&best_file).unwrap();
    assert_eq!(cfg.labels, vec!["My Left", "My Right", "My Zoom"]);
    assert_eq!(
        (cfg.input_size, cfg.num_segments, cfg.clip_fps),
        (64, 4, 12.0)
    );
    let p = &cfg.provenance;
    assert_eq!(p["source"], "gesture-app train --finetune");
    assert!(p["base"].ends_with("demo.safetensors"), "{p:?}");
    assert_eq!(
        p["clips_per_label"],
        "My Left: 4+2, My Right: 4+2, My Zoom: 4+2"
    );
    assert_eq!(
        (p["train_clips"].as_str(), p["val_clips"].as_str()),
        ("12", "6")
    );
    let recorded: f64 = p["val_top1"].parse().unwrap();
    assert!((recorded - best).abs() < 0.01, "{recorded} vs {best}");
    for f in [
        "train.log",
        "metrics.csv",
        "metrics.jsonl",
        "curves.png",
        "finetune.toml",
    ] {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }

    // `eval` runs the saved model on decoded frames (not the cache) to the same accuracy.
    let out = run_ok(&[
        "eval",
        "--weights",
        s(&best_file),
        "--root",
        s(&data),
        "--list",
        "val_videofolder.txt",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top1 = report["top1"].as_f64().unwrap();
    assert!(
        (top1 - best).abs() < 1e-6,
        "eval {top1} vs fine-tuning {best}"
    );

    // The run folder is not reused.
    let again = run(&[
        "train",
        "--finetune",
        s(&base),
        "--root",
        s(&data),
        "--run-dir",
        s(&run_dir),
    ]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds a run"), "{err}");
}

#[test]
fn last_blocks_train_on_frames_and_bad_flags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = my_clips(dir.path());
    let base = base_copy(dir.path());
    let before = folder_snapshot(base.parent().unwrap());
    let run_dir = dir.path().join("run");
    run_ok(&[
        "train",
        "--finetune",
        s(&base),
        "--train-last-blocks",
        "1",
        "--epochs",
        "1",
        "--root",
        s(&data),
        "--run-dir",
        s(&run_dir),
        "--workers",
        "1",
        "--no-progress",
    ]);
    assert_eq!(folder_snapshot(base.parent().unwrap()), before);
    let (cfg, tensors) = gesture_app::weights::load(&run_dir.join("best.safetensors")).unwrap();
    assert_eq!(cfg.num_classes, 3);
    // The last Fire module moved; the first convolution did not.
    let (_, base_t) = gesture_app::weights::load(&base).unwrap();
    let v = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(
        v(&tensors["base_model.0.weight"]),
        v(&base_t["base_model.0.weight"])
    );
    assert_ne!(
        v(&tensors["base_model.12.expand3x3.weight"]),
        v(&base_t["base_model.12.expand3x3.weight"])
    );

    let other = dir.path().join("other");
    for (args, message) in [
        (vec!["--train-last-blocks", "9"], "has 8 blocks"),
        (
            vec!["--train-last-blocks", "x"],
            "expected a number of blocks",
        ),
        (vec!["--pretrained", s(&base)], "cannot be used with it"),
        (
            vec!["--modality", "RGBDiff"],
            "--modality cannot be used with it",
        ),
    ] {
        let mut all = vec!["train", "--finetune", s(&base), "--root", s(&data)];
        all.extend(["--run-dir", s(&other)]);
        all.extend(args);
        let out = run(&all);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{err}");
    }
}
