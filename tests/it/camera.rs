//! The camera path without a camera: the scripted fake camera (`capture::fake`) behind the same
//! seam nokhwa sits behind, through the real camera source, capture thread, ring, worker and
//! window. Corrupt frames are dropped and counted exactly while the stream goes on, a panicking
//! driver ends the pipeline with its cause within a second, a stall and an unplug are recovered
//! from, undecodable formats and modes not offered are explained, and the window keeps drawing
//! while a camera takes 5 s to open. From outside: a frame folder with broken JPEGs played
//! `--headless` still fires its gestures and reports the dropped frames; absurd flags are one
//! `error:` line.

use candle_core::Device;
use egui_kittest::kittest::Queryable;
use gesture_app::capture::fake::{FakeCamera, Step};
use gesture_app::capture::{
    CameraSystem, Capture, CaptureOptions, FrameRing, Mode, PixelFormat, RingState, SourceOptions,
    SourceSpec,
};
use gesture_app::live::{FrameModel, Pipeline, PipelineOptions, WorkerMsg};
use gesture_app::testing::random_model;
use gesture_app::{Arch, Consensus, ModelConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn small_model() -> Arc<dyn FrameModel> {
    let labels = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::TrnMultiscale, 8, labels);
    cfg.input_size = 64;
    cfg.resize_size = 73;
    Arc::new(random_model(&cfg, &Device::Cpu).unwrap())
}

fn camera_options(fake: &Arc<FakeCamera>) -> SourceOptions {
    SourceOptions {
        cameras: CameraSystem(fake.clone()),
        ..SourceOptions::default()
    }
}

/// The capture thread alone on the fake camera (no model: these tests are about frames).
fn capture(options: SourceOptions) -> Capture {
    let opener = SourceSpec::Camera(None).opener(&options).unwrap();
    Capture::start(opener, &CaptureOptions::default(), None).unwrap()
}

/// Waits until `done` holds on the ring, or panics after `timeout` saying `what`.
fn wait_for(ring: &FrameRing, timeout: Duration, what: &str, done: impl Fn(&FrameRing) -> bool) {
    let end = Instant::now() + timeout;
    while !done(ring) {
        assert!(
            Instant::now() < end,
            "{what} did not happen within {timeout:?}; health {:?}, state {:?}, {} frames",
            ring.status().health(),
            ring.state(),
            ring.pushed()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn corrupt_frames_are_dropped_and_counted_exactly_and_the_stream_goes_on() {
    let fake = Arc::new(FakeCamera::webcam().with_script([
        Step::Frames(4),
        Step::Garbage(3),
        Step::Frames(2),
        Step::Truncated(2),
        Step::Frames(3),
        Step::Garbage(1),
    ]));
    let cap = capture(camera_options(&fake));
    let ring = cap.ring();
    // 9 good frames in the script, then good frames for ever.
    wait_for(ring, Duration::from_secs(20), "20 good frames", |r| {
        r.pushed() >= 20
    });
    assert_eq!(ring.state(), RingState::Open);
    assert_eq!(ring.status().undecodable(), 6);
    let why = ring.status().last_undecodable().unwrap();
    assert!(why.contains("Fake Webcam") && why.contains("JPEG"), "{why}");
    assert_eq!(fake.opens(), 1, "no reopen for bad frames");
}

#[test]
fn a_panicking_driver_ends_the_pipeline_with_its_cause_within_a_second() {
    let fake = Arc::new(
        FakeCamera::webcam().with_script([Step::Frames(3), Step::Panic("driver exploded".into())]),
    );
    let options = PipelineOptions {
        source: camera_options(&fake),
        ..PipelineOptions::default()
    };
    let pipeline = Pipeline::start(small_model(), &SourceSpec::Camera(None), &options, None)
        .expect("the camera opens");
    let mut panicked_at = None;
    let quit = loop {
        if panicked_at.is_none() && fake.frames() >= 4 {
            panicked_at = Some(Instant::now());
        }
        match pipeline.messages().recv_timeout(Duration::from_millis(10)) {
            Ok(WorkerMsg::Quit(q)) => break q,
            Ok(_) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if let Some(t) = panicked_at {
                    assert!(t.elapsed() < Duration::from_secs(5), "no Quit: a hang");
                }
            }
            Err(e) => panic!("{e}"),
        }
    };
    let waited = panicked_at
        .expect("the panic frame was asked for")
        .elapsed();
    let why = quit.expect("a cause");
    assert!(
        why.contains("panicked") && why.contains("driver exploded"),
        "{why}"
    );
    assert!(waited < Duration::from_secs(1), "{waited:?}");
}

#[test]
fn a_stalled_camera_is_reported_and_reopened() {
    let fake = Arc::new(
        FakeCamera::webcam().with_script([Step::Frames(5), Step::Stall(Duration::from_secs(4))]),
    );
    let cap = capture(camera_options(&fake));
    let ring = cap.ring();
    wait_for(ring, Duration::from_secs(10), "the stall report", |r| {
        r.status()
            .health()
            .is_some_and(|h| h.contains("camera stalled"))
    });
    let before = ring.pushed();
    assert_eq!(before, 5);
    // Reopened while the old reader is still stuck: frames again, well before the stall ends.
    wait_for(ring, Duration::from_secs(10), "recovery", |r| {
        r.pushed() >= before + 10 && r.status().health().is_none()
    });
    assert!(fake.opens() >= 2, "reopened");
    assert_eq!(ring.state(), RingState::Open);
}

#[test]
fn an_unplugged_camera_is_waited_for_and_reconnected() {
    let fake = Arc::new(
        FakeCamera::webcam()
            .with_script([Step::Frames(5), Step::Unplug(Duration::from_millis(1500))]),
    );
    let cap = capture(camera_options(&fake));
    let ring = cap.ring();
    wait_for(ring, Duration::from_secs(10), "the loss report", |r| {
        r.status()
            .health()
            .is_some_and(|h| h.starts_with("camera lost, waiting for it"))
    });
    let lost_at = Instant::now();
    wait_for(ring, Duration::from_secs(15), "reconnection", |r| {
        r.pushed() >= 15 && r.status().health().is_none()
    });
    // Not before it was plugged back in.
    assert!(lost_at.elapsed() >= Duration::from_millis(1000));
    assert!(fake.opens() >= 2);
    assert_eq!(ring.state(), RingState::Open);
    assert!(ring.status().description().contains("Fake Webcam"));
}

#[test]
fn a_camera_with_only_undecodable_formats_is_an_error_naming_them() {
    let fake = Arc::new(FakeCamera::new(
        "Odd Cam",
        vec![
            Mode::new(PixelFormat::Other("H264".into()), 640, 480, 30),
            Mode::new(PixelFormat::Other("HEVC".into()), 1280, 720, 30),
        ],
    ));
    let options = PipelineOptions {
        source: camera_options(&fake),
        ..PipelineOptions::default()
    };
    let err = Pipeline::start(small_model(), &SourceSpec::Camera(None), &options, None)
        .err()
        .expect("an error")
        .to_string();
    assert!(
        err.contains("Odd Cam") && err.contains("(H264, HEVC)") && !err.contains("another program"),
        "{err}"
    );
}

#[test]
fn a_resolution_not_offered_gets_the_nearest_mode_named() {
    let fake = Arc::new(FakeCamera::new(
        "Fake Webcam",
        vec![
            Mode::new(PixelFormat::Mjpeg, 160, 120, 30),
            Mode::new(PixelFormat::Yuyv, 320, 240, 15),
            Mode::new(PixelFormat::Mjpeg, 320, 240, 30),
        ],
    ));
    let mut options = camera_options(&fake);
    options.resolution = Some((1920, 1080));
    let cap = capture(options);
    let nearest = Mode::new(PixelFormat::Mjpeg, 320, 240, 30);
    assert_eq!(fake.started_mode(), Some(nearest));
    let note = cap.ring().status().note().expect("a note");
    assert!(
        note.contains("1920x1080@30 is not offered") && note.contains("using 320x240@30 MJPEG"),
        "{note}"
    );
    assert!(cap.description().contains("320x240@30 MJPEG"));
    wait_for(cap.ring(), Duration::from_secs(10), "frames", |r| {
        r.latest().is_some()
    });
}

#[test]
fn the_window_keeps_drawing_while_the_camera_takes_5_s_to_open() {
    let fake = Arc::new(FakeCamera::webcam().with_open_delay(Duration::from_secs(5)));
    let options = PipelineOptions {
        source: camera_options(&fake),
        ..PipelineOptions::default()
    };
    let start = Instant::now();
    let mut h = crate::ui::window(SourceSpec::Camera(None), options, None);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "building the app waited for the camera"
    );
    // Frames keep being drawn, each quickly, while the camera opens.
    let mut slowest = Duration::ZERO;
    let mut steps = 0;
    while start.elapsed() < Duration::from_secs(3) {
        let t = Instant::now();
        h.step();
        slowest = slowest.max(t.elapsed());
        steps += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(steps >= 20, "{steps} frames in 3 s");
    assert!(slowest < Duration::from_secs(1), "a frame took {slowest:?}");
    assert!(h.query_by_label("opening camera…").is_some());
    assert_eq!(fake.opens(), 0, "still opening");
    // Then the camera is there and the notice goes.
    let end = Instant::now() + Duration::from_secs(20);
    while h.state().source_health().is_some() || fake.frames() == 0 {
        assert!(
            Instant::now() < end,
            "the camera never opened: {:?}",
            h.state().error()
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(2);
    assert!(h.query_by_label("opening camera…").is_none());
    assert!(h.query_by_label_contains("Fake Webcam").is_some());
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn a_recording_with_broken_jpegs_still_fires_its_gestures_headless() {
    // The first 10 s of the bundled recording: Swiping Left (frames 13-36), Swiping Right
    // (49-72), then a still hand (85-108). Frames broken in the gaps and one inside a gesture.
    let tmp = tempfile::tempdir().unwrap();
    let src = repo("assets/demo_clips/gestures");
    for i in 1..=120 {
        let name = format!("{i:05}.jpg");
        std::fs::copy(src.join(&name), tmp.path().join(&name)).unwrap();
    }
    let garbage = [5, 60, 80];
    let truncated = [42, 115];
    for i in garbage {
        std::fs::write(
            tmp.path().join(format!("{i:05}.jpg")),
            b"\xff\xd8 not a jpeg",
        )
        .unwrap();
    }
    for i in truncated {
        let path = tmp.path().join(format!("{i:05}.jpg"));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_gesture-app"))
        .args([
            "--weights",
            repo("weights/demo.safetensors").to_str().unwrap(),
        ])
        // Lock-step (`--batch`), so the test machine's load cannot skip a sample; the demo
        // test keeps real-time playback covered.
        .args([
            "--headless",
            "--batch",
            "--source",
            tmp.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("undecodable frame"), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let gestures: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "gesture")
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    assert_eq!(gestures, ["Swiping Left", "Swiping Right"], "{stderr}");
    let end = lines.last().unwrap();
    assert_eq!(end["event"], "end");
    assert_eq!(end["frames_undecodable"], 5, "{end}");
    assert_eq!(end["frames_captured"], 115, "{end}");
    assert_eq!(end["events"], 2);
}

#[test]
fn absurd_flag_values_are_one_error_line() {
    for (flag, value, range) in [
        ("--window-ms", "99999999999999", "100 to 10000"),
        ("--window-ms", "0", "100 to 10000"),
        ("--fps", "0", "1 to 240"),
        ("--fps", "NaN", "1 to 240"),
        ("--threshold", "1.5", "0 to 1"),
        ("--release", "-1", "0 to 1"),
        ("--smoothing", "1e12", "0 to 10000"),
        ("--resolution", "100000x5", "16 to 8192"),
        ("--clip-fps", "1000", "1 to 60"),
        ("--class-hold", "Stop Sign=-5", "0 to 10000"),
        ("--class-hold", "Stop Sign", "LABEL=MS"),
    ] {
        // `--flag=value`, so that negative numbers are values, not flags.
        let out = Command::new(env!("CARGO_BIN_EXE_gesture-app"))
            .args(["--headless", "--source", "synthetic"])
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value}: {stderr}");
        assert_ne!(out.status.code(), Some(134), "{flag} {value}: aborted");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{flag} {value}: {stderr}");
        assert!(
            errors[0].contains(flag) && errors[0].contains(range),
            "{flag} {value}: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{flag} {value}: nothing runs");
    }
}
