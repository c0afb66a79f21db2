//! The window (eframe/egui, glow renderer): live preview, the current gesture in large type,
//! top-5 bars, a confidence-over-time plot, the event history, capture/inference statistics,
//! the model's facts, and controls (source, threshold, release, smoothing, pause), and the
//! Teach panel (record clips, fine-tune, swap the new model in). Every
//! failure (source lost, bad path, inference error) is shown in the window, never a crash.

mod app;
mod panels;
mod plot;
mod settings;
mod teach;
mod teach_io;
mod teach_panel;

pub use app::{model_facts, AppInit, LiveApp, LoadError, LoadedModel, ModelLoader};
pub use settings::{Given, MemoryStorage, Recall, Remembered};
pub use teach::{default_dir as default_teach_dir, ModelSlot, Teach};

/// Opens the window and runs until it is closed.
pub fn run_window(init: AppInit) -> Result<(), eframe::Error> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("gesture-app")
            .with_inner_size([1180.0, 760.0])
            .with_min_inner_size([800.0, 520.0]),
        ..Default::default()
    };
    eframe::run_native(
        "gesture-app",
        options,
        Box::new(move |cc| Ok(Box::new(LiveApp::new(init, &cc.egui_ctx, cc.storage)))),
    )
}
