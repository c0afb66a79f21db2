//! Landmark clips: one `ID.json` per clip holding what a hand tracker reported per frame
//! (docs/ARCHITECTURE.md §7), read and packed for the `hand_landmarks` backbone, with TSN's
//! segment sampling and the horizontal flip of landmarks (x mirrored, handedness swapped; the
//! label is mirrored by the caller's flip policy).
//!
//! Reads the documented format with its own serde types rather than the generator's, so clips
//! from any writer (the generator, the tracker run over footage) load the same way.

use crate::model::backbone::hand_landmarks::{pack_frame, INPUT_LEN, LANDMARKS};
use crate::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// The format name a clip file may state.
pub const FORMAT: &str = "hand-landmarks/1";

#[derive(Debug, Deserialize)]
struct ClipFile {
    #[serde(default)]
    format: Option<String>,
    width: u32,
    height: u32,
    #[serde(default)]
    fps: Option<f32>,
    frames: Vec<Vec<HandFile>>,
}

#[derive(Debug, Deserialize)]
struct HandFile {
    handedness: String,
    #[serde(default = "one")]
    score: f32,
    #[serde(default = "one")]
    presence: f32,
    landmarks: Vec<[f32; 3]>,
}

fn one() -> f32 {
    1.0
}

/// One tracked frame: the 21 landmarks, signed handedness (+score Right, −score Left),
/// presence.
pub type LandmarkFrame = ([[f32; 3]; LANDMARKS], f32, f32);

/// A clip read from its file: per frame, the first hand found.
#[derive(Debug, Clone)]
pub struct LandmarkClip {
    pub width: u32,
    pub height: u32,
    pub fps: Option<f32>,
    /// Per frame: landmarks, signed handedness (+score Right, −score Left), presence.
    pub frames: Vec<Option<LandmarkFrame>>,
}

impl LandmarkClip {
    /// Frame width / height.
    pub fn aspect(&self) -> f32 {
        self.width as f32 / self.height as f32
    }

    /// Packs frame `i` ([`INPUT_LEN`] floats into `out`), mirrored when `flip`.
    pub fn pack(&self, i: usize, flip: bool, out: &mut [f32]) {
        match &self.frames[i] {
            Some((lm, right, presence)) if flip => {
                let mirrored = lm.map(|[x, y, z]| [1.0 - x, y, z]);
                pack_frame(Some((&mirrored, -right, *presence)), self.aspect(), out);
            }
            Some((lm, right, presence)) => {
                pack_frame(Some((lm, *right, *presence)), self.aspect(), out)
            }
            None => pack_frame(None, self.aspect(), out),
        }
    }
}

/// Reads a clip file; errors name the file and what is wrong.
pub fn read_clip(path: &Path) -> Result<LandmarkClip> {
    let bad = |reason: String| Error::Clip {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let file: ClipFile =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a landmark clip: {e}")))?;
    if let Some(f) = file.format.as_deref().filter(|f| *f != FORMAT) {
        return Err(bad(format!("format '{f}', expected '{FORMAT}'")));
    }
    if file.width == 0 || file.height == 0 {
        return Err(bad(format!(
            "frame size {}x{} is empty",
            file.width, file.height
        )));
    }
    if file.frames.is_empty() {
        return Err(bad("no frames".into()));
    }
    let mut frames = Vec::with_capacity(file.frames.len());
    for (i, hands) in file.frames.iter().enumerate() {
        let Some(h) = hands.first() else {
            frames.push(None);
            continue;
        };
        if h.landmarks.len() != LANDMARKS {
            return Err(bad(format!(
                "frame {}: {} landmarks, expected {LANDMARKS}",
                i + 1,
                h.landmarks.len()
            )));
        }
        let sign = match h.handedness.as_str() {
            "Right" | "right" => 1.0,
            "Left" | "left" => -1.0,
            other => {
                return Err(bad(format!(
                    "frame {}: handedness '{other}' (expected Left or Right)",
                    i + 1
                )))
            }
        };
        let lm: [[f32; 3]; LANDMARKS] = std::array::from_fn(|k| h.landmarks[k]);
        frames.push(Some((lm, sign * h.score.clamp(0.0, 1.0), h.presence)));
    }
    Ok(LandmarkClip {
        width: file.width,
        height: file.height,
        fps: file.fps,
        frames,
    })
}

/// Packs the frames `indices` of `clip` one after another into `out` (`indices.len()` ×
/// [`INPUT_LEN`] floats).
pub fn pack_frames(clip: &LandmarkClip, indices: &[usize], flip: bool, out: &mut [f32]) {
    for (slot, &i) in indices.iter().enumerate() {
        let i = i.min(clip.frames.len() - 1);
        clip.pack(i, flip, &mut out[slot * INPUT_LEN..(slot + 1) * INPUT_LEN]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        let p = dir.join("1.json");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn hand(handedness: &str, n: usize) -> String {
        let lm: Vec<String> = (0..n)
            .map(|k| format!("[{}, 0.5, 0.0]", 0.1 + 0.01 * k as f32))
            .collect();
        format!(
            "{{\"handedness\": \"{handedness}\", \"score\": 0.9, \"presence\": 1.0, \"landmarks\": [{}]}}",
            lm.join(",")
        )
    }

    #[test]
    fn reads_frames_and_flips_landmarks_and_handedness() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{{\"format\": \"hand-landmarks/1\", \"width\": 200, \"height\": 100, \"frames\": [[], [{}]]}}",
            hand("Right", 21)
        );
        let clip = read_clip(&write(dir.path(), &text)).unwrap();
        assert_eq!(clip.frames.len(), 2);
        assert!(clip.frames[0].is_none());
        let mut plain = vec![0f32; 2 * INPUT_LEN];
        let mut flipped = vec![0f32; 2 * INPUT_LEN];
        pack_frames(&clip, &[0, 1], false, &mut plain);
        pack_frames(&clip, &[0, 1], true, &mut flipped);
        let f = &plain[INPUT_LEN..];
        let g = &flipped[INPUT_LEN..];
        assert!((f[0] - 0.1).abs() < 1e-6 && (g[0] - 0.9).abs() < 1e-6);
        assert_eq!(f[3 * 21..], [1.0, 0.9, 2.0]);
        assert_eq!(g[3 * 21..], [1.0, -0.9, 2.0]);
        assert_eq!(
            plain[3 * 21..INPUT_LEN],
            [0.0, 0.0, 2.0],
            "no hand: aspect only"
        );
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            "{not json".to_string(),
            "{\"width\": 2, \"height\": 2, \"frames\": []}".to_string(),
            format!(
                "{{\"width\": 2, \"height\": 2, \"frames\": [[{}]]}}",
                hand("Right", 20)
            ),
            format!(
                "{{\"width\": 2, \"height\": 2, \"frames\": [[{}]]}}",
                hand("Both", 21)
            ),
            format!(
                "{{\"width\": 0, \"height\": 2, \"frames\": [[{}]]}}",
                hand("Left", 21)
            ),
            "{\"format\": \"other/2\", \"width\": 2, \"height\": 2, \"frames\": [[]]}".to_string(),
        ];
        for text in cases {
            let e = read_clip(&write(dir.path(), &text)).unwrap_err();
            assert!(crate::error::report(&e).contains("1.json"), "{e}");
        }
    }
}
