//! Reading the original PyTorch checkpoints (`.pth` / `.pth.tar`, zip and pre-1.6 formats)
//! without executing anything: a small pickle machine (`pickle.rs`, values in `value.rs`) with
//! an allow-list of globals (`globals.rs`) rebuilds the state_dict's tensor views
//! (`tensor.rs`), whose data comes from the zip entries (`zip_format.rs`) or the legacy file's
//! tail (`legacy.rs`).

mod error;
mod globals;
mod legacy;
mod pickle;
mod tensor;
mod value;
mod zip_format;

#[cfg(test)]
mod tests;

pub use error::ImportError;

use candle_core::Tensor;
use pickle::PickleError;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;
use tensor::{StorageRef, TensorSpec};
use value::{Heap, Value};

/// Where a checkpoint keeps its weights, tried in this order before the top level itself.
const STATE_DICT_KEYS: [&str; 5] = ["state_dict", "model_state_dict", "model", "net", "network"];

/// A PyTorch checkpoint's weights and scalar metadata.
#[derive(Debug)]
pub struct Checkpoint {
    /// Tensors in file order, names exactly as stored (e.g. `module.base_model.0.weight`), on
    /// the CPU. float32 and float64 keep their type, float16/bfloat16 become F32, all integer
    /// types I64, uint8 and bool U8 (0/1).
    pub tensors: Vec<(String, Tensor)>,
    /// Scalars (int, float, str, bool) found at the top level beside the state_dict, as
    /// strings: `epoch` → `30`, `arch` → `BNInception`, `best_prec1` → `93.2` (a whole float
    /// is written `0.0`, as Python does); booleans are `true`/`false`.
    pub meta: BTreeMap<String, String>,
    /// Which on-disk format it was.
    pub format: CheckpointFormat,
}

/// The on-disk format of a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointFormat {
    /// PyTorch ≥ 1.6: a zip archive.
    Zip,
    /// PyTorch < 1.6: consecutive pickles followed by the raw storages.
    Legacy,
}

/// Reads a checkpoint's state_dict tensors and top-level scalars. Nothing in the file is
/// executed; globals other than tensor storages and containers are refused.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint, ImportError> {
    let data = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &data)
}

/// [`read_checkpoint`] on the file's bytes; `path` only names it in errors.
pub fn parse(path: &Path, data: &[u8]) -> Result<Checkpoint, ImportError> {
    if data.starts_with(b"PK\x03\x04") {
        let (root, heap, mut store) = zip_format::open(path, data)?;
        assemble(path, &root, &heap, &mut store, CheckpointFormat::Zip)
    } else if data.first() == Some(&0x80) {
        let (root, heap, mut store) = legacy::open(path, data)?;
        assemble(path, &root, &heap, &mut store, CheckpointFormat::Legacy)
    } else if data.get(257..262) == Some(b"ustar") {
        Err(ImportError::Unsupported {
            path: path.to_path_buf(),
            reason: "the tar-based format of PyTorch before 0.1.10".into(),
        })
    } else {
        Err(ImportError::NotACheckpoint {
            path: path.to_path_buf(),
            reason: "neither a zip archive nor a pickle".into(),
        })
    }
}

/// Where a format keeps the raw bytes of each storage.
trait StorageSource {
    /// The storage's raw bytes (checked to hold every element the file declares).
    fn bytes(&mut self, storage: &StorageRef) -> Result<&[u8], ImportError>;
    /// No tensor needs this storage any more.
    fn release(&mut self, key: &str);
    /// Whether the numbers are stored big-endian.
    fn big_endian(&self) -> bool;
}

/// Attaches the file to an unpickling error.
fn pickle_error(path: &Path, e: PickleError) -> ImportError {
    let path = path.to_path_buf();
    match e {
        PickleError::Truncated { offset } => ImportError::Truncated {
            path,
            what: format!("the pickle stops at byte {offset}"),
        },
        PickleError::Forbidden(global) => ImportError::ForbiddenGlobal { path, global },
        PickleError::Malformed { offset, reason } => ImportError::Malformed {
            path,
            reason: format!("{reason} (at byte {offset})"),
        },
        PickleError::Unsupported(reason) => ImportError::Unsupported { path, reason },
    }
}

fn assemble(
    path: &Path,
    root: &Value,
    heap: &Heap,
    store: &mut dyn StorageSource,
    format: CheckpointFormat,
) -> Result<Checkpoint, ImportError> {
    let (specs, meta) = split(path, root, heap)?;
    // Storages are freed as soon as their last tensor is built.
    let mut users: HashMap<&str, usize> = HashMap::new();
    for (_, spec) in &specs {
        *users.entry(&spec.storage.key).or_default() += 1;
    }
    let big_endian = store.big_endian();
    let mut tensors = Vec::with_capacity(specs.len());
    for (name, spec) in &specs {
        let bytes = store.bytes(&spec.storage)?;
        let t = spec
            .materialize(bytes, big_endian)
            .map_err(|reason| ImportError::BadTensor {
                path: path.to_path_buf(),
                name: name.clone(),
                reason,
            })?;
        tensors.push((name.clone(), t));
        let key = spec.storage.key.as_str();
        if let Some(n) = users.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                store.release(key);
            }
        }
    }
    Ok(Checkpoint {
        tensors,
        meta,
        format,
    })
}

type Specs = Vec<(String, Rc<TensorSpec>)>;

/// Finds the state_dict's tensors and the top-level scalars.
fn split(
    path: &Path,
    root: &Value,
    heap: &Heap,
) -> Result<(Specs, BTreeMap<String, String>), ImportError> {
    let no_state_dict = |reason: String| ImportError::NoStateDict {
        path: path.to_path_buf(),
        reason,
    };
    let Some(top) = heap.entries(root) else {
        return Err(no_state_dict(format!(
            "the checkpoint is a {}, not a dict",
            root.kind()
        )));
    };
    let mut meta = BTreeMap::new();
    for (k, v) in top.iter() {
        if let (Some(k), Some(v)) = (k.as_str(), scalar_string(v)) {
            meta.insert(k.to_string(), v);
        }
    }
    let nested = STATE_DICT_KEYS.iter().find_map(|&want| {
        let (_, v) = top.iter().rev().find(|(k, _)| k.as_str() == Some(want))?;
        Some(tensor_entries(heap.entries(v)?)).filter(|t| !t.is_empty())
    });
    let specs = match nested {
        Some(specs) => specs,
        None => tensor_entries(top),
    };
    if specs.is_empty() {
        let keys: Vec<&str> = top
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .take(20)
            .collect();
        return Err(no_state_dict(format!(
            "no tensors under {} or at the top level (top-level keys: {})",
            STATE_DICT_KEYS.map(|k| format!("'{k}'")).join(", "),
            keys.join(", ")
        )));
    }
    Ok((specs, meta))
}

/// The string-keyed tensor entries of a dict in order; a repeated key keeps its first place
/// and its last value, as in Python.
fn tensor_entries(dict: &[(Value, Value)]) -> Specs {
    let mut out: Specs = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (k, v) in dict {
        if let (Some(k), Value::Tensor(t)) = (k.as_str(), v) {
            match seen.get(k) {
                Some(&i) => out[i].1 = t.clone(),
                None => {
                    seen.insert(k, out.len());
                    out.push((k.to_string(), t.clone()));
                }
            }
        }
    }
    out
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        // Python's spelling for whole floats ("0.0", not "0"), so the type stays visible.
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 => {
            Some(format!("{f:.1}"))
        }
        Value::Float(f) => Some(f.to_string()),
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    }
}
