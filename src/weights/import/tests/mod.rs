//! Tests of the checkpoint reader: the real fixtures, hand-built pickles (layouts, dtypes,
//! metadata) and hostile or broken files.

mod builder;
mod fixtures;
mod safety;
mod values;

use std::path::PathBuf;

/// `../shared/fixtures` beside the repository, or `None` (with a printed reason) when it is
/// absent and not required (`GESTURE_APP_REQUIRE_SHARED=1` turns absence into a failure).
fn fixtures_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("GESTURE_APP_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "GESTURE_APP_REQUIRE_SHARED=1 but {} is missing",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not found; checkpoint fixture tests need the shared fixtures beside the repo",
        dir.display()
    );
    None
}
