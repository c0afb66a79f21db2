//! `--headless`: no window; one JSON line per gesture event on stdout
//! (`{"t_ms", "event": "gesture", "label", "prob"}`) and, with `--verbose-json`, one per
//! prediction (`{"t_ms", "event": "prediction", "top", "latency_ms"}`), so scripts can react to
//! gestures. Ends when a finite source ends.

use super::{LiveError, Pipeline, WorkerMsg};
use serde_json::json;
use std::io::Write;

/// What a headless run saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeadlessSummary {
    pub predictions: u64,
    pub events: u64,
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
    for msg in pipeline.messages().iter() {
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
                    });
                    writeln!(out, "{line}").map_err(LiveError::Output)?;
                    out.flush().map_err(LiveError::Output)?;
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
                writeln!(out, "{line}").map_err(LiveError::Output)?;
                out.flush().map_err(LiveError::Output)?;
            }
            WorkerMsg::Stats(_) | WorkerMsg::Status(_) => {}
            WorkerMsg::Quit(None) => return Ok(summary),
            WorkerMsg::Quit(Some(why)) => return Err(LiveError::Stopped(why)),
        }
    }
    // The worker always sends Quit before its sender goes; a closed channel without one means
    // the worker thread died.
    Err(LiveError::Stopped(
        "the inference thread ended unexpectedly".into(),
    ))
}
