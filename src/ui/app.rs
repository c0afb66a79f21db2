//! The window's state: the running pipeline, what it last said, and the user's settings.
//! Messages are drained in `logic` (also while the window is hidden) under a small time budget;
//! the capture and inference threads wake the UI with `request_repaint`.

use super::panels;
use crate::actions::{ActionMap, Dispatcher};
use crate::capture::{SourceSpec, Waker};
use crate::live::{
    Control, FrameModel, GestureEvent, Pipeline, PipelineOptions, Prediction, Stats, WorkerMsg,
};
use crate::model::config::ModelConfig;
use std::collections::VecDeque;
use std::path::Path;
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
    /// The weights file field's initial text.
    pub weights_text: String,
    /// (name, value) lines shown under "Model" ([`model_facts`]).
    pub model_facts: Vec<(String, String)>,
    /// The source to open at start; `None` starts without one (the user picks).
    pub source: Option<SourceSpec>,
    pub options: PipelineOptions,
    /// A line shown at the top, e.g. that the demo model runs on bundled clips.
    pub notice: Option<String>,
    /// A problem found before the window opened (shown in it).
    pub startup_error: Option<String>,
    /// What gestures do (already checked against the model's labels), if anything.
    pub actions: Option<ActionMap>,
    /// Whether the actions start armed.
    pub armed: bool,
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
        facts.push((
            "weights".to_string(),
            w.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| w.display().to_string()),
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
    pub(super) error: Option<String>,
    pub(super) paused: bool,
    pub(super) ended: bool,
    /// Runs the action map on the events.
    pub(super) actions: Option<Dispatcher>,
    /// What each event's action did, newest first.
    pub(super) action_log: VecDeque<String>,
    waker: Waker,
}

impl LiveApp {
    /// Builds the app and opens `init.source`; a failure to open is shown in the window.
    pub fn new(init: AppInit, ctx: &egui::Context) -> Self {
        let ctx = ctx.clone();
        let waker: Waker = Arc::new(move || ctx.request_repaint());
        let labels = init
            .model
            .as_ref()
            .map(|m| m.config().labels.clone())
            .unwrap_or_default();
        let mut app = LiveApp {
            model: init.model,
            loader: init.loader,
            weights_text: init.weights_text,
            facts: init.model_facts,
            labels,
            options: init.options,
            notice: init.notice,
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
            error: init.startup_error,
            paused: false,
            ended: false,
            actions: init
                .actions
                .map(|m| Dispatcher::new(m, init.armed, Some(waker.clone()))),
            action_log: VecDeque::new(),
            waker,
        };
        if let Some(spec) = init.source {
            if app.model.is_some() {
                app.open_source(spec);
            }
        }
        app
    }

    /// Loads the weights file named in the weights field; on success the current source (if
    /// any) restarts with the new model, on failure the error is shown and the old model stays.
    pub fn load_weights(&mut self) {
        let Some(loader) = &self.loader else {
            return;
        };
        let path = std::path::PathBuf::from(self.weights_text.trim());
        match loader(&path) {
            Ok((model, facts)) => {
                self.labels = model.config().labels.clone();
                self.model = Some(model);
                self.facts = facts;
                self.error = None;
                self.events.clear();
                if let Some(d) = &mut self.actions {
                    if let Err(e) = d.relabel(&self.labels) {
                        self.error = Some(format!("actions: {e}; that gesture never fires"));
                    }
                }
                let restart = self
                    .pipeline
                    .as_ref()
                    .map(|_| self.source_text.trim().to_string());
                if let Some(spec) = restart.and_then(|t| t.parse::<SourceSpec>().ok()) {
                    self.open_source(spec);
                }
            }
            Err(e) => self.error = Some(crate::error::report(&*e)),
        }
    }

    /// Stops the current source (if any) and opens `spec`; errors end up in `self.error`.
    pub fn open_source(&mut self, spec: SourceSpec) {
        if let Some(mut p) = self.pipeline.take() {
            p.stop();
        }
        self.current = None;
        self.history.clear();
        self.stats = Stats::default();
        self.status = None;
        self.ended = false;
        self.last_frame_seq = None;
        self.source_text = spec.to_string();
        let Some(model) = self.model.clone() else {
            self.error = Some("no model loaded: load a weights file first".into());
            return;
        };
        match Pipeline::start(model, &spec, &self.options, Some(self.waker.clone())) {
            Ok(p) => {
                self.source_label = p.source_description().to_string();
                if self.paused {
                    p.control(Control::Pause(true));
                }
                self.pipeline = Some(p);
                self.error = None;
            }
            Err(e) => {
                self.source_label = "no source".into();
                self.error = Some(format!("cannot open {spec}: {}", crate::error::report(&e)));
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
        self.update_preview(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        panels::top_bar_ui(self, ui);
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
