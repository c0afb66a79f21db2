//! The window's App driven by egui_kittest with a real pipeline and a real model: the current
//! label, its confidence and the event history appear once predictions arrive; the pause button
//! reaches the worker; an error (a source that fails) is shown in the window, not a crash.

use candle_core::Device;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use gesture_app::capture::SourceSpec;
use gesture_app::live::events::EventSettings;
use gesture_app::live::{FrameModel, PipelineOptions, WorkerOptions};
use gesture_app::testing::random_model;
use gesture_app::testing::write_generated_frames;
use gesture_app::ui::{model_facts, AppInit, LiveApp};
use gesture_app::{Arch, Consensus, ModelConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn small_model() -> Arc<dyn FrameModel> {
    let labels = ["Swiping Left", "Swiping Right", "No gesture"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::TrnMultiscale, 8, labels);
    cfg.input_size = 64;
    cfg.resize_size = 73;
    Arc::new(random_model(&cfg, &Device::Cpu).unwrap())
}

fn harness(source: SourceSpec, threshold: f32) -> Harness<'static, LiveApp> {
    let model = small_model();
    let facts = model_facts(model.config(), "cpu", None);
    let init = AppInit {
        model: Some(model),
        loader: None,
        weights_text: String::new(),
        model_facts: facts,
        source: Some(source),
        options: PipelineOptions {
            worker: WorkerOptions {
                events: EventSettings {
                    threshold,
                    release: 0.0,
                    // Random weights are unsure: let any class fire.
                    background: Vec::new(),
                    ..EventSettings::default()
                },
                ..WorkerOptions::default()
            },
            ..PipelineOptions::default()
        },
        notice: Some("test notice".into()),
        startup_error: None,
        actions: None,
        armed: false,
    };
    Harness::builder()
        .with_size(egui::Vec2::new(1180.0, 760.0))
        .build_eframe(move |cc| LiveApp::new(init, &cc.egui_ctx))
}

/// Steps the UI (with real time passing) until `done` holds or `timeout` passes.
fn step_until(
    h: &mut Harness<'static, LiveApp>,
    timeout: Duration,
    done: impl Fn(&LiveApp) -> bool,
) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        h.step();
        if done(h.state()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn label_confidence_and_history_appear_after_predictions() {
    let mut h = harness(SourceSpec::Synthetic, 0.0);
    assert!(h.query_by_label_contains("waiting for frames").is_some());
    assert!(h.query_by_label("test notice").is_some());
    assert!(
        step_until(&mut h, Duration::from_secs(60), |app| {
            app.current().is_some() && app.events().count() > 0
        }),
        "no prediction or event within a minute; error: {:?}",
        h.state().error()
    );
    // Freeze the display: pause, then let in-flight messages land.
    h.get_by_label("Pause").click();
    h.step();
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(3);
    assert!(h.query_by_label("Resume").is_some());

    let app = h.state();
    let (class, prob) = app.current().unwrap().top[0];
    let labels = ["Swiping Left", "Swiping Right", "No gesture"];
    let label = labels[class];
    let confidence = format!("confidence {:.0}%", prob * 100.0);
    let event = app.events().next().unwrap().clone();
    let history_row = format!(" s · {} · {:.0}%", event.label, event.prob * 100.0);
    h.get_by_label(label);
    h.get_by_label(&confidence);
    assert!(h.query_all_by_label_contains(&history_row).count() >= 1);
    assert!(h.query_by_label_contains("Events (").is_some());
    // Model facts and performance figures are listed.
    h.get_by_label("TRNmultiscale");
    assert!(h.query_by_label_contains("per prediction").is_some());
}

#[test]
fn a_failing_source_shows_an_error_in_the_window() {
    // A source that cannot be opened at all.
    let tmp = tempfile::tempdir().unwrap();
    let mut h = harness(SourceSpec::Folder(tmp.path().join("missing")), 0.5);
    h.run_steps(2);
    let err = h.state().error().expect("an error").to_string();
    assert!(err.contains("missing"), "{err}");
    assert!(h.query_by_label_contains("Error: cannot open").is_some());
    assert!(h.query_by_label_contains("Pick another source").is_some());

    // A source that fails mid-stream (an undecodable frame).
    write_generated_frames(tmp.path(), 12).unwrap();
    std::fs::write(tmp.path().join("00004.jpg"), b"broken").unwrap();
    let mut h = harness(SourceSpec::Folder(tmp.path().into()), 0.5);
    assert!(step_until(&mut h, Duration::from_secs(30), |app| app
        .error()
        .is_some()));
    h.run_steps(2);
    assert!(h.query_by_label_contains("00004.jpg").is_some());

    // Picking another source from the window clears the error.
    h.get_by_label("Synthetic").click();
    h.run_steps(2);
    assert!(h.state().error().is_none());
    assert!(h.query_by_label_contains("generated gestures").is_some());
}

#[test]
fn refused_weights_show_in_the_window_and_another_file_can_be_loaded() {
    use candle_core::DType;
    use candle_nn::{VarBuilder, VarMap};
    use gesture_app::model::tsn::{BuildOptions, Tsn};
    use gesture_app::ui::ModelLoader;

    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.safetensors");
    let cfg = small_model().config().clone();
    let vm = VarMap::new();
    Tsn::new(
        &cfg,
        VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
        BuildOptions::training(false, 0),
    )
    .unwrap();
    let tensors = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    gesture_app::weights::save(&good, &tensors, &cfg).unwrap();
    let bad = tmp.path().join("bad.safetensors");
    std::fs::write(&bad, b"not weights").unwrap();

    let loader: ModelLoader = Box::new(|path: &std::path::Path| {
        let m = gesture_app::weights::load_model(path, &Device::Cpu).map_err(|e| e.to_string())?;
        let facts = model_facts(m.config(), "cpu", Some(path));
        Ok((Arc::new(m) as Arc<dyn FrameModel>, facts))
    });
    let startup_error = loader(&bad).err().map(|e| e.to_string());
    assert!(startup_error.is_some());
    let init = AppInit {
        model: None,
        loader: Some(loader),
        weights_text: bad.display().to_string(),
        model_facts: Vec::new(),
        source: Some(SourceSpec::Synthetic),
        options: PipelineOptions::default(),
        notice: None,
        startup_error,
        actions: None,
        armed: false,
    };
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1180.0, 760.0))
        .build_eframe(move |cc| LiveApp::new(init, &cc.egui_ctx));
    h.run_steps(2);
    assert!(h.query_by_label_contains("bad.safetensors").is_some());
    assert!(h
        .query_by_label_contains("Load another weights file")
        .is_some());

    h.state_mut()
        .weights_text_mut()
        .clone_from(&good.display().to_string());
    h.get_by_label("Load").click();
    h.run_steps(2);
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert!(h.query_by_label("good.safetensors").is_some());
    // With a model, the source opens.
    h.get_by_label("Synthetic").click();
    assert!(step_until(&mut h, Duration::from_secs(60), |app| app
        .current()
        .is_some()));
}
