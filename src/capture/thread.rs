//! The capture thread: opens a source on its own thread (a camera handle stays on the thread
//! that opened it), releases played-back frames at their presentation time, downscales them to
//! the model's resize size and writes them into the ring. It never waits on a reader, and
//! nothing it does can hang or kill it silently: undecodable frames are counted and skipped, a
//! panic closes the ring with its cause, and opening happens on it, not on the caller's thread.

use super::{CaptureError, FrameRing, FrameSource, Pulled, RingState, Waker};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use image::RgbImage;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Opens a source; runs on the capture thread.
pub type Opener = Box<dyn FnOnce() -> Result<Box<dyn FrameSource>, CaptureError> + Send>;

/// How the capture thread treats frames.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The model's `resize_size`: frames are resized so their shorter side is this many pixels,
    /// which the model's preprocessing then finds already done — except that frames are kept at
    /// least `preview_min` pixels (or their own size, if smaller) for the preview; the model
    /// then does the rest. `None` keeps frames as delivered.
    pub resize_shorter_to: Option<u32>,
    /// Smallest shorter side kept for the preview.
    pub preview_min: u32,
    /// Frames the ring holds.
    pub ring_capacity: usize,
    /// How long [`Capture::start`] waits for the source to open (cameras can take seconds).
    pub start_timeout: Duration,
    /// What the status says while the source opens ("opening camera…").
    pub opening: String,
    /// Batch playback: a played-back frame is released as soon as the reader has handled the
    /// one before ([`FrameRing::mark_consumed`]) instead of at its presentation time, so a
    /// file is processed as fast as the reader allows and no frame is ever overwritten unseen.
    /// Live sources (cameras) ignore it.
    pub lockstep: bool,
    /// How long [`Capture::stop`] waits for the thread to end before leaving it behind (a
    /// wedged camera driver must not hang whoever stops it).
    pub stop_wait: Duration,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            resize_shorter_to: None,
            preview_min: 240,
            ring_capacity: 64,
            start_timeout: Duration::from_secs(20),
            opening: "opening the source…".into(),
            lockstep: false,
            stop_wait: Duration::from_secs(2),
        }
    }
}

/// A running capture thread and the ring it writes. Dropping it stops the thread, which
/// releases the source (and with it the camera).
pub struct Capture {
    ring: Arc<FrameRing>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The open's outcome, until [`Capture::wait_opened`] takes it.
    opened: Option<Receiver<Result<(), CaptureError>>>,
    stop_wait: Duration,
}

impl Capture {
    /// Starts the thread and returns at once; the source opens on the thread while the status
    /// says `options.opening`. A failure to open closes the ring with the reason. `waker` is
    /// called after every frame, status change and when the stream ends.
    pub fn spawn(
        opener: Opener,
        options: &CaptureOptions,
        waker: Option<Waker>,
    ) -> Result<Capture, CaptureError> {
        let ring = Arc::new(FrameRing::new(options.ring_capacity));
        ring.status().set_health(Some(options.opening.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let (opened_tx, opened_rx) = bounded(1);
        let thread = {
            let ring = ring.clone();
            let stop = stop.clone();
            let resize = options
                .resize_shorter_to
                .map(|model| (model, options.preview_min));
            let lockstep = options.lockstep;
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || {
                    let body = AssertUnwindSafe(|| {
                        let source = match opener() {
                            Ok(source) => source,
                            Err(e) => {
                                ring.close(RingState::Failed(e.to_string()));
                                let _ = opened_tx.send(Err(e));
                                return;
                            }
                        };
                        let status = ring.status();
                        status.set_description(source.describe());
                        status.set_note(source.note());
                        status.set_health(None);
                        let _ = opened_tx.send(Ok(()));
                        if let Some(w) = &waker {
                            w();
                        }
                        capture_loop(source, &ring, &stop, resize, lockstep, waker.as_ref());
                    });
                    if let Err(panic) = catch_unwind(body) {
                        let why = CaptureError::Panicked("capture", panic_message(&*panic));
                        ring.close(RingState::Failed(why.to_string()));
                    }
                    if let Some(w) = &waker {
                        w();
                    }
                })
                .map_err(|e| CaptureError::Settings(format!("cannot start capture thread: {e}")))?
        };
        Ok(Capture {
            ring,
            stop,
            thread: Some(thread),
            opened: Some(opened_rx),
            stop_wait: options.stop_wait,
        })
    }

    /// Starts the thread and waits until the source is open (or failed to open).
    pub fn start(
        opener: Opener,
        options: &CaptureOptions,
        waker: Option<Waker>,
    ) -> Result<Capture, CaptureError> {
        let mut capture = Self::spawn(opener, options, waker)?;
        capture.wait_opened(options.start_timeout)?;
        Ok(capture)
    }

    /// Waits up to `timeout` for the source to open; its error if it failed. Returns at once
    /// once the outcome has been taken.
    pub fn wait_opened(&mut self, timeout: Duration) -> Result<(), CaptureError> {
        let Some(rx) = self.opened.take() else {
            return Ok(());
        };
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            // The thread ended without a word: it panicked, and the ring says why.
            Err(RecvTimeoutError::Disconnected) => match self.ring.state() {
                RingState::Failed(why) => Err(CaptureError::Ended(why)),
                _ => Ok(()),
            },
            Err(RecvTimeoutError::Timeout) => {
                // The thread is stuck opening the source: ask it to stop but do not wait.
                self.request_stop();
                self.thread = None;
                Err(CaptureError::StartTimeout("frame".into(), timeout))
            }
        }
    }

    /// The ring this capture writes.
    pub fn ring(&self) -> &Arc<FrameRing> {
        &self.ring
    }

    /// What the source said it is (empty until it is open).
    pub fn description(&self) -> String {
        self.ring.status().description()
    }

    /// Asks the thread to stop (it ends within about 100 ms).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Stops the thread and waits for it, but no longer than `stop_wait`: a thread stuck in a
    /// camera driver is left behind (it ends when the driver returns) rather than hang the
    /// caller.
    pub fn stop(&mut self) {
        self.request_stop();
        if let Some(t) = self.thread.take() {
            let deadline = Instant::now() + self.stop_wait;
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        self.ring.close(RingState::Finished);
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

fn capture_loop(
    mut source: Box<dyn FrameSource>,
    ring: &FrameRing,
    stop: &AtomicBool,
    resize: Option<(u32, u32)>,
    lockstep: bool,
    waker: Option<&Waker>,
) {
    let status = ring.status();
    let wake = || {
        if let Some(w) = waker {
            w();
        }
    };
    let start = Instant::now();
    let end = loop {
        if stop.load(Ordering::SeqCst) {
            break RingState::Finished;
        }
        let frame = match source.next_frame() {
            Ok(Pulled::Frame(frame)) => frame,
            Ok(Pulled::End) => break RingState::Finished,
            Ok(Pulled::Undecodable(why)) => {
                status.count_undecodable(why);
                wake();
                continue;
            }
            Ok(Pulled::Waiting(None)) => continue,
            Ok(Pulled::Waiting(Some(why))) => {
                if status.health().as_deref() != Some(why.as_str()) {
                    status.set_health(Some(why));
                    wake();
                }
                continue;
            }
            Err(e) => break RingState::Failed(e.to_string()),
        };
        if status.health().is_some() {
            // Back after a fault: the source may have reopened in another mode.
            status.set_health(None);
            status.set_description(source.describe());
            status.set_note(source.note());
        }
        let captured_at = match frame.captured_at {
            Some(t) => t,
            None if lockstep => Instant::now(),
            None => {
                if !sleep_until(start + frame.pts, stop) {
                    break RingState::Finished;
                }
                Instant::now()
            }
        };
        let image = match resize {
            Some((model, preview_min)) => {
                let shorter = frame.image.width().min(frame.image.height());
                resize_shorter_side(frame.image, stored_side(shorter, model, preview_min))
            }
            None => frame.image,
        };
        let seq = ring.push(Arc::new(image), frame.pts, captured_at);
        wake();
        if lockstep && frame.captured_at.is_none() && !wait_consumed(ring, seq, stop) {
            break RingState::Finished;
        }
    };
    // Release the device before telling readers the stream is over.
    drop(source);
    ring.close(end);
}

/// Shorter side a frame is stored at: the model's size, but never below the preview's minimum
/// unless the frame itself is smaller. Frames are never scaled beyond what the model needs, and
/// whenever the stored size is the model's the model sees exactly the pixels it would have seen
/// from the original.
fn stored_side(shorter: u32, model: u32, preview_min: u32) -> u32 {
    model.max(shorter.min(preview_min))
}

/// Waits until the reader has handled frame `seq`, in short slices so a stop request is seen
/// quickly; false if stopped.
fn wait_consumed(ring: &FrameRing, seq: u64, stop: &AtomicBool) -> bool {
    while !ring.wait_consumed(seq, Duration::from_millis(20)) {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
    }
    true
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

    #[test]
    fn stored_size_serves_model_and_preview() {
        // Jester frames (100 px) for a 256 model: upscaled once, as the model would.
        assert_eq!(stored_side(100, 256, 240), 256);
        // A 480p camera: down to the model's 256.
        assert_eq!(stored_side(480, 256, 240), 256);
        // A 64 px model: the preview keeps 240 px, or a small frame's own size.
        assert_eq!(stored_side(480, 64, 240), 240);
        assert_eq!(stored_side(128, 64, 240), 128);
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
        fn next_frame(&mut self) -> Result<Pulled, CaptureError> {
            if self.n == self.limit {
                return if self.fail {
                    Err(CaptureError::Settings("gone".into()))
                } else {
                    Ok(Pulled::End)
                };
            }
            self.n += 1;
            Ok(Pulled::Frame(SourceFrame {
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
            preview_min: 2,
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
    fn lockstep_releases_each_frame_once_the_reader_has_it() {
        let options = CaptureOptions {
            lockstep: true,
            ..Default::default()
        };
        let cap = Capture::start(
            Box::new(|| {
                Ok(Box::new(Counting {
                    n: 0,
                    limit: 1000,
                    fail: false,
                }) as Box<dyn FrameSource>)
            }),
            &options,
            None,
        )
        .unwrap();
        let ring = cap.ring().clone();
        let start = Instant::now();
        let mut seen = Vec::new();
        let mut last = None;
        while ring.wait_for_newer(last, Duration::from_secs(5)) {
            let newest = ring.latest().unwrap();
            // One new frame at a time: the writer waits for this reader.
            assert_eq!(newest.seq, last.map_or(0, |s| s + 1));
            seen.push(newest.pts);
            last = Some(newest.seq);
            ring.mark_consumed(newest.seq);
        }
        // 10 s of frames at 100 fps, far faster than their timestamps.
        assert_eq!(seen.len(), 1000);
        assert!(start.elapsed() < Duration::from_secs(8));
        assert_eq!(seen[999], Duration::from_millis(10_000));
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

    struct Panicking;

    impl FrameSource for Panicking {
        fn describe(&self) -> String {
            "panicking".into()
        }
        fn nominal_fps(&self) -> Option<f32> {
            None
        }
        fn next_frame(&mut self) -> Result<Pulled, CaptureError> {
            panic!("driver exploded")
        }
    }

    #[test]
    fn a_panic_closes_the_ring_with_its_cause() {
        let cap = Capture::start(
            Box::new(|| Ok(Box::new(Panicking) as Box<dyn FrameSource>)),
            &CaptureOptions::default(),
            None,
        )
        .unwrap();
        assert!(!cap.ring().wait_for_newer(None, Duration::from_secs(5)));
        assert_eq!(
            cap.ring().state(),
            RingState::Failed("the capture thread panicked: driver exploded".into())
        );
        // A panic while opening too.
        let err = Capture::start(
            Box::new(|| panic!("open exploded")),
            &CaptureOptions::default(),
            None,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("open exploded"), "{err}");
    }

    #[test]
    fn spawning_returns_before_a_slow_open_and_says_so() {
        let options = CaptureOptions {
            opening: "opening camera…".into(),
            ..CaptureOptions::default()
        };
        let t0 = Instant::now();
        let mut cap = Capture::spawn(
            Box::new(|| {
                std::thread::sleep(Duration::from_millis(500));
                Ok(Box::new(Counting {
                    n: 0,
                    limit: 1,
                    fail: false,
                }) as Box<dyn FrameSource>)
            }),
            &options,
            None,
        )
        .unwrap();
        assert!(t0.elapsed() < Duration::from_millis(200));
        assert_eq!(
            cap.ring().status().health().as_deref(),
            Some("opening camera…")
        );
        cap.wait_opened(Duration::from_secs(10)).unwrap();
        assert_eq!(cap.description(), "counting");
        assert_eq!(cap.ring().status().health(), None);
    }
}
