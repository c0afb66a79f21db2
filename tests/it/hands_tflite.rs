//! MediaPipe's palm detector and hand landmarker run by `hands::tflite` against the TFLite
//! interpreter (ai-edge-litert with XNNPACK) on real photographs, hand crops from them and a
//! frame of our own demo clip: every output within 1e-4 × its largest magnitude. The reference
//! numbers come from tests/fixtures/hands/make_tflite_reference.py (see its doc for the inputs).

use gesture_app::hands::tflite::TfliteModel;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Largest difference over the reference's largest magnitude; infinite on NaN.
fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    got.iter()
        .zip(want)
        .map(|(a, b)| ((a - b).abs() / scale, a.is_nan() || b.is_nan()))
        .map(|(d, nan)| if nan || d.is_nan() { f32::INFINITY } else { d })
        .fold(0.0, f32::max)
}

#[test]
fn the_hand_models_match_the_tflite_interpreter_on_photographs() {
    let bytes = std::fs::read(repo("tests/fixtures/hands/tflite_reference.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut models: BTreeMap<String, TfliteModel> = BTreeMap::new();
    let mut cases = 0;
    let mut worst: BTreeMap<String, f32> = BTreeMap::new();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for key in st.names() {
        let Some(prefix) = key.strip_suffix("/input") else {
            continue;
        };
        let model_name = prefix.split_once('/').unwrap().0;
        let model = models.entry(model_name.to_string()).or_insert_with(|| {
            TfliteModel::from_file(repo(&format!("weights/hands/{model_name}.tflite"))).unwrap()
        });
        let input = st.tensor(key).unwrap();
        assert_eq!(input.dtype(), Dtype::U8);
        assert_eq!(input.shape(), &model.input_shape()[1..], "{key}");
        // The tensor the interpreter was given, computed the same way in float32.
        let x: Vec<f32> = input
            .data()
            .iter()
            .map(|&v| {
                if model_name.starts_with("palm") {
                    v as f32 / 127.5 - 1.0
                } else {
                    v as f32 / 255.0
                }
            })
            .collect();
        // Alternate between one and two threads: the split must not change the result.
        let outs = if cases % 2 == 0 {
            model.run(&x).unwrap()
        } else {
            two.install(|| model.run(&x)).unwrap()
        };
        assert_eq!(outs.len(), model.output_names().len());
        for out in outs {
            let want = st.tensor(&format!("{prefix}/{}", out.name)).unwrap();
            assert_eq!(out.shape, want.shape(), "{prefix}/{}", out.name);
            let err = rel_err(&out.data, &floats(want.data()));
            assert!(err < 1e-4, "{prefix}/{}: relative error {err}", out.name);
            let w = worst
                .entry(format!("{model_name}/{}", out.name))
                .or_default();
            *w = w.max(err);
        }
        cases += 1;
    }
    eprintln!("worst relative errors over {cases} cases: {worst:#?}");
    assert!(cases >= 12, "only {cases} cases in the fixture");
    assert_eq!(models.len(), 4, "all four models are checked");
}
