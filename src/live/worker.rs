//! The inference worker. The model looks at the window resampled to its clip rate (Jester:
//! 12 fps), so the worker runs on that grid ([`rate::SampleClock`]), not on every captured
//! frame: as each clip-rate sample's frame arrives it computes that frame's backbone features
//! once, keeps them for the window, and predicts once per sample from the N samples the TSN
//! test rule picks. With a 30 fps camera that is 12 backbone passes a second, not 30. When one
//! sample costs more than a sample step, [`Pace`] makes it compute every k-th sample only
//! (a steady lower rate); a sample that is late is dropped for a newer one, never queued.
//! [`Control::SwapModel`] replaces the model between two predictions without stopping capture.
//! A model fed frame differences (RGBDiff) reads, for each sample, the frames of that sample and
//! the `new_length` samples before it on the same grid: still one backbone pass per sample.
//! A landmark model (`hand_landmarks`) reads what the hand tracker finds in the sample's frame:
//! one tracker pass per computed sample, the tracker carrying the hand's region from sample to
//! sample as MediaPipe's graph does from frame to frame; each prediction carries the hands of
//! its newest sample ([`SeenHand`]) for the window's skeleton and `--verbose-json`.

use super::events::{EventDetector, EventSettings, FireAt, GestureEvent, SettingsError};
use super::pace::Pace;
use super::rate::{self, SampleClock};
use crate::capture::{Frame, FrameRing, RingState, Waker};
use crate::hands::shipped::{normalised, pack_hand, tracker_for};
use crate::hands::tracker::{HandOptions, HandTracker};
use crate::model::backbone::hand_landmarks::{INPUT_LEN, INPUT_ROWS, LANDMARKS};
use crate::model::config::ModelConfig;
use crate::preprocess::{frame_view, segment_into};
use crate::GestureModel;
use candle_core::{Device, Tensor};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the worker needs from a model: per-frame features (cacheable, each depends on one
/// frame) and the head over N of them. [`GestureModel`] is the real one.
pub trait FrameModel: Send + Sync {
    /// Labels, N, preprocessing, clip rate.
    fn config(&self) -> &ModelConfig;
    /// Where inputs must be placed.
    fn device(&self) -> &Device;
    /// `[n, c_in, S, S]` segment inputs → `[n, D]`.
    fn frame_features(&self, frames: &Tensor) -> crate::Result<Tensor>;
    /// `[b, N, D]` → `[b, C]` logits.
    fn head(&self, features: &Tensor) -> crate::Result<Tensor>;
}

impl FrameModel for GestureModel {
    fn config(&self) -> &ModelConfig {
        GestureModel::config(self)
    }
    fn device(&self) -> &Device {
        GestureModel::device(self)
    }
    fn frame_features(&self, frames: &Tensor) -> crate::Result<Tensor> {
        GestureModel::frame_features(self, frames)
    }
    fn head(&self, features: &Tensor) -> crate::Result<Tensor> {
        GestureModel::head(self, features)
    }
}

/// How the worker builds windows and events.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Length of the window the N segments are sampled from.
    pub window: Duration,
    /// Rate the window is resampled to; `None`: the model's `clip_fps`.
    pub clip_fps: Option<f32>,
    pub events: EventSettings,
    /// How many classes a prediction lists.
    pub top_k: usize,
    /// How often statistics are sent.
    pub stats_every: Duration,
    /// Batch playback of a file: the capture thread releases each frame once the worker has
    /// handled the one before (`CaptureOptions::lockstep`), every clip-rate sample is
    /// computed (no stride, however long a pass takes) and every prediction is delivered, so
    /// the predictions are those of real-time playback on a machine that keeps up, as fast as
    /// the model runs.
    pub batch: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            window: Duration::from_millis(2000),
            clip_fps: None,
            events: EventSettings::default(),
            top_k: 5,
            stats_every: Duration::from_millis(500),
            batch: false,
        }
    }
}

/// Live changes from the UI.
#[derive(Clone)]
pub enum Control {
    Events(EventSettings),
    Pause(bool),
    /// Run this model from the next prediction on (a fine-tuned one, or the previous one back),
    /// without stopping capture. Features of the old model are dropped, so predictions resume
    /// once N clip-rate samples have been computed with the new one. Answered by
    /// [`WorkerMsg::ModelSwapped`]; a model whose labels do not fit the event settings is
    /// refused and the old one keeps running.
    SwapModel(Arc<dyn FrameModel>),
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Control::Events(s) => f.debug_tuple("Events").field(s).finish(),
            Control::Pause(p) => f.debug_tuple("Pause").field(p).finish(),
            Control::SwapModel(m) => f
                .debug_tuple("SwapModel")
                .field(&m.config().labels)
                .finish(),
        }
    }
}

/// The model the worker runs, shared with [`super::Pipeline::model`]: replaced when a swap is
/// accepted.
pub type CurrentModel = Arc<Mutex<Arc<dyn FrameModel>>>;

/// One prediction.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Frame of the newest clip-rate sample (the frame whose arrival triggered this prediction).
    pub seq: u64,
    /// Its source time.
    pub t: Duration,
    /// From that frame's capture to this prediction being sent.
    pub latency: Duration,
    /// Smoothed probabilities, class order.
    pub probs: Vec<f32>,
    /// The `top_k` classes by smoothed probability: (class, probability).
    pub top: Vec<(usize, f32)>,
    /// Frames that went through the backbone for this prediction: 1 (its newest sample), 0
    /// when that frame was already computed (a source slower than the clip rate).
    pub backbone_passes: usize,
    /// The frames the model saw (sequence numbers, oldest first).
    pub frames: Vec<u64>,
    /// Clip-rate samples whose features are held after this prediction (at most a window).
    pub cached_features: usize,
    /// The hands the tracker found in the newest sample's frame (landmark models; empty for
    /// image models).
    pub hands: Vec<SeenHand>,
}

/// A hand the tracker found in a frame, as the landmark model read it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenHand {
    /// The 21 landmarks normalised to the frame (x / width, y / height, z / width), MediaPipe's
    /// order: wrist, then thumb, index, middle, ring and little finger from base to tip.
    pub landmarks: [[f32; 3]; LANDMARKS],
    /// "Left" or "Right", MediaPipe's mirrored-view convention.
    pub handedness: &'static str,
    /// The probability of `handedness`.
    pub score: f32,
    /// The hand-presence probability.
    pub presence: f32,
}

/// Runs the hand tracker on `frame` and packs its first hand (or none) as a landmark model's
/// segment input: `[1, INPUT_ROWS, 3]`, with the hands found.
fn track(
    tracker: &mut HandTracker,
    frame: &Frame,
    device: &Device,
) -> crate::Result<(Tensor, Vec<SeenHand>)> {
    let (w, h) = frame.image.dimensions();
    let found = tracker
        .process(&frame.image)
        .map_err(|e| crate::Error::HandTracker(e.to_string()))?;
    let mut data = vec![0f32; INPUT_LEN];
    pack_hand(found.first(), w, h, &mut data);
    let hands = found
        .iter()
        .map(|hand| {
            let (landmarks, _, presence) = normalised(hand, w, h);
            SeenHand {
                landmarks,
                handedness: hand.handedness.label(),
                score: hand.score,
                presence,
            }
        })
        .collect();
    let input = Tensor::from_vec(data, (1, INPUT_ROWS, 3), device)?;
    Ok((input, hands))
}

/// Running totals, sent every `stats_every`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Frames per second written by the capture thread over the last interval.
    pub capture_fps: f32,
    pub predictions_per_s: f32,
    /// Mean glass-to-label latency over the last interval.
    pub latency_ms: f32,
    pub predictions: u64,
    pub backbone_passes: u64,
    /// Frames the worker never looked at (between clip-rate samples, or while it computed).
    pub frames_skipped: u64,
    /// Clip-rate samples not computed: the worker was late for them or ran at a stride.
    pub samples_skipped: u64,
    /// Every how many clip-rate samples the worker computes one (1 when it keeps up).
    pub sample_stride: u64,
    /// Frames the ring overwrote.
    pub frames_overwritten: u64,
    /// Frames the source delivered that could not be decoded (dropped; the stream went on).
    pub frames_undecodable: u64,
    /// Predictions the consumer did not take in time (channel full).
    pub messages_dropped: u64,
    /// Times a landmark model's tracker ran its palm detector since the model started (once
    /// per hand found, while the hand stays tracked); 0 for image models.
    pub palm_detections: u64,
}

/// Everything the worker tells its consumer. It always ends with `Quit`.
#[derive(Debug, Clone)]
pub enum WorkerMsg {
    Prediction(Prediction),
    Event(GestureEvent),
    Stats(Stats),
    /// Something to show while there is no prediction yet ("warming up: 3/8 frames").
    Status(String),
    /// Answer to [`Control::SwapModel`]: the labels predictions refer to from now on, or why
    /// the model was refused (the old one keeps running).
    ModelSwapped(Result<Vec<String>, String>),
    /// The worker stopped: `None` at the end of a finite source or on request, else why.
    Quit(Option<String>),
}

/// One computed clip-rate sample.
struct Sample {
    /// Index on the clip-rate grid.
    k: u64,
    /// The frames its input was made of, oldest first, its own frame last (alone for RGB).
    stack: Vec<u64>,
    /// `[D]`
    feature: Tensor,
    /// What the tracker found in its frame (landmark models).
    hands: Vec<SeenHand>,
}

impl Sample {
    /// Its own frame.
    fn seq(&self) -> u64 {
        self.stack[self.stack.len() - 1]
    }
}

/// The worker's state; [`Worker::run`] is the thread body.
pub struct Worker {
    model: Arc<dyn FrameModel>,
    current: CurrentModel,
    ring: Arc<FrameRing>,
    tx: Sender<WorkerMsg>,
    controls: Receiver<Control>,
    stop: Arc<AtomicBool>,
    waker: Option<Waker>,
    options: WorkerOptions,
    detector: EventDetector,
    clock: SampleClock,
    pace: Pace,
    /// Computed samples of the window, oldest first.
    samples: VecDeque<Sample>,
    paused: bool,
    stats: Stats,
    /// The hand tracker a landmark model reads through; `None` for image models.
    tracker: Option<HandTracker>,
}

/// The tracker for `model` when it reads landmarks: the hand models its weights name, tracking
/// one hand (the backbone reads the first hand only, and with one hand tracked the palm
/// detector rests until the hand is lost, as MediaPipe's graph with `max_num_hands` 1 does).
fn tracker_for_model(model: &dyn FrameModel) -> Result<Option<HandTracker>, String> {
    let cfg = model.config();
    if !cfg.arch.reads_landmarks() {
        return Ok(None);
    }
    let options = HandOptions {
        max_hands: 1,
        ..HandOptions::video()
    };
    tracker_for(&cfg.hand_models, options)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Samples a prediction may compute beyond its newest one, to fill a hole a hiccup left.
pub const EXTRA_PASSES: usize = 1;

/// How long a blocking send of an event waits for room before checking the stop flag again.
const SEND_RETRY: Duration = Duration::from_millis(100);

/// The largest stride: the samples a prediction looks at are about `steps / n` apart, and a
/// stride beyond that would show the model the same sample in several segments.
fn max_stride(steps: usize, n: usize) -> u64 {
    (steps / n.max(1)).max(1) as u64
}

impl Worker {
    /// A worker reading `ring` and sending on `tx`; fails on settings that do not fit the model.
    pub fn new(
        model: Arc<dyn FrameModel>,
        ring: Arc<FrameRing>,
        tx: Sender<WorkerMsg>,
        controls: Receiver<Control>,
        stop: Arc<AtomicBool>,
        waker: Option<Waker>,
        options: WorkerOptions,
    ) -> Result<Self, SettingsError> {
        let detector = EventDetector::new(
            &options.events,
            &model.config().labels,
            FireAt::for_arch(model.config().arch),
        )?;
        if let Some(fps) = options.clip_fps {
            if !(fps.is_finite() && fps > 0.0) {
                return Err(SettingsError::ClipRate(fps));
            }
        }
        let fps = options.clip_fps.unwrap_or(model.config().clip_fps);
        let steps = rate::window_steps(options.window, fps, model.config().num_segments);
        let tracker = tracker_for_model(model.as_ref()).map_err(SettingsError::HandTracker)?;
        Ok(Worker {
            current: Arc::new(Mutex::new(model.clone())),
            clock: SampleClock::new(fps),
            pace: Pace::new(fps, max_stride(steps, model.config().num_segments)),
            model,
            ring,
            tx,
            controls,
            stop,
            waker,
            options,
            detector,
            samples: VecDeque::new(),
            paused: false,
            stats: Stats {
                sample_stride: 1,
                ..Stats::default()
            },
            tracker,
        })
    }

    /// The model this worker runs, updated when it accepts a [`Control::SwapModel`].
    pub fn current_model(&self) -> CurrentModel {
        self.current.clone()
    }

    /// The thread body: predicts until the source ends, fails, or stop is requested; the last
    /// message is always `Quit`.
    pub fn run(mut self) {
        let reason = self.run_loop();
        self.send_reliably(WorkerMsg::Quit(reason));
        self.wake();
    }

    fn run_loop(&mut self) -> Option<String> {
        let mut last_seq: Option<u64> = None;
        let mut interval = Interval::new(self.ring.pushed());
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            self.apply_controls();
            if interval.started.elapsed() >= self.options.stats_every {
                self.send_stats(&mut interval);
            }
            if !self
                .ring
                .wait_for_newer(last_seq, Duration::from_millis(50))
            {
                match self.ring.state() {
                    RingState::Open => continue,
                    RingState::Finished => return None,
                    RingState::Failed(why) => return Some(why),
                }
            }
            let frames = self.ring.snapshot();
            let Some(newest) = frames.last() else {
                continue;
            };
            self.stats.frames_skipped += newest.seq - last_seq.map_or(0, |s| s + 1);
            last_seq = Some(newest.seq);
            let handled = self.on_frames(&frames, &mut interval);
            self.ring.mark_consumed(newest.seq);
            if let Err(why) = handled {
                return Some(why);
            }
        }
    }

    /// Handles the ring's frames after a new one arrived (`frames`, oldest first): computes and
    /// predicts the newest clip-rate sample that became due, if any.
    fn on_frames(&mut self, frames: &[Frame], interval: &mut Interval) -> Result<(), String> {
        if self.paused {
            return Ok(());
        }
        let (fps, steps) = self.window();
        let pts: Vec<Duration> = frames.iter().map(|f| f.pts).collect();
        let due = self.clock.due(&pts, steps);
        // The newest due sample on the stride; the others are not computed, ever: a late
        // sample gives way to a newer one instead of queueing.
        let stride = self.pace.stride();
        let Some(&(k, i)) = due.iter().rev().find(|(k, _)| k % stride == 0) else {
            self.stats.samples_skipped += due.len() as u64;
            return Ok(());
        };
        self.stats.samples_skipped += due.len() as u64 - 1;
        let started = Instant::now();
        let result = self.predict(k, frames, i, fps, steps);
        if result.is_ok() && !self.options.batch {
            self.pace.record(started.elapsed());
            self.stats.sample_stride = self.pace.stride();
        }
        match result {
            Ok(Some((mut p, event))) => {
                // Measured as late as possible: the latency covers everything up to the send.
                p.latency = frames[i].captured_at.elapsed();
                interval.latency_sum += p.latency;
                interval.predictions += 1;
                self.send_prediction(p);
                if let Some(e) = event {
                    self.send_reliably(WorkerMsg::Event(e));
                }
                self.wake();
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(format!("inference failed: {}", crate::error::report(&e))),
        }
    }

    /// The clip rate and the window length in samples.
    fn window(&self) -> (f32, usize) {
        let cfg = self.model.config();
        let fps = self.options.clip_fps.unwrap_or(cfg.clip_fps);
        (
            fps,
            rate::window_steps(self.options.window, fps, cfg.num_segments),
        )
    }

    /// Forgets the window: the next frame starts a new clip-rate grid.
    fn restart_window(&mut self) {
        let (fps, steps) = self.window();
        self.samples.clear();
        self.clock = SampleClock::new(fps);
        self.pace = Pace::new(fps, max_stride(steps, self.model.config().num_segments));
        self.stats.sample_stride = 1;
        self.detector.reset();
    }

    fn apply_controls(&mut self) {
        while let Ok(c) = self.controls.try_recv() {
            match c {
                Control::Pause(p) => {
                    self.paused = p;
                    if p {
                        // Resuming starts a fresh window: the paused gap is not a gesture.
                        self.restart_window();
                    }
                }
                Control::Events(s) => {
                    // A bad live setting is reported and ignored, not fatal.
                    if let Err(e) = self.detector.apply(&s) {
                        self.send_reliably(WorkerMsg::Status(format!("setting refused: {e}")));
                    } else {
                        self.options.events = s;
                    }
                }
                Control::SwapModel(model) => {
                    let answer = self.swap_model(model);
                    self.send_reliably(WorkerMsg::ModelSwapped(answer));
                    self.wake();
                }
            }
        }
    }

    /// Runs `model` from now on, or says why not (the old model stays).
    fn swap_model(&mut self, model: Arc<dyn FrameModel>) -> Result<Vec<String>, String> {
        let labels = model.config().labels.clone();
        let detector = EventDetector::new(
            &self.options.events,
            &labels,
            FireAt::for_arch(model.config().arch),
        )
        .map_err(|e| format!("the new model does not fit the gesture settings: {e}"))?;
        let tracker = tracker_for_model(model.as_ref())
            .map_err(|e| format!("the new model's hand tracker cannot be loaded: {e}"))?;
        self.detector = detector;
        self.tracker = tracker;
        if let Ok(mut current) = self.current.lock() {
            *current = model.clone();
        }
        self.model = model;
        self.restart_window();
        Ok(labels)
    }

    /// Computes sample `k` (frame `frame`) unless its frame was already computed, then predicts
    /// from the window, or returns `None` while the window holds fewer than N samples.
    fn predict(
        &mut self,
        k: u64,
        frames: &[Frame],
        i: usize,
        fps: f32,
        steps: usize,
    ) -> crate::Result<Option<(Prediction, Option<GestureEvent>)>> {
        let n = self.model.config().num_segments;
        let frame = &frames[i];
        let mut passes = self.compute_sample(k, frames, i)?;
        self.stats.backbone_passes += passes as u64;
        // Samples older than the window (and the stride's slack for a substitute) go.
        let keep = (steps as u64) + self.pace.stride();
        while self.samples.front().is_some_and(|s| s.k + keep <= k) {
            self.samples.pop_front();
        }
        // Samples on the grid up to this one, at most a window.
        let have = (k as usize).saturating_add(1).min(steps);
        let Some(offsets) = rate::segment_offsets(have, n) else {
            self.send_status(format!("warming up: {have}/{n} frames at {fps} fps"));
            return Ok(None);
        };
        // A landmark model's tracker follows the hand forward in time; a hole filled behind
        // the newest sample would hand it an older frame with the newer region.
        let extra = if self.pace.has_slack() && self.tracker.is_none() {
            self.fill_holes(&offsets, k, frames)?
        } else {
            0
        };
        self.stats.backbone_passes += extra as u64;
        passes += extra;
        let used: Vec<&Sample> = offsets
            .iter()
            .map(|&o| self.nearest_sample(k.saturating_sub(o as u64)))
            .collect();
        let rows: Vec<Tensor> = used.iter().map(|s| s.feature.clone()).collect();
        let seen: Vec<u64> = used.iter().map(|s| s.seq()).collect();
        let hands = self
            .samples
            .iter()
            .rev()
            .find(|s| s.k == k)
            .map(|s| s.hands.clone())
            .unwrap_or_default();
        let feats = Tensor::stack(&rows, 0)?.unsqueeze(0)?; // [1, N, D]
        let logits = self.model.head(&feats)?; // [1, C]
        let logits: Vec<f32> = logits
            .squeeze(0)?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1()?;
        let raw = softmax(&logits);
        self.stats.predictions += 1;
        // Smoothing runs here (not in the consumer) so headless and window agree.
        // A window shorter than its full length (just after the start, a switch of source or a
        // pause) is stretched over the N segments: the model sees a gesture's first moments as
        // a whole gesture. Its predictions are shown, but only a full window starts an event.
        let event = self.detector.update_with(&raw, frame.pts, have >= steps);
        let probs = self.detector.smoothed().to_vec();
        let prediction = Prediction {
            seq: frame.seq,
            t: frame.pts,
            latency: frame.captured_at.elapsed(),
            top: top_k(&probs, self.options.top_k),
            probs,
            backbone_passes: passes,
            frames: seen,
            cached_features: self.samples.len(),
            hands,
        };
        Ok(Some((prediction, event)))
    }

    /// Computes sample `k` on `frames[i]` and keeps it (in grid order); returns the backbone
    /// passes spent: 0 when the same input was already computed (a source slower than the clip
    /// rate hands out one frame for several samples).
    fn compute_sample(&mut self, k: u64, frames: &[Frame], i: usize) -> crate::Result<usize> {
        let stack = self.stack_of(k, frames, i);
        let seqs: Vec<u64> = stack.iter().map(|&j| frames[j].seq).collect();
        let known = self
            .samples
            .iter()
            .rev()
            .find(|s| s.stack == seqs)
            .map(|s| (s.feature.clone(), s.hands.clone()));
        let passes = usize::from(known.is_none());
        let (feature, hands) = match known {
            Some(f) => f,
            None => {
                let inputs: Vec<&Frame> = stack.iter().map(|&j| &frames[j]).collect();
                let (batch, hands) = match self.tracker.as_mut() {
                    Some(tracker) => track(tracker, &frames[i], self.model.device())?,
                    None => (self.preprocess(&inputs)?, Vec::new()), // [1, c_in, S, S]
                };
                (self.model.frame_features(&batch)?.get(0)?, hands) // [D]
            }
        };
        let at = self.samples.partition_point(|s| s.k < k);
        self.samples.insert(
            at,
            Sample {
                k,
                stack: seqs,
                feature,
                hands,
            },
        );
        Ok(passes)
    }

    /// The frames (indices into `frames`) sample `k`'s input is made of, oldest first: its own
    /// frame `i` for RGB; for RGBDiff also the frames of the `new_length` samples before it on
    /// the grid (the first sample's frame before the grid starts), as training reads
    /// consecutive clip-rate frames.
    fn stack_of(&self, k: u64, frames: &[Frame], i: usize) -> Vec<usize> {
        let per = self.model.config().frames_per_segment() as u64;
        if per == 1 {
            return vec![i];
        }
        let secs: Vec<f64> = frames.iter().map(|f| f.pts.as_secs_f64()).collect();
        (0..per)
            .rev()
            .map(|back| match (back, k.checked_sub(back)) {
                (0, _) => i,
                (_, j) => self
                    .clock
                    .time(j.unwrap_or(0))
                    .map_or(i, |t| rate::nearest(&secs, t).min(i)),
            })
            .collect()
    }

    /// Computes up to [`EXTRA_PASSES`] of the samples this prediction picks that are on the
    /// stride but were skipped because the worker was late for them (a hiccup: a slow first
    /// pass, another process), newest first, so that one hiccup does not leave a hole in the
    /// next second of predictions. Called only when the worker has slack ([`Pace::has_slack`]):
    /// a worker that is always late takes the nearest computed sample instead. Returns the
    /// passes spent.
    fn fill_holes(&mut self, offsets: &[usize], k: u64, frames: &[Frame]) -> crate::Result<usize> {
        let stride = self.pace.stride();
        let secs: Vec<f64> = frames.iter().map(|f| f.pts.as_secs_f64()).collect();
        let mut passes = 0;
        let mut filled = 0;
        for &o in offsets.iter().rev() {
            if filled == EXTRA_PASSES {
                break;
            }
            let Some(j) = k.checked_sub(o as u64) else {
                continue;
            };
            if j % stride != 0 || self.samples.iter().any(|s| s.k == j) {
                continue;
            }
            let Some(t) = self.clock.time(j) else {
                continue;
            };
            passes += self.compute_sample(j, frames, rate::nearest(&secs, t))?;
            filled += 1;
        }
        Ok(passes)
    }

    /// The computed sample nearest to grid index `k` (itself when the worker keeps up; a
    /// neighbour on the stride when it runs at one; the later one on a tie).
    fn nearest_sample(&self, k: u64) -> &Sample {
        let mut best = &self.samples[self.samples.len() - 1];
        for s in &self.samples {
            let (d, bd) = (s.k.abs_diff(k), best.k.abs_diff(k));
            if d < bd || (d == bd && s.k > best.k) {
                best = s;
            }
        }
        best
    }

    /// Crops and normalises one segment's frames (oldest first; one for RGB) into the
    /// backbone's input: `[1, c_in, S, S]` on the model's device.
    fn preprocess(&self, frames: &[&Frame]) -> crate::Result<Tensor> {
        let cfg = self.model.config();
        let s = cfg.input_size;
        let c_in = cfg.input_channels();
        let mut data = vec![0f32; c_in * s * s];
        // The capture thread already resized to `resize_size`, so a centre crop only crops.
        let crops: Vec<_> = frames
            .iter()
            .map(|f| frame_view(&f.image, cfg.framing, cfg.resize_size, s))
            .collect();
        let refs: Vec<_> = crops.iter().collect();
        segment_into(&refs, cfg.modality, &cfg.input, &mut data);
        Ok(Tensor::from_vec(
            data,
            (1, c_in, s, s),
            self.model.device(),
        )?)
    }

    fn send_prediction(&mut self, p: Prediction) {
        if self.options.batch {
            return self.send_reliably(WorkerMsg::Prediction(p));
        }
        match self.tx.try_send(WorkerMsg::Prediction(p)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.stats.messages_dropped += 1,
            Err(TrySendError::Disconnected(_)) => self.stop.store(true, Ordering::SeqCst),
        }
    }

    fn send_status(&mut self, s: String) {
        if self.tx.try_send(WorkerMsg::Status(s)).is_ok() {
            self.wake();
        }
    }

    fn send_stats(&mut self, interval: &mut Interval) {
        let secs = interval.started.elapsed().as_secs_f32().max(1e-3);
        let pushed = self.ring.pushed();
        self.stats.capture_fps = (pushed - interval.pushed) as f32 / secs;
        self.stats.predictions_per_s = interval.predictions as f32 / secs;
        self.stats.latency_ms = if interval.predictions > 0 {
            interval.latency_sum.as_secs_f32() * 1000.0 / interval.predictions as f32
        } else {
            0.0
        };
        self.stats.frames_overwritten = self.ring.overwritten();
        self.stats.frames_undecodable = self.ring.status().undecodable();
        self.stats.palm_detections = self
            .tracker
            .as_ref()
            .map_or(0, HandTracker::palm_detection_runs);
        let _ = self.tx.try_send(WorkerMsg::Stats(self.stats.clone()));
        *interval = Interval::new(pushed);
        self.wake();
    }

    /// Sends a message that must not be lost (events, the final `Quit`): waits for room, but
    /// gives up when the consumer is gone or a stop is requested while waiting.
    fn send_reliably(&mut self, mut msg: WorkerMsg) {
        loop {
            match self.tx.send_timeout(msg, SEND_RETRY) {
                Ok(()) => return,
                Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => return,
                Err(crossbeam_channel::SendTimeoutError::Timeout(m)) => {
                    if self.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    msg = m;
                }
            }
        }
    }

    fn wake(&self) {
        if let Some(w) = &self.waker {
            w();
        }
    }
}

/// Counters of the current statistics interval.
struct Interval {
    started: Instant,
    pushed: u64,
    predictions: u32,
    latency_sum: Duration,
}

impl Interval {
    fn new(pushed: u64) -> Self {
        Interval {
            started: Instant::now(),
            pushed,
            predictions: 0,
            latency_sum: Duration::ZERO,
        }
    }
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The `k` largest entries as (index, value), largest first.
pub fn top_k(probs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
    idx.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    idx.truncate(k);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Arch, Consensus};
    use crossbeam_channel::{bounded, unbounded};
    use image::RgbImage;
    use std::sync::atomic::AtomicUsize;

    /// A model that counts its backbone passes, takes `delay` per frame, and whose head always
    /// prefers class `class`.
    struct Counting {
        cfg: ModelConfig,
        device: Device,
        passes: AtomicUsize,
        delay: Duration,
        class: usize,
    }

    fn counting(classes: usize, class: usize, delay: Duration) -> Arc<Counting> {
        let labels = (0..classes).map(|i| format!("gesture {i}")).collect();
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::TrnMultiscale, 8, labels);
        cfg.input_size = 8;
        cfg.resize_size = 8;
        cfg.clip_fps = 12.0;
        Arc::new(Counting {
            cfg,
            device: Device::Cpu,
            passes: AtomicUsize::new(0),
            delay,
            class,
        })
    }

    impl FrameModel for Counting {
        fn config(&self) -> &ModelConfig {
            &self.cfg
        }
        fn device(&self) -> &Device {
            &self.device
        }
        fn frame_features(&self, frames: &Tensor) -> crate::Result<Tensor> {
            let k = frames.dim(0)?;
            assert_eq!(frames.dim(1)?, self.cfg.input_channels(), "input channels");
            self.passes.fetch_add(k, Ordering::SeqCst);
            std::thread::sleep(self.delay * k as u32);
            Ok(frames.flatten_from(1)?.mean_keepdim(1)?.repeat((1, 4))?) // [k, 4]
        }
        fn head(&self, features: &Tensor) -> crate::Result<Tensor> {
            let b = features.dim(0)?;
            let mut logits = vec![0f32; b * self.cfg.labels.len()];
            for row in logits.chunks_mut(self.cfg.labels.len()) {
                row[self.class] = 5.0;
            }
            Ok(Tensor::from_vec(
                logits,
                (b, self.cfg.labels.len()),
                &Device::Cpu,
            )?)
        }
    }

    fn frame(seq: u64, fps: f64) -> Frame {
        Frame {
            seq,
            pts: Duration::from_secs_f64(seq as f64 / fps),
            captured_at: Instant::now(),
            image: Arc::new(RgbImage::new(8, 8)),
        }
    }

    struct Harness {
        worker: Worker,
        rx: Receiver<WorkerMsg>,
        controls: Sender<Control>,
        interval: Interval,
        frames: Vec<Frame>,
    }

    impl Harness {
        fn new(model: Arc<dyn FrameModel>, options: WorkerOptions) -> Self {
            let (tx, rx) = bounded(4096);
            let (controls, controls_rx) = unbounded();
            let stop = Arc::new(AtomicBool::new(false));
            let ring = Arc::new(FrameRing::new(1));
            let worker = Worker::new(model, ring, tx, controls_rx, stop, None, options).unwrap();
            Harness {
                worker,
                rx,
                controls,
                interval: Interval::new(0),
                frames: Vec::new(),
            }
        }

        /// `count` more frames at `fps`, each handed to the worker as it arrives (the worker
        /// keeps up), the ring holding the newest 128.
        fn play(&mut self, count: usize, fps: f64) -> Vec<WorkerMsg> {
            for _ in 0..count {
                self.frames.push(frame(self.frames.len() as u64, fps));
                let ring = &self.frames[self.frames.len().saturating_sub(128)..];
                self.worker.apply_controls();
                self.worker.on_frames(ring, &mut self.interval).unwrap();
            }
            self.rx.try_iter().collect()
        }

        /// `count` more frames that arrive while the worker is busy (it sees them with the next
        /// frame [`Harness::play`] hands it).
        fn arrive_unseen(&mut self, count: usize, fps: f64) {
            for _ in 0..count {
                self.frames.push(frame(self.frames.len() as u64, fps));
            }
        }
    }

    fn predictions(msgs: &[WorkerMsg]) -> Vec<&Prediction> {
        msgs.iter()
            .filter_map(|m| match m {
                WorkerMsg::Prediction(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_pass_and_one_prediction_per_clip_rate_sample() {
        let model = counting(5, 0, Duration::ZERO);
        let mut h = Harness::new(model.clone(), WorkerOptions::default());
        // 3 s of a 30 fps camera: 37 samples at 12 fps, the first prediction at the 8th.
        let msgs = h.play(91, 30.0);
        let preds = predictions(&msgs);
        assert_eq!(
            model.passes.load(Ordering::SeqCst),
            37,
            "one pass per sample"
        );
        assert_eq!(preds.len(), 37 - 7, "one prediction per sample");
        assert!(preds.iter().all(|p| p.backbone_passes == 1));
        for (j, p) in preds.iter().enumerate() {
            // Prediction j is on sample j + 7, at its time to the nearest frame.
            let k = (j + 7) as f64;
            assert!((p.t.as_secs_f64() - k / 12.0).abs() <= 1.0 / 60.0 + 1e-9);
            assert_eq!(*p.frames.last().unwrap(), p.seq);
            assert!(p.cached_features <= 25, "{}", p.cached_features);
        }
        // A full window: 24 samples, segments 3 samples (6 or 9 frames at 30 fps) apart.
        let last = preds.last().unwrap();
        assert_eq!(last.frames.len(), 8);
        for w in last.frames.windows(2) {
            assert!((7..=8).contains(&(w[1] - w[0])), "{:?}", last.frames);
        }
        let s = &h.worker.stats;
        assert_eq!((s.samples_skipped, s.sample_stride), (0, 1));
    }

    #[test]
    fn a_frame_difference_model_reads_each_sample_with_the_samples_before_it() {
        let mut model = Arc::into_inner(counting(5, 0, Duration::ZERO)).unwrap();
        model.cfg.modality = crate::model::config::Modality::RgbDiff;
        model.cfg.new_length = 2;
        let model = Arc::new(model);
        let mut h = Harness::new(model.clone(), WorkerOptions::default());
        let msgs = h.play(91, 30.0);
        let preds = predictions(&msgs);
        // Still one pass per clip-rate sample and one prediction per sample.
        assert_eq!(model.passes.load(Ordering::SeqCst), 37);
        assert_eq!(preds.len(), 37 - 7);
        for s in &h.worker.samples {
            assert_eq!(s.stack.len(), 3, "sample {}", s.k);
            // Its own frame last: the frame of 30 fps nearest the sample's time.
            let own = s.k as f64 * 30.0 / 12.0;
            assert!((s.seq() as f64 - own).abs() <= 0.5, "{} {:?}", s.k, s.stack);
            // The samples before it on the 12 fps grid: 2 or 3 frames of 30 fps apart.
            for w in s.stack.windows(2) {
                assert!((2..=3).contains(&(w[1] - w[0])), "{:?}", s.stack);
            }
        }
        // The first samples repeat the first frame where the grid had not started.
        let mut h = Harness::new(model.clone(), WorkerOptions::default());
        h.play(1, 30.0);
        assert_eq!(h.worker.samples[0].stack, vec![0, 0, 0]);
    }

    #[test]
    fn a_sample_the_worker_was_late_for_is_computed_once_when_a_prediction_needs_it() {
        let model = counting(5, 0, Duration::ZERO);
        let mut h = Harness::new(model.clone(), WorkerOptions::default());
        h.play(60, 30.0);
        // A hiccup: 6 frames (2 to 3 samples) arrive while the worker is busy.
        h.arrive_unseen(6, 30.0);
        let msgs = h.play(60, 30.0);
        let preds = predictions(&msgs);
        let samples = h.worker.clock.samples() as usize;
        assert_eq!(
            model.passes.load(Ordering::SeqCst),
            samples,
            "each sample once"
        );
        assert!(h.worker.stats.samples_skipped >= 1);
        assert!(preds.iter().all(|p| p.backbone_passes <= 1 + EXTRA_PASSES));
        // The window is whole again: segments 3 samples apart, each on its nearest frame.
        let last = preds.last().unwrap();
        for w in last.frames.windows(2) {
            assert!((7..=8).contains(&(w[1] - w[0])), "{:?}", last.frames);
        }
    }

    #[test]
    fn the_clip_at_its_own_rate_is_seen_frame_by_frame() {
        let model = counting(5, 0, Duration::ZERO);
        let mut h = Harness::new(model.clone(), WorkerOptions::default());
        let msgs = h.play(8, 12.0);
        let preds = predictions(&msgs);
        assert_eq!(preds.len(), 1);
        assert_eq!(preds[0].frames, (0..8).collect::<Vec<u64>>());
        assert_eq!(model.passes.load(Ordering::SeqCst), 8);
    }

    #[test]
    fn a_slow_source_repeats_frames_without_computing_them_again() {
        let model = counting(5, 0, Duration::ZERO);
        let mut h = Harness::new(model.clone(), WorkerOptions::default());
        // 5 fps: about 2.4 samples per frame; the worker predicts the newest due sample.
        let msgs = h.play(20, 5.0);
        assert_eq!(model.passes.load(Ordering::SeqCst), 20, "each frame once");
        let preds = predictions(&msgs);
        assert!(!preds.is_empty());
        assert!(preds.iter().all(|p| p.backbone_passes <= 1));
    }

    #[test]
    fn a_slow_model_degrades_to_an_even_lower_rate_without_a_backlog() {
        // 30 fps in real time, 120 ms per pass against an 83 ms sample step: every second
        // sample (6 predictions/s), each on time, one pass each.
        let model = counting(5, 0, Duration::from_millis(120));
        let ring = Arc::new(FrameRing::new(128));
        let (tx, rx) = bounded(4096);
        let (_controls, controls_rx) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let options = WorkerOptions::default();
        let worker = Worker::new(
            model.clone(),
            ring.clone(),
            tx,
            controls_rx,
            stop.clone(),
            None,
            options,
        )
        .unwrap();
        let handle = std::thread::spawn(move || worker.run());
        let start = Instant::now();
        let image = Arc::new(RgbImage::new(8, 8));
        for i in 0..150u32 {
            let pts = Duration::from_secs_f64(i as f64 / 30.0);
            if let Some(wait) = pts.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            ring.push(image.clone(), pts, Instant::now());
        }
        stop.store(true, Ordering::SeqCst);
        handle.join().unwrap();
        let msgs: Vec<WorkerMsg> = rx.try_iter().collect();
        let preds = predictions(&msgs);
        // After two seconds the stride has settled.
        let late: Vec<&&Prediction> = preds.iter().filter(|p| p.t.as_secs_f64() > 2.0).collect();
        assert!(late.len() >= 10, "{} predictions after 2 s", late.len());
        // One pass per prediction, now and then two to fill a hole a late sample left.
        assert!(preds.iter().all(|p| p.backbone_passes <= 2));
        let passes: usize = late.iter().map(|p| p.backbone_passes).sum();
        assert!(passes as f64 <= 1.05 * late.len() as f64, "{passes} passes");
        let step = 1.0 / 12.0;
        let gaps: Vec<f64> = late
            .windows(2)
            .map(|w| w[1].t.as_secs_f64() - w[0].t.as_secs_f64())
            .collect();
        // Never two predictions for one sample step, and (a loaded machine may be late now
        // and then) nearly all exactly two steps apart.
        assert!(gaps.iter().all(|&g| g > step), "{gaps:?}");
        let even = gaps
            .iter()
            .filter(|&&g| (g - 2.0 * step).abs() <= 1.0 / 30.0)
            .count();
        assert!(even * 10 >= gaps.len() * 8, "{gaps:?}");
        // No backlog: the latency does not grow.
        assert!(
            late.iter().all(|p| p.latency < Duration::from_millis(600)),
            "{:?}",
            late.iter().map(|p| p.latency).collect::<Vec<_>>()
        );
        let stats = msgs
            .iter()
            .rev()
            .find_map(|m| match m {
                WorkerMsg::Stats(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(stats.sample_stride, 2);
        assert!(stats.backbone_passes <= stats.predictions + 8);
    }

    #[test]
    fn a_swapped_model_runs_from_the_next_prediction_and_can_be_swapped_back() {
        let a = counting(5, 0, Duration::ZERO);
        let b = counting(3, 2, Duration::ZERO);
        let mut h = Harness::new(a.clone(), WorkerOptions::default());
        let before = predictions(&h.play(40, 30.0)).len();
        assert!(before > 0);
        let a_passes = a.passes.load(Ordering::SeqCst);
        h.controls.send(Control::SwapModel(b.clone())).unwrap();
        let msgs = h.play(60, 30.0);
        let swapped = msgs
            .iter()
            .position(|m| matches!(m, WorkerMsg::ModelSwapped(_)));
        let Some(WorkerMsg::ModelSwapped(Ok(labels))) = swapped.map(|i| &msgs[i]) else {
            panic!("no swap answer: {msgs:?}");
        };
        assert_eq!(labels, &b.cfg.labels);
        // Nothing from the old model after the answer, and its features were not reused.
        assert_eq!(a.passes.load(Ordering::SeqCst), a_passes);
        let after = predictions(&msgs);
        assert!(!after.is_empty());
        for p in &after {
            assert_eq!(p.probs.len(), 3);
            assert_eq!(p.top[0].0, 2);
        }
        assert_eq!(
            b.passes.load(Ordering::SeqCst),
            24,
            "60 frames = 24 samples"
        );
        assert_eq!(
            h.worker
                .current_model()
                .lock()
                .unwrap()
                .config()
                .labels
                .len(),
            3
        );
        // And back.
        h.controls.send(Control::SwapModel(a.clone())).unwrap();
        let back = h.play(30, 30.0);
        assert!(matches!(back[0], WorkerMsg::ModelSwapped(Ok(ref l)) if l.len() == 5));
        assert!(predictions(&back).iter().all(|p| p.top[0].0 == 0));
    }

    #[test]
    fn a_model_that_does_not_fit_the_settings_is_refused_and_the_old_one_kept() {
        let a = counting(5, 0, Duration::ZERO);
        let b = counting(3, 2, Duration::ZERO);
        let mut options = WorkerOptions::default();
        options.events.class_thresholds = vec![("gesture 4".into(), 0.5)];
        let mut h = Harness::new(a.clone(), options);
        h.play(40, 30.0);
        h.controls.send(Control::SwapModel(b.clone())).unwrap();
        let msgs = h.play(10, 30.0);
        match &msgs[0] {
            WorkerMsg::ModelSwapped(Err(why)) => assert!(why.contains("gesture 4"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(b.passes.load(Ordering::SeqCst), 0);
        let preds = predictions(&msgs);
        assert_eq!(preds.len(), 4, "10 frames = 4 samples, the window kept");
        assert!(preds.iter().all(|p| p.probs.len() == 5));
    }

    #[test]
    fn softmax_and_top_k() {
        let p = softmax(&[1000.0, 1000.0, f32::NEG_INFINITY]);
        assert_eq!(p, vec![0.5, 0.5, 0.0]);
        assert_eq!(top_k(&[0.1, 0.6, 0.3], 2), vec![(1, 0.6), (2, 0.3)]);
        assert_eq!(top_k(&[0.1], 5).len(), 1);
    }
}
