//! A landmark model's backbone inputs for the feature cache: the packed frames of a landmark
//! clip file (`landmarks/ID.json`), or of a clip folder of frames (what the window's Teach panel
//! records) run through the hand tracker the model's weights name, frame by frame in order with
//! one hand tracked, as the live worker and `classify` see a clip. Mirrored rows mirror the
//! landmarks and swap the handedness, as the training loader's flip does.

use crate::hands::shipped::{normalised, tracker_for};
use crate::hands::tracker::{HandOptions, HandTracker};
use crate::model::backbone::hand_landmarks::INPUT_LEN;
use crate::model::config::ModelConfig;
use crate::preprocess;
use crate::train::data::landmarks::{read_clip, LandmarkClip};
use crate::train::data::Dataset;
use crate::{Error, Result};

/// The tracker of a landmark model: one hand, tracked from frame to frame.
pub fn tracker(cfg: &ModelConfig) -> Result<HandTracker> {
    let options = HandOptions {
        max_hands: 1,
        ..HandOptions::video()
    };
    tracker_for(&cfg.hand_models, options).map_err(|e| {
        Error::HandTracker(format!(
            "loading the hand models the base weights name: {}",
            crate::error::report(&e)
        ))
    })
}

/// True when clip `entry` of `ds` is a folder of frames to track rather than a landmark file.
pub fn is_frame_folder(ds: &Dataset, entry: usize) -> bool {
    ds.clip_dir(&ds.list.entries[entry]).is_dir()
}

/// The landmark file of clip `entry`.
pub fn read(ds: &Dataset, entry: usize) -> Result<LandmarkClip> {
    read_clip(&ds.landmark_path(&ds.list.entries[entry]))
}

/// Tracks the stored frames `steps` of clip folder `entry` in order (the tracker starts afresh
/// for the clip). A frame that cannot be read or tracked is an error naming the frame.
pub fn track(
    ds: &Dataset,
    entry: usize,
    steps: &[usize],
    tracker: &mut HandTracker,
) -> Result<LandmarkClip> {
    let e = &ds.list.entries[entry];
    tracker.reset();
    let mut frames = Vec::with_capacity(steps.len());
    let mut size = None;
    for &i in steps {
        let path = ds.frame_path(e, i);
        if !path.exists() {
            return Err(Error::Clip {
                path,
                reason: "frame missing (the index names more frames)".to_string(),
            });
        }
        let img = preprocess::load_frame(&path)?;
        let (w, h) = img.dimensions();
        size.get_or_insert((w, h));
        let hands = tracker.process(&img).map_err(|err| Error::Clip {
            path: path.clone(),
            reason: format!("hand tracker: {}", crate::error::report(&err)),
        })?;
        frames.push(hands.first().map(|hand| normalised(hand, w, h)));
    }
    let Some((width, height)) = size else {
        return Err(Error::Clip {
            path: ds.clip_dir(e),
            reason: "no frames".into(),
        });
    };
    Ok(LandmarkClip {
        width,
        height,
        fps: None,
        frames,
    })
}

/// Every frame of `clip` packed for the backbone, `[frames (+ frames), 22, 3]` row-major, the
/// mirrored frames after the plain ones when `flip`.
pub fn packed(clip: &LandmarkClip, flip: bool) -> Vec<f32> {
    let n = clip.frames.len();
    let copies = if flip { 2 } else { 1 };
    let mut out = vec![0f32; copies * n * INPUT_LEN];
    for (r, row) in out.chunks_mut(INPUT_LEN).enumerate() {
        clip.pack(r % n, r >= n, row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Arch, Consensus};
    use crate::train::data::DataSpec;
    use crate::train::finetune::features::FeatureCache;
    use std::path::Path;
    use std::sync::atomic::AtomicBool;

    /// A landmark data set of one clip: a right hand in frame 1, none in frame 2.
    fn landmark_set(dir: &Path) -> Dataset {
        std::fs::create_dir_all(dir.join("landmarks")).unwrap();
        let lm: Vec<String> = (0..21)
            .map(|k| {
                // Off a line: a palm that spans a plane.
                let x = 0.3 + 0.01 * k as f32 + 0.02 * (k % 4) as f32;
                let y = 0.6 - 0.015 * k as f32 + 0.01 * (k % 3) as f32;
                format!("[{x}, {y}, 0.01]")
            })
            .collect();
        let hand = format!(
            "{{\"handedness\": \"Right\", \"score\": 0.9, \"landmarks\": [{}]}}",
            lm.join(",")
        );
        let text = format!("{{\"width\": 640, \"height\": 480, \"frames\": [[{hand}], []]}}");
        std::fs::write(dir.join("landmarks/7.json"), text).unwrap();
        std::fs::write(dir.join("category.txt"), "Wave\n").unwrap();
        std::fs::write(dir.join("list.txt"), "7 2 0\n").unwrap();
        DataSpec::new(dir).open(Path::new("list.txt")).unwrap()
    }

    #[test]
    fn landmark_files_are_cached_plain_and_mirrored_as_the_backbone_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let ds = landmark_set(dir.path());
        assert!(!is_frame_folder(&ds, 0));
        let clip = read(&ds, 0).unwrap();
        let rows = packed(&clip, true);
        assert_eq!(rows.len(), 4 * INPUT_LEN);
        let mut want = vec![0f32; INPUT_LEN];
        for (r, (i, flip)) in [(0, false), (1, false), (0, true), (1, true)]
            .iter()
            .enumerate()
        {
            clip.pack(*i, *flip, &mut want);
            assert_eq!(
                &rows[r * INPUT_LEN..(r + 1) * INPUT_LEN],
                &want[..],
                "row {r}"
            );
        }
        assert!(
            (rows[2 * INPUT_LEN] - (1.0 - rows[0])).abs() < 1e-6,
            "x mirrored"
        );

        let cfg = ModelConfig::new(Arch::HandLandmarks, Consensus::Avg, 2, vec!["Wave".into()]);
        let model = crate::testing::random_model(&cfg, &candle_core::Device::Cpu).unwrap();
        let cache = FeatureCache::compute(
            &model,
            &ds,
            &|_| true,
            &mut |_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        let c = &cache.clips[0];
        assert_eq!((cache.dim, c.frames), (128, 2));
        let x = candle_core::Tensor::from_vec(rows, (4, 22, 3), model.device()).unwrap();
        let want: Vec<f32> = model
            .backbone_features(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let got: Vec<f32> = c
            .plain
            .iter()
            .chain(c.flipped.as_ref().unwrap())
            .copied()
            .collect();
        let diff = crate::model::kernels::max_abs_diff(&got, &want);
        assert!(diff < 1e-5, "{diff}");
        // The hand is no degenerate one (those give the features of no hand), and its mirror
        // image is somewhere else in the picture.
        assert_ne!(c.plain[..128], c.plain[128..]);
        assert_ne!(c.plain[..128], c.flipped.as_ref().unwrap()[..128]);
        assert!(c.plain[128..].iter().all(|&v| v >= 0.0), "ReLU output");
    }

    #[test]
    fn a_missing_landmark_file_is_skipped_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut ds = landmark_set(dir.path());
        ds.list.entries[0].id = "8".into();
        let cfg = ModelConfig::new(Arch::HandLandmarks, Consensus::Avg, 2, vec!["Wave".into()]);
        let model = crate::testing::random_model(&cfg, &candle_core::Device::Cpu).unwrap();
        let cache = FeatureCache::compute(
            &model,
            &ds,
            &|_| false,
            &mut |_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert!(cache.clips.is_empty());
        assert!(
            cache.skipped[0].reason.contains("8.json"),
            "{:?}",
            cache.skipped
        );
    }
}
