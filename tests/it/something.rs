//! Something-Something v2 as it ships: `.webm` videos named by clip id and the JSON label files
//! (`something-something-v2-labels.json`, `-train.json`, `-validation.json`). A small sample in
//! that format, whose videos the test encodes itself (generated swipes, 3 templates with
//! placeholders), goes through `data extract` (interrupted and resumed), `train` and `eval`.

use super::common::run_ok;
use std::path::Path;
use std::process::Command;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The templates standing in for the 174: a Jester class each, written the way SSv2 writes
/// its templates.
const TEMPLATES: [(&str, &str); 3] = [
    ("Swiping Left", "Moving [something] from right to left"),
    ("Swiping Right", "Moving [something] from left to right"),
    ("No gesture", "Holding [something]"),
];

#[test]
fn a_something_something_v2_sample_goes_through_extract_train_and_eval() {
    let tmp = tempfile::tempdir().unwrap();
    // Frames of generated clips (Jester layout), 3 classes.
    let synth = tmp.path().join("synth");
    run_ok(&[
        "synth",
        s(&synth),
        "--clips-per-class",
        "6",
        "--seed",
        "3",
        "--size",
        "48",
        "--frames",
        "16",
        "--classes",
        "Swiping Left,Swiping Right,No gesture",
        "--val-every",
        "3",
    ]);
    let labels: Vec<String> = std::fs::read_to_string(synth.join("category.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    // SSv2's layout: ID.webm (VP9 like the release) and the JSON files.
    let videos = tmp.path().join("20bn-something-something-v2");
    std::fs::create_dir(&videos).unwrap();
    let mut lists = (Vec::new(), Vec::new());
    for (name, list) in [
        ("train_videofolder.txt", &mut lists.0),
        ("val_videofolder.txt", &mut lists.1),
    ] {
        for line in std::fs::read_to_string(synth.join(name)).unwrap().lines() {
            let mut f = line.split_whitespace();
            let (id, _, label) = (f.next().unwrap(), f.next(), f.next().unwrap());
            let jester = &labels[label.parse::<usize>().unwrap()];
            let template = TEMPLATES.iter().find(|t| t.0 == jester).unwrap().1;
            let frames = synth.join("rgb").join(id).join("%05d.jpg");
            let webm = videos.join(format!("{id}.webm"));
            let ok = Command::new("ffmpeg")
                .args([
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-y",
                    "-framerate",
                    "12",
                    "-i",
                ])
                .arg(&frames)
                .args([
                    "-c:v",
                    "libvpx-vp9",
                    "-crf",
                    "30",
                    "-b:v",
                    "0",
                    "-deadline",
                    "realtime",
                ])
                .args(["-cpu-used", "8"])
                .arg(&webm)
                .status()
                .expect("the ffmpeg tool encodes the sample");
            assert!(ok.success());
            list.push(serde_json::json!({
                "id": id,
                "label": "moving a hand",
                "template": template,
                "placeholders": ["a hand"],
            }));
        }
    }
    let labels_json: serde_json::Map<String, serde_json::Value> = TEMPLATES
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t.1.replace(['[', ']'], ""),
                serde_json::json!(i.to_string()),
            )
        })
        .collect();
    let files = tmp.path().join("labels");
    std::fs::create_dir(&files).unwrap();
    let write = |name: &str, v: serde_json::Value| {
        std::fs::write(files.join(name), serde_json::to_string_pretty(&v).unwrap()).unwrap();
        files.join(name)
    };
    let labels_file = write(
        "something-something-v2-labels.json",
        serde_json::Value::Object(labels_json),
    );
    let train_file = write("something-something-v2-train.json", lists.0.clone().into());
    let val_file = write(
        "something-something-v2-validation.json",
        lists.1.clone().into(),
    );

    // Extract, as it would be interrupted: one clip's folder is already there (resumed), a
    // half-written one is left over (redone).
    let out = tmp.path().join("ssv2");
    let first_id = lists.0[0]["id"].as_str().unwrap().to_string();
    std::fs::create_dir_all(out.join("rgb").join(&first_id)).unwrap();
    std::fs::copy(
        synth.join("rgb").join(&first_id).join("00001.jpg"),
        out.join("rgb").join(&first_id).join("00001.jpg"),
    )
    .unwrap();
    let second_id = lists.0[1]["id"].as_str().unwrap().to_string();
    std::fs::create_dir_all(out.join("rgb").join(format!(".{second_id}.partial"))).unwrap();
    let extract = |extra: &[&str]| {
        let mut args = vec![
            "data",
            "extract",
            "--videos",
            s(&videos),
            "--out",
            s(&out),
            "--labels",
            s(&labels_file),
            "--list",
            s(&train_file),
            "--list",
            s(&val_file),
        ];
        args.extend_from_slice(extra);
        run_ok(&args)
    };
    let extracted = extract(&["--jobs", "2"]);
    let log = String::from_utf8_lossy(&extracted.stderr);
    let clips = lists.0.len() + lists.1.len();
    assert!(log.contains("1 already there"), "{log}");
    assert!(
        log.contains(&format!("extracted {} video(s)", clips - 1)),
        "{log}"
    );
    let frames = std::fs::read_dir(out.join("rgb").join(&second_id))
        .unwrap()
        .count();
    assert_eq!(frames, 16, "every frame of the redone clip");
    assert!(!out
        .join("rgb")
        .join(format!(".{second_id}.partial"))
        .exists());
    // The resumed clip was left as it was.
    assert_eq!(
        std::fs::read_dir(out.join("rgb").join(&first_id))
            .unwrap()
            .count(),
        1
    );
    std::fs::remove_dir_all(out.join("rgb").join(&first_id)).unwrap();
    let again = extract(&[]);
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(log.contains("extracted 1 video(s)"), "{log}");
    assert!(
        log.contains(&format!("{} were already there", clips - 1)),
        "{log}"
    );

    // Train and evaluate on the JSON files as they ship (copied into the root).
    let run_dir = tmp.path().join("run");
    let trained = run_ok(&[
        "train",
        "--root",
        s(&out),
        "--train-list",
        "something-something-v2-train.json",
        "--val-list",
        "something-something-v2-validation.json",
        "--run-dir",
        s(&run_dir),
        "--arch",
        "squeezenet1_1",
        "--consensus",
        "avg",
        "--segments",
        "2",
        "--input-size",
        "32",
        "--resize-size",
        "32",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--workers",
        "2",
        "--no-progress",
    ]);
    let log = String::from_utf8_lossy(&trained.stdout);
    assert!(log.contains("clips/s"), "{log}");
    let best = run_dir.join("best.safetensors");
    let (cfg, _) = gesture_app::weights::load(&best).unwrap();
    assert_eq!(
        cfg.labels,
        TEMPLATES
            .iter()
            .map(|t| t.1.replace(['[', ']'], ""))
            .collect::<Vec<_>>(),
        "the classes are the templates, in the label file's index order"
    );
    let evaluated = run_ok(&[
        "eval",
        "--weights",
        s(&best),
        "--root",
        s(&out),
        "--list",
        "something-something-v2-validation.json",
        "--device",
        "cpu",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&evaluated.stdout).unwrap();
    assert_eq!(v["clips"], lists.1.len(), "{v}");
    assert!(v["top1"].as_f64().unwrap().is_finite(), "{v}");
}
