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
