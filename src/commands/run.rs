//! `gesture-app run` (also the default with no subcommand): the live app, in a window or
//! `--headless`. Picks the weights (`--weights`, else on a camera the hand model, else the
//! bundled demo model), the source
//! (`--source`, else the first camera, else the bundled demo clips), loads the model on the
//! chosen device and starts the pipeline. The window then starts from the settings it
//! remembers, where no flag names them (`ui::Remembered`); headless runs use only the flags.

use super::actions_args::ActionArgs;
use super::bundled;
use anyhow::{anyhow, bail, Context};
use candle_core::Device;
use gesture_app::actions::{ActionMap, Dispatcher};
use gesture_app::capture::{CameraSystem, SourceOptions, SourceSpec};
use gesture_app::device::{self, DeviceChoice};
use gesture_app::live::events::{holds_with, EventSettings, FireAt, DEFAULT_BACKGROUND};
use gesture_app::live::{headless, Pipeline, PipelineOptions, WorkerOptions};
use gesture_app::ui::{model_facts, run_window, AppInit, Given, LoadedModel, ModelLoader};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Flags of the live app.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Weights file (.safetensors from `convert` or `train`). Without it: the window's last
    /// weights (remembered), else on a camera the hand model (Jester's 27 gestures from the
    /// hand tracker's landmarks, `built-in:weights/jester_hands.safetensors`), else the drawn
    /// demo model (`built-in:weights/demo.safetensors`).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,

    /// Folder of the window's Teach panel: the clips it records (`DIR/clips`, a data set in
    /// Jester's layout) and its fine-tuning runs (`DIR/runs/run-NNN`) [default: `teach` in the
    /// app's data folder, e.g. ~/.local/share/gesture-app/teach].
    #[arg(long, value_name = "DIR")]
    pub teach_dir: Option<PathBuf>,

    /// Open the window with the Teach panel shown (it also opens from the top bar; a headless
    /// run has no panel).
    #[arg(long)]
    pub teach: bool,

    /// Run the built-in demo: the bundled model on the bundled clips (the default when there is
    /// neither --weights nor a camera).
    #[arg(long)]
    pub demo: bool,

    /// Where frames come from: `camera` (the first one), `camera:N` (by index), `camera:NAME`
    /// (by part of its name), a video file (any FFmpeg plays: .mp4, .webm, .mkv, .mov, .avi...,
    /// played at its own timestamps), a folder of frames (00001.jpg, ...) or of clip folders,
    /// `synthetic` (generated gestures), or `built-in:assets/demo_clips` (the demo recording).
    /// Default: the window's last source (remembered), else the first camera, else the demo
    /// clips.
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<SourceSpec>,

    /// Playback rate of a folder or generated source, or the rate asked of a camera, 1 to 240
    /// [default: 12 for folders, 30 for synthetic and cameras].
    #[arg(long, value_name = "FPS", value_parser = ranged(FPS_RANGE, "frames per second"))]
    pub fps: Option<f32>,

    /// Start a folder or video file over when it ends (the window's demo always loops).
    #[arg(long = "loop")]
    pub looping: bool,

    /// Camera resolution to ask for, e.g. 1280x720, each side 16 to 8192 [default: 640x480].
    /// A camera that does not offer it runs in the nearest mode it has, and says which.
    #[arg(long, value_name = "WxH", value_parser = parse_resolution)]
    pub resolution: Option<(u32, u32)>,

    /// Compute device: auto (CUDA when built with it and a GPU is present), cpu, or cuda.
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    pub device: DeviceChoice,

    /// Smoothed probability a gesture must reach to fire an event, 0 to 1 [default: 0.8; the
    /// window starts from the value it remembers unless this is given].
    #[arg(long, value_name = "P", value_parser = ranged(PROBABILITY, "a probability"))]
    pub threshold: Option<f32>,

    /// Threshold for one class, overriding --threshold: LABEL=P, P 0 to 1 (repeatable).
    #[arg(long = "class-threshold", value_name = "LABEL=P", value_parser = parse_class_threshold)]
    pub class_thresholds: Vec<(String, f32)>,

    /// Hold time for one class: it fires only after leading, at or above its threshold, for MS
    /// milliseconds, 0 to 10000: LABEL=MS (repeatable) [default: "Stop Sign=800", since a palm
    /// raised to start any gesture looks like a stop sign until the gesture moves; 0 turns it
    /// off].
    #[arg(long = "class-hold", value_name = "LABEL=MS", value_parser = parse_class_hold)]
    pub class_holds: Vec<(String, f32)>,

    /// When an event fires: `end` (once a gesture is over, the class that led most of it: about
    /// a second later, half the extra events from a gesture's wind-up and way back) or
    /// `threshold` (the moment a class reaches --threshold) [default: end for the hand-landmark
    /// model, threshold for image models; remembered by the window like --threshold].
    #[arg(long, value_name = "RULE")]
    pub fire_at: Option<FireAt>,

    /// Hysteresis, with --fire-at threshold: after an event, nothing fires until that class's
    /// probability falls below P (0 to 1) [default: 0.4; remembered by the window like --threshold].
    #[arg(long, value_name = "P", value_parser = ranged(PROBABILITY, "a probability"))]
    pub release: Option<f32>,

    /// Half-life of the moving average of the probabilities, in milliseconds, 0 (off) to 10000
    /// [default: 150; remembered by the window like --threshold].
    #[arg(long, value_name = "MS", value_parser = ranged(SMOOTHING_MS_RANGE, "milliseconds"))]
    pub smoothing: Option<f32>,

    /// A class that never fires (repeatable) [default: "No gesture", "Doing other things"].
    #[arg(long = "background", value_name = "LABEL")]
    pub background: Vec<String>,

    /// Length of the window the N segments are sampled from, in milliseconds, 100 to 10000.
    #[arg(long, default_value_t = 2000, value_name = "MS", value_parser = window_ms)]
    pub window_ms: u64,

    /// Resample the window to this rate instead of the one stored in the weights, 1 to 60.
    #[arg(long, value_name = "FPS", value_parser = ranged(CLIP_FPS_RANGE, "frames per second"))]
    pub clip_fps: Option<f32>,

    /// No window: print one JSON line per gesture event on stdout
    /// ({"t_ms","event":"gesture","label","prob"}); ends when a finite source ends.
    #[arg(long)]
    pub headless: bool,

    /// With --headless, also print one JSON line per prediction ("top", "latency_ms").
    #[arg(long, requires = "headless")]
    pub verbose_json: bool,

    /// With --headless and a video file or folder: play it as fast as the model allows instead
    /// of in real time, with the same predictions and events (timestamps are the file's).
    #[arg(long, requires = "headless")]
    pub batch: bool,

    #[command(flatten)]
    pub actions: ActionArgs,
}

/// `--fps`: a camera's or a played-back folder's rate.
pub(super) const FPS_RANGE: RangeInclusive<f32> = 1.0..=240.0;
/// `--clip-fps`: the rate the model's window is resampled to (Jester's is 12).
const CLIP_FPS_RANGE: RangeInclusive<f32> = 1.0..=60.0;
pub(super) const PROBABILITY: RangeInclusive<f32> = 0.0..=1.0;
pub(super) const SMOOTHING_MS_RANGE: RangeInclusive<f32> = 0.0..=10_000.0;
/// `--class-hold`: how long a class must lead before it fires.
const HOLD_MS_RANGE: RangeInclusive<f32> = 0.0..=10_000.0;
/// `--resolution`: each side (8K is 7680 wide).
const RESOLUTION_SIDE: RangeInclusive<u32> = 16..=8192;

/// A parser for a number in `range` (`unit` says what it counts); the error names the range.
pub(super) fn ranged<T>(
    range: RangeInclusive<T>,
    unit: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Clone + Send + Sync + 'static,
{
    move |s: &str| {
        let out_of_range = || {
            format!(
                "must be a number from {} to {} ({unit})",
                range.start(),
                range.end()
            )
        };
        let v: T = s.trim().parse().map_err(|_| out_of_range())?;
        if range.contains(&v) {
            Ok(v)
        } else {
            Err(out_of_range())
        }
    }
}

pub(super) fn window_ms(s: &str) -> Result<u64, String> {
    ranged(gesture_app::live::WINDOW_MS_RANGE, "milliseconds")(s)
}

pub(super) fn parse_resolution(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, e.g. 640x480, got '{s}'"))?;
    let w: u32 = w
        .trim()
        .parse()
        .map_err(|_| format!("bad width in '{s}'"))?;
    let h: u32 = h
        .trim()
        .parse()
        .map_err(|_| format!("bad height in '{s}'"))?;
    if !RESOLUTION_SIDE.contains(&w) || !RESOLUTION_SIDE.contains(&h) {
        return Err(format!(
            "each side must be {} to {} pixels, got '{s}'",
            RESOLUTION_SIDE.start(),
            RESOLUTION_SIDE.end()
        ));
    }
    Ok((w, h))
}

fn parse_class_threshold(s: &str) -> Result<(String, f32), String> {
    let parse = ranged(PROBABILITY, "a probability");
    label_value(
        s,
        "LABEL=P",
        "\"Swiping Left=0.8\"",
        "the probability",
        parse,
    )
}

/// Parses `LABEL=MS`, a class's hold time in milliseconds.
pub(super) fn parse_class_hold(s: &str) -> Result<(String, f32), String> {
    let parse = ranged(HOLD_MS_RANGE, "milliseconds");
    label_value(s, "LABEL=MS", "\"Stop Sign=800\"", "the hold time", parse)
}

/// Parses `LABEL=VALUE` (`form`, e.g. `example`), the value with `parse`; errors name `what`.
fn label_value(
    s: &str,
    form: &str,
    example: &str,
    what: &str,
    parse: impl Fn(&str) -> Result<f32, String>,
) -> Result<(String, f32), String> {
    let (label, value) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("expected {form}, e.g. {example}, got '{s}'"))?;
    let value = parse(value).map_err(|e| format!("{what} in '{s}' {e}"))?;
    Ok((label.trim().to_string(), value))
}

impl RunArgs {
    /// The pipeline settings these flags describe.
    pub fn pipeline_options(&self) -> PipelineOptions {
        let defaults = EventSettings::default();
        PipelineOptions {
            source: SourceOptions {
                fps: self.fps,
                looping: self.looping,
                resolution: self.resolution,
                seed: 0,
                cameras: CameraSystem::native(),
            },
            worker: WorkerOptions {
                window: Duration::from_millis(self.window_ms),
                clip_fps: self.clip_fps,
                events: EventSettings {
                    fire: self.fire_at,
                    threshold: self.threshold.unwrap_or(defaults.threshold),
                    class_thresholds: self.class_thresholds.clone(),
                    release: self.release.unwrap_or(defaults.release),
                    smoothing_ms: self.smoothing.unwrap_or(defaults.smoothing_ms),
                    background: if self.background.is_empty() {
                        DEFAULT_BACKGROUND.iter().map(|s| s.to_string()).collect()
                    } else {
                        self.background.clone()
                    },
                    holds: holds_with(&self.class_holds),
                },
                batch: self.batch,
                ..WorkerOptions::default()
            },
            max_source_fps: None,
        }
    }

    /// The settings given on the command line, which win over what the window remembers.
    /// `--demo` names both the source and the weights.
    pub fn given(&self) -> Given {
        Given {
            fire_at: self.fire_at.is_some(),
            threshold: self.threshold.is_some(),
            release: self.release.is_some(),
            smoothing: self.smoothing.is_some(),
            source: self.source.is_some() || self.demo,
            weights: self.weights.is_some() || self.demo,
        }
    }
}

/// What to run, after defaults are applied.
struct Plan {
    weights: PathBuf,
    source: Option<SourceSpec>,
    /// Why there is no source, when there is none.
    no_source: Option<String>,
    looping: bool,
    notice: Option<String>,
}

const DEMO_NOTICE: &str = "Demo: the bundled model was trained on generated clips and recognises \
    the generated motions, not real hands. Run with --weights FILE for a real model.";

const HAND_NOTICE: &str = "Hand model: Jester's 27 gestures read from your hand's landmarks \
    (MediaPipe's hand tracker, trained on real hands; the gesture head on generated hand motion). \
    Hold one hand up, 40-90 cm from the camera. --weights FILE runs another model.";

fn plan(args: &RunArgs) -> anyhow::Result<Plan> {
    let mut camera_checked: Option<bool> = None;
    let mut has_camera = || {
        *camera_checked.get_or_insert_with(|| {
            CameraSystem::native()
                .0
                .cameras()
                .map(|c| !c.is_empty())
                .unwrap_or(false)
        })
    };
    let demo = args.demo || (args.weights.is_none() && args.source.is_none() && !has_camera());
    let mut looping = args.looping;
    let mut notice = None;
    let mut no_source = None;
    let source = if let Some(s) = &args.source {
        Some(s.clone())
    } else if demo {
        // The window keeps the demo running; headless ends with the clips unless --loop.
        looping |= !args.headless;
        Some(match bundled::find(bundled::DEMO_RECORDING) {
            bundled::Found::Disk(clips) => SourceSpec::Folder(clips),
            bundled::Found::BuiltIn(name) => SourceSpec::BuiltIn(name),
        })
    } else if has_camera() {
        Some(SourceSpec::Camera(None))
    } else {
        no_source = Some(
            "no camera found: pass --source PATH (a video file or a frame folder) or --source synthetic, or run --demo"
                .to_string(),
        );
        None
    };
    // A camera sees real hands: the landmark model, whose per-frame network (MediaPipe's hand
    // landmarker) was trained on real ones. Drawn clips (the demo, `synthetic`) and files keep
    // the drawn demo model unless --weights says otherwise.
    let on_camera = matches!(source, Some(SourceSpec::Camera(_)));
    let weights = match &args.weights {
        Some(w) => w.clone(),
        None if on_camera && !demo => bundled::find(bundled::HAND_WEIGHTS).path(),
        None => bundled::find(bundled::DEMO_WEIGHTS).path(),
    };
    if args.weights.is_none() {
        notice = Some(if demo {
            DEMO_NOTICE.to_string()
        } else if on_camera {
            HAND_NOTICE.to_string()
        } else {
            format!("{DEMO_NOTICE} (No --weights given: the demo model is running on your source.)")
        });
    }
    Ok(Plan {
        weights,
        source,
        no_source,
        looping,
        notice,
    })
}

/// Loads weights onto `device` for the window: the model and the facts it lists.
fn load_model(path: &Path, device: &Device, device_desc: &str) -> anyhow::Result<LoadedModel> {
    let model = gesture_app::weights::load_model(path, device)
        .with_context(|| format!("cannot use weights {}", path.display()))?;
    let facts = model_facts(model.config(), device_desc, Some(path));
    Ok((Arc::new(model), facts))
}

/// Whether a window can be opened at all: on Linux and the BSDs a display server must be named
/// in the environment. Without one the app runs headless instead of failing.
fn display_available() -> bool {
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )) {
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    } else {
        true
    }
}

/// Starts the actions of a headless run and says once, on stderr, what is mapped and whether
/// keys can be sent.
fn start_actions(map: ActionMap, armed: bool) -> Dispatcher {
    let n = map.bindings.len();
    let d = Dispatcher::new(map, armed, None);
    eprintln!(
        "actions: {n} gesture(s) mapped, {}",
        if armed {
            "armed"
        } else {
            "disarmed (nothing fires until armed: --armed, or a gesture mapped to arm)"
        }
    );
    if let Some(why) = d.injection_problem() {
        eprintln!("{why}; key actions are skipped, the others still run");
    }
    d
}

/// Runs the live app.
pub fn run(mut args: RunArgs) -> anyhow::Result<ExitCode> {
    if !args.headless && !display_available() {
        eprintln!(
            "no display (neither DISPLAY nor WAYLAND_DISPLAY is set): running headless, one JSON \
             line per gesture on stdout"
        );
        args.headless = true;
    }
    let args = &args;
    let mut action_map = args.actions.map()?;
    let plan = plan(args)?;
    let (device, device_desc) = device::select(args.device)?;
    let mut options = args.pipeline_options();
    options.source.looping = plan.looping;
    if args.headless {
        let (model, _) = load_model(&plan.weights, &device, &device_desc)?;
        let labels = model.config().labels.clone();
        let Some(source) = plan.source else {
            bail!(plan.no_source.unwrap_or_else(|| "no source".into()));
        };
        if args.batch && matches!(source, SourceSpec::Camera(_) | SourceSpec::Synthetic) {
            bail!("--batch plays a video file or a frame folder; {source} runs in real time");
        }
        if let Some(n) = &plan.notice {
            eprintln!("{n}");
        }
        let mut dispatcher = match action_map {
            Some(mut map) => {
                map.resolve(&labels)?;
                Some(start_actions(map, args.actions.armed))
            }
            None => None,
        };
        let pipeline = Pipeline::start(model, &source, &options, None)?;
        eprintln!(
            "model {} on {device_desc}; source {}",
            plan.weights.display(),
            pipeline.source_description()
        );
        if let Some(note) = pipeline.ring().status().note() {
            eprintln!("{note}");
        }
        let mut stdout = std::io::stdout().lock();
        let summary = headless::run(
            &pipeline,
            &labels,
            args.verbose_json,
            dispatcher.as_mut(),
            &mut stdout,
        )?;
        eprintln!(
            "done: {} predictions, {} events",
            summary.predictions, summary.events
        );
        return Ok(ExitCode::SUCCESS);
    }
    // In the window a refused weights file is shown there, with a field to load another.
    let (model, facts, weights_error) = match load_model(&plan.weights, &device, &device_desc) {
        Ok((m, f)) => (Some(m), f, None),
        Err(e) => (None, Vec::new(), Some(format!("{e:#}"))),
    };
    // Refused at start, like headless; a model picked later is checked in the window.
    if let (Some(map), Some(model)) = (&mut action_map, &model) {
        map.resolve(&model.config().labels)?;
    }
    let loader: ModelLoader =
        Box::new(move |path: &Path| load_model(path, &device, &device_desc).map_err(Into::into));
    run_window(AppInit {
        model,
        loader: Some(loader),
        weights_text: plan.weights.display().to_string(),
        model_facts: facts,
        source: plan.source,
        options,
        notice: plan.notice,
        startup_error: weights_error.or(plan.no_source),
        actions: action_map,
        armed: args.actions.armed,
        given: args.given(),
        teach_dir: args.teach_dir.clone(),
        teach_open: args.teach,
    })
    .map_err(|e| anyhow!("cannot open the window: {e} (no display? try --headless)"))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_parsers() {
        assert_eq!(parse_resolution("1280x720"), Ok((1280, 720)));
        assert!(parse_resolution("1280").is_err());
        assert!(parse_resolution("0x5").is_err());
        assert!(parse_resolution("100000x100000").is_err());
        assert!(window_ms("99999999999999")
            .unwrap_err()
            .contains("100 to 10000"));
        assert_eq!(window_ms("500"), Ok(500));
        let fps = ranged(FPS_RANGE, "frames per second");
        assert_eq!(fps("30"), Ok(30.0));
        for bad in ["0", "-3", "NaN", "inf", "1e9", "x"] {
            assert!(fps(bad).unwrap_err().contains("1 to 240"), "{bad}");
        }
        assert!(parse_class_threshold("Swiping Left=1.5").is_err());
        assert_eq!(
            parse_class_threshold("Swiping Left=0.8"),
            Ok(("Swiping Left".into(), 0.8))
        );
        assert!(parse_class_threshold("Swiping Left").is_err());
    }
}
