//! `--headless`: no window; one JSON line per gesture event on stdout
//! (`{"t_ms", "event": "gesture", "label", "prob"}`) and, with `--verbose-json`, one per
//! prediction (`{"t_ms", "event": "prediction", "top", "latency_ms", "frames_undecodable"}`,
//! and for a landmark model `"hands": [{"handedness", "score", "presence", "landmarks"}]`, the
//! 21 landmarks normalised to the frame as in a landmark clip file), so scripts can react to
//! gestures. With an action map, each event line says what its action
//! did (`"action": {...}`), a `print:` action is a `{"event": "print", "text"}` line, and an
//! action that finishes later is an `{"event": "action", "id", "status", ...}` line. Ends when a
//! finite source ends, after the actions still running have finished (each within its timeout),
//! with one summary line (`{"event": "end", "predictions", "events", "frames_undecodable",
//! "frames_captured"}`, plus `"error"` when the source or model failed). Source trouble (a
//! stalled or lost camera, dropped frames) is reported on stderr as it happens.

use super::{LiveError, Pipeline, WorkerMsg};
use crate::actions::{Completion, Dispatcher};
use crate::capture::CaptureStatus;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// What a headless run saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeadlessSummary {
    pub predictions: u64,
    pub events: u64,
    /// Frames dropped because they could not be decoded: every one, once.
    pub frames_undecodable: u64,
}

/// Echoes the capture status to stderr when it changes: health at once, dropped frames at
/// most once a second.
struct StatusEcho {
    health: Option<String>,
    undecodable: u64,
    last_report: Option<Instant>,
}

impl StatusEcho {
    fn update(&mut self, status: &CaptureStatus) {
        let health = status.health();
        if health != self.health {
            match &health {
                Some(h) => eprintln!("{h}"),
                None if self.health.is_some() => eprintln!("source back: frames flow again"),
                None => {}
            }
            self.health = health;
        }
        let n = status.undecodable();
        let due = self
            .last_report
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if n > self.undecodable && due {
            eprintln!(
                "dropped {} undecodable frame{} so far (last: {})",
                n,
                if n == 1 { "" } else { "s" },
                status.last_undecodable().unwrap_or_default()
            );
            self.undecodable = n;
            self.last_report = Some(Instant::now());
        }
    }
}

/// Prints the pipeline's output as JSON lines until it ends, running `actions` on the events.
/// `labels` names the classes. A source or model failure is returned as an error after the
/// lines printed so far (and the summary line, which says what failed).
pub fn run(
    pipeline: &Pipeline,
    labels: &[String],
    verbose: bool,
    mut actions: Option<&mut Dispatcher>,
    out: &mut dyn Write,
) -> Result<HeadlessSummary, LiveError> {
    let mut summary = HeadlessSummary::default();
    let mut line = |v: serde_json::Value| -> Result<(), LiveError> {
        writeln!(out, "{v}").map_err(LiveError::Output)?;
        out.flush().map_err(LiveError::Output)
    };
    let status = pipeline.ring().status();
    // A landmark model's predictions carry the hands it read (possibly none).
    let tracks_hands = pipeline.model().config().arch.reads_landmarks();
    let mut echo = StatusEcho {
        health: None,
        undecodable: 0,
        last_report: None,
    };
    let completions = actions
        .as_ref()
        .map_or_else(crossbeam_channel::never, |d| d.completions().clone());
    let ended = loop {
        let msg = crossbeam_channel::select! {
            recv(pipeline.messages()) -> msg => msg,
            recv(completions) -> c => {
                if let (Ok(c), Some(d)) = (c, actions.as_deref_mut()) {
                    d.collected(&c);
                    line(completion_line(&c))?;
                }
                continue;
            }
            default(Duration::from_millis(250)) => {
                echo.update(status);
                continue;
            }
        };
        echo.update(status);
        // The worker always sends Quit before its sender goes; a closed channel without one
        // means the worker thread died.
        let Ok(msg) = msg else {
            break Err(LiveError::Stopped(
                "the inference thread ended unexpectedly".into(),
            ));
        };
        match msg {
            WorkerMsg::Prediction(p) => {
                summary.predictions += 1;
                if verbose {
                    let top: Vec<_> = p
                        .top
                        .iter()
                        .map(|&(i, prob)| json!({"label": labels[i], "index": i, "prob": prob}))
                        .collect();
                    let mut v = json!({
                        "t_ms": p.t.as_millis() as u64,
                        "event": "prediction",
                        "top": top,
                        "latency_ms": (p.latency.as_secs_f64() * 1e4).round() / 10.0,
                        "frames_undecodable": status.undecodable(),
                    });
                    if tracks_hands {
                        v["hands"] = p
                            .hands
                            .iter()
                            .map(|h| {
                                json!({
                                    "handedness": h.handedness,
                                    "score": h.score,
                                    "presence": h.presence,
                                    "landmarks": h.landmarks,
                                })
                            })
                            .collect();
                    }
                    line(v)?;
                }
            }
            WorkerMsg::Event(e) => {
                summary.events += 1;
                let t_ms = e.t.as_millis() as u64;
                let mut v = json!({
                    "t_ms": t_ms,
                    "event": "gesture",
                    "label": e.label,
                    "prob": e.prob,
                });
                let report = actions
                    .as_deref_mut()
                    .map(|d| d.on_event(&e.label, Instant::now()));
                if let Some(r) = &report {
                    v["action"] = r.to_json();
                }
                line(v)?;
                if let Some(text) = report.and_then(|r| r.print) {
                    line(json!({"t_ms": t_ms, "event": "print", "label": e.label, "text": text}))?;
                }
            }
            // Headless runs never swap models.
            WorkerMsg::Stats(_) | WorkerMsg::Status(_) | WorkerMsg::ModelSwapped(_) => {}
            WorkerMsg::Quit(None) => break Ok(()),
            WorkerMsg::Quit(Some(why)) => break Err(LiveError::Stopped(why)),
        }
    };
    if let Some(d) = actions {
        let mut result = Ok(());
        let lost = d.wait_pending(|c| {
            if result.is_ok() {
                result = line(completion_line(c));
            }
        });
        result?;
        if !lost.is_empty() {
            eprintln!("{} action(s) never reported back: ids {lost:?}", lost.len());
        }
    }
    // The capture thread has ended (the worker quits only after the ring closed, or on a stop
    // that also ends it), so the count is final.
    summary.frames_undecodable = status.undecodable();
    let mut end = json!({
        "event": "end",
        "predictions": summary.predictions,
        "events": summary.events,
        "frames_undecodable": summary.frames_undecodable,
        "frames_captured": pipeline.ring().pushed(),
    });
    if let Err(LiveError::Stopped(why)) = &ended {
        end["error"] = json!(why);
    }
    line(end)?;
    ended.map(|()| summary)
}

/// A finished action's line; its output also goes to the log (stderr).
fn completion_line(c: &Completion) -> serde_json::Value {
    if !c.ok || !c.output.is_empty() {
        eprintln!("action {}", c.line());
        for l in c.output.lines() {
            eprintln!("  | {l}");
        }
    }
    c.to_json()
}
