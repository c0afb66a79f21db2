//! `gesture-app compare`: a tiny fast-mode sweep (2 heads on the demo model's frozen backbone,
//! 3 epochs, generated clips) writes one row per head whose top-1 is what `eval` says for that
//! run's best weights; after a kill (a state file holding only the first row, the second run's
//! folder left behind) the same command keeps the finished row and trains the other; bad grid
//! entries are refused before anything trains, in one line naming the entry.

use super::common::{run, run_ok, s, synth_three_classes};
use std::path::{Path, PathBuf};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/demo.safetensors");

/// 3 classes × 6 clips (2 of each for validation) at 64 px, 16 frames.
fn clips(dir: &Path) -> PathBuf {
    let data = dir.join("clips");
    synth_three_classes(&data, "7");
    data
}

fn sweep(data: &Path, out: &Path) -> std::process::Output {
    run_ok(&[
        "compare",
        "--mode",
        "fast",
        "--backbones",
        DEMO,
        "--heads",
        "MLP,LSTM",
        "--root",
        s(data),
        "--out",
        s(out),
        "--epochs",
        "3",
        "--bench-iters",
        "2",
        "--workers",
        "1",
        "--no-progress",
    ])
}

fn read_rows(out: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("compare.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["rows"].as_array().unwrap().clone()
}

#[test]
fn a_tiny_sweep_matches_eval_and_resumes_without_redoing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = clips(dir.path());
    let out = dir.path().join("sweep");
    let log = sweep(&data, &out);
    let stdout = String::from_utf8_lossy(&log.stdout).to_string();

    let rows = read_rows(&out);
    let heads: Vec<&str> = rows.iter().map(|r| r["head"].as_str().unwrap()).collect();
    assert_eq!(heads, ["MLP", "LSTM"], "{stdout}");
    for r in &rows {
        assert_eq!(r["segments"], 4, "the demo model's own N");
        assert_eq!(r["val_clips"], 6);
        assert_eq!(r["epochs"], 3);
        for k in ["head_params", "model_params", "head_macs", "model_macs"] {
            assert!(r[k].as_u64().unwrap() > 0, "{k}: {r}");
        }
        assert!(r["model_params"].as_u64() > r["head_params"].as_u64());
        assert!(r["cpu_ms"].as_f64().unwrap() > 0.0);
        // The row's top-1 is `eval`'s for the run's best weights.
        let weights = r["weights"].as_str().unwrap();
        let ev = run_ok(&[
            "eval",
            "--weights",
            weights,
            "--root",
            s(&data),
            "--list",
            "val_videofolder.txt",
            "--json",
        ]);
        let ev: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
        for (row_key, eval_key) in [("top1", "top1"), ("top5", "top5")] {
            let (a, b) = (r[row_key].as_f64().unwrap(), ev[eval_key].as_f64().unwrap());
            assert!((a - b).abs() < 1e-9, "{row_key}: table {a} vs eval {b}");
        }
    }
    // LSTM's 4 steps of a 256-wide cell cost more than... its parameters differ from MLP's.
    assert_ne!(rows[0]["head_params"], rows[1]["head_params"]);
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines.len(), 4, "{md}");
    assert!(lines[2].starts_with("| MLP | demo | 4 |"), "{md}");
    assert!(lines[3].starts_with("| LSTM | demo | 4 |"), "{md}");
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(std::fs::metadata(out.join("compare.png")).unwrap().len() > 1000);
    for r in ["runs/demo_MLP_4seg", "runs/demo_LSTM_4seg"] {
        for f in ["best.safetensors", "metrics.csv", "train.log", "curves.png"] {
            assert!(out.join(r).join(f).exists(), "{r}/{f} missing");
        }
    }

    // A kill during the second configuration: the state holds the first row only, and the
    // second run's folder is left half-written.
    let state_path = out.join("compare_state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["rows"].as_array_mut().unwrap().truncate(1);
    std::fs::write(&state_path, serde_json::to_string(&state).unwrap()).unwrap();
    let mlp_best = out.join("runs/demo_MLP_4seg/best.safetensors");
    let mlp_before = std::fs::read(&mlp_best).unwrap();
    let mlp_mtime = std::fs::metadata(&mlp_best).unwrap().modified().unwrap();
    std::fs::remove_file(out.join("runs/demo_LSTM_4seg/curves.png")).unwrap();

    let again = sweep(&data, &out);
    let stdout = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(stdout.contains("resuming: 1 of 2"), "{stdout}");
    assert!(
        stdout.contains("demo_MLP_4seg: done before, kept"),
        "{stdout}"
    );
    assert!(stdout.contains("1 trained, 1 kept"), "{stdout}");
    assert_eq!(std::fs::read(&mlp_best).unwrap(), mlp_before);
    assert_eq!(
        std::fs::metadata(&mlp_best).unwrap().modified().unwrap(),
        mlp_mtime,
        "the finished run was written again"
    );
    assert!(out.join("runs/demo_LSTM_4seg/curves.png").exists());
    let resumed = read_rows(&out);
    assert_eq!(resumed.len(), 2);
    assert_eq!(resumed[0], rows[0], "the kept row changed");
    // Same seed, same features: the retrained LSTM reaches the same accuracy.
    assert_eq!(resumed[1]["top1"], rows[1]["top1"]);
}

#[test]
fn bad_grid_entries_are_refused_before_anything_trains() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let missing = dir.path().join("missing.safetensors");
    // No data set is needed: the grid is refused first.
    let root = dir.path().join("no-data");
    for (backbones, heads, segments, expect) in [
        (DEMO, "MLP,FOO", "4", "× FOO × 4: unknown consensus 'FOO'"),
        (
            DEMO,
            "TRNmultiscale",
            "1",
            "× TRNmultiscale × 1: TRNmultiscale needs N >= 2",
        ),
        (s(&missing), "MLP", "4", "missing.safetensors not found"),
        ("squeezenet1_1", "MLP", "4", "name a weights file"),
    ] {
        let o = run(&[
            "compare",
            "--backbones",
            backbones,
            "--heads",
            heads,
            "--segments",
            segments,
            "--root",
            s(&root),
            "--out",
            s(&out),
        ]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(expect), "expected '{expect}' in: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "something was written before the refusal");
    }
}
