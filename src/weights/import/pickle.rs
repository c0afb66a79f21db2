//! A minimal, safe pickle machine for PyTorch checkpoints (protocols 2–5).
//!
//! Nothing is ever executed: `GLOBAL` resolves against the allow-list in [`super::globals`], and
//! `REDUCE`/`NEWOBJ` may only "call" those few known constructors, which are interpreted here.
//! The machine is a loop over the input (no recursion); every length is checked against the
//! bytes that remain before anything is allocated, so memory use is bounded by the input size.
//! Containers go to the flat [`Heap`] of [`super::value`].

use super::globals;
use super::tensor::{self, StorageRef};
use super::value::{Heap, Value};
use std::collections::HashMap;
use std::rc::Rc;

/// What went wrong while unpickling, without the file name (the caller adds it).
#[derive(Debug, Clone, PartialEq)]
pub enum PickleError {
    /// The input ends inside the pickle.
    Truncated { offset: usize },
    /// A global outside the allow-list, as `module.name`.
    Forbidden(String),
    /// Broken stream or an unsupported construct.
    Malformed { offset: usize, reason: String },
    /// A well-formed pickle using a PyTorch feature this reader does not support.
    Unsupported(String),
}

/// One unpickled object, where its pickle ended, and every storage its persistent ids named.
pub struct Unpickled {
    pub value: Value,
    pub heap: Heap,
    pub end: usize,
    pub storages: Vec<Rc<StorageRef>>,
}

/// Failures of allow-listed calls and persistent loads are reported through this.
pub enum CallError {
    Malformed(String),
    Unsupported(String),
}

/// Unpickles the pickle that starts at `data[start]`.
pub fn unpickle(data: &[u8], start: usize) -> Result<Unpickled, PickleError> {
    Machine {
        data,
        pos: start,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        storages: Vec::new(),
        heap: Heap::for_input(data.len().saturating_sub(start)),
    }
    .run()
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    /// Stack lengths at each `MARK`.
    marks: Vec<usize>,
    /// Sparse: indices come from the file and may be anything up to 2^32.
    memo: HashMap<u32, Value>,
    storages: Vec<Rc<StorageRef>>,
    heap: Heap,
}

impl<'a> Machine<'a> {
    fn run(mut self) -> Result<Unpickled, PickleError> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            self.step(op, at)?;
            if op == b'.' {
                let value = self.pop(at)?;
                return Ok(Unpickled {
                    value,
                    heap: self.heap,
                    end: self.pos,
                    storages: self.storages,
                });
            }
        }
    }

    fn step(&mut self, op: u8, at: usize) -> Result<(), PickleError> {
        let bad = |reason: String| PickleError::Malformed { offset: at, reason };
        match op {
            0x80 => {
                // PROTO
                let v = self.u8()?;
                if v > 5 {
                    return Err(bad(format!("pickle protocol {v} is newer than 5")));
                }
            }
            0x95 => {
                // FRAME: the length is only a read-ahead hint
                self.take(8)?;
            }
            b'.' => {} // STOP: handled by `run`
            b'}' => {
                let d = self.heap.dict();
                self.push(d);
            }
            b']' | 0x8f => {
                // EMPTY_LIST, EMPTY_SET
                let l = self.heap.list(Vec::new());
                self.push(l);
            }
            b')' => {
                let t = self.heap.tuple(Vec::new());
                self.push(t);
            }
            b'(' => self.marks.push(self.stack.len()),
            b't' => {
                let items = self.pop_mark(at)?;
                let t = self.heap.tuple(items);
                self.push(t);
            }
            0x85..=0x87 => {
                // TUPLE1..TUPLE3
                let n = usize::from(op - 0x84);
                let floor = self.marks.last().copied().unwrap_or(0);
                if self.stack.len() < floor + n {
                    return Err(underflow(at));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                let t = self.heap.tuple(items);
                self.push(t);
            }
            b'l' | 0x91 => {
                // LIST, FROZENSET
                let items = self.pop_mark(at)?;
                let l = self.heap.list(items);
                self.push(l);
            }
            b'd' => {
                let items = self.pop_mark(at)?;
                let dict = self.heap.dict();
                self.heap.insert_pairs(&dict, items).map_err(bad)?;
                self.push(dict);
            }
            b'X' => {
                let n = self.u32()? as usize;
                self.string(n, at)?;
            }
            0x8c => {
                let n = usize::from(self.u8()?);
                self.string(n, at)?;
            }
            0x8d => {
                let n = self.len64()?;
                self.string(n, at)?;
            }
            b'T' => {
                // BINSTRING (Python 2 str): torch.load decodes it as text too
                let n = self.u32()? as usize;
                let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                self.push(Value::Str(s.into()));
            }
            b'U' => {
                let n = usize::from(self.u8()?);
                let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                self.push(Value::Str(s.into()));
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let n = match op {
                    b'B' => self.u32()? as usize,
                    b'C' => usize::from(self.u8()?),
                    _ => self.len64()?,
                };
                let b = self.take(n)?;
                self.push(Value::Bytes(b.into()));
            }
            b'J' => {
                let b = self.array::<4>()?;
                self.push(Value::Int(i64::from(i32::from_le_bytes(b))));
            }
            b'K' => {
                let v = self.u8()?;
                self.push(Value::Int(i64::from(v)));
            }
            b'M' => {
                let b = self.array::<2>()?;
                self.push(Value::Int(i64::from(u16::from_le_bytes(b))));
            }
            0x8a | 0x8b => {
                // LONG1, LONG4
                let n = if op == 0x8a {
                    usize::from(self.u8()?)
                } else {
                    self.u32()? as usize
                };
                let b = self.take(n)?;
                self.push(long_from_bytes(b));
            }
            b'G' => {
                let b = self.array::<8>()?;
                self.push(Value::Float(f64::from_be_bytes(b)));
            }
            0x88 => self.push(Value::Bool(true)),
            0x89 => self.push(Value::Bool(false)),
            b'N' => self.push(Value::None),
            b'q' => {
                let i = u32::from(self.u8()?);
                self.memo_put(i, at)?;
            }
            b'r' => {
                let i = self.u32()?;
                self.memo_put(i, at)?;
            }
            0x94 => {
                let i = u32::try_from(self.memo.len()).map_err(|_| bad("memo overflow".into()))?;
                self.memo_put(i, at)?;
            }
            b'h' | b'j' => {
                let i = if op == b'h' {
                    u32::from(self.u8()?)
                } else {
                    self.u32()?
                };
                let v = self.memo.get(&i).cloned();
                let v =
                    v.ok_or_else(|| bad(format!("memo entry {i} read before it was written")))?;
                self.push(v);
            }
            b's' => {
                let v = self.pop(at)?;
                let k = self.pop(at)?;
                let d = self.top(at)?.clone();
                self.heap.insert_pairs(&d, vec![k, v]).map_err(bad)?;
            }
            b'u' => {
                let items = self.pop_mark(at)?;
                let d = self.top(at)?.clone();
                self.heap.insert_pairs(&d, items).map_err(bad)?;
            }
            b'a' => {
                let v = self.pop(at)?;
                let l = self.top(at)?.clone();
                self.heap.append(&l, vec![v]).map_err(bad)?;
            }
            b'e' | 0x90 => {
                // APPENDS, ADDITEMS
                let items = self.pop_mark(at)?;
                let l = self.top(at)?.clone();
                self.heap.append(&l, items).map_err(bad)?;
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.global(&module, &name)?;
            }
            0x93 => {
                let name = self.pop(at)?;
                let module = self.pop(at)?;
                match (module.as_str(), name.as_str()) {
                    (Some(m), Some(n)) => self.global(m, n)?,
                    _ => return Err(bad("STACK_GLOBAL needs two strings".into())),
                }
            }
            b'R' | 0x81 => {
                // REDUCE, NEWOBJ: for the allow-listed globals both mean "construct from args"
                let args = self.pop(at)?;
                let callable = self.pop(at)?;
                let (Value::Global(g), Value::Tuple(_)) = (&callable, &args) else {
                    return Err(bad(format!(
                        "cannot call a {} with a {}",
                        callable.kind(),
                        args.kind()
                    )));
                };
                // No allow-listed callable reads more than 8 arguments; copying only those
                // keeps a huge argument tuple, reused many times, from costing time.
                let args: Vec<Value> = self
                    .heap
                    .items(&args)
                    .unwrap_or_default()
                    .iter()
                    .take(8)
                    .cloned()
                    .collect();
                let v = globals::call(*g, &args, &mut self.heap).map_err(|e| call_error(e, at))?;
                self.push(v);
            }
            b'b' => {
                // BUILD: only a numpy dtype's byte order matters; OrderedDict `_metadata` and
                // the like are attributes nothing here reads.
                let state = self.pop(at)?;
                if let Value::NumpyDtype(d) = self.top(at)? {
                    globals::build_numpy_dtype(d, &state, &self.heap);
                }
            }
            b'Q' => {
                let pid = self.pop(at)?;
                let s = tensor::persistent_load(&pid, &self.heap).map_err(|e| call_error(e, at))?;
                self.storages.push(s.clone());
                self.push(Value::Storage(s));
            }
            b'0' => {
                // POP: drops the top item, or the topmost mark if nothing is above it
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop(at)?;
                }
            }
            b'1' => {
                self.pop_mark(at)?;
            }
            b'2' => {
                let v = self.top(at)?.clone();
                self.push(v);
            }
            _ => {
                return Err(bad(format!("unsupported opcode 0x{op:02x}")));
            }
        }
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<(), PickleError> {
        match globals::resolve(module, name) {
            Ok(g) => {
                self.push(Value::Global(g));
                Ok(())
            }
            Err(globals::Refusal::Forbidden) => {
                Err(PickleError::Forbidden(format!("{module}.{name}")))
            }
            Err(globals::Refusal::Unsupported(why)) => Err(PickleError::Unsupported(why)),
        }
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self, at: usize) -> Result<Value, PickleError> {
        // A value below the topmost mark belongs to an enclosing construct.
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(underflow(at));
        }
        self.stack.pop().ok_or_else(|| underflow(at))
    }

    fn top(&self, at: usize) -> Result<&Value, PickleError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(underflow(at));
        }
        self.stack.last().ok_or_else(|| underflow(at))
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<Value>, PickleError> {
        let m = self.marks.pop().ok_or_else(|| PickleError::Malformed {
            offset: at,
            reason: "no MARK to pop".into(),
        })?;
        if m > self.stack.len() {
            return Err(underflow(at));
        }
        Ok(self.stack.split_off(m))
    }

    fn memo_put(&mut self, i: u32, at: usize) -> Result<(), PickleError> {
        let v = self.top(at)?.clone();
        self.memo.insert(i, v);
        Ok(())
    }

    fn string(&mut self, n: usize, at: usize) -> Result<(), PickleError> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| PickleError::Malformed {
            offset: at,
            reason: "string is not valid UTF-8".into(),
        })?;
        self.push(Value::Str(s.into()));
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(PickleError::Truncated { offset: self.pos })?;
        let b = &self.data[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// An 8-byte length; anything beyond the input is reported as truncation by `take`.
    fn len64(&mut self) -> Result<usize, PickleError> {
        Ok(usize::try_from(u64::from_le_bytes(self.array()?)).unwrap_or(usize::MAX))
    }

    /// A newline-terminated ASCII line (`GLOBAL` operands).
    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Truncated { offset: self.pos })?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
}

fn underflow(at: usize) -> PickleError {
    PickleError::Malformed {
        offset: at,
        reason: "stack underflow".into(),
    }
}

fn call_error(e: CallError, at: usize) -> PickleError {
    match e {
        CallError::Malformed(reason) => PickleError::Malformed { offset: at, reason },
        CallError::Unsupported(why) => PickleError::Unsupported(why),
    }
}

/// Python's `LONG1`/`LONG4` payload: little-endian two's complement of any width.
fn long_from_bytes(b: &[u8]) -> Value {
    if b.len() > 8 {
        return Value::BigInt(b.into());
    }
    let negative = b.last().is_some_and(|&x| x & 0x80 != 0);
    let mut a = [if negative { 0xff } else { 0 }; 8];
    a[..b.len()].copy_from_slice(b);
    Value::Int(i64::from_le_bytes(a))
}
