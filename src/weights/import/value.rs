//! The values the pickle machine builds: a small Python object model. Containers live in a
//! flat [`Heap`] and refer to each other by index, so a file nesting lists a million deep, or
//! making a dict contain itself, cannot make dropping them recurse.

use super::globals::Global;
use super::tensor::{StorageRef, TensorSpec};
use std::cell::Cell;
use std::rc::Rc;

/// A Python value as far as checkpoints need them. Tuples, lists and dicts are indices into
/// the [`Heap`], so they are shared like Python objects (a memoised dict filled later is the
/// same dict everywhere).
#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer wider than 64 bits: little-endian two's complement bytes (`LONG1`/`LONG4`).
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(usize),
    /// Lists, and sets/frozensets (order kept, duplicates not removed: nothing here needs it).
    List(usize),
    /// Dicts and OrderedDicts, in insertion order; a repeated key is resolved by the reader.
    Dict(usize),
    /// An allow-listed callable or class.
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorSpec>),
    NumpyDtype(Rc<NumpyDtype>),
}

/// A `numpy.dtype` (only what decoding a numpy scalar needs).
#[derive(Debug)]
pub struct NumpyDtype {
    /// Type code without byte order, e.g. `f8`, `i8`, `b1`.
    pub code: String,
    /// Set by `BUILD` from the dtype's state (`'>'` means big-endian).
    pub big_endian: Cell<bool>,
}

impl Value {
    /// The Python type name, for error messages (never prints contents: values may be huge).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(_) => "class or function",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
            Value::NumpyDtype(_) => "numpy.dtype",
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Where tuples, lists (`seqs`) and dicts live.
#[derive(Default, Debug)]
pub struct Heap {
    seqs: Vec<Vec<Value>>,
    dicts: Vec<Vec<(Value, Value)>>,
    /// Items copied by constructors (`OrderedDict(list)`, `set(list)`), and the most allowed.
    copied: usize,
    copy_limit: usize,
}

impl Heap {
    /// An empty heap for a pickle of `input_len` bytes. Every other opcode consumes what it
    /// stores, but a constructor called again and again on one big list would copy it each
    /// time; a legitimate file copies each item once, so the input size bounds the copies.
    pub fn for_input(input_len: usize) -> Self {
        Heap {
            copy_limit: input_len.saturating_mul(2).saturating_add(1024),
            ..Heap::default()
        }
    }

    /// Accounts for `n` items about to be copied.
    pub fn charge_copy(&mut self, n: usize) -> Result<(), String> {
        self.copied = self.copied.saturating_add(n);
        if self.copied > self.copy_limit {
            return Err("the pickle copies far more items than it holds".into());
        }
        Ok(())
    }

    /// A new tuple.
    pub fn tuple(&mut self, items: Vec<Value>) -> Value {
        self.seqs.push(items);
        Value::Tuple(self.seqs.len() - 1)
    }

    /// A new list.
    pub fn list(&mut self, items: Vec<Value>) -> Value {
        self.seqs.push(items);
        Value::List(self.seqs.len() - 1)
    }

    /// A new, empty dict.
    pub fn dict(&mut self) -> Value {
        self.dicts.push(Vec::new());
        Value::Dict(self.dicts.len() - 1)
    }

    /// The items of a tuple or list.
    pub fn items(&self, v: &Value) -> Option<&[Value]> {
        match v {
            Value::Tuple(i) | Value::List(i) => self.seqs.get(*i).map(Vec::as_slice),
            _ => None,
        }
    }

    /// The entries of a dict, in insertion order.
    pub fn entries(&self, v: &Value) -> Option<&[(Value, Value)]> {
        match v {
            Value::Dict(i) => self.dicts.get(*i).map(Vec::as_slice),
            _ => None,
        }
    }

    /// `SETITEM(S)` / `DICT`: `items` alternate key, value.
    pub fn insert_pairs(&mut self, target: &Value, items: Vec<Value>) -> Result<(), String> {
        let d = match target {
            Value::Dict(i) => self.dicts.get_mut(*i),
            _ => None,
        };
        let d = d.ok_or_else(|| format!("cannot set items on a {}", target.kind()))?;
        if !items.len().is_multiple_of(2) {
            return Err("odd number of items for a dict".into());
        }
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            d.push((k, v));
        }
        Ok(())
    }

    /// `APPEND(S)` / `ADDITEMS`.
    pub fn append(&mut self, target: &Value, items: Vec<Value>) -> Result<(), String> {
        match target {
            Value::List(i) => match self.seqs.get_mut(*i) {
                Some(l) => {
                    l.extend(items);
                    Ok(())
                }
                None => Err("dangling list".into()),
            },
            other => Err(format!("cannot append to a {}", other.kind())),
        }
    }
}
