//! The confidence-over-time plot, drawn with egui's painter: the smoothed probability of the
//! top class over the last seconds (coloured by class), the threshold and a second level (the
//! release level, or the level a gesture's stretch lasts above when events fire at its end),
//! and a tick where an event fired.

use super::app::{PlotPoint, PLOT_SECONDS};
use crate::live::GestureEvent;
use egui::{Color32, Pos2, Sense, Shape, Stroke, Vec2};
use std::collections::VecDeque;

/// A stable, distinguishable colour per class (golden-ratio hue steps).
pub fn class_color(class: usize) -> Color32 {
    let hue = (class as f32 * 0.618_034).fract();
    egui::ecolor::Hsva::new(hue, 0.75, 0.95, 1.0).into()
}

/// Draws the plot into a `height`-tall strip as wide as the available space.
pub fn confidence_plot_ui(
    ui: &mut egui::Ui,
    history: &VecDeque<PlotPoint>,
    events: &VecDeque<GestureEvent>,
    threshold: f32,
    second: (f32, &str),
    height: f32,
) {
    let (response, painter) =
        ui.allocate_painter(Vec2::new(ui.available_width(), height), Sense::hover());
    let rect = response.rect;
    let visuals = ui.visuals();
    painter.rect_filled(rect, 4.0, visuals.extreme_bg_color);
    let t_end = history
        .back()
        .map_or(PLOT_SECONDS, |p| p.t.max(PLOT_SECONDS));
    let t_start = t_end - PLOT_SECONDS;
    let to_screen = |t: f64, p: f32| -> Pos2 {
        Pos2::new(
            rect.left() + ((t - t_start) / PLOT_SECONDS) as f32 * rect.width(),
            rect.bottom() - p.clamp(0.0, 1.0) * rect.height(),
        )
    };
    let weak = visuals.weak_text_color();
    for (level, name) in [(threshold, "threshold"), second] {
        let y = to_screen(t_start, level).y;
        painter.extend(Shape::dashed_line(
            &[Pos2::new(rect.left(), y), Pos2::new(rect.right(), y)],
            Stroke::new(1.0, weak),
            6.0,
            4.0,
        ));
        painter.text(
            Pos2::new(rect.right() - 4.0, y - 2.0),
            egui::Align2::RIGHT_BOTTOM,
            name,
            egui::FontId::proportional(11.0),
            weak,
        );
    }
    for w in history.iter().collect::<Vec<_>>().windows(2) {
        let (a, b) = (w[0], w[1]);
        painter.line_segment(
            [to_screen(a.t, a.prob), to_screen(b.t, b.prob)],
            Stroke::new(2.0, class_color(b.class)),
        );
    }
    for e in events {
        let t = e.t.as_secs_f64();
        if t < t_start {
            continue;
        }
        let x = to_screen(t, 0.0).x;
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
            Stroke::new(1.5, class_color(e.class).gamma_multiply(0.7)),
        );
    }
    painter.text(
        rect.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("top-class confidence, last {PLOT_SECONDS:.0} s"),
        egui::FontId::proportional(11.0),
        weak,
    );
}
