//! The camera seam: what the app needs from a camera system, as two small traits of our own.
//! A [`CameraBackend`] lists cameras and opens one; an open [`CameraDevice`] lists its modes,
//! starts streaming in one and yields raw frames (pixel format, size, bytes, arrival time).
//! Decoding ([`super::decode`]), mode choice ([`super::negotiate`]) and fault handling
//! ([`super::camera`]) are our code on top, so they work the same with V4L2 on Linux
//! (`super::v4l2_backend`), nokhwa elsewhere ([`super::nokhwa_backend`]) and with the
//! scripted camera the tests use ([`super::fake`]).

use super::CaptureError;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// How a camera lays out a frame's bytes (its FourCC).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PixelFormat {
    /// Motion JPEG: every frame a JPEG file.
    Mjpeg,
    /// Packed 4:2:2 YUV, `Y0 U Y1 V` per two pixels.
    Yuyv,
    /// Planar 4:2:0: a Y plane, then one plane of interleaved `U V` at half size.
    Nv12,
    /// Planar 4:2:0: a Y plane, then a U and a V plane at half size (I420; what v4l2loopback
    /// virtual cameras fed by OBS or ffmpeg offer).
    Yu12,
    /// 8-bit luminance only.
    Grey,
    /// Packed 8-bit RGB.
    Rgb,
    /// Packed 8-bit BGR.
    Bgr,
    /// Anything else (H264, compressed vendor formats...), by its FourCC.
    Other(String),
}

impl PixelFormat {
    /// Whether [`super::decode::decode`] turns this format into RGB.
    pub fn is_decodable(&self) -> bool {
        !matches!(self, PixelFormat::Other(_))
    }

    /// Preference among formats offering the same mode: MJPEG first (webcams deliver their
    /// higher resolutions and rates in it over USB 2), then uncompressed colour, grey last.
    pub(crate) fn preference(&self) -> u8 {
        match self {
            PixelFormat::Mjpeg => 0,
            PixelFormat::Yuyv => 1,
            PixelFormat::Nv12 | PixelFormat::Yu12 => 2,
            PixelFormat::Rgb => 3,
            PixelFormat::Bgr => 4,
            PixelFormat::Grey => 5,
            PixelFormat::Other(_) => 6,
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PixelFormat::Mjpeg => "MJPEG",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Nv12 => "NV12",
            PixelFormat::Yu12 => "YU12",
            PixelFormat::Grey => "GREY",
            PixelFormat::Rgb => "RGB",
            PixelFormat::Bgr => "BGR",
            PixelFormat::Other(s) => s,
        })
    }
}

/// One streaming mode a camera offers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mode {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl Mode {
    /// A mode from its parts.
    pub fn new(format: PixelFormat, width: u32, height: u32, fps: u32) -> Self {
        Mode {
            format,
            width,
            height,
            fps,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}x{}@{} {}",
            self.width, self.height, self.fps, self.format
        )
    }
}

/// A frame as the camera delivered it, not yet decoded.
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
    /// When the frame reached us (the start of glass-to-label latency).
    pub captured_at: Instant,
}

/// A camera as the system lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraId {
    /// The system's index for it (`/dev/videoN` on Linux).
    pub index: u32,
    /// Its human-readable name ("HD Webcam C270").
    pub name: String,
}

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.index, self.name)
    }
}

/// A camera system: lists the cameras plugged in and opens one. Shared between threads; each
/// opened device stays on the thread that opened it.
pub trait CameraBackend: Send + Sync {
    /// The cameras present now (empty when there is none).
    fn cameras(&self) -> Result<Vec<CameraId>, CaptureError>;
    /// Opens a camera without starting it.
    fn open(&self, id: &CameraId) -> Result<Box<dyn CameraDevice>, CaptureError>;
}

/// An open camera.
pub trait CameraDevice {
    /// Every mode it offers, including formats we do not decode.
    fn modes(&mut self) -> Result<Vec<Mode>, CaptureError>;
    /// Starts streaming in `mode` (one of [`CameraDevice::modes`]); returns the mode it
    /// streams in, which a driver may have changed (another size or rate than asked).
    fn start(&mut self, mode: &Mode) -> Result<Mode, CaptureError>;
    /// The next frame; blocks for about a frame interval. An error means the camera is gone
    /// or broken (unplugged, driver error); it may block for longer when the camera stalls.
    fn frame(&mut self) -> Result<RawFrame, CaptureError>;
}

/// The camera system sources use: nokhwa's by default, a scripted one in tests.
#[derive(Clone)]
pub struct CameraSystem(pub Arc<dyn CameraBackend>);

impl CameraSystem {
    /// The platform's cameras: V4L2 directly on Linux ([`super::v4l2_backend`], where nokhwa's
    /// V4L2 path fails on cameras that tests/v4l2 emulates; `GESTURE_APP_CAMERA_BACKEND=nokhwa`
    /// still picks it there), nokhwa elsewhere.
    pub fn native() -> Self {
        #[cfg(target_os = "linux")]
        if std::env::var("GESTURE_APP_CAMERA_BACKEND").as_deref() != Ok("nokhwa") {
            return CameraSystem(Arc::new(super::v4l2_backend::V4l2Backend));
        }
        CameraSystem(Arc::new(super::nokhwa_backend::NokhwaBackend))
    }
}

impl Default for CameraSystem {
    fn default() -> Self {
        Self::native()
    }
}

impl fmt::Debug for CameraSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CameraSystem")
    }
}
