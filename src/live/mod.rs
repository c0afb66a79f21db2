//! The live pipeline (docs/ARCHITECTURE.md §1): a [`Capture`] thread fills a frame ring, a
//! [`worker::Worker`] thread turns the window, resampled to the model's clip rate, into one
//! prediction per clip-rate sample (and events), and a crossbeam channel carries them to the
//! window or the headless printer. [`Pipeline`] starts and stops the two threads as one, and
//! swaps the model the worker runs without stopping capture.

pub mod events;
pub mod headless;
pub mod pace;
pub mod rate;
mod segment;
pub mod worker;

pub use events::{EventSettings, GestureEvent, SettingsError};
pub use worker::{
    Control, CurrentModel, FrameModel, Prediction, SeenHand, Stats, WorkerMsg, WorkerOptions,
};

use crate::capture::{
    Capture, CaptureError, CaptureOptions, FrameRing, Opener, SourceOptions, SourceSpec, Waker,
};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Errors starting the live pipeline.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Model(#[from] crate::Error),
    /// Settings that do not fit the model (unknown class in a threshold, bad level...).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot start the inference thread: {0}")]
    Thread(std::io::Error),
    /// The headless printer could not write its output.
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    /// The pipeline stopped with an error (source lost, inference failed).
    #[error("{0}")]
    Stopped(String),
}

/// Everything that shapes a pipeline.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    pub source: SourceOptions,
    pub worker: WorkerOptions,
    /// Highest source rate the window must hold at full length; sets the ring's capacity.
    pub max_source_fps: Option<f32>,
}

/// Window lengths the pipeline accepts, in milliseconds: shorter than 0.1 s holds no gesture,
/// longer than 10 s only costs memory (the ring holds the whole window).
pub const WINDOW_MS_RANGE: std::ops::RangeInclusive<u64> = 100..=10_000;

/// Messages in flight before the worker starts dropping predictions (never events).
const CHANNEL_CAPACITY: usize = 256;
/// Source rate the ring is sized for when none is given: the fastest common webcam mode.
const DEFAULT_MAX_SOURCE_FPS: f32 = 60.0;

/// A running capture thread + inference worker.
pub struct Pipeline {
    capture: Capture,
    worker: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    rx: Receiver<WorkerMsg>,
    controls: Sender<Control>,
    current: CurrentModel,
}

impl Pipeline {
    /// Opens `spec`, starts both threads and returns once the source is open (or failed to).
    /// `waker` is called whenever there is something new to show (a frame, a message).
    pub fn start(
        model: Arc<dyn FrameModel>,
        spec: &SourceSpec,
        options: &PipelineOptions,
        waker: Option<Waker>,
    ) -> Result<Pipeline, LiveError> {
        let opener = spec.opener(&options.source)?;
        Self::start_with(model, opener, options, waker)
    }

    /// Like [`Pipeline::start`] with any source.
    pub fn start_with(
        model: Arc<dyn FrameModel>,
        opener: Opener,
        options: &PipelineOptions,
        waker: Option<Waker>,
    ) -> Result<Pipeline, LiveError> {
        let mut pipeline = Self::spawn_with(model, opener, "opening the source…", options, waker)?;
        let timeout = CaptureOptions::default().start_timeout;
        pipeline.capture.wait_opened(timeout)?;
        Ok(pipeline)
    }

    /// Starts both threads and returns at once: the source opens on the capture thread while
    /// the ring's status says `opening` ("opening camera…"); if it cannot be opened the worker
    /// ends with `Quit(Some(why))`. For callers that must not block (the window).
    pub fn spawn_with(
        model: Arc<dyn FrameModel>,
        opener: Opener,
        opening: &str,
        options: &PipelineOptions,
        waker: Option<Waker>,
    ) -> Result<Pipeline, LiveError> {
        let cfg = model.config();
        let window_ms = options.worker.window.as_millis();
        if !WINDOW_MS_RANGE.contains(&(window_ms.min(u64::MAX as u128) as u64)) {
            return Err(LiveError::Settings(SettingsError::Window {
                min: *WINDOW_MS_RANGE.start(),
                max: *WINDOW_MS_RANGE.end(),
                got: window_ms,
            }));
        }
        let max_fps = options.max_source_fps.unwrap_or(DEFAULT_MAX_SOURCE_FPS);
        if !(max_fps.is_finite() && max_fps > 0.0 && max_fps <= 1000.0) {
            return Err(LiveError::Settings(SettingsError::SourceRate(max_fps)));
        }
        let capture_options = CaptureOptions {
            resize_shorter_to: Some(cfg.resize_size as u32),
            // The whole window at the fastest rate, plus slack for the frame arriving while
            // the worker reads.
            ring_capacity: (options.worker.window.as_secs_f32() * max_fps).ceil() as usize + 8,
            opening: opening.to_string(),
            lockstep: options.worker.batch,
            ..CaptureOptions::default()
        };
        let (tx, rx) = bounded(CHANNEL_CAPACITY);
        let (controls, controls_rx) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        // Check the settings before opening a camera.
        let probe = worker::Worker::new(
            model.clone(),
            Arc::new(FrameRing::new(1)),
            tx.clone(),
            controls_rx.clone(),
            stop.clone(),
            None,
            options.worker.clone(),
        )?;
        drop(probe);
        let capture = Capture::spawn(opener, &capture_options, waker.clone())?;
        let worker = worker::Worker::new(
            model,
            capture.ring().clone(),
            tx,
            controls_rx,
            stop.clone(),
            waker,
            options.worker.clone(),
        )?;
        let current = worker.current_model();
        let handle = std::thread::Builder::new()
            .name("inference".into())
            .spawn(move || worker.run())
            .map_err(LiveError::Thread)?;
        Ok(Pipeline {
            capture,
            worker: Some(handle),
            stop,
            rx,
            controls,
            current,
        })
    }

    /// The worker's messages; the last one is always `Quit`.
    pub fn messages(&self) -> &Receiver<WorkerMsg> {
        &self.rx
    }

    /// The frame ring (the UI's preview reads the newest frame from it).
    pub fn ring(&self) -> &Arc<FrameRing> {
        self.capture.ring()
    }

    /// What the source said it is (empty until it is open).
    pub fn source_description(&self) -> String {
        self.capture.description()
    }

    /// Sends a live change to the worker.
    pub fn control(&self, c: Control) {
        let _ = self.controls.send(c);
    }

    /// The model the worker runs now: the one it started with, or the last swap it accepted.
    /// Keep it before [`Pipeline::swap_model`] to restore it later.
    pub fn model(&self) -> Arc<dyn FrameModel> {
        match self.current.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Asks the worker to run `model` from its next prediction on; capture keeps running. The
    /// answer comes as [`WorkerMsg::ModelSwapped`] on [`Pipeline::messages`] (the new labels,
    /// or why it was refused and the old model kept). Predictions resume once the new model
    /// has seen N clip-rate samples (0.7 s for N=8 at 12 fps).
    pub fn swap_model(&self, model: Arc<dyn FrameModel>) {
        self.control(Control::SwapModel(model));
    }

    /// Stops both threads and waits for them; returns how long that took.
    pub fn stop(&mut self) -> Duration {
        let start = Instant::now();
        self.stop.store(true, Ordering::SeqCst);
        self.capture.request_stop();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        self.capture.stop();
        start.elapsed()
    }

    /// True once both threads have ended.
    pub fn is_finished(&self) -> bool {
        self.worker.as_ref().is_none_or(|w| w.is_finished())
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop();
    }
}
