//! Helpers shared by the integration tests: where `../shared` is, and skipping when it is absent.

#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared` beside the repository, or `None` (with a printed reason) when it is absent and not
/// required. `GESTURE_APP_REQUIRE_SHARED=1` (set by `.ci/run`) turns absence into a failure.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if dir.join("fixtures").is_dir() {
        return Some(dir);
    }
    if std::env::var("GESTURE_APP_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "GESTURE_APP_REQUIRE_SHARED=1 but {} has no fixtures/: the reference data is required",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not found; reference-data tests need the shared fixtures beside the repo",
        dir.display()
    );
    None
}

/// The fixture cases: (name, arch, consensus, segments).
pub const CASES: [&str; 6] = [
    "squeezenet1_1_MLP_8seg",
    "squeezenet1_1_TRNmultiscale_3seg",
    "squeezenet1_1_LSTM_8seg",
    "squeezenet1_1_BLSTM_8seg",
    "squeezenet1_1_FCN2D_8seg",
    "BNInception_MLP_8seg",
];

/// The fixture's expected JSON.
pub fn expected(shared: &std::path::Path, case: &str) -> serde_json::Value {
    let path = shared
        .join("fixtures")
        .join(format!("{case}_expected.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers as f32.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// The real Jester label list in `shared/data/jester/category.txt`, one label per line.
pub fn jester_labels(shared: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(shared.join("data/jester/category.txt"))
        .expect("shared/data/jester/category.txt")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The largest |a[i] − b[i]|, NaN when any value on either side is NaN (so a `d <= tol` check
/// fails), infinite when an infinity differs. `f32::max` alone would skip a NaN and let it pass.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared slices differ in length");
    a.iter().zip(b).fold(0.0, |m, (x, y)| {
        let d = (x - y).abs();
        if m.is_nan() || d.is_nan() {
            f32::NAN
        } else {
            m.max(d)
        }
    })
}

/// The largest |v|, NaN when any value is NaN.
pub fn max_abs(v: &[f32]) -> f32 {
    max_abs_diff(v, &vec![0.0; v.len()])
}

#[test]
fn max_abs_diff_fails_on_nan() {
    let good = [1.0, -2.0, 3.0];
    assert_eq!(max_abs_diff(&good, &[1.0, -2.5, 3.0]), 0.5);
    assert_eq!(max_abs(&good), 3.0);
    for i in 0..3 {
        let mut bad = good;
        bad[i] = f32::NAN;
        // A NaN anywhere, on either side, makes every tolerance check fail.
        assert!(max_abs_diff(&bad, &good).is_nan(), "NaN at {i}");
        assert!(max_abs_diff(&good, &bad).is_nan(), "NaN at {i}");
        let within_tolerance = |d: f32| d <= 1e-4;
        assert!(!within_tolerance(max_abs_diff(&good, &bad)));
        assert!(max_abs(&bad).is_nan());
    }
    let mut inf = good;
    inf[1] = f32::INFINITY;
    assert_eq!(max_abs_diff(&inf, &good), f32::INFINITY);
    // Two equal infinities are no difference of a finite size: inf − inf is NaN, and fails.
    assert!(max_abs_diff(&inf, &inf).is_nan());
}

/// Runs the crate's binary with `args` and returns what it did.
pub fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gesture-app"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// [`run`], failing the test (with both output streams) unless it succeeded.
pub fn run_ok(args: &[&str]) -> std::process::Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "gesture-app {} failed: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// [`run`], failing the test unless the binary failed and its error output holds `needle`;
/// returns the error output.
pub fn run_err(args: &[&str], needle: &str) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success() && err.contains(needle),
        "gesture-app {}: expected a failure saying '{needle}', got: {err}",
        args.join(" ")
    );
    err
}

/// A temporary path as a command-line argument.
pub fn s(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `gesture-app synth` into `data`: Swiping Left, Swiping Right and Zooming In With Full Hand,
/// 6 clips each (every third for validation) at 64 px, 16 frames, from `seed`.
pub fn synth_three_classes(data: &std::path::Path, seed: &str) {
    run_ok(&[
        "synth",
        s(data),
        "--classes",
        "Swiping Left,Swiping Right,Zooming In With Full Hand",
        "--clips-per-class",
        "6",
        "--val-every",
        "3",
        "--size",
        "64",
        "--frames",
        "16",
        "--seed",
        seed,
    ]);
}

/// A JSON list of `[x, y, z]` points (landmarks) as floats.
pub fn points(v: &serde_json::Value) -> Vec<[f32; 3]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p.as_array().unwrap();
            [0, 1, 2].map(|k| p[k].as_f64().unwrap() as f32)
        })
        .collect()
}

/// `train` of a small landmark model on `data` into `run_dir`: hand_landmarks + MLP over 8
/// segments, Adam at 3e-3 without weight decay, batches of 16, seed 1, for `epochs`, plus
/// `extra` flags.
pub fn train_small_landmark_model(
    data: &std::path::Path,
    run_dir: &std::path::Path,
    epochs: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "train",
        "--root",
        s(data),
        "--run-dir",
        s(run_dir),
        "--arch",
        "hand_landmarks",
        "--consensus",
        "MLP",
        "--segments",
        "8",
        "--optimizer",
        "adam",
        "--lr",
        "0.003",
        "--weight-decay",
        "0",
        "--batch-size",
        "16",
        "--epochs",
        epochs,
        "--seed",
        "1",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    run_ok(&args)
}
