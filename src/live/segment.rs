//! One stretch of predictions during which a gesture class leads: what the `end` event rule
//! (docs/handmodel.md, "Firing at a gesture's end") keeps while a gesture is performed, and the
//! class it names once the stretch is over.
//!
//! A gesture's wind-up and its way back each look like another gesture for a moment (a zoom in
//! opens the fingers before it closes them; a roll's return is the opposite roll). Counting
//! how much probability each class gathers over the whole stretch, rather than which class
//! crosses the threshold first, names the gesture the hand spent most of the stretch doing.

use std::time::Duration;

/// The probability-time each class gathered while a gesture class led.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// Source time of the first prediction of the stretch.
    pub start: Duration,
    /// Smoothed probability integrated over time, per class (probability-seconds).
    pub mass: Vec<f64>,
    /// Seconds each class led at or above its threshold.
    pub above: Vec<f64>,
    /// Highest smoothed probability of each class.
    pub peak: Vec<f32>,
    /// Whether this stretch already gave its event (at most one per stretch).
    pub fired: bool,
}

impl Segment {
    pub fn new(start: Duration, classes: usize) -> Self {
        Segment {
            start,
            mass: vec![0.0; classes],
            above: vec![0.0; classes],
            peak: vec![0.0; classes],
            fired: false,
        }
    }

    /// Adds one prediction that covers `dt` seconds; `top` is the leading class and
    /// `thresholds` the per-class firing levels. Background classes gather nothing.
    pub fn add(
        &mut self,
        smoothed: &[f32],
        dt: f64,
        top: usize,
        thresholds: &[f32],
        background: &[bool],
    ) {
        for (i, &p) in smoothed.iter().enumerate() {
            if background[i] {
                continue;
            }
            self.mass[i] += f64::from(p) * dt;
            self.peak[i] = self.peak[i].max(p);
            if i == top && p >= thresholds[i] {
                self.above[i] += dt;
            }
        }
    }

    /// The class with the most mass among those allowed to win: a class with a hold time
    /// (`hold`, seconds) must have led above its threshold that long, so a palm raised before a
    /// swipe does not out-weigh the swipe as a stop sign that was never held.
    pub fn winner(&self, hold: &[f64]) -> usize {
        let held = |i: usize| hold[i] == 0.0 || self.above[i] + 1e-9 >= hold[i];
        // Held classes first, then by mass: the most mass among the held, if any is.
        (0..self.mass.len())
            .max_by(|&a, &b| {
                held(a)
                    .cmp(&held(b))
                    .then(self.mass[a].total_cmp(&self.mass[b]))
            })
            .unwrap_or(0)
    }

    /// Whether `class` may fire: it reached its threshold and, if it has one, its hold.
    pub fn qualifies(&self, class: usize, thresholds: &[f32], hold: &[f64]) -> bool {
        self.peak[class] >= thresholds[class] && self.above[class] + 1e-9 >= hold[class]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_with_most_mass_wins_unless_it_needed_a_hold_it_did_not_get() {
        let thresholds = [0.8, 0.8, 0.8];
        let background = [false, false, true];
        let mut s = Segment::new(Duration::ZERO, 3);
        // Class 0 leads briefly and high, class 1 longer and lower but still above 0.8.
        s.add(&[0.95, 0.05, 0.0], 0.1, 0, &thresholds, &background);
        for _ in 0..5 {
            s.add(&[0.1, 0.85, 0.05], 0.1, 1, &thresholds, &background);
        }
        assert_eq!(s.winner(&[0.0, 0.0, 0.0]), 1);
        assert!(s.qualifies(1, &thresholds, &[0.0; 3]));
        // Class 1 needs 0.8 s held and led 0.5 s: class 0 wins instead.
        assert_eq!(s.winner(&[0.0, 0.8, 0.0]), 0);
        assert!(!s.qualifies(1, &thresholds, &[0.0, 0.8, 0.0]));
        // Background gathers nothing, however high.
        assert_eq!(s.mass[2], 0.0);
        assert!(
            (s.mass[1] - 0.5 * 0.85 - 0.005).abs() < 1e-6,
            "{:?}",
            s.mass
        );
    }

    #[test]
    fn a_class_that_never_reached_its_threshold_does_not_qualify() {
        let mut s = Segment::new(Duration::ZERO, 2);
        for _ in 0..30 {
            s.add(&[0.7, 0.3], 0.1, 0, &[0.8, 0.8], &[false, false]);
        }
        assert_eq!(s.winner(&[0.0, 0.0]), 0);
        assert!(!s.qualifies(0, &[0.8, 0.8], &[0.0, 0.0]));
        // At a threshold of 0.6 it does, and no hold is asked.
        assert!(s.qualifies(0, &[0.6, 0.8], &[0.0, 0.0]));
    }
}
