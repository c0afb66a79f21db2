//! Time of a tracked frame of the hand graph (`hands::tracker`): the crop of the region from
//! the previous frame's landmarks, the landmark model, the decoding and the next region; no
//! palm detection. The other side is docs/bench/hands_tracking_tflite.py (docs/hands.md).
//!
//! `cargo run --release --example bench_hand_tracking -- PHOTO THREADS FRAMES` runs the tracker
//! (one hand) over FRAMES frames of PHOTO seen through a 600×440 window moving 3 px right and
//! 2 px down per frame (back and forth), and prints one JSON line: the threads, the frames
//! timed (all but the first, which runs palm detection), the minimum and median milliseconds
//! per tracked frame, and the palm-detection runs.

use anyhow::Context;
use gesture_app::hands::tracker::{HandOptions, HandTracker};
use std::path::Path;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [photo, threads, frames] = &args[..] else {
        anyhow::bail!("usage: bench_hand_tracking PHOTO THREADS FRAMES");
    };
    let threads: usize = threads.parse().context("THREADS")?;
    let frames: u32 = frames.parse().context("FRAMES")?;
    let img = image::open(photo).with_context(|| photo.clone())?.to_rgb8();
    anyhow::ensure!(
        img.width() >= 600 + 3 * 12 && img.height() >= 440 + 2 * 12,
        "{photo}: too small"
    );
    // Frames 0..12 and back, repeated: the hand keeps moving and stays in view.
    let window: Vec<_> = (0..12u32)
        .chain((1..11).rev())
        .map(|i| image::imageops::crop_imm(&img, 3 * i, 2 * i, 600, 440).to_image())
        .collect();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/hands");
    let mut tracker = HandTracker::from_dir(
        &models,
        HandOptions {
            max_hands: 1,
            ..HandOptions::video()
        },
    )?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let mut times = pool.install(|| -> anyhow::Result<Vec<f64>> {
        let mut times = Vec::new();
        for f in 0..frames.max(2) as usize {
            let frame = &window[f % window.len()];
            let t = Instant::now();
            let hands = tracker.process(frame)?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            anyhow::ensure!(hands.len() == 1, "frame {f}: {} hands", hands.len());
            if f > 0 {
                times.push(ms);
            }
        }
        Ok(times)
    })?;
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "engine": "gesture-app",
            "threads": threads,
            "tracked_frames": times.len(),
            "min_ms": times[0],
            "median_ms": times[times.len() / 2],
            "palm_detection_runs": tracker.palm_detection_runs(),
        })
    );
    Ok(())
}
