//! Files built into the program: the demo model and the demo recording (and, as they land, the
//! hand models), embedded when the program is compiled, so that a binary copied anywhere — `cargo
//! install`, a download, a copy handed to someone — runs its defaults without the source tree.
//!
//! Each is named by its path in the repository; where the app takes a path, [`PREFIX`] + that name
//! (`built-in:weights/demo.safetensors`) stands for it, so `--weights`, `--source`, `info` and the
//! window's fields take built-in files like any other, and the weights go through the same loading
//! and checks as a file's (`weights::load_file`). A file on disk next to the executable overrides
//! a built-in one (the binary's `commands/bundled.rs` decides).
//!
//! Adding a file is one line in [`FILES`]: its repository path, size in bytes and sha256 (a
//! third-party file with a comment naming its licence, source package and version). The size is
//! checked when the program is compiled (a Git LFS pointer or a truncated copy stops the build),
//! the sha256 by this module's test. Code that loads such a file takes its bytes from [`file()`], or
//! accepts a path and looks it up with [`file_at`] first, as `weights::load_file` does.
//!
//! The demo recording (a folder of clip folders of JPEG frames) is played from memory by the
//! frame-folder source (`capture::folder`), not unpacked to a cache folder first: nothing is
//! written, so it works where HOME is read-only or absent, with two instances starting at once,
//! and never meets a half-unpacked or stale copy left by another version or a killed process;
//! an unpacked copy would need an atomic unpack (temp folder + rename), a rule for who wins a
//! race, a place when the cache is not writable and a way to tell a damaged copy, all to save
//! nothing (the bytes are in the binary either way). The folder is embedded with the
//! `include_dir` crate (a proc macro over `include_bytes!`, so an edited frame rebuilds; a
//! *new* file needs a touch of this module on stable Rust), whose only dependencies,
//! proc-macro2 and quote, are already built for serde and thiserror.

use include_dir::{include_dir, Dir};
use std::path::Path;

/// What stands before a built-in file's name where a path is expected.
pub const PREFIX: &str = "built-in:";

/// The demo model.
pub const DEMO_WEIGHTS: &str = "weights/demo.safetensors";
/// The demo recording (a folder of clip folders).
pub const DEMO_RECORDING: &str = "assets/demo_clips";
/// The landmark gesture model: Jester's 27 gestures from the hand tracker's landmarks, the
/// default with a camera.
pub const HAND_WEIGHTS: &str = "weights/jester_hands.safetensors";

/// One built-in file.
#[derive(Debug)]
pub struct BuiltInFile {
    /// Its path in the repository, e.g. `weights/demo.safetensors`.
    pub name: &'static str,
    pub bytes: &'static [u8],
    /// Hex sha256 of `bytes` (checked by the test below).
    pub sha256: &'static str,
}

impl BuiltInFile {
    /// A table entry; fails the build when the embedded file does not have `size` bytes.
    const fn new(
        name: &'static str,
        bytes: &'static [u8],
        size: usize,
        sha256: &'static str,
    ) -> Self {
        assert!(
            bytes.len() == size,
            "a built-in file does not have the size its table line says (a Git LFS pointer?)"
        );
        BuiltInFile {
            name,
            bytes,
            sha256,
        }
    }

    /// `built-in:NAME`, the path-like name that stands for it.
    pub fn path(&self) -> String {
        format!("{PREFIX}{}", self.name)
    }
}

/// A table line: the file at `$path` in the repository, its size and sha256.
macro_rules! built_in {
    ($path:literal, $size:expr, $sha256:literal) => {
        BuiltInFile::new(
            $path,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)),
            $size,
            $sha256,
        )
    };
}

/// The built-in files. One line each.
pub static FILES: &[BuiltInFile] = &[
    // trained by training/demo.toml (its header has the commands)
    built_in!(
        "weights/demo.safetensors",
        5_560_356,
        "b15ef677b06eb867bd6ad91605b5f11568e6b2d6f37b7eb144405e1c536d9bcf"
    ),
    // two networks trained by training/jester_hands.toml (seeds 1 and 2) joined by `ensemble`
    // (the recipe's header has the commands), matrices stored as 8-bit codes
    built_in!(
        "weights/jester_hands.safetensors",
        2_230_300,
        "ba3bdafe87de0c0932df8696c412af4be9ad5f784299c1b684c6bbe9dbe9fe5c"
    ),
    // MediaPipe's palm detector and hand landmarker, Apache-2.0, from the mediapipe 0.10.21
    // wheel (weights/hands/LICENSE and PROVENANCE)
    built_in!(
        "weights/hands/palm_detection_full.tflite",
        2_339_846,
        "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54"
    ),
    built_in!(
        "weights/hands/hand_landmark_full.tflite",
        5_478_917,
        "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"
    ),
];

/// One built-in folder.
#[derive(Debug)]
pub struct BuiltInFolder {
    /// Its path in the repository, e.g. `assets/demo_clips`.
    pub name: &'static str,
    /// The files under it, by path relative to it.
    pub dir: &'static Dir<'static>,
}

impl BuiltInFolder {
    /// `built-in:NAME`, the path-like name that stands for it.
    pub fn path(&self) -> String {
        format!("{PREFIX}{}", self.name)
    }
}

static DEMO_RECORDING_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets/demo_clips");

/// The built-in folders.
pub static FOLDERS: &[BuiltInFolder] = &[BuiltInFolder {
    name: DEMO_RECORDING,
    dir: &DEMO_RECORDING_DIR,
}];

/// The built-in file called `name` (its repository path).
pub fn file(name: &str) -> Option<&'static BuiltInFile> {
    FILES.iter().find(|f| f.name == name)
}

/// The built-in folder called `name` (its repository path).
pub fn folder(name: &str) -> Option<&'static BuiltInFolder> {
    FOLDERS.iter().find(|f| f.name == name)
}

/// The name after [`PREFIX`] when `path` is spelled `built-in:NAME`, whether or not NAME exists.
pub fn name_in(path: &Path) -> Option<&str> {
    path.to_str()?.strip_prefix(PREFIX)
}

/// The built-in file `path` stands for (`built-in:NAME`), if it names one.
pub fn file_at(path: &Path) -> Option<&'static BuiltInFile> {
    name_in(path).and_then(file)
}

/// Every built-in file's and folder's name, for error messages.
pub fn names() -> String {
    FILES
        .iter()
        .map(|f| f.path())
        .chain(FOLDERS.iter().map(|f| f.path()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn every_file_has_the_sha256_of_its_line_and_equals_the_repository_copy() {
        for f in FILES {
            let hex: String = Sha256::digest(f.bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(hex, f.sha256, "{}", f.name);
            let on_disk = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(f.name));
            assert_eq!(on_disk.ok().as_deref(), Some(f.bytes), "{}", f.name);
        }
    }

    #[test]
    fn folders_hold_exactly_the_repository_files() {
        fn walk(dir: &Dir<'static>, out: &mut Vec<(String, &'static [u8])>) {
            for f in dir.files() {
                out.push((f.path().to_string_lossy().into_owned(), f.contents()));
            }
            for d in dir.dirs() {
                walk(d, out);
            }
        }
        for folder in FOLDERS {
            let mut embedded = Vec::new();
            walk(folder.dir, &mut embedded);
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder.name);
            let mut stack = vec![root.clone()];
            let mut on_disk = 0;
            while let Some(dir) = stack.pop() {
                for e in std::fs::read_dir(&dir).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                        continue;
                    }
                    let rel = p
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    let bytes = std::fs::read(&p).unwrap();
                    let found = embedded.iter().find(|(n, _)| *n == rel);
                    assert_eq!(found.map(|(_, b)| *b), Some(&bytes[..]), "{rel}");
                    on_disk += 1;
                }
            }
            assert_eq!(embedded.len(), on_disk, "{}", folder.name);
        }
    }

    #[test]
    fn names_resolve_only_with_the_prefix() {
        assert!(file_at(Path::new("built-in:weights/demo.safetensors")).is_some());
        assert!(file_at(Path::new("weights/demo.safetensors")).is_none());
        assert!(file_at(Path::new("built-in:weights/other.safetensors")).is_none());
        assert_eq!(
            name_in(Path::new("built-in:x/y")),
            Some("x/y"),
            "spelled as built-in even when nothing has that name"
        );
        assert!(folder(DEMO_RECORDING).is_some() && file(DEMO_WEIGHTS).is_some());
        assert!(names().contains("built-in:assets/demo_clips"));
    }
}
