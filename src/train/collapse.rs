//! Seeing a run that does not learn. A network that has collapsed (every clip gets the same
//! class, or the loss sits at ln C, the loss of a uniform guess over C classes) can train for
//! thirty epochs at chance without a word; this reads the run's history after each epoch and
//! says so — in the epoch line, in `train.log` and in the run folder's `diagnosis.txt` — with the
//! likely causes.
//!
//! An epoch counts as "not learning" when its training top-1 is near chance (or near the
//! share of the largest class, for an unbalanced set) and either its predictions are constant
//! (one class takes [`CONSTANT_SHARE`] % or more of them) or its training loss is within a few
//! percent of ln C. The run is flagged after [`WINDOW`] such epochs in a row in which the loss
//! has not fallen either, so a run that learns slowly is left alone; once flagged, it stays so
//! until an epoch is off chance.

use crate::train::metrics::EpochRecord;
use serde::{Deserialize, Serialize};

/// Epochs in a row that must look collapsed before the run is flagged.
pub const WINDOW: usize = 3;

/// Share of predictions (%) that one class must take for predictions to count as constant.
pub const CONSTANT_SHARE: f64 = 90.0;

/// How an epoch's predictions were spread: the class predicted most and its share of all
/// predictions (%).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictionSpread {
    pub class: usize,
    pub share: f64,
}

impl PredictionSpread {
    /// From per-class prediction counts; `None` when nothing was predicted.
    pub fn from_counts(counts: &[u64]) -> Option<Self> {
        let total: u64 = counts.iter().sum();
        let (class, &top) = counts
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
        (total > 0).then(|| PredictionSpread {
            class,
            share: 100.0 * top as f64 / total as f64,
        })
    }
}

/// What the run is, for the advice: numbers the causes refer to.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub labels: Vec<String>,
    /// Share (%) of the largest class among the training clips.
    pub majority_pct: f64,
    pub train_clips: usize,
    pub lr: f64,
    pub arch: String,
    /// The backbone has no BatchNorm (squeezenet1_1).
    pub bn_free: bool,
    /// No --pretrained weights: the backbone starts from random weights.
    pub from_scratch: bool,
    /// Each segment is one frame (modality RGB), not frame differences.
    pub single_frames: bool,
    pub input_size: usize,
    pub data_root: String,
}

/// A run flagged as not learning.
#[derive(Debug, Clone, PartialEq)]
pub struct Stall {
    /// First and last epoch (1-based) of the stretch that looks collapsed.
    pub from_epoch: usize,
    pub to_epoch: usize,
    /// The predictions were constant (rather than only the loss at chance).
    pub constant: Option<PredictionSpread>,
    pub last_loss: f64,
}

/// The last epoch's predictions: validation when it ran, else training.
fn spread(r: &EpochRecord) -> Option<PredictionSpread> {
    r.val_pred.or(r.train_pred)
}

fn near_chance(r: &EpochRecord, classes: usize, majority_pct: f64) -> bool {
    let base = (100.0 / classes as f64).max(majority_pct);
    r.train_top1 <= base + 0.15 * (100.0 - base)
}

fn loss_at_chance(r: &EpochRecord, classes: usize) -> bool {
    r.train_loss >= 0.92 * (classes as f64).ln()
}

fn constant(r: &EpochRecord) -> bool {
    spread(r).is_some_and(|p| p.share >= CONSTANT_SHARE)
}

/// Whether the end of `history` shows a collapsed run ([`WINDOW`] epochs in a row), and since
/// when. `classes` is C; `majority_pct` the largest class's share of the training clips.
pub fn detect(history: &[EpochRecord], classes: usize, majority_pct: f64) -> Option<Stall> {
    if classes < 2 || history.len() < WINDOW {
        return None;
    }
    let lnc = (classes as f64).ln();
    let stalled = |r: &EpochRecord| {
        near_chance(r, classes, majority_pct) && (constant(r) || loss_at_chance(r, classes))
    };
    let run = history.iter().rev().take_while(|r| stalled(r)).count();
    if run < WINDOW {
        return None;
    }
    let window = &history[history.len() - WINDOW..];
    let last = &window[WINDOW - 1];
    let all_constant = window.iter().all(constant);
    // A loss still falling is a run learning slowly, unless nothing but one class comes out,
    // or the run was flagged already: then only an epoch off chance clears it (a noisy dip in
    // a small data set's loss is no recovery).
    let falling = window[0].train_loss - last.train_loss > 0.05 * lnc;
    let flagged = history[history.len() - 2].diagnosis.is_some();
    if falling && !all_constant && !flagged {
        return None;
    }
    Some(Stall {
        from_epoch: history[history.len() - run].epoch,
        to_epoch: last.epoch,
        constant: all_constant.then(|| spread(last)).flatten(),
        last_loss: last.train_loss,
    })
}

impl Stall {
    /// The short form for the epoch line and `metrics.jsonl`.
    pub fn headline(&self, facts: &RunFacts) -> String {
        let c = facts.labels.len();
        let what = match self.constant {
            Some(p) => format!(
                "predictions constant ({:.0} % '{}')",
                p.share,
                facts.labels.get(p.class).map_or("?", String::as_str)
            ),
            None => format!(
                "training loss {:.3} stays at chance (ln {c} = {:.3})",
                self.last_loss,
                (c as f64).ln()
            ),
        };
        format!(
            "no learning yet: {what}, epochs {}-{}",
            self.from_epoch, self.to_epoch
        )
    }

    /// The likely causes, most likely first, each a line with what to try.
    pub fn causes(&self, facts: &RunFacts) -> Vec<String> {
        let c = facts.labels.len();
        let mut out = vec![format!(
            "learning rate {:e} too high (the output saturates on one class) or too low \
             (nothing moves): try short runs at a tenth and at three times it",
            facts.lr
        )];
        if facts.from_scratch && facts.single_frames {
            out.push(
                "single frames from scratch: a network that pools each frame globally must \
                 first learn where the hand is, and on clips whose frames do not show where it \
                 is going it may never get there; feed it motion instead with --modality \
                 RGBDiff --new-length 4 (as training/demo.toml does)"
                    .to_string(),
            );
        }
        if facts.bn_free && facts.from_scratch {
            out.push(format!(
                "dead ReLUs: {} has no BatchNorm and starts from random weights here, and \
                 units pushed negative stop passing gradients; lower or warm up the learning \
                 rate, or start from ImageNet weights (--pretrained)",
                facts.arch
            ));
        } else if facts.from_scratch {
            out.push(format!(
                "{} from random weights: try --pretrained ImageNet weights",
                facts.arch
            ));
        }
        out.push(format!(
            "input too small or squashed: frames are resized to {0}×{0} px without keeping their \
             aspect, so a hand may be a few pixels; try a larger --input-size",
            facts.input_size
        ));
        out.push(format!(
            "too little data: {} training clips for {c} classes ({} a class)",
            facts.train_clips,
            facts.train_clips / c.max(1)
        ));
        out.push(format!(
            "labels wrong: run `gesture-app data check --root {} --list train_videofolder.txt` \
             and look at a few clips of each class",
            facts.data_root
        ));
        out
    }

    /// The text of `diagnosis.txt`.
    pub fn report(&self, facts: &RunFacts) -> String {
        let mut s = format!(
            "{}\n\nlikely causes, most likely first:\n",
            self.headline(facts)
        );
        for cause in self.causes(facts) {
            s.push_str(&format!("- {cause}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, loss: f64, top1: f64, val: Option<(usize, f64)>) -> EpochRecord {
        EpochRecord {
            lr: 5e-4,
            train_loss: loss,
            train_top1: top1,
            train_top5: 50.0,
            val_loss: val.map(|_| loss),
            val_top1: val.map(|_| top1),
            val_top5: val.map(|_| 50.0),
            train_clips: 360,
            clips_per_s: 10.0,
            epoch_s: 30.0,
            train_pred: Some(PredictionSpread {
                class: 0,
                share: 30.0,
            }),
            val_pred: val.map(|(class, share)| PredictionSpread { class, share }),
            ..EpochRecord::blank(epoch)
        }
    }

    fn facts() -> RunFacts {
        RunFacts {
            labels: (0..9).map(|i| format!("class {i}")).collect(),
            majority_pct: 100.0 / 9.0,
            train_clips: 360,
            lr: 5e-4,
            arch: "squeezenet1_1".into(),
            bn_free: true,
            from_scratch: true,
            single_frames: true,
            input_size: 64,
            data_root: "data/check".into(),
        }
    }

    #[test]
    fn a_collapsed_run_is_flagged_after_three_epochs() {
        // The run: loss at ln 9, validation all one class, 11.1 % top-1.
        let h: Vec<_> = (1..=5)
            .map(|e| record(e, 2.197, 11.1, Some((4, 100.0))))
            .collect();
        assert_eq!(detect(&h[..2], 9, 11.1), None);
        let s = detect(&h, 9, 11.1).unwrap();
        assert_eq!((s.from_epoch, s.to_epoch), (1, 5));
        let f = facts();
        assert_eq!(
            s.headline(&f),
            "no learning yet: predictions constant (100 % 'class 4'), epochs 1-5"
        );
        let report = s.report(&f);
        for cause in [
            "learning rate 5e-4",
            "--modality RGBDiff",
            "dead ReLUs",
            "64×64",
            "40 a class",
            "data check",
        ] {
            assert!(report.contains(cause), "{cause}: {report}");
        }
        let diffs = RunFacts {
            single_frames: false,
            ..f.clone()
        };
        assert!(!s.report(&diffs).contains("--modality RGBDiff"));
        // Constant predictions are flagged even while the loss inches down.
        let falling: Vec<_> = (1..=3)
            .map(|e| record(e, 2.3 - 0.1 * e as f64, 11.0, Some((2, 95.0))))
            .collect();
        assert!(detect(&falling, 9, 11.1).unwrap().constant.is_some());
    }

    #[test]
    fn a_loss_stuck_at_chance_is_flagged_without_validation() {
        // Predictions spread over classes (30 %), but the loss sits at ln 9 and top-1 at chance.
        let h: Vec<_> = (1..=4).map(|e| record(e, 2.19, 12.0, None)).collect();
        let s = detect(&h, 9, 11.1).unwrap();
        assert_eq!(s.constant, None);
        assert!(s
            .headline(&facts())
            .contains("stays at chance (ln 9 = 2.197)"));
    }

    #[test]
    fn a_learning_run_is_left_alone() {
        // A typical learning curve: near chance for two epochs, then falling.
        let curve = [
            (2.19, 11.5),
            (2.15, 14.0),
            (1.9, 30.0),
            (1.4, 52.0),
            (0.9, 70.0),
        ];
        let h: Vec<_> = curve
            .iter()
            .enumerate()
            .map(|(i, &(l, t))| record(i + 1, l, t, Some((1, 20.0))))
            .collect();
        for n in 1..=h.len() {
            assert_eq!(detect(&h[..n], 9, 11.1), None, "after {n} epochs");
        }
        // Slow, but learning: the loss falls by more than 5 % of ln C over the window.
        let slow: Vec<_> = (1..=4)
            .map(|e| record(e, 2.197 - 0.06 * e as f64, 13.0, Some((1, 40.0))))
            .collect();
        assert_eq!(detect(&slow, 9, 11.1), None);
        // An unbalanced set learnt to 85 %, mostly its big class: not a collapse.
        let big: Vec<_> = (1..=4)
            .map(|e| record(e, 0.4, 85.0, Some((0, 92.0))))
            .collect();
        assert_eq!(detect(&big, 3, 80.0), None);
        // A stall that ended: the last epoch learns, so nothing is flagged now.
        let mut recovered: Vec<_> = (1..=4)
            .map(|e| record(e, 2.197, 11.1, Some((3, 100.0))))
            .collect();
        recovered.push(record(5, 1.6, 40.0, Some((3, 30.0))));
        assert_eq!(detect(&recovered, 9, 11.1), None);
        assert!(detect(&recovered[..4], 9, 11.1).is_some());
    }

    #[test]
    fn a_flagged_run_stays_flagged_through_a_noisy_dip() {
        // Small data: the loss wobbles. Unflagged, a dip of more than 5 % of ln C over the
        // window counts as learning; once flagged, only an epoch off chance clears the flag.
        let losses = [1.10, 1.11, 1.12, 1.13, 1.14, 1.06, 1.10];
        let mut h: Vec<EpochRecord> = Vec::new();
        let mut flags = Vec::new();
        for (i, &l) in losses.iter().enumerate() {
            h.push(record(i + 1, l, 35.0, Some((1, 60.0))));
            let d = detect(&h, 3, 33.3);
            h[i].diagnosis = d.as_ref().map(|d| d.headline(&facts()));
            flags.push(d.map(|d| (d.from_epoch, d.to_epoch)));
        }
        let want = [
            None,
            None,
            Some((1, 3)),
            Some((1, 4)),
            Some((1, 5)),
            Some((1, 6)),
            Some((1, 7)),
        ];
        assert_eq!(flags, want);
        let unflagged: Vec<_> = [1.14, 1.12, 1.08]
            .iter()
            .enumerate()
            .map(|(i, &l)| record(i + 1, l, 35.0, Some((1, 60.0))))
            .collect();
        assert_eq!(detect(&unflagged, 3, 33.3), None);
    }

    #[test]
    fn spread_from_counts() {
        assert_eq!(
            PredictionSpread::from_counts(&[1, 6, 3]),
            Some(PredictionSpread {
                class: 1,
                share: 60.0
            })
        );
        assert_eq!(PredictionSpread::from_counts(&[0, 0]), None);
        assert_eq!(PredictionSpread::from_counts(&[]), None);
        // Ties go to the lower class.
        assert_eq!(PredictionSpread::from_counts(&[2, 2]).unwrap().class, 0);
    }

    #[test]
    fn nan_losses_never_pass_for_learning() {
        // A NaN loss is not "falling": with constant predictions the run is still flagged.
        let mut h: Vec<_> = (1..=3)
            .map(|e| record(e, 2.197, 11.1, Some((0, 100.0))))
            .collect();
        h[2].train_loss = f64::NAN;
        assert!(detect(&h, 9, 11.1).is_some());
    }
}
