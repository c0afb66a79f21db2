//! Frame-rate regulation: the model was trained on clips at a fixed rate (`clip_fps`, Jester
//! ≈ 12 fps), so the live window is resampled by timestamp to that rate, whatever the source
//! delivers; then the N segments are picked with the TSN test rule. Without this, a 30 fps
//! camera would show the model gestures 2.5× slower than it learnt them.

use crate::preprocess::sample_eval_indices;
use std::time::Duration;

/// For times spaced `1/fps` apart, ending at the newest frame and reaching back at most
/// `max_len` steps (no further than half a step before the oldest frame), the index of the
/// frame nearest to each time, oldest first. `pts` must be ascending. A source slower than
/// `fps` yields repeated indices, a faster one skips frames.
pub fn resample(pts: &[Duration], fps: f32, max_len: usize) -> Vec<usize> {
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return Vec::new();
    };
    let step = 1.0 / fps as f64;
    let (first, last) = (first.as_secs_f64(), last.as_secs_f64());
    let secs: Vec<f64> = pts.iter().map(Duration::as_secs_f64).collect();
    let mut out = Vec::with_capacity(max_len);
    for k in 0..max_len {
        let t = last - k as f64 * step;
        // The tolerance keeps a grid point that lands a hair before the first frame through
        // rounding of exact timestamps.
        if t < first - step / 2.0 - 1e-9 {
            break;
        }
        out.push(nearest(&secs, t));
    }
    out.reverse();
    out
}

/// Index of the value in ascending `secs` closest to `t` (the earlier one on a tie).
pub fn nearest(secs: &[f64], t: f64) -> usize {
    let after = secs.partition_point(|&s| s < t);
    if after == 0 {
        return 0;
    }
    if after == secs.len() {
        return secs.len() - 1;
    }
    if t - secs[after - 1] <= secs[after] - t {
        after - 1
    } else {
        after
    }
}

/// The times (seconds on the source clock) of the `n` frames the model sees: the window is
/// resampled to `fps` (at most `max_len` steps back from the newest frame) and `n` segments are
/// picked by the TSN test rule. The picks are then shifted so the last one falls on the newest
/// frame: the TSN rule takes the centre of each segment, which would otherwise leave the newest
/// half segment (about 80 ms at 12 fps) unseen and add that much delay to every gesture.
/// `None` while the window is shorter than `n` steps, so the model never sees a clip padded
/// with repeats of its first frames.
pub fn segment_times(pts: &[Duration], fps: f32, max_len: usize, n: usize) -> Option<Vec<f64>> {
    let steps = resample(pts, fps, max_len.max(n)).len();
    if steps < n || n == 0 {
        return None;
    }
    let picks = sample_eval_indices(steps, n);
    let last = picks[n - 1];
    let newest = pts[pts.len() - 1].as_secs_f64();
    let step = 1.0 / fps as f64;
    Some(
        picks
            .iter()
            .map(|&j| newest - (last - j) as f64 * step)
            .collect(),
    )
}

/// The frames (indices into `pts`) nearest to [`segment_times`].
pub fn segment_frames(pts: &[Duration], fps: f32, max_len: usize, n: usize) -> Option<Vec<usize>> {
    let secs: Vec<f64> = pts.iter().map(Duration::as_secs_f64).collect();
    Some(
        segment_times(pts, fps, max_len, n)?
            .into_iter()
            .map(|t| nearest(&secs, t))
            .collect(),
    )
}

/// Window length in resampled steps for a window of `window` at `fps`, at least `n`.
pub fn window_steps(window: Duration, fps: f32, n: usize) -> usize {
    ((window.as_secs_f64() * fps as f64).round() as usize).max(n)
}

/// The clip-rate grid the live worker computes features on: sample `k` is due at
/// `anchor + k / fps` on the source clock and takes the frame nearest to that time. The anchor is
/// the first frame seen, so consecutive predictions share all but one sample and each sample's
/// features are computed once. A sample is decided as soon as the frame nearest to it has
/// arrived (within half a source frame interval of its time), not one frame later.
#[derive(Debug, Clone)]
pub struct SampleClock {
    fps: f64,
    /// Source time of sample 0.
    anchor: Option<f64>,
    /// The first sample not yet handed out.
    next: u64,
    /// Source time of the newest frame seen.
    newest: f64,
}

impl SampleClock {
    /// A clock for `fps` samples per second (positive).
    pub fn new(fps: f32) -> Self {
        SampleClock {
            fps: fps as f64,
            anchor: None,
            next: 0,
            newest: f64::NEG_INFINITY,
        }
    }

    /// Starts again at the next frame (after a pause, a change of model or a source restart).
    pub fn reset(&mut self) {
        *self = SampleClock::new(self.fps as f32);
    }

    /// Source time of sample `k` (`None` before the first frame).
    pub fn time(&self, k: u64) -> Option<f64> {
        Some(self.anchor? + k as f64 / self.fps)
    }

    /// Samples handed out since the start (or the last reset).
    pub fn samples(&self) -> u64 {
        self.next
    }

    /// The samples that became due with the frames in `pts` (ascending, newest last): `(k,
    /// index of the nearest frame)`, oldest first, at most `max_len` (older ones are dropped:
    /// they would never be looked at). A clock that runs backwards (a source restarted) starts
    /// the grid again at the newest frame.
    pub fn due(&mut self, pts: &[Duration], max_len: usize) -> Vec<(u64, usize)> {
        let Some(last) = pts.last() else {
            return Vec::new();
        };
        let newest = last.as_secs_f64();
        if newest < self.newest {
            self.reset();
        }
        self.newest = newest;
        let anchor = *self.anchor.get_or_insert(newest);
        let step = 1.0 / self.fps;
        // A sample whose time lies within half a frame interval after the newest frame is
        // nearest to that frame: no later frame can be nearer. The tolerance never exceeds half
        // a sample step, so one frame is not handed out for two samples of a faster source.
        let interval = match pts.len() {
            0 | 1 => 0.0,
            n => newest - pts[n - 2].as_secs_f64(),
        };
        let tolerance = (interval / 2.0).min(step / 2.0) + 1e-9;
        // Samples 0..=last_due are due.
        let last_due = ((newest + tolerance - anchor) / step).floor();
        if last_due < self.next as f64 {
            return Vec::new();
        }
        let last_due = last_due as u64;
        let first = self.next.max((last_due + 1).saturating_sub(max_len as u64));
        self.next = last_due + 1;
        let secs: Vec<f64> = pts.iter().map(Duration::as_secs_f64).collect();
        (first..=last_due)
            .map(|k| (k, nearest(&secs, anchor + k as f64 * step)))
            .collect()
    }
}

/// Offsets back from the newest sample (0 = the newest) of the `n` samples the model sees when
/// the window holds `have` samples: the TSN test rule over the window, shifted so that the last
/// pick is the newest sample (see [`segment_times`]). Oldest first; `None` while `have < n`.
pub fn segment_offsets(have: usize, n: usize) -> Option<Vec<usize>> {
    if have < n || n == 0 {
        return None;
    }
    let picks = sample_eval_indices(have, n);
    let last = picks[n - 1];
    Some(picks.iter().map(|&j| last - j).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(fps: f64, count: usize) -> Vec<Duration> {
        (0..count)
            .map(|i| Duration::from_secs_f64(i as f64 / fps))
            .collect()
    }

    #[test]
    fn same_rate_keeps_every_frame() {
        let pts = times(12.0, 8);
        assert_eq!(resample(&pts, 12.0, 24), (0..8).collect::<Vec<_>>());
        // A full fixture clip at its own rate: the model sees exactly what `classify` sees.
        assert_eq!(
            segment_frames(&pts, 12.0, 24, 8),
            Some((0..8).collect::<Vec<_>>())
        );
        assert_eq!(segment_frames(&pts[..7], 12.0, 24, 8), None);
    }

    #[test]
    fn segments_keep_tsn_spacing_and_end_at_the_newest_frame() {
        // 3 s at 12 fps, window 24 steps: TSN picks steps 1, 4, ..., 22 of 24; shifted by one
        // step so the last pick is the newest frame.
        let pts = times(12.0, 36);
        let picked = segment_frames(&pts, 12.0, 24, 8).unwrap();
        assert_eq!(picked, vec![14, 17, 20, 23, 26, 29, 32, 35]);
        // At 30 fps the same times are picked, to the nearest frame.
        let pts30 = times(30.0, 90);
        let t30: Vec<f64> = segment_frames(&pts30, 12.0, 24, 8)
            .unwrap()
            .iter()
            .map(|&i| pts30[i].as_secs_f64())
            .collect();
        let (newest12, newest30) = (pts[35].as_secs_f64(), pts30[89].as_secs_f64());
        for (a, &b) in t30.iter().zip(&picked) {
            let (ago30, ago12) = (newest30 - a, newest12 - pts[b].as_secs_f64());
            assert!((ago30 - ago12).abs() <= 1.0 / 60.0 + 1e-9, "{t30:?}");
        }
        let times_only = segment_times(&pts, 12.0, 24, 8).unwrap();
        assert!((times_only[7] - pts[35].as_secs_f64()).abs() < 1e-12);
        assert!((times_only[1] - times_only[0] - 0.25).abs() < 1e-12);
    }

    #[test]
    fn faster_sources_are_thinned_by_timestamp() {
        // 30 fps for 2 s, regulated to 12 fps: one frame every 2.5 source frames.
        let pts = times(30.0, 61);
        let grid = resample(&pts, 12.0, 24);
        assert_eq!(grid.len(), 24);
        assert_eq!(*grid.last().unwrap(), 60);
        for w in grid.windows(2) {
            let gap = w[1] - w[0];
            assert!(gap == 2 || gap == 3, "{grid:?}");
        }
        // The same wall-clock window at 60 fps picks frames at the same times.
        let pts60 = times(60.0, 121);
        let grid60 = resample(&pts60, 12.0, 24);
        let t30: Vec<f64> = grid.iter().map(|&i| pts[i].as_secs_f64()).collect();
        let t60: Vec<f64> = grid60.iter().map(|&i| pts60[i].as_secs_f64()).collect();
        for (a, b) in t30.iter().zip(&t60) {
            assert!((a - b).abs() <= 1.0 / 60.0 + 1e-9);
        }
    }

    #[test]
    fn slower_sources_repeat_frames_and_jitter_is_absorbed() {
        let pts = times(5.0, 6);
        let grid = resample(&pts, 12.0, 100);
        // 1 s at 12 fps: 13 grid points over 6 frames, each frame used 2 or 3 times.
        assert_eq!(grid.len(), 13);
        assert_eq!((grid[0], grid[12]), (0, 5));
        assert!(grid.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1));
        for f in 0..6 {
            let uses = grid.iter().filter(|&&g| g == f).count();
            assert!((1..=3).contains(&uses), "{grid:?}");
        }
        let jittery: Vec<Duration> = (0..12u64)
            .map(|i| Duration::from_millis(i * 83 + if i % 2 == 0 { 9 } else { 0 }))
            .collect();
        assert_eq!(resample(&jittery, 12.0, 100), (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn window_length_and_empty_input() {
        assert_eq!(window_steps(Duration::from_secs(2), 12.0, 8), 24);
        assert_eq!(window_steps(Duration::from_millis(100), 12.0, 8), 8);
        assert!(resample(&[], 12.0, 10).is_empty());
        assert_eq!(resample(&times(30.0, 300), 12.0, 5).len(), 5);
    }
    #[test]
    fn clock_hands_out_each_sample_once_on_the_nearest_frame_as_it_arrives() {
        // 30 fps source, 12 fps clock, frames arriving one by one.
        let pts = times(30.0, 91);
        let mut clock = SampleClock::new(12.0);
        let mut got = Vec::new();
        for end in 1..=pts.len() {
            for (k, i) in clock.due(&pts[..end], 24) {
                // Decided on arrival: the frame is the newest or (on a tie) the one before.
                assert!(i + 1 >= end - 1, "sample {k} on frame {i} decided at {end}");
                got.push((k, i));
            }
        }
        let ks: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            ks,
            (0..=36).collect::<Vec<_>>(),
            "one per 1/12 s, none twice"
        );
        for &(k, i) in &got {
            // Nearest: within half a source frame (ties may go either way).
            let off = (pts[i].as_secs_f64() - k as f64 / 12.0).abs();
            assert!(off <= 1.0 / 60.0 + 1e-9, "sample {k} on frame {i}");
        }
        assert_eq!(clock.samples(), 37);
    }

    #[test]
    fn clock_drops_what_the_window_cannot_hold_and_restarts_when_time_runs_back() {
        let pts = times(30.0, 300);
        let mut clock = SampleClock::new(12.0);
        assert_eq!(clock.due(&pts[..1], 24), vec![(0, 0)]);
        // 10 s later in one go: only the newest 24 samples.
        let due = clock.due(&pts, 24);
        assert_eq!(due.len(), 24);
        assert_eq!(due.last().unwrap().0, 119);
        assert!(clock.due(&pts, 24).is_empty(), "nothing new");
        // A source that restarts its clock: a new grid at the new first frame.
        let again = clock.due(&pts[..2], 24);
        assert_eq!(again, vec![(0, 1)]);
        // A slower source repeats frames.
        let slow = times(5.0, 3);
        let mut clock = SampleClock::new(12.0);
        let all: Vec<_> = (1..=3).flat_map(|e| clock.due(&slow[..e], 24)).collect();
        assert_eq!(
            all.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5]
        );
        assert_eq!(
            all.iter().map(|d| d.1).collect::<Vec<_>>(),
            vec![0, 0, 1, 1, 2, 2]
        );
    }

    #[test]
    fn offsets_are_the_segment_rule_ending_at_the_newest_sample() {
        assert_eq!(
            segment_offsets(24, 8),
            Some(vec![21, 18, 15, 12, 9, 6, 3, 0])
        );
        assert_eq!(segment_offsets(8, 8), Some((0..8).rev().collect()));
        assert_eq!(segment_offsets(7, 8), None);
        // The same picks segment_frames makes on a clip at the clock's own rate.
        let pts = times(12.0, 36);
        let frames = segment_frames(&pts, 12.0, 24, 8).unwrap();
        let offsets = segment_offsets(24, 8).unwrap();
        assert_eq!(frames, offsets.iter().map(|o| 35 - o).collect::<Vec<_>>());
    }
}
