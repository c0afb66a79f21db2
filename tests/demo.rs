//! The built-in default that README's first command runs: the bundled demo model
//! (`weights/demo.safetensors`, trained by `training/demo.toml`) on the bundled clips
//! (`assets/demo_clips`). Checks that the model met the demo recipe's accuracy bar when it was
//! trained, that it names every bundled clip correctly, and that the app with no arguments on a
//! machine without a display runs the demo headless and fires each clip's gesture.

use gesture_app::weights::read_config;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn app() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gesture-app"))
}

/// The bundled clips in playing order, each with the label its folder name spells
/// (`03_swiping_right` → "Swiping Right").
fn demo_clips() -> Vec<(PathBuf, String)> {
    let mut clips: Vec<PathBuf> = std::fs::read_dir(repo("assets/demo_clips"))
        .expect("assets/demo_clips is part of the repository")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    clips.sort();
    clips
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let (_, slug) = name.split_once('_').expect("NN_label folder name");
            (p, slug.replace('_', " "))
        })
        .collect()
}

#[test]
fn demo_model_met_the_recipe_bar_of_98_percent() {
    let (config, _) = read_config(&repo("weights/demo.safetensors")).expect("demo weights load");
    let top1: f64 = config.provenance["val_top1"].parse().unwrap();
    assert!(top1 >= 98.0, "demo model's validation top-1 is {top1}%");
    assert!(
        config.provenance["command"].contains("training/demo.toml"),
        "trained by another recipe: {:?}",
        config.provenance
    );
    assert_eq!(config.labels.len(), 9);
}

#[test]
fn demo_model_names_every_bundled_clip() {
    let clips = demo_clips();
    assert_eq!(clips.len(), 16, "8 gestures, each followed by a still hand");
    let out = app()
        .arg("classify")
        .arg("--json")
        .arg("--weights")
        .arg(repo("weights/demo.safetensors"))
        .args(clips.iter().map(|(p, _)| p))
        .output()
        .expect("run gesture-app");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["top"][0]["label"].as_str().unwrap().to_string()
        })
        .collect();
    let want: Vec<String> = clips.iter().map(|(_, l)| l.clone()).collect();
    let got_lower: Vec<String> = got.iter().map(|l| l.to_lowercase()).collect();
    assert_eq!(got_lower, want, "classify's top-1 per bundled clip");
}

#[test]
fn no_arguments_without_a_display_runs_the_demo_headless() {
    // Four times the clips' rate keeps the test short; the worker resamples by timestamp.
    let out = app()
        .args(["--fps", "48"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run gesture-app");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no display"), "{stderr}");
    assert!(stderr.contains("Demo:"), "{stderr}");
    let events: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["event"], "gesture", "{l}");
            v["label"].as_str().unwrap().to_lowercase()
        })
        .collect();
    let gestures: Vec<String> = demo_clips()
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l != "no gesture")
        .collect();
    assert_eq!(
        events, gestures,
        "one event per gesture clip, none for a still hand"
    );
}
