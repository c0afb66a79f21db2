//! `--headless`: no window; one JSON line per gesture event on stdout
//! (`{"t_ms", "event": "gesture", "label", "prob"}`) and, with `--verbose-json`, one per
//! prediction (`{"t_ms", "event": "prediction", "top", "latency_ms", "frames_undecodable"}`),
//! so scripts can react to gestures. Ends when a finite source ends, with one summary line
//! (`{"event": "end", "predictions", "events", "frames_undecodable", "frames_captured"}`, plus
//! `"error"` when the source or model failed). Source trouble (a stalled or lost camera,
//! dropped frames) is reported on stderr as it happens.

use super::{LiveError, Pipeline, WorkerMsg};
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

/// Prints the pipeline's output as JSON lines until it ends. `labels` names the classes.
/// A source or model failure is returned as an error after the lines printed so far.
pub fn run(
    pipeline: &Pipeline,
    labels: &[String],
    verbose: bool,
    out: &mut dyn Write,
) -> Result<HeadlessSummary, LiveError> {
    let mut summary = HeadlessSummary::default();
    let write_err = |e: std::io::Error| LiveError::Stopped(format!("cannot write output: {e}"));
    let status = pipeline.ring().status();
    let mut echo = StatusEcho {
        health: None,
        undecodable: 0,
        last_report: None,
    };
    let end = |summary: &mut HeadlessSummary, out: &mut dyn Write, error: Option<&str>| {
        // The capture thread has ended (the worker quits only after the ring closed, or on a
        // stop that also ends it), so the count is final.
        summary.frames_undecodable = status.undecodable();
        let mut line = json!({
            "event": "end",
            "predictions": summary.predictions,
            "events": summary.events,
            "frames_undecodable": summary.frames_undecodable,
            "frames_captured": pipeline.ring().pushed(),
        });
        if let Some(e) = error {
            line["error"] = json!(e);
        }
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(write_err)
    };
    let rx = pipeline.messages();
    loop {
        let msg = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(msg) => msg,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                echo.update(status);
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        echo.update(status);
        match msg {
            WorkerMsg::Prediction(p) => {
                summary.predictions += 1;
                if verbose {
                    let top: Vec<_> = p
                        .top
                        .iter()
                        .map(|&(i, prob)| json!({"label": labels[i], "index": i, "prob": prob}))
                        .collect();
                    let line = json!({
                        "t_ms": p.t.as_millis() as u64,
                        "event": "prediction",
                        "top": top,
                        "latency_ms": (p.latency.as_secs_f64() * 1e4).round() / 10.0,
                        "frames_undecodable": status.undecodable(),
                    });
                    writeln!(out, "{line}").map_err(write_err)?;
                    out.flush().map_err(write_err)?;
                }
            }
            WorkerMsg::Event(e) => {
                summary.events += 1;
                let line = json!({
                    "t_ms": e.t.as_millis() as u64,
                    "event": "gesture",
                    "label": e.label,
                    "prob": e.prob,
                });
                writeln!(out, "{line}").map_err(write_err)?;
                out.flush().map_err(write_err)?;
            }
            WorkerMsg::Stats(_) | WorkerMsg::Status(_) => {}
            WorkerMsg::Quit(None) => {
                end(&mut summary, out, None)?;
                return Ok(summary);
            }
            WorkerMsg::Quit(Some(why)) => {
                end(&mut summary, out, Some(&why))?;
                return Err(LiveError::Stopped(why));
            }
        }
    }
    // The worker always sends Quit before its sender goes; a closed channel without one means
    // the worker thread died.
    Err(LiveError::Stopped(
        "the inference thread ended unexpectedly".into(),
    ))
}
