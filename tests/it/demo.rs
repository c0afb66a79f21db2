//! The built-in default that README's first command runs: the bundled demo model
//! (`weights/demo.safetensors`, trained by `training/demo.toml`) on the bundled recording
//! (`assets/demo_clips/gestures`, made by `gesture-app synth --session`; its `script.txt` lists
//! the gestures performed). Checks that the model met the demo recipe's accuracy bar when it
//! was trained, and that the app with no arguments on a machine without a display runs the demo
//! headless and fires exactly the recorded gestures, in order, and nothing for a still hand.

use gesture_app::weights::read_config;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The labels of the recording's script, in order.
fn script() -> Vec<String> {
    let text = std::fs::read_to_string(repo("assets/demo_clips/gestures/script.txt"))
        .expect("the bundled recording's script.txt");
    text.lines()
        .map(|l| {
            l.splitn(3, ' ')
                .nth(2)
                .expect("FIRST LAST LABEL")
                .to_string()
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
fn no_arguments_without_a_display_runs_the_demo_headless() {
    // Played at its own rate (12 fps; a folder played faster is a faster performance): 29 s.
    let out = Command::new(env!("CARGO_BIN_EXE_gesture-app"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run gesture-app");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no display"), "{stderr}");
    assert!(stderr.contains("Demo:"), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // One line per gesture, then the summary.
    let (end, gestures_seen) = lines.split_last().expect("output");
    assert_eq!(end["event"], "end", "{end}");
    assert_eq!(end["frames_undecodable"], 0, "{end}");
    let events: Vec<String> = gestures_seen
        .iter()
        .map(|v| {
            assert_eq!(v["event"], "gesture", "{v}");
            v["label"].as_str().unwrap().to_string()
        })
        .collect();
    let gestures: Vec<String> = script().into_iter().filter(|l| l != "No gesture").collect();
    assert_eq!(gestures.len(), 8);
    assert_eq!(
        events, gestures,
        "one event per recorded gesture, none for the still hand"
    );
}
