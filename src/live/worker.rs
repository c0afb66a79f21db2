//! The inference worker: waits for a new frame, takes the newest window from the ring,
//! resamples it to the model's clip rate, picks N segments (TSN test rule), computes backbone
//! features only for frames it has not seen (a feature cache keyed by frame, never larger than
//! the ring), runs the consensus head and sends the prediction. It never queues work: frames
//! that arrive while it computes are simply not the newest any more.

use super::events::{EventDetector, EventSettings, GestureEvent, SettingsError};
use super::rate;
use crate::capture::{Frame, FrameRing, RingState, Waker};
use crate::model::config::ModelConfig;
use crate::preprocess::{normalize_into, resize_center_crop};
use crate::GestureModel;
use candle_core::{Device, Tensor};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the worker needs from a model: per-frame features (cacheable, each depends on one
/// frame) and the head over N of them. [`GestureModel`] is the real one.
pub trait FrameModel: Send + Sync {
    /// Labels, N, preprocessing, clip rate.
    fn config(&self) -> &ModelConfig;
    /// Where inputs must be placed.
    fn device(&self) -> &Device;
    /// `[n, 3, S, S]` → `[n, D]`.
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
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            window: Duration::from_millis(2000),
            clip_fps: None,
            events: EventSettings::default(),
            top_k: 5,
            stats_every: Duration::from_millis(500),
        }
    }
}

/// Live changes from the UI.
#[derive(Debug, Clone)]
pub enum Control {
    Events(EventSettings),
    Pause(bool),
}

/// One prediction.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Newest frame of the window (the frame whose arrival triggered this prediction).
    pub seq: u64,
    /// Its source time.
    pub t: Duration,
    /// From that frame's capture to this prediction being sent.
    pub latency: Duration,
    /// Smoothed probabilities, class order.
    pub probs: Vec<f32>,
    /// The `top_k` classes by smoothed probability: (class, probability).
    pub top: Vec<(usize, f32)>,
    /// Frames that went through the backbone for this prediction (cache misses).
    pub backbone_passes: usize,
    /// The frames the model saw (sequence numbers, oldest first).
    pub frames: Vec<u64>,
    /// Features held in the cache after this prediction.
    pub cached_features: usize,
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
    /// Frames that were never the newest frame of a prediction (dropped, not queued).
    pub frames_skipped: u64,
    /// Frames the ring overwrote.
    pub frames_overwritten: u64,
    /// Frames the source delivered that could not be decoded (dropped; the stream went on).
    pub frames_undecodable: u64,
    /// Predictions the consumer did not take in time (channel full).
    pub messages_dropped: u64,
}

/// Everything the worker tells its consumer. It always ends with `Quit`.
#[derive(Debug, Clone)]
pub enum WorkerMsg {
    Prediction(Prediction),
    Event(GestureEvent),
    Stats(Stats),
    /// Something to show while there is no prediction yet ("warming up: 3/8 frames").
    Status(String),
    /// The worker stopped: `None` at the end of a finite source or on request, else why.
    Quit(Option<String>),
}

/// The worker's state; [`Worker::run`] is the thread body.
pub struct Worker {
    model: Arc<dyn FrameModel>,
    ring: Arc<FrameRing>,
    tx: Sender<WorkerMsg>,
    controls: Receiver<Control>,
    stop: Arc<AtomicBool>,
    waker: Option<Waker>,
    options: WorkerOptions,
    detector: EventDetector,
    cache: BTreeMap<u64, Tensor>,
    paused: bool,
    stats: Stats,
}

/// Backbone passes a prediction may spend, beyond the newest frame's, on segments whose
/// frames are far from any cached one (see `Worker::pick_frames`).
pub const EXTRA_PASSES: usize = 1;

/// How long a blocking send of an event waits for room before checking the stop flag again.
const SEND_RETRY: Duration = Duration::from_millis(100);

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
        let detector = EventDetector::new(&options.events, &model.config().labels)?;
        if let Some(fps) = options.clip_fps {
            if !(fps.is_finite() && fps > 0.0) {
                return Err(SettingsError::ClipRate(fps));
            }
        }
        Ok(Worker {
            model,
            ring,
            tx,
            controls,
            stop,
            waker,
            options,
            detector,
            cache: BTreeMap::new(),
            paused: false,
            stats: Stats::default(),
        })
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
            if self.paused {
                continue;
            }
            // The cache never outlives the ring: features of overwritten frames go.
            let oldest = frames[0].seq;
            self.cache = self.cache.split_off(&oldest);
            match self.predict(&frames) {
                Ok(Some((mut p, event))) => {
                    // Measured as late as possible: the latency covers everything up to the send.
                    p.latency = frames[frames.len() - 1].captured_at.elapsed();
                    interval.latency_sum += p.latency;
                    interval.predictions += 1;
                    self.send_prediction(p);
                    if let Some(e) = event {
                        self.send_reliably(WorkerMsg::Event(e));
                    }
                    self.wake();
                }
                Ok(None) => {}
                Err(e) => return Some(format!("inference failed: {}", crate::error::report(&e))),
            }
        }
    }

    fn apply_controls(&mut self) {
        while let Ok(c) = self.controls.try_recv() {
            match c {
                Control::Pause(p) => {
                    self.paused = p;
                    if p {
                        self.detector.reset();
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
            }
        }
    }

    /// One prediction (and the event it fires) from the frames in the ring, or `None` while the
    /// window is too short.
    fn predict(
        &mut self,
        frames: &[Frame],
    ) -> crate::Result<Option<(Prediction, Option<GestureEvent>)>> {
        let cfg = self.model.config();
        let n = cfg.num_segments;
        let fps = self.options.clip_fps.unwrap_or(cfg.clip_fps);
        let steps = rate::window_steps(self.options.window, fps, n);
        let pts: Vec<Duration> = frames.iter().map(|f| f.pts).collect();
        // Resampling steps the ring covers: fewer than N, no prediction; fewer than the whole
        // window, a prediction that may not start an event (below).
        let have = rate::resample(&pts, fps, steps).len();
        let Some(times) = rate::segment_times(&pts, fps, steps, n) else {
            self.send_status(format!("warming up: {have}/{n} frames at {fps} fps"));
            return Ok(None);
        };
        let picked = self.pick_frames(frames, &times, fps);
        let mut missing: Vec<&Frame> = Vec::new();
        for &i in &picked {
            let f = &frames[i];
            if !self.cache.contains_key(&f.seq) && !missing.iter().any(|m| m.seq == f.seq) {
                missing.push(f);
            }
        }
        if !missing.is_empty() {
            let batch = self.preprocess(&missing)?; // [k, 3, S, S]
            let feats = self.model.frame_features(&batch)?; // [k, D]
            for (j, f) in missing.iter().enumerate() {
                self.cache.insert(f.seq, feats.get(j)?); // [D]
            }
        }
        let rows: Vec<Tensor> = picked
            .iter()
            .map(|&i| self.cache[&frames[i].seq].clone())
            .collect();
        let feats = Tensor::stack(&rows, 0)?.unsqueeze(0)?; // [1, N, D]
        let logits = self.model.head(&feats)?; // [1, C]
        let logits: Vec<f32> = logits
            .squeeze(0)?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1()?;
        let newest = &frames[frames.len() - 1];
        let raw = softmax(&logits);
        self.stats.predictions += 1;
        self.stats.backbone_passes += missing.len() as u64;
        // Smoothing runs here (not in the consumer) so headless and window agree.
        // A window shorter than its full length (just after the start, a switch of source or a
        // pause) is stretched over the N segments: the model sees a gesture's first moments as
        // a whole gesture. Its predictions are shown, but only a full window starts an event.
        let event = self.detector.update_with(&raw, newest.pts, have >= steps);
        let probs = self.detector.smoothed().to_vec();
        let prediction = Prediction {
            seq: newest.seq,
            t: newest.pts,
            latency: newest.captured_at.elapsed(),
            top: top_k(&probs, self.options.top_k),
            probs,
            backbone_passes: missing.len(),
            frames: picked.iter().map(|&i| frames[i].seq).collect(),
            cached_features: self.cache.len(),
        };
        Ok(Some((prediction, event)))
    }

    /// The frame (index into `frames`) for each segment time.
    ///
    /// The newest segment always takes the frame nearest to its time. Any other segment takes
    /// its nearest frame if that frame's feature is cached, else the nearest cached frame if
    /// one lies within half a resampling step (as close as nearest-frame resampling itself
    /// gets). While the worker keeps up with the source that is always the case and one
    /// backbone pass per prediction suffices. When it falls behind, the window shifts by
    /// several frames between predictions; rather than pay up to N passes (and fall further
    /// behind), at most [`EXTRA_PASSES`] segments — those farthest from a cached frame — get
    /// their nearest frame computed, and the rest use the nearest cached frame.
    fn pick_frames(&self, frames: &[Frame], times: &[f64], fps: f32) -> Vec<usize> {
        let secs: Vec<f64> = frames.iter().map(|f| f.pts.as_secs_f64()).collect();
        let cached: Vec<usize> = (0..frames.len())
            .filter(|&i| self.cache.contains_key(&frames[i].seq))
            .collect();
        let exact: Vec<usize> = times.iter().map(|&t| rate::nearest(&secs, t)).collect();
        if cached.is_empty() {
            return exact;
        }
        let cached_secs: Vec<f64> = cached.iter().map(|&i| secs[i]).collect();
        let half_step = 0.5 / fps as f64;
        let mut picked = exact.clone();
        // (distance to the nearest cached frame, segment) for segments with no good cached frame.
        let mut far: Vec<(f64, usize)> = Vec::new();
        for (k, &t) in times.iter().enumerate().take(times.len() - 1) {
            if self.cache.contains_key(&frames[exact[k]].seq) {
                continue;
            }
            let c = cached[rate::nearest(&cached_secs, t)];
            let distance = (secs[c] - t).abs();
            picked[k] = c;
            if distance >= half_step {
                far.push((distance, k));
            }
        }
        far.sort_by(|a, b| b.0.total_cmp(&a.0));
        for &(_, k) in far.iter().take(EXTRA_PASSES) {
            picked[k] = exact[k];
        }
        picked
    }

    /// Crops and normalises frames for the backbone: `[k, 3, S, S]` on the model's device.
    fn preprocess(&self, frames: &[&Frame]) -> crate::Result<Tensor> {
        let cfg = self.model.config();
        let s = cfg.input_size;
        let mut data = vec![0f32; frames.len() * 3 * s * s];
        for (f, out) in frames.iter().zip(data.chunks_mut(3 * s * s)) {
            // The capture thread already resized to `resize_size`, so this only crops.
            let crop = resize_center_crop(&f.image, cfg.resize_size, s);
            normalize_into(&crop, &cfg.input, out);
        }
        Ok(Tensor::from_vec(
            data,
            (frames.len(), 3, s, s),
            self.model.device(),
        )?)
    }

    fn send_prediction(&mut self, p: Prediction) {
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

    #[test]
    fn softmax_and_top_k() {
        let p = softmax(&[1000.0, 1000.0, f32::NEG_INFINITY]);
        assert_eq!(p, vec![0.5, 0.5, 0.0]);
        assert_eq!(top_k(&[0.1, 0.6, 0.3], 2), vec![(1, 0.6), (2, 0.3)]);
        assert_eq!(top_k(&[0.1], 5).len(), 1);
    }
}
