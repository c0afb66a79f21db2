//! Gesture actions end to end, on the bundled recording (`--demo`, its gestures listed in
//! `assets/demo_clips/gestures/script.txt`): `exec:` programs run once per recorded gesture, in
//! order, only when armed, and the run waits for them; `key:` chords reach a focused window of
//! a real X server (Xvfb); bad maps are refused with one line naming the place; a missing or
//! hanging program, keys without a display and arming gestures leave the run going.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The recorded gestures, in order (the script less its still-hand stretches).
fn gestures() -> Vec<String> {
    let text = std::fs::read_to_string(repo("assets/demo_clips/gestures/script.txt"))
        .expect("the bundled recording's script.txt");
    let labels: Vec<String> = text
        .lines()
        .map(|l| {
            l.splitn(3, ' ')
                .nth(2)
                .expect("FIRST LAST LABEL")
                .to_string()
        })
        .filter(|l| l != "No gesture")
        .collect();
    assert_eq!(labels.len(), 8);
    labels
}

/// `gesture-app --headless --demo ARGS...` without a display unless `display` names one.
fn demo(args: &[String], display: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gesture-app"));
    c.args(["--headless", "--demo"]).args(args);
    c.env_remove("WAYLAND_DISPLAY");
    match display {
        Some(d) => c.env("DISPLAY", d),
        None => c.env_remove("DISPLAY"),
    };
    c
}

/// The JSON lines of a run's stdout (every line must be one).
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn of_event<'a>(lines: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|v| v["event"] == event).collect()
}

/// `--on` flags that append each gesture's label to `file`, after a pause: the last gesture
/// fires as the recording ends, so its line is there only if the run waits for it.
fn append_flags(file: &Path) -> Vec<String> {
    let file = file.to_str().unwrap();
    gestures()
        .iter()
        .map(|g| {
            let words = [
                "sh",
                "-c",
                "sleep 0.5; printf '%s\\n' \"$1\" >> \"$2\"",
                "sh",
                g,
                file,
            ];
            format!("--on={g}=exec:{}", shell_words::join(words))
        })
        .collect()
}

#[test]
fn exec_actions_append_the_recorded_gestures_in_order_only_when_armed() {
    let tmp = tempfile::tempdir().unwrap();
    let armed_file = tmp.path().join("armed.txt");
    let disarmed_file = tmp.path().join("disarmed.txt");
    let mut armed_args = append_flags(&armed_file);
    armed_args.push("--armed".into());
    // Both runs at once: each plays the 30 s recording in real time.
    let spawn = |args: &[String]| {
        demo(args, None)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let armed = spawn(&armed_args);
    let disarmed = spawn(&append_flags(&disarmed_file));
    let armed = armed.wait_with_output().unwrap();
    let disarmed = disarmed.wait_with_output().unwrap();

    let err = String::from_utf8_lossy(&armed.stderr);
    assert!(armed.status.success(), "{err}");
    assert!(err.contains("actions: 8 gesture(s) mapped, armed"), "{err}");
    let written = std::fs::read_to_string(&armed_file).unwrap_or_default();
    assert_eq!(
        written.lines().collect::<Vec<_>>(),
        gestures(),
        "one line per recorded gesture, in order; stderr: {err}"
    );
    let lines = json_lines(&armed);
    let events = of_event(&lines, "gesture");
    assert_eq!(events.len(), 8);
    for e in &events {
        assert_eq!(e["action"]["status"], "started", "{e}");
    }
    let done = of_event(&lines, "action");
    assert_eq!(
        done.len(),
        8,
        "every program reported back before the run ended"
    );
    for d in &done {
        assert_eq!(
            (&d["status"], &d["exit_code"]),
            (&"done".into(), &0.into()),
            "{d}"
        );
    }

    let err = String::from_utf8_lossy(&disarmed.stderr);
    assert!(disarmed.status.success(), "{err}");
    assert!(err.contains("disarmed (nothing fires until armed"), "{err}");
    assert!(!disarmed_file.exists(), "a disarmed run ran a program");
    let lines = json_lines(&disarmed);
    let events = of_event(&lines, "gesture");
    assert_eq!(events.len(), 8);
    for e in &events {
        assert_eq!(e["action"]["reason"], "disarmed", "{e}");
    }
}

/// A map file in `dir` with `text`.
fn map_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("actions.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A run that must fail at start: exit 1, one `error:` line mentioning `says`.
fn assert_refused(args: &[String], says: &str) {
    let out = demo(args, None).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(says), "'{says}' not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "started anyway");
}

#[test]
fn bad_maps_are_refused_at_start_naming_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = map_file(
        tmp.path(),
        "# gestures\n[gestures]\n\"Swiping Left\" = \"key:Left\"\n\"Swiping Right\" = \"key:ctrl+Rihgt\"\n",
    );
    let file_arg = format!("--actions={}", file.display());
    assert_refused(
        std::slice::from_ref(&file_arg),
        &format!("{}:4: 'Swiping Right': unknown key 'Rihgt'", file.display()),
    );
    let file = map_file(tmp.path(), "[gestures]\n\n\"Waving\" = \"print:hi\"\n");
    assert_refused(
        &[format!("--actions={}", file.display())],
        &format!(
            "{}:3: unknown gesture 'Waving' (the model's classes: ",
            file.display()
        ),
    );
    assert_refused(
        &["--on".into(), "Swiping Up=key:ctrl+alt".into()],
        "--on \"Swiping Up=key:ctrl+alt\": 'Swiping Up': chord 'ctrl+alt' has no key after its modifiers",
    );
    assert_refused(
        &["--on".into(), "Thumbs Up=key:Up".into()],
        "--on \"Thumbs Up=key:Up\": unknown gesture 'Thumbs Up'",
    );
    assert_refused(
        &[
            "--actions".into(),
            tmp.path().join("none.toml").display().to_string(),
        ],
        "cannot read the action map",
    );
}

#[test]
fn failing_programs_missing_keys_and_arming_gestures_leave_the_run_going() {
    let tmp = tempfile::tempdir().unwrap();
    let file = map_file(
        tmp.path(),
        r#"timeout_s = 1
[gestures]
"Swiping Left" = "exec:no-such-program-gesture-app --flag"
"Swiping Right" = "exec:sleep 30"
"Swiping Up" = "print:up it goes"
"Swiping Down" = "key:Down"
"Zooming In With Full Hand" = "toggle-arm"
"Zooming Out With Full Hand" = "print:not while disarmed"
"Turning Hand Clockwise" = "arm"
"Turning Hand Counterclockwise" = { do = "exec:sh -c 'echo said; exit 3'", timeout_s = 5 }
"#,
    );
    let start = Instant::now();
    let out = demo(
        &[format!("--actions={}", file.display()), "--armed".into()],
        None,
    )
    .output()
    .unwrap();
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        took < Duration::from_secs(60),
        "the hanging program held the run: {took:?}"
    );
    assert_eq!(
        err.matches("cannot send keys: no X server (DISPLAY is not set)")
            .count(),
        1,
        "said once: {err}"
    );
    let lines = json_lines(&out);
    let events = of_event(&lines, "gesture");
    let statuses: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let a = &e["action"];
            let s = a["reason"].as_str().or(a["status"].as_str()).unwrap();
            (e["label"].as_str().unwrap().to_string(), s.to_string())
        })
        .collect();
    let expected: Vec<(String, String)> = gestures()
        .into_iter()
        .zip([
            "started",
            "started",
            "done",
            "injection unavailable",
            "done",
            "disarmed",
            "done",
            "started",
        ])
        .map(|(g, s)| (g, s.to_string()))
        .collect();
    assert_eq!(statuses, expected, "stderr: {err}");
    let prints = of_event(&lines, "print");
    assert_eq!(prints.len(), 1, "{prints:?}");
    assert_eq!(prints[0]["text"], "up it goes");
    let done = of_event(&lines, "action");
    let detail = |label: &str| -> &serde_json::Value {
        done.iter()
            .find(|d| d["label"] == label)
            .unwrap_or_else(|| panic!("no completion for {label}: {done:?}"))
    };
    let missing = detail("Swiping Left");
    assert_eq!(missing["status"], "failed");
    assert_eq!(
        missing["detail"],
        "cannot run 'no-such-program-gesture-app': program not found"
    );
    let hung = detail("Swiping Right");
    assert_eq!(hung["detail"], "timed out after 1 s: killed");
    let code = detail("Turning Hand Counterclockwise");
    assert_eq!(
        (&code["exit_code"], &code["output"]),
        (&3.into(), &"said".into())
    );
    assert!(err.contains("exited with code 3"), "logged: {err}");
    assert!(err.contains("  | said"), "its output is logged: {err}");
}

/// A free X display number for Xvfb.
fn free_display() -> u32 {
    let base = 90 + std::process::id() % 500;
    (base..base + 100)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free display number")
}

/// Whether Xvfb is installed; where it must be (CI), its absence fails the test.
fn have_xvfb() -> bool {
    let found = Command::new("Xvfb")
        .arg("-help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    let required = std::env::var("CI").as_deref() == Ok("true")
        || std::env::var("GESTURE_APP_REQUIRE_XVFB").as_deref() == Ok("1");
    if !found && required {
        panic!("Xvfb is required here (CI=true or GESTURE_APP_REQUIRE_XVFB=1) but not installed: apt-get install xvfb");
    }
    if !found {
        eprintln!(
            "SKIPPED: Xvfb not found; the key-injection test needs it (apt-get install xvfb)"
        );
    }
    found
}

/// Kills the X server when the test ends, however it ends.
struct Xvfb(std::process::Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

mod x {
    //! A test X client: a focused window that records the keys it receives.

    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        ConnectionExt, CreateWindowAux, EventMask, InputFocus, KeyButMask, WindowClass,
    };
    use x11rb::protocol::Event;
    use x11rb::rust_connection::RustConnection;

    pub struct Client {
        conn: RustConnection,
        min_keycode: u8,
        per_keycode: u8,
        keysyms: Vec<u32>,
        /// (keysym, modifiers) of each key pressed, modifier keys left out.
        pub pressed: Vec<(u32, u16)>,
    }

    impl Client {
        pub fn connect(display: &str) -> Option<Client> {
            let (conn, screen) = x11rb::connect(Some(display)).ok()?;
            let root = conn.setup().roots[screen].root;
            let win = conn.generate_id().ok()?;
            conn.create_window(
                0,
                win,
                root,
                0,
                0,
                200,
                200,
                0,
                WindowClass::INPUT_OUTPUT,
                0,
                &CreateWindowAux::new()
                    .event_mask(EventMask::KEY_PRESS | EventMask::STRUCTURE_NOTIFY),
            )
            .ok()?;
            conn.map_window(win).ok()?;
            conn.flush().ok()?;
            loop {
                if let Event::MapNotify(_) = conn.wait_for_event().ok()? {
                    break;
                }
            }
            conn.set_input_focus(InputFocus::PARENT, win, x11rb::CURRENT_TIME)
                .ok()?
                .check()
                .ok()?;
            let mut c = Client {
                min_keycode: conn.setup().min_keycode,
                conn,
                per_keycode: 0,
                keysyms: Vec::new(),
                pressed: Vec::new(),
            };
            c.read_mapping()?;
            Some(c)
        }

        /// The keysym of each keycode (first column); re-read when it changes, as enigo
        /// binds keys the keymap lacks to spare keycodes.
        fn read_mapping(&mut self) -> Option<()> {
            let setup = self.conn.setup();
            let (min, max) = (setup.min_keycode, setup.max_keycode);
            let reply = self
                .conn
                .get_keyboard_mapping(min, max - min + 1)
                .ok()?
                .reply()
                .ok()?;
            self.per_keycode = reply.keysyms_per_keycode;
            self.keysyms = reply.keysyms;
            Some(())
        }

        /// Takes the events that have arrived.
        pub fn poll(&mut self) {
            while let Ok(Some(event)) = self.conn.poll_for_event() {
                match event {
                    Event::MappingNotify(_) => {
                        self.read_mapping();
                    }
                    Event::KeyPress(k) => {
                        let i = (k.detail - self.min_keycode) as usize * self.per_keycode as usize;
                        let sym = self.keysyms.get(i).copied().unwrap_or(0);
                        // Shift_L ... Hyper_R: the chord's modifiers, seen in `state`.
                        if !(0xffe1..=0xffee).contains(&sym) {
                            let mods = KeyButMask::SHIFT | KeyButMask::CONTROL | KeyButMask::MOD1;
                            self.pressed.push((sym, u16::from(k.state & mods)));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn key_actions_reach_the_focused_window_of_an_x_server() {
    if !have_xvfb() {
        return;
    }
    let n = free_display();
    let display = format!(":{n}");
    let _xvfb = Xvfb(
        Command::new("Xvfb")
            .args([&display, "-screen", "0", "640x480x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb"),
    );
    let started = Instant::now();
    let mut client = loop {
        if let Some(c) = x::Client::connect(&display) {
            break c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "Xvfb {display} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // (chord, keysym, Shift 1 | Control 4 | Mod1 (Alt) 8), keysyms from X11's keysymdef.h and
    // XF86keysym.h.
    let chords: [(&str, u32, u16); 8] = [
        ("Left", 0xff51, 0),
        ("Right", 0xff53, 0),
        ("ctrl+alt+Up", 0xff52, 4 | 8),
        ("shift+Down", 0xff54, 1),
        ("ctrl+a", 0x61, 4),
        ("MediaPlayPause", 0x1008_ff14, 0),
        ("VolumeUp", 0x1008_ff13, 0),
        ("F5", 0xffc2, 0),
    ];
    let mut args: Vec<String> = gestures()
        .iter()
        .zip(chords)
        .map(|(g, (chord, ..))| format!("--on={g}=key:{chord}"))
        .collect();
    args.push("--armed".into());
    let mut app = demo(&args, Some(&display))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the window's events while the app runs (its output is small enough for the pipes).
    while app.try_wait().unwrap().is_none() {
        client.poll();
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = app.wait_with_output().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    client.poll();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("cannot send keys"), "{err}");
    let expected: Vec<(u32, u16)> = chords.iter().map(|&(_, sym, m)| (sym, m)).collect();
    assert_eq!(client.pressed, expected, "keys received; stderr: {err}");
    let lines = json_lines(&out);
    let done: Vec<String> = of_event(&lines, "action")
        .iter()
        .map(|d| d["detail"].as_str().unwrap().to_string())
        .collect();
    let said: Vec<String> = chords
        .iter()
        .map(|(c, ..)| format!("pressed {c}"))
        .collect();
    assert_eq!(done, said);
}

/// The window on the bundled model and recording, with a `print:` for every gesture.
fn window(armed: bool) -> egui_kittest::Harness<'static, gesture_app::ui::LiveApp> {
    use gesture_app::actions::ActionMap;
    use gesture_app::capture::SourceSpec;
    use gesture_app::ui::{AppInit, LiveApp};
    let model = gesture_app::weights::load_model(
        &repo("weights/demo.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let mut map = ActionMap::default();
    let flags: Vec<String> = gestures()
        .iter()
        .map(|g| format!("{g}=print:did {g}"))
        .collect();
    map.add_flags(&flags).unwrap();
    map.resolve(&model.config().labels).unwrap();
    let init = AppInit {
        model: Some(std::sync::Arc::new(model)),
        loader: None,
        weights_text: String::new(),
        model_facts: Vec::new(),
        source: Some(SourceSpec::Folder(repo("assets/demo_clips"))),
        options: Default::default(),
        notice: None,
        startup_error: None,
        given: Default::default(),
        actions: Some(map),
        armed,
        teach_dir: None,
        teach_open: false,
    };
    egui_kittest::Harness::builder()
        .with_size(egui::Vec2::new(1180.0, 760.0))
        .build_eframe(move |cc| LiveApp::new(init, &cc.egui_ctx, None))
}

/// Steps the window until a line of its action log contains `text`.
fn wait_for_log(h: &mut egui_kittest::Harness<'static, gesture_app::ui::LiveApp>, text: &str) {
    let end = Instant::now() + Duration::from_secs(40);
    while Instant::now() < end {
        h.step();
        if h.state().action_log().any(|l| l.contains(text)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log: Vec<&str> = h.state().action_log().collect();
    panic!("no '{text}' in the action log within 40 s: {log:?}");
}

#[test]
fn the_window_shows_the_map_and_arms_with_its_switch() {
    use egui_kittest::kittest::Queryable;
    let mut h = window(false);
    h.step();
    // The map's rows (the gesture's name may also be the current prediction's).
    assert!(h.query_all_by_label("Swiping Left").count() >= 1);
    h.get_by_label("print:did Swiping Left");
    wait_for_log(
        &mut h,
        "Swiping Left -> print:did Swiping Left: skipped: actions are disarmed",
    );
    h.get_by_label("disarmed: nothing fires").click();
    h.step();
    assert!(h.state().armed());
    h.step();
    h.get_by_label("armed: gestures fire their actions");
    wait_for_log(
        &mut h,
        "Swiping Right -> print:did Swiping Right: printed \"did Swiping Right\"",
    );
}
