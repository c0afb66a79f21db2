//! A scripted camera for tests (unit tests here and tests/it): a [`CameraBackend`] with one
//! camera that offers the modes it is given, streams frames of a moving square in whichever
//! mode is chosen (encoded in that mode's format, JPEG by `image`), and plays a script of
//! faults — corrupt or truncated frames, a stall, an unplug, a panic, a slow open — so every
//! fault path of the real camera source runs without a camera.

use super::device::{CameraBackend, CameraDevice, CameraId, Mode, PixelFormat, RawFrame};
use super::CaptureError;
use image::{Rgb, RgbImage};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One step of the script; each frame the camera is asked for plays the next step.
#[derive(Debug, Clone)]
pub enum Step {
    /// This many good frames.
    Frames(usize),
    /// This many frames of garbage bytes (in the streaming format's size).
    Garbage(usize),
    /// This many frames cut to half their length.
    Truncated(usize),
    /// The next frame call blocks this long (a wedged camera), then frames go on.
    Stall(Duration),
    /// The camera disappears for this long: frame calls fail, it is not listed, it does not
    /// open. Then it is back.
    Unplug(Duration),
    /// The frame call panics with this message.
    Panic(String),
}

struct Script {
    steps: VecDeque<Step>,
    unplugged_until: Option<Instant>,
}

/// The scripted camera (and its one-camera system).
pub struct FakeCamera {
    inner: Arc<Inner>,
}

/// The camera's state, shared with the devices opened from it.
struct Inner {
    id: CameraId,
    modes: Vec<Mode>,
    script: Mutex<Script>,
    /// How long opening blocks.
    open_delay: Duration,
    opens: AtomicUsize,
    frames: AtomicUsize,
    started: Mutex<Option<Mode>>,
}

impl FakeCamera {
    /// A camera called `name` at index 0 offering `modes`, with an empty script (good
    /// frames for ever).
    pub fn new(name: &str, modes: Vec<Mode>) -> Self {
        FakeCamera {
            inner: Arc::new(Inner {
                id: CameraId {
                    index: 0,
                    name: name.to_string(),
                },
                modes,
                script: Mutex::new(Script {
                    steps: VecDeque::new(),
                    unplugged_until: None,
                }),
                open_delay: Duration::ZERO,
                opens: AtomicUsize::new(0),
                frames: AtomicUsize::new(0),
                started: Mutex::new(None),
            }),
        }
    }

    /// A webcam offering 160x120 at 30 fps in MJPEG and YUYV (small: cheap to encode).
    pub fn webcam() -> Self {
        Self::new(
            "Fake Webcam",
            vec![
                Mode::new(PixelFormat::Mjpeg, 160, 120, 30),
                Mode::new(PixelFormat::Yuyv, 160, 120, 30),
            ],
        )
    }

    /// Plays `steps` (then good frames for ever).
    pub fn with_script(self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.inner.lock().steps = steps.into_iter().collect();
        self
    }

    /// Makes opening block for `delay` (before any camera is opened from it).
    pub fn with_open_delay(mut self, delay: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.open_delay = delay;
        }
        self
    }

    /// Times the camera was opened.
    pub fn opens(&self) -> usize {
        self.inner.opens.load(Ordering::SeqCst)
    }

    /// Frames delivered (good or not).
    pub fn frames(&self) -> usize {
        self.inner.frames.load(Ordering::SeqCst)
    }

    /// The mode the camera was last started in.
    pub fn started_mode(&self) -> Option<Mode> {
        self.inner
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unplugged(&self) -> bool {
        let mut s = self.lock();
        match s.unplugged_until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                s.unplugged_until = None;
                false
            }
            None => false,
        }
    }

    fn gone(&self) -> CaptureError {
        CaptureError::Camera {
            camera: self.id.to_string(),
            reason: "no such device (unplugged)".into(),
        }
    }

    /// The next step to play for one frame.
    fn next_step(&self) -> Step {
        let mut s = self.lock();
        let step = match s.steps.front_mut() {
            None => return Step::Frames(1),
            Some(Step::Frames(n)) | Some(Step::Garbage(n)) | Some(Step::Truncated(n)) if *n > 1 => {
                *n -= 1;
                let mut one = s.steps[0].clone();
                if let Step::Frames(k) | Step::Garbage(k) | Step::Truncated(k) = &mut one {
                    *k = 1;
                }
                return one;
            }
            Some(_) => s.steps.pop_front(),
        };
        step.unwrap_or(Step::Frames(1))
    }
}

impl CameraBackend for FakeCamera {
    fn cameras(&self) -> Result<Vec<CameraId>, CaptureError> {
        Ok(if self.inner.unplugged() {
            Vec::new()
        } else {
            vec![self.inner.id.clone()]
        })
    }

    fn open(&self, id: &CameraId) -> Result<Box<dyn CameraDevice>, CaptureError> {
        std::thread::sleep(self.inner.open_delay);
        if self.inner.unplugged() || id != &self.inner.id {
            return Err(self.inner.gone());
        }
        self.inner.opens.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(FakeDevice {
            camera: self.inner.clone(),
            mode: None,
            next_due: Instant::now(),
        }))
    }
}

/// An opened [`FakeCamera`].
struct FakeDevice {
    camera: Arc<Inner>,
    mode: Option<Mode>,
    next_due: Instant,
}

impl CameraDevice for FakeDevice {
    fn modes(&mut self) -> Result<Vec<Mode>, CaptureError> {
        Ok(self.camera.modes.clone())
    }

    fn start(&mut self, mode: &Mode) -> Result<Mode, CaptureError> {
        *self
            .camera
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(mode.clone());
        self.mode = Some(mode.clone());
        Ok(mode.clone())
    }

    fn frame(&mut self) -> Result<RawFrame, CaptureError> {
        let camera = self.camera.clone();
        let mode = self.mode.clone().ok_or_else(|| CaptureError::Camera {
            camera: camera.id.to_string(),
            reason: "not started".into(),
        })?;
        if camera.unplugged() {
            return Err(camera.gone());
        }
        // Paced like a camera: one frame per interval.
        let now = Instant::now();
        if self.next_due > now {
            std::thread::sleep(self.next_due - now);
        }
        self.next_due =
            Instant::now().max(self.next_due) + Duration::from_secs(1) / mode.fps.max(1);
        let n = camera.frames.fetch_add(1, Ordering::SeqCst);
        let data = match camera.next_step() {
            Step::Frames(_) => encode(&picture(mode.width, mode.height, n), &mode.format),
            Step::Garbage(_) => (0..frame_len(&mode).max(64))
                .map(|i| (i * 7919 % 251) as u8)
                .collect(),
            Step::Truncated(_) => {
                let mut data = encode(&picture(mode.width, mode.height, n), &mode.format);
                data.truncate(data.len() / 2);
                data
            }
            Step::Stall(d) => {
                std::thread::sleep(d);
                encode(&picture(mode.width, mode.height, n), &mode.format)
            }
            Step::Unplug(d) => {
                camera.lock().unplugged_until = Some(Instant::now() + d);
                return Err(camera.gone());
            }
            Step::Panic(msg) => panic!("{msg}"),
        };
        Ok(RawFrame {
            format: mode.format,
            width: mode.width,
            height: mode.height,
            data,
            captured_at: Instant::now(),
        })
    }
}

/// Frame `n` of the fake camera: a bright square moving over a dark background.
pub fn picture(width: u32, height: u32, n: usize) -> RgbImage {
    let side = (width.min(height) / 4).max(1);
    let x0 = (n as u32 * 4) % width.max(1);
    let y0 = height / 3;
    RgbImage::from_fn(width, height, |x, y| {
        let inside = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
        if inside {
            Rgb([230, 200, 60])
        } else {
            Rgb([30, 40, 60])
        }
    })
}

/// Bytes of an uncompressed frame in `mode`.
fn frame_len(mode: &Mode) -> usize {
    let px = mode.width as usize * mode.height as usize;
    match mode.format {
        PixelFormat::Yuyv => px * 2,
        PixelFormat::Nv12 | PixelFormat::Yu12 => px * 3 / 2,
        PixelFormat::Grey => px,
        _ => px * 3,
    }
}

/// `img` in `format`, as a camera would send it (YUYV/NV12 by the BT.601 studio-range formula).
pub fn encode(img: &RgbImage, format: &PixelFormat) -> Vec<u8> {
    let yuv = |p: &Rgb<u8>| {
        let [r, g, b] = p.0.map(|c| c as f32);
        let y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0;
        let u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
        let v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
        [y, u, v].map(|c| c.round().clamp(0.0, 255.0) as u8)
    };
    let (w, h) = img.dimensions();
    match format {
        PixelFormat::Mjpeg => {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
                .encode_image(img)
                .expect("encoding to memory");
            out
        }
        PixelFormat::Yuyv => img
            .pixels()
            .collect::<Vec<_>>()
            .chunks(2)
            .flat_map(|p| {
                let a = yuv(p[0]);
                let b = yuv(p.get(1).copied().unwrap_or(p[0]));
                [a[0], a[1], b[0], a[2]]
            })
            .collect(),
        PixelFormat::Nv12 => {
            let mut out: Vec<u8> = img.pixels().map(|p| yuv(p)[0]).collect();
            for y in (0..h).step_by(2) {
                for x in (0..w).step_by(2) {
                    let c = yuv(img.get_pixel(x, y));
                    out.extend_from_slice(&[c[1], c[2]]);
                }
            }
            out
        }
        PixelFormat::Yu12 => {
            let mut out: Vec<u8> = img.pixels().map(|p| yuv(p)[0]).collect();
            for plane in [1, 2] {
                for y in (0..h).step_by(2) {
                    for x in (0..w).step_by(2) {
                        out.push(yuv(img.get_pixel(x, y))[plane]);
                    }
                }
            }
            out
        }
        PixelFormat::Grey => img.pixels().map(|p| yuv(p)[0]).collect(),
        PixelFormat::Rgb => img.as_raw().clone(),
        PixelFormat::Bgr => img.pixels().flat_map(|p| [p[2], p[1], p[0]]).collect(),
        PixelFormat::Other(_) => vec![0; 64],
    }
}
