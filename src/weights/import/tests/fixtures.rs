//! The real checkpoints in /work/shared/fixtures: every one loads, names/shapes/dtypes are
//! right, the legacy file equals its zip twin bit for bit, and values match the raw bytes.

use super::super::{read_checkpoint, Checkpoint, CheckpointFormat, ImportError};
use super::fixtures_dir;
use candle_core::DType;
use std::path::PathBuf;

fn load(name: &str) -> Option<Checkpoint> {
    let dir = fixtures_dir()?;
    Some(read_checkpoint(&dir.join(name)).unwrap_or_else(|e| panic!("{e}")))
}

fn tensor<'a>(ck: &'a Checkpoint, name: &str) -> &'a candle_core::Tensor {
    ck.tensors
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

#[test]
fn every_fixture_loads() {
    let Some(dir) = fixtures_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".pth.tar"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 7,
        "expected the 7 fixture checkpoints, found {files:?}"
    );
    for f in files {
        let ck = read_checkpoint(&f).unwrap_or_else(|e| panic!("{e}"));
        let legacy = f.to_string_lossy().contains("_legacy");
        let want = if legacy {
            CheckpointFormat::Legacy
        } else {
            CheckpointFormat::Zip
        };
        assert_eq!(ck.format, want, "{}", f.display());
        assert!(
            ck.tensors.len() > 50,
            "{}: {} tensors",
            f.display(),
            ck.tensors.len()
        );
        assert!(ck.tensors.iter().all(|(n, _)| n.starts_with("module.")));
        assert_eq!(ck.meta.get("epoch").map(String::as_str), Some("1"));
        assert_eq!(ck.meta.get("best_prec1").map(String::as_str), Some("0.0"));
        assert!(!ck.meta.contains_key("state_dict"));
    }
}

#[test]
fn squeezenet_names_shapes_and_meta() {
    let Some(ck) = load("squeezenet1_1_TRNmultiscale_3seg.pth.tar") else {
        return;
    };
    assert_eq!(ck.tensors.len(), 60);
    assert_eq!(
        ck.meta.get("arch").map(String::as_str),
        Some("squeezenet1_1")
    );
    let w = tensor(&ck, "module.base_model.0.weight");
    assert_eq!(w.dims(), &[64, 3, 3, 3]);
    assert_eq!(w.dtype(), DType::F32);
    assert_eq!(ck.tensors[0].0, "module.base_model.0.weight");
    assert_eq!(ck.tensors[1].0, "module.base_model.0.bias");
    assert_eq!(
        tensor(&ck, "module.base_model.3.squeeze.weight").dims(),
        &[16, 64, 1, 1]
    );
}

#[test]
fn bninception_counts_and_int_buffers() {
    let Some(ck) = load("BNInception_MLP_8seg.pth.tar") else {
        return;
    };
    assert_eq!(ck.tensors.len(), 489);
    assert_eq!(ck.meta.get("arch").map(String::as_str), Some("BNInception"));
    let w = tensor(&ck, "module.base_model.conv1_7x7_s2.weight");
    assert_eq!(w.dims(), &[64, 3, 7, 7]);
    let n = tensor(&ck, "module.base_model.conv1_7x7_s2_bn.num_batches_tracked");
    assert_eq!(n.dtype(), DType::I64);
    assert_eq!(n.rank(), 0);
    // Counted with python3's pickle module (persistent ids stubbed out): 11615611 float32
    // elements and 69 int64 `num_batches_tracked` scalars.
    let count = |dt: DType| -> usize {
        ck.tensors
            .iter()
            .filter(|(_, t)| t.dtype() == dt)
            .map(|(_, t)| t.elem_count())
            .sum()
    };
    assert_eq!(count(DType::F32), 11_615_611);
    assert_eq!(count(DType::I64), 69);
}

#[test]
fn legacy_equals_zip_bitwise() {
    let Some(zip) = load("squeezenet1_1_TRNmultiscale_3seg.pth.tar") else {
        return;
    };
    let Some(legacy) = load("squeezenet1_1_TRNmultiscale_3seg_legacy.pth.tar") else {
        return;
    };
    assert_eq!(zip.meta, legacy.meta);
    assert_eq!(zip.tensors.len(), legacy.tensors.len());
    for ((na, a), (nb, b)) in zip.tensors.iter().zip(&legacy.tensors) {
        assert_eq!(na, nb);
        assert_eq!(a.dims(), b.dims(), "{na}");
        assert_eq!(a.dtype(), b.dtype(), "{na}");
        let bits = |t: &candle_core::Tensor| -> Vec<u32> {
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            v.iter().map(|x| x.to_bits()).collect()
        };
        assert!(bits(a) == bits(b), "{na} differs");
    }
}

/// Independent check against the raw storage bytes. Numbers extracted with:
/// ```text
/// python3 -c "import zipfile,struct; z=zipfile.ZipFile('squeezenet1_1_TRNmultiscale_3seg.pth.tar'); \
///   print(struct.unpack('<5f', z.read('squeezenet1_1_TRNmultiscale_3seg.pth/data/0')[:20]))"
/// ```
/// (storage '0' is `module.base_model.0.weight`, offset 0, contiguous) and likewise for
/// `BNInception_MLP_8seg.pth/data/0` (`module.base_model.conv1_7x7_s2.weight`).
#[test]
fn first_values_match_python_struct() {
    // Python prints the f32 values widened to f64; compare them that way, exactly.
    let cases: [(&str, &str, [f64; 5]); 2] = [
        (
            "squeezenet1_1_TRNmultiscale_3seg.pth.tar",
            "module.base_model.0.weight",
            [
                -0.4014573395252228,
                0.3728608191013336,
                0.19847604632377625,
                -0.08892500400543213,
                -0.4445904791355133,
            ],
        ),
        (
            "BNInception_MLP_8seg.pth.tar",
            "module.base_model.conv1_7x7_s2.weight",
            [
                -0.180510476231575,
                -0.1490054428577423,
                -0.10300694406032562,
                0.004112571477890015,
                0.19367679953575134,
            ],
        ),
    ];
    for (file, name, want) in cases {
        let Some(ck) = load(file) else { return };
        let got = tensor(&ck, name)
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let got: Vec<f64> = got[..5].iter().map(|&x| f64::from(x)).collect();
        assert_eq!(got, want, "{file} {name}");
    }
}

#[test]
fn truncated_fixtures_fail_cleanly() {
    let Some(dir) = fixtures_dir() else { return };
    for name in [
        "squeezenet1_1_TRNmultiscale_3seg.pth.tar",
        "squeezenet1_1_TRNmultiscale_3seg_legacy.pth.tar",
    ] {
        let full = std::fs::read(dir.join(name)).expect("fixture");
        for cut in [1000, full.len() / 2, full.len() - 1] {
            let f = super::builder::temp_file(&full[..cut]);
            let e = read_checkpoint(f.path()).expect_err("a cut file must not load");
            assert!(
                e.to_string().starts_with(&f.path().display().to_string()),
                "{e}"
            );
            if name.contains("legacy") {
                assert!(
                    matches!(e, ImportError::Truncated { .. }),
                    "{name} cut at {cut}: {e}"
                );
            }
        }
    }
}

#[test]
fn legacy_storage_cut_short_names_the_storage() {
    let Some(dir) = fixtures_dir() else { return };
    let full = std::fs::read(dir.join("squeezenet1_1_TRNmultiscale_3seg_legacy.pth.tar"))
        .expect("fixture");
    // 13411 is where the first storage's 8-byte size starts (found with pickletools); 9216 elements.
    let f = super::builder::temp_file(&full[..13411 + 8 + 1000]);
    let e = read_checkpoint(f.path()).expect_err("cut storage");
    let msg = e.to_string();
    assert!(
        msg.contains("truncated: storage '94856291187536' needs 9216 elements of 4 bytes but 1000 bytes remain"),
        "{msg}"
    );
}
