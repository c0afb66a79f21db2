//! Our weights file: one `.safetensors` holding the tensors (original state_dict names without
//! `module.`) and, in its metadata, the whole [`ModelConfig`] (docs/ARCHITECTURE.md §8) —
//! `--weights FILE` alone is enough to run a model.
//!
//! Metadata keys: `format` = [`FORMAT`], `contents` = `model` | `backbone` (ImageNet weights for
//! initialising training), `config` = the config as JSON, plus `arch`, `consensus`,
//! `num_segments`, `num_classes` repeated flat for tools that only show metadata, and
//! `quantized` = `q8-rows` where matrices are stored as 8-bit codes ([`Storage::Q8Rows`]).

pub mod convert;
pub mod ensemble;
pub mod import;

use crate::model::config::ModelConfig;
use crate::model::GestureModel;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// Value of the `format` metadata key.
pub const FORMAT: &str = "gesture-app/weights-v1";

/// What a weights file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    /// A whole model, ready to run.
    Model,
    /// Backbone tensors only (`base_model.*`), to initialise training (`train --pretrained`).
    Backbone,
}

impl Contents {
    fn as_str(self) -> &'static str {
        match self {
            Contents::Model => "model",
            Contents::Backbone => "backbone",
        }
    }
}

/// A weights file read from disk.
#[derive(Debug)]
pub struct WeightsFile {
    pub config: ModelConfig,
    pub contents: Contents,
    /// Tensors on the CPU, by state_dict name.
    pub tensors: HashMap<String, Tensor>,
}

/// Writes a whole model's tensors + config atomically (temp file in the same folder, then rename).
pub fn save(path: &Path, tensors: &HashMap<String, Tensor>, config: &ModelConfig) -> Result<()> {
    save_with(path, tensors, config, Contents::Model)
}

/// Writes tensors + config with the given [`Contents`], atomically.
pub fn save_with(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    config: &ModelConfig,
    contents: Contents,
) -> Result<()> {
    save_stored(path, tensors, config, contents, Storage::F32)
}

/// How a weights file stores its tensors. Loading widens either to float32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// float32: what training and conversion write.
    F32,
    /// float16: half the file, for models shipped inside the program (outputs move by about
    /// 1e-3 of their size).
    F16,
    /// Matrices (tensors of two or more dimensions, 256 values or more) as 8-bit integers with a
    /// float32 scale per row, the rest float16: about a quarter of float32, for an ensemble
    /// shipped inside the program. Each weight moves by at most half its row's step (the row's
    /// largest magnitude / 127 / 2).
    Q8Rows,
}

/// The metadata key that says a file holds [`Storage::Q8Rows`] matrices, and its value.
const QUANTIZED: (&str, &str) = ("quantized", "q8-rows");
/// The suffix of a quantised matrix's scale tensor (`NAME` + suffix: `[rows]` float32).
const Q8_SCALE: &str = ".q8_scale";
/// The smallest matrix [`Storage::Q8Rows`] quantises: smaller ones gain nothing worth the error.
const Q8_MIN_VALUES: usize = 256;

/// Writes tensors + config with the given [`Contents`] and [`Storage`], atomically.
pub fn save_stored(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    config: &ModelConfig,
    contents: Contents,
    storage: Storage,
) -> Result<()> {
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("contents".to_string(), contents.as_str().to_string());
    meta.insert(
        "config".to_string(),
        serde_json::to_string(config).map_err(|e| Error::Config(e.to_string()))?,
    );
    meta.insert("arch".to_string(), config.arch.name().to_string());
    meta.insert("consensus".to_string(), config.consensus.name().to_string());
    meta.insert("num_segments".to_string(), config.num_segments.to_string());
    meta.insert("num_classes".to_string(), config.num_classes.to_string());
    if storage == Storage::Q8Rows {
        meta.insert(QUANTIZED.0.to_string(), QUANTIZED.1.to_string());
    }

    let f32_bytes =
        |data: &[f32]| -> Vec<u8> { data.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let f16_bytes = |data: &[f32]| -> Vec<u8> {
        data.iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect()
    };
    // Sorted names keep files byte-identical for identical models.
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let mut owned = Vec::with_capacity(names.len());
    for name in names {
        let t = tensors[name]
            .to_device(&Device::Cpu)?
            .to_dtype(DType::F32)?;
        let data = t.flatten_all()?.to_vec1::<f32>()?;
        let dims = t.dims().to_vec();
        use safetensors::Dtype as D;
        match storage {
            Storage::F32 => owned.push((name.clone(), dims, D::F32, f32_bytes(&data))),
            Storage::F16 => owned.push((name.clone(), dims, D::F16, f16_bytes(&data))),
            Storage::Q8Rows if dims.len() >= 2 && data.len() >= Q8_MIN_VALUES => {
                let (codes, scales) = quantize_rows(&data, dims[0]);
                let scale_name = format!("{name}{Q8_SCALE}");
                owned.push((scale_name, vec![dims[0]], D::F32, f32_bytes(&scales)));
                owned.push((name.clone(), dims, D::U8, codes));
            }
            Storage::Q8Rows => owned.push((name.clone(), dims, D::F16, f16_bytes(&data))),
        }
    }
    let views = owned
        .iter()
        .map(|(n, shape, dtype, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (n.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::bad_file(path, format!("cannot serialise tensors: {e}")))?;
    let bytes = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::bad_file(path, format!("cannot serialise tensors: {e}")))?;
    Ok(crate::util::write_atomic(path, &bytes)?)
}

/// The bytes of a weights file: read from disk, or the program's own copy when `path` names a
/// built-in file (`built-in:weights/demo.safetensors`, [`crate::builtin`]), which then goes
/// through the same checks as a file.
fn read_bytes(path: &Path) -> Result<Cow<'static, [u8]>> {
    if let Some(name) = crate::builtin::name_in(path) {
        return match crate::builtin::file(name) {
            Some(f) => Ok(Cow::Borrowed(f.bytes)),
            None => Err(Error::bad_file(
                path,
                format!(
                    "no such built-in file (this program has {})",
                    crate::builtin::names()
                ),
            )),
        };
    }
    std::fs::read(path)
        .map(Cow::Owned)
        .map_err(|e| Error::io(path, e))
}

/// Reads a weights file: its config, what it holds, and its tensors (on the CPU). `path` may
/// name a built-in file (`built-in:NAME`).
pub fn load_file(path: &Path) -> Result<WeightsFile> {
    let bytes = read_bytes(path)?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
        Error::bad_file(
            path,
            format!("not a gesture-app weights file (not a valid safetensors file: {e})"),
        )
    })?;
    let meta = header.metadata().clone().unwrap_or_default();
    let (config, contents) = parse_metadata(path, &meta)?;
    let mut tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .map_err(|e| Error::bad_file(path, format!("cannot read tensors: {e}")))?;
    if meta.get(QUANTIZED.0).map(String::as_str) == Some(QUANTIZED.1) {
        dequantize(path, &mut tensors)?;
    }
    Ok(WeightsFile {
        config,
        contents,
        tensors,
    })
}

/// Symmetric 8-bit codes of a `[rows, ...]` matrix, one scale per row: each code is
/// `round(w / scale) + 128`, the scale the row's largest magnitude / 127 (1 for a row of zeros).
fn quantize_rows(data: &[f32], rows: usize) -> (Vec<u8>, Vec<f32>) {
    let width = (data.len() / rows.max(1)).max(1);
    let mut codes = Vec::with_capacity(data.len());
    let mut scales = Vec::with_capacity(rows);
    for row in data.chunks(width) {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 && max.is_finite() {
            max / 127.0
        } else {
            1.0
        };
        scales.push(scale);
        codes.extend(
            row.iter()
                .map(|v| ((v / scale).round().clamp(-127.0, 127.0) + 128.0) as u8),
        );
    }
    (codes, scales)
}

/// Widens a [`Storage::Q8Rows`] file's matrices back to float32 and drops their scales; a
/// matrix without its scale, a scale of the wrong shape or a scale of nothing is a damaged file.
fn dequantize(path: &Path, tensors: &mut HashMap<String, Tensor>) -> Result<()> {
    let names: Vec<String> = tensors
        .iter()
        .filter(|(_, t)| t.dtype() == DType::U8)
        .map(|(n, _)| n.clone())
        .collect();
    for name in names {
        let scale_name = format!("{name}{Q8_SCALE}");
        let Some(scale) = tensors.remove(&scale_name) else {
            return Err(Error::bad_file(
                path,
                format!("8-bit tensor {name} has no {scale_name}"),
            ));
        };
        let codes = &tensors[&name];
        let dims = codes.dims().to_vec();
        let rows = dims.first().copied().unwrap_or(0);
        if dims.len() < 2 || scale.dims() != [rows] {
            return Err(Error::bad_file(
                path,
                format!(
                    "{scale_name} has shape {:?} for {name} of shape {dims:?}",
                    scale.dims()
                ),
            ));
        }
        let width = (codes.elem_count() / rows.max(1)).max(1);
        let scale = scale.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let codes = codes.flatten_all()?.to_vec1::<u8>()?;
        let values: Vec<f32> = codes
            .chunks(width)
            .zip(&scale)
            .flat_map(|(row, s)| row.iter().map(move |c| (*c as f32 - 128.0) * s))
            .collect();
        tensors.insert(name, Tensor::from_vec(values, dims, &Device::Cpu)?);
    }
    if let Some(stray) = tensors.keys().find(|n| n.ends_with(Q8_SCALE)) {
        return Err(Error::bad_file(
            path,
            format!("{stray} scales no 8-bit tensor"),
        ));
    }
    Ok(())
}

/// Reads only the config and contents kind of a weights file (cheap: header only). `path` may
/// name a built-in file (`built-in:NAME`).
pub fn read_config(path: &Path) -> Result<(ModelConfig, Contents)> {
    let mut f: Box<dyn std::io::Read> = if crate::builtin::name_in(path).is_some() {
        Box::new(std::io::Cursor::new(read_bytes(path)?))
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| Error::io(path, e))?)
    };
    let mut len = [0u8; 8];
    std::io::Read::read_exact(&mut f, &mut len)
        .map_err(|_| Error::bad_file(path, "not a gesture-app weights file (too short)"))?;
    let n = u64::from_le_bytes(len);
    if n > 100_000_000 {
        return Err(Error::bad_file(
            path,
            "not a gesture-app weights file (bad header length)",
        ));
    }
    let mut header = vec![0u8; n as usize];
    std::io::Read::read_exact(&mut f, &mut header)
        .map_err(|_| Error::bad_file(path, "truncated: header cut short"))?;
    parse_header(path, &header)
}

/// The config in a safetensors JSON header (the bytes after the 8-byte length); `path` only
/// names the file in errors.
pub fn parse_header(path: &Path, header: &[u8]) -> Result<(ModelConfig, Contents)> {
    #[derive(serde::Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__", default)]
        meta: HashMap<String, String>,
    }
    let h: Header = serde_json::from_slice(header).map_err(|e| {
        Error::bad_file(
            path,
            format!("not a gesture-app weights file (header: {e})"),
        )
    })?;
    parse_metadata(path, &h.meta)
}

fn parse_metadata(path: &Path, meta: &HashMap<String, String>) -> Result<(ModelConfig, Contents)> {
    match meta.get("format").map(String::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(Error::bad_file(
                path,
                format!("unsupported weights format '{other}' (this build reads {FORMAT})"),
            ))
        }
        None => {
            return Err(Error::bad_file(
                path,
                "a safetensors file without gesture-app metadata; convert original checkpoints \
                 with `gesture-app convert`",
            ))
        }
    }
    let contents = match meta.get("contents").map(String::as_str) {
        Some("backbone") => Contents::Backbone,
        _ => Contents::Model,
    };
    let json = meta
        .get("config")
        .ok_or_else(|| Error::bad_file(path, "metadata has no 'config' entry"))?;
    let config: ModelConfig = serde_json::from_str(json)
        .map_err(|e| Error::bad_file(path, format!("metadata 'config' is invalid: {e}")))?;
    if contents == Contents::Model {
        config
            .validate()
            .map_err(|e| Error::bad_file(path, format!("metadata 'config' is invalid: {e}")))?;
    }
    Ok((config, contents))
}

/// Reads a whole model's file; refuses backbone-only files with a useful message.
pub fn load(path: &Path) -> Result<(ModelConfig, HashMap<String, Tensor>)> {
    let file = load_file(path)?;
    if file.contents == Contents::Backbone {
        return Err(Error::bad_file(
            path,
            "holds backbone weights only (for `gesture-app train --pretrained`), not a model to run",
        ));
    }
    Ok((file.config, file.tensors))
}

/// Loads one of our `.safetensors` weights files onto `device` as a model ready to run.
pub fn load_model(path: &Path, device: &Device) -> Result<GestureModel> {
    let (config, tensors) = load(path)?;
    GestureModel::from_tensors(config, tensors, device).map_err(|e| match e {
        Error::Mismatch { model, details } => {
            Error::bad_file(path, format!("weights do not match {model}: {details}"))
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Arch, Consensus};

    #[test]
    fn save_load_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let cfg = ModelConfig::new(
            Arch::SqueezeNet11,
            Consensus::Avg,
            3,
            vec!["a".into(), "b".into()],
        );
        let mut ts = HashMap::new();
        ts.insert(
            "x".to_string(),
            Tensor::arange(0f32, 6., &Device::Cpu)
                .unwrap()
                .reshape((2, 3))
                .unwrap(),
        );
        save(&path, &ts, &cfg).unwrap();
        let (cfg2, ts2) = load(&path).unwrap();
        assert_eq!(cfg2, cfg);
        assert_eq!(
            ts2["x"].to_vec2::<f32>().unwrap(),
            vec![vec![0., 1., 2.], vec![3., 4., 5.]]
        );
        assert_eq!(read_config(&path).unwrap().0, cfg);
        // no temp files left behind
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.safetensors");
        std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
        let e = load(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.safetensors"), "{e}");

        let junk = dir.path().join("junk.safetensors");
        std::fs::write(&junk, b"hello world, not weights").unwrap();
        let e = load(&junk).unwrap_err().to_string();
        assert!(e.contains("not a gesture-app weights file"), "{e}");

        save_with(&path, &ts, &cfg, Contents::Backbone).unwrap();
        assert!(load(&path)
            .unwrap_err()
            .to_string()
            .contains("backbone weights only"));
    }

    #[test]
    fn eight_bit_rows_round_trip_within_half_a_step_and_refuse_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.safetensors");
        let cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Avg, 3, vec!["a".into()]);
        let dev = Device::Cpu;
        // A [40, 30] matrix whose rows span different ranges, a bias, a matrix too small to
        // quantise.
        let m: Vec<f32> = (0..1200)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0 * (1 + i / 30) as f32)
            .collect();
        let mut ts = HashMap::new();
        ts.insert(
            "w".to_string(),
            Tensor::from_vec(m.clone(), (40, 30), &dev).unwrap(),
        );
        ts.insert(
            "b".to_string(),
            Tensor::from_vec(vec![0.1f32; 40], 40, &dev).unwrap(),
        );
        ts.insert(
            "s".to_string(),
            Tensor::from_vec(vec![0.3f32; 16], (4, 4), &dev).unwrap(),
        );
        save_stored(&path, &ts, &cfg, Contents::Model, Storage::Q8Rows).unwrap();
        let f32_path = dir.path().join("f.safetensors");
        save(&f32_path, &ts, &cfg).unwrap();
        let (q_len, f_len) = (
            std::fs::metadata(&path).unwrap().len(),
            std::fs::metadata(&f32_path).unwrap().len(),
        );
        assert!(q_len < f_len / 2, "{q_len} of {f_len} bytes");

        let (_, back) = load(&path).unwrap();
        let mut names: Vec<_> = back.keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["b", "s", "w"]);
        let w = back["w"].to_vec2::<f32>().unwrap();
        for (r, row) in m.chunks(30).enumerate() {
            let step = row.iter().fold(0f32, |a, v| a.max(v.abs())) / 127.0;
            for (c, v) in row.iter().enumerate() {
                let d = (w[r][c] - v).abs();
                // Written so that NaN fails.
                assert!(d <= step / 2.0 + 1e-6, "w[{r}][{c}] {} vs {v}", w[r][c]);
            }
        }
        assert_eq!(back["b"].dims(), &[40]);
        let s = back["s"]
            .to_dtype(DType::F32)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!((s[3][3] - 0.3).abs() <= 1e-3);

        // A scale lost, or one scaling nothing: the file is damaged, and says which tensor.
        let raw = std::fs::read(&path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&raw).unwrap();
        let meta = header.metadata().clone();
        for drop in ["w.q8_scale", "w"] {
            let views: Vec<_> = st
                .tensors()
                .into_iter()
                .filter(|(n, _)| n != drop)
                .collect();
            let bytes = safetensors::serialize(views, meta.clone()).unwrap();
            let bad = dir.path().join("bad.safetensors");
            std::fs::write(&bad, bytes).unwrap();
            let e = load(&bad).unwrap_err().to_string();
            assert!(e.contains("bad.safetensors") && e.contains("w"), "{e}");
        }
    }

    #[test]
    fn built_in_weights_load_like_the_file_they_were_made_from() {
        let name = Path::new("built-in:weights/demo.safetensors");
        let disk = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/demo.safetensors");
        let (built_in, contents) = read_config(name).unwrap();
        assert_eq!(contents, Contents::Model);
        assert_eq!(built_in, read_config(&disk).unwrap().0);
        let a = load_file(name).unwrap();
        let b = load_file(&disk).unwrap();
        assert_eq!(a.config, b.config);
        assert_eq!(a.tensors.len(), b.tensors.len());
        let model = load_model(name, &Device::Cpu).unwrap();
        assert_eq!(model.config().labels.len(), 9);
        for bad in ["built-in:weights/nope.safetensors", "built-in:"] {
            let err = read_config(Path::new(bad)).unwrap_err().to_string();
            assert!(
                err.contains(bad) && err.contains("built-in:weights/demo.safetensors"),
                "{err}"
            );
        }
    }
}
