//! The zip checkpoint format (PyTorch ≥ 1.6): `NAME/data.pkl` holds the object, each storage is
//! the raw file `NAME/data/<key>`, and `NAME/byteorder` (absent before 1.10: little) says how
//! the numbers are stored. Storages are read on demand, through the zip crate so each one's
//! CRC is checked. Only stored (uncompressed) entries are read, as torch.save writes them.

use super::error::ImportError;
use super::pickle;
use super::tensor::StorageRef;
use super::value::{Heap, Value};
use super::{pickle_error, StorageSource};
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use zip::ZipArchive;

/// An opened zip checkpoint: its storages, read when first asked for.
pub struct ZipStore<'a> {
    path: PathBuf,
    archive: ZipArchive<Cursor<&'a [u8]>>,
    /// Folder of `data.pkl` inside the archive, with its trailing `/`.
    prefix: String,
    big_endian: bool,
    loaded: HashMap<String, Vec<u8>>,
}

/// Unpickles `data.pkl` of the archive in `data`.
pub fn open<'a>(path: &Path, data: &'a [u8]) -> Result<(Value, Heap, ZipStore<'a>), ImportError> {
    let archive = ZipArchive::new(Cursor::new(data)).map_err(|source| ImportError::Zip {
        path: path.to_path_buf(),
        source,
    })?;
    // The root folder is named after the file it was saved as; any name will do.
    let pkl = archive
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n.ends_with("data.pkl"))
        .min_by_key(|n| n.len())
        .map(|n| n.into_owned())
        .ok_or_else(|| ImportError::NotACheckpoint {
            path: path.to_path_buf(),
            reason: "a zip archive without data.pkl".into(),
        })?;
    let mut store = ZipStore {
        path: path.to_path_buf(),
        archive,
        prefix: pkl.trim_end_matches("data.pkl").to_string(),
        big_endian: false,
        loaded: HashMap::new(),
    };
    let byteorder = format!("{}byteorder", store.prefix);
    if store.archive.index_for_name(&byteorder).is_some() {
        let order = store.read_entry(&byteorder, 0, "byteorder")?;
        store.big_endian = match order.as_slice() {
            b"little" => false,
            b"big" => true,
            _ => {
                return Err(ImportError::Unsupported {
                    path: path.to_path_buf(),
                    reason: format!("byteorder '{}'", String::from_utf8_lossy(&order)),
                })
            }
        };
    }
    let pickled = store.read_entry(&pkl, 0, "data.pkl")?;
    let root = pickle::unpickle(&pickled, 0).map_err(|e| pickle_error(path, e))?;
    Ok((root.value, root.heap, store))
}

impl ZipStore<'_> {
    /// Reads a whole entry, which must hold at least `min` bytes; `what` names it in errors.
    fn read_entry(&mut self, name: &str, min: u64, what: &str) -> Result<Vec<u8>, ImportError> {
        let path = &self.path;
        let entry = self.archive.by_name(name).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => ImportError::Malformed {
                path: path.clone(),
                reason: format!("{what} is missing from the archive ({name})"),
            },
            zip::result::ZipError::CompressionMethodNotSupported(m) => ImportError::Unsupported {
                path: path.clone(),
                reason: format!(
                    "{what} uses zip compression method {m}; torch.save stores entries uncompressed"
                ),
            },
            source => ImportError::Zip {
                path: path.clone(),
                source,
            },
        })?;
        let size = entry.size();
        if size < min {
            return Err(ImportError::Truncated {
                path: path.clone(),
                what: format!("{what} needs {min} bytes but its archive entry holds {size}"),
            });
        }
        // The declared size comes from the file: reserve fallibly, and read at most one byte
        // past it (a deflated entry could expand far beyond what it declares; the extra read
        // is also what makes the zip crate check the CRC).
        let mut buf = Vec::new();
        usize::try_from(size)
            .ok()
            .and_then(|n| buf.try_reserve_exact(n).ok())
            .ok_or_else(|| ImportError::Unsupported {
                path: path.clone(),
                reason: format!("{what} is {size} bytes, more than this machine can hold"),
            })?;
        entry
            .take(size.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| ImportError::Zip {
                path: path.clone(),
                source: e.into(),
            })?;
        if buf.len() as u64 != size {
            return Err(ImportError::Malformed {
                path: path.clone(),
                reason: format!(
                    "{what} declares {size} bytes but its archive entry holds {}{}",
                    buf.len(),
                    if buf.len() as u64 > size {
                        " or more"
                    } else {
                        ""
                    }
                ),
            });
        }
        Ok(buf)
    }
}

impl StorageSource for ZipStore<'_> {
    fn bytes(&mut self, storage: &StorageRef) -> Result<&[u8], ImportError> {
        if !self.loaded.contains_key(&storage.key) {
            let needed = storage
                .numel
                .checked_mul(storage.dtype.size() as u64)
                .ok_or_else(|| ImportError::Malformed {
                    path: self.path.clone(),
                    reason: format!(
                        "storage '{}' claims {} elements",
                        storage.key, storage.numel
                    ),
                })?;
            let name = format!("{}data/{}", self.prefix, storage.key);
            let what = format!("storage '{}'", storage.key);
            let mut data = self.read_entry(&name, needed, &what)?;
            // Only the elements the pickle declares belong to the storage.
            data.truncate(needed as usize);
            self.loaded.insert(storage.key.clone(), data);
        }
        Ok(self.loaded.get(&storage.key).map_or(&[], Vec::as_slice))
    }

    fn release(&mut self, key: &str) {
        self.loaded.remove(key);
    }

    fn big_endian(&self) -> bool {
        self.big_endian
    }
}
