//! The cameras on Linux: V4L2 through the `v4l` crate directly, behind our [`CameraBackend`]
//! seam. nokhwa (which wraps the same crate) is what the other platforms use; on Linux it was
//! replaced after running it against emulated cameras (tests/v4l2, tests/it/v4l2.rs), where
//! its V4L2 path (nokhwa-bindings-linux 0.1.4):
//! - lists stepwise frame sizes as a diagonal (16x16, 24x24, ...: no 640x480, never the
//!   largest) and stepwise frame intervals as numerators counted as rates;
//! - drops discrete rates that are not whole (7.5 fps, 29.97 fps), and fails to open a camera
//!   whose current rate is not whole or that has no G_PARM ("Framerate not whole number");
//! - fails to open a camera whose driver answers S_FMT/S_PARM with another mode ("Not
//!   same/Rejected"), and opening sets a mode even just to list the modes;
//! - hides every format it has no name for (H.264, YU12...), so "only offered in H264" could
//!   not be said, and asks for GREY as "GRAY";
//! - hands out whole buffers, ignoring `bytesused`: a truncated frame arrives with the previous
//!   frame's tail and an empty one (`bytesused` 0) as the previous frame again;
//! - lists metadata-only nodes (the second node of UVC cameras) as cameras.
//!
//! Here the modes are read with the raw ioctls (no string is trusted to be UTF-8), stepwise
//! sizes and rates become the usual ones inside their range, the driver's answer to S_FMT is
//! what frames are decoded as, a refused S_PARM leaves the camera at its own rate, and a frame
//! is exactly its `bytesused` bytes.

use super::device::{CameraBackend, CameraDevice, CameraId, Mode, PixelFormat, RawFrame};
use super::CaptureError;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
use v4l::buffer::Type;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::io::traits::{CaptureStream, Stream as _};
use v4l::prelude::MmapStream;
use v4l::v4l_sys::{v4l2_capability, v4l2_fmtdesc};
use v4l::video::capture::Parameters;
use v4l::video::Capture;
use v4l::{Device, Format, FourCC, Fraction};

/// The kernel's V4L2 cameras.
pub struct V4l2Backend;

/// `V4L2_CAP_VIDEO_CAPTURE`.
const CAP_VIDEO_CAPTURE: u32 = 0x1;
/// Buffers asked for: enough for a reader that is a frame late.
const BUFFERS: u32 = 4;
/// Longest wait in the driver for one frame; past it `frame` fails, so a reader thread the app
/// gave up on (after "camera stalled") lets the device go.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// Sizes offered for a stepwise/continuous size range (those inside it, with its bounds).
const USUAL_SIZES: [(u32, u32); 14] = [
    (160, 120),
    (320, 240),
    (352, 288),
    (424, 240),
    (640, 360),
    (640, 480),
    (800, 600),
    (848, 480),
    (960, 540),
    (1024, 768),
    (1280, 720),
    (1280, 960),
    (1600, 1200),
    (1920, 1080),
];
/// Rates offered for a stepwise/continuous interval range (those inside it, with its bounds).
const USUAL_RATES: [u32; 9] = [5, 10, 15, 20, 24, 25, 30, 50, 60];

fn node_path(index: u32) -> String {
    format!("/dev/video{index}")
}

fn camera_error(camera: &str, what: &str, e: &io::Error) -> CaptureError {
    let reason = match e.raw_os_error() {
        Some(libc::EBUSY) => format!("{what}: it is busy (another program is using it)"),
        Some(libc::ENOENT) | Some(libc::ENODEV) => format!("{what}: it is unplugged"),
        Some(libc::EACCES) | Some(libc::EPERM) => {
            format!("{what}: permission denied (is your user in the 'video' group?)")
        }
        _ => format!("{what}: {e}"),
    };
    CaptureError::Camera {
        camera: camera.to_string(),
        reason,
    }
}

/// Card name and device capabilities (VIDIOC_QUERYCAP), strings read leniently.
fn query_caps(dev: &Device) -> io::Result<(String, u32)> {
    // SAFETY: v4l2_capability is plain data; QUERYCAP fills it.
    let mut caps: v4l2_capability = unsafe { std::mem::zeroed() };
    unsafe {
        v4l::v4l2::ioctl(
            dev.handle().fd(),
            v4l::v4l2::vidioc::VIDIOC_QUERYCAP,
            &mut caps as *mut _ as *mut std::os::raw::c_void,
        )?;
    }
    let end = caps
        .card
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(caps.card.len());
    let card = String::from_utf8_lossy(&caps.card[..end])
        .trim()
        .to_string();
    // Drivers without device_caps (before Linux 3.3) report capabilities only.
    let device_caps = if caps.capabilities & 0x8000_0000 != 0 {
        caps.device_caps
    } else {
        caps.capabilities
    };
    Ok((card, device_caps))
}

/// The capture FourCCs (VIDIOC_ENUM_FMT), descriptions not read.
fn fourccs(dev: &Device) -> io::Result<Vec<FourCC>> {
    let mut out = Vec::new();
    for index in 0..256 {
        // SAFETY: plain data, filled by ENUM_FMT.
        let mut desc: v4l2_fmtdesc = unsafe { std::mem::zeroed() };
        desc.index = index;
        desc.type_ = Type::VideoCapture as u32;
        let r = unsafe {
            v4l::v4l2::ioctl(
                dev.handle().fd(),
                v4l::v4l2::vidioc::VIDIOC_ENUM_FMT,
                &mut desc as *mut _ as *mut std::os::raw::c_void,
            )
        };
        match r {
            Ok(()) => out.push(FourCC::from(desc.pixelformat)),
            Err(e) if index > 0 && e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn pixel_format(f: FourCC) -> PixelFormat {
    match &f.repr {
        b"MJPG" | b"JPEG" => PixelFormat::Mjpeg,
        b"YUYV" => PixelFormat::Yuyv,
        b"NV12" => PixelFormat::Nv12,
        b"YU12" => PixelFormat::Yu12,
        b"GREY" => PixelFormat::Grey,
        b"RGB3" => PixelFormat::Rgb,
        b"BGR3" => PixelFormat::Bgr,
        other => PixelFormat::Other(String::from_utf8_lossy(other).trim().to_string()),
    }
}

/// Frames per second of a time per frame, to the nearest whole rate (7.5 -> 8).
fn fps_of(f: Fraction) -> Option<u32> {
    (f.numerator > 0 && f.denominator > 0)
        .then(|| (f.denominator as f64 / f.numerator as f64).round().max(1.0) as u32)
}

/// The whole rates a list of frame intervals offers.
fn rates(intervals: &[v4l::FrameInterval]) -> Vec<u32> {
    let mut out = Vec::new();
    for i in intervals {
        match &i.interval {
            FrameIntervalEnum::Discrete(f) => out.extend(fps_of(*f)),
            FrameIntervalEnum::Stepwise(s) => {
                // min is the shortest interval: the highest rate.
                let (Some(hi), Some(lo)) = (fps_of(s.min), fps_of(s.max)) else {
                    continue;
                };
                out.push(hi);
                out.extend(USUAL_RATES.iter().filter(|&&r| r > lo && r < hi));
                out.push(lo);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The sizes a frame size list offers (stepwise ranges: the usual sizes inside, and bounds).
fn sizes(list: &[v4l::FrameSize]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for s in list {
        match &s.size {
            FrameSizeEnum::Discrete(d) => out.push((d.width, d.height)),
            FrameSizeEnum::Stepwise(s) => {
                let fits = |w: u32, h: u32| {
                    (s.min_width..=s.max_width).contains(&w)
                        && (s.min_height..=s.max_height).contains(&h)
                        && (w - s.min_width).is_multiple_of(s.step_width.max(1))
                        && (h - s.min_height).is_multiple_of(s.step_height.max(1))
                };
                out.push((s.min_width, s.min_height));
                out.extend(USUAL_SIZES.iter().copied().filter(|&(w, h)| fits(w, h)));
                out.push((s.max_width, s.max_height));
            }
        }
    }
    out.dedup();
    out
}

impl CameraBackend for V4l2Backend {
    fn cameras(&self) -> Result<Vec<CameraId>, CaptureError> {
        let mut indices: Vec<u32> = std::fs::read_dir("/dev")
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name();
                        let digits = name.to_str()?.strip_prefix("video")?;
                        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                            return None;
                        }
                        digits.parse().ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        indices.sort_unstable();
        let mut cameras = Vec::new();
        for index in indices {
            let sysfs_name = || {
                std::fs::read_to_string(format!("/sys/class/video4linux/video{index}/name"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| node_path(index))
            };
            match Device::with_path(node_path(index)) {
                Ok(dev) => match query_caps(&dev) {
                    // Metadata and output nodes are not cameras.
                    Ok((_, caps)) if caps & CAP_VIDEO_CAPTURE == 0 => continue,
                    Ok((card, _)) if !card.is_empty() => {
                        cameras.push(CameraId { index, name: card })
                    }
                    _ => cameras.push(CameraId {
                        index,
                        name: sysfs_name(),
                    }),
                },
                // Busy or not ours to open: still listed, so choosing it says why it fails.
                Err(_) => cameras.push(CameraId {
                    index,
                    name: sysfs_name(),
                }),
            }
        }
        Ok(cameras)
    }

    fn open(&self, id: &CameraId) -> Result<Box<dyn CameraDevice>, CaptureError> {
        let name = id.to_string();
        let dev = Device::with_path(node_path(id.index))
            .map_err(|e| camera_error(&name, "cannot open it", &e))?;
        let (_, caps) = query_caps(&dev).map_err(|e| camera_error(&name, "cannot query it", &e))?;
        if caps & CAP_VIDEO_CAPTURE == 0 {
            return Err(CaptureError::Camera {
                camera: name,
                reason: "this node does not capture video (a metadata or output node)".into(),
            });
        }
        Ok(Box::new(V4l2Device {
            dev,
            name,
            listed: Vec::new(),
            stream: None,
            streaming: None,
        }))
    }
}

struct V4l2Device {
    dev: Device,
    name: String,
    /// The FourCC behind each listed format (MJPEG may be `MJPG` or `JPEG`).
    listed: Vec<(PixelFormat, FourCC)>,
    stream: Option<MmapStream<'static>>,
    /// What the driver agreed to stream: format, width, height.
    streaming: Option<(PixelFormat, u32, u32)>,
}

impl V4l2Device {
    fn err(&self, what: &str, e: &io::Error) -> CaptureError {
        camera_error(&self.name, what, e)
    }
}

impl CameraDevice for V4l2Device {
    fn modes(&mut self) -> Result<Vec<Mode>, CaptureError> {
        let codes = fourccs(&self.dev).map_err(|e| self.err("cannot read its formats", &e))?;
        let current_rate = self.dev.params().ok().and_then(|p| fps_of(p.interval));
        let mut modes = Vec::new();
        for code in codes {
            let format = pixel_format(code);
            self.listed.push((format.clone(), code));
            let mut list = sizes(&self.dev.enum_framesizes(code).unwrap_or_default());
            if list.is_empty() {
                // No ENUM_FRAMESIZES (some virtual cameras): the current size, if this format.
                if let Ok(f) = self.dev.format() {
                    if f.fourcc == code {
                        list.push((f.width, f.height));
                    }
                }
            }
            for (w, h) in list {
                let mut fps = rates(&self.dev.enum_frameintervals(code, w, h).unwrap_or_default());
                if fps.is_empty() {
                    fps.push(current_rate.unwrap_or(30));
                }
                modes.extend(fps.into_iter().map(|r| Mode::new(format.clone(), w, h, r)));
            }
        }
        Ok(modes)
    }

    fn start(&mut self, mode: &Mode) -> Result<Mode, CaptureError> {
        if self.listed.is_empty() {
            self.modes()?;
        }
        let code = self
            .listed
            .iter()
            .find(|(f, _)| f == &mode.format)
            .map(|(_, c)| *c)
            .ok_or_else(|| CaptureError::Camera {
                camera: self.name.clone(),
                reason: format!("it does not offer {}", mode.format),
            })?;
        let got = self
            .dev
            .set_format(&Format::new(mode.width, mode.height, code))
            .map_err(|e| self.err(&format!("cannot set mode {mode}"), &e))?;
        if got.fourcc != code {
            return Err(CaptureError::Camera {
                camera: self.name.clone(),
                reason: format!(
                    "asked for {mode}, the driver answered {} {}x{}",
                    pixel_format(got.fourcc),
                    got.width,
                    got.height
                ),
            });
        }
        // A driver without S_PARM (or refusing it) streams at its own rate: frames are
        // timestamped on arrival, so the app still paces them right.
        let _ = self
            .dev
            .set_params(&Parameters::new(Fraction::new(1, mode.fps.max(1))));
        let fps = self
            .dev
            .params()
            .ok()
            .and_then(|p| fps_of(p.interval))
            .unwrap_or(mode.fps);
        let mut stream = MmapStream::with_buffers(&self.dev, Type::VideoCapture, BUFFERS)
            .map_err(|e| self.err("cannot start streaming", &e))?;
        stream.set_timeout(FRAME_TIMEOUT);
        self.stream = Some(stream);
        self.streaming = Some((mode.format.clone(), got.width, got.height));
        Ok(Mode::new(mode.format.clone(), got.width, got.height, fps))
    }

    fn frame(&mut self) -> Result<RawFrame, CaptureError> {
        let (Some(stream), Some((format, width, height))) = (&mut self.stream, &self.streaming)
        else {
            return Err(CaptureError::Camera {
                camera: self.name.clone(),
                reason: "not started".into(),
            });
        };
        match CaptureStream::next(stream) {
            Ok((buf, meta)) => {
                let n = (meta.bytesused as usize).min(buf.len());
                Ok(RawFrame {
                    format: format.clone(),
                    width: *width,
                    height: *height,
                    data: buf[..n].to_vec(),
                    captured_at: Instant::now(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(CaptureError::Camera {
                camera: self.name.clone(),
                reason: format!("no frame for {} s", FRAME_TIMEOUT.as_secs()),
            }),
            Err(e) => Err(self.err("lost", &e)),
        }
    }
}

impl Drop for V4l2Device {
    fn drop(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            // The v4l stream panics in drop when STREAMOFF or freeing the buffers fails with
            // anything but ENODEV; stop it first and keep a failure from unwinding further.
            let _ = stream.stop();
            let _ = catch_unwind(AssertUnwindSafe(move || drop(stream)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use v4l::framesize::{Discrete, Stepwise};

    #[test]
    fn stepwise_sizes_and_rates_become_the_usual_ones_in_range() {
        let list = [v4l::FrameSize {
            index: 0,
            fourcc: FourCC::new(b"YUYV"),
            typ: 3,
            size: FrameSizeEnum::Stepwise(Stepwise {
                min_width: 32,
                max_width: 1920,
                step_width: 2,
                min_height: 32,
                max_height: 1080,
                step_height: 2,
            }),
        }];
        let got = sizes(&list);
        assert!(got.contains(&(640, 480)) && got.contains(&(1920, 1080)));
        assert!(got.contains(&(32, 32)) && !got.contains(&(1600, 1200)));
        let discrete = [v4l::FrameSize {
            index: 0,
            fourcc: FourCC::new(b"MJPG"),
            typ: 1,
            size: FrameSizeEnum::Discrete(Discrete {
                width: 1280,
                height: 720,
            }),
        }];
        assert_eq!(sizes(&discrete), vec![(1280, 720)]);
        let iv = |interval| v4l::FrameInterval {
            index: 0,
            fourcc: FourCC::new(b"YUYV"),
            width: 640,
            height: 480,
            typ: 1,
            interval,
        };
        let list = [
            iv(FrameIntervalEnum::Discrete(Fraction::new(2, 15))),
            iv(FrameIntervalEnum::Discrete(Fraction::new(1001, 30000))),
            iv(FrameIntervalEnum::Stepwise(v4l::frameinterval::Stepwise {
                min: Fraction::new(1, 60),
                max: Fraction::new(1, 20),
                step: Fraction::new(1, 10_000_000),
            })),
        ];
        assert_eq!(rates(&list), vec![8, 20, 24, 25, 30, 50, 60]);
        assert_eq!(fps_of(Fraction::new(0, 1)), None);
    }
}
