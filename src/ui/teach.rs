//! The Teach panel's state: recording clips of a label from the running source (frames are
//! taken from the pipeline's ring as they arrive, the capture never restarts), the data set's
//! clips with thumbnails and playback, and fine-tuning on a background thread whose model is
//! then swapped into the running worker. File work runs on [`super::teach_io`]'s thread and
//! training on its own, so the window keeps drawing the preview throughout.

use super::teach_io::{IoCmd, IoReply, IoThread, Listing};
use crate::capture::{FrameRing, RingState, Waker};
use crate::live::FrameModel;
use crate::train::finetune::{self, FinetuneData, FinetuneOptions, FinetuneProgress};
use crossbeam_channel::Receiver;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The data set's folder inside the Teach folder.
pub const CLIPS_DIR: &str = "clips";
/// The fine-tuning runs' folder inside the Teach folder.
pub const RUNS_DIR: &str = "runs";

/// The Teach folder when none is given: `teach/` in the app's data folder
/// (`~/.local/share/gesture-app/teach` on Linux).
pub fn default_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "gesture-app")
        .map(|d| d.data_dir().join("teach"))
        .unwrap_or_else(|| PathBuf::from("gesture-app-teach"))
}

/// A model with what the window shows of it, to swap in or back.
#[derive(Clone)]
pub struct ModelSlot {
    pub model: Arc<dyn FrameModel>,
    pub facts: Vec<(String, String)>,
    /// The weights file it came from, if known (fine-tuning starts from it).
    pub file: Option<PathBuf>,
}

/// Where a recording is.
pub enum Rec {
    Idle,
    /// Waiting before clip `clip` (0-based) starts.
    Countdown {
        clip: usize,
        until: Instant,
    },
    /// Taking frames for clip `clip`: those after `last_seq`, until they span the clip length.
    Recording {
        clip: usize,
        last_seq: Option<u64>,
        first_pts: Option<Duration>,
        last_pts: Duration,
        frames: usize,
    },
}

/// A recording of K clips of one label.
pub struct Recording {
    pub label: String,
    pub clips: usize,
    pub seconds: f32,
    pub countdown: f32,
    pub state: Rec,
    /// Clips saved so far.
    pub saved: usize,
    /// The ring the frames come from: a restarted source ends the recording.
    ring: Arc<FrameRing>,
}

/// A fine-tuning on its thread.
pub struct Training {
    pub cancel: Arc<AtomicBool>,
    rx: Receiver<TrainMsg>,
    /// What it does now ("computing features", "epoch 3 of 20").
    pub phase: String,
    /// 0 to 1.
    pub fraction: f32,
    /// Validation top-1 (percent) of the last epoch and the best so far.
    pub val_top1: Option<f64>,
    pub best_val_top1: Option<f64>,
    pub started: Instant,
}

enum TrainMsg {
    Progress(FinetuneProgress),
    Done(Result<(ModelSlot, finetune::FinetuneSummary), String>),
}

/// A clip being played back.
pub struct Playback {
    pub id: String,
    pub frames: Vec<egui::TextureHandle>,
    pub fps: f32,
    pub started: Instant,
}

/// Everything the Teach panel shows and does.
pub struct Teach {
    /// Whether the panel is shown.
    pub open: bool,
    /// The Teach folder: the data set in `clips/`, fine-tuning runs in `runs/`.
    pub dir: PathBuf,
    /// The label field.
    pub label: String,
    /// Clips per recording (K), seconds per clip (S), countdown before each clip.
    pub clips: usize,
    pub seconds: f32,
    pub countdown: f32,
    /// Training epochs.
    pub epochs: usize,
    pub recording: Option<Recording>,
    pub listing: Listing,
    pub thumbs: HashMap<String, egui::TextureHandle>,
    /// Thumbnails asked for and not yet received.
    pub thumbs_asked: std::collections::HashSet<String>,
    pub playback: Option<Playback>,
    pub training: Option<Training>,
    /// The last line of the training (how it ended, or its latest note).
    pub train_note: Option<String>,
    /// A problem to show in the panel.
    pub error: Option<String>,
    /// The model before the last swap (the "Restore" button swaps it back).
    pub previous: Option<ModelSlot>,
    /// The model a swap replaced, until the worker answers (put back if it refuses).
    pub swapping_out: Option<ModelSlot>,
    io: Option<IoThread>,
    waker: Waker,
}

/// What the window must do after [`Teach::update`]: a trained model to swap in.
pub struct Trained(pub ModelSlot);

impl Teach {
    /// The panel's state for the Teach folder `dir` (nothing is read or created before the
    /// panel opens).
    pub fn new(dir: PathBuf, waker: Waker) -> Self {
        Teach {
            open: false,
            dir,
            label: String::new(),
            clips: 5,
            seconds: 2.5,
            countdown: 3.0,
            epochs: 30,
            recording: None,
            listing: Listing::default(),
            thumbs: HashMap::new(),
            thumbs_asked: Default::default(),
            playback: None,
            training: None,
            train_note: None,
            error: None,
            previous: None,
            swapping_out: None,
            io: None,
            waker,
        }
    }

    /// The data set's folder.
    pub fn clips_dir(&self) -> PathBuf {
        self.dir.join(CLIPS_DIR)
    }

    /// Sends a command to the file thread, starting it (and listing the data set) first.
    pub fn io(&mut self, cmd: IoCmd) {
        if self.io.is_none() {
            match IoThread::spawn(self.clips_dir(), self.waker.clone()) {
                Ok(t) => {
                    let _ = t.tx.send(IoCmd::Open { create: false });
                    self.io = Some(t);
                }
                Err(e) => {
                    self.error = Some(format!("cannot start the Teach file thread: {e}"));
                    return;
                }
            }
        }
        if let Some(t) = &self.io {
            let _ = t.tx.send(cmd);
        }
    }

    /// Opens or closes the panel (opening lists the data set).
    pub fn set_open(&mut self, open: bool) {
        self.open = open;
        if open {
            self.io(IoCmd::Open { create: false });
        }
    }

    /// Whether a recording or a training is under way.
    pub fn busy(&self) -> bool {
        self.recording.is_some() || self.training.is_some()
    }

    /// Starts recording `self.clips` clips of the label field from `ring`.
    pub fn start_recording(&mut self, ring: Option<&Arc<FrameRing>>) {
        let label = self.label.trim().to_string();
        if let Err(e) = crate::train::data::writer::check_label(&label) {
            self.error = Some(format!("label: {e}"));
            return;
        }
        let Some(ring) = ring else {
            self.error = Some("no source is running: open one first".into());
            return;
        };
        self.error = None;
        self.io(IoCmd::Open { create: true });
        self.recording = Some(Recording {
            label,
            clips: self.clips.max(1),
            seconds: self.seconds,
            countdown: self.countdown,
            state: Rec::Countdown {
                clip: 0,
                until: Instant::now() + Duration::from_secs_f32(self.countdown.max(0.0)),
            },
            saved: 0,
            ring: ring.clone(),
        });
    }

    /// Stops the recording; the clip under way is discarded, the finished ones stay.
    pub fn stop_recording(&mut self, why: Option<String>) {
        if let Some(r) = self.recording.take() {
            if matches!(r.state, Rec::Recording { .. }) {
                self.io(IoCmd::Discard);
            }
        }
        if why.is_some() {
            self.error = why;
        }
    }

    /// Deletes a clip (its thumbnail and playback go with it).
    pub fn delete_clip(&mut self, id: &str) {
        self.thumbs.remove(id);
        self.thumbs_asked.remove(id);
        if self.playback.as_ref().is_some_and(|p| p.id == id) {
            self.playback = None;
        }
        self.io(IoCmd::Delete(id.to_string()));
    }

    /// Asks for a clip's thumbnail once.
    pub fn want_thumb(&mut self, id: &str, frames: usize) {
        if !self.thumbs.contains_key(id) && self.thumbs_asked.insert(id.to_string()) {
            self.io(IoCmd::Thumb {
                id: id.to_string(),
                frames,
            });
        }
    }

    /// Starts playing a clip back (its frames are decoded on the file thread).
    pub fn play(&mut self, id: &str, frames: usize) {
        self.playback = None;
        self.io(IoCmd::Play {
            id: id.to_string(),
            frames,
        });
    }

    /// Starts fine-tuning from `base` (a weights file) on the data set, on a thread of its
    /// own; the result is loaded on `device` there as well.
    pub fn start_training(&mut self, base: Option<PathBuf>, device: candle_core::Device) {
        if self.training.is_some() {
            return;
        }
        let Some(base) = base else {
            self.error = Some(
                "the model running was not loaded from a weights file: load one to train from"
                    .into(),
            );
            return;
        };
        let Some(run_dir) = next_run_dir(&self.dir.join(RUNS_DIR)) else {
            self.error = Some(format!(
                "no free run folder in {}",
                self.dir.join(RUNS_DIR).display()
            ));
            return;
        };
        let data = FinetuneData::new(self.clips_dir());
        let opts = FinetuneOptions {
            epochs: self.epochs.max(1),
            command: "gesture-app window: Teach".into(),
            ..FinetuneOptions::default()
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = crossbeam_channel::unbounded();
        let waker = self.waker.clone();
        let stop = cancel.clone();
        let spawned = std::thread::Builder::new()
            .name("teach-train".into())
            .spawn(move || {
                let progress_tx = tx.clone();
                let progress_waker = waker.clone();
                let mut progress = move |p: FinetuneProgress| {
                    let _ = progress_tx.send(TrainMsg::Progress(p));
                    progress_waker();
                };
                let result =
                    finetune::run(&base, &data, &run_dir, &opts, &device, &mut progress, &stop)
                        .and_then(|summary| {
                            let model = crate::weights::load_model(&summary.best_weights, &device)?;
                            Ok((model, summary))
                        })
                        .map(|(model, summary)| {
                            let model: Arc<dyn FrameModel> = Arc::new(model);
                            let slot = ModelSlot {
                                model,
                                facts: Vec::new(),
                                file: Some(summary.best_weights.clone()),
                            };
                            (slot, summary)
                        })
                        .map_err(|e| crate::error::report(&e));
                let _ = tx.send(TrainMsg::Done(result));
                waker();
            });
        match spawned {
            Ok(_) => {
                self.error = None;
                self.train_note = None;
                self.training = Some(Training {
                    cancel,
                    rx,
                    phase: "loading the base model".into(),
                    fraction: 0.0,
                    val_top1: None,
                    best_val_top1: None,
                    started: Instant::now(),
                });
            }
            Err(e) => self.error = Some(format!("cannot start training: {e}")),
        }
    }

    /// Takes frames for the recording, the file thread's answers and the training's progress.
    /// `ctx` uploads thumbnails and playback frames. Returns a trained model to swap in.
    pub fn update(
        &mut self,
        ring: Option<&Arc<FrameRing>>,
        ctx: &egui::Context,
    ) -> Option<Trained> {
        self.record_step(ring);
        if self.recording.is_some() {
            // The countdown and the clip's progress are drawn from the clock.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        self.take_io(ctx);
        self.take_training()
    }

    fn record_step(&mut self, ring: Option<&Arc<FrameRing>>) {
        let Some(rec) = &mut self.recording else {
            return;
        };
        let Some(ring) = ring.filter(|r| Arc::ptr_eq(r, &rec.ring)) else {
            self.stop_recording(Some(
                "the source changed during the recording: the clip under way was discarded".into(),
            ));
            return;
        };
        let mut cmds = Vec::new();
        let mut stop = None;
        match &mut rec.state {
            Rec::Idle => {}
            Rec::Countdown { clip, until } => {
                if Instant::now() >= *until {
                    cmds.push(IoCmd::Begin);
                    rec.state = Rec::Recording {
                        clip: *clip,
                        // Only frames captured after the countdown.
                        last_seq: ring.latest().map(|f| f.seq),
                        first_pts: None,
                        last_pts: Duration::ZERO,
                        frames: 0,
                    };
                }
            }
            Rec::Recording {
                clip,
                last_seq,
                first_pts,
                last_pts,
                frames,
            } => {
                let length = Duration::from_secs_f32(rec.seconds);
                let mut done = false;
                for f in ring.snapshot() {
                    if last_seq.is_some_and(|s| f.seq <= s) {
                        continue;
                    }
                    *last_seq = Some(f.seq);
                    let first = *first_pts.get_or_insert(f.pts);
                    if f.pts < *last_pts {
                        continue;
                    }
                    *last_pts = f.pts;
                    cmds.push(IoCmd::Frame(f.image.clone(), f.pts));
                    *frames += 1;
                    if f.pts.saturating_sub(first) >= length {
                        done = true;
                        break;
                    }
                }
                if done {
                    cmds.push(IoCmd::Finish(rec.label.clone()));
                    let next = *clip + 1;
                    rec.state = if next < rec.clips {
                        Rec::Countdown {
                            clip: next,
                            until: Instant::now() + Duration::from_secs_f32(rec.countdown.max(0.0)),
                        }
                    } else {
                        Rec::Idle
                    };
                } else if !matches!(ring.state(), RingState::Open) {
                    stop = Some(format!(
                        "the source ended during clip {} of {}: that clip was discarded",
                        *clip + 1,
                        rec.clips
                    ));
                }
            }
        }
        for c in cmds {
            self.io(c);
        }
        if stop.is_some() {
            self.stop_recording(stop);
        }
    }

    fn take_io(&mut self, ctx: &egui::Context) {
        let Some(t) = &self.io else {
            return;
        };
        let replies: Vec<IoReply> = t.rx.try_iter().collect();
        for r in replies {
            match r {
                IoReply::Listing(l) => self.set_listing(l),
                IoReply::Saved(l, _clip) => {
                    self.set_listing(l);
                    if let Some(rec) = &mut self.recording {
                        rec.saved += 1;
                        if rec.saved >= rec.clips {
                            self.recording = None;
                        }
                    }
                }
                IoReply::Thumb(id, img) => {
                    self.thumbs_asked.remove(&id);
                    let tex =
                        ctx.load_texture(format!("thumb-{id}"), img, egui::TextureOptions::LINEAR);
                    self.thumbs.insert(id, tex);
                }
                IoReply::Frames(id, imgs, fps) => {
                    let frames = imgs
                        .into_iter()
                        .enumerate()
                        .map(|(i, img)| {
                            ctx.load_texture(
                                format!("play-{id}-{i}"),
                                img,
                                egui::TextureOptions::LINEAR,
                            )
                        })
                        .collect::<Vec<_>>();
                    if !frames.is_empty() {
                        self.playback = Some(Playback {
                            id,
                            frames,
                            fps: fps.filter(|f| *f > 0.0).unwrap_or(12.0),
                            started: Instant::now(),
                        });
                    }
                }
                IoReply::Failed { what, why } => {
                    self.error = Some(format!("{what}: {why}"));
                    if self.recording.is_some() {
                        self.stop_recording(None);
                    }
                }
            }
        }
    }

    fn set_listing(&mut self, l: Listing) {
        // Thumbnails of clips no longer there are dropped.
        self.thumbs
            .retain(|id, _| l.clips.iter().any(|c| &c.id == id));
        self.listing = l;
    }

    fn take_training(&mut self) -> Option<Trained> {
        let t = self.training.as_mut()?;
        let mut done = None;
        for msg in t.rx.try_iter() {
            match msg {
                TrainMsg::Progress(FinetuneProgress::Note(line)) => self.train_note = Some(line),
                TrainMsg::Progress(FinetuneProgress::Features { done, total }) => {
                    t.phase = format!("backbone features: {done} of {total} frames");
                    // Features are the first part of the work; epochs the rest.
                    t.fraction = 0.5 * done as f32 / total.max(1) as f32;
                }
                TrainMsg::Progress(FinetuneProgress::Epoch {
                    record,
                    epochs,
                    best,
                }) => {
                    let n = record.epoch + 1;
                    t.phase = format!("epoch {n} of {epochs}");
                    t.fraction = 0.5 + 0.5 * n as f32 / epochs.max(1) as f32;
                    t.val_top1 = record.val_top1;
                    if best {
                        t.best_val_top1 = record.val_top1;
                    }
                }
                TrainMsg::Done(r) => done = Some(r),
            }
        }
        let r = done?;
        let t = self.training.take()?;
        match r {
            Ok((slot, summary)) => {
                self.train_note = Some(format!(
                    "trained in {:.1} s: {} epochs, best validation top-1 {}; now running {}",
                    t.started.elapsed().as_secs_f64(),
                    summary.epochs_done,
                    summary
                        .best_val_top1
                        .map_or("n/a (no validation clips)".into(), |v| format!("{v:.0}%")),
                    summary.best_weights.display()
                ));
                Some(Trained(slot))
            }
            Err(e) => {
                if t.cancel.load(Ordering::SeqCst) {
                    self.train_note = Some("training cancelled; the model is unchanged".into());
                } else {
                    self.error = Some(format!("training failed: {e}"));
                }
                None
            }
        }
    }

    /// The line shown over the preview while recording: the countdown or the clip's progress.
    pub fn banner(&self) -> Option<(String, f32)> {
        let rec = self.recording.as_ref()?;
        match &rec.state {
            Rec::Countdown { clip, until } => {
                let left = until
                    .saturating_duration_since(Instant::now())
                    .as_secs_f32();
                Some((
                    format!(
                        "'{}': clip {} of {} in {}…",
                        rec.label,
                        clip + 1,
                        rec.clips,
                        left.ceil() as u32
                    ),
                    0.0,
                ))
            }
            Rec::Recording {
                clip,
                first_pts,
                last_pts,
                ..
            } => {
                let done = first_pts.map_or(0.0, |f| last_pts.saturating_sub(f).as_secs_f32());
                Some((
                    format!(
                        "recording '{}': clip {} of {}",
                        rec.label,
                        clip + 1,
                        rec.clips
                    ),
                    (done / rec.seconds.max(0.01)).clamp(0.0, 1.0),
                ))
            }
            Rec::Idle => Some((format!("saving the clips of '{}'…", rec.label), 1.0)),
        }
    }
}

/// `runs/run-001`, `run-002`, ...: the first that does not exist.
fn next_run_dir(runs: &Path) -> Option<PathBuf> {
    (1..100_000)
        .map(|i| runs.join(format!("run-{i:03}")))
        .find(|p| !p.exists())
}

impl Drop for Teach {
    fn drop(&mut self) {
        if let Some(t) = &self.training {
            t.cancel.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folders_are_numbered_from_one_and_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = next_run_dir(dir.path()).unwrap();
        assert_eq!(first, dir.path().join("run-001"));
        std::fs::create_dir_all(&first).unwrap();
        assert_eq!(
            next_run_dir(dir.path()).unwrap(),
            dir.path().join("run-002")
        );
    }
}
