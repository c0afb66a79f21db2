//! The reader and executor against the TFLite interpreter on a small model holding every
//! operator the hand models use (tests/fixtures/hands/make_small_models.py made it and its
//! reference outputs), and against bad files: truncated, an operator we do not run, shapes
//! that do not fit. The full models' parity is in tests/it/hands_tflite.rs.

use super::{HandsError, TfliteModel};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hands")
        .join(name)
}

fn weights(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("weights/hands")
        .join(name)
}

/// The largest difference relative to the reference's largest magnitude; infinite on NaN.
fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / scale)
        .map(|d| if d.is_nan() { f32::INFINITY } else { d })
        .fold(0.0, f32::max)
}

#[test]
fn every_operator_matches_the_tflite_interpreter() {
    let model = TfliteModel::from_file(fixture("ops.tflite")).unwrap();
    assert_eq!(model.input_shape(), &[1, 12, 13, 3]);
    assert_eq!(model.output_names(), ["concat", "dense", "score"]);
    let bytes = std::fs::read(fixture("ops.ref.bin")).unwrap();
    let floats: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let n_in: usize = model.input_shape().iter().product();
    let (input, rest) = floats.split_at(n_in);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let outs = pool.install(|| model.run(input)).unwrap();
        let mut at = rest;
        for out in &outs {
            let n: usize = out.shape.iter().product();
            assert_eq!(out.data.len(), n, "{}", out.name);
            let (want, tail) = at.split_at(n);
            let err = rel_err(&out.data, want);
            assert!(
                err < 1e-5,
                "{} with {threads} threads: relative error {err}",
                out.name
            );
            at = tail;
        }
        assert!(at.is_empty(), "reference has {} floats left over", at.len());
    }
}

#[test]
fn an_operator_we_do_not_run_is_named_with_the_file() {
    let err = TfliteModel::from_file(fixture("unsupported_op.tflite")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, HandsError::Op { .. }), "{err:?}");
    assert!(
        text.contains("unsupported_op.tflite") && text.contains("TANH"),
        "{text}"
    );
}

#[test]
fn a_filter_that_does_not_fit_its_input_is_refused_at_load() {
    let err = TfliteModel::from_file(fixture("wrong_shape.tflite")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("wrong_shape.tflite") && text.contains("CONV_2D"),
        "{text}"
    );
    assert!(text.contains("4 channels"), "{text}");
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = std::fs::read(fixture("ops.tflite")).unwrap();
    for cut in 0..bytes.len() {
        match TfliteModel::from_bytes(&bytes[..cut], "cut.tflite") {
            Ok(_) => panic!("a model cut at {cut} of {} bytes loaded", bytes.len()),
            Err(e) => assert!(e.to_string().starts_with("cut.tflite"), "{e}"),
        }
    }
}

#[test]
fn a_truncated_hand_model_names_its_file() {
    let bytes = std::fs::read(weights("palm_detection_full.tflite")).unwrap();
    // (The last bytes of a flatbuffer may be padding nothing points into, so cuts near the end
    // can still read a whole model.)
    for cut in [
        0,
        7,
        100,
        bytes.len() / 4,
        bytes.len() / 2,
        bytes.len() * 3 / 4,
    ] {
        match TfliteModel::from_bytes(&bytes[..cut], "palm.tflite") {
            Ok(_) => panic!("the palm model cut at {cut} bytes loaded"),
            Err(e) => assert!(e.to_string().starts_with("palm.tflite: "), "{e}"),
        }
    }
}

#[test]
fn an_input_of_the_wrong_size_is_refused() {
    let model = TfliteModel::from_file(fixture("ops.tflite")).unwrap();
    let err = model.run(&[0.0; 10]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("ops.tflite") && text.contains("[1, 12, 13, 3]"),
        "{text}"
    );
}

#[test]
fn the_shipped_models_load_with_their_shapes() {
    for (file, input, outputs) in [
        ("palm_detection_full.tflite", [1, 192, 192, 3], 2),
        ("palm_detection_lite.tflite", [1, 192, 192, 3], 2),
        ("hand_landmark_full.tflite", [1, 224, 224, 3], 4),
        ("hand_landmark_lite.tflite", [1, 224, 224, 3], 4),
    ] {
        let model = TfliteModel::from_file(weights(file)).unwrap();
        assert_eq!(model.input_shape(), &input, "{file}");
        assert_eq!(model.output_names().len(), outputs, "{file}");
    }
}

#[test]
fn a_model_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TfliteModel>();
}
