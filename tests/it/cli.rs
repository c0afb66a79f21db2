//! The command line end to end: `convert` + `classify --json` reproduce the PyTorch reference's
//! logits for every fixture in ../shared; torch-saved ImageNet state_dicts (tests/fixtures/torch)
//! convert without labels in every container form; and user mistakes (truncated or foreign
//! files, wrong arch, bad clip folders) end with one clear line on stderr, a non-zero exit code
//! and no panic.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn app() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gesture-app"))
}

fn run(args: &[&str]) -> Output {
    app().args(args).output().expect("run gesture-app")
}

/// A failed run: exit code 1, one line on stderr starting with "error:", no panic.
fn assert_clean_failure(out: &Output, must_mention: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    // `device: ...` is the informational line classify prints before it starts.
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("device: "))
        .collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for m in must_mention {
        assert!(err.contains(m), "'{m}' not in: {err}");
    }
}

fn convert_fixture(shared: &Path, case: &str, out: &Path) -> serde_json::Value {
    let exp = common::expected(shared, case);
    let fx = shared.join("fixtures");
    let status = run(&[
        "convert",
        fx.join(format!("{case}.pth.tar")).to_str().unwrap(),
        out.to_str().unwrap(),
        "--arch",
        exp["arch"].as_str().unwrap(),
        "--consensus",
        exp["consensus"].as_str().unwrap(),
        "--segments",
        &exp["num_segments"].to_string(),
        "--labels",
        shared.join("data/jester/category.txt").to_str().unwrap(),
    ]);
    assert!(
        status.status.success(),
        "convert {case}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    exp
}

#[test]
fn convert_then_classify_json_reproduces_every_fixture() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<String> = common::CASES.iter().map(|s| s.to_string()).collect();
    cases.push("squeezenet1_1_TRNmultiscale_3seg_legacy".into());
    for case in &cases {
        // The legacy (pre-1.6 pickle) checkpoint holds the TRN 3seg weights.
        let reference = case.trim_end_matches("_legacy");
        let weights = dir.path().join(format!("{case}.safetensors"));
        let exp = if case.ends_with("_legacy") {
            let exp = common::expected(&shared, reference);
            let out = run(&[
                "convert",
                shared
                    .join(format!("fixtures/{case}.pth.tar"))
                    .to_str()
                    .unwrap(),
                weights.to_str().unwrap(),
                "--arch=squeezenet1_1",
                "--consensus=TRNmultiscale",
                "--segments=3",
                "--labels",
                shared.join("data/jester/category.txt").to_str().unwrap(),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            exp
        } else {
            convert_fixture(&shared, case, &weights)
        };
        let frames = shared.join(format!("fixtures/{reference}_frames"));
        let out = run(&[
            "classify",
            "--json",
            "--weights",
            weights.to_str().unwrap(),
            frames.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "classify {case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        let got = common::floats(&line["logits"]);
        let want = common::floats(&exp["logits"]);
        let scale = common::max_abs(&want);
        let diff = common::max_abs_diff(&got, &want);
        assert!(
            diff <= 1e-4 * scale,
            "{case}: max |Δlogit| {diff} > 1e-4 × {scale}"
        );
        assert_eq!(line["top"][0]["index"], exp["argmax"], "{case}: top-1");
        assert_eq!(line["top"].as_array().unwrap().len(), 5);
        assert_eq!(line["clip"].as_str().unwrap(), frames.to_str().unwrap());
    }
}

#[test]
fn bad_inputs_fail_with_one_clear_line() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| -> PathBuf { dir.path().join(name) };
    let labels = shared.join("data/jester/category.txt");
    let labels = labels.to_str().unwrap();
    let fixture = shared.join("fixtures/squeezenet1_1_MLP_8seg.pth.tar");

    // A truncated checkpoint.
    let bytes = std::fs::read(&fixture).unwrap();
    std::fs::write(d("cut.pth.tar"), &bytes[..bytes.len() / 3]).unwrap();
    let out = run(&[
        "convert",
        d("cut.pth.tar").to_str().unwrap(),
        d("o.safetensors").to_str().unwrap(),
        "--arch=squeezenet1_1",
        "--consensus=MLP",
        "--labels",
        labels,
    ]);
    assert_clean_failure(&out, &["cut.pth.tar"]);
    assert!(!d("o.safetensors").exists(), "nothing is written on error");

    // Not a checkpoint at all.
    std::fs::write(d("notes.txt"), "just some text\n").unwrap();
    let out = run(&[
        "convert",
        d("notes.txt").to_str().unwrap(),
        d("o.safetensors").to_str().unwrap(),
        "--arch=squeezenet1_1",
        "--consensus=MLP",
        "--labels",
        labels,
    ]);
    assert_clean_failure(&out, &["notes.txt"]);

    // The wrong arch for the tensors.
    let out = run(&[
        "convert",
        fixture.to_str().unwrap(),
        d("o.safetensors").to_str().unwrap(),
        "--arch=BNInception",
        "--consensus=MLP",
        "--labels",
        labels,
    ]);
    assert_clean_failure(&out, &["squeezenet1_1", "BNInception"]);
    assert!(!d("o.safetensors").exists());

    // The wrong head for the tensors lists the offending names.
    let out = run(&[
        "convert",
        fixture.to_str().unwrap(),
        d("o.safetensors").to_str().unwrap(),
        "--arch=squeezenet1_1",
        "--consensus=LSTM",
        "--labels",
        labels,
    ]);
    assert_clean_failure(
        &out,
        &[
            "missing",
            "consensus.rnn.weight_ih_l0",
            "unexpected",
            "consensus.classifier.1.weight",
        ],
    );

    // A good model, then bad clips.
    let good = d("good.safetensors");
    convert_fixture(&shared, "squeezenet1_1_MLP_8seg", &good);
    let good = good.to_str().unwrap();
    std::fs::create_dir(d("empty")).unwrap();
    let out = run(&["classify", "--weights", good, d("empty").to_str().unwrap()]);
    assert_clean_failure(&out, &["empty", "no frames"]);

    std::fs::create_dir(d("short")).unwrap();
    for i in 1..=3 {
        std::fs::copy(
            shared.join("fixtures/squeezenet1_1_MLP_8seg_frames/00001.png"),
            d("short").join(format!("{i:05}.png")),
        )
        .unwrap();
    }
    let out = run(&["classify", "--weights", good, d("short").to_str().unwrap()]);
    assert_clean_failure(&out, &["short", "3 frame(s)", "8 segments"]);

    std::fs::create_dir(d("corrupt")).unwrap();
    for i in 1..=8 {
        std::fs::write(
            d("corrupt").join(format!("{i:05}.jpg")),
            b"\xff\xd8 definitely not a jpeg",
        )
        .unwrap();
    }
    let out = run(&[
        "classify",
        "--weights",
        good,
        d("corrupt").to_str().unwrap(),
    ]);
    assert_clean_failure(&out, &["corrupt", "cannot decode frame"]);

    let out = run(&[
        "classify",
        "--weights",
        d("missing.safetensors").to_str().unwrap(),
        d("short").to_str().unwrap(),
    ]);
    assert_clean_failure(&out, &["missing.safetensors"]);

    let out = run(&[
        "classify",
        "--weights",
        fixture.to_str().unwrap(),
        d("short").to_str().unwrap(),
    ]);
    assert_clean_failure(&out, &["not a gesture-app weights file"]);
}

#[test]
fn info_describes_a_converted_model() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("m.safetensors");
    convert_fixture(&shared, "squeezenet1_1_BLSTM_8seg", &w);
    let out = run(&["info", w.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "squeezenet1_1",
        "BLSTM",
        "segments:        8",
        "Swiping Left",
        "converted_from",
    ] {
        assert!(text.contains(needle), "'{needle}' not in:\n{text}");
    }
}

/// tests/fixtures/torch: torch-saved files made by tests/fixtures/make_convert_cases.py.
fn torch_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch")
        .join(name)
}

#[test]
fn imagenet_state_dicts_convert_in_every_form_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let convert = |input: &Path, arch: &str| -> gesture_app::weights::WeightsFile {
        let out_file = dir.path().join("out.safetensors");
        let out = run(&[
            "convert",
            input.to_str().unwrap(),
            out_file.to_str().unwrap(),
            "--arch",
            arch,
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            input.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("ImageNet backbone"), "{text}");
        let file = gesture_app::weights::load_file(&out_file).unwrap();
        assert_eq!(file.contents, gesture_app::weights::Contents::Backbone);
        file
    };
    let values = |f: &gesture_app::weights::WeightsFile| -> Vec<(String, Vec<f32>)> {
        let mut v: Vec<_> = f
            .tensors
            .iter()
            .map(|(k, t)| (k.clone(), t.flatten_all().unwrap().to_vec1().unwrap()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    // torchvision's squeezenet1_1: the top level, under 'state_dict', under 'model', with and
    // without 'module.', zip and legacy — the same tensors every time.
    let reference = values(&convert(
        &torch_fixture("squeezenet1_1_imagenet.pth"),
        "squeezenet1_1",
    ));
    assert_eq!(reference.len(), 50, "25 convolutions, classifier dropped");
    let mut forms = 0;
    for entry in std::fs::read_dir(torch_fixture("forms")).unwrap() {
        let path = entry.unwrap().path();
        let got = values(&convert(&path, "squeezenet1_1"));
        assert!(got == reference, "{}: other tensors", path.display());
        forms += 1;
    }
    assert_eq!(forms, 12);
    // pretrainedmodels' bninception, zip and legacy.
    let bn = values(&convert(
        &torch_fixture("bninception_imagenet.pth"),
        "BNInception",
    ));
    let bn_legacy = values(&convert(
        &torch_fixture("bninception_imagenet_legacy.pth"),
        "BNInception",
    ));
    assert!(bn == bn_legacy, "the zip and legacy files differ");
    assert!(bn.iter().all(|(k, _)| k.starts_with("base_model.")));
    assert!(bn
        .iter()
        .any(|(k, _)| k == "base_model.inception_5b_pool_proj_bn.running_var"));
}

#[test]
fn convert_mistakes_say_what_is_wrong_once() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.safetensors");
    let out_arg = out_file.to_str().unwrap();
    let trn = torch_fixture("TRN_jester.pth.tar");
    let trn = trn.to_str().unwrap();
    let squeezenet = torch_fixture("squeezenet1_1_imagenet.pth");
    let squeezenet = squeezenet.to_str().unwrap();
    let labels = torch_fixture("jester_category.txt");
    let labels = labels.to_str().unwrap();
    let three = dir.path().join("three.txt");
    std::fs::write(&three, "a\nb\nc\n").unwrap();
    let three = three.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        // A whole model needs its labels.
        (
            &[
                "convert",
                trn,
                out_arg,
                "--arch",
                "BNInception",
                "--segments",
                "8",
            ],
            &["a whole TRNmultiscale model with 27 classes", "--labels"],
        ),
        // An ImageNet file for the other backbone.
        (
            &["convert", squeezenet, out_arg, "--arch", "BNInception"],
            &["--arch BNInception given, but the tensors are squeezenet1_1"],
        ),
        // The wrong head for a model.
        (
            &[
                "convert",
                trn,
                out_arg,
                "--arch",
                "BNInception",
                "--consensus",
                "MLP",
                "--labels",
                labels,
            ],
            &["missing", "consensus.classifier.1.weight", "unexpected"],
        ),
        // The wrong class count.
        (
            &[
                "convert",
                trn,
                out_arg,
                "--arch",
                "BNInception",
                "--segments",
                "8",
                "--labels",
                three,
            ],
            &["the label list has 3 classes but the classifier has 27 outputs"],
        ),
    ];
    for (args, mentions) in cases {
        let out = run(args);
        assert_clean_failure(&out, mentions);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("tensor error"), "{err}");
        // No part of the cause chain is printed twice.
        let parts: Vec<&str> = err.trim().split(": ").collect();
        for (i, p) in parts.iter().enumerate() {
            assert!(
                p.len() < 12 || !parts[i + 1..].contains(p),
                "'{p}' repeated in: {err}"
            );
        }
        assert!(!out_file.exists(), "nothing is written on error");
    }
}

#[test]
fn a_closed_standard_output_ends_a_command_quietly() {
    // `gesture-app info W | head -1`: the reader goes before the command prints.
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/demo.safetensors");
    let mut child = app()
        .args(["info", weights.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn export_half_stores_float16_that_every_command_takes() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/demo.safetensors");
    let half = tmp.path().join("demo16.safetensors");
    let (full_len, half_len) = export_demo(&demo, &half, "--half");
    assert!(
        half_len * 2 < full_len + 64 * 1024,
        "{half_len} of {full_len} bytes"
    );
    let info = String::from_utf8_lossy(&run(&["info", half.to_str().unwrap()]).stdout).to_string();
    assert!(info.contains("stored = float16"), "{info}");
    // The same clip through both: the same ranking, probabilities within float16's rounding.
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_clips/gestures");
    let logits = |w: &Path| classify_logits(w, &clip);
    let (a, b) = (logits(&demo), logits(&half));
    let scale = common::max_abs(&a);
    let d = common::max_abs_diff(&a, &b);
    assert!(d <= 1e-2 * scale, "logits differ by {d} (largest {scale})");
    // Refused: writing over the input, a file that is not weights, no storage named.
    for (args, why) in [
        (
            vec![
                "export",
                demo.to_str().unwrap(),
                demo.to_str().unwrap(),
                "--half",
            ],
            "replace the input",
        ),
        (
            vec!["export", "README.md", half.to_str().unwrap(), "--half"],
            "README.md",
        ),
        (
            vec!["export", demo.to_str().unwrap(), half.to_str().unwrap()],
            "--half",
        ),
    ] {
        let out = run(&args);
        assert_clean_failure(&out, &[why]);
    }
}

#[test]
fn ensemble_joins_models_of_one_kind_and_predicts_their_mean() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = repo.join("weights/demo.safetensors");
    let half = tmp.path().join("demo16.safetensors");
    let pair = tmp.path().join("pair.safetensors");
    export_demo(&demo, &half, "--half");
    let out = run(&[
        "ensemble",
        "-o",
        pair.to_str().unwrap(),
        demo.to_str().unwrap(),
        half.to_str().unwrap(),
        "--provenance",
        "note=two copies",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = String::from_utf8_lossy(&run(&["info", pair.to_str().unwrap()]).stdout).to_string();
    assert!(info.contains("ensemble:        2 networks"), "{info}");
    assert!(info.contains("member.1.stored = float16"), "{info}");
    assert!(info.contains("note = two copies"), "{info}");
    // The mean of a model and its float16 copy: the model's probabilities, within float16's
    // rounding (an ensemble's logits are log-probabilities).
    let clip = repo.join("assets/demo_clips/gestures");
    let probs = |w: &Path| classify_probabilities(w, &clip);
    let (a, b) = (probs(&demo), probs(&pair));
    let d = common::max_abs_diff(&a, &b);
    assert!(d <= 1e-2, "probabilities differ by {d}");
    // Refused, naming what is wrong: another kind of model, the output over an input, one input.
    let hands = repo.join("weights/jester_hands.safetensors");
    let other = tmp.path().join("other.safetensors");
    for (args, why) in [
        (
            vec![
                "ensemble",
                "-o",
                other.to_str().unwrap(),
                demo.to_str().unwrap(),
                hands.to_str().unwrap(),
            ],
            "not the same model",
        ),
        (
            vec![
                "ensemble",
                "-o",
                half.to_str().unwrap(),
                demo.to_str().unwrap(),
                half.to_str().unwrap(),
            ],
            "replace an input",
        ),
    ] {
        let out = run(&args);
        assert_clean_failure(&out, &[why]);
    }
    let out = run(&[
        "ensemble",
        "-o",
        other.to_str().unwrap(),
        demo.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "one model is no ensemble");
    assert!(!other.exists());
}

#[test]
fn export_int8_stores_a_quarter_that_classifies_as_the_original() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = repo.join("weights/demo.safetensors");
    let q8 = tmp.path().join("demo8.safetensors");
    let (full_len, q8_len) = export_demo(&demo, &q8, "--int8");
    assert!(q8_len * 3 < full_len, "{q8_len} of {full_len} bytes");
    let info = String::from_utf8_lossy(&run(&["info", q8.to_str().unwrap()]).stdout).to_string();
    assert!(info.contains("stored = 8-bit matrices"), "{info}");
    // The same clip through both: the same top-1, probabilities within a few hundredths.
    let clip = repo.join("assets/demo_clips/gestures");
    let probs = |w: &Path| classify_probabilities(w, &clip);
    let (a, b) = (probs(&demo), probs(&q8));
    let top = |p: &[f32]| (0..p.len()).max_by(|&i, &j| p[i].total_cmp(&p[j])).unwrap();
    assert_eq!(top(&a), top(&b));
    let d = common::max_abs_diff(&a, &b);
    assert!(d <= 0.05, "probabilities differ by {d}");
    // Both storages at once is a mistake clap names.
    let out = run(&[
        "export",
        demo.to_str().unwrap(),
        q8.to_str().unwrap(),
        "--int8",
        "--half",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--half"));
}

/// `classify --json`'s logits for `clip` under weights `w`.
fn classify_logits(w: &Path, clip: &Path) -> Vec<f32> {
    let out = run(&[
        "classify",
        "--json",
        "--weights",
        w.to_str().unwrap(),
        clip.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::floats(&v["logits"])
}

/// The softmax of [`classify_logits`] (an ensemble's logits are log-probabilities).
fn classify_probabilities(w: &Path, clip: &Path) -> Vec<f32> {
    let l = classify_logits(w, clip);
    let m = l.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = l.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

/// Runs `export DEMO OUT FLAG`, checks it succeeded, and returns the two files' sizes.
fn export_demo(demo: &Path, out_path: &Path, flag: &str) -> (u64, u64) {
    let out = run(&[
        "export",
        demo.to_str().unwrap(),
        out_path.to_str().unwrap(),
        flag,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::metadata(demo).unwrap().len(),
        std::fs::metadata(out_path).unwrap().len(),
    )
}
