//! The window's panels, in the order they are laid out: top bar, controls on the right, event
//! history at the bottom, and the central preview / prediction / plot.

use super::app::LiveApp;
use super::plot::{class_color, confidence_plot_ui};
use crate::capture::SourceSpec;
use crate::live::events::{FireAt, SEGMENT_LEVEL};
use crate::live::SeenHand;
use egui::{Color32, RichText};

/// Title, source, pause, and the headline numbers.
pub fn top_bar_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    egui::Panel::top("top_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading("gesture-app");
            let open = app.teach.open;
            if ui
                .selectable_label(open, "Teach")
                .on_hover_text("record your own gestures and fine-tune the model on them")
                .clicked()
            {
                app.teach.set_open(!open);
            }
            ui.separator();
            ui.label(&app.source_label);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let text = if app.paused { "Resume" } else { "Pause" };
                if ui.button(text).clicked() {
                    app.set_paused(!app.paused);
                }
                let s = &app.stats;
                ui.label(format!(
                    "capture {:.1} fps · {:.1} predictions/s · latency {:.0} ms",
                    s.capture_fps, s.predictions_per_s, s.latency_ms
                ));
            });
        });
        if let Some(n) = &app.notice {
            ui.label(RichText::new(n).color(ui.visuals().warn_fg_color));
        }
    });
}

/// Source picker, detection settings, model facts, statistics.
pub fn side_panel_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    egui::Panel::right("controls")
        .default_size(340.0)
        .size_range(280.0..=480.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    source_ui(app, ui);
                    ui.separator();
                    detection_ui(app, ui);
                    ui.separator();
                    actions_ui(app, ui);
                    ui.separator();
                    ui.strong("Performance");
                    let s = &app.stats;
                    let per_prediction = if s.predictions > 0 {
                        s.backbone_passes as f32 / s.predictions as f32
                    } else {
                        0.0
                    };
                    let rows = vec![
                        ("capture".into(), format!("{:.1} fps", s.capture_fps)),
                        (
                            "predictions".into(),
                            format!("{:.1} /s", s.predictions_per_s),
                        ),
                        ("latency".into(), format!("{:.1} ms", s.latency_ms)),
                        (
                            "backbone passes".into(),
                            format!("{per_prediction:.2} per prediction"),
                        ),
                        ("frames skipped".into(), s.frames_skipped.to_string()),
                        (
                            "clip samples skipped".into(),
                            if s.sample_stride > 1 {
                                format!(
                                    "{} (every {} computed)",
                                    s.samples_skipped, s.sample_stride
                                )
                            } else {
                                s.samples_skipped.to_string()
                            },
                        ),
                        (
                            "frames undecodable".into(),
                            s.frames_undecodable.to_string(),
                        ),
                    ];
                    facts_grid(ui, "perf", &rows);
                    ui.separator();
                    ui.strong("Model");
                    weights_ui(app, ui);
                    facts_grid(ui, "model_facts", &app.facts);
                });
        });
}

fn source_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    ui.strong("Source");
    let mut open = None;
    ui.horizontal(|ui| {
        let edit = ui.add(
            egui::TextEdit::singleline(&mut app.source_text)
                .hint_text("camera:0, a video file, a frame folder, synthetic")
                .desired_width(200.0),
        );
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Open").clicked() || enter {
            open = Some(app.source_text.trim().to_string());
        }
    });
    ui.horizontal(|ui| {
        if ui.button("Synthetic").clicked() {
            open = Some("synthetic".into());
        }
        if ui.button("Find cameras").clicked() {
            app.cameras = Some(
                app.options
                    .source
                    .cameras
                    .0
                    .cameras()
                    .map(|cams| {
                        cams.iter()
                            .map(|c| (c.index.to_string(), c.name.clone()))
                            .collect()
                    })
                    .map_err(|e| e.to_string()),
            );
        }
    });
    match &app.cameras {
        Some(Ok(cams)) if cams.is_empty() => {
            ui.label("no camera found");
        }
        Some(Ok(cams)) => {
            for (index, name) in cams {
                if ui.button(format!("camera {index}: {name}")).clicked() {
                    open = Some(format!("camera:{index}"));
                }
            }
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {}
    }
    if let Some(text) = open {
        match text.parse::<SourceSpec>() {
            Ok(spec) => app.open_source(spec),
            Err(e) => app.error = Some(format!("source '{text}': {e}")),
        }
    }
}

fn weights_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    if app.loader.is_none() {
        return;
    }
    let mut load = false;
    ui.horizontal(|ui| {
        let edit = ui.add(
            egui::TextEdit::singleline(&mut app.weights_text)
                .hint_text("weights .safetensors")
                .desired_width(200.0),
        );
        load |= edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        load |= ui.button("Load").clicked();
    });
    if load {
        app.load_weights();
    }
}

/// The model's own event rule (what "fire" shows until the user picks one).
fn model_fire(app: &LiveApp) -> FireAt {
    app.model
        .as_ref()
        .map_or(FireAt::Threshold, |m| FireAt::for_arch(m.config().arch))
}

fn detection_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    ui.strong("Detection");
    let mut changed = false;
    let model_fire = model_fire(app);
    let ev = &mut app.options.worker.events;
    let mut fire = ev.fire.unwrap_or(model_fire);
    ui.horizontal(|ui| {
        ui.label("fire");
        for (rule, hint) in [
            (
                FireAt::End,
                "once a gesture is over: the class that led most of it (about a second later; \
                 a gesture's wind-up and way back seldom fire)",
            ),
            (
                FireAt::Threshold,
                "the moment a class reaches the threshold (fast; a gesture's wind-up or way \
                 back may fire as another gesture)",
            ),
        ] {
            let text = if rule == model_fire {
                format!("at {} (the model's)", rule.name())
            } else {
                format!("at {}", rule.name())
            };
            if ui
                .selectable_value(&mut fire, rule, text)
                .on_hover_text(hint)
                .changed()
            {
                ev.fire = Some(fire);
                changed = true;
            }
        }
    });
    changed |= ui
        .add(egui::Slider::new(&mut ev.threshold, 0.05..=1.0).text("threshold"))
        .changed();
    changed |= ui
        .add_enabled(
            fire == FireAt::Threshold,
            egui::Slider::new(&mut ev.release, 0.0..=1.0).text("release"),
        )
        .on_hover_text(
            "after an event, its class must fall below this before anything fires (when firing \
             at the threshold)",
        )
        .on_disabled_hover_text(
            "firing at a gesture's end: the gesture's stretch ending does what release does",
        )
        .changed();
    changed |= ui
        .add(
            egui::Slider::new(&mut ev.smoothing_ms, 0.0..=1000.0)
                .text("smoothing (ms)")
                .integer(),
        )
        .on_hover_text("half-life of the moving average of the probabilities")
        .changed();
    if ev.release > ev.threshold {
        ev.release = ev.threshold;
    }
    if changed {
        app.push_event_settings();
    }
    let mut paused = app.paused;
    if ui.checkbox(&mut paused, "pause inference").changed() {
        app.set_paused(paused);
    }
    if app
        .model
        .as_ref()
        .is_some_and(|m| m.config().arch.reads_landmarks())
    {
        ui.checkbox(&mut app.show_hand, "draw the tracked hand")
            .on_hover_text("the 21 landmarks the hand tracker found, over the preview");
    }
}

/// The action map, the armed switch, and what the last events' actions did.
fn actions_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    ui.strong("Actions");
    let Some(d) = &app.actions else {
        ui.weak("no actions mapped: --on \"LABEL=ACTION\" or --actions FILE (README \"Actions\")");
        return;
    };
    let mut armed = d.armed();
    let text = if armed {
        RichText::new("armed: gestures fire their actions").color(Color32::from_rgb(80, 200, 120))
    } else {
        RichText::new("disarmed: nothing fires").color(ui.visuals().warn_fg_color)
    };
    if ui
        .checkbox(&mut armed, text)
        .on_hover_text("never remembered: each run starts disarmed unless --armed")
        .changed()
    {
        app.set_armed(armed);
    }
    let Some(d) = &app.actions else {
        return;
    };
    if let Some(why) = d.injection_problem() {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("{why}; key actions are skipped"),
        );
    }
    egui::Grid::new("action_map")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for b in &d.map().bindings {
                ui.label(&b.label);
                let action = b.action.to_string();
                ui.add(egui::Label::new(&action).truncate())
                    .on_hover_text(format!(
                        "{action}\ncooldown {} ms · from {}",
                        b.cooldown.as_millis(),
                        b.origin
                    ));
                ui.end_row();
            }
        });
    egui::ScrollArea::vertical()
        .id_salt("action_log")
        .max_height(120.0)
        .show(ui, |ui| {
            if app.action_log.is_empty() {
                ui.weak("no action yet");
            }
            for line in &app.action_log {
                ui.add(egui::Label::new(RichText::new(line).small()).truncate())
                    .on_hover_text(line);
            }
        });
}

fn facts_grid(ui: &mut egui::Ui, id: &str, rows: &[(String, String)]) {
    egui::Grid::new(id)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (k, v) in rows {
                ui.label(k);
                // Long values (the device's explanation, provenance) are cut to the panel's
                // width, whole on hover: an unbreakable line would widen the panel over the
                // central view.
                ui.add(egui::Label::new(v).truncate()).on_hover_text(v);
                ui.end_row();
            }
        });
}

/// The event history, newest first.
pub fn events_panel_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    egui::Panel::bottom("events")
        .default_size(150.0)
        .show(ui, |ui| {
            ui.strong(format!("Events ({})", app.events.len()));
            egui::ScrollArea::vertical().show(ui, |ui| {
                if app.events.is_empty() {
                    ui.weak("no gesture yet");
                }
                for e in &app.events {
                    ui.colored_label(
                        class_color(e.class),
                        format!(
                            "{:>8.2} s · {} · {:.0}%",
                            e.t.as_secs_f64(),
                            e.label,
                            e.prob * 100.0
                        ),
                    );
                }
            });
        });
}

/// Errors, the preview, the current gesture with its top-5, and the plot.
pub fn central_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    if let Some(e) = &app.error {
        egui::Frame::new()
            .fill(Color32::from_rgb(90, 20, 20))
            .inner_margin(8.0)
            .corner_radius(4.0)
            .show(ui, |ui| {
                ui.label(
                    RichText::new(format!("Error: {e}"))
                        .color(Color32::WHITE)
                        .strong(),
                );
                let hint = if app.model.is_some() {
                    "Pick another source on the right."
                } else {
                    "Load another weights file on the right."
                };
                ui.label(RichText::new(hint).color(Color32::LIGHT_GRAY));
            });
    }
    if let Some(h) = &app.source_health {
        ui.label(RichText::new(h).color(ui.visuals().warn_fg_color).strong());
    }
    if let Some(n) = &app.source_note {
        ui.weak(n);
    }
    if let Some(s) = &app.status {
        ui.weak(s);
    }
    // The Teach panel's countdown and clip progress, where the user looks while gesturing.
    if let Some((line, fraction)) = app.teach.banner() {
        ui.label(
            RichText::new(line)
                .size(26.0)
                .strong()
                .color(Color32::from_rgb(230, 80, 80)),
        );
        ui.add(egui::ProgressBar::new(fraction).desired_width(ui.available_width() * 0.6));
    }
    let plot_height = 140.0;
    let top_height = (ui.available_height() - plot_height - 16.0).max(160.0);
    ui.horizontal(|ui| {
        let preview_w = (ui.available_width() * 0.6).max(200.0);
        ui.allocate_ui(egui::Vec2::new(preview_w, top_height), |ui| {
            match &app.texture {
                Some(t) => {
                    let shown = ui.add(
                        egui::Image::new(t)
                            .fit_to_exact_size(egui::Vec2::new(preview_w, top_height))
                            .maintain_aspect_ratio(true)
                            .corner_radius(4.0),
                    );
                    if app.show_hand {
                        if let Some(p) = &app.current {
                            for hand in &p.hands {
                                draw_hand(ui.painter(), shown.rect, hand);
                            }
                        }
                    }
                }
                None => {
                    ui.weak("no frame yet");
                }
            }
        });
        ui.vertical(|ui| prediction_ui(app, ui));
    });
    ui.add_space(8.0);
    let ev = &app.options.worker.events;
    // The second dashed line: the level that re-arms the rule in force.
    let second = match ev.fire.unwrap_or(model_fire(app)) {
        FireAt::Threshold => (ev.release, "release"),
        FireAt::End => (SEGMENT_LEVEL, "gesture stretch"),
    };
    confidence_plot_ui(
        ui,
        &app.history,
        &app.events,
        ev.threshold,
        second,
        plot_height,
    );
}

/// MediaPipe's `HAND_CONNECTIONS`: the bones between the 21 landmarks.
pub const HAND_CONNECTIONS: [(usize, usize); 21] = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (5, 9),
    (9, 10),
    (10, 11),
    (11, 12),
    (9, 13),
    (13, 14),
    (14, 15),
    (15, 16),
    (13, 17),
    (0, 17),
    (17, 18),
    (18, 19),
    (19, 20),
];

/// Draws a tracked hand's skeleton over the preview shown in `rect` (its landmarks are
/// normalised to the frame, so they scale with the picture).
fn draw_hand(painter: &egui::Painter, rect: egui::Rect, hand: &SeenHand) {
    let at = |k: usize| {
        let [x, y, _] = hand.landmarks[k];
        egui::pos2(
            rect.left() + x * rect.width(),
            rect.top() + y * rect.height(),
        )
    };
    let painter = painter.with_clip_rect(rect);
    let bone = egui::Stroke::new(2.0, Color32::from_rgb(80, 220, 120));
    for (a, b) in HAND_CONNECTIONS {
        painter.line_segment([at(a), at(b)], bone);
    }
    for k in 0..hand.landmarks.len() {
        painter.circle_filled(at(k), 3.0, Color32::from_rgb(230, 60, 60));
    }
}

fn prediction_ui(app: &LiveApp, ui: &mut egui::Ui) {
    let Some(p) = &app.current else {
        ui.label(RichText::new("waiting for frames…").size(28.0).weak());
        return;
    };
    let Some(&(class, prob)) = p.top.first() else {
        return;
    };
    ui.label(
        RichText::new(&app.labels[class])
            .size(40.0)
            .strong()
            .color(class_color(class)),
    );
    ui.label(RichText::new(format!("confidence {:.0}%", prob * 100.0)).size(22.0));
    ui.add_space(8.0);
    for &(c, p) in &p.top {
        ui.add(
            egui::ProgressBar::new(p)
                .desired_width(ui.available_width().min(360.0))
                .fill(class_color(c).gamma_multiply(0.8))
                .text(format!("{} {:.0}%", app.labels[c], p * 100.0)),
        );
    }
}
