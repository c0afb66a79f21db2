//! The capture thread: opens a source on its own thread (a camera handle stays on the thread
//! that opened it), releases played-back frames at their presentation time, downscales them to
//! the model's resize size and writes them into the ring. It never waits on a reader.

use super::{CaptureError, FrameRing, FrameSource, RingState, Waker};
use crossbeam_channel::bounded;
use image::RgbImage;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Opens a source; runs on the capture thread.
pub type Opener = Box<dyn FnOnce() -> Result<Box<dyn FrameSource>, CaptureError> + Send>;

/// How the capture thread treats frames.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Resize every frame so its shorter side is this many pixels (the model's `resize_size`),
    /// which the model's preprocessing then finds already done. `None` keeps frames as delivered.
    pub resize_shorter_to: Option<u32>,
    /// Frames the ring holds.
    pub ring_capacity: usize,
    /// How long to wait for the source to open (cameras can take a few seconds).
    pub start_timeout: Duration,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            resize_shorter_to: None,
            ring_capacity: 64,
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// A running capture thread and the ring it writes. Dropping it stops and joins the thread,
/// which releases the source (and with it the camera).
pub struct Capture {
    ring: Arc<FrameRing>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    description: String,
    nominal_fps: Option<f32>,
}

impl Capture {
    /// Starts the thread, opens the source on it and waits until it is open. `waker` is called
    /// after every frame and when the stream ends (the UI passes `request_repaint`).
    pub fn start(
        opener: Opener,
        options: &CaptureOptions,
        waker: Option<Waker>,
    ) -> Result<Capture, CaptureError> {
        let ring = Arc::new(FrameRing::new(options.ring_capacity));
        let stop = Arc::new(AtomicBool::new(false));
        let (opened_tx, opened_rx) = bounded(1);
        let thread = {
            let ring = ring.clone();
            let stop = stop.clone();
            let resize = options.resize_shorter_to;
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || {
                    let source = match opener() {
                        Ok(source) => {
                            let _ = opened_tx.send(Ok((source.describe(), source.nominal_fps())));
                            source
                        }
                        Err(e) => {
                            ring.close(RingState::Failed(e.to_string()));
                            let _ = opened_tx.send(Err(e));
                            return;
                        }
                    };
                    capture_loop(source, &ring, &stop, resize, waker.as_ref());
                })
                .map_err(|e| CaptureError::Settings(format!("cannot start capture thread: {e}")))?
        };
        let mut capture = Capture {
            ring,
            stop,
            thread: Some(thread),
            description: String::new(),
            nominal_fps: None,
        };
        match opened_rx.recv_timeout(options.start_timeout) {
            Ok(Ok((description, fps))) => {
                capture.description = description;
                capture.nominal_fps = fps;
                Ok(capture)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => {
                // The thread is stuck opening the source: ask it to stop but do not wait for it.
                capture.stop.store(true, Ordering::SeqCst);
                capture.thread = None;
                Err(CaptureError::StartTimeout(
                    "frame".into(),
                    options.start_timeout,
                ))
            }
        }
    }

    /// The ring this capture writes.
    pub fn ring(&self) -> &Arc<FrameRing> {
        &self.ring
    }

    /// What the source said it is.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The source's nominal frame rate, if it has one.
    pub fn nominal_fps(&self) -> Option<f32> {
        self.nominal_fps
    }

    /// Asks the thread to stop (it ends within one frame interval or 20 ms of pacing).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Stops and joins the thread.
    pub fn stop(&mut self) {
        self.request_stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.ring.close(RingState::Finished);
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}

fn capture_loop(
    mut source: Box<dyn FrameSource>,
    ring: &FrameRing,
    stop: &AtomicBool,
    resize: Option<u32>,
    waker: Option<&Waker>,
) {
    let start = Instant::now();
    let end = loop {
        if stop.load(Ordering::SeqCst) {
            break RingState::Finished;
        }
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break RingState::Finished,
            Err(e) => break RingState::Failed(e.to_string()),
        };
        let captured_at = match frame.captured_at {
            Some(t) => t,
            None => {
                if !sleep_until(start + frame.pts, stop) {
                    break RingState::Finished;
                }
                Instant::now()
            }
        };
        let image = match resize {
            Some(side) => resize_shorter_side(frame.image, side),
            None => frame.image,
        };
        ring.push(Arc::new(image), frame.pts, captured_at);
        if let Some(w) = waker {
            w();
        }
    };
    // Release the device before telling readers the stream is over.
    drop(source);
    ring.close(end);
    if let Some(w) = waker {
        w();
    }
}

/// Sleeps until `deadline` in short slices so a stop request is seen quickly; false if stopped.
fn sleep_until(deadline: Instant, stop: &AtomicBool) -> bool {
    const SLICE: Duration = Duration::from_millis(20);
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(SLICE));
    }
}

/// Resizes so the shorter side is `side`, with the same size rule and filter as
/// [`crate::preprocess::resize_center_crop`], which then finds nothing left to resize: the
/// model sees exactly the pixels it would have seen from the original frame.
pub fn resize_shorter_side(img: RgbImage, side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.min(h) == side || w == 0 || h == 0 {
        return img;
    }
    let (w, h, s) = (w as u64, h as u64, side as u64);
    let (nw, nh) = if w <= h {
        (s, (h * s + w / 2) / w)
    } else {
        ((w * s + h / 2) / h, s)
    };
    image::imageops::resize(
        &img,
        nw as u32,
        nh as u32,
        image::imageops::FilterType::Triangle,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SourceFrame;
    use crate::preprocess::resize_center_crop;

    #[test]
    fn early_resize_leaves_the_model_input_unchanged() {
        for (w, h) in [(176u32, 100u32), (640, 480), (300, 500), (256, 256)] {
            let img = RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 7 + y) as u8, (y * 3) as u8, (x ^ y) as u8])
            });
            let direct = resize_center_crop(&img, 256, 224);
            let early = resize_center_crop(&resize_shorter_side(img.clone(), 256), 256, 224);
            assert_eq!(direct, early, "{w}x{h}");
        }
    }

    struct Counting {
        n: u32,
        limit: u32,
        fail: bool,
    }

    impl FrameSource for Counting {
        fn describe(&self) -> String {
            "counting".into()
        }
        fn nominal_fps(&self) -> Option<f32> {
            Some(100.0)
        }
        fn next_frame(&mut self) -> Result<Option<SourceFrame>, CaptureError> {
            if self.n == self.limit {
                return if self.fail {
                    Err(CaptureError::Settings("gone".into()))
                } else {
                    Ok(None)
                };
            }
            self.n += 1;
            Ok(Some(SourceFrame {
                image: RgbImage::new(8, 4),
                pts: Duration::from_millis(10 * self.n as u64),
                captured_at: None,
            }))
        }
    }

    #[test]
    fn paces_resizes_and_reports_the_end() {
        let options = CaptureOptions {
            resize_shorter_to: Some(16),
            ring_capacity: 4,
            ..Default::default()
        };
        let start = Instant::now();
        let cap = Capture::start(
            Box::new(|| {
                Ok(Box::new(Counting {
                    n: 0,
                    limit: 10,
                    fail: false,
                }) as Box<dyn FrameSource>)
            }),
            &options,
            None,
        )
        .unwrap();
        assert_eq!(cap.description(), "counting");
        while cap.ring().state() == RingState::Open {
            std::thread::sleep(Duration::from_millis(5));
        }
        // 10 frames at 10 ms each cannot be released faster than their timestamps.
        assert!(start.elapsed() >= Duration::from_millis(95));
        assert_eq!(cap.ring().state(), RingState::Finished);
        assert_eq!(cap.ring().pushed(), 10);
        assert_eq!(cap.ring().len(), 4);
        assert_eq!(cap.ring().latest().unwrap().image.dimensions(), (32, 16));
    }

    #[test]
    fn open_and_read_failures_are_reported() {
        let err = Capture::start(
            Box::new(|| Err(CaptureError::Settings("nope".into()))),
            &CaptureOptions::default(),
            None,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("nope"));

        let cap = Capture::start(
            Box::new(|| {
                Ok(Box::new(Counting {
                    n: 0,
                    limit: 2,
                    fail: true,
                }) as Box<dyn FrameSource>)
            }),
            &CaptureOptions::default(),
            None,
        )
        .unwrap();
        assert!(!cap.ring().wait_for_newer(Some(1), Duration::from_secs(5)));
        assert_eq!(
            cap.ring().state(),
            RingState::Failed("invalid source settings: gone".into())
        );
    }
}
