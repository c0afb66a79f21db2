//! Accuracy bookkeeping: top-k counts from logits, running averages, the confusion matrix, and
//! the per-epoch record a run writes as CSV and JSON lines.

use crate::train::collapse::PredictionSpread;
use crate::util::write_atomic;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Indices of the `k` largest values, largest first (ties: lower index first).
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// Counts of a batch: how many targets are the top-1 and among the top-5 predictions.
pub fn count_correct(logits: &[Vec<f32>], labels: &[u32]) -> (usize, usize) {
    let mut top1 = 0;
    let mut top5 = 0;
    for (row, &label) in logits.iter().zip(labels) {
        let top = top_k(row, 5);
        top1 += usize::from(top.first() == Some(&(label as usize)));
        top5 += usize::from(top.contains(&(label as usize)));
    }
    (top1, top5)
}

/// Sums of loss and correct counts over an epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub clips: usize,
    pub loss_sum: f64,
    pub top1: usize,
    pub top5: usize,
}

impl Tally {
    /// Adds a batch with mean loss `loss` over `n` clips.
    pub fn add(&mut self, n: usize, loss: f64, top1: usize, top5: usize) {
        self.clips += n;
        self.loss_sum += loss * n as f64;
        self.top1 += top1;
        self.top5 += top5;
    }

    /// Mean loss per clip.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.clips.max(1) as f64
    }

    /// Top-1 accuracy in percent.
    pub fn top1_pct(&self) -> f64 {
        100.0 * self.top1 as f64 / self.clips.max(1) as f64
    }

    /// Top-5 accuracy in percent.
    pub fn top5_pct(&self) -> f64 {
        100.0 * self.top5 as f64 / self.clips.max(1) as f64
    }
}

/// Rows: true class; columns: predicted class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfusionMatrix {
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// An empty `n`×`n` matrix.
    pub fn new(n: usize) -> Self {
        ConfusionMatrix {
            counts: vec![vec![0; n]; n],
        }
    }

    /// Records one clip.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    /// Per class: how many clips were predicted as it (the column sums).
    pub fn predicted_counts(&self) -> Vec<u64> {
        (0..self.counts.len())
            .map(|j| self.counts.iter().map(|row| row[j]).sum())
            .collect()
    }

    /// Per class: (clips, accuracy in percent or `None` without clips).
    pub fn per_class(&self) -> Vec<(u64, Option<f64>)> {
        self.counts
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let n: u64 = row.iter().sum();
                (n, (n > 0).then(|| 100.0 * row[i] as f64 / n as f64))
            })
            .collect()
    }

    /// The matrix as aligned text, with a legend of class indices.
    pub fn to_text(&self, labels: &[String]) -> String {
        let n = self.counts.len();
        let width = self
            .counts
            .iter()
            .flatten()
            .map(|c| c.to_string().len())
            .max()
            .unwrap_or(1)
            .max(n.to_string().len())
            + 1;
        let mut s = String::from("true \\ predicted\n");
        s.push_str(&format!("{:>4} ", ""));
        for j in 0..n {
            s.push_str(&format!("{j:>width$}"));
        }
        s.push('\n');
        for (i, row) in self.counts.iter().enumerate() {
            s.push_str(&format!("{i:>4} "));
            for c in row {
                s.push_str(&format!("{c:>width$}"));
            }
            s.push_str(&format!(
                "   {}\n",
                labels.get(i).map_or("", String::as_str)
            ));
        }
        s
    }
}

/// One line of a run's metrics: an epoch (1-based) with its training and, when it was
/// evaluated, validation figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub train_top1: f64,
    pub train_top5: f64,
    pub val_loss: Option<f64>,
    pub val_top1: Option<f64>,
    pub val_top5: Option<f64>,
    pub train_clips: usize,
    pub skipped_clips: usize,
    pub clips_per_s: f64,
    pub epoch_s: f64,
    /// Optimiser steps whose gradients were clipped.
    pub clipped_steps: usize,
    /// The class the training predictions went to most, and its share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_pred: Option<PredictionSpread>,
    /// The same for the validation predictions, when the epoch was validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_pred: Option<PredictionSpread>,
    /// "no learning yet: ..." when the run looked collapsed after this epoch
    /// ([`crate::train::collapse`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
}

const CSV_HEADER: &str = "epoch,lr,train_loss,train_top1,train_top5,val_loss,val_top1,val_top5,\
                          train_clips,skipped_clips,clips_per_s,epoch_s,clipped_steps";

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:.6}"))
}

#[cfg(test)]
impl EpochRecord {
    /// Epoch `epoch` with zero figures and nothing evaluated: tests set what they look at.
    pub(crate) fn blank(epoch: usize) -> Self {
        EpochRecord {
            epoch,
            lr: 0.0,
            train_loss: 0.0,
            train_top1: 0.0,
            train_top5: 0.0,
            val_loss: None,
            val_top1: None,
            val_top5: None,
            train_clips: 0,
            skipped_clips: 0,
            clips_per_s: 0.0,
            epoch_s: 0.0,
            clipped_steps: 0,
            train_pred: None,
            val_pred: None,
            diagnosis: None,
        }
    }
}

impl EpochRecord {
    fn csv_line(&self) -> String {
        format!(
            "{},{:e},{:.6},{:.4},{:.4},{},{},{},{},{},{:.3},{:.2},{}",
            self.epoch,
            self.lr,
            self.train_loss,
            self.train_top1,
            self.train_top5,
            opt(self.val_loss),
            opt(self.val_top1),
            opt(self.val_top5),
            self.train_clips,
            self.skipped_clips,
            self.clips_per_s,
            self.epoch_s,
            self.clipped_steps
        )
    }
}

/// `metrics.csv` and `metrics.jsonl` of a run folder.
pub struct MetricsFiles {
    pub csv: std::path::PathBuf,
    pub jsonl: std::path::PathBuf,
}

impl MetricsFiles {
    /// The files in `run_dir`.
    pub fn in_dir(run_dir: &Path) -> Self {
        MetricsFiles {
            csv: run_dir.join("metrics.csv"),
            jsonl: run_dir.join("metrics.jsonl"),
        }
    }

    /// Rewrites both files (atomically) from the checkpoint's history: after a resume they hold
    /// exactly the epochs the checkpoint holds, whatever a killed run had appended.
    pub fn rewrite(&self, history: &[EpochRecord]) -> Result<()> {
        let mut csv = format!("{CSV_HEADER}\n");
        let mut jsonl = String::new();
        for r in history {
            csv.push_str(&r.csv_line());
            csv.push('\n');
            jsonl.push_str(&serde_json::to_string(r).expect("records serialise"));
            jsonl.push('\n');
        }
        write_atomic(&self.csv, csv.as_bytes())?;
        Ok(write_atomic(&self.jsonl, jsonl.as_bytes())?)
    }

    /// Appends one epoch to both files.
    pub fn append(&self, r: &EpochRecord) -> Result<()> {
        let line = serde_json::to_string(r).expect("records serialise");
        for (path, text) in [(&self.csv, r.csv_line()), (&self.jsonl, line)] {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            writeln!(f, "{text}").map_err(|e| Error::io(path, e))?;
        }
        Ok(())
    }

    /// Reads the JSON-lines file back.
    pub fn read(&self) -> Result<Vec<EpochRecord>> {
        let text = std::fs::read_to_string(&self.jsonl).map_err(|e| Error::io(&self.jsonl, e))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| Error::Parse {
                    path: self.jsonl.clone(),
                    line: i + 1,
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize) -> EpochRecord {
        EpochRecord {
            lr: 0.001,
            train_loss: 1.5,
            train_top1: 40.0,
            train_top5: 90.0,
            val_loss: epoch.is_multiple_of(2).then_some(1.2),
            val_top1: epoch.is_multiple_of(2).then_some(50.0),
            val_top5: epoch.is_multiple_of(2).then_some(95.0),
            train_clips: 100,
            skipped_clips: 1,
            clips_per_s: 12.5,
            epoch_s: 8.0,
            ..EpochRecord::blank(epoch)
        }
    }

    #[test]
    fn top_k_and_counts() {
        assert_eq!(top_k(&[0.1, 0.9, 0.5, 0.9], 3), vec![1, 3, 2]);
        let logits = vec![vec![0.0, 1.0, 2.0], vec![3.0, 2.0, 1.0]];
        assert_eq!(count_correct(&logits, &[2, 1]), (1, 2));
        let mut t = Tally::default();
        t.add(2, 1.0, 1, 2);
        t.add(2, 3.0, 2, 2);
        assert_eq!((t.loss(), t.top1_pct(), t.top5_pct()), (2.0, 75.0, 100.0));
    }

    #[test]
    fn confusion_matrix_per_class_and_text() {
        let mut m = ConfusionMatrix::new(3);
        for (t, p) in [(0, 0), (0, 1), (1, 1), (1, 1)] {
            m.add(t, p);
        }
        assert_eq!(m.predicted_counts(), vec![1, 3, 0]);
        assert_eq!(
            m.per_class(),
            vec![(2, Some(50.0)), (2, Some(100.0)), (0, None)]
        );
        let text = m.to_text(&["a".into(), "b".into(), "c".into()]);
        assert!(text.contains("   0  1 1 0   a"), "{text}");
    }

    #[test]
    fn files_rewrite_then_append_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let files = MetricsFiles::in_dir(dir.path());
        files.rewrite(&[record(1), record(2)]).unwrap();
        files.append(&record(3)).unwrap();
        assert_eq!(files.read().unwrap(), vec![record(1), record(2), record(3)]);
        let csv = std::fs::read_to_string(&files.csv).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("epoch,lr,"));
        assert!(
            lines[1].starts_with("1,1e-3,1.500000,40.0000,90.0000,,,,100,"),
            "{}",
            lines[1]
        );
        // A resume from a checkpoint of epoch 2 drops what a killed run appended after it.
        files.rewrite(&[record(1), record(2)]).unwrap();
        assert_eq!(files.read().unwrap().len(), 2);
    }
}
