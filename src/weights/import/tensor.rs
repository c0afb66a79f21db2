//! Storages and tensor views as the pickle describes them, and turning a view plus its
//! storage's raw bytes into a contiguous candle tensor.

use super::pickle::CallError;
use super::value::{Heap, Value};
use candle_core::{Device, Tensor};
use std::rc::Rc;

/// Above this many elements a tensor may not hold more elements than its storage (only
/// zero-stride broadcast views do): a few bytes of pickle must not make us allocate terabytes.
const MAX_BROADCAST_ELEMENTS: usize = 1 << 26;
/// More dimensions than any real tensor has; bounds the shape vectors a file can make us build.
const MAX_DIMS: usize = 64;

/// The element type of a PyTorch storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageDtype {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl StorageDtype {
    /// From a class name such as `FloatStorage`.
    pub fn from_storage_name(name: &str) -> Option<Self> {
        Some(match name {
            "DoubleStorage" => Self::F64,
            "FloatStorage" => Self::F32,
            "HalfStorage" => Self::F16,
            "BFloat16Storage" => Self::BF16,
            "LongStorage" => Self::I64,
            "IntStorage" => Self::I32,
            "ShortStorage" => Self::I16,
            "CharStorage" => Self::I8,
            "ByteStorage" => Self::U8,
            "BoolStorage" => Self::Bool,
            _ => return None,
        })
    }

    /// Bytes per element on disk.
    pub fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 | Self::I16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }
}

/// A storage named by a persistent id: `('storage', type, key, location, numel[, view])`.
#[derive(Debug)]
pub struct StorageRef {
    pub key: String,
    pub dtype: StorageDtype,
    /// Element count the pickle claims (checked against the data actually present).
    pub numel: u64,
    /// Legacy format: this storage is `(offset, len)` elements of storage `key`.
    pub view: Option<(u64, u64)>,
}

/// A tensor: a strided view into a storage, in elements.
#[derive(Debug)]
pub struct TensorSpec {
    pub storage: Rc<StorageRef>,
    pub offset: u64,
    pub shape: Vec<usize>,
    pub stride: Vec<u64>,
}

/// Interprets a persistent id (`BINPERSID`).
pub fn persistent_load(pid: &Value, heap: &Heap) -> Result<Rc<StorageRef>, CallError> {
    let bad = |s: String| CallError::Malformed(s);
    let items = heap
        .items(pid)
        .ok_or_else(|| bad(format!("persistent id is a {}, not a tuple", pid.kind())))?;
    match items.first().and_then(Value::as_str) {
        Some("storage") => {}
        Some("module") => {
            return Err(CallError::Unsupported(
                "it pickles a whole model object (torch.save(model)); save its state_dict instead"
                    .into(),
            ))
        }
        _ => return Err(bad("persistent id is not a storage".into())),
    }
    let (Some(Value::Global(super::globals::Global::Storage(dtype))), Some(key), Some(numel)) =
        (items.get(1), items.get(2), items.get(4))
    else {
        return Err(bad(
            "storage id is not ('storage', type, key, location, numel)".into(),
        ));
    };
    let key = key
        .as_str()
        .ok_or_else(|| bad("storage key is not a string".into()))?;
    let numel = non_negative(numel, "storage size").map_err(bad)?;
    let view = match items.get(5) {
        None | Some(Value::None) => None,
        Some(v) => match heap.items(v) {
            Some([_, offset, len]) => Some((
                non_negative(offset, "storage view offset").map_err(bad)?,
                non_negative(len, "storage view size").map_err(bad)?,
            )),
            _ => return Err(bad("storage view is not (key, offset, size)".into())),
        },
    };
    Ok(Rc::new(StorageRef {
        key: key.to_string(),
        dtype: *dtype,
        numel,
        view,
    }))
}

/// `_rebuild_tensor(_v2)(storage, storage_offset, size, stride, ...)`.
pub fn rebuild(
    storage: &Value,
    offset: &Value,
    size: &Value,
    stride: &Value,
    heap: &Heap,
) -> Result<Value, String> {
    let Value::Storage(storage) = storage else {
        return Err(format!("tensor storage is a {}", storage.kind()));
    };
    let dims = |v: &Value, what: &str| -> Result<Vec<u64>, String> {
        let items = heap
            .items(v)
            .ok_or_else(|| format!("tensor {what} is a {}", v.kind()))?;
        if items.len() > MAX_DIMS {
            return Err(format!("tensor has {} dimensions", items.len()));
        }
        items.iter().map(|x| non_negative(x, what)).collect()
    };
    let shape = dims(size, "size")?
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| format!("tensor dimension {d} is too large")))
        .collect::<Result<Vec<_>, _>>()?;
    let stride = dims(stride, "stride")?;
    if shape.len() != stride.len() {
        return Err(format!(
            "tensor size has {} dimensions but stride has {}",
            shape.len(),
            stride.len()
        ));
    }
    Ok(Value::Tensor(Rc::new(TensorSpec {
        storage: storage.clone(),
        offset: non_negative(offset, "storage offset")?,
        shape,
        stride,
    })))
}

fn non_negative(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Int(i) => u64::try_from(*i).map_err(|_| format!("{what} is negative ({i})")),
        Value::BigInt(_) => Err(format!("{what} does not fit 64 bits")),
        other => Err(format!("{what} is a {}, not an int", other.kind())),
    }
}

impl TensorSpec {
    /// Number of elements (checked).
    fn numel(&self) -> Result<usize, String> {
        self.shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| format!("shape {:?} has too many elements", self.shape))
    }

    /// Builds the tensor from its storage's bytes (`bytes` holds exactly the storage's
    /// elements, in the file's byte order). Views are gathered into contiguous data.
    pub fn materialize(&self, bytes: &[u8], big_endian: bool) -> Result<Tensor, String> {
        let es = self.storage.dtype.size();
        let mut available = (bytes.len() / es) as u64;
        let mut offset = self.offset;
        if let Some((view_offset, view_len)) = self.storage.view {
            // The pickle's storage is a slice of the stored one.
            let end = view_offset.checked_add(view_len);
            if end.is_none_or(|e| e > available) {
                return Err(format!(
                    "storage view {view_offset}+{view_len} lies outside storage '{}' of {available} elements",
                    self.storage.key
                ));
            }
            available = view_len;
            offset = offset.saturating_add(view_offset);
        }
        let numel = self.numel()?;
        if numel > 0 {
            let last =
                self.shape
                    .iter()
                    .zip(&self.stride)
                    .try_fold(self.offset, |acc, (&d, &s)| {
                        (d as u64 - 1)
                            .checked_mul(s)
                            .and_then(|x| x.checked_add(acc))
                    });
            match last {
                Some(last) if last < available => {}
                _ => {
                    return Err(format!(
                        "view (offset {}, size {:?}, stride {:?}) reaches past the {available} elements of storage '{}'",
                        self.offset, self.shape, self.stride, self.storage.key
                    ))
                }
            }
        }
        if numel as u64 > available && numel > MAX_BROADCAST_ELEMENTS {
            return Err(format!(
                "{numel} elements broadcast from a storage of {available}"
            ));
        }
        let idx = Indices::new(offset, &self.shape, &self.stride, numel);
        let cpu = &Device::Cpu;
        let shape = self.shape.clone();
        let t = match (self.storage.dtype, big_endian) {
            (StorageDtype::F32, false) => {
                Tensor::from_vec(gather(bytes, idx, f32::from_le_bytes)?, shape, cpu)
            }
            (StorageDtype::F32, true) => {
                Tensor::from_vec(gather(bytes, idx, f32::from_be_bytes)?, shape, cpu)
            }
            (StorageDtype::F64, false) => {
                Tensor::from_vec(gather(bytes, idx, f64::from_le_bytes)?, shape, cpu)
            }
            (StorageDtype::F64, true) => {
                Tensor::from_vec(gather(bytes, idx, f64::from_be_bytes)?, shape, cpu)
            }
            (StorageDtype::I64, false) => {
                Tensor::from_vec(gather(bytes, idx, i64::from_le_bytes)?, shape, cpu)
            }
            (StorageDtype::I64, true) => {
                Tensor::from_vec(gather(bytes, idx, i64::from_be_bytes)?, shape, cpu)
            }
            (StorageDtype::F16, be) => Tensor::from_vec(
                gather(bytes, idx, |b: [u8; 2]| {
                    half::f16::from_bits(u16_of(b, be)).to_f32()
                })?,
                shape,
                cpu,
            ),
            (StorageDtype::BF16, be) => Tensor::from_vec(
                gather(bytes, idx, |b: [u8; 2]| {
                    half::bf16::from_bits(u16_of(b, be)).to_f32()
                })?,
                shape,
                cpu,
            ),
            (StorageDtype::I32, be) => Tensor::from_vec(
                gather(bytes, idx, |b: [u8; 4]| {
                    i64::from(if be {
                        i32::from_be_bytes(b)
                    } else {
                        i32::from_le_bytes(b)
                    })
                })?,
                shape,
                cpu,
            ),
            (StorageDtype::I16, be) => Tensor::from_vec(
                gather(bytes, idx, |b: [u8; 2]| i64::from(u16_of(b, be) as i16))?,
                shape,
                cpu,
            ),
            (StorageDtype::I8, _) => Tensor::from_vec(
                gather(bytes, idx, |b: [u8; 1]| i64::from(b[0] as i8))?,
                shape,
                cpu,
            ),
            (StorageDtype::U8, _) => {
                Tensor::from_vec(gather(bytes, idx, |b: [u8; 1]| b[0])?, shape, cpu)
            }
            (StorageDtype::Bool, _) => Tensor::from_vec(
                gather(bytes, idx, |b: [u8; 1]| u8::from(b[0] != 0))?,
                shape,
                cpu,
            ),
        };
        t.map_err(|e| e.to_string())
    }
}

fn u16_of(b: [u8; 2], big_endian: bool) -> u16 {
    if big_endian {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}

/// Element indices of a strided view in row-major order; a contiguous view is one range.
enum Indices {
    Range(usize, usize),
    Strided {
        offset: u64,
        shape: Vec<usize>,
        stride: Vec<u64>,
        numel: usize,
    },
}

impl Indices {
    /// The caller has checked that every index fits the storage (so fits `usize`).
    fn new(offset: u64, shape: &[usize], stride: &[u64], numel: usize) -> Self {
        let mut expected = 1u64;
        let mut contiguous = true;
        for (&d, &s) in shape.iter().zip(stride).rev() {
            if d != 1 && s != expected {
                contiguous = false;
            }
            expected = expected.saturating_mul(d as u64);
        }
        if numel == 0 {
            Indices::Range(0, 0)
        } else if contiguous {
            Indices::Range(offset as usize, numel)
        } else {
            Indices::Strided {
                offset,
                shape: shape.to_vec(),
                stride: stride.to_vec(),
                numel,
            }
        }
    }
}

/// Decodes the elements at `idx` from `bytes` into a fresh vector.
fn gather<T, const N: usize>(
    bytes: &[u8],
    idx: Indices,
    decode: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>, String> {
    let one = |i: usize| -> T {
        let mut a = [0u8; N];
        a.copy_from_slice(&bytes[i * N..(i + 1) * N]);
        decode(a)
    };
    let mut out = Vec::new();
    let numel = match &idx {
        Indices::Range(_, n) | Indices::Strided { numel: n, .. } => *n,
    };
    out.try_reserve_exact(numel)
        .map_err(|_| format!("cannot allocate {numel} elements"))?;
    match idx {
        Indices::Range(start, n) => {
            out.extend(bytes[start * N..(start + n) * N].chunks_exact(N).map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                decode(a)
            }));
        }
        Indices::Strided {
            offset,
            shape,
            stride,
            numel,
        } => {
            // Odometer over the multi-index; `pos` is the element index it points at.
            let mut counter = vec![0usize; shape.len()];
            let mut pos = offset as usize;
            for _ in 0..numel {
                out.push(one(pos));
                for d in (0..shape.len()).rev() {
                    counter[d] += 1;
                    pos += stride[d] as usize;
                    if counter[d] < shape[d] {
                        break;
                    }
                    pos -= stride[d] as usize * shape[d];
                    counter[d] = 0;
                }
            }
        }
    }
    Ok(out)
}
