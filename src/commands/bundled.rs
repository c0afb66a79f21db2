//! Finding the files that ship with the app (the demo weights and clips): next to the
//! executable (an installed copy), above it (a `target/{debug,release}` build inside the
//! source tree), and in the source tree this binary was built from.

use std::path::{Path, PathBuf};

/// The bundled demo model.
pub const DEMO_WEIGHTS: &str = "weights/demo.safetensors";
/// The bundled demo clips (a folder of clip folders).
pub const DEMO_CLIPS: &str = "assets/demo_clips";

/// The places `relative` is looked for, in order.
pub fn candidates(relative: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.clone());
        // target/release/gesture-app → the repository root two levels up.
        if let Some(root) = exe_dir.parent().and_then(Path::parent) {
            dirs.push(root.to_path_buf());
        }
    }
    dirs.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let mut out: Vec<PathBuf> = dirs.into_iter().map(|d| d.join(relative)).collect();
    out.dedup();
    out
}

/// The first existing candidate for `relative`, or an error listing every place looked at.
pub fn find(relative: &str) -> anyhow::Result<PathBuf> {
    let cands = candidates(relative);
    cands.iter().find(|p| p.exists()).cloned().ok_or_else(|| {
        anyhow::anyhow!(
            "bundled file {relative} not found (looked at {})",
            cands
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_in_the_source_tree_and_names_every_place() {
        assert!(find("Cargo.toml").is_ok());
        let err = find("no/such/file.bin").unwrap_err();
        assert!(
            err.to_string().contains(env!("CARGO_MANIFEST_DIR")),
            "{err}"
        );
    }
}
