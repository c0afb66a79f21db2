//! The Teach panel on the left: a label and how many clips to record, the countdown and
//! progress, the clips per label as thumbnails (click to play back, delete a bad one), and
//! training with its progress, validation accuracy and cancel, then restoring the previous
//! model.

use super::app::LiveApp;
use super::teach::Rec;
use egui::{Color32, RichText};
use std::time::Duration;

/// Side of a thumbnail button.
const THUMB: f32 = 64.0;

/// The panel, when open.
pub fn teach_panel_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    if !app.teach.open {
        return;
    }
    egui::Panel::left("teach")
        .default_size(360.0)
        .size_range(300.0..=520.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("teach_scroll")
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    ui.heading("Teach your gestures");
                    ui.weak(format!("data set: {}", app.teach.clips_dir().display()));
                    if let Some(e) = &app.teach.error {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                    ui.separator();
                    record_ui(app, ui);
                    ui.separator();
                    clips_ui(app, ui);
                    ui.separator();
                    train_ui(app, ui);
                });
        });
}

fn record_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    ui.strong("Record");
    let t = &mut app.teach;
    let idle = t.recording.is_none();
    ui.add_enabled_ui(idle, |ui| {
        ui.horizontal(|ui| {
            ui.label("label");
            ui.add(
                egui::TextEdit::singleline(&mut t.label)
                    .hint_text("e.g. Thumb Up")
                    .desired_width(150.0),
            );
            egui::ComboBox::from_id_salt("teach_pick_label")
                .selected_text("pick")
                .width(60.0)
                .show_ui(ui, |ui| {
                    for l in &t.listing.labels {
                        if ui.selectable_label(t.label == *l, l).clicked() {
                            t.label = l.clone();
                        }
                    }
                });
        });
        ui.horizontal(|ui| {
            ui.add(
                egui::DragValue::new(&mut t.clips)
                    .range(1..=50)
                    .suffix(" clips"),
            );
            ui.add(
                egui::DragValue::new(&mut t.seconds)
                    .range(0.5..=10.0)
                    .speed(0.1)
                    .suffix(" s each"),
            );
            ui.add(
                egui::DragValue::new(&mut t.countdown)
                    .range(0.0..=10.0)
                    .speed(0.1)
                    .prefix("countdown ")
                    .suffix(" s"),
            );
        });
    });
    let ring = app.pipeline.as_ref().map(|p| p.ring().clone());
    let t = &mut app.teach;
    if idle {
        let can = ring.is_some() && t.training.is_none() && !t.label.trim().is_empty();
        let text = format!(
            "Record {} clip{}",
            t.clips,
            if t.clips == 1 { "" } else { "s" }
        );
        let hover = if ring.is_none() {
            "open a source first"
        } else if t.training.is_some() {
            "wait for the training to end"
        } else {
            "type or pick a label"
        };
        let r = ui.add_enabled(can, egui::Button::new(text));
        let r = if can {
            r
        } else {
            r.on_disabled_hover_text(hover)
        };
        if r.clicked() {
            t.start_recording(ring.as_ref());
        }
    } else {
        if let Some((line, fraction)) = t.banner() {
            let counting = t
                .recording
                .as_ref()
                .is_some_and(|r| matches!(r.state, Rec::Countdown { .. }));
            let color = if counting {
                ui.visuals().warn_fg_color
            } else {
                Color32::from_rgb(230, 80, 80)
            };
            ui.label(RichText::new(line).size(18.0).strong().color(color));
            ui.add(egui::ProgressBar::new(fraction).show_percentage());
        }
        if let Some(r) = &t.recording {
            ui.label(format!("{} of {} clips saved", r.saved, r.clips));
        }
        if ui.button("Stop recording").clicked() {
            t.stop_recording(None);
        }
    }
}

fn clips_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    let t = &mut app.teach;
    let total = t.listing.clips.len();
    ui.strong(format!(
        "Clips ({total} in {} label{})",
        t.listing.labels.len(),
        if t.listing.labels.len() == 1 { "" } else { "s" }
    ));
    if total == 0 {
        ui.weak("none yet: record a few clips of each gesture");
    }
    let mut play = None;
    let mut delete = None;
    let counts = t.listing.counts.clone();
    for c in &counts {
        let clips = t
            .listing
            .clips
            .iter()
            .filter(|x| x.label == c.label)
            .cloned()
            .collect::<Vec<_>>();
        egui::CollapsingHeader::new(format!(
            "{} · {} train + {} validation",
            c.label, c.train, c.val
        ))
        .id_salt(("teach_label", &c.label))
        .default_open(true)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                for clip in &clips {
                    t.want_thumb(&clip.id, clip.frames);
                    let hover = format!(
                        "{} · {} frames{} · {:?}\nclick to play back",
                        clip.id,
                        clip.frames,
                        clip.fps
                            .map(|f| format!(" at {f:.0} fps"))
                            .unwrap_or_default(),
                        clip.split
                    );
                    let r = match t.thumbs.get(&clip.id) {
                        Some(tex) => ui.add(
                            egui::Button::image(
                                egui::Image::new(tex).fit_to_exact_size(egui::vec2(THUMB, THUMB)),
                            )
                            .selected(t.playback.as_ref().is_some_and(|p| p.id == clip.id)),
                        ),
                        None => ui.add_sized([THUMB, THUMB], egui::Button::new("…")),
                    };
                    if r.on_hover_text(hover).clicked() {
                        play = Some((clip.id.clone(), clip.frames));
                    }
                }
            });
        });
    }
    if let Some((id, frames)) = play {
        t.play(&id, frames);
    }
    if let Some(id) = t.playback.as_ref().map(|p| p.id.clone()) {
        let mut close = false;
        ui.horizontal(|ui| {
            ui.label(format!("playing {id}"));
            if ui
                .add_enabled(t.recording.is_none(), egui::Button::new("Delete clip"))
                .on_hover_text("removes it from the data set for good")
                .clicked()
            {
                delete = Some(id.clone());
            }
            close = ui.button("Close").clicked();
        });
        if close {
            t.playback = None;
        }
    }
    if let Some(p) = &t.playback {
        let i = (p.started.elapsed().as_secs_f32() * p.fps) as usize % p.frames.len();
        ui.add(egui::Image::new(&p.frames[i]).max_width(ui.available_width().min(240.0)));
        ui.ctx()
            .request_repaint_after(Duration::from_secs_f32(1.0 / p.fps));
    }
    if let Some(id) = delete {
        t.delete_clip(&id);
    }
}

fn train_ui(app: &mut LiveApp, ui: &mut egui::Ui) {
    ui.strong("Fine-tune");
    let base = app.model_file.clone();
    let device = app.model.as_ref().map(|m| m.device().clone());
    let t = &mut app.teach;
    match &t.training {
        None => {
            ui.horizontal(|ui| {
                ui.add(
                    egui::DragValue::new(&mut t.epochs)
                        .range(1..=500)
                        .suffix(" epochs"),
                );
                let can = t.recording.is_none()
                    && !t.listing.clips.is_empty()
                    && base.is_some()
                    && device.is_some();
                let r = ui.add_enabled(can, egui::Button::new("Train"));
                let r = if can {
                    r.on_hover_text(format!(
                        "fine-tunes the head of {} on these clips (backbone frozen)",
                        base.as_ref()
                            .map(|b| b.display().to_string())
                            .unwrap_or_default()
                    ))
                } else {
                    r.on_disabled_hover_text(
                        "needs recorded clips, no recording under way, and a model loaded \
                         from a weights file",
                    )
                };
                if r.clicked() {
                    if let Some(device) = device {
                        t.start_training(base, device);
                    }
                }
            });
        }
        Some(tr) => {
            ui.add(
                egui::ProgressBar::new(tr.fraction)
                    .show_percentage()
                    .text(tr.phase.clone()),
            );
            let acc = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}%"));
            ui.label(format!(
                "validation top-1 {} (best {}) · {:.0} s",
                acc(tr.val_top1),
                acc(tr.best_val_top1),
                tr.started.elapsed().as_secs_f32()
            ));
            if ui.button("Cancel").clicked() {
                tr.cancel.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
    if let Some(n) = &t.train_note {
        ui.add(egui::Label::new(RichText::new(n).small()).wrap());
    }
    if let Some(prev) = &t.previous {
        let name = prev
            .file
            .as_ref()
            .and_then(|f| f.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "the model before".into());
        if ui
            .add_enabled(
                t.swapping_out.is_none(),
                egui::Button::new(format!("Restore previous model ({name})")),
            )
            .clicked()
        {
            app.restore_previous_model();
        }
    }
}
