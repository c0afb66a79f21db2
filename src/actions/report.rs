//! What the dispatcher says about each event (a [`Report`], at once) and about each action
//! that finishes later (a [`Completion`]: a key chord sent, a program ended), as one line for
//! the window and as JSON for `--headless`.

use serde_json::{json, Value};
use std::time::Duration;

/// Why an event did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The gesture has no action.
    Unmapped,
    Disarmed,
    Cooldown,
    /// Keys cannot be sent in this session (said once at start).
    InjectionUnavailable,
}

impl Skip {
    /// The reason as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Unmapped => "unmapped",
            Skip::Disarmed => "disarmed",
            Skip::Cooldown => "cooldown",
            Skip::InjectionUnavailable => "injection unavailable",
        }
    }
}

/// What happened to an event's action when the event came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Done at once (print, arm, disarm, toggle-arm).
    Done,
    /// Handed to its own thread; a [`Completion`] with `id` follows.
    Started {
        id: u64,
    },
    Skipped(Skip),
}

/// The dispatcher's answer to one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub label: String,
    /// The action as written (`key:Left`), when the gesture has one.
    pub action: Option<String>,
    pub status: Status,
    /// One line for people: "pressing Left", "skipped: disarmed", ...
    pub detail: String,
    /// The text of a `print:` action that fired, for the caller to show.
    pub print: Option<String>,
}

impl Report {
    /// The `"action"` object of a headless event line.
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "do": self.action, "detail": self.detail });
        match &self.status {
            Status::Done => v["status"] = json!("done"),
            Status::Started { id } => {
                v["status"] = json!("started");
                v["id"] = json!(id);
            }
            Status::Skipped(why) => {
                v["status"] = json!("skipped");
                v["reason"] = json!(why.as_str());
            }
        }
        v
    }
}

/// How an action that ran on its own thread ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The id of the [`Status::Started`] report.
    pub id: u64,
    pub label: String,
    pub action: String,
    pub ok: bool,
    /// "pressed Left", "exited with code 3", "timed out after 2 s: killed", "cannot start ...".
    pub detail: String,
    /// A program's exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// A program's output (stdout then stderr), cut to its last few KiB.
    pub output: String,
    pub elapsed: Duration,
}

impl Completion {
    /// The headless line: `{"event": "action", "id", "label", "do", "status", ...}`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "event": "action",
            "id": self.id,
            "label": self.label,
            "do": self.action,
            "status": if self.ok { "done" } else { "failed" },
            "detail": self.detail,
            "elapsed_ms": self.elapsed.as_millis() as u64,
        });
        if let Some(code) = self.exit_code {
            v["exit_code"] = json!(code);
        }
        if !self.output.is_empty() {
            v["output"] = json!(self.output);
        }
        v
    }

    /// One line for the window's log.
    pub fn line(&self) -> String {
        let status = if self.ok { "done" } else { "FAILED" };
        format!(
            "{} -> {}: {status}, {}",
            self.label, self.action, self.detail
        )
    }
}
