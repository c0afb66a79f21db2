//! The window's App driven by egui_kittest with a real pipeline and a real model: the current
//! label, its confidence and the event history appear once predictions arrive; the pause button
//! stops the worker's predictions (not the capture) and resume restarts them; an error (a source
//! that fails) is shown in the window, not a crash; an undecodable frame is counted in the
//! Performance panel.

use candle_core::Device;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use gesture_app::capture::SourceSpec;
use gesture_app::live::events::{EventSettings, FireAt};
use gesture_app::live::{FrameModel, PipelineOptions, WorkerOptions};
use gesture_app::testing::{random_model, write_generated_frames};
use gesture_app::ui::{model_facts, AppInit, Given, LiveApp, MemoryStorage, ModelLoader};
use gesture_app::{Arch, Consensus, ModelConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A small, fast model configuration: three Jester labels, 64 px input.
pub fn small_config() -> ModelConfig {
    let labels = ["Swiping Left", "Swiping Right", "No gesture"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::TrnMultiscale, 8, labels);
    cfg.input_size = 64;
    cfg.resize_size = 73;
    cfg
}

fn small_model() -> Arc<dyn FrameModel> {
    Arc::new(random_model(&small_config(), &Device::Cpu).unwrap())
}

fn harness(source: SourceSpec, threshold: f32) -> Harness<'static, LiveApp> {
    let options = PipelineOptions {
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
    };
    window(source, options, Some("test notice".into()))
}

/// The real window on a small random model, opening `source` with `options`.
pub fn window(
    source: SourceSpec,
    options: PipelineOptions,
    notice: Option<String>,
) -> Harness<'static, LiveApp> {
    let model = small_model();
    let facts = model_facts(model.config(), "cpu", None);
    let init = AppInit {
        model: Some(model),
        loader: None,
        weights_text: String::new(),
        model_facts: facts,
        source: Some(source),
        options,
        notice,
        startup_error: None,
        actions: None,
        armed: false,
        given: Given::default(),
        teach_dir: None,
        teach_open: false,
    };
    build(init, None)
}

/// The real App in a test window, started with `storage` as eframe would pass it.
pub fn build(init: AppInit, storage: Option<&MemoryStorage>) -> Harness<'static, LiveApp> {
    let storage = storage.cloned();
    Harness::builder()
        .with_size(egui::Vec2::new(1180.0, 760.0))
        .build_eframe(move |cc| {
            LiveApp::new(
                init,
                &cc.egui_ctx,
                storage.as_ref().map(|s| s as &dyn eframe::Storage),
            )
        })
}

/// Steps the UI (with real time passing) until `done` holds or `timeout` passes.
pub fn step_until(
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
    // Pause from the window. The worker really stops: after the predictions already in flight
    // land, no new one arrives for a while, although the generated source (30 fps) goes on; a
    // worker that ignored the pause would send one per frame.
    h.get_by_label("Pause").click();
    h.run_steps(2);
    assert!(h.query_by_label("Resume").is_some());
    let seq = |h: &Harness<'static, LiveApp>| h.state().current().map(|p| p.seq);
    let settled = Instant::now() + Duration::from_secs(30);
    let mut last = (seq(&h), Instant::now());
    while last.1.elapsed() < Duration::from_secs(1) {
        assert!(
            Instant::now() < settled,
            "predictions kept arriving for 30 s after Pause"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
        if seq(&h) != last.0 {
            last = (seq(&h), Instant::now());
        }
    }
    let paused_at = last.0.expect("a prediction before the pause");
    let frames_before = h.state().newest_frame().unwrap_or(0);
    let end = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
        h.step();
        assert_eq!(
            seq(&h),
            Some(paused_at),
            "a prediction arrived while paused"
        );
    }
    assert!(
        h.state().newest_frame().unwrap_or(0) > frames_before,
        "the source kept capturing while inference was paused"
    );

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

    // Resume: predictions for newer frames arrive again.
    h.get_by_label("Resume").click();
    h.run_steps(2);
    assert!(h.query_by_label("Pause").is_some());
    assert!(
        step_until(&mut h, Duration::from_secs(60), |app| app
            .current()
            .is_some_and(|p| p.seq > paused_at)),
        "no prediction within a minute of Resume"
    );
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

    // Picking another source from the window clears the error.
    h.get_by_label("Synthetic").click();
    h.run_steps(2);
    assert!(h.state().error().is_none());
    assert!(step_until(&mut h, Duration::from_secs(10), |app| app
        .source_health()
        .is_none()));
    h.run_steps(2);
    assert!(h.query_by_label_contains("generated gestures").is_some());

    // An undecodable frame mid-stream is dropped, counted in the Performance panel, and the
    // stream goes on.
    write_generated_frames(tmp.path(), 12).unwrap();
    std::fs::write(tmp.path().join("00004.jpg"), b"broken").unwrap();
    let mut h = harness(SourceSpec::Folder(tmp.path().into()), 0.5);
    assert!(step_until(&mut h, Duration::from_secs(30), |app| app
        .stats()
        .frames_undecodable
        == 1));
    h.run_steps(2);
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert!(h.query_by_label("frames undecodable").is_some());
}

#[test]
fn refused_weights_show_in_the_window_and_another_file_can_be_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.safetensors");
    write_weights(&good);
    let bad = tmp.path().join("bad.safetensors");
    std::fs::write(&bad, b"not weights").unwrap();

    let startup_error = loader()(&bad).err();
    assert!(startup_error.is_some());
    // As the binary starts when the weights given were refused: no model, the error shown.
    let mut init = default_init(SourceSpec::Synthetic, Given::default());
    init.model = None;
    init.weights_text = bad.display().to_string();
    init.model_facts = Vec::new();
    init.startup_error = startup_error.map(|e| e.to_string());
    let mut h = build(init, None);
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
    // A model built into the program, by the name the binary gives its default: the window says
    // it is built in.
    *h.state_mut().weights_text_mut() = "built-in:weights/demo.safetensors".into();
    h.get_by_label("Load").click();
    h.run_steps(2);
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert!(h.query_by_label("demo.safetensors (built-in)").is_some());
    // With a model, the source opens.
    h.get_by_label("Synthetic").click();
    assert!(step_until(&mut h, Duration::from_secs(60), |app| app
        .current()
        .is_some()));
}

/// A weights file of [`small_model`]'s configuration (random weights, as training saves them).
fn write_weights(path: &Path) {
    use candle_core::DType;
    use candle_nn::{VarBuilder, VarMap};
    use gesture_app::model::tsn::{BuildOptions, Tsn};

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
    gesture_app::weights::save(path, &tensors, &cfg).unwrap();
}

/// Loads weights on the CPU, as the binary's loader does.
fn loader() -> ModelLoader {
    Box::new(|path: &Path| {
        let m = gesture_app::weights::load_model(path, &Device::Cpu)?;
        let facts = model_facts(m.config(), "cpu", Some(path));
        Ok((Arc::new(m) as Arc<dyn FrameModel>, facts))
    })
}

/// What the binary passes when no flag names weights or source: the default model and source.
fn default_init(source: SourceSpec, given: Given) -> AppInit {
    let model = small_model();
    let facts = model_facts(model.config(), "cpu", None);
    AppInit {
        model: Some(model),
        loader: Some(loader()),
        weights_text: "default.safetensors".into(),
        model_facts: facts,
        source: Some(source),
        options: PipelineOptions::default(),
        notice: None,
        startup_error: None,
        given,
        actions: None,
        armed: false,
        teach_dir: None,
        teach_open: false,
    }
}

#[test]
fn the_window_remembers_its_settings_and_flags_win() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("good.safetensors");
    write_weights(&weights);
    let frames = tmp.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    write_generated_frames(&frames, 12).unwrap();
    let mut storage = MemoryStorage::default();

    // Run 1, nothing remembered: the user loads weights, opens a generated source and moves the
    // sliders; eframe saves on exit.
    let mut h = build(
        default_init(SourceSpec::Folder(frames.clone()), Given::default()),
        None,
    );
    h.run_steps(2);
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    h.state_mut()
        .weights_text_mut()
        .clone_from(&weights.display().to_string());
    h.get_by_label("Load").click();
    h.run_steps(2);
    h.get_by_label("Synthetic").click();
    h.run_steps(2);
    // An image model fires at the threshold unless the user picks the other rule.
    assert_eq!(h.state().event_settings().fire, None);
    assert!(h.query_by_label("at threshold (the model's)").is_some());
    h.get_by_label("at end").click();
    h.run_steps(1);
    assert_eq!(h.state().event_settings().fire, Some(FireAt::End));
    let mut ev = h.state().event_settings().clone();
    (ev.threshold, ev.release, ev.smoothing_ms) = (0.55, 0.25, 400.0);
    h.state_mut().set_event_settings(ev);
    h.run_steps(1);
    eframe::App::save(h.state_mut(), &mut storage);
    drop(h);

    // Run 2, no flags: it starts where run 1 ended.
    let mut h = build(
        default_init(SourceSpec::Folder(frames.clone()), Given::default()),
        Some(&storage),
    );
    h.run_steps(2);
    let app = h.state();
    assert!(app.error().is_none(), "{:?}", app.error());
    let ev = app.event_settings();
    assert_eq!(
        (ev.fire, ev.threshold, ev.release, ev.smoothing_ms),
        (Some(FireAt::End), 0.55, 0.25, 400.0)
    );
    assert_eq!(app.source_text(), "synthetic");
    assert!(
        h.query_by_label("good.safetensors").is_some(),
        "the remembered weights are loaded"
    );
    assert!(h.query_by_label_contains("generated gestures").is_some());
    drop(h);

    // Run 3, flags for threshold and source: they win; what no flag names is still remembered.
    let given = Given {
        threshold: true,
        source: true,
        ..Given::default()
    };
    let mut init = default_init(SourceSpec::Folder(frames.clone()), given);
    init.options.worker.events.threshold = 0.9;
    let mut h = build(init, Some(&storage));
    h.run_steps(2);
    let ev = h.state().event_settings();
    assert_eq!((ev.threshold, ev.smoothing_ms), (0.9, 400.0));
    assert!(
        h.state().source_text().ends_with("frames"),
        "{}",
        h.state().source_text()
    );
    assert!(h.query_by_label("good.safetensors").is_some());
    // The folder given by flag is remembered (absolute), so is the threshold now in use.
    eframe::App::save(h.state_mut(), &mut storage);
    drop(h);

    // Run 4: the remembered weights and folder are gone. The window starts on the defaults and
    // says what it dropped; nothing fails.
    std::fs::remove_file(&weights).unwrap();
    std::fs::remove_dir_all(&frames).unwrap();
    let mut h = build(
        default_init(SourceSpec::Synthetic, Given::default()),
        Some(&storage),
    );
    h.run_steps(2);
    let app = h.state();
    assert!(app.error().is_none(), "{:?}", app.error());
    assert_eq!(app.source_text(), "synthetic");
    assert_eq!(app.event_settings().threshold, 0.9);
    let notice = app
        .notice()
        .expect("a note on what was dropped")
        .to_string();
    assert!(
        notice.contains("good.safetensors") && notice.contains("frames") && notice.contains("gone"),
        "{notice}"
    );
    assert!(
        h.query_by_label("good.safetensors").is_none(),
        "the default model runs"
    );
    assert!(step_until(&mut h, Duration::from_secs(60), |app| app
        .current()
        .is_some()));
}
