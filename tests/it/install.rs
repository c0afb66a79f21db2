//! An installed copy of the app: the test build of the binary copied alone into an empty folder
//! and run there with an empty HOME, an empty working folder and an otherwise empty environment.
//! Its default model and recording must then come from inside the binary: `info` on the built-in
//! model, the desktop entry that `install-desktop` writes (checked by `desktop-file-validate`,
//! Debian desktop-file-utils) and its removal. The headless demo run from such a copy is
//! `demo::no_arguments_without_a_display_runs_the_demo_headless`.
//!
//! Why the source tree cannot be what makes these pass: the binary looks for a copy on disk only
//! next to itself and, when it sits at `ROOT/target/PROFILE/` with a `ROOT/Cargo.toml`, in ROOT
//! (src/commands/bundled.rs); the copy here sits in `TMP/app/`, beside nothing. No environment
//! variable reaches it (`CARGO_MANIFEST_DIR` included). And the tests check that the app names
//! the built-in files (`built-in:...`) as the ones it used, so a file found on disk would fail
//! them rather than pass them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A copy of the binary alone in a temporary folder, with an empty home and working folder.
pub struct Alone {
    _tmp: tempfile::TempDir,
    /// The copied executable (canonical path).
    pub exe: PathBuf,
    /// The empty HOME it runs with.
    pub home: PathBuf,
    /// The empty working folder it runs in.
    pub work: PathBuf,
}

impl Alone {
    pub fn new() -> Alone {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let (app, home, work) = (root.join("app"), root.join("home"), root.join("work"));
        for d in [&app, &home, &work] {
            std::fs::create_dir(d).unwrap();
        }
        let exe = app.join("gesture-app");
        std::fs::copy(env!("CARGO_BIN_EXE_gesture-app"), &exe).unwrap();
        assert_eq!(
            std::fs::read_dir(&app).unwrap().count(),
            1,
            "the binary is alone in its folder"
        );
        Alone {
            _tmp: tmp,
            exe,
            home,
            work,
        }
    }

    /// The copy with `args`, in the empty working folder, with HOME the empty home and nothing
    /// else in its environment (no DISPLAY: a live run is headless).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .current_dir(&self.work)
            .stdin(Stdio::null());
        c
    }

    /// Runs it; panics with its stderr unless it succeeds.
    pub fn run_ok(&self, c: &mut Command) -> Output {
        let out = c.output().expect("run the copied gesture-app");
        assert!(
            out.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

#[test]
fn info_on_the_built_in_model_works_from_a_lone_copy_and_says_built_in() {
    let app = Alone::new();
    for args in [
        &["info"][..],
        &["info", "built-in:weights/demo.safetensors"],
    ] {
        let out = app.run_ok(&mut app.command(args));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("file:            built-in:weights/demo.safetensors (built-in"),
            "{text}"
        );
        assert!(text.contains("contents:        model"), "{text}");
        assert!(text.contains("Swiping Left"), "{text}");
    }
    let out = app.run_ok(&mut app.command(&["info", "--json"]));
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        config["labels"].as_array().map(Vec::len),
        Some(9),
        "{config}"
    );
    // A built-in name that is not there: one line naming it and what there is.
    let out = app
        .command(&["info", "built-in:weights/other.safetensors"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("built-in:weights/other.safetensors")
            && err.contains("built-in:weights/demo.safetensors")
            && !err.contains("panicked"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(&app.work).unwrap().next().is_none()
            && std::fs::read_dir(&app.home).unwrap().next().is_none(),
        "info writes nothing"
    );
}

/// Whether `desktop-file-validate` is installed; where it must be (CI), its absence fails.
fn have_validator() -> bool {
    let found = Command::new("desktop-file-validate")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found && std::env::var("CI").as_deref() == Ok("true") {
        panic!("desktop-file-validate is required here (CI=true) but not installed: apt-get install desktop-file-utils");
    }
    if !found {
        eprintln!("SKIPPED: desktop-file-validate not found (apt-get install desktop-file-utils)");
    }
    found
}

/// `desktop-file-validate` on `file`: no output and success, or the test fails with its words.
fn validate(file: &Path) {
    let out = Command::new("desktop-file-validate")
        .arg(file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{}: {said}",
        file.display()
    );
}

#[test]
fn install_desktop_writes_a_valid_entry_running_this_copy_and_uninstall_removes_it() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let app = Alone::new();
    let help = app.run_ok(&mut app.command(&["install-desktop", "--help"]));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--uninstall"));

    let out = app.run_ok(&mut app.command(&["install-desktop"]));
    let share = app.home.join(".local/share");
    let entry = share.join("applications/gesture-app.desktop");
    let icon = share.join("icons/hicolor/scalable/apps/gesture-app.svg");
    let text = std::fs::read_to_string(&entry).expect("the entry is written");
    assert!(
        text.lines()
            .any(|l| l == format!("Exec={}", app.exe.display())),
        "Exec= runs the copy: {text}"
    );
    assert!(text.contains("\nIcon=gesture-app\n"), "{text}");
    assert_eq!(
        std::fs::read(&icon).unwrap(),
        std::fs::read(repo.join("assets/gesture-app.svg")).unwrap()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&entry.display().to_string()));
    // No temp file left beside them (written atomically).
    let leftovers: Vec<_> = std::fs::read_dir(entry.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["gesture-app.desktop"]);
    if have_validator() {
        validate(&entry);
        validate(&repo.join("assets/gesture-app.desktop"));
    }

    // XDG_DATA_HOME wins over HOME; a second install overwrites.
    let xdg = app.work.join("xdg");
    let mut c = app.command(&["install-desktop"]);
    c.env("XDG_DATA_HOME", &xdg);
    app.run_ok(&mut c);
    app.run_ok(&mut c);
    assert!(xdg.join("applications/gesture-app.desktop").is_file());

    app.run_ok(&mut app.command(&["install-desktop", "--uninstall"]));
    assert!(!entry.exists() && !icon.exists());
    // Nothing to remove is not an error.
    app.run_ok(&mut app.command(&["install-desktop", "--uninstall"]));
}
