//! The comparison's table — one row per configuration — written as markdown, CSV and JSON, and
//! the state file that makes a sweep resumable: the finished rows, rewritten atomically after
//! each one, so a killed sweep restarts at the first configuration not in it.

use crate::util::write_atomic;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One finished configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `<backbone>_<head>_<N>seg` (the run folder's name).
    pub name: String,
    /// What the row was measured with (mode, data, training settings): a row whose key differs
    /// from the sweep's is measured again.
    pub key: String,
    /// The head as `--consensus` spells it.
    pub head: String,
    pub backbone: String,
    pub segments: usize,
    /// Validation top-1 / top-5 (%) of the best weights, as `gesture-app eval` computes them.
    pub top1: f64,
    pub top5: f64,
    pub val_clips: usize,
    pub best_epoch: Option<usize>,
    pub epochs: usize,
    /// Parameters (thop's count: weights and biases, not BatchNorm running statistics).
    pub head_params: u64,
    pub model_params: u64,
    /// Multiply-adds per clip, thop's convention (`model::cost`).
    pub head_macs: u64,
    pub model_macs: u64,
    /// Median CPU wall time per clip (`bench`'s clip timing), and on the GPU when one was used.
    pub cpu_ms: f64,
    pub gpu_ms: Option<f64>,
    /// Seconds of training epochs (validation and setup excluded; a shared feature pass is
    /// reported once for the sweep).
    pub train_s: f64,
    pub run_dir: PathBuf,
    pub weights: PathBuf,
    /// Why a row has no usable model (a run that diverged), or `None`.
    #[serde(default)]
    pub note: Option<String>,
}

/// The state file: every finished row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub rows: Vec<Row>,
}

impl State {
    /// The state at `path`, or an empty one when there is no file yet.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Error::bad_file(
                    path,
                    format!("is not a compare state file ({e}); move it away to start over"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Writes the state atomically (a kill leaves the old file or the new one).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))?;
        Ok(write_atomic(path, text.as_bytes())?)
    }

    /// The finished row of configuration `name` measured with `key`.
    pub fn finished(&self, name: &str, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == name && r.key == key)
    }

    /// Adds `row`, replacing an older row of the same configuration.
    pub fn record(&mut self, row: Row) {
        self.rows.retain(|r| r.name != row.name);
        self.rows.push(row);
    }
}

fn millions(v: u64) -> String {
    let m = v as f64 / 1e6;
    if m >= 100.0 {
        format!("{m:.0} M")
    } else if m >= 1.0 {
        format!("{m:.2} M")
    } else {
        format!("{:.1} k", v as f64 / 1e3)
    }
}

/// The table as markdown: the head first, then accuracy, cost, speed, training time.
pub fn markdown(rows: &[Row]) -> String {
    let gpu = rows.iter().any(|r| r.gpu_ms.is_some());
    let mut s = String::from(
        "| head | backbone | N | top-1 % | top-5 % | head params | head MACs | model params \
         | model MACs | CPU ms/clip |",
    );
    if gpu {
        s.push_str(" GPU ms/clip |");
    }
    s.push_str(" train s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    if gpu {
        s.push_str("---:|");
    }
    s.push_str("---:|\n");
    for r in rows {
        let acc = |v: f64| match &r.note {
            Some(n) => n.clone(),
            None => format!("{v:.2}"),
        };
        let _ = write!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
            r.head,
            r.backbone,
            r.segments,
            acc(r.top1),
            acc(r.top5),
            millions(r.head_params),
            millions(r.head_macs),
            millions(r.model_params),
            millions(r.model_macs),
            r.cpu_ms
        );
        if gpu {
            let _ = write!(
                s,
                " {} |",
                r.gpu_ms.map_or("-".into(), |v| format!("{v:.2}"))
            );
        }
        let _ = writeln!(s, " {:.1} |", r.train_s);
    }
    s
}

/// The table as CSV, raw numbers.
pub fn csv(rows: &[Row]) -> String {
    let mut s = String::from(
        "head,backbone,segments,top1,top5,val_clips,best_epoch,epochs,head_params,head_macs,\
         model_params,model_macs,cpu_ms,gpu_ms,train_s,run_dir,note\n",
    );
    let quote = |v: &str| {
        if v.contains([',', '"', '\n']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_string()
        }
    };
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{:.4},{:.4},{},{},{},{},{},{},{},{:.4},{},{:.3},{},{}",
            quote(&r.head),
            quote(&r.backbone),
            r.segments,
            r.top1,
            r.top5,
            r.val_clips,
            r.best_epoch.map_or(String::new(), |e| e.to_string()),
            r.epochs,
            r.head_params,
            r.head_macs,
            r.model_params,
            r.model_macs,
            r.cpu_ms,
            r.gpu_ms.map_or(String::new(), |v| format!("{v:.4}")),
            r.train_s,
            quote(&r.run_dir.display().to_string()),
            quote(r.note.as_deref().unwrap_or("")),
        );
    }
    s
}

/// Writes `compare.md`, `compare.csv` and `compare.json` (the rows and `about`) into `dir`.
pub fn write_all(dir: &Path, rows: &[Row], about: &serde_json::Value) -> Result<()> {
    write_atomic(&dir.join("compare.md"), markdown(rows).as_bytes())?;
    write_atomic(&dir.join("compare.csv"), csv(rows).as_bytes())?;
    let json = serde_json::json!({ "sweep": about, "rows": rows });
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Config(e.to_string()))?;
    Ok(write_atomic(&dir.join("compare.json"), text.as_bytes())?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn row(name: &str, head: &str, top1: f64) -> Row {
        Row {
            name: name.into(),
            key: "k".into(),
            head: head.into(),
            backbone: "demo".into(),
            segments: 4,
            top1,
            top5: 100.0,
            val_clips: 6,
            best_epoch: Some(2),
            epochs: 3,
            head_params: 1_234_567,
            model_params: 2_000_000,
            head_macs: 500,
            model_macs: 300_000_000,
            cpu_ms: 1.5,
            gpu_ms: None,
            train_s: 0.5,
            run_dir: "runs/x".into(),
            weights: "runs/x/best.safetensors".into(),
            note: None,
        }
    }

    #[test]
    fn state_round_trips_and_replaces_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = State::load(&path).unwrap();
        assert!(s.rows.is_empty());
        s.record(row("a", "MLP", 50.0));
        s.record(row("b", "LSTM", 60.0));
        s.record(row("a", "MLP", 70.0));
        s.save(&path).unwrap();
        let back = State::load(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.rows.len(), 2);
        assert_eq!(back.finished("a", "k").unwrap().top1, 70.0);
        assert!(back.finished("a", "other settings").is_none());
        std::fs::write(&path, "{").unwrap();
        assert!(State::load(&path).is_err());
    }

    #[test]
    fn tables_have_one_line_per_row_head_first() {
        let rows = [row("a", "MLP", 50.0), row("b", "RNN_TANH", 60.0)];
        let md = markdown(&rows);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 4, "{md}");
        assert!(lines[2].starts_with("| MLP | demo | 4 | 50.00 |"), "{md}");
        assert!(lines[3].starts_with("| RNN_TANH |"), "{md}");
        assert!(
            lines[2].contains("1.23 M") && lines[2].contains("0.5 k"),
            "{md}"
        );
        let c = csv(&rows);
        assert_eq!(c.lines().count(), 3);
        assert!(c.lines().nth(1).unwrap().starts_with("MLP,demo,4,50.0000,"));
    }
}
