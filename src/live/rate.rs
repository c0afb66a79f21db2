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
}
