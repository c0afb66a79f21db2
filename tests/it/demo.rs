//! The built-in default that README's first command runs: the bundled demo model
//! (`weights/demo.safetensors`, trained by `training/demo.toml`, whose header has the commands)
//! on the bundled recording
//! (`assets/demo_clips/gestures`, made by `gesture-app synth --session`; its `script.txt` lists
//! the gestures performed). Checks that the model meets the demo recipe's accuracy bar on
//! freshly generated clips, that the shipped file names no machine paths, and that the app with
//! no arguments on a machine without a display runs the demo headless and fires exactly the
//! recorded gestures, in order, and nothing for a still hand — run as an installed copy would be,
//! alone in an empty folder with an empty HOME, so from the model and recording built into it
//! (`install::Alone`).

use gesture_app::model::config::{Framing, Modality};
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

/// Runs the binary with `args`; panics with its stderr unless it succeeds.
fn gesture_app(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gesture-app"))
        .args(args)
        .output()
        .expect("run gesture-app");
    assert!(
        out.status.success(),
        "gesture-app {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn demo_model_meets_the_recipe_bar_of_98_percent_on_fresh_clips() {
    // 180 clips (20 per class) the model never saw: the demo data's generator and settings
    // (training/demo.toml's header: --size 128 --frames 24 --partial-no-gesture 0.5) with a
    // seed other than the training set's (1), all of them in the validation list. Enough clips
    // that the bar allows 3 mistakes: at 45 clips a single one (97.8 %) would already fail it.
    // Measured: 180 of 180 (the RGB model this one replaced: 178). Generating the clips takes
    // most of the ~25 s.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("fresh");
    let root_s = root.to_str().unwrap();
    gesture_app(&[
        "synth",
        root_s,
        "--clips-per-class",
        "20",
        "--seed",
        "20261202",
        "--size",
        "128",
        "--frames",
        "24",
        "--partial-no-gesture",
        "0.5",
        "--val-every",
        "1",
    ]);
    let png = tmp.path().join("confusion.png");
    let out = gesture_app(&[
        "eval",
        "--weights",
        repo("weights/demo.safetensors").to_str().unwrap(),
        "--root",
        root_s,
        "--list",
        "val_videofolder.txt",
        "--device",
        "cpu",
        "--json",
        "--confusion-png",
        png.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["clips"], 180, "{v}");
    let top1 = v["top1"].as_f64().expect("top1");
    assert!(
        top1 >= 98.0,
        "demo model's top-1 on fresh clips is {top1}% < 98%: {}",
        v["confusion"]
    );
    let (config, _) = read_config(&repo("weights/demo.safetensors")).expect("demo weights load");
    // The recipe README offers for training one's own small model.
    assert!(
        config.provenance["command"].contains("training/demo.toml"),
        "trained by another recipe: {:?}",
        config.provenance
    );
    // ...and it is that recipe's model: frame differences over the whole frame.
    assert_eq!(config.modality, Modality::RgbDiff);
    assert_eq!(config.framing, Framing::WholeFrame);
    assert_eq!(config.labels.len(), 9);
}

/// The words of `text` that look like absolute paths (`/x`, `C:\x`, `\\server`, `~/x`).
fn absolute_paths(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '=' || c == ',')
        .filter(|w| {
            let b = w.as_bytes();
            w.starts_with('/')
                || w.starts_with("\\\\")
                || w.starts_with("~/")
                || (b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\')
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn shipped_demo_weights_name_no_machine_paths() {
    assert_eq!(
        absolute_paths("a /work/x C:\\y ~/z rel/p"),
        ["/work/x", "C:\\y", "~/z"]
    );
    let bytes = std::fs::read(repo("weights/demo.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("safetensors header");
    let meta = meta.metadata().as_ref().expect("metadata");
    assert!(meta.contains_key("config"));
    // Every value, the config JSON (with its provenance) included, word by word.
    for (k, v) in meta {
        assert!(absolute_paths(v).is_empty(), "{k}: {:?}", absolute_paths(v));
    }
    let (config, _) = read_config(&repo("weights/demo.safetensors")).unwrap();
    for (k, v) in &config.provenance {
        assert!(absolute_paths(v).is_empty(), "provenance {k} = {v}");
    }
}

#[test]
fn no_arguments_without_a_display_runs_the_demo_headless() {
    // Played at its own rate (12 fps; a folder played faster is a faster performance): 29 s.
    // The copy has no DISPLAY or WAYLAND_DISPLAY (nor anything else) in its environment.
    let app = crate::install::Alone::new();
    let out = app.command(&[]).output().expect("run gesture-app");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no display"), "{stderr}");
    assert!(stderr.contains("Demo:"), "{stderr}");
    // The built-in model and recording, not files found somewhere on disk.
    assert!(
        stderr.contains("model built-in:weights/demo.safetensors on ")
            && stderr.contains(
                "source built-in recording built-in:assets/demo_clips (1 clip, 360 frames)"
            ),
        "{stderr}"
    );
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
