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
