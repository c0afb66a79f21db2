//! The allow-list of Python globals a checkpoint may name, and what "calling" each one means.
//!
//! Anything not listed is refused by name: a pickle can otherwise run arbitrary code
//! (`os.system`, `builtins.eval`, `torch.storage._load_from_bytes`, which unpickles again).

use super::pickle::CallError;
use super::tensor::{self, StorageDtype};
use super::value::{Heap, NumpyDtype, Value};
use std::cell::Cell;
use std::rc::Rc;

/// An allow-listed class or function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    OrderedDict,
    /// `set`/`frozenset`: kept as a list.
    Set,
    RebuildTensorV2,
    RebuildTensor,
    /// `_rebuild_parameter(_with_state)` and `Parameter`: the parameter is its tensor.
    RebuildParameter,
    Storage(StorageDtype),
    NumpyScalar,
    NumpyDtype,
    CodecsEncode,
}

/// Why a global was not resolved.
pub enum Refusal {
    /// Not on the allow-list (possibly code execution).
    Forbidden,
    /// A harmless PyTorch type this reader cannot decode (e.g. complex storages).
    Unsupported(String),
}

/// Looks a `module.name` pair up in the allow-list.
pub fn resolve(module: &str, name: &str) -> Result<Global, Refusal> {
    let g = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("builtins" | "__builtin__", "set" | "frozenset") => Global::Set,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")
        | ("torch.nn.parameter", "Parameter") => Global::RebuildParameter,
        ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => Global::NumpyScalar,
        ("numpy", "dtype") => Global::NumpyDtype,
        ("_codecs", "encode") => Global::CodecsEncode,
        ("torch", n) if n.ends_with("Storage") => match StorageDtype::from_storage_name(n) {
            Some(d) => Global::Storage(d),
            None => {
                return Err(Refusal::Unsupported(format!(
                    "storage type torch.{n} is not supported"
                )))
            }
        },
        _ => return Err(Refusal::Forbidden),
    };
    Ok(g)
}

/// Interprets `REDUCE`/`NEWOBJ` of an allow-listed global with `args`.
pub fn call(g: Global, args: &[Value], heap: &mut Heap) -> Result<Value, CallError> {
    let bad = |s: &str| CallError::Malformed(s.to_string());
    match g {
        Global::OrderedDict => {
            let dict = heap.dict();
            if let Some(pairs) = args.first() {
                let pairs = heap
                    .items(pairs)
                    .ok_or_else(|| bad("OrderedDict() needs a list of pairs"))?;
                let mut flat = Vec::with_capacity(pairs.len() * 2);
                for p in pairs {
                    match heap.items(p) {
                        Some(kv @ [_, _]) => flat.extend_from_slice(kv),
                        _ => return Err(bad("OrderedDict() item is not a pair")),
                    }
                }
                heap.charge_copy(flat.len()).map_err(CallError::Malformed)?;
                heap.insert_pairs(&dict, flat)
                    .map_err(CallError::Malformed)?;
            }
            Ok(dict)
        }
        Global::Set => {
            let items = match args.first() {
                Some(v) => heap
                    .items(v)
                    .ok_or_else(|| bad("set() needs a list"))?
                    .to_vec(),
                None => Vec::new(),
            };
            heap.charge_copy(items.len())
                .map_err(CallError::Malformed)?;
            Ok(heap.list(items))
        }
        Global::RebuildTensorV2 | Global::RebuildTensor => {
            if args.len() < 4 {
                return Err(bad("_rebuild_tensor needs (storage, offset, size, stride)"));
            }
            tensor::rebuild(&args[0], &args[1], &args[2], &args[3], heap)
                .map_err(CallError::Malformed)
        }
        Global::RebuildParameter => match args.first() {
            Some(t @ Value::Tensor(_)) => Ok(t.clone()),
            _ => Err(bad("_rebuild_parameter needs a tensor")),
        },
        Global::Storage(d) => Err(CallError::Unsupported(format!(
            "constructing a {d:?} storage inside the pickle is not supported"
        ))),
        Global::NumpyDtype => match args.first() {
            Some(Value::Str(code)) => {
                let (big, code) = match code.as_bytes().first() {
                    Some(b'>') => (true, &code[1..]),
                    Some(b'<' | b'=' | b'|') => (false, &code[1..]),
                    _ => (false, &code[..]),
                };
                Ok(Value::NumpyDtype(Rc::new(NumpyDtype {
                    code: code.to_string(),
                    big_endian: Cell::new(big),
                })))
            }
            _ => Err(bad("numpy.dtype() needs a type code")),
        },
        Global::NumpyScalar => match args {
            [Value::NumpyDtype(d), Value::Bytes(b), ..] => numpy_scalar(d, b),
            _ => Err(bad("numpy scalar needs (dtype, bytes)")),
        },
        Global::CodecsEncode => match args {
            [Value::Str(s), Value::Str(enc)]
                if matches!(&**enc, "latin1" | "latin-1" | "iso-8859-1") =>
            {
                // Protocol 2 stores bytes as a latin-1 text; every char must fit a byte.
                let b: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c).ok()).collect();
                let b = b.ok_or_else(|| bad("latin-1 text holds a character above 255"))?;
                Ok(Value::Bytes(b.into()))
            }
            _ => Err(bad(
                "_codecs.encode is only allowed as encode(text, 'latin1')",
            )),
        },
    }
}

/// `BUILD` on a numpy dtype: its state tuple's second item is the byte order.
pub fn build_numpy_dtype(d: &NumpyDtype, state: &Value, heap: &Heap) {
    if let Some(order) = heap.items(state).and_then(|s| s.get(1)) {
        if let Some(o) = order.as_str() {
            d.big_endian.set(o == ">");
        }
    }
}

/// Decodes a numpy scalar's raw bytes (how `best_prec1` is sometimes saved).
fn numpy_scalar(d: &NumpyDtype, b: &[u8]) -> Result<Value, CallError> {
    let big = d.big_endian.get();
    let size = match d.code.as_bytes() {
        [b'f' | b'i' | b'u' | b'b', digits @ ..] => std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<usize>().ok()),
        _ => None,
    };
    let unsupported = || {
        CallError::Unsupported(format!(
            "numpy scalar of dtype '{}' is not supported",
            d.code
        ))
    };
    let size = size
        .filter(|s| matches!(s, 1 | 2 | 4 | 8))
        .ok_or_else(unsupported)?;
    if b.len() != size {
        return Err(CallError::Malformed(format!(
            "numpy scalar of dtype '{}' has {} bytes",
            d.code,
            b.len()
        )));
    }
    // Widen to 8 bytes in little-endian order, sign-extending signed integers.
    let mut le = b.to_vec();
    if big {
        le.reverse();
    }
    let kind = d.code.as_bytes()[0];
    let negative = kind == b'i' && le.last().is_some_and(|&x| x & 0x80 != 0);
    le.resize(8, if negative { 0xff } else { 0 });
    let mut w = [0u8; 8];
    w.copy_from_slice(&le);
    Ok(match (kind, size) {
        (b'f', 8) => Value::Float(f64::from_le_bytes(w)),
        (b'f', 4) => Value::Float(short_f64(f32::from_le_bytes([w[0], w[1], w[2], w[3]]))),
        (b'f', 2) => Value::Float(short_f64(half::f16::from_le_bytes([w[0], w[1]]).to_f32())),
        (b'b', 1) => Value::Bool(w[0] != 0),
        (b'i', _) => Value::Int(i64::from_le_bytes(w)),
        (b'u', _) => Value::Int(i64::try_from(u64::from_le_bytes(w)).map_err(|_| unsupported())?),
        _ => return Err(unsupported()),
    })
}

/// The f64 whose shortest form equals the f32's (so `93.2f32` reads back as "93.2", not
/// "93.19999694824219").
fn short_f64(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}
