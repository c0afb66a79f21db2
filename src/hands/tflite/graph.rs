//! From a read model to a plan: each operator checked (types, options, shapes: computed here
//! and compared with the shapes the file declares) and turned into a [`Step`] whose weights are
//! already in the layout its kernel reads. Constants — the float16 weights behind `DEQUANTIZE`
//! included — are evaluated once here. A `PRELU` that alone consumes a convolution's or an
//! addition's output is fused into it, an `ADD` into the 1×1 convolution before it, and a 1×1
//! expansion → depthwise → 1×1 projection into one step ([`Fused`]). The run itself keeps one
//! buffer per live tensor and frees each after its last reader.

use super::depthwise::Depthwise;
use super::fused::Fused;
use super::ops::{self, Activation, Conv, Pool, Resize};
use super::schema::{dtype, opcode, options, OpCode, RawModel};
use super::TensorOut;
use crate::hands::HandsError;
use std::sync::Mutex;

/// Most elements one tensor may have (256 MB of f32): a corrupt shape is refused at load rather
/// than allocated at run time.
const MAX_ELEMENTS: usize = 1 << 26;

/// A graph output: which tensor, and what it is called.
#[derive(Debug)]
pub(super) struct Output {
    pub name: String,
    tensor: usize,
}

/// What a step computes.
#[derive(Debug)]
pub(super) enum Kernel {
    Conv(Conv),
    Depthwise(Depthwise),
    /// 1×1 expansion, depthwise, 1×1 projection, as one step.
    Fused(Box<Fused>),
    /// Elementwise sum of two equally shaped tensors, then the activation.
    Add(Activation),
    /// Per-channel PReLU (slope per last-axis index).
    Prelu(Vec<f32>),
    MaxPool(Pool),
    /// Zero padding of a 4-D tensor: (before, after) per axis.
    Pad([(usize, usize); 4]),
    Resize(Resize),
    /// A copy under a new shape.
    Reshape,
    /// Concatenation along an axis: `outer` blocks, each input contributing `inner[i]` floats
    /// per block.
    Concat {
        outer: usize,
        inner: Vec<usize>,
    },
    Mean(ops::Mean),
    FullyConnected(ops::Dense),
    Logistic,
}

impl Kernel {
    /// What the step is, for time profiles: the operator, with the window for convolutions.
    fn kind(&self) -> String {
        match self {
            Kernel::Conv(c) => format!("conv {}", c.describe()),
            Kernel::Depthwise(d) => format!("depthwise {}", d.describe()),
            Kernel::Fused(f) => format!("block {}", f.describe()),
            Kernel::Add(_) => "add".into(),
            Kernel::Prelu(_) => "prelu".into(),
            Kernel::MaxPool(_) => "max pool".into(),
            Kernel::Pad(_) => "pad".into(),
            Kernel::Resize(_) => "resize bilinear".into(),
            Kernel::Reshape => "reshape".into(),
            Kernel::Concat { .. } => "concatenation".into(),
            Kernel::Mean(_) => "mean".into(),
            Kernel::FullyConnected(_) => "fully connected".into(),
            Kernel::Logistic => "logistic".into(),
        }
    }
}

/// One operator ready to run.
#[derive(Debug)]
pub(super) struct Step {
    pub kernel: Kernel,
    /// Activation tensors read (constants are inside the kernel).
    pub inputs: Vec<usize>,
    pub output: usize,
    /// Tensors whose buffers can be freed after this step.
    pub frees: Vec<usize>,
}

/// The whole model ready to run.
#[derive(Debug)]
pub(super) struct Plan {
    pub input_name: String,
    pub input_shape: Vec<usize>,
    input: usize,
    pub outputs: Vec<Output>,
    steps: Vec<Step>,
    /// Shape of every tensor (activations and constants).
    shapes: Vec<Vec<usize>>,
    /// Buffers of the last finished run, reused by the next: fresh megabyte buffers would
    /// fault their pages in on every call (a run that finds them taken allocates its own).
    spare: Mutex<Vec<Buffer>>,
}

/// A tensor's value known at load time.
#[derive(Debug, Clone)]
enum Const {
    F32(Vec<f32>),
    I32(Vec<i32>),
}

/// The builder's view of one tensor.
#[derive(Debug, Clone)]
enum Value {
    /// Computed at run time (the input or a step's output).
    Act,
    Const(Const),
    /// Neither yet (an operator's output before its operator).
    Unset,
}

struct Builder<'m, 'a> {
    file: &'m str,
    raw: &'m RawModel<'a>,
    values: Vec<Value>,
    shapes: Vec<Vec<usize>>,
    steps: Vec<Step>,
}

/// Error for operator `index`.
struct OpErr<'b> {
    file: &'b str,
    index: usize,
    op: String,
}

impl OpErr<'_> {
    /// An options table that could not be read.
    fn opts<T>(&self, r: Result<T, String>) -> Result<T, HandsError> {
        r.map_err(|m| self.err(format!("options: {m}")))
    }

    fn err(&self, reason: impl Into<String>) -> HandsError {
        HandsError::Op {
            file: self.file.to_string(),
            index: self.index,
            op: self.op.clone(),
            reason: reason.into(),
        }
    }
}

fn bad(file: &str, reason: impl Into<String>) -> HandsError {
    HandsError::BadModel {
        file: file.to_string(),
        reason: reason.into(),
    }
}

/// Output side of SAME / VALID padding along one axis: (output size, padding before).
fn window(
    input: usize,
    k: usize,
    stride: usize,
    padding: u8,
    e: &OpErr,
) -> Result<(usize, usize), HandsError> {
    match padding {
        options::SAME => {
            let out = input.div_ceil(stride);
            let total = ((out.saturating_sub(1)) * stride + k).saturating_sub(input);
            Ok((out, total / 2))
        }
        options::VALID => {
            if input < k {
                return Err(e.err(format!("a {k}-wide window does not fit in {input}")));
            }
            Ok(((input - k) / stride + 1, 0))
        }
        p => Err(e.err(format!("padding {p} is neither SAME nor VALID"))),
    }
}

/// The window of a convolution or pool: `kh`×`kw` with the file's strides and padding over an
/// `h`×`w` input.
fn geometry(
    (h, w): (usize, usize),
    (kh, kw): (usize, usize),
    (stride_h, stride_w): (i32, i32),
    padding: u8,
    e: &OpErr,
) -> Result<ops::Geometry, HandsError> {
    let sh = positive(stride_h, "stride", e)?;
    let sw = positive(stride_w, "stride", e)?;
    let (oh, pt) = window(h, kh, sh, padding, e)?;
    let (ow, pl) = window(w, kw, sw, padding, e)?;
    Ok(ops::Geometry {
        h,
        w,
        oh,
        ow,
        kh,
        kw,
        sh,
        sw,
        pt,
        pl,
    })
}

fn activation(code: u8, e: &OpErr) -> Result<Activation, HandsError> {
    match code {
        options::ACT_NONE => Ok(Activation::None),
        options::ACT_RELU => Ok(Activation::Relu),
        options::ACT_RELU6 => Ok(Activation::Relu6),
        a => Err(e.err(format!(
            "fused activation {a} is not run (only none, RELU, RELU6)"
        ))),
    }
}

fn positive(v: i32, what: &str, e: &OpErr) -> Result<usize, HandsError> {
    if (1..=4096).contains(&v) {
        Ok(v as usize)
    } else {
        Err(e.err(format!("{what} {v} is out of range")))
    }
}

impl<'m, 'a> Builder<'m, 'a> {
    fn tensor(&self, t: i32, e: &OpErr) -> Result<usize, HandsError> {
        usize::try_from(t)
            .ok()
            .filter(|&t| t < self.raw.tensors.len())
            .ok_or_else(|| e.err(format!("tensor index {t} does not exist")))
    }

    /// Input `i` of the operator as an activation, with its shape.
    fn act_input(
        &self,
        ins: &[i32],
        i: usize,
        e: &OpErr,
    ) -> Result<(usize, Vec<usize>), HandsError> {
        let t = self.tensor(
            *ins.get(i)
                .ok_or_else(|| e.err(format!("input {i} is missing")))?,
            e,
        )?;
        match &self.values[t] {
            Value::Act => Ok((t, self.shapes[t].clone())),
            Value::Const(_) => Err(e.err(format!(
                "input {i} (`{}`) is a constant where a computed tensor is expected",
                self.raw.tensors[t].name
            ))),
            Value::Unset => Err(e.err(format!(
                "input {i} (`{}`) is read before any operator writes it",
                self.raw.tensors[t].name
            ))),
        }
    }

    /// Input `i` as a float constant, with its shape.
    fn const_f32(
        &self,
        ins: &[i32],
        i: usize,
        e: &OpErr,
    ) -> Result<(Vec<f32>, Vec<usize>), HandsError> {
        let t = self.tensor(
            *ins.get(i)
                .ok_or_else(|| e.err(format!("input {i} is missing")))?,
            e,
        )?;
        match &self.values[t] {
            Value::Const(Const::F32(v)) => Ok((v.clone(), self.shapes[t].clone())),
            _ => Err(e.err(format!(
                "input {i} (`{}`) must be a float constant",
                self.raw.tensors[t].name
            ))),
        }
    }

    /// Input `i` as an int32 constant.
    fn const_i32(&self, ins: &[i32], i: usize, e: &OpErr) -> Result<Vec<i32>, HandsError> {
        let t = self.tensor(
            *ins.get(i)
                .ok_or_else(|| e.err(format!("input {i} is missing")))?,
            e,
        )?;
        match &self.values[t] {
            Value::Const(Const::I32(v)) => Ok(v.clone()),
            _ => Err(e.err(format!(
                "input {i} (`{}`) must be an int32 constant",
                self.raw.tensors[t].name
            ))),
        }
    }

    /// Optional bias input `i` of `n` floats (zeros when omitted).
    fn bias(&self, ins: &[i32], i: usize, n: usize, e: &OpErr) -> Result<Vec<f32>, HandsError> {
        match ins.get(i) {
            None | Some(-1) => Ok(vec![0.0; n]),
            Some(_) => {
                let (b, _) = self.const_f32(ins, i, e)?;
                if b.len() != n {
                    return Err(e.err(format!("bias has {} values for {n} channels", b.len())));
                }
                Ok(b)
            }
        }
    }

    /// Records a step writing `shape` to the operator's output 0 (checked against the file).
    fn push(
        &mut self,
        outs: &[i32],
        shape: Vec<usize>,
        kernel: Kernel,
        inputs: Vec<usize>,
        e: &OpErr,
    ) -> Result<(), HandsError> {
        let out = self.output(outs, &shape, e)?;
        self.values[out] = Value::Act;
        self.steps.push(Step {
            kernel,
            inputs,
            output: out,
            frees: Vec::new(),
        });
        Ok(())
    }

    /// Checks output 0 against `shape` and returns its index.
    fn output(&mut self, outs: &[i32], shape: &[usize], e: &OpErr) -> Result<usize, HandsError> {
        let [out] = outs else {
            return Err(e.err(format!("{} outputs, one expected", outs.len())));
        };
        let out = self.tensor(*out, e)?;
        if !matches!(self.values[out], Value::Unset) {
            return Err(e.err(format!(
                "output `{}` is written twice or is a constant",
                self.raw.tensors[out].name
            )));
        }
        let t = &self.raw.tensors[out];
        if t.dtype != dtype::FLOAT32 {
            return Err(e.err(format!("output `{}` is not float32", t.name)));
        }
        let declared: Vec<usize> = t.shape.iter().map(|&d| d.max(0) as usize).collect();
        if declared.as_slice() != shape {
            return Err(e.err(format!(
                "output `{}` is declared {declared:?}, the operator gives {shape:?}",
                t.name
            )));
        }
        let n: usize = shape.iter().product();
        if n > MAX_ELEMENTS || shape.contains(&0) {
            return Err(e.err(format!("output shape {shape:?} is empty or too large")));
        }
        self.shapes[out] = shape.to_vec();
        Ok(out)
    }

    fn operator(&mut self, index: usize) -> Result<(), HandsError> {
        let op = &self.raw.ops[index];
        let code = self.raw.opcodes.get(op.opcode).ok_or_else(|| {
            bad(
                self.file,
                format!(
                    "operator {index} has operator code {} of {}",
                    op.opcode,
                    self.raw.opcodes.len()
                ),
            )
        })?;
        let e = OpErr {
            file: self.file,
            index,
            op: code.name(),
        };
        let OpCode::Builtin(code) = *code else {
            return Err(e.err("custom operators are not run"));
        };
        let (ins, outs, opts) = (&op.inputs, &op.outputs, op.options);
        match code {
            opcode::DEQUANTIZE => {
                let t = self.tensor(*ins.first().ok_or_else(|| e.err("no input"))?, &e)?;
                let value = match &self.values[t] {
                    Value::Const(Const::F32(v)) => v.clone(),
                    _ => return Err(e.err("only float16 constants are dequantized")),
                };
                let shape = self.shapes[t].clone();
                let out = self.output(outs, &shape, &e)?;
                self.values[out] = Value::Const(Const::F32(value));
            }
            opcode::CONV_2D | opcode::DEPTHWISE_CONV_2D => {
                let o = if code == opcode::CONV_2D {
                    e.opts(options::conv(opts))?
                } else {
                    e.opts(options::depthwise(opts))?
                };
                let (x, xs) = self.act_input(ins, 0, &e)?;
                let (w, ws) = self.const_f32(ins, 1, &e)?;
                let [n, h, wd, c] = xs[..] else {
                    return Err(e.err(format!("input is {xs:?}, NHWC expected")));
                };
                let [wo, kh, kw, wc] = ws[..] else {
                    return Err(e.err(format!("filter is {ws:?}, 4-D expected")));
                };
                if o.dilation_h != 1 || o.dilation_w != 1 {
                    return Err(e.err("dilated convolutions are not run"));
                }
                let geom = geometry((h, wd), (kh, kw), (o.stride_h, o.stride_w), o.padding, &e)?;
                let (oh, ow) = (geom.oh, geom.ow);
                let act = activation(o.act, &e)?;
                if code == opcode::CONV_2D {
                    if wc != c {
                        return Err(e.err(format!("filter reads {wc} channels, input has {c}")));
                    }
                    let bias = self.bias(ins, 2, wo, &e)?;
                    let conv = Conv::new(geom, c, wo, &w, bias, act);
                    self.push(outs, vec![n, oh, ow, wo], Kernel::Conv(conv), vec![x], &e)?;
                } else {
                    if wo != 1 || wc != c || o.depth_multiplier != 1 {
                        return Err(e.err(format!(
                            "depth multiplier {} (filter {ws:?} on {c} channels): only 1 is run",
                            o.depth_multiplier
                        )));
                    }
                    let bias = self.bias(ins, 2, c, &e)?;
                    let dw = Depthwise::new(geom, c, w, bias, act);
                    self.push(outs, vec![n, oh, ow, c], Kernel::Depthwise(dw), vec![x], &e)?;
                }
            }
            opcode::ADD => {
                let act = activation(e.opts(options::act(opts, 0))?, &e)?;
                let (a, as_) = self.act_input(ins, 0, &e)?;
                let (b, bs) = self.act_input(ins, 1, &e)?;
                if as_ != bs {
                    return Err(e.err(format!(
                        "adds {as_:?} and {bs:?}: only equal shapes are run"
                    )));
                }
                self.push(outs, as_, Kernel::Add(act), vec![a, b], &e)?;
            }
            opcode::PRELU => {
                let (x, xs) = self.act_input(ins, 0, &e)?;
                let (alpha, als) = self.const_f32(ins, 1, &e)?;
                let c = *xs.last().unwrap_or(&0);
                if alpha.len() != c || als.last() != Some(&c) {
                    return Err(e.err(format!(
                        "slopes {als:?} on {xs:?}: only one slope per channel is run"
                    )));
                }
                self.push(outs, xs, Kernel::Prelu(alpha), vec![x], &e)?;
            }
            opcode::MAX_POOL_2D => {
                let o = e.opts(options::pool(opts))?;
                let (x, xs) = self.act_input(ins, 0, &e)?;
                let [n, h, wd, c] = xs[..] else {
                    return Err(e.err(format!("input is {xs:?}, NHWC expected")));
                };
                let kh = positive(o.filter_h, "filter height", &e)?;
                let kw = positive(o.filter_w, "filter width", &e)?;
                let geom = geometry((h, wd), (kh, kw), (o.stride_h, o.stride_w), o.padding, &e)?;
                let (oh, ow) = (geom.oh, geom.ow);
                let act = activation(o.act, &e)?;
                let pool = Pool { geom, c, act };
                self.push(outs, vec![n, oh, ow, c], Kernel::MaxPool(pool), vec![x], &e)?;
            }
            opcode::PAD => {
                let (x, xs) = self.act_input(ins, 0, &e)?;
                let p = self.const_i32(ins, 1, &e)?;
                if xs.len() != 4 || p.len() != 8 {
                    return Err(e.err(format!("pads {xs:?} with {} values: 4-D only", p.len())));
                }
                let mut pads = [(0, 0); 4];
                let mut shape = xs.clone();
                for (axis, pad) in pads.iter_mut().enumerate() {
                    let (b, a) = (p[2 * axis], p[2 * axis + 1]);
                    if !(0..=4096).contains(&b) || !(0..=4096).contains(&a) {
                        return Err(e.err(format!("padding ({b}, {a}) is out of range")));
                    }
                    *pad = (b as usize, a as usize);
                    shape[axis] += (a + b) as usize;
                }
                self.push(outs, shape, Kernel::Pad(pads), vec![x], &e)?;
            }
            opcode::RESIZE_BILINEAR => {
                let (align, half) = e.opts(options::resize(opts))?;
                if align {
                    return Err(e.err("align_corners is not run"));
                }
                let (x, xs) = self.act_input(ins, 0, &e)?;
                let size = self.const_i32(ins, 1, &e)?;
                let (&[n, h, w, c], &[oh, ow]) = (&xs[..], &size[..]) else {
                    return Err(e.err(format!("resizes {xs:?} to {size:?}: NHWC to [h, w] only")));
                };
                let oh = positive(oh, "height", &e)?;
                let ow = positive(ow, "width", &e)?;
                let r = Resize::new(h, w, oh, ow, c, half);
                self.push(outs, vec![n, oh, ow, c], Kernel::Resize(r), vec![x], &e)?;
            }
            opcode::RESHAPE => {
                let (x, xs) = self.act_input(ins, 0, &e)?;
                let t = self.tensor(*outs.first().ok_or_else(|| e.err("no output"))?, &e)?;
                let shape: Vec<usize> = self.raw.tensors[t]
                    .shape
                    .iter()
                    .map(|&d| d.max(0) as usize)
                    .collect();
                if shape.iter().product::<usize>() != xs.iter().product::<usize>() {
                    return Err(e.err(format!("reshapes {xs:?} to {shape:?}")));
                }
                self.push(outs, shape, Kernel::Reshape, vec![x], &e)?;
            }
            opcode::CONCATENATION => {
                if e.opts(options::act(opts, 1))? != options::ACT_NONE {
                    return Err(e.err("a fused activation on a concatenation is not run"));
                }
                let axis = e.opts(options::concat_axis(opts))?;
                let mut parts = Vec::new();
                for i in 0..ins.len() {
                    parts.push(self.act_input(ins, i, &e)?);
                }
                let Some((_, first)) = parts.first() else {
                    return Err(e.err("no inputs"));
                };
                let rank = first.len() as i32;
                let ax = if axis < 0 { axis + rank } else { axis };
                if !(0..rank).contains(&ax) {
                    return Err(e.err(format!("axis {axis} of a rank-{rank} tensor")));
                }
                let ax = ax as usize;
                let mut shape = first.clone();
                shape[ax] = 0;
                for (_, s) in &parts {
                    let same = s.len() == first.len()
                        && s.iter()
                            .zip(first)
                            .enumerate()
                            .all(|(i, (a, b))| i == ax || a == b);
                    if !same {
                        return Err(e.err(format!("concatenates {first:?} and {s:?} on axis {ax}")));
                    }
                    shape[ax] += s[ax];
                }
                let outer = first[..ax].iter().product();
                let inner = parts
                    .iter()
                    .map(|(_, s)| s[ax..].iter().product())
                    .collect();
                let inputs = parts.iter().map(|(t, _)| *t).collect();
                self.push(outs, shape, Kernel::Concat { outer, inner }, inputs, &e)?;
            }
            opcode::MEAN => {
                let keep = e.opts(options::keep_dims(opts))?;
                let (x, xs) = self.act_input(ins, 0, &e)?;
                let axes = self.const_i32(ins, 1, &e)?;
                let rank = xs.len() as i32;
                let mut reduce = vec![false; xs.len()];
                for &a in &axes {
                    let a = if a < 0 { a + rank } else { a };
                    if !(0..rank).contains(&a) {
                        return Err(e.err(format!("axis {a} of a rank-{rank} tensor")));
                    }
                    reduce[a as usize] = true;
                }
                let shape: Vec<usize> = xs
                    .iter()
                    .zip(&reduce)
                    .filter_map(|(&d, &r)| match (r, keep) {
                        (true, true) => Some(1),
                        (true, false) => None,
                        (false, _) => Some(d),
                    })
                    .collect();
                let mean = ops::Mean::new(&xs, &reduce);
                self.push(outs, shape, Kernel::Mean(mean), vec![x], &e)?;
            }
            opcode::FULLY_CONNECTED => {
                let (act, format, keep) = e.opts(options::fully_connected(opts))?;
                if format != 0 || keep {
                    return Err(e.err("only default weights format without keep_num_dims is run"));
                }
                let act = activation(act, &e)?;
                let (x, xs) = self.act_input(ins, 0, &e)?;
                let (w, ws) = self.const_f32(ins, 1, &e)?;
                let [units, depth] = ws[..] else {
                    return Err(e.err(format!("weights are {ws:?}, [units, depth] expected")));
                };
                let total: usize = xs.iter().product();
                if depth == 0 || !total.is_multiple_of(depth) {
                    return Err(e.err(format!("input {xs:?} is not rows of {depth}")));
                }
                let bias = self.bias(ins, 2, units, &e)?;
                let dense = ops::Dense::new(depth, units, &w, bias, act);
                self.push(
                    outs,
                    vec![total / depth, units],
                    Kernel::FullyConnected(dense),
                    vec![x],
                    &e,
                )?;
            }
            opcode::LOGISTIC => {
                let (x, xs) = self.act_input(ins, 0, &e)?;
                self.push(outs, xs, Kernel::Logistic, vec![x], &e)?;
            }
            _ => return Err(e.err("this operator is not run")),
        }
        Ok(())
    }
}

/// A constant tensor's value from its buffer, if it has one.
fn constant(raw: &RawModel, t: usize, n: usize, file: &str) -> Result<Option<Const>, HandsError> {
    let tensor = &raw.tensors[t];
    let bytes = *raw.buffers.get(tensor.buffer).ok_or_else(|| {
        bad(
            file,
            format!(
                "tensor `{}` names buffer {} of {}",
                tensor.name,
                tensor.buffer,
                raw.buffers.len()
            ),
        )
    })?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let width = match tensor.dtype {
        dtype::FLOAT32 | dtype::INT32 => 4,
        dtype::FLOAT16 => 2,
        d => {
            return Err(bad(
                file,
                format!(
                    "tensor `{}` has type {d}; only float32, float16 and int32 are read",
                    tensor.name
                ),
            ))
        }
    };
    if bytes.len() != n * width {
        return Err(bad(
            file,
            format!(
                "tensor `{}` holds {} bytes for {n} values",
                tensor.name,
                bytes.len()
            ),
        ));
    }
    Ok(Some(match tensor.dtype {
        dtype::FLOAT32 => Const::F32(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
        ),
        dtype::FLOAT16 => Const::F32(
            bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        ),
        _ => Const::I32(
            bytes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
        ),
    }))
}

/// An activation buffer whose floats start on a 64-byte boundary: a 16-float store then fills
/// one cache line instead of parts of two (Vec's own alignment is 16 bytes).
#[derive(Debug, Default)]
struct Buffer {
    data: Vec<f32>,
    start: usize,
    len: usize,
}

impl Buffer {
    fn get(&self) -> &[f32] {
        &self.data[self.start..self.start + self.len]
    }

    fn get_mut(&mut self) -> &mut [f32] {
        &mut self.data[self.start..self.start + self.len]
    }
}

/// A buffer of `n` floats from `spare` (the smallest that fits), or a new one.
fn take_buffer(spare: &mut Vec<Buffer>, n: usize) -> Buffer {
    // Room to move the start to a line boundary.
    let room = n + 16;
    let best = (0..spare.len())
        .filter(|&i| spare[i].data.len() >= room)
        .min_by_key(|&i| spare[i].data.len());
    let mut buf = best.map(|i| spare.swap_remove(i)).unwrap_or_default();
    if buf.data.len() < room {
        // Every kernel writes all of its output: a reused buffer's old values need no zeroing.
        buf.data = vec![0.0; room];
    }
    let misalign = (buf.data.as_ptr() as usize % 64) / 4;
    buf.start = (16 - misalign) % 16;
    buf.len = n;
    buf
}

impl Plan {
    pub(super) fn build(raw: &RawModel, file: &str) -> Result<Self, HandsError> {
        let mut values = Vec::with_capacity(raw.tensors.len());
        let mut shapes = Vec::with_capacity(raw.tensors.len());
        for (t, tensor) in raw.tensors.iter().enumerate() {
            let mut shape = Vec::with_capacity(tensor.shape.len());
            let mut n: usize = 1;
            for &d in &tensor.shape {
                let d = usize::try_from(d).ok().filter(|&d| d > 0).ok_or_else(|| {
                    bad(
                        file,
                        format!("tensor `{}` has shape {:?}", tensor.name, tensor.shape),
                    )
                })?;
                n = n.saturating_mul(d);
                shape.push(d);
            }
            if n > MAX_ELEMENTS {
                return Err(bad(
                    file,
                    format!("tensor `{}` of shape {shape:?} is too large", tensor.name),
                ));
            }
            values.push(match constant(raw, t, n, file)? {
                Some(c) => Value::Const(c),
                None => Value::Unset,
            });
            shapes.push(shape);
        }
        let [input] = raw.inputs[..] else {
            return Err(bad(
                file,
                format!("{} inputs, one expected", raw.inputs.len()),
            ));
        };
        let input = usize::try_from(input)
            .ok()
            .filter(|&t| t < raw.tensors.len() && matches!(values[t], Value::Unset))
            .ok_or_else(|| {
                bad(
                    file,
                    format!("input tensor {input} does not exist or is a constant"),
                )
            })?;
        if raw.tensors[input].dtype != dtype::FLOAT32 {
            return Err(bad(file, "the input is not float32"));
        }
        values[input] = Value::Act;
        let mut b = Builder {
            file,
            raw,
            values,
            shapes,
            steps: Vec::new(),
        };
        for index in 0..raw.ops.len() {
            b.operator(index)?;
        }
        let mut outputs = Vec::new();
        for &o in &raw.outputs {
            let t = usize::try_from(o)
                .ok()
                .filter(|&t| t < raw.tensors.len() && matches!(b.values[t], Value::Act))
                .ok_or_else(|| {
                    bad(
                        file,
                        format!("output tensor {o} is not computed by any operator"),
                    )
                })?;
            outputs.push(Output {
                name: raw.tensors[t].name.clone(),
                tensor: t,
            });
        }
        if outputs.is_empty() {
            return Err(bad(file, "the model has no outputs"));
        }
        let mut plan = Plan {
            input_name: raw.tensors[input].name.clone(),
            input_shape: b.shapes[input].clone(),
            input,
            outputs,
            steps: b.steps,
            shapes: b.shapes,
            spare: Mutex::new(Vec::new()),
        };
        plan.fuse_prelu();
        plan.fuse_residual_add();
        plan.fuse_blocks();
        plan.schedule_frees();
        Ok(plan)
    }

    /// How many steps (and model outputs) read each tensor.
    fn readers(&self) -> Vec<usize> {
        let mut readers = vec![0usize; self.shapes.len()];
        for s in &self.steps {
            for &i in &s.inputs {
                readers[i] += 1;
            }
        }
        for o in &self.outputs {
            readers[o.tensor] += 1;
        }
        readers
    }

    /// Folds each PRELU into the convolution or addition whose output only it reads.
    fn fuse_prelu(&mut self) {
        let readers = self.readers();
        let mut i = 1;
        while i < self.steps.len() {
            let fusable = matches!(self.steps[i].kernel, Kernel::Prelu(_)) && {
                let x = self.steps[i].inputs[0];
                let prev = &self.steps[i - 1];
                prev.output == x
                    && readers[x] == 1
                    && match &prev.kernel {
                        Kernel::Conv(c) => matches!(c.pw.act, Activation::None),
                        Kernel::Depthwise(d) => matches!(d.act, Activation::None),
                        Kernel::Add(a) => matches!(a, Activation::None),
                        _ => false,
                    }
            };
            if fusable {
                let step = self.steps.remove(i);
                let Kernel::Prelu(alpha) = step.kernel else {
                    unreachable!("checked above")
                };
                let prev = &mut self.steps[i - 1];
                prev.output = step.output;
                match &mut prev.kernel {
                    Kernel::Conv(c) => c.pw.set_act(Activation::Prelu(alpha)),
                    Kernel::Depthwise(d) => d.set_act(Activation::Prelu(alpha)),
                    Kernel::Add(a) => *a = Activation::Prelu(alpha),
                    _ => unreachable!("checked above"),
                }
            } else {
                i += 1;
            }
        }
    }

    /// Folds each ADD into the 1×1 convolution just before it whose output only it reads: the
    /// convolution adds the ADD's other input as it stores its tiles and applies the ADD's
    /// activation (the residual connections of the palm detector and the landmark model). The
    /// sum is the same float operation as before (the convolution's output plus the other).
    fn fuse_residual_add(&mut self) {
        let readers = self.readers();
        let mut i = 1;
        while i < self.steps.len() {
            let prev = &self.steps[i - 1];
            let other = match (&self.steps[i].kernel, &self.steps[i].inputs[..]) {
                (Kernel::Add(_), &[a, b]) if a != b && readers[prev.output] == 1 => {
                    if a == prev.output {
                        Some(b)
                    } else if b == prev.output {
                        Some(a)
                    } else {
                        None
                    }
                }
                _ => None,
            }
            .filter(|_| {
                matches!(&prev.kernel, Kernel::Conv(c)
                    if c.is_pointwise() && matches!(c.pw.act, Activation::None))
                    && prev.inputs.len() == 1
            });
            let Some(other) = other else {
                i += 1;
                continue;
            };
            let step = self.steps.remove(i);
            let Kernel::Add(act) = step.kernel else {
                unreachable!("checked above")
            };
            let prev = &mut self.steps[i - 1];
            prev.output = step.output;
            prev.inputs.push(other);
            if let Kernel::Conv(c) = &mut prev.kernel {
                c.pw.set_act(act);
            }
        }
    }

    /// Turns each 1×1 expansion → depthwise → 1×1 projection, each layer read only by the
    /// next, into one [`Fused`] step.
    fn fuse_blocks(&mut self) {
        let readers = self.readers();
        let mut i = 0;
        while i + 2 < self.steps.len() {
            let (a, b, c) = (&self.steps[i], &self.steps[i + 1], &self.steps[i + 2]);
            let pointwise = |k: &Kernel| matches!(k, Kernel::Conv(c) if c.is_pointwise());
            let fusable = pointwise(&a.kernel)
                && a.inputs.len() == 1
                && matches!(&b.kernel, Kernel::Depthwise(d) if d.c >= Fused::MIN_CHANNELS)
                && b.inputs[..] == [a.output]
                && readers[a.output] == 1
                && pointwise(&c.kernel)
                && c.inputs[0] == b.output
                && readers[b.output] == 1;
            if !fusable {
                i += 1;
                continue;
            }
            let mut three = self.steps.drain(i..i + 3);
            let (Some(a), Some(b), Some(c)) = (three.next(), three.next(), three.next()) else {
                unreachable!("three steps checked above")
            };
            drop(three);
            let (Kernel::Conv(expand), Kernel::Depthwise(dw), Kernel::Conv(project)) =
                (a.kernel, b.kernel, c.kernel)
            else {
                unreachable!("checked above")
            };
            let mut inputs = a.inputs;
            inputs.extend(&c.inputs[1..]);
            self.steps.insert(
                i,
                Step {
                    kernel: Kernel::Fused(Box::new(Fused::new(expand.pw, dw, project.pw))),
                    inputs,
                    output: c.output,
                    frees: Vec::new(),
                },
            );
            i += 1;
        }
    }

    /// Marks each activation's buffer to be freed after the last step that reads it.
    fn schedule_frees(&mut self) {
        let mut last = vec![None; self.shapes.len()];
        for (i, s) in self.steps.iter().enumerate() {
            for &t in &s.inputs {
                last[t] = Some(i);
            }
        }
        for o in &self.outputs {
            last[o.tensor] = None;
        }
        for (t, l) in last.iter().enumerate() {
            if let Some(i) = l {
                if !self.steps[*i].frees.contains(&t) {
                    self.steps[*i].frees.push(t);
                }
            }
        }
    }

    /// Runs the steps on an input of the right length; with `times`, adds each step's time
    /// to the entry of its kind.
    pub(super) fn run(
        &self,
        input: &[f32],
        mut times: Option<&mut Vec<(String, std::time::Duration)>>,
    ) -> Vec<TensorOut> {
        let mut spare = std::mem::take(&mut *self.spare.lock().unwrap_or_else(|e| e.into_inner()));
        // The input is read where the caller holds it (a copy cost 1 % of the landmark model).
        let mut acts: Vec<Buffer> = (0..self.shapes.len()).map(|_| Buffer::default()).collect();
        fn read<'a>(acts: &'a [Buffer], input: &'a [f32], at: usize, t: usize) -> &'a [f32] {
            if t == at {
                input
            } else {
                acts[t].get()
            }
        }
        for step in &self.steps {
            let n: usize = self.shapes[step.output].iter().product();
            let mut out = take_buffer(&mut spare, n);
            let clock = std::time::Instant::now();
            {
                let ins: Vec<&[f32]> = step
                    .inputs
                    .iter()
                    .map(|&t| read(&acts, input, self.input, t))
                    .collect();
                let in_shape = &self.shapes[step.inputs[0]];
                ops::run(&step.kernel, &ins, in_shape, out.get_mut());
            }
            if let Some(times) = times.as_deref_mut() {
                let kind = step.kernel.kind();
                match times.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, t)) => *t += clock.elapsed(),
                    None => times.push((kind, clock.elapsed())),
                }
            }
            acts[step.output] = out;
            for &t in &step.frees {
                if t != self.input {
                    spare.push(std::mem::take(&mut acts[t]));
                }
            }
        }
        let outs = self
            .outputs
            .iter()
            .map(|o| TensorOut {
                name: o.name.clone(),
                shape: self.shapes[o.tensor].clone(),
                data: read(&acts, input, self.input, o.tensor).to_vec(),
            })
            .collect();
        spare.extend(acts.into_iter().filter(|a| !a.data.is_empty()));
        *self.spare.lock().unwrap_or_else(|e| e.into_inner()) = spare;
        outs
    }

    pub(super) fn activation_floats(&self) -> usize {
        self.steps
            .iter()
            .map(|s| self.shapes[s.output].iter().product::<usize>())
            .sum()
    }

    pub(super) fn macs(&self) -> u64 {
        self.steps
            .iter()
            .map(|s| {
                let out: usize = self.shapes[s.output].iter().product();
                (match &s.kernel {
                    Kernel::Conv(c) => out * c.depth(),
                    Kernel::Depthwise(d) => out * d.taps(),
                    Kernel::Fused(f) => f.macs(out),
                    Kernel::FullyConnected(d) => out * d.depth,
                    _ => 0,
                }) as u64
            })
            .sum()
    }
}
