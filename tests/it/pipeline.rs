//! The live pipeline end to end (source → capture thread → ring → worker → channel) on real
//! models: the label for a fixture clip equals what `classify` computes, the worker's feature
//! cache never outgrows the ring, stopping joins every thread within a second, a model slower
//! than the source drops frames instead of queueing them, headless JSON, bad input, a model
//! swapped into a running pipeline, and a model fed frame differences (RGBDiff) predicting from
//! exactly the frames it lists.

use crate::common;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use gesture_app::capture::{CameraSelector, SourceOptions, SourceSpec};
use gesture_app::live::events::EventSettings;
use gesture_app::live::{
    headless, FrameModel, GestureEvent, Pipeline, PipelineOptions, Prediction, WorkerMsg,
    WorkerOptions,
};
use gesture_app::model::config::ModelConfig;
use gesture_app::model::tsn::{BuildOptions, Tsn};
use gesture_app::testing::random_model;
use gesture_app::testing::write_generated_frames;
use gesture_app::weights::convert::{convert_checkpoint, ConvertOptions};
use gesture_app::{Arch, Consensus, GestureModel};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// squeezenet1_1 + TRNmultiscale N=8 with random weights at a 64-pixel input: the real model
/// code, small enough for debug-build tests on two cores.
fn small_config(classes: usize) -> ModelConfig {
    let labels = (0..classes).map(|i| format!("gesture {i}")).collect();
    let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::TrnMultiscale, 8, labels);
    cfg.input_size = 64;
    cfg.resize_size = 73;
    cfg
}

fn small_model() -> Arc<GestureModel> {
    Arc::new(random_model(&small_config(5), &Device::Cpu).unwrap())
}

/// Random weights for `cfg`, as a trained file would hold them (unfolded).
fn random_tensors(cfg: &ModelConfig) -> HashMap<String, Tensor> {
    let vm = VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
    Tsn::new(cfg, vb, BuildOptions::training(false, 0)).unwrap();
    let data = vm.data().lock().unwrap();
    data.iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect()
}

fn options(fps: f32, looping: bool) -> PipelineOptions {
    PipelineOptions {
        source: SourceOptions {
            fps: Some(fps),
            looping,
            ..SourceOptions::default()
        },
        worker: WorkerOptions {
            events: EventSettings {
                smoothing_ms: 0.0,
                ..EventSettings::default()
            },
            ..WorkerOptions::default()
        },
        max_source_fps: None,
    }
}

/// Everything a pipeline sends until it quits (or `timeout`).
struct Run {
    predictions: Vec<Prediction>,
    events: Vec<GestureEvent>,
    quit: Option<Option<String>>,
}

fn collect(pipeline: &Pipeline, timeout: Duration) -> Run {
    let mut run = Run {
        predictions: Vec::new(),
        events: Vec::new(),
        quit: None,
    };
    let end = Instant::now() + timeout;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match pipeline.messages().recv_timeout(left) {
            Ok(WorkerMsg::Prediction(p)) => run.predictions.push(p),
            Ok(WorkerMsg::Event(e)) => run.events.push(e),
            Ok(WorkerMsg::Quit(q)) => {
                run.quit = Some(q);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    run
}

/// `clip` played once at the model's clip rate of 12 fps, as a camera would deliver it, until
/// the pipeline quits (or a minute passes).
fn play_clip_once(model: Arc<GestureModel>, clip: &Path) -> Run {
    let mut pipeline = Pipeline::start(
        model,
        &SourceSpec::Folder(clip.to_path_buf()),
        &options(12.0, false),
        None,
    )
    .unwrap();
    let run = collect(&pipeline, Duration::from_secs(60));
    pipeline.stop();
    run
}

/// `gesture-app classify --json` on a clip folder: its label and softmax of its logits.
fn classify(weights: &Path, clip: &Path) -> (String, Vec<f32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_gesture-app"))
        .args(["classify", "--json", "--device", "cpu", "--weights"])
        .arg(weights)
        .arg(clip)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "classify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let logits: Vec<f32> = common::floats(&line["logits"]);
    let label = line["top"][0]["label"].as_str().unwrap().to_string();
    (label, gesture_app::live::worker::softmax(&logits))
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap()
}

#[test]
fn fixture_clip_gets_the_label_classify_gives() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let labels = common::jester_labels(&shared);
    let tmp = tempfile::tempdir().unwrap();
    for (case, consensus, n) in [
        ("squeezenet1_1_MLP_8seg", Consensus::Mlp, 8),
        (
            "squeezenet1_1_TRNmultiscale_3seg",
            Consensus::TrnMultiscale,
            3,
        ),
    ] {
        let weights = tmp.path().join(format!("{case}.safetensors"));
        convert_checkpoint(
            &shared.join("fixtures").join(format!("{case}.pth.tar")),
            &weights,
            &ConvertOptions {
                arch: Arch::SqueezeNet11,
                consensus,
                num_segments: n,
                labels: labels.clone(),
                img_feature_dim: None,
                clip_fps: 12.0,
            },
        )
        .unwrap();
        let model = Arc::new(gesture_app::weights::load_model(&weights, &Device::Cpu).unwrap());
        let clip = shared.join("fixtures").join(format!("{case}_frames"));
        let (want_label, want) = classify(&weights, &clip);

        let run = play_clip_once(model.clone(), &clip);
        assert_eq!(
            run.quit,
            Some(None),
            "{case}: the pipeline must end cleanly"
        );
        let last = run.predictions.last().expect("a prediction");
        // The whole clip, every frame once: exactly what classify samples from an N-frame clip.
        assert_eq!(last.frames, (0..n as u64).collect::<Vec<_>>(), "{case}");
        let got = argmax(&last.probs);
        assert_eq!(
            labels[got], want_label,
            "{case}: pipeline and classify disagree"
        );
        let max_diff = common::max_abs_diff(&last.probs, &want);
        assert!(
            max_diff < 1e-4,
            "{case}: probabilities differ by {max_diff}"
        );
    }
}

#[test]
fn worker_never_holds_more_than_the_ring_and_needs_one_pass_per_prediction() {
    let model = small_model();
    let tmp = tempfile::tempdir().unwrap();
    write_generated_frames(tmp.path(), 40).unwrap();
    // A short window makes the ring small, so the cache would overflow it within a second.
    let mut opts = options(30.0, true);
    opts.worker.window = Duration::from_millis(700);
    let mut pipeline =
        Pipeline::start(model, &SourceSpec::Folder(tmp.path().into()), &opts, None).unwrap();
    let capacity = pipeline.ring().capacity();
    let run = collect(&pipeline, Duration::from_secs(4));
    pipeline.stop();
    assert!(
        run.predictions.len() > 5,
        "{} predictions",
        run.predictions.len()
    );
    for p in &run.predictions {
        assert!(
            p.cached_features <= capacity,
            "cache {} > ring {capacity}",
            p.cached_features
        );
    }
    // After the first window, a prediction costs about one backbone pass, never N.
    let later = &run.predictions[1..];
    let passes: usize = later.iter().map(|p| p.backbone_passes).sum();
    assert!(
        later.iter().all(|p| p.backbone_passes <= 2),
        "{:?}",
        later.iter().map(|p| p.backbone_passes).collect::<Vec<_>>()
    );
    assert!(passes as f64 / later.len() as f64 <= 2.0);
}

#[test]
fn stopping_joins_every_thread_within_a_second() {
    let model = small_model();
    let tmp = tempfile::tempdir().unwrap();
    write_generated_frames(tmp.path(), 20).unwrap();
    for spec in [SourceSpec::Synthetic, SourceSpec::Folder(tmp.path().into())] {
        let mut pipeline =
            Pipeline::start(model.clone(), &spec, &options(30.0, true), None).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let took = pipeline.stop();
        assert!(took < Duration::from_secs(1), "stop took {took:?}");
        assert!(pipeline.is_finished());
        // The worker said goodbye, and nothing follows it.
        let msgs: Vec<WorkerMsg> = pipeline.messages().try_iter().collect();
        assert!(matches!(msgs.last(), Some(WorkerMsg::Quit(None))));
    }
}

/// A real model made slower than the source.
struct Slow<M> {
    inner: Arc<M>,
    delay: Duration,
}

impl<M: FrameModel> FrameModel for Slow<M> {
    fn config(&self) -> &ModelConfig {
        self.inner.config()
    }
    fn device(&self) -> &Device {
        self.inner.device()
    }
    fn frame_features(&self, frames: &Tensor) -> gesture_app::Result<Tensor> {
        std::thread::sleep(self.delay * frames.dim(0)? as u32);
        self.inner.frame_features(frames)
    }
    fn head(&self, features: &Tensor) -> gesture_app::Result<Tensor> {
        self.inner.head(features)
    }
}

#[test]
fn a_model_slower_than_the_source_drops_frames_instead_of_queueing() {
    // 30 fps in, 100 ms per frame through the backbone: the worker cannot keep up.
    let delay = Duration::from_millis(100);
    let model = Arc::new(Slow {
        inner: small_model(),
        delay,
    });
    let mut pipeline =
        Pipeline::start(model, &SourceSpec::Synthetic, &options(30.0, true), None).unwrap();
    let run = collect(&pipeline, Duration::from_secs(6));
    let captured = pipeline.ring().pushed();
    pipeline.stop();
    let preds = &run.predictions;
    assert!(preds.len() >= 8, "{} predictions", preds.len());
    // Frames were dropped: far fewer predictions than frames.
    assert!(
        (preds.len() as u64) < captured / 2,
        "{} of {captured}",
        preds.len()
    );
    // Bounded: after the first window, no prediction waits behind older work. A prediction
    // costs at most 2 passes, so its latency stays near 2 × delay + one frame, not growing. A
    // queue would push it past several seconds within the 6 s run; the margin absorbs a loaded
    // machine's scheduling hiccups (this is not a speed test).
    let later: Vec<f64> = preds[2..].iter().map(|p| p.latency.as_secs_f64()).collect();
    let bound = 2.0 * delay.as_secs_f64() + 0.8;
    assert!(
        later.iter().all(|&l| l < bound),
        "latencies {later:?} exceed {bound} s"
    );
    let third = later.len() / 3;
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    assert!(mean(&later[later.len() - third..]) <= mean(&later[..third]) + 0.05);
    // And each prediction used the newest frame there was.
    for p in &preds[2..] {
        assert_eq!(*p.frames.last().unwrap(), p.seq);
    }
}

#[test]
fn headless_prints_json_lines_for_events_and_predictions() {
    let model = small_model();
    let labels = model.config().labels.clone();
    let tmp = tempfile::tempdir().unwrap();
    write_generated_frames(tmp.path(), 30).unwrap();
    let mut opts = options(30.0, false);
    // A random model is unsure; a low threshold makes it fire. Events need a full window:
    // shorter than the 1 s clip.
    opts.worker.window = Duration::from_millis(500);
    opts.worker.events.threshold = 0.05;
    opts.worker.events.release = 0.0;
    let pipeline =
        Pipeline::start(model, &SourceSpec::Folder(tmp.path().into()), &opts, None).unwrap();
    let mut out = Vec::new();
    let summary = headless::run(&pipeline, &labels, true, None, &mut out).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        summary.predictions > 0 && summary.events >= 1,
        "{summary:?}"
    );
    assert_eq!(lines.len() as u64, summary.predictions + summary.events + 1);
    let end = lines.last().unwrap();
    assert_eq!(end["event"], "end");
    assert_eq!(end["predictions"], summary.predictions);
    assert_eq!(end["events"], summary.events);
    assert_eq!(end["frames_undecodable"], 0);
    let event = lines.iter().find(|l| l["event"] == "gesture").unwrap();
    assert!(event["t_ms"].is_u64() && event["prob"].is_f64());
    assert!(labels.iter().any(|l| event["label"] == l.as_str()));
    let pred = lines.iter().find(|l| l["event"] == "prediction").unwrap();
    assert_eq!(pred["top"].as_array().unwrap().len(), 5);
    assert!(pred["latency_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_sources_are_clear_errors() {
    let model = small_model();
    let tmp = tempfile::tempdir().unwrap();
    let start = |spec: SourceSpec| {
        Pipeline::start(model.clone(), &spec, &options(30.0, false), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let err = start(SourceSpec::Folder(tmp.path().into()));
    assert!(err.contains("no frames found"), "{err}");
    let err = start(SourceSpec::Camera(Some(CameraSelector::Index(97))));
    // "no camera with index 97; available: ..." (or the system's camera listing error).
    assert!(
        err.contains("camera") && err.contains("97") || err.contains("(listing)"),
        "{err}"
    );

    // A frame that cannot be decoded is dropped and counted; the stream goes on to its end.
    write_generated_frames(tmp.path(), 12).unwrap();
    std::fs::write(tmp.path().join("00011.jpg"), b"not a jpeg").unwrap();
    let pipeline = Pipeline::start(
        model.clone(),
        &SourceSpec::Folder(tmp.path().into()),
        &options(60.0, false),
        None,
    )
    .unwrap();
    assert_eq!(collect(&pipeline, Duration::from_secs(30)).quit, Some(None));
    let status = pipeline.ring().status();
    assert_eq!(status.undecodable(), 1);
    assert!(status.last_undecodable().unwrap().contains("00011.jpg"));
    assert_eq!(pipeline.ring().pushed(), 11);

    // Settings that do not fit the model are refused before anything opens.
    let mut opts = options(30.0, false);
    opts.worker.events.class_thresholds = vec![("Waving".into(), 0.5)];
    let err = Pipeline::start(model, &SourceSpec::Synthetic, &opts, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown class 'Waving'"), "{err}");
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gesture-app"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_headless_runs_and_reports_bad_input_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = small_config(5);
    let weights = tmp.path().join("small.safetensors");
    gesture_app::weights::save(&weights, &random_tensors(&cfg), &cfg).unwrap();
    let frames = tmp.path().join("clip");
    std::fs::create_dir(&frames).unwrap();
    write_generated_frames(&frames, 20).unwrap();
    let w = weights.to_str().unwrap();

    let (code, stdout, stderr) = cli(&[
        "--weights",
        w,
        "--headless",
        "--verbose-json",
        "--fps",
        "30",
        "--source",
        frames.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.lines().count() > 0, "{stderr}");
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["t_ms"].is_u64() || v["event"] == "end", "{line}");
    }

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let bad_weights = tmp.path().join("bad.safetensors");
    std::fs::write(&bad_weights, b"not weights").unwrap();
    for (args, needle) in [
        (
            vec![
                "--weights",
                w,
                "--headless",
                "--source",
                empty.to_str().unwrap(),
            ],
            "no frames found",
        ),
        (
            vec!["--weights", w, "--headless", "--source", "camera:97"],
            "camera",
        ),
        (
            vec![
                "--weights",
                bad_weights.to_str().unwrap(),
                "--headless",
                "--source",
                "synthetic",
            ],
            "bad.safetensors",
        ),
        (
            vec![
                "--weights",
                "/no/such.safetensors",
                "--headless",
                "--source",
                "synthetic",
            ],
            "such.safetensors",
        ),
        (
            vec![
                "--weights",
                w,
                "--headless",
                "--source",
                "synthetic",
                "--class-threshold",
                "Waving=0.5",
            ],
            "unknown class",
        ),
    ] {
        let (code, _, stderr) = cli(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// Waits for the first message `want` accepts, up to `timeout`.
fn wait_for<T>(
    pipeline: &Pipeline,
    timeout: Duration,
    mut want: impl FnMut(WorkerMsg) -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + timeout;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        let msg = pipeline.messages().recv_timeout(left).ok()?;
        if let Some(t) = want(msg) {
            return Some(t);
        }
    }
    None
}

#[test]
fn a_model_swapped_into_a_running_pipeline_predicts_its_own_classes_and_can_be_swapped_back() {
    let first = small_model();
    let mut pipeline = Pipeline::start(
        first.clone(),
        &SourceSpec::Synthetic,
        &options(30.0, true),
        None,
    )
    .unwrap();
    let prediction = |p: WorkerMsg| match p {
        WorkerMsg::Prediction(p) => Some(p),
        _ => None,
    };
    let swapped = |m: WorkerMsg| match m {
        WorkerMsg::ModelSwapped(r) => Some(r),
        _ => None,
    };
    let timeout = Duration::from_secs(30);
    assert_eq!(
        wait_for(&pipeline, timeout, prediction)
            .unwrap()
            .probs
            .len(),
        5
    );
    let old = pipeline.model();
    let captured = pipeline.ring().pushed();
    pipeline.swap_model(Arc::new(
        random_model(&small_config(3), &Device::Cpu).unwrap(),
    ));
    let labels = wait_for(&pipeline, timeout, swapped).unwrap().unwrap();
    assert_eq!(labels.len(), 3);
    assert_eq!(pipeline.model().config().labels, labels);
    // Capture went on, and every later prediction is the new model's.
    let p = wait_for(&pipeline, timeout, prediction).unwrap();
    assert_eq!(p.probs.len(), 3);
    assert!(pipeline.ring().pushed() > captured);
    pipeline.swap_model(old);
    assert_eq!(
        wait_for(&pipeline, timeout, swapped)
            .unwrap()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        wait_for(&pipeline, timeout, prediction)
            .unwrap()
            .probs
            .len(),
        5
    );
    pipeline.stop();
}

/// A model fed frame differences (RGBDiff) runs live on exactly the frames its predictions
/// list: with the source at the model's clip rate each segment is the listed frame and the
/// `new_length` frames before it (the first frame repeated before the clip starts), and the
/// live probabilities are the model's on those frames.
#[test]
fn a_frame_difference_model_predicts_live_from_the_frames_it_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("clip");
    std::fs::create_dir_all(&clip).unwrap();
    write_generated_frames(&clip, 20).unwrap();
    let mut cfg = small_config(5);
    cfg.consensus = Consensus::Mlp;
    cfg.num_segments = 4;
    cfg.modality = gesture_app::model::config::Modality::RgbDiff;
    cfg.new_length = 2;
    let weights = tmp.path().join("diff.safetensors");
    let model =
        Arc::new(gesture_app::testing::random_weights_file(&cfg, &weights, &Device::Cpu).unwrap());
    let run = play_clip_once(model.clone(), &clip);
    assert_eq!(run.quit, Some(None), "the pipeline must end cleanly");
    assert!(run.predictions.len() >= 10, "{}", run.predictions.len());
    assert!(run.predictions.iter().all(|p| p.backbone_passes <= 2));
    let files = gesture_app::preprocess::list_clip_frames(&clip).unwrap();
    for p in [&run.predictions[0], run.predictions.last().unwrap()] {
        let stacks: Vec<usize> = p
            .frames
            .iter()
            .flat_map(|&s| {
                (0..=2u64)
                    .rev()
                    .map(move |back| s.saturating_sub(back) as usize)
            })
            .collect();
        let frames: Vec<_> = stacks
            .iter()
            .map(|&i| gesture_app::preprocess::load_frame(&files[i]).unwrap())
            .collect();
        let x = gesture_app::preprocess::frames_to_tensor(&frames, model.config(), &Device::Cpu)
            .unwrap();
        assert_eq!(x.dims(), &[4, 6, 64, 64]);
        let logits: Vec<f32> = model
            .forward(&x.unsqueeze(0).unwrap())
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap();
        let want = gesture_app::live::worker::softmax(&logits);
        let max_diff = common::max_abs_diff(&p.probs, &want);
        assert!(
            max_diff < 1e-4,
            "frames {:?}: probabilities differ by {max_diff}",
            p.frames
        );
    }
}
