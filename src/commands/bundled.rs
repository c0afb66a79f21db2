//! The files that ship with the app (the demo weights and recording): a copy on disk where a
//! user or developer put one — next to the executable, or in the source tree when the executable
//! is a build inside it (`ROOT/target/PROFILE/gesture-app` with `ROOT/Cargo.toml`) — else the
//! copy built into the program (`gesture_app::builtin`, named `built-in:NAME`). The source tree
//! the binary was compiled in is not looked at: an installed or copied binary must not depend on
//! it, and its built-in copy is the same file.

use gesture_app::builtin;
use std::path::{Path, PathBuf};

pub use gesture_app::builtin::{DEMO_RECORDING, DEMO_WEIGHTS, HAND_WEIGHTS};

/// Where a shipped file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A file or folder on disk that overrides the built-in copy.
    Disk(PathBuf),
    /// The copy built into the program.
    BuiltIn(&'static str),
}

impl Found {
    /// A path for it: the file's, or `built-in:NAME` (which `--weights` and `info` take too).
    pub fn path(&self) -> PathBuf {
        match self {
            Found::Disk(p) => p.clone(),
            Found::BuiltIn(name) => PathBuf::from(format!("{}{name}", builtin::PREFIX)),
        }
    }
}

/// The folders a copy on disk is looked for in, for an executable at `exe`, in order.
pub fn override_dirs(exe: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(exe_dir) = exe.parent() {
        dirs.push(exe_dir.to_path_buf());
        // ROOT/target/release/gesture-app → ROOT, when ROOT is a source tree (so an installed
        // ~/.cargo/bin/gesture-app does not look in ~).
        if let Some(root) = exe_dir.parent().and_then(Path::parent) {
            if exe_dir.parent().and_then(Path::file_name) == Some(std::ffi::OsStr::new("target"))
                && root.join("Cargo.toml").is_file()
            {
                dirs.push(root.to_path_buf());
            }
        }
    }
    dirs
}

/// The copy of the shipped file or folder `name` (a repository path such as
/// [`DEMO_WEIGHTS`]) to use.
pub fn find(name: &'static str) -> Found {
    let exe = std::env::current_exe().unwrap_or_default();
    find_for(&exe, name)
}

fn find_for(exe: &Path, name: &'static str) -> Found {
    override_dirs(exe)
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .map(Found::Disk)
        .unwrap_or(Found::BuiltIn(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_copy_overrides_next_to_the_exe_or_in_its_source_tree_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let exe = root.join("target/release/gesture-app");
        std::fs::create_dir_all(root.join("target/release")).unwrap();
        std::fs::create_dir_all(root.join("weights")).unwrap();
        std::fs::write(root.join(DEMO_WEIGHTS), b"x").unwrap();
        // Not a source tree (no Cargo.toml): the built-in copy.
        assert_eq!(find_for(&exe, DEMO_WEIGHTS), Found::BuiltIn(DEMO_WEIGHTS));
        std::fs::write(root.join("Cargo.toml"), b"").unwrap();
        assert_eq!(
            find_for(&exe, DEMO_WEIGHTS),
            Found::Disk(root.join(DEMO_WEIGHTS))
        );
        // Two levels up, but not from target/PROFILE: not a build in a source tree.
        let installed = root.join("bin/x/gesture-app");
        assert_eq!(
            find_for(&installed, DEMO_WEIGHTS),
            Found::BuiltIn(DEMO_WEIGHTS)
        );
        // Next to the executable wins.
        std::fs::create_dir_all(root.join("bin/x/weights")).unwrap();
        std::fs::write(root.join("bin/x").join(DEMO_WEIGHTS), b"y").unwrap();
        assert_eq!(
            find_for(&installed, DEMO_WEIGHTS),
            Found::Disk(root.join("bin/x").join(DEMO_WEIGHTS))
        );
        assert_eq!(
            Found::BuiltIn(DEMO_WEIGHTS).path(),
            PathBuf::from("built-in:weights/demo.safetensors")
        );
    }
}
