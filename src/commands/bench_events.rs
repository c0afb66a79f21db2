//! `gesture-app bench-events`: plays footage (a video file or frame folder) through the live
//! pipeline in batch mode and reports the events it fires: events per hour of footage and,
//! with a script of what was performed, per-gesture hits, misses, extra events and the delay
//! from a gesture's end to its event (`gesture_app::bench::events`). A landmark session file
//! (`handcheck --session`) is replayed through a landmark model instead of played.

use super::bundled;
use super::run::{parse_class_hold, ranged, window_ms, FPS_RANGE, PROBABILITY, SMOOTHING_MS_RANGE};
use anyhow::{anyhow, Context};
use gesture_app::bench::events::{parse_script, play, replay_landmarks, score, Score};
use gesture_app::capture::{SourceOptions, SourceSpec, DEFAULT_FOLDER_FPS};
use gesture_app::device::{self, DeviceChoice};
use gesture_app::live::events::{holds_with, EventSettings, FireAt};
use gesture_app::live::{PipelineOptions, WorkerOptions};
use gesture_app::train::data::landmarks::read_clip;
use gesture_app::write_atomic;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Flags of the events benchmark.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "For instance (the video is yours):
  gesture-app bench-events --source street.mp4
  gesture-app bench-events --source assets/demo_clips/gestures --script assets/demo_clips/gestures/script.txt

Without --script, a script.txt inside a frame folder (as `synth --session` writes) is used.")]
pub struct BenchEventsArgs {
    /// Weights file [default: the bundled demo model].
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// The footage: a video file, or a folder of frames or of clip folders; for a landmark
    /// model also a landmark session file (.json, as `handsynth --session` and `handcheck
    /// --session` write).
    #[arg(long, value_name = "SOURCE")]
    pub source: SourceSpec,
    /// What was performed: one `FIRST LAST LABEL` line per gesture, frames numbered from 1.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Frame rate the script's frame numbers count at, and a folder's playback rate, 1 to 240
    /// [default: 12].
    #[arg(long, value_name = "FPS", value_parser = ranged(FPS_RANGE, "frames per second"))]
    pub fps: Option<f32>,
    /// How long after a gesture's last frame its event may come and still count as a hit.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub max_delay_ms: u64,
    /// Smoothed probability an event needs, 0 to 1 [default: the live app's, 0.8].
    #[arg(long, value_name = "P", value_parser = ranged(PROBABILITY, "a probability"))]
    pub threshold: Option<f32>,
    /// When an event fires: `end` (once a gesture is over) or `threshold` (the moment a class
    /// reaches the threshold) [default: the live app's: end for the hand-landmark model, threshold
    /// for image models].
    #[arg(long, value_name = "RULE")]
    pub fire_at: Option<FireAt>,
    /// With `--fire-at threshold`: after an event, nothing fires until that class falls below
    /// P, 0 to 1 [default: the live app's, 0.4].
    #[arg(long, value_name = "P", value_parser = ranged(PROBABILITY, "a probability"))]
    pub release: Option<f32>,
    /// Half-life of the moving average of the probabilities, milliseconds, 0 (off) to 10000
    /// [default: the live app's, 150].
    #[arg(long, value_name = "MS", value_parser = ranged(SMOOTHING_MS_RANGE, "milliseconds"))]
    pub smoothing: Option<f32>,
    /// Hold time for one class, LABEL=MS (repeatable) [default: the live app's,
    /// "Stop Sign=800"].
    #[arg(long = "class-hold", value_name = "LABEL=MS", value_parser = parse_class_hold)]
    pub class_holds: Vec<(String, f32)>,
    /// Length of the window the N segments are sampled from, milliseconds, 100 to 10000
    /// [default: the live app's, 2000].
    #[arg(long, value_name = "MS", value_parser = window_ms)]
    pub window_ms: Option<u64>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Also write every prediction's smoothed probabilities to FILE as CSV (a `t_s` column,
    /// then one column per class), to see how near each class came to firing and when.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs the benchmark.
pub fn run(args: BenchEventsArgs) -> anyhow::Result<ExitCode> {
    let (device, device_desc) = device::select(args.device)?;
    let weights = match &args.weights {
        Some(w) => w.clone(),
        None => bundled::find(bundled::DEMO_WEIGHTS).path(),
    };
    let model = gesture_app::weights::load_model(&weights, &device)
        .with_context(|| format!("cannot use weights {}", weights.display()))?;
    let labels = model.config().labels.clone();
    let fire = args
        .fire_at
        .unwrap_or(FireAt::for_arch(model.config().arch));
    let defaults = EventSettings::default();
    let events = EventSettings {
        fire: args.fire_at,
        threshold: args.threshold.unwrap_or(defaults.threshold),
        release: args.release.unwrap_or(defaults.release),
        smoothing_ms: args.smoothing.unwrap_or(defaults.smoothing_ms),
        holds: holds_with(&args.class_holds),
        ..defaults
    };
    let background = events.background.clone();
    let options = PipelineOptions {
        source: SourceOptions {
            fps: args.fps,
            ..SourceOptions::default()
        },
        worker: WorkerOptions {
            events,
            batch: true,
            window: args
                .window_ms
                .map_or(WorkerOptions::default().window, Duration::from_millis),
            ..WorkerOptions::default()
        },
        max_source_fps: None,
    };
    // A landmark session (a landmark clip file, `handcheck --session`) has no pictures: it is
    // replayed through a landmark model with the worker's steps.
    let session = match &args.source {
        SourceSpec::Video(p)
            if p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
        {
            Some(p.clone())
        }
        _ => None,
    };
    let script_path = args
        .script
        .clone()
        .or_else(|| match (&args.source, &session) {
            (SourceSpec::Folder(dir), _) => Some(dir.join("script.txt")).filter(|p| p.is_file()),
            (_, Some(file)) => file
                .parent()
                .map(|d| d.join("script.txt"))
                .filter(|p| p.is_file()),
            _ => None,
        });
    let script = match &script_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the script {}", p.display()))?;
            Some(parse_script(&text).map_err(|e| anyhow!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let played = match &session {
        Some(file) => {
            let clip = read_clip(file)?;
            replay_landmarks(&model, &clip, options.worker.window, &options.worker.events)
                .with_context(|| format!("cannot replay {}", file.display()))?
        }
        None => play(Arc::new(model), &args.source, &options)
            .with_context(|| format!("cannot play {}", args.source))?,
    };
    if let Some(path) = &args.trace {
        write_trace(path, &labels, &played.trace)
            .with_context(|| format!("cannot write the trace {}", path.display()))?;
    }
    let script_fps = args.fps.unwrap_or(DEFAULT_FOLDER_FPS) as f64;
    let scored = script.as_ref().map(|s| {
        score(
            &played.events,
            s,
            script_fps,
            &background,
            Duration::from_millis(args.max_delay_ms),
        )
    });
    if args.json {
        let v = serde_json::json!({
            "weights": weights.display().to_string(),
            "source": args.source.to_string(),
            "device": device_desc,
            "fire_at": fire.name(),
            "footage_s": played.footage_s,
            "frames": played.frames,
            "frames_undecodable": played.frames_undecodable,
            "predictions": played.predictions,
            "events": played.events,
            "events_per_hour": played.events_per_hour(),
            "wall_s": played.wall_s,
            "peak": played.peak.as_ref().map(|(label, prob, t_s)| {
                serde_json::json!({"label": label, "prob": prob, "t_s": t_s})
            }),
            "script": script_path.map(|p| p.display().to_string()),
            "score": scored,
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} on {}: {:.1} s of footage ({} frames, {} undecodable) played in {:.1} s on {device_desc}",
        weights.display(),
        args.source,
        played.footage_s,
        played.frames,
        played.frames_undecodable,
        played.wall_s
    );
    println!(
        "{} event(s), {:.1} per hour of footage (fired at the {})",
        played.events.len(),
        played.events_per_hour(),
        match fire {
            FireAt::End => "end of each gesture",
            FireAt::Threshold => "threshold",
        }
    );
    for e in &played.events {
        println!("  {:8.2} s  {} ({:.2})", e.t_s, e.label, e.prob);
    }
    if let Some((label, prob, t_s)) = &played.peak {
        println!(
            "highest probability of a gesture: {prob:.2} ({label} at {t_s:.2} s; events need {})",
            options.worker.events.threshold
        );
    }
    if let Some(s) = &scored {
        print_score(s);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `trace` as CSV: a header of `t_s` and the labels (quoted where they hold a comma or a
/// quote), then one row per prediction.
fn write_trace(path: &Path, labels: &[String], trace: &[(f64, Vec<f32>)]) -> anyhow::Result<()> {
    let quote = |l: &String| {
        if l.contains([',', '"']) {
            format!("\"{}\"", l.replace('"', "\"\""))
        } else {
            l.clone()
        }
    };
    let mut text = String::from("t_s");
    for l in labels {
        text.push(',');
        text.push_str(&quote(l));
    }
    text.push('\n');
    for (t, probs) in trace {
        text.push_str(&format!("{t:.4}"));
        for p in probs {
            text.push_str(&format!(",{p:.5}"));
        }
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())?;
    Ok(())
}

fn print_score(s: &Score) {
    println!("| gesture | performed | hits | misses | extra events | delay after its end, ms (mean; min..max) |");
    println!("|---|---|---|---|---|---|");
    for l in &s.labels {
        let delay = if l.delays_ms.is_empty() {
            "–".to_string()
        } else {
            let mean = l.delays_ms.iter().sum::<f64>() / l.delays_ms.len() as f64;
            let min = l.delays_ms.iter().copied().fold(f64::INFINITY, f64::min);
            let max = l
                .delays_ms
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            format!("{mean:.0}; {min:.0}..{max:.0}")
        };
        println!(
            "| {} | {} | {} | {} | {} | {delay} |",
            l.label, l.performed, l.hits, l.misses, l.extras
        );
    }
    println!(
        "| all | {} | {} | {} | {} | |",
        s.hits + s.misses,
        s.hits,
        s.misses,
        s.extras
    );
}
