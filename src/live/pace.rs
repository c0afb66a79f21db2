//! Even degradation of the live worker: when one clip-rate sample costs more than a sample
//! step (backbone pass + head on a slow machine), the worker computes only every `stride`-th
//! sample of the grid and predicts on those, a steady lower rate instead of a backlog or
//! bursts. The stride follows the median cost of the recent samples, with a dead band so a
//! cost near the budget does not make it flap.

use std::collections::VecDeque;
use std::time::Duration;

/// Recent sample costs the stride is chosen from.
const WINDOW: usize = 8;
/// Costs needed (after a change) before the stride changes again.
const SETTLE: usize = 4;
/// The stride grows when the median cost passes this share of its time budget…
const GROW_AT: f64 = 0.95;
/// …and shrinks when a smaller stride would keep the cost under this share.
const SHRINK_AT: f64 = 0.8;
/// Below this share there is time to fill a hole a late sample left.
const SLACK_AT: f64 = 0.5;

/// Chooses how many grid samples apart the worker computes.
#[derive(Debug, Clone)]
pub struct Pace {
    /// One sample step, seconds.
    step: f64,
    max_stride: u64,
    stride: u64,
    costs: VecDeque<f64>,
}

impl Pace {
    /// For samples `1/fps` apart; the stride never exceeds `max_stride` (≥ 1).
    pub fn new(fps: f32, max_stride: u64) -> Self {
        Pace {
            step: 1.0 / fps as f64,
            max_stride: max_stride.max(1),
            stride: 1,
            costs: VecDeque::with_capacity(WINDOW),
        }
    }

    /// Compute every `stride`-th sample (those with `k % stride == 0`).
    pub fn stride(&self) -> u64 {
        self.stride
    }

    /// Whether there is time for more than one pass per sample: the recent samples cost at most
    /// half their time budget (or too few have been measured to tell, as at the start). A
    /// worker that is late all the time spends nothing on filling holes.
    pub fn has_slack(&self) -> bool {
        match self.median() {
            None => true,
            Some(m) => m <= SLACK_AT * self.stride as f64 * self.step,
        }
    }

    /// Median of the recent costs, once there are enough of them.
    fn median(&self) -> Option<f64> {
        if self.costs.len() < SETTLE {
            return None;
        }
        let mut sorted: Vec<f64> = self.costs.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        Some(sorted[sorted.len() / 2])
    }

    /// Records what one sample cost (features + head, wall time) and updates the stride.
    pub fn record(&mut self, cost: Duration) {
        if self.costs.len() == WINDOW {
            self.costs.pop_front();
        }
        self.costs.push_back(cost.as_secs_f64());
        let Some(median) = self.median() else {
            return;
        };
        let strides = |share: f64| ((median / (share * self.step)).ceil() as u64).max(1);
        let next = if median > GROW_AT * self.stride as f64 * self.step {
            strides(GROW_AT)
        } else {
            strides(SHRINK_AT).min(self.stride)
        }
        .min(self.max_stride);
        if next != self.stride {
            self.stride = next;
            self.costs.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn a_fast_model_computes_every_sample() {
        let mut p = Pace::new(12.0, 8);
        for _ in 0..20 {
            p.record(ms(40));
        }
        assert_eq!(p.stride(), 1);
        assert!(p.has_slack());
        // One slow outlier (another process) does not move it.
        p.record(ms(400));
        p.record(ms(40));
        assert_eq!(p.stride(), 1);
    }

    #[test]
    fn a_slow_model_gets_the_smallest_stride_that_fits_and_comes_back() {
        let mut p = Pace::new(12.0, 8);
        for _ in 0..SETTLE {
            p.record(ms(130));
        }
        // 130 ms against an 83 ms step: every second sample.
        assert_eq!(p.stride(), 2);
        for _ in 0..20 {
            p.record(ms(130));
        }
        assert_eq!(p.stride(), 2, "steady");
        assert!(!p.has_slack(), "130 of 167 ms leaves no time to fill holes");
        // 78 ms fits one step at 94 %: not yet back (dead band)…
        for _ in 0..20 {
            p.record(ms(78));
        }
        assert_eq!(p.stride(), 2);
        // …60 ms is.
        for _ in 0..20 {
            p.record(ms(60));
        }
        assert_eq!(p.stride(), 1);
        for _ in 0..20 {
            p.record(ms(5000));
        }
        assert_eq!(p.stride(), 8, "capped");
    }
}
