//! Frames from disk: one clip folder (`00001.jpg`, ...) or a folder of clip folders played one
//! after another, at a fixed rate, optionally looping. Frames are decoded one at a time on the
//! capture thread, just before they are due. A folder built into the program (the demo
//! recording, [`crate::builtin`]) plays the same way from memory ([`builtin_clips`]).

use super::decode::decode_file;
use super::{CaptureError, FrameSource, Pulled, SourceFrame};
use crate::builtin::BuiltInFolder;
use crate::preprocess::list_clip_frames;
use std::path::{Path, PathBuf};

/// Where one frame's encoded bytes are.
#[derive(Debug, Clone)]
pub enum FrameFile {
    /// A file on disk.
    Disk(PathBuf),
    /// A file built into the program: its name (for messages) and bytes.
    BuiltIn { name: String, bytes: &'static [u8] },
}

impl FrameFile {
    fn name(&self) -> String {
        match self {
            FrameFile::Disk(p) => p.display().to_string(),
            FrameFile::BuiltIn { name, .. } => name.clone(),
        }
    }
}

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

/// The clips of a built-in folder, by the rules of [`find_clips`]: the folder itself if it holds
/// numbered frames, else each subfolder (sorted by name) that does, frames in number order.
/// Errors say what is wrong (only a broken build can make one: the test below checks the
/// program's own folders).
pub fn builtin_clips(folder: &BuiltInFolder) -> Result<Vec<Vec<FrameFile>>, CaptureError> {
    fn numbered(dir: &include_dir::Dir<'static>, root: &str) -> Option<Vec<FrameFile>> {
        let mut frames: Vec<(usize, FrameFile)> = dir
            .files()
            .filter_map(|f| {
                let p = f.path();
                let ext = p.extension()?.to_str()?.to_ascii_lowercase();
                if !matches!(ext.as_str(), "jpg" | "jpeg" | "png") {
                    return None;
                }
                let num = p.file_stem()?.to_str()?.parse::<usize>().ok()?;
                let name = format!("{root}/{}", p.display());
                Some((
                    num,
                    FrameFile::BuiltIn {
                        name,
                        bytes: f.contents(),
                    },
                ))
            })
            .collect();
        frames.sort_by_key(|(n, _)| *n);
        let gapless = frames.iter().enumerate().all(|(i, (n, _))| *n == i + 1);
        (!frames.is_empty() && gapless).then(|| frames.into_iter().map(|(_, f)| f).collect())
    }
    let root = folder.path();
    if let Some(frames) = numbered(folder.dir, &root) {
        return Ok(vec![frames]);
    }
    let mut subdirs: Vec<&include_dir::Dir<'static>> = folder.dir.dirs().collect();
    subdirs.sort_by_key(|d| d.path());
    let clips: Vec<Vec<FrameFile>> = subdirs.iter().filter_map(|d| numbered(d, &root)).collect();
    if clips.is_empty() {
        return Err(CaptureError::Folder {
            path: PathBuf::from(root),
            reason: "no clip of numbered frames without gaps in it or its subfolders".into(),
        });
    }
    Ok(clips)
}

/// Plays clips at `fps`, frame after frame, clip after clip.
pub struct FolderSource {
    /// What it plays, for [`FrameSource::describe`] ("folder PATH").
    label: String,
    clips: Vec<Vec<FrameFile>>,
    fps: f32,
    looping: bool,
    clip: usize,
    frame: usize,
    /// Frames delivered so far: the presentation clock.
    delivered: u64,
}

impl FolderSource {
    /// A source over clips found by [`find_clips`] or [`builtin_clips`]; `label` says what
    /// they are ("folder PATH").
    pub fn new(label: String, clips: Vec<Vec<FrameFile>>, fps: f32, looping: bool) -> Self {
        FolderSource {
            label,
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
            format!("folder {}", path.display()),
            on_disk(find_clips(path)?),
            fps,
            looping,
        ))
    }
}

/// Clips of files on disk as [`FrameFile`]s.
pub fn on_disk(clips: Vec<Vec<PathBuf>>) -> Vec<Vec<FrameFile>> {
    clips
        .into_iter()
        .map(|c| c.into_iter().map(FrameFile::Disk).collect())
        .collect()
}

impl FrameSource for FolderSource {
    fn describe(&self) -> String {
        let frames: usize = self.clips.iter().map(Vec::len).sum();
        format!(
            "{} ({} clip{}, {} frames) at {} fps{}",
            self.label,
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
        let file = &self.clips[self.clip][self.frame];
        let index = self.delivered;
        self.frame += 1;
        // A frame that does not decode still takes its slot in time, so the frames after it
        // keep the recording's timing.
        self.delivered += 1;
        let decoded = match file {
            FrameFile::Disk(path) => std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| decode_file(&bytes).map_err(|e| e.to_string())),
            FrameFile::BuiltIn { bytes, .. } => decode_file(bytes).map_err(|e| e.to_string()),
        };
        Ok(match decoded {
            Ok(image) => Pulled::Frame(SourceFrame::played(image, index, self.fps)),
            Err(e) => Pulled::Undecodable(format!("{}: cannot decode frame: {e}", file.name())),
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

    #[test]
    fn the_built_in_recording_is_the_repository_folder_frame_for_frame() {
        let folder = crate::builtin::folder(crate::builtin::DEMO_RECORDING).unwrap();
        let built_in = builtin_clips(folder).unwrap();
        let disk =
            find_clips(&Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::builtin::DEMO_RECORDING))
                .unwrap();
        assert_eq!(built_in.len(), disk.len());
        for (b, d) in built_in.iter().zip(&disk) {
            assert_eq!(b.len(), d.len());
            for (bf, df) in b.iter().zip(d) {
                let FrameFile::BuiltIn { name, bytes } = bf else {
                    panic!("a built-in frame")
                };
                assert!(
                    name.ends_with(&*df.file_name().unwrap().to_string_lossy()),
                    "{name}"
                );
                assert_eq!(*bytes, &std::fs::read(df).unwrap()[..], "{name}");
            }
        }
        let mut src = FolderSource::new("built-in".into(), built_in, 12.0, false);
        assert!(
            src.describe().contains("1 clip, 360 frames"),
            "{}",
            src.describe()
        );
        assert!(matches!(src.next_frame().unwrap(), Pulled::Frame(_)));
    }
}
