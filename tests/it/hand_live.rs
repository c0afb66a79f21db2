//! A landmark model (`hand_landmarks`) on frames, end to end: the live worker runs the hand
//! tracker once per clip-rate sample and tracks the hand from sample to sample (the palm
//! detector runs once while the hand stays in view), `--headless --verbose-json` carries the
//! landmarks it read, and `classify` takes frame folders and landmark clip files. The footage is
//! a real photograph with a hand (opencv-doc's `right04.jpg`) seen through a moving window, the
//! sequence `tests/fixtures/hands/make_mediapipe_reference.py` gave MediaPipe; the landmarks
//! are compared with MediaPipe's (`mediapipe_tracking.json`).

use crate::common::{points, run_err, run_ok, s};
use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use gesture_app::capture::{SourceOptions, SourceSpec};
use gesture_app::live::{Pipeline, PipelineOptions, WorkerMsg, WorkerOptions};
use gesture_app::model::config::ModelConfig;
use gesture_app::model::tsn::{BuildOptions, Tsn};
use gesture_app::{Arch, Consensus};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hands")
}

/// `mediapipe_tracking.json`: MediaPipe 0.10.21's hands on the moving-window sequence.
fn reference() -> Value {
    let text = std::fs::read_to_string(fixtures().join("mediapipe_tracking.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The reference's sequence: right04.jpg through a 600×440 window moving 3 px right and 2 px
/// down a frame, written as a clip folder of PNGs.
pub fn hand_footage(dir: &Path, n: u32) -> PathBuf {
    let img = image::open(fixtures().join("photos/right04.jpg"))
        .unwrap()
        .to_rgb8();
    let out = dir.join("hand");
    std::fs::create_dir_all(&out).unwrap();
    for i in 0..n {
        image::imageops::crop_imm(&img, 3 * i, 2 * i, 600, 440)
            .to_image()
            .save(out.join(format!("{:05}.png", i + 1)))
            .unwrap();
    }
    out
}

/// A landmark model with random weights (MLP head, 3 segments, 4 classes) saved to `dir`.
pub fn landmark_weights(dir: &Path) -> PathBuf {
    let labels = ["a", "b", "c", "d"].map(String::from).to_vec();
    let cfg = ModelConfig::new(Arch::HandLandmarks, Consensus::Mlp, 3, labels);
    let vm = VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
    Tsn::new(&cfg, vb, BuildOptions::training(false, 0)).unwrap();
    let tensors = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let path = dir.join("landmarks.safetensors");
    gesture_app::weights::save(&path, &tensors, &cfg).unwrap();
    path
}

/// Mean and largest distance between two sets of 21 normalised landmarks, in units of the
/// frame's width (x, y only); NaN-safe: a NaN makes both NaN.
fn landmark_error(ours: &[[f32; 3]], theirs: &[[f32; 3]], aspect: f32) -> (f32, f32) {
    let d: Vec<f32> = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| ((a[0] - b[0]).powi(2) + ((a[1] - b[1]) / aspect).powi(2)).sqrt())
        .collect();
    let max = d.iter().fold(0f32, |m, &x| {
        if x.is_nan() || m.is_nan() {
            f32::NAN
        } else {
            m.max(x)
        }
    });
    (d.iter().sum::<f32>() / d.len() as f32, max)
}

#[test]
fn the_worker_tracks_a_real_hand_once_per_sample_and_detects_the_palm_once() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = reference();
    let expected = reference["frames"].as_array().unwrap();
    let footage = hand_footage(tmp.path(), expected.len() as u32);
    let weights = landmark_weights(tmp.path());
    let model = Arc::new(gesture_app::weights::load_model(&weights, &Device::Cpu).unwrap());
    let options = PipelineOptions {
        source: SourceOptions {
            fps: Some(12.0),
            ..SourceOptions::default()
        },
        worker: WorkerOptions {
            batch: true,
            stats_every: Duration::ZERO,
            ..WorkerOptions::default()
        },
        max_source_fps: None,
    };
    let mut pipeline =
        Pipeline::start(model, &SourceSpec::Folder(footage), &options, None).unwrap();
    let (mut predictions, mut stats, mut quit) = (Vec::new(), None, None);
    let end = Instant::now() + Duration::from_secs(120);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match pipeline.messages().recv_timeout(left) {
            Ok(WorkerMsg::Prediction(p)) => predictions.push(p),
            Ok(WorkerMsg::Stats(s)) => stats = Some(s),
            Ok(WorkerMsg::Quit(q)) => {
                quit = Some(q);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    pipeline.stop();
    assert_eq!(quit, Some(None), "the pipeline must end cleanly");
    // Lock-step at the clip rate: every frame is a sample; predictions from the third (N = 3).
    assert_eq!(predictions.len(), expected.len() - 2);
    let stats = stats.expect("statistics");
    assert_eq!(
        stats.backbone_passes,
        expected.len() as u64,
        "one tracker pass a sample"
    );
    assert_eq!(
        stats.palm_detections, 1,
        "tracking took over after the first detection"
    );
    for p in &predictions {
        let i = p.seq as usize;
        let exp = &expected[i];
        assert_eq!(p.hands.len(), 1, "frame {i}");
        let (w, h) = (
            exp["width"].as_f64().unwrap(),
            exp["height"].as_f64().unwrap(),
        );
        let theirs: Vec<[f32; 3]> = points(&exp["hands"][0]["landmarks"])
            .iter()
            .map(|p| [p[0] / w as f32, p[1] / h as f32, p[2] / w as f32])
            .collect();
        // The worker reads the frames the capture thread resized (shorter side to the model's
        // resize_size, 256: 349×256 from 600×440), MediaPipe the 600×440 frames: a pixel of
        // ours is 1.7 of theirs. Measured (2026-12-07): per frame a mean of 0.25-0.28 % and a
        // largest of 0.54-0.73 % of the width; the bounds leave twice that.
        let (mean, max) = landmark_error(&p.hands[0].landmarks, &theirs, (w / h) as f32);
        assert!(
            mean <= 0.006 && max <= 0.015,
            "frame {i}: mean {mean}, max {max} of the width"
        );
        assert_eq!(
            p.hands[0].handedness,
            exp["hands"][0]["handedness"].as_str().unwrap()
        );
    }
}

#[test]
fn verbose_json_carries_the_landmarks_and_classify_takes_frames_and_landmark_files() {
    let tmp = tempfile::tempdir().unwrap();
    let footage = hand_footage(tmp.path(), 6);
    let weights = landmark_weights(tmp.path());
    let blank = tmp.path().join("blank");
    std::fs::create_dir_all(&blank).unwrap();
    for i in 1..=6 {
        image::RgbImage::new(320, 240)
            .save(blank.join(format!("{i:05}.png")))
            .unwrap();
    }
    for (folder, hands) in [(&footage, 1), (&blank, 0)] {
        let out = run_ok(&[
            "--weights",
            s(&weights),
            "--headless",
            "--batch",
            "--verbose-json",
            "--fps",
            "12",
            "--source",
            s(folder),
        ]);
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let predictions: Vec<&Value> = lines
            .iter()
            .filter(|v| v["event"] == "prediction")
            .collect();
        assert_eq!(predictions.len(), 4, "{lines:?}");
        for p in predictions {
            let found = p["hands"]
                .as_array()
                .expect("a hands list on every prediction");
            assert_eq!(found.len(), hands, "{p}");
            for hand in found {
                let lm = points(&hand["landmarks"]);
                assert_eq!(lm.len(), 21);
                assert!(lm
                    .iter()
                    .all(|l| (0.0..=1.0).contains(&l[0]) && (0.0..=1.0).contains(&l[1])));
                assert!(hand["presence"].as_f64().unwrap() > 0.5, "{hand}");
            }
        }
    }

    // classify: the hand footage through the tracker, and a landmark clip file as it is.
    let clip = tmp.path().join("clip.json");
    let frame = |x: f32| {
        let lm: Vec<[f32; 3]> = (0..21)
            .map(|k| [x + 0.01 * k as f32, 0.5 - 0.01 * k as f32, 0.0])
            .collect();
        serde_json::json!([{"handedness": "Right", "score": 0.9, "presence": 1.0, "landmarks": lm}])
    };
    let frames: Vec<Value> = (0..8).map(|i| frame(0.2 + 0.05 * i as f32)).collect();
    std::fs::write(
        &clip,
        serde_json::json!({"format": "hand-landmarks/1", "width": 640, "height": 480, "frames": frames})
            .to_string(),
    )
    .unwrap();
    let out = run_ok(&[
        "classify",
        "--json",
        "--weights",
        s(&weights),
        s(&footage),
        s(&clip),
    ]);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        let logits = crate::common::floats(&line["logits"]);
        assert_eq!(logits.len(), 4);
        assert!(logits.iter().all(|l| l.is_finite()), "{line}");
    }
    // Different hands give different outputs (the tracker's hand reached the model).
    assert_ne!(lines[0]["logits"], lines[1]["logits"]);
}

#[test]
fn bench_pipeline_reports_cpu_time_and_palm_detector_runs_for_a_landmark_model() {
    let tmp = tempfile::tempdir().unwrap();
    let footage = hand_footage(tmp.path(), 12);
    let out = run_ok(&[
        "bench-pipeline",
        "--arch",
        "hand_landmarks",
        "--consensus",
        "MLP",
        "--segments",
        "3",
        "--source",
        s(&footage),
        "--fps",
        "12",
        "--warmup",
        "1",
        "--seconds",
        "2",
        "--json",
    ]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let predictions = r["predictions"].as_u64().unwrap();
    assert!(predictions > 0, "{r}");
    let cpu = r["cpu_s_per_s"].as_f64().expect("CPU time on Linux");
    // CPU seconds a second: at most every core busy (plus rounding at the edges).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as f64;
    assert!(cpu > 0.0 && cpu <= cores + 0.5, "{r}");
    // The hand stays in view: the tracker follows it instead of detecting it every sample.
    assert!(r["palm_detections"].as_u64().unwrap() < predictions, "{r}");
}

/// A landmark session's replay (`bench::events::replay_landmarks`, what `bench-events` runs on
/// `handcheck --session` files) is the live worker: the landmarks the pipeline's tracker found in
/// real footage, replayed, give the pipeline's predictions.
#[test]
fn replaying_the_trackers_landmarks_gives_the_live_workers_predictions() {
    use gesture_app::bench::events::{play, replay_landmarks};
    use gesture_app::train::data::landmarks::LandmarkClip;
    let tmp = tempfile::tempdir().unwrap();
    // Two frames without a hand, then the hand: every segment the model reads is known.
    let footage = hand_footage(tmp.path(), 10);
    let names: Vec<_> = (1..=10).rev().map(|i| format!("{i:05}.png")).collect();
    for (i, name) in names.iter().enumerate() {
        let to = footage.join(format!("{:05}.png", 12 - i));
        std::fs::rename(footage.join(name), to).unwrap();
    }
    for i in 1..=2 {
        image::RgbImage::new(600, 440)
            .save(footage.join(format!("{i:05}.png")))
            .unwrap();
    }
    let weights = landmark_weights(tmp.path());
    let model = Arc::new(gesture_app::weights::load_model(&weights, &Device::Cpu).unwrap());
    let options = PipelineOptions {
        source: SourceOptions {
            fps: Some(12.0),
            ..SourceOptions::default()
        },
        worker: WorkerOptions::default(),
        max_source_fps: None,
    };
    // The live pipeline, with the hands each prediction's newest frame showed.
    let (tx, rx) = std::sync::mpsc::channel();
    let spec = SourceSpec::Folder(footage.clone());
    let mut pipeline = Pipeline::start(
        model.clone(),
        &spec,
        &{
            let mut o = options.clone();
            o.worker.batch = true;
            o
        },
        None,
    )
    .unwrap();
    while let Ok(msg) = pipeline.messages().recv_timeout(Duration::from_secs(60)) {
        match msg {
            WorkerMsg::Prediction(p) => tx.send((p.seq, p.hands)).unwrap(),
            WorkerMsg::Quit(q) => {
                assert_eq!(q, None);
                break;
            }
            _ => {}
        }
    }
    pipeline.stop();
    let live = play(model.clone(), &spec, &options).unwrap();
    let mut frames: Vec<Option<_>> = vec![None; 12];
    for (seq, hands) in rx.try_iter() {
        let hand = hands
            .first()
            .expect("the hand is tracked in every frame after the blanks");
        let right = if hand.handedness == "Right" {
            hand.score
        } else {
            -hand.score
        };
        frames[seq as usize] = Some((hand.landmarks, right, hand.presence));
    }
    // Frames 0 and 1 are blank; frame 2 is the first newest sample of a prediction (N = 3).
    assert!(frames[2..].iter().all(Option::is_some));
    let (w, h) =
        gesture_app::capture::resize_shorter_side(image::RgbImage::new(600, 440), 256).dimensions();
    let clip = LandmarkClip {
        width: w,
        height: h,
        fps: Some(12.0),
        frames,
    };
    let replayed = replay_landmarks(
        model.as_ref(),
        &clip,
        options.worker.window,
        &options.worker.events,
    )
    .unwrap();
    assert_eq!(live.trace.len(), 10);
    assert_eq!(replayed.trace.len(), live.trace.len());
    for ((t0, a), (t1, b)) in live.trace.iter().zip(&replayed.trace) {
        assert!((t0 - t1).abs() < 1e-6, "{t0} vs {t1}");
        let d = crate::common::max_abs_diff(a, b);
        assert!(d < 1e-5, "at {t0} s the probabilities differ by {d}");
    }
    assert_eq!(live.events, replayed.events);
}

#[test]
fn a_handcheck_session_is_replayed_and_scored_by_bench_events() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("session");
    run_ok(&[
        "handcheck",
        s(&out),
        "--seed",
        "4",
        "--session",
        "No gesture,Swiping Left,Doing other things,Thumb Up,No gesture",
    ]);
    let script = std::fs::read_to_string(out.join("script.txt")).unwrap();
    assert_eq!(script.lines().count(), 2, "{script}");
    let weights = landmark_weights(tmp.path());
    let session = out.join("session.json");
    let r = run_ok(&[
        "bench-events",
        "--weights",
        s(&weights),
        "--source",
        s(&session),
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    let frames = v["frames"].as_u64().unwrap();
    // One prediction per clip-rate sample once N = 3 are there; the script found beside it.
    assert_eq!(v["predictions"].as_u64().unwrap(), frames - 2, "{v}");
    assert_eq!(
        v["score"]["hits"].as_u64().unwrap() + v["score"]["misses"].as_u64().unwrap(),
        2
    );
    // Not a landmark session for an image model, and an unknown class: one error line each.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/demo.safetensors");
    run_err(
        &[
            "bench-events",
            "--weights",
            s(&demo),
            "--source",
            s(&session),
        ],
        "landmark model",
    );
    run_err(
        &["handcheck", s(&out), "--session", "Waving"],
        "unknown class 'Waving'",
    );
}

/// Hits, misses and extra events of the shipped hand model on a session, by rule.
fn shipped_score(session: &Path, fire_at: Option<&str>) -> (u64, u64, u64) {
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/jester_hands.safetensors");
    let mut args = vec![
        "bench-events",
        "--weights",
        s(&weights),
        "--source",
        s(session),
        "--json",
    ];
    if let Some(rule) = fire_at {
        args.extend(["--fire-at", rule]);
    }
    let v: Value = serde_json::from_slice(&run_ok(&args).stdout).unwrap();
    assert_eq!(v["fire_at"], fire_at.unwrap_or("end"), "{v}");
    let n = |k: &str| v["score"][k].as_u64().unwrap();
    (n("hits"), n("misses"), n("extras"))
}

/// The shipped model fires at a gesture's end by default (docs/handmodel.md, "Firing at a
/// gesture's end"). On three sessions of the second generator (seeds 140–142, never used to
/// choose anything; five gestures each, rest between) that rule must keep the hits of the
/// threshold rule, within one a session, and fire no more extra events than it.
#[test]
fn the_hand_model_fires_at_a_gestures_end_with_no_more_extra_events() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = [
        "No gesture,Swiping Left,No gesture,Zooming In With Two Fingers,No gesture,Rolling Hand \
         Backward,Doing other things,Thumb Down,No gesture,Sliding Two Fingers Up,No gesture",
        "No gesture,Pulling Hand In,No gesture,Turning Hand Clockwise,No gesture,Swiping Up,Doing \
         other things,Zooming Out With Full Hand,No gesture,Pushing Two Fingers Away,No gesture",
        "No gesture,Thumb Up,No gesture,Sliding Two Fingers Left,No gesture,Rolling Hand \
         Forward,Doing other things,Zooming Out With Two Fingers,No gesture,Swiping Down,No \
         gesture",
    ];
    let (mut end, mut threshold) = ((0, 0, 0), (0, 0, 0));
    for (i, list) in sessions.iter().enumerate() {
        let out = tmp.path().join(format!("s{i}"));
        let seed = (140 + i).to_string();
        run_ok(&["handcheck", s(&out), "--seed", &seed, "--session", list]);
        let session = out.join("session.json");
        let e = shipped_score(&session, None);
        let t = shipped_score(&session, Some("threshold"));
        assert_eq!((e.0 + e.1, t.0 + t.1), (5, 5));
        end = (end.0 + e.0, end.1 + e.1, end.2 + e.2);
        threshold = (threshold.0 + t.0, threshold.1 + t.1, threshold.2 + t.2);
    }
    assert!(
        end.0 + 3 >= threshold.0 && end.2 <= threshold.2,
        "(hits, misses, extras) at the end {end:?}, at the threshold {threshold:?}"
    );
    // An image model keeps the threshold rule.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_clips/gestures");
    let r = run_ok(&["bench-events", "--source", s(&demo)]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("fired at the threshold"), "{text}");
}

#[test]
fn a_handsynth_session_is_replayed_and_scored_by_bench_events() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("session");
    let r = run_ok(&[
        "handsynth",
        s(&out),
        "--seed",
        "4",
        "--session",
        "No gesture,Swiping Left,Doing other things,thumb up,No gesture",
    ]);
    assert!(String::from_utf8_lossy(&r.stdout).contains("a session of 5 classes"));
    // Every class has its line, the background ones too (bench-events expects no event there).
    let script = std::fs::read_to_string(out.join("script.txt")).unwrap();
    assert_eq!(script.lines().count(), 5, "{script}");
    assert!(
        script.lines().nth(3).unwrap().ends_with(" Thumb Up"),
        "{script}"
    );
    let weights = landmark_weights(tmp.path());
    let session = out.join("session.json");
    // bench-events on the session, then `extra` flags.
    let base = [
        "bench-events",
        "--weights",
        s(&weights),
        "--source",
        s(&session),
    ];
    fn bench<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    let r = run_ok(&bench(&base, &["--json"]));
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    let score = &v["score"];
    assert_eq!(
        score["hits"].as_u64().unwrap() + score["misses"].as_u64().unwrap(),
        2,
        "{v}"
    );
    // The live app's event settings are taken, and an impossible one is one error line. The
    // trace holds every prediction's probabilities: unsmoothed here, so each row sums to 1.
    let trace = tmp.path().join("trace.csv");
    let quiet = run_ok(&bench(
        &base,
        &[
            "--smoothing",
            "0",
            "--release",
            "0.2",
            "--window-ms",
            "1500",
            "--class-hold",
            "Stop Sign=0",
            "--trace",
            s(&trace),
            "--json",
        ],
    ));
    let q: Value = serde_json::from_slice(&quiet.stdout).unwrap();
    assert_eq!(q["frames"], v["frames"], "{q}");
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    // The small landmark model's four classes, in its order.
    assert_eq!(header, ["t_s", "a", "b", "c", "d"]);
    let rows: Vec<Vec<f64>> = rows
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len() as u64, q["predictions"].as_u64().unwrap());
    for r in &rows {
        let sum: f64 = r[1..].iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "{r:?}");
    }
    assert!(rows.windows(2).all(|w| w[1][0] > w[0][0]), "time runs on");
    let err = run_err(&bench(&base, &["--smoothing", "20000"]), "--smoothing");
    assert!(err.lines().count() <= 3, "{err}");
    run_err(
        &["handsynth", s(&out), "--session", "Waving"],
        "--session: 'Waving' is not one of Jester's 27",
    );
}
