//! The legacy checkpoint format (PyTorch < 1.6, how 2019 checkpoints were saved): consecutive
//! pickles — magic number, protocol version 1001, sys_info, the object, the list of storage
//! keys — then, for each key in that order, an 8-byte little-endian element count and the raw
//! little-endian elements (PyTorch byte-swaps on big-endian machines, so the data is always LE).

use super::error::ImportError;
use super::pickle;
use super::tensor::{StorageDtype, StorageRef};
use super::value::{Heap, Value};
use super::{pickle_error, StorageSource};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `0x1950a86a20f9469cfc6c`, little-endian, as `LONG1` stores it.
const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const PROTOCOL_VERSION: i64 = 1001;

/// The storages of a legacy checkpoint: slices of the file's bytes.
pub struct LegacyStore<'a> {
    path: PathBuf,
    storages: HashMap<String, &'a [u8]>,
}

/// Parses the pickles and locates every storage's data in `data`.
pub fn open<'a>(
    path: &Path,
    data: &'a [u8],
) -> Result<(Value, Heap, LegacyStore<'a>), ImportError> {
    let not_torch = |reason: &str| ImportError::NotACheckpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let unpickle = |start| pickle::unpickle(data, start).map_err(|e| pickle_error(path, e));

    let magic = unpickle(0)?;
    match &magic.value {
        Value::BigInt(b) if **b == MAGIC => {}
        _ => return Err(not_torch("a pickle without PyTorch's magic number")),
    }
    let version = unpickle(magic.end)?;
    match version.value {
        Value::Int(PROTOCOL_VERSION) => {}
        Value::Int(v) => {
            return Err(ImportError::Unsupported {
                path: path.to_path_buf(),
                reason: format!("legacy protocol version {v} (expected {PROTOCOL_VERSION})"),
            })
        }
        _ => return Err(not_torch("a pickle without PyTorch's protocol version")),
    }
    let sys_info = unpickle(version.end)?;
    if !matches!(sys_info.value, Value::Dict(_)) {
        return Err(not_torch("a pickle without PyTorch's sys_info"));
    }
    let main = unpickle(sys_info.end)?;
    let keys = unpickle(main.end)?;

    let malformed = |reason: String| ImportError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    // Each key's element type, from the persistent ids the object named.
    let mut dtypes: HashMap<&str, StorageDtype> = HashMap::new();
    for s in &main.storages {
        match dtypes.insert(&s.key, s.dtype) {
            Some(d) if d != s.dtype => {
                return Err(malformed(format!(
                    "storage '{}' is named both as {d:?} and as {:?}",
                    s.key, s.dtype
                )))
            }
            _ => {}
        }
    }
    let mut pos = keys.end;
    let keys = keys
        .heap
        .items(&keys.value)
        .ok_or_else(|| malformed("the storage key list is not a list".into()))?;

    let mut storages = HashMap::new();
    for key in keys {
        let key = key
            .as_str()
            .ok_or_else(|| malformed("a storage key is not a string".into()))?;
        let dtype = *dtypes
            .get(key)
            .ok_or_else(|| malformed(format!("storage '{key}' is listed but never used")))?;
        let truncated = |what: String| ImportError::Truncated {
            path: path.to_path_buf(),
            what,
        };
        let remain = data.len() - pos;
        let count = data.get(pos..pos + 8).ok_or_else(|| {
            truncated(format!(
                "storage '{key}' needs an 8-byte size but {remain} bytes remain"
            ))
        })?;
        let mut le = [0u8; 8];
        le.copy_from_slice(count);
        let count = u64::from_le_bytes(le);
        pos += 8;
        let remain = data.len() - pos;
        let nbytes = count
            .checked_mul(dtype.size() as u64)
            .filter(|&n| n <= remain as u64)
            .ok_or_else(|| {
                truncated(format!(
                    "storage '{key}' needs {count} elements of {} bytes but {remain} bytes remain",
                    dtype.size()
                ))
            })? as usize;
        storages.insert(key.to_string(), &data[pos..pos + nbytes]);
        pos += nbytes;
    }
    let store = LegacyStore {
        path: path.to_path_buf(),
        storages,
    };
    Ok((main.value, main.heap, store))
}

impl StorageSource for LegacyStore<'_> {
    fn bytes(&mut self, storage: &StorageRef) -> Result<&[u8], ImportError> {
        self.storages
            .get(&storage.key)
            .copied()
            .ok_or_else(|| ImportError::Malformed {
                path: self.path.clone(),
                reason: format!(
                    "storage '{}' is used but missing from the storage key list",
                    storage.key
                ),
            })
    }

    fn release(&mut self, _key: &str) {}

    fn big_endian(&self) -> bool {
        false
    }
}
