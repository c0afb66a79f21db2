//! The real camera stack (our V4L2 backend on the v4l crate) against emulated webcams
//! (tests/v4l2: an LD_PRELOAD library playing the kernel's part from a `v4l2-ctl` listing).
//! First the emulator is checked by V4L2 clients no one here wrote (v4l-utils' `v4l2-ctl`
//! prints every profile's listing back, `v4l2-compliance -s` passes), then the app runs on
//! every profile: `cameras` lists the modes, the live app streams at the mode asked or the
//! nearest it names, `record` records, and injected driver faults are survived the way the
//! fake-camera tests require (counted drops, "camera stalled" then reopen, "camera lost" then
//! back, one error line for a busy camera). Skips with a message where LD_PRELOAD cannot work
//! (not Linux with glibc) or v4l-utils is missing (CI installs it: .ci/run).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn profile(name: &str) -> PathBuf {
    repo(&format!("tests/v4l2/profiles/{name}.txt"))
}

const PROFILES: [&str; 5] = [
    "uvc-1080p",
    "laptop-integrated",
    "yuyv-stepwise",
    "obs-virtual",
    "old-v4l2-ctl-mjpeg",
];

/// The emulator library, built once for all tests (`None`, with a message: cannot work here).
fn emulator() -> Option<&'static Path> {
    static LIB: OnceLock<Option<PathBuf>> = OnceLock::new();
    LIB.get_or_init(|| {
        if !(cfg!(target_os = "linux") && cfg!(target_env = "gnu")) {
            eprintln!("skipped: the V4L2 emulator needs LD_PRELOAD on Linux with glibc");
            return None;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(repo(""))
            .args(["build", "--quiet", "-p", "v4l2-emu"])
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "building the emulator failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo("target"));
        let lib = target.join("debug/libv4l2_emu.so");
        assert!(lib.is_file(), "{} was not built", lib.display());
        Some(lib)
    })
    .as_deref()
}

/// Whether a v4l-utils tool is installed (a message when not).
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: {tool} (v4l-utils) is not installed");
    }
    ok
}

/// `COMMAND` under tests/v4l2/with-camera with `profile`, the test pattern and `faults`.
fn with_camera(lib: &Path, profile: &Path, faults: &str, command: &[&str]) -> Command {
    with_camera_showing(lib, profile, "-", faults, command)
}

/// [`with_camera`] serving `frames` (a frame folder or video; `-`: the test pattern).
fn with_camera_showing(
    lib: &Path,
    profile: &Path,
    frames: &str,
    faults: &str,
    command: &[&str],
) -> Command {
    let mut c = Command::new(repo("tests/v4l2/with-camera"));
    c.arg(profile)
        .arg(frames)
        .arg("--")
        .args(command)
        .env("V4L2EMU_LIB", lib)
        .env("V4L2EMU_FAULTS", faults);
    c
}

fn app() -> &'static str {
    env!("CARGO_BIN_EXE_gesture-app")
}

fn demo_weights() -> String {
    repo("weights/demo.safetensors").display().to_string()
}

/// The listing lines of a v4l2-ctl output or profile: from the first format on, of the first
/// node, whitespace-trimmed (v4l2-ctl prints one device).
fn listing(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut started = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            started = true;
        }
        if started && line.starts_with("Driver Info") {
            break;
        }
        if started && !line.is_empty() {
            out.push(line.to_string());
        }
    }
    out
}

#[test]
fn v4l2_ctl_prints_every_profile_back() {
    let Some(lib) = emulator() else { return };
    if !have("v4l2-ctl") {
        return;
    }
    for name in PROFILES {
        let out = with_camera(lib, &profile(name), "", &["v4l2-ctl", "--list-formats-ext"])
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = if name == "old-v4l2-ctl-mjpeg" {
            // The older layout, as v4l2-ctl 1.22 prints the same modes (a one-value stepwise
            // interval is the discrete one it stands for).
            listing(
                "[0]: 'MJPG' (Motion-JPEG, compressed)
                 Size: Discrete 1280x720
                 Interval: Discrete 0.033s (30.000 fps)
                 Size: Discrete 640x480
                 Interval: Discrete 0.033s (30.000 fps)
                 [1]: 'YUYV' (YUYV 4:2:2)
                 Size: Discrete 640x480
                 Interval: Discrete 0.033s (30.000 fps)
                 Interval: Discrete 0.067s (15.000 fps)",
            )
        } else {
            listing(&std::fs::read_to_string(profile(name)).unwrap())
        };
        assert_eq!(listing(&printed), expected, "{name}:\n{printed}");
    }
}

#[test]
fn v4l2_compliance_passes_format_buffer_and_streaming_tests() {
    let Some(lib) = emulator() else { return };
    if !have("v4l2-compliance") {
        return;
    }
    for name in ["uvc-1080p", "obs-virtual"] {
        let out = with_camera(
            lib,
            &profile(name),
            "",
            &["v4l2-compliance", "-d", "/dev/video0", "-s"],
        )
        .output()
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let total = text
            .lines()
            .find(|l| l.starts_with("Total for"))
            .unwrap_or_else(|| panic!("{name}: no total in\n{text}"));
        assert!(total.contains("Failed: 0"), "{name}: {total}\n{text}");
        assert!(text.contains("test MMAP (select): OK"), "{name}:\n{text}");
        assert!(text.contains("test MMAP (epoll): OK"), "{name}:\n{text}");
    }
}

fn cameras(lib: &Path, name: &str) -> String {
    let out = with_camera(lib, &profile(name), "", &[app(), "cameras"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{name}: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Whether `listing` has the mode line `mode` (`WxH@FPS FORMAT`) marked `mark`.
fn lists(listing: &str, mode: &str, mark: &str) -> bool {
    listing.lines().any(|l| {
        let l = l.trim();
        l.starts_with(mode) && l[mode.len()..].trim() == mark
    })
}

#[test]
fn cameras_lists_each_profiles_modes_and_skips_metadata_nodes() {
    let Some(lib) = emulator() else { return };
    let uvc = cameras(lib, "uvc-1080p");
    assert!(uvc.starts_with("camera:0  HD Pro Webcam C920\n"), "{uvc}");
    for (mode, mark) in [
        ("640x480@30 YUYV", "decoded"),
        ("640x480@8 YUYV", "decoded"), // 7.5 fps, to the nearest whole rate
        ("1920x1080@5 YUYV", "decoded"),
        ("1920x1080@30 MJPEG", "decoded"),
        ("320x240@30 MJPEG", "decoded"),
        ("1920x1080@30 H264", "not decoded by this app"),
    ] {
        assert!(lists(&uvc, mode, mark), "{mode} {mark}:\n{uvc}");
    }
    assert_eq!(uvc.lines().filter(|l| l.contains('@')).count(), 21, "{uvc}");

    let laptop = cameras(lib, "laptop-integrated");
    assert_eq!(laptop.matches("camera:").count(), 1, "{laptop}");
    assert!(lists(&laptop, "1280x720@10 YUYV", "decoded"), "{laptop}");
    assert!(lists(&laptop, "1280x720@30 MJPEG", "decoded"), "{laptop}");

    let stepwise = cameras(lib, "yuyv-stepwise");
    assert!(stepwise.contains("Emulated Webcam"), "{stepwise}");
    for mode in [
        "32x32@30 YUYV",
        "640x480@30 YUYV",
        "1280x720@30 YUYV",
        "1920x1080@30 YUYV",
    ] {
        assert!(lists(&stepwise, mode, "decoded"), "{mode}:\n{stepwise}");
    }

    let obs = cameras(lib, "obs-virtual");
    assert!(obs.contains("OBS Virtual Camera"), "{obs}");
    assert!(lists(&obs, "1280x720@30 YU12", "decoded"), "{obs}");

    let old = cameras(lib, "old-v4l2-ctl-mjpeg");
    assert!(lists(&old, "1280x720@30 MJPEG", "decoded"), "{old}");
    assert!(lists(&old, "640x480@15 YUYV", "decoded"), "{old}");
}

/// A running `gesture-app --headless` on an emulated camera, its stderr lines and stdout JSON
/// lines arriving on channels.
struct Live {
    child: Child,
    err: mpsc::Receiver<String>,
    out: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// Stderr lines read by [`Live::predictions`] that [`Live::expect_err`] has not looked at.
    pending: Vec<String>,
}

impl Live {
    fn start(lib: &Path, name: &str, faults: &str, args: &[&str]) -> Live {
        let weights = demo_weights();
        let mut command = vec![
            app(),
            "--weights",
            weights.as_str(),
            "--headless",
            "--verbose-json",
        ];
        command.extend_from_slice(args);
        Live::spawn(with_camera(lib, &profile(name), faults, &command))
    }

    fn spawn(mut command: Command) -> Live {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let err = pipe(Box::new(child.stderr.take().unwrap()));
        let out = pipe(Box::new(child.stdout.take().unwrap()));
        Live {
            child,
            err,
            out,
            seen: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `text` (or takes one already read while waiting for
    /// predictions, not yet taken), failing with everything seen after `secs`.
    fn expect_err(&mut self, text: &str, secs: u64) -> String {
        if let Some(i) = self.pending.iter().position(|l| l.contains(text)) {
            return self.pending.drain(..=i).next_back().unwrap();
        }
        self.pending.clear();
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            while let Ok(l) = self.out.try_recv() {
                self.seen.push(format!("out: {l}"));
            }
            if let Ok(l) = self.err.recv_timeout(Duration::from_millis(50)) {
                self.seen.push(l.clone());
                if l.contains(text) {
                    return l;
                }
            }
        }
        panic!(
            "no '{text}' within {secs} s; saw:\n{}",
            self.seen.join("\n")
        );
    }

    /// Waits for `n` more prediction lines; returns the last.
    fn predictions(&mut self, n: usize, secs: u64) -> serde_json::Value {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut got = 0;
        while Instant::now() < end {
            while let Ok(l) = self.err.try_recv() {
                self.seen.push(l.clone());
                self.pending.push(l);
            }
            if let Ok(l) = self.out.recv_timeout(Duration::from_millis(50)) {
                let v: serde_json::Value = serde_json::from_str(&l).unwrap();
                if v["event"] == "prediction" {
                    got += 1;
                    if got >= n {
                        return v;
                    }
                }
            }
        }
        panic!(
            "{got} of {n} predictions within {secs} s; saw:\n{}",
            self.seen.join("\n")
        );
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_live_app_streams_every_profile_at_the_mode_asked_or_the_nearest_named() {
    let Some(lib) = emulator() else { return };
    for (name, args, source) in [
        (
            "uvc-1080p",
            &["--resolution", "1280x720", "--fps", "30"][..],
            "1280x720@30 MJPEG",
        ),
        (
            "laptop-integrated",
            &["--resolution", "1280x720", "--fps", "10"][..],
            "1280x720@10 YUYV",
        ),
        ("yuyv-stepwise", &[][..], "640x480@30 YUYV"),
        ("obs-virtual", &[][..], "1280x720@30 YU12"),
        (
            "old-v4l2-ctl-mjpeg",
            &["--resolution", "1280x720"][..],
            "1280x720@30 MJPEG",
        ),
    ] {
        let mut live = Live::start(lib, name, "", args);
        let line = live.expect_err("source camera", 60);
        assert!(line.contains(source), "{name}: {line}");
        live.predictions(3, 60);
    }
    // Not offered: the nearest, named.
    let mut live = Live::start(lib, "laptop-integrated", "", &["--resolution", "1920x1080"]);
    let note = live.expect_err("nearest", 60);
    assert!(
        note.contains("1920x1080@30 is not offered") && note.contains("1280x720@30 MJPEG"),
        "{note}"
    );
    live.predictions(2, 60);
}

#[test]
fn corrupt_truncated_and_empty_frames_are_dropped_and_counted() {
    let Some(lib) = emulator() else { return };
    // MJPEG at 15 fps: frames 20-22 garbage, 30 cut in half, 40 empty: 5 bad frames, each
    // dropped and counted when it reaches the decoder, and the stream goes on. (A frame the
    // capture thread is too busy to take is skipped before decoding, as any frame is when the
    // machine is loaded, so the count may fall short of 5; it never exceeds it.)
    let mut live = Live::start(
        lib,
        "uvc-1080p",
        "corrupt@20-22,truncate@30,empty@40",
        &["--resolution", "640x480", "--fps", "15"],
    );
    live.expect_err("source camera", 60);
    // Frame 40 is at 2.7 s; 60 more frames after it.
    let end = Instant::now() + Duration::from_secs(8);
    let mut last = serde_json::Value::Null;
    while Instant::now() < end {
        last = live.predictions(1, 60);
    }
    let n = last["frames_undecodable"].as_u64().unwrap();
    assert!(
        (3..=5).contains(&n),
        "{n} drops: {last}\n{}",
        live.seen.join("\n")
    );
    let why = live.expect_err("undecodable frame", 30);
    assert!(
        why.contains("HD Pro Webcam C920") && why.contains("JPEG"),
        "{why}"
    );
}

#[test]
fn unplug_eio_and_stall_are_survived_and_busy_is_one_error_line() {
    let Some(lib) = emulator() else { return };
    // Unplugged at frame 30 for 1.5 s: "camera lost", then frames again.
    let mut live = Live::start(lib, "uvc-1080p", "enodev@30:1.5", &[]);
    live.expect_err("source camera", 60);
    live.expect_err("camera lost", 30);
    live.expect_err("source back", 30);
    live.predictions(2, 30);
    drop(live);
    // A driver error.
    let mut live = Live::start(lib, "uvc-1080p", "eio@30", &[]);
    live.expect_err("camera lost", 60);
    live.expect_err("source back", 30);
    drop(live);
    // No frame for 4 s after frame 30: "camera stalled", reopened, frames again.
    let mut live = Live::start(lib, "laptop-integrated", "stall@30:4", &[]);
    live.expect_err("camera stalled", 60);
    live.expect_err("source back", 30);
    live.predictions(2, 30);
    drop(live);
    // S_FMT answered with another size, S_PARM missing: runs at what the driver gives, named.
    let mut live = Live::start(lib, "uvc-1080p", "sfmt=320x240,sparm=notty", &[]);
    let line = live.expect_err("source camera", 60);
    assert!(line.contains("320x240@30 MJPEG"), "{line}");
    live.predictions(2, 30);
    drop(live);
    // Busy: one error line, no panic.
    let weights = demo_weights();
    let out = with_camera(
        lib,
        &profile("uvc-1080p"),
        "busy",
        &[
            app(),
            "--weights",
            weights.as_str(),
            "--headless",
            "--source",
            "camera",
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("busy"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn record_records_from_an_emulated_camera() {
    let Some(lib) = emulator() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("set");
    let out = with_camera(
        lib,
        &profile("yuyv-stepwise"),
        "",
        &[
            app(),
            "record",
            "--out",
            out_dir.to_str().unwrap(),
            "--label",
            "Wave",
            "--clips",
            "1",
            "--seconds",
            "1",
            "--countdown",
            "0",
            "--source",
            "camera",
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let frames = walk(&out_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .count();
    // 1 s at 30 fps; fewer when the machine is loaded (frames are stored as they arrive).
    assert!(frames >= 3, "{frames} frames recorded; {stderr}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A first run on a webcam: no --weights, no --source. The camera shows a real hand (opencv-doc's
/// right04.jpg through a sliding window); the hand model runs, says so, and tracks the hand.
#[test]
fn with_a_camera_and_no_weights_the_hand_model_runs_and_tracks_the_hand() {
    let Some(lib) = emulator() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let photo = image::open(repo("tests/fixtures/hands/photos/right04.jpg"))
        .unwrap()
        .to_rgb8();
    for i in 0..24u32 {
        let step = if i < 12 { i } else { 24 - i };
        image::imageops::crop_imm(&photo, 3 * step, 2 * step, 600, 440)
            .to_image()
            .save(tmp.path().join(format!("{:05}.jpg", i + 1)))
            .unwrap();
    }
    let mut live = Live::spawn(with_camera_showing(
        lib,
        &profile("yuyv-stepwise"),
        tmp.path().to_str().unwrap(),
        "",
        &[app(), "--headless", "--verbose-json"],
    ));
    live.expect_err("Hand model:", 60);
    // Built in, or the copy in the source tree a test build finds first.
    let line = live.expect_err("jester_hands.safetensors on", 60);
    assert!(line.contains("source camera"), "{line}");
    // The window (8 segments) fills, then every prediction reads the tracked hand.
    let p = live.predictions(12, 120);
    let hands = p["hands"].as_array().expect("the hands the model read");
    assert_eq!(hands.len(), 1, "{p}");
    assert_eq!(hands[0]["landmarks"].as_array().unwrap().len(), 21);
}
