//! The window's state: the running pipeline, what it last said, and the user's settings (which
//! it remembers between runs: [`super::settings`]). Messages are drained in `logic` (also while
//! the window is hidden) under a small time budget; the capture and inference threads wake the
//! UI with `request_repaint`.

use super::panels;
use super::settings::{absolute, Given, Recall, Remembered};
use super::teach::{ModelSlot, Teach, Trained};
use crate::actions::{ActionMap, Dispatcher};
use crate::capture::Opener;
use crate::capture::{SourceSpec, Waker};
use crate::live::{
    Control, FrameModel, GestureEvent, LiveError, Pipeline, PipelineOptions, Prediction, Stats,
    WorkerMsg,
};
use crate::model::config::ModelConfig;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A model ready for the window and the facts it lists ([`model_facts`]).
pub type LoadedModel = (Arc<dyn FrameModel>, Vec<(String, String)>);

/// Why a weights file picked in the window cannot be used: whatever the loader's error is (the
/// binary adds context to the library's), shown with its causes.
pub type LoadError = Box<dyn std::error::Error + Send + Sync>;

/// Loads a weights file for the window, or says why not.
pub type ModelLoader = Box<dyn Fn(&Path) -> Result<LoadedModel, LoadError>>;

/// What the window starts with.
pub struct AppInit {
    /// `None` when the weights given were refused: the window shows why and offers to load
    /// another file (with `loader`).
    pub model: Option<Arc<dyn FrameModel>>,
    /// Loads weights picked in the window; `None` hides the weights field.
    pub loader: Option<ModelLoader>,
    /// The weights file field's initial text: the file `model` came from.
    pub weights_text: String,
    /// (name, value) lines shown under "Model" ([`model_facts`]).
    pub model_facts: Vec<(String, String)>,
    /// The source to open at start; `None` starts without one (the user picks).
    pub source: Option<SourceSpec>,
    pub options: PipelineOptions,
    /// A line shown at the top about the starting model, e.g. that the demo model runs on
    /// bundled clips; dropped when remembered weights replace that model.
    pub notice: Option<String>,
    /// A problem found before the window opened (shown in it).
    pub startup_error: Option<String>,
    /// What gestures do (already checked against the model's labels), if anything.
    pub actions: Option<ActionMap>,
    /// Whether the actions start armed.
    pub armed: bool,
    /// The settings the command line gave explicitly: they win over remembered ones, the
    /// others start from what the window remembered ([`Remembered`]).
    pub given: Given,
    /// The Teach panel's folder (its data set and fine-tuning runs); `None`: the app's data
    /// folder ([`super::teach::default_dir`]).
    pub teach_dir: Option<PathBuf>,
    /// Whether the Teach panel starts open.
    pub teach_open: bool,
}

/// The model facts the window lists.
pub fn model_facts(
    cfg: &ModelConfig,
    device: &str,
    weights: Option<&Path>,
) -> Vec<(String, String)> {
    let mut facts = vec![
        ("backbone".to_string(), cfg.arch.to_string()),
        ("head".to_string(), cfg.consensus.to_string()),
        ("segments (N)".to_string(), cfg.num_segments.to_string()),
        ("classes".to_string(), cfg.num_classes.to_string()),
        (
            "input".to_string(),
            format!("{0}×{0} crop of {1}", cfg.input_size, cfg.resize_size),
        ),
        ("clip rate".to_string(), format!("{} fps", cfg.clip_fps)),
        ("device".to_string(), device.to_string()),
    ];
    if let Some(w) = weights {
        let name = w
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| w.display().to_string());
        let built_in = crate::builtin::file_at(w).is_some();
        facts.push((
            "weights".to_string(),
            if built_in {
                format!("{name} (built-in)")
            } else {
                name
            },
        ));
    }
    for (k, v) in &cfg.provenance {
        facts.push((k.clone(), v.clone()));
    }
    facts
}

/// One point of the confidence plot.
#[derive(Debug, Clone, Copy)]
pub(super) struct PlotPoint {
    /// Source seconds.
    pub t: f64,
    pub class: usize,
    pub prob: f32,
}

/// Seconds of history the plot shows.
pub(super) const PLOT_SECONDS: f64 = 10.0;
const MAX_EVENTS: usize = 200;
/// Lines the action log keeps.
const MAX_ACTION_LOG: usize = 200;
/// Time the UI spends draining messages per frame before painting.
const DRAIN_BUDGET: Duration = Duration::from_millis(10);

/// The live window.
pub struct LiveApp {
    pub(super) model: Option<Arc<dyn FrameModel>>,
    pub(super) loader: Option<ModelLoader>,
    /// The weights file field.
    pub(super) weights_text: String,
    pub(super) facts: Vec<(String, String)>,
    pub(super) labels: Vec<String>,
    pub(super) options: PipelineOptions,
    pub(super) notice: Option<String>,
    pub(super) pipeline: Option<Pipeline>,
    pub(super) source_label: String,
    /// The source text field.
    pub(super) source_text: String,
    /// Cameras found by the last "refresh" (index, name).
    pub(super) cameras: Option<Result<Vec<(String, String)>, String>>,
    pub(super) texture: Option<egui::TextureHandle>,
    last_frame_seq: Option<u64>,
    pub(super) current: Option<Prediction>,
    pub(super) history: VecDeque<PlotPoint>,
    pub(super) events: VecDeque<GestureEvent>,
    pub(super) stats: Stats,
    pub(super) status: Option<String>,
    /// What the capture thread says is wrong ("opening camera…", "camera stalled…").
    pub(super) source_health: Option<String>,
    /// Why the camera runs in another mode than the one asked for.
    pub(super) source_note: Option<String>,
    pub(super) error: Option<String>,
    pub(super) paused: bool,
    /// Whether the preview draws the tracked hand's skeleton (a landmark model's hands).
    pub(super) show_hand: bool,
    pub(super) ended: bool,
    /// Runs the action map on the events.
    pub(super) actions: Option<Dispatcher>,
    /// What each event's action did, newest first.
    pub(super) action_log: VecDeque<String>,
    /// The source to remember: the last one that opened and that the user chose (by flag, in
    /// the window, or remembered), not a default.
    chosen_source: Option<String>,
    /// The weights file to remember, on the same terms.
    chosen_weights: Option<PathBuf>,
    /// The weights file the running model came from, if known (Teach fine-tunes from it).
    pub(super) model_file: Option<PathBuf>,
    /// The Teach panel.
    pub(super) teach: Teach,
    waker: Waker,
}

impl LiveApp {
    /// Builds the app with what `storage` remembers from the last run (where `init.given`
    /// leaves room) and opens the source; a failure to open is shown in the window.
    pub fn new(
        mut init: AppInit,
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
    ) -> Self {
        let ctx = ctx.clone();
        let waker: Waker = Arc::new(move || ctx.request_repaint());
        let labels = init
            .model
            .as_ref()
            .map(|m| m.config().labels.clone())
            .unwrap_or_default();
        let remembered = Remembered::load(storage);
        let mut options = init.options;
        let mut notes = remembered.apply_events(init.given, &mut options.worker.events);
        let chosen_weights = (init.given.weights && init.model.is_some())
            .then(|| absolute(Path::new(init.weights_text.trim())));
        let model_file = (init.model.is_some() && !init.weights_text.trim().is_empty())
            .then(|| absolute(Path::new(init.weights_text.trim())))
            .filter(|p| p.is_file() || crate::builtin::file_at(p).is_some());
        let teach = Teach::new(
            init.teach_dir
                .take()
                .unwrap_or_else(super::teach::default_dir),
            waker.clone(),
        );
        let mut app = LiveApp {
            model: init.model,
            loader: init.loader,
            weights_text: init.weights_text,
            facts: init.model_facts,
            labels,
            options,
            notice: None,
            pipeline: None,
            source_label: "no source".into(),
            source_text: init
                .source
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            cameras: None,
            texture: None,
            last_frame_seq: None,
            current: None,
            history: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            status: None,
            source_health: None,
            source_note: None,
            error: init.startup_error.clone(),
            paused: false,
            show_hand: remembered.show_hand.unwrap_or(true),
            ended: false,
            actions: init
                .actions
                .map(|m| Dispatcher::new(m, init.armed, Some(waker.clone()))),
            action_log: VecDeque::new(),
            chosen_source: None,
            chosen_weights,
            model_file,
            teach,
            waker,
        };
        match remembered.weights_to_load(init.given) {
            Recall::Use(path) if app.loader.is_some() => {
                let had_model = app.model.is_some();
                let default_text =
                    std::mem::replace(&mut app.weights_text, path.display().to_string());
                if !app.load_weights() {
                    app.weights_text = default_text;
                    notes.push(format!(
                        "the weights last used, {}, did not load ({}); using the default model",
                        path.display(),
                        app.error.take().unwrap_or_default()
                    ));
                    app.error = init.startup_error.clone();
                } else {
                    init.notice = None;
                    if !had_model {
                        // The default weights were refused, the remembered ones stand in.
                        app.error = None;
                    }
                }
            }
            Recall::Dropped(note) => notes.push(note),
            Recall::Use(_) | Recall::Nothing => {}
        }
        let mut source = init.source.map(|s| (s, init.given.source));
        match remembered.source_to_open(init.given) {
            Recall::Use(spec) if app.model.is_some() => {
                if !app.start_source(spec.clone(), true) {
                    notes.push(format!(
                        "the source last used, {spec}, did not open ({}); using the default source",
                        app.error.take().unwrap_or_default()
                    ));
                    app.error = init.startup_error.clone();
                } else {
                    source = None;
                }
            }
            Recall::Dropped(note) => notes.push(note),
            Recall::Use(_) | Recall::Nothing => {}
        }
        if let Some((spec, chosen)) = source {
            if app.model.is_some() {
                app.start_source(spec, chosen);
            }
        }
        if init.teach_open {
            app.teach.set_open(true);
        }
        let lines: Vec<String> = init.notice.into_iter().chain(notes).collect();
        app.notice = (!lines.is_empty()).then(|| lines.join("\n"));
        app
    }

    /// The settings to remember for the next run.
    pub fn remembered(&self) -> Remembered {
        let ev = &self.options.worker.events;
        Remembered {
            fire_at: ev.fire.map(|f| f.name().to_string()),
            threshold: Some(ev.threshold),
            release: Some(ev.release),
            smoothing_ms: Some(ev.smoothing_ms),
            source: self.chosen_source.clone(),
            weights: self.chosen_weights.clone(),
            show_hand: Some(self.show_hand),
        }
    }

    /// Points the actions at the current labels; a gesture the model lacks is shown as an error.
    fn relabel_actions(&mut self) {
        if let Some(d) = &mut self.actions {
            if let Err(e) = d.relabel(&self.labels) {
                self.error = Some(format!("actions: {e}; that gesture never fires"));
            }
        }
    }

    /// Loads the weights file named in the weights field; on success the current source (if
    /// any) restarts with the new model, on failure the error is shown and the old model stays.
    /// Says whether it loaded.
    pub fn load_weights(&mut self) -> bool {
        let Some(loader) = &self.loader else {
            return false;
        };
        let path = PathBuf::from(self.weights_text.trim());
        match loader(&path) {
            Ok((model, facts)) => {
                self.labels = model.config().labels.clone();
                self.model = Some(model);
                self.facts = facts;
                self.error = None;
                self.events.clear();
                self.relabel_actions();
                self.chosen_weights = Some(absolute(&path));
                self.model_file = Some(absolute(&path));
                let restart = self
                    .pipeline
                    .as_ref()
                    .map(|_| self.source_text.trim().to_string());
                if let Some(spec) = restart.and_then(|t| t.parse::<SourceSpec>().ok()) {
                    self.start_source(spec, self.chosen_source.is_some());
                }
                true
            }
            Err(e) => {
                self.error = Some(crate::error::report(&*e));
                false
            }
        }
    }

    /// Stops the current source (if any) and opens `spec`, the user's choice (remembered for the
    /// next run once it opens); errors end up in `self.error`.
    pub fn open_source(&mut self, spec: SourceSpec) {
        self.start_source(spec, true);
    }

    /// [`Self::open_source`]; `chosen`: whether to remember it. Says whether it started opening
    /// (a camera that fails later, on the capture thread, is reported through its status).
    fn start_source(&mut self, spec: SourceSpec, chosen: bool) -> bool {
        // The old pipeline stops on a thread of its own (its camera may take a while to let
        // go); the new source opens once it has, so a camera opened again is free.
        let retiring = self.pipeline.take().map(|mut old| {
            std::thread::Builder::new()
                .name("retire-source".into())
                .spawn(move || {
                    old.stop();
                })
        });
        self.current = None;
        self.history.clear();
        self.stats = Stats::default();
        self.status = None;
        self.ended = false;
        self.last_frame_seq = None;
        self.source_text = spec.to_string();
        let Some(model) = self.model.clone() else {
            self.error = Some("no model loaded: load a weights file first".into());
            return false;
        };
        let started = spec
            .opener(&self.options.source)
            .map_err(LiveError::from)
            .and_then(|opener| {
                let opener: Opener = Box::new(move || {
                    if let Some(Ok(t)) = retiring {
                        let _ = t.join();
                    }
                    opener()
                });
                Pipeline::spawn_with(
                    model,
                    opener,
                    &spec.opening_message(),
                    &self.options,
                    Some(self.waker.clone()),
                )
            });
        match started {
            Ok(p) => {
                self.source_label = spec.to_string();
                self.source_health = p.ring().status().health();
                if self.paused {
                    p.control(Control::Pause(true));
                }
                self.pipeline = Some(p);
                self.error = None;
                self.chosen_source = chosen.then(|| match &spec {
                    SourceSpec::Folder(path) | SourceSpec::Video(path) => {
                        absolute(path).display().to_string()
                    }
                    other => other.to_string(),
                });
                true
            }
            Err(e) => {
                self.source_label = "no source".into();
                self.error = Some(format!("cannot open {spec}: {}", crate::error::report(&e)));
                false
            }
        }
    }

    /// The error shown in the window, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The weights file field (what "Load" reads).
    pub fn weights_text_mut(&mut self) -> &mut String {
        &mut self.weights_text
    }

    /// The events received so far, newest first.
    pub fn events(&self) -> impl Iterator<Item = &GestureEvent> {
        self.events.iter()
    }

    /// The latest prediction.
    pub fn current(&self) -> Option<&Prediction> {
        self.current.as_ref()
    }

    /// The sequence number of the newest frame the source has captured.
    pub fn newest_frame(&self) -> Option<u64> {
        self.pipeline
            .as_ref()
            .and_then(|p| p.ring().latest())
            .map(|f| f.seq)
    }

    /// The detection settings in use (threshold, release, smoothing).
    pub fn event_settings(&self) -> &crate::live::events::EventSettings {
        &self.options.worker.events
    }

    /// Changes the detection settings, as the window's sliders do.
    pub fn set_event_settings(&mut self, settings: crate::live::events::EventSettings) {
        self.options.worker.events = settings;
        self.push_event_settings();
    }

    /// The source field's text (the source open, or the one that failed).
    pub fn source_text(&self) -> &str {
        &self.source_text
    }

    /// The notice line(s) at the top: the demo note, remembered settings that were dropped.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Sends the current event settings to the worker.
    pub(super) fn push_event_settings(&self) {
        if let Some(p) = &self.pipeline {
            p.control(Control::Events(self.options.worker.events.clone()));
        }
    }

    pub(super) fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        if let Some(p) = &self.pipeline {
            p.control(Control::Pause(paused));
        }
    }

    /// The worker's latest statistics.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What the capture thread says is wrong right now, if anything.
    pub fn source_health(&self) -> Option<&str> {
        self.source_health.as_deref()
    }

    /// Reads the capture thread's status board: description (known once open), health, note.
    fn refresh_source_status(&mut self) {
        let Some(p) = &self.pipeline else {
            self.source_health = None;
            return;
        };
        let status = p.ring().status();
        let description = status.description();
        if !description.is_empty() {
            self.source_label = description;
        }
        self.source_health = if self.ended { None } else { status.health() };
        self.source_note = status.note();
        // Straight from the capture thread: exact even after the worker's last statistics.
        self.stats.frames_undecodable = status.undecodable();
    }

    /// Takes what the worker sent, for at most [`DRAIN_BUDGET`].
    fn drain(&mut self) {
        let Some(p) = &self.pipeline else {
            return;
        };
        let rx = p.messages().clone();
        let start = Instant::now();
        while start.elapsed() < DRAIN_BUDGET {
            let Ok(msg) = rx.try_recv() else {
                break;
            };
            self.handle(msg);
        }
    }

    fn handle(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::Prediction(p) => {
                let t = p.t.as_secs_f64();
                if let Some(&(class, prob)) = p.top.first() {
                    self.history.push_back(PlotPoint { t, class, prob });
                }
                while self.history.front().is_some_and(|f| f.t < t - PLOT_SECONDS) {
                    self.history.pop_front();
                }
                self.status = None;
                self.current = Some(p);
            }
            WorkerMsg::Event(e) => {
                self.act(&e);
                self.events.push_front(e);
                self.events.truncate(MAX_EVENTS);
            }
            WorkerMsg::Stats(s) => self.stats = s,
            WorkerMsg::Status(s) => self.status = Some(s),
            // Predictions after this refer to the swapped-in model's classes.
            WorkerMsg::ModelSwapped(Ok(labels)) => {
                if let Some(old) = self.teach.swapping_out.take() {
                    self.teach.previous = Some(old);
                }
                self.labels = labels;
                self.current = None;
                self.history.clear();
                self.relabel_actions();
            }
            WorkerMsg::ModelSwapped(Err(e)) => {
                // The worker kept the model it had: so does the window.
                if let Some(old) = self.teach.swapping_out.take() {
                    self.set_model_slot(old);
                }
                self.error = Some(format!("the new model was not swapped in: {e}"));
            }
            WorkerMsg::Quit(None) => {
                self.ended = true;
                self.status = Some("the source ended; pick another one to go on".into());
            }
            WorkerMsg::Quit(Some(e)) => {
                self.ended = true;
                self.error = Some(e);
            }
        }
    }

    /// Runs the event's action; a `print:` goes to stdout too. (The log says `->`: egui's
    /// default font has no arrow glyph.)
    fn act(&mut self, e: &GestureEvent) {
        let Some(d) = &mut self.actions else {
            return;
        };
        let r = d.on_event(&e.label, Instant::now());
        if let Some(text) = &r.print {
            println!("{text}");
        }
        let line = match &r.action {
            Some(a) => format!(
                "{:.2} s · {} -> {a}: {}",
                e.t.as_secs_f64(),
                e.label,
                r.detail
            ),
            None => format!("{:.2} s · {}: {}", e.t.as_secs_f64(), e.label, r.detail),
        };
        self.log_action(line);
    }

    fn log_action(&mut self, line: String) {
        self.action_log.push_front(line);
        self.action_log.truncate(MAX_ACTION_LOG);
    }

    /// Whether actions are armed (`false` without actions).
    pub fn armed(&self) -> bool {
        self.actions.as_ref().is_some_and(Dispatcher::armed)
    }

    /// Arms or disarms the actions (the window's switch).
    pub fn set_armed(&mut self, armed: bool) {
        if let Some(d) = &mut self.actions {
            d.set_armed(armed);
            self.log_action(if armed { "armed" } else { "disarmed" }.into());
        }
    }

    /// What each event's action did, newest first.
    pub fn action_log(&self) -> impl Iterator<Item = &str> {
        self.action_log.iter().map(String::as_str)
    }

    /// The model running now as a [`ModelSlot`].
    fn model_slot(&self) -> Option<ModelSlot> {
        Some(ModelSlot {
            model: self.model.clone()?,
            facts: self.facts.clone(),
            file: self.model_file.clone(),
        })
    }

    /// Makes `slot` the window's model (facts, weights field, the file to remember), without
    /// touching the worker.
    fn set_model_slot(&mut self, slot: ModelSlot) {
        self.model = Some(slot.model);
        self.facts = slot.facts;
        self.model_file = slot.file.clone();
        if let Some(f) = slot.file {
            self.weights_text = f.display().to_string();
            self.chosen_weights = Some(f);
        }
    }

    /// Swaps `slot` into the running worker (the capture goes on); the labels change when the
    /// worker answers ([`WorkerMsg::ModelSwapped`]). The model it replaces can be restored.
    fn swap_in(&mut self, slot: ModelSlot) {
        let old = self.model_slot();
        match &self.pipeline {
            Some(p) => {
                p.swap_model(slot.model.clone());
                self.teach.swapping_out = old;
            }
            None => {
                self.labels = slot.model.config().labels.clone();
                self.current = None;
                self.history.clear();
                self.relabel_actions();
                self.teach.previous = old;
            }
        }
        self.set_model_slot(slot);
    }

    /// Swaps the model the last Teach swap replaced back in (one click in the panel); the
    /// taught one can then be restored the same way.
    pub fn restore_previous_model(&mut self) {
        if let Some(prev) = self.teach.previous.take() {
            self.swap_in(prev);
        }
    }

    /// The labels of the model the worker runs now.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The labels of the latest prediction's top classes, best first.
    pub fn top_labels(&self) -> Vec<String> {
        self.current
            .as_ref()
            .map(|p| {
                p.top
                    .iter()
                    .filter_map(|&(c, _)| self.labels.get(c).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The Teach panel's state (what its fields and buttons change).
    pub fn teach_mut(&mut self) -> &mut Teach {
        &mut self.teach
    }

    /// The Teach panel's state.
    pub fn teach(&self) -> &Teach {
        &self.teach
    }

    /// Starts recording the Teach panel's label from the running source (its Record button).
    pub fn teach_record(&mut self) {
        let ring = self.pipeline.as_ref().map(|p| p.ring().clone());
        self.teach.start_recording(ring.as_ref());
    }

    /// Starts fine-tuning on the Teach data set from the running model's file (its Train
    /// button).
    pub fn teach_train(&mut self) {
        let device = self.model.as_ref().map(|m| m.device().clone());
        match device {
            Some(d) => self.teach.start_training(self.model_file.clone(), d),
            None => self.teach.error = Some("no model loaded: load a weights file first".into()),
        }
    }

    /// Uploads the newest frame to the preview texture (in place after the first).
    fn update_preview(&mut self, ctx: &egui::Context) {
        let Some(frame) = self.pipeline.as_ref().and_then(|p| p.ring().latest()) else {
            return;
        };
        if self.last_frame_seq == Some(frame.seq) {
            return;
        }
        self.last_frame_seq = Some(frame.seq);
        let (w, h) = frame.image.dimensions();
        let image = egui::ColorImage::from_rgb([w as usize, h as usize], frame.image.as_raw());
        match &mut self.texture {
            Some(t) => t.set(image, egui::TextureOptions::LINEAR),
            None => {
                self.texture =
                    Some(ctx.load_texture("preview", image, egui::TextureOptions::LINEAR));
            }
        }
    }
}

impl eframe::App for LiveApp {
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.remembered().save(storage);
    }

    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain();
        let done = self
            .actions
            .as_mut()
            .map(Dispatcher::poll)
            .unwrap_or_default();
        for c in done {
            for l in c.output.lines().rev() {
                self.log_action(format!("  | {l}"));
            }
            self.log_action(c.line());
        }
        self.refresh_source_status();
        self.update_preview(ctx);
        let ring = self.pipeline.as_ref().map(|p| p.ring().clone());
        if let Some(Trained(mut slot)) = self.teach.update(ring.as_ref(), ctx) {
            let device = self
                .facts
                .iter()
                .find(|(k, _)| k == "device")
                .map_or_else(|| "cpu".to_string(), |(_, v)| v.clone());
            slot.facts = super::model_facts(slot.model.config(), &device, slot.file.as_deref());
            self.swap_in(slot);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        panels::top_bar_ui(self, ui);
        super::teach_panel::teach_panel_ui(self, ui);
        panels::side_panel_ui(self, ui);
        panels::events_panel_ui(self, ui);
        egui::CentralPanel::default().show(ui, |ui| panels::central_ui(self, ui));
    }
}

impl Drop for LiveApp {
    fn drop(&mut self) {
        if let Some(mut p) = self.pipeline.take() {
            p.stop();
        }
    }
}
