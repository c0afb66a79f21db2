//! Frame sources and the capture thread (docs/ARCHITECTURE.md §1, left half): every source
//! (webcam, frame folder, video file, generated clip) implements [`FrameSource`]; [`Capture`] runs one on its
//! own thread, paces it, downscales and timestamps its frames and writes them into a
//! [`FrameRing`] that overwrites the oldest frame, so capture never waits on inference.

pub mod camera;
pub mod decode;
pub mod device;
pub mod fake;
pub mod folder;
pub mod negotiate;
pub mod nokhwa_backend;
pub mod ring;
pub mod status;
pub mod synthetic;
mod thread;
#[cfg(target_os = "linux")]
pub mod v4l2_backend;
pub mod video;

pub use device::{
    CameraBackend, CameraDevice, CameraId, CameraSystem, Mode, PixelFormat, RawFrame,
};
pub use ring::{Frame, FrameRing, RingState};
pub use status::CaptureStatus;
pub use thread::{resize_shorter_side, Capture, CaptureOptions, Opener};

use image::RgbImage;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Called by producer threads after they publish something (the UI passes
/// `egui::Context::request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Errors from opening or reading a frame source.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// No camera at the requested index / with the requested name.
    #[error("no camera {wanted}; available: {available}")]
    UnknownCamera { wanted: String, available: String },
    /// The camera exists but could not be opened or read (busy, unplugged, unsupported format).
    #[error("camera {camera}: {reason}")]
    Camera { camera: String, reason: String },
    /// A folder that holds no usable clip.
    #[error("{path}: {reason}")]
    Folder { path: PathBuf, reason: String },
    /// A video file that cannot be played (or FFmpeg, which plays it, is missing).
    #[error("{path}: {reason}")]
    Video { path: PathBuf, reason: String },
    /// A frame file that cannot be decoded.
    #[error("{path}: cannot decode frame: {reason}")]
    Decode { path: PathBuf, reason: String },
    /// The source stopped; the message says why.
    #[error("{0}")]
    Ended(String),
    /// A panic in the capture thread or the camera's reader thread, caught.
    #[error("the {0} thread panicked: {1}")]
    Panicked(&'static str, String),
    /// Invalid source options (frame rate, resolution...).
    #[error("invalid source settings: {0}")]
    Settings(String),
    /// The capture thread did not report back in time.
    #[error("the {0} source did not start within {1:?}")]
    StartTimeout(String, Duration),
}

/// One frame as a source delivers it.
pub struct SourceFrame {
    pub image: RgbImage,
    /// Presentation time on the source's own clock, from its first frame. Folder and generated
    /// sources advance it by exactly 1/fps, so frame-rate regulation is exact for them; the camera
    /// uses the arrival time.
    pub pts: Duration,
    /// When a live source (camera) received the frame. `None` for played-back sources: the
    /// capture thread releases them at `pts` and stamps that moment.
    pub captured_at: Option<Instant>,
}

impl SourceFrame {
    /// The `index`-th frame of a played-back source delivering `fps` frames a second: its
    /// presentation time is exactly `index / fps`.
    pub fn played(image: RgbImage, index: u64, fps: f32) -> SourceFrame {
        SourceFrame {
            image,
            pts: Duration::from_secs_f64(index as f64 / fps as f64),
            captured_at: None,
        }
    }
}

/// What a source has for the capture thread when asked for its next frame.
pub enum Pulled {
    Frame(SourceFrame),
    /// A frame that could not be decoded, and why: dropped and counted, the stream goes on.
    Undecodable(String),
    /// No frame yet. `Some` says what is wrong ("camera stalled"); `None`: nothing is, the
    /// frame is just not due. The capture thread asks again (after checking for a stop).
    Waiting(Option<String>),
    /// A finite source ended.
    End,
}

/// A stream of frames. `next_frame` returns within about 100 ms (a camera waits for its next
/// frame for that long, then says it is still waiting) so a stop request is seen quickly; the
/// capture thread paces sources so frames are not delivered before `pts`. Sources are opened on
/// the capture thread and stay there (no `Send` needed: camera handles are not always movable
/// between threads).
pub trait FrameSource {
    /// A short description for the UI and logs ("camera 0: HD Webcam 640x480@30", "folder ...").
    fn describe(&self) -> String;
    /// The rate the source delivers frames at, if known.
    fn nominal_fps(&self) -> Option<f32>;
    /// Why the source runs in another mode than the one asked for, if it does.
    fn note(&self) -> Option<String> {
        None
    }
    /// The next frame, a dropped one, a wait, or the end. An error ends the stream.
    fn next_frame(&mut self) -> Result<Pulled, CaptureError>;
}

/// Which source to open, as given by `--source camera[:N|:NAME] | PATH | synthetic |
/// built-in:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A webcam: `None` is the first camera.
    Camera(Option<CameraSelector>),
    /// A clip folder (numbered frames) or a folder of clip folders played one after another.
    Folder(PathBuf),
    /// A video file, decoded by FFmpeg ([`video`]) and played at its own timestamps.
    Video(PathBuf),
    /// Generated clips of a hand-like blob performing swipes ([`synthetic`]).
    Synthetic,
    /// A folder of clips built into the program (`built-in:assets/demo_clips`,
    /// [`crate::builtin`]), played like [`SourceSpec::Folder`] from memory.
    BuiltIn(&'static str),
}

/// A camera picked by index or by (part of) its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSelector {
    Index(u32),
    Name(String),
}

/// A `--source` that names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceSpecError {
    #[error("camera: expects an index or a name, e.g. camera:0")]
    NoCamera,
    #[error("empty source")]
    Empty,
    #[error("{0}: no such built-in recording (this program has {names})", names = crate::builtin::names())]
    NoBuiltIn(String),
}

impl FromStr for SourceSpec {
    type Err = SourceSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if lower == "camera" || lower == "webcam" {
            return Ok(SourceSpec::Camera(None));
        }
        if let Some(rest) = lower.strip_prefix("camera:") {
            let original = &s["camera:".len()..];
            if rest.is_empty() {
                return Err(SourceSpecError::NoCamera);
            }
            return Ok(SourceSpec::Camera(Some(match rest.parse::<u32>() {
                Ok(i) => CameraSelector::Index(i),
                Err(_) => CameraSelector::Name(original.to_string()),
            })));
        }
        if lower == "synthetic" || lower == "synth" {
            return Ok(SourceSpec::Synthetic);
        }
        if s.is_empty() {
            return Err(SourceSpecError::Empty);
        }
        if let Some(name) = s.strip_prefix(crate::builtin::PREFIX) {
            return crate::builtin::folder(name)
                .map(|f| SourceSpec::BuiltIn(f.name))
                .ok_or_else(|| SourceSpecError::NoBuiltIn(s.to_string()));
        }
        let path = PathBuf::from(s);
        Ok(if video::looks_like_video(&path) {
            SourceSpec::Video(path)
        } else {
            SourceSpec::Folder(path)
        })
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Camera(None) => f.write_str("camera"),
            SourceSpec::Camera(Some(CameraSelector::Index(i))) => write!(f, "camera:{i}"),
            SourceSpec::Camera(Some(CameraSelector::Name(n))) => write!(f, "camera:{n}"),
            SourceSpec::Folder(p) | SourceSpec::Video(p) => write!(f, "{}", p.display()),
            SourceSpec::Synthetic => f.write_str("synthetic"),
            SourceSpec::BuiltIn(name) => write!(f, "{}{name}", crate::builtin::PREFIX),
        }
    }
}

/// Settings shared by the sources; each uses what applies to it.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Playback rate of folders and generated clips; requested rate for a camera (a video file
    /// plays at its own timestamps).
    pub fps: Option<f32>,
    /// Start over at the end of a folder or video file (generated clips never end).
    pub looping: bool,
    /// Requested camera resolution.
    pub resolution: Option<(u32, u32)>,
    /// Seed of the generated clips.
    pub seed: u64,
    /// Where cameras come from: the platform's, or a scripted one in tests.
    pub cameras: CameraSystem,
}

/// Frame rate of played-back folders when `--fps` is not given: Jester's.
pub const DEFAULT_FOLDER_FPS: f32 = 12.0;

impl SourceSpec {
    /// What the window says while this source opens.
    pub fn opening_message(&self) -> String {
        match self {
            SourceSpec::Camera(_) => "opening camera…".into(),
            SourceSpec::Folder(p) | SourceSpec::Video(p) => format!("opening {}…", p.display()),
            SourceSpec::Synthetic => "starting generated gestures…".into(),
            SourceSpec::BuiltIn(_) => "opening the built-in recording…".into(),
        }
    }

    /// An [`Opener`] for this source, to run on the capture thread.
    pub fn opener(&self, options: &SourceOptions) -> Result<Opener, CaptureError> {
        if let Some(fps) = options.fps {
            if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
                return Err(CaptureError::Settings(format!(
                    "frame rate must be in (0, 1000], got {fps}"
                )));
            }
        }
        let options = options.clone();
        Ok(match self.clone() {
            SourceSpec::Camera(selector) => Box::new(move || {
                let settings = camera::CameraSettings::new(selector, &options);
                Ok(Box::new(camera::CameraSource::open(settings)?) as Box<dyn FrameSource>)
            }),
            SourceSpec::Folder(path) => {
                // Check the folder before starting a thread so the error comes back at once.
                let clips = folder::find_clips(&path)?;
                Box::new(move || {
                    Ok(Box::new(folder::FolderSource::new(
                        format!("folder {}", path.display()),
                        folder::on_disk(clips),
                        options.fps.unwrap_or(DEFAULT_FOLDER_FPS),
                        options.looping,
                    )) as Box<dyn FrameSource>)
                })
            }
            SourceSpec::BuiltIn(name) => {
                let built_in = crate::builtin::folder(name)
                    .ok_or_else(|| CaptureError::Settings(format!("no built-in folder {name}")))?;
                let clips = folder::builtin_clips(built_in)?;
                let label = format!("built-in recording {}", built_in.path());
                Box::new(move || {
                    Ok(Box::new(folder::FolderSource::new(
                        label,
                        clips,
                        options.fps.unwrap_or(DEFAULT_FOLDER_FPS),
                        options.looping,
                    )) as Box<dyn FrameSource>)
                })
            }
            SourceSpec::Video(path) => {
                let video = video::VideoOptions {
                    looping: options.looping,
                    ..video::VideoOptions::default()
                };
                Box::new(move || {
                    Ok(Box::new(video::VideoSource::open(&path, &video)?) as Box<dyn FrameSource>)
                })
            }
            SourceSpec::Synthetic => Box::new(move || {
                Ok(Box::new(synthetic::SyntheticSource::new(
                    options.fps.unwrap_or(synthetic::DEFAULT_FPS),
                    options.seed,
                )) as Box<dyn FrameSource>)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_specs_parse() {
        assert_eq!(
            "camera".parse::<SourceSpec>().unwrap(),
            SourceSpec::Camera(None)
        );
        assert_eq!(
            "camera:2".parse::<SourceSpec>().unwrap(),
            SourceSpec::Camera(Some(CameraSelector::Index(2)))
        );
        assert_eq!(
            "camera:HD Webcam".parse::<SourceSpec>().unwrap(),
            SourceSpec::Camera(Some(CameraSelector::Name("HD Webcam".into())))
        );
        assert_eq!(
            "synthetic".parse::<SourceSpec>().unwrap(),
            SourceSpec::Synthetic
        );
        assert_eq!(
            "clips/a".parse::<SourceSpec>().unwrap(),
            SourceSpec::Folder("clips/a".into())
        );
        assert_eq!(
            "clips/a.webm".parse::<SourceSpec>().unwrap(),
            SourceSpec::Video("clips/a.webm".into())
        );
        assert!("camera:".parse::<SourceSpec>().is_err());
        let demo = "built-in:assets/demo_clips".parse::<SourceSpec>().unwrap();
        assert_eq!(demo, SourceSpec::BuiltIn("assets/demo_clips"));
        assert_eq!(demo.to_string(), "built-in:assets/demo_clips");
        let err = "built-in:nope"
            .parse::<SourceSpec>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("built-in:nope") && err.contains("built-in:assets/demo_clips"),
            "{err}"
        );
        assert_eq!(
            "camera:3".parse::<SourceSpec>().unwrap().to_string(),
            "camera:3"
        );
    }
}
