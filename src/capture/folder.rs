//! Frames from disk: one clip folder (`00001.jpg`, ...) or a folder of clip folders played one
//! after another, at a fixed rate, optionally looping. Frames are decoded one at a time on the
//! capture thread, just before they are due.

use super::decode::decode_file;
use super::{CaptureError, FrameSource, Pulled, SourceFrame};
use crate::preprocess::list_clip_frames;
use std::path::{Path, PathBuf};

/// The clips under `path`: the folder itself if it holds numbered frames, else each
/// subfolder (sorted by name) that does. Errors name the folder and say what was expected.
pub fn find_clips(path: &Path) -> Result<Vec<Vec<PathBuf>>, CaptureError> {
    let folder_err = |reason: String| CaptureError::Folder {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| folder_err(e.to_string()))?;
    if !meta.is_dir() {
        return Err(folder_err(
            "is a file; --source takes a folder of frames (00001.jpg, ...) or a folder of such \
             folders (a video file is played as a video)"
                .into(),
        ));
    }
    if let Ok(frames) = list_clip_frames(path) {
        return Ok(vec![frames]);
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| folder_err(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    let mut clips = Vec::new();
    let mut first_problem = None;
    for dir in &subdirs {
        match list_clip_frames(dir) {
            Ok(frames) => clips.push(frames),
            Err(e) => {
                first_problem.get_or_insert(e.to_string());
            }
        }
    }
    if clips.is_empty() {
        // A folder of frames with a gap, say, is reported as such rather than as "empty".
        return Err(folder_err(match (list_clip_frames(path), first_problem) {
            (Err(e), _) if !e.to_string().contains("no frames found") => e.to_string(),
            (_, Some(p)) => format!("no usable clip in its subfolders ({p})"),
            _ => "no frames found: expected numbered images (00001.jpg, ...) in it or in its \
                  subfolders"
                .into(),
        }));
    }
    Ok(clips)
}

/// Plays clips at `fps`, frame after frame, clip after clip.
pub struct FolderSource {
    root: PathBuf,
    clips: Vec<Vec<PathBuf>>,
    fps: f32,
    looping: bool,
    clip: usize,
    frame: usize,
    /// Frames delivered so far: the presentation clock.
    delivered: u64,
}

impl FolderSource {
    /// A source over clips found by [`find_clips`].
    pub fn new(root: PathBuf, clips: Vec<Vec<PathBuf>>, fps: f32, looping: bool) -> Self {
        FolderSource {
            root,
            clips,
            fps,
            looping,
            clip: 0,
            frame: 0,
            delivered: 0,
        }
    }

    /// Opens a folder ([`find_clips`] + [`FolderSource::new`]).
    pub fn open(path: &Path, fps: f32, looping: bool) -> Result<Self, CaptureError> {
        Ok(Self::new(
            path.to_path_buf(),
            find_clips(path)?,
            fps,
            looping,
        ))
    }
}

impl FrameSource for FolderSource {
    fn describe(&self) -> String {
        let frames: usize = self.clips.iter().map(Vec::len).sum();
        format!(
            "folder {} ({} clip{}, {} frames) at {} fps{}",
            self.root.display(),
            self.clips.len(),
            if self.clips.len() == 1 { "" } else { "s" },
            frames,
            self.fps,
            if self.looping { ", looping" } else { "" }
        )
    }

    fn nominal_fps(&self) -> Option<f32> {
        Some(self.fps)
    }

    fn next_frame(&mut self) -> Result<Pulled, CaptureError> {
        if self.frame == self.clips[self.clip].len() {
            self.frame = 0;
            self.clip += 1;
            if self.clip == self.clips.len() {
                if !self.looping {
                    return Ok(Pulled::End);
                }
                self.clip = 0;
            }
        }
        let path = &self.clips[self.clip][self.frame];
        let index = self.delivered;
        self.frame += 1;
        // A frame that does not decode still takes its slot in time, so the frames after it
        // keep the recording's timing.
        self.delivered += 1;
        let decoded = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| decode_file(&bytes).map_err(|e| e.to_string()));
        Ok(match decoded {
            Ok(image) => Pulled::Frame(SourceFrame::played(image, index, self.fps)),
            Err(e) => Pulled::Undecodable(format!("{}: cannot decode frame: {e}", path.display())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;
    use std::time::Duration;

    fn write_clip(dir: &Path, n: usize, shade: u8) {
        std::fs::create_dir_all(dir).unwrap();
        for i in 1..=n {
            RgbImage::from_pixel(4, 4, image::Rgb([shade, i as u8, 0]))
                .save(dir.join(format!("{i:05}.png")))
                .unwrap();
        }
    }

    #[test]
    fn plays_one_clip_then_ends_with_exact_timestamps() {
        let tmp = tempfile::tempdir().unwrap();
        write_clip(tmp.path(), 3, 0);
        let mut src = FolderSource::open(tmp.path(), 10.0, false).unwrap();
        let mut got = Vec::new();
        while let Pulled::Frame(f) = src.next_frame().unwrap() {
            got.push((f.pts, f.image.get_pixel(0, 0).0[1]));
        }
        assert_eq!(
            got,
            vec![
                (Duration::ZERO, 1),
                (Duration::from_millis(100), 2),
                (Duration::from_millis(200), 3)
            ]
        );
    }

    #[test]
    fn plays_subfolders_in_order_and_loops() {
        let tmp = tempfile::tempdir().unwrap();
        write_clip(&tmp.path().join("b"), 1, 2);
        write_clip(&tmp.path().join("a"), 2, 1);
        std::fs::create_dir(tmp.path().join("empty")).unwrap();
        let mut src = FolderSource::open(tmp.path(), 12.0, true).unwrap();
        assert!(src.describe().contains("2 clips"));
        let shades: Vec<u8> = (0..7)
            .map(|_| match src.next_frame().unwrap() {
                Pulled::Frame(f) => f.image.get_pixel(0, 0).0[0],
                _ => panic!("a frame expected"),
            })
            .collect();
        assert_eq!(shades, vec![1, 1, 2, 1, 1, 2, 1]);
    }

    #[test]
    fn bad_folders_are_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let err = find_clips(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("no frames found"), "{err}");
        let err = find_clips(&tmp.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
        let file = tmp.path().join("clip.mp4");
        std::fs::write(&file, b"x").unwrap();
        let err = find_clips(&file).unwrap_err().to_string();
        assert!(err.contains("is a file"), "{err}");
    }

    #[test]
    fn an_undecodable_frame_is_dropped_and_the_clip_goes_on_in_time() {
        let tmp = tempfile::tempdir().unwrap();
        write_clip(tmp.path(), 4, 0);
        std::fs::write(tmp.path().join("00002.png"), b"not a png").unwrap();
        // A JPEG cut short decodes "fine" with its lower half grey: refused too.
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&RgbImage::from_pixel(32, 32, image::Rgb([200, 10, 10])))
            .unwrap();
        std::fs::write(tmp.path().join("00004.png"), &jpeg[..jpeg.len() / 2]).unwrap();
        let mut src = FolderSource::open(tmp.path(), 10.0, false).unwrap();
        assert!(matches!(src.next_frame().unwrap(), Pulled::Frame(_)));
        let Pulled::Undecodable(why) = src.next_frame().unwrap() else {
            panic!("the broken frame is reported as undecodable");
        };
        assert!(why.contains("00002.png"), "{why}");
        assert_eq!(why.matches("cannot decode").count(), 1, "{why}");
        let Pulled::Frame(third) = src.next_frame().unwrap() else {
            panic!("the clip goes on");
        };
        assert_eq!(third.pts, Duration::from_millis(200));
        let Pulled::Undecodable(why) = src.next_frame().unwrap() else {
            panic!("the truncated JPEG is reported as undecodable");
        };
        assert!(
            why.contains("00004.png") && why.contains("truncated"),
            "{why}"
        );
        assert!(matches!(src.next_frame().unwrap(), Pulled::End));
    }
}
