//! Provenance a trained weights file records, written so that it names no machine paths: the
//! program by its name, and files inside the working directory (the repository, when training
//! from its root) relative to it.

use std::path::{Path, PathBuf};

/// `path` relative to `base` when it lies inside it (`base` itself gives `.`); as given
/// otherwise, and for relative paths.
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    if !path.is_absolute() {
        return path.to_path_buf();
    }
    match path.strip_prefix(base) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

/// `path` as [`relative_to`] the working directory, for display in provenance.
pub fn portable_path(path: &Path) -> String {
    match std::env::current_dir() {
        Ok(cwd) => relative_to(path, &cwd).display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// A command line for provenance: the program by its file name, and every argument that is an
/// absolute path inside `base` (alone or as `--flag=PATH`) relative to it.
pub fn portable_command(args: &[String], base: &Path) -> String {
    let mut out = Vec::with_capacity(args.len());
    if let Some(program) = args.first() {
        let name = Path::new(program)
            .file_name()
            .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned());
        out.push(name);
    }
    for arg in args.iter().skip(1) {
        let rel = |p: &str| relative_to(Path::new(p), base).display().to_string();
        out.push(match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => format!("{flag}={}", rel(value)),
            _ => rel(arg),
        });
    }
    out.join(" ")
}

/// This process's command line as [`portable_command`] relative to the working directory.
pub fn this_command() -> String {
    let args: Vec<String> = std::env::args().collect();
    let cwd = std::env::current_dir().unwrap_or_default();
    portable_command(&args, &cwd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_paths_become_relative() {
        let base = Path::new("/home/me/gesture-app");
        let args: Vec<String> = [
            "/home/me/gesture-app/target/release/gesture-app",
            "train",
            "--recipe",
            "/home/me/gesture-app/training/demo.toml",
            "--root=/home/me/gesture-app/data/demo",
            "--run-dir",
            "runs/x",
            "--pretrained",
            "/opt/models/sq.safetensors",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            portable_command(&args, base),
            "gesture-app train --recipe training/demo.toml --root=data/demo --run-dir runs/x \
             --pretrained /opt/models/sq.safetensors"
        );
        assert_eq!(relative_to(base, base), PathBuf::from("."));
        assert_eq!(
            relative_to(Path::new("/home/me/gesture-apps/x"), base),
            PathBuf::from("/home/me/gesture-apps/x"),
            "a sibling with a common prefix is outside"
        );
    }
}
