//! The part of TFLite's schema (`tensorflow/lite/schema/schema.fbs`, version 3) that the hand
//! models use, read into plain structs: operator codes, one subgraph's tensors and operators,
//! and the buffers holding constant data. Field slots are the schema's field order. Operator
//! options stay as tables until the graph builder reads the ones of the operator it knows.

use super::flatbuf::{root, FbResult, Table};

/// TFLite's `BuiltinOperator` codes of the operators we run (and their names for errors).
pub(super) mod opcode {
    pub const ADD: i32 = 0;
    pub const CONCATENATION: i32 = 2;
    pub const CONV_2D: i32 = 3;
    pub const DEPTHWISE_CONV_2D: i32 = 4;
    pub const DEQUANTIZE: i32 = 6;
    pub const FULLY_CONNECTED: i32 = 9;
    pub const LOGISTIC: i32 = 14;
    pub const MAX_POOL_2D: i32 = 17;
    pub const RESHAPE: i32 = 22;
    pub const RESIZE_BILINEAR: i32 = 23;
    pub const PAD: i32 = 34;
    pub const MEAN: i32 = 40;
    pub const PRELU: i32 = 54;

    /// The schema's name of a builtin code, or the number where we do not know it.
    pub fn name(code: i32) -> String {
        let known = [
            (ADD, "ADD"),
            (1, "AVERAGE_POOL_2D"),
            (CONCATENATION, "CONCATENATION"),
            (CONV_2D, "CONV_2D"),
            (DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D"),
            (DEQUANTIZE, "DEQUANTIZE"),
            (FULLY_CONNECTED, "FULLY_CONNECTED"),
            (LOGISTIC, "LOGISTIC"),
            (MAX_POOL_2D, "MAX_POOL_2D"),
            (18, "MUL"),
            (19, "RELU"),
            (21, "RELU6"),
            (RESHAPE, "RESHAPE"),
            (RESIZE_BILINEAR, "RESIZE_BILINEAR"),
            (25, "SOFTMAX"),
            (28, "TANH"),
            (PAD, "PAD"),
            (MEAN, "MEAN"),
            (PRELU, "PRELU"),
            (32, "CUSTOM"),
        ];
        known
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| format!("builtin operator {code}"))
    }
}

/// TFLite's `TensorType` codes we read.
pub(super) mod dtype {
    pub const FLOAT32: u8 = 0;
    pub const FLOAT16: u8 = 1;
    pub const INT32: u8 = 2;
}

/// One operator code: a builtin, or a custom operator's name.
#[derive(Debug, Clone)]
pub(super) enum OpCode {
    Builtin(i32),
    Custom(String),
}

impl OpCode {
    pub(super) fn name(&self) -> String {
        match self {
            OpCode::Builtin(c) => opcode::name(*c),
            OpCode::Custom(n) => format!("custom operator {n:?}"),
        }
    }
}

#[derive(Debug)]
pub(super) struct RawTensor {
    pub shape: Vec<i32>,
    pub dtype: u8,
    /// Index into [`RawModel::buffers`]; 0 is the empty buffer by convention.
    pub buffer: usize,
    pub name: String,
}

#[derive(Debug)]
pub(super) struct RawOp<'a> {
    pub opcode: usize,
    /// Tensor indices; -1 marks an omitted optional input.
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub options: Option<Table<'a>>,
}

#[derive(Debug)]
pub(super) struct RawModel<'a> {
    pub opcodes: Vec<OpCode>,
    pub tensors: Vec<RawTensor>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub ops: Vec<RawOp<'a>>,
    /// Each buffer's bytes (empty for none).
    pub buffers: Vec<&'a [u8]>,
}

/// Reads the model; only a single-subgraph model is accepted.
pub(super) fn read(bytes: &[u8]) -> FbResult<RawModel<'_>> {
    if bytes.len() < 8 || &bytes[4..8] != b"TFL3" {
        return Err("not a TFLite model (no TFL3 identifier at byte 4)".into());
    }
    let model = root(bytes)?;
    let version = model.u32(0, 0)?;
    if version != 3 {
        return Err(format!("schema version {version}, only 3 is read"));
    }
    let opcodes = model
        .tables(1)?
        .iter()
        .map(|c| {
            // deprecated_builtin_code (byte) is superseded by builtin_code for codes ≥ 127;
            // the larger of the two is the code (as TFLite's GetBuiltinCode does).
            let old = c.u8(0, 0)? as i8 as i32;
            let new = c.i32(3, 0)?;
            let code = old.max(new);
            Ok(if code == 32 {
                OpCode::Custom(c.string(1)?.unwrap_or_default())
            } else {
                OpCode::Builtin(code)
            })
        })
        .collect::<FbResult<Vec<_>>>()?;
    let subgraphs = model.tables(2)?;
    let [graph] = subgraphs.as_slice() else {
        return Err(format!(
            "{} subgraphs, only models with one are run",
            subgraphs.len()
        ));
    };
    let buffers = model
        .tables(4)?
        .iter()
        .map(|b| {
            let offset = b.u64(1, 0)?;
            if offset > 1 {
                // Data outside the flatbuffer (models over 2 GB), relative to the file start.
                let size = b.u64(2, 0)?;
                let end = offset.saturating_add(size);
                return usize::try_from(end)
                    .ok()
                    .and_then(|end| bytes.get(offset as usize..end))
                    .ok_or_else(|| {
                        format!("buffer at {offset} (+{size}) is past the end of the file")
                    });
            }
            Ok(b.bytes(0)?.unwrap_or(&[]))
        })
        .collect::<FbResult<Vec<_>>>()?;
    let tensors = graph
        .tables(0)?
        .iter()
        .map(|t| {
            Ok(RawTensor {
                shape: t.i32s(0)?.unwrap_or_default(),
                dtype: t.u8(1, 0)?,
                buffer: t.u32(2, 0)? as usize,
                name: t.string(3)?.unwrap_or_default(),
            })
        })
        .collect::<FbResult<Vec<_>>>()?;
    let ops = graph
        .tables(3)?
        .iter()
        .map(|o| {
            Ok(RawOp {
                opcode: o.u32(0, 0)? as usize,
                inputs: o.i32s(1)?.unwrap_or_default(),
                outputs: o.i32s(2)?.unwrap_or_default(),
                options: o.table(4)?,
            })
        })
        .collect::<FbResult<Vec<_>>>()?;
    Ok(RawModel {
        opcodes,
        tensors,
        inputs: graph.i32s(1)?.unwrap_or_default(),
        outputs: graph.i32s(2)?.unwrap_or_default(),
        ops,
        buffers,
    })
}

/// Options of the operators we run, by their table's field order in the schema.
pub(super) mod options {
    use super::{FbResult, Table};

    /// `Padding`: SAME = 0, VALID = 1.
    pub const SAME: u8 = 0;
    pub const VALID: u8 = 1;

    /// `ActivationFunctionType`.
    pub const ACT_NONE: u8 = 0;
    pub const ACT_RELU: u8 = 1;
    pub const ACT_RELU6: u8 = 3;

    #[derive(Debug, Clone, Copy)]
    pub struct Conv {
        pub padding: u8,
        pub stride_w: i32,
        pub stride_h: i32,
        pub act: u8,
        pub dilation_w: i32,
        pub dilation_h: i32,
        /// Depthwise only.
        pub depth_multiplier: i32,
    }

    /// `Conv2DOptions` (padding, stride_w, stride_h, act, dilation_w, dilation_h).
    pub fn conv(t: Option<Table>) -> FbResult<Conv> {
        let Some(t) = t else {
            return Err("no options".into());
        };
        Ok(Conv {
            padding: t.u8(0, 0)?,
            stride_w: t.i32(1, 0)?,
            stride_h: t.i32(2, 0)?,
            act: t.u8(3, 0)?,
            dilation_w: t.i32(4, 1)?,
            dilation_h: t.i32(5, 1)?,
            depth_multiplier: 1,
        })
    }

    /// `DepthwiseConv2DOptions` (padding, stride_w, stride_h, depth_multiplier, act,
    /// dilation_w, dilation_h).
    pub fn depthwise(t: Option<Table>) -> FbResult<Conv> {
        let Some(t) = t else {
            return Err("no options".into());
        };
        Ok(Conv {
            padding: t.u8(0, 0)?,
            stride_w: t.i32(1, 0)?,
            stride_h: t.i32(2, 0)?,
            depth_multiplier: t.i32(3, 0)?,
            act: t.u8(4, 0)?,
            dilation_w: t.i32(5, 1)?,
            dilation_h: t.i32(6, 1)?,
        })
    }

    #[derive(Debug, Clone, Copy)]
    pub struct Pool {
        pub padding: u8,
        pub stride_w: i32,
        pub stride_h: i32,
        pub filter_w: i32,
        pub filter_h: i32,
        pub act: u8,
    }

    /// `Pool2DOptions`.
    pub fn pool(t: Option<Table>) -> FbResult<Pool> {
        let Some(t) = t else {
            return Err("no options".into());
        };
        Ok(Pool {
            padding: t.u8(0, 0)?,
            stride_w: t.i32(1, 0)?,
            stride_h: t.i32(2, 0)?,
            filter_w: t.i32(3, 0)?,
            filter_h: t.i32(4, 0)?,
            act: t.u8(5, 0)?,
        })
    }

    /// The fused activation of `AddOptions` and `FullyConnectedOptions` (slot 0), of
    /// `ConcatenationOptions` (slot 1); none when the options are absent.
    pub fn act(t: Option<Table>, slot: usize) -> FbResult<u8> {
        t.map_or(Ok(ACT_NONE), |t| t.u8(slot, ACT_NONE))
    }

    /// `ConcatenationOptions.axis`.
    pub fn concat_axis(t: Option<Table>) -> FbResult<i32> {
        t.map_or(Ok(0), |t| t.i32(0, 0))
    }

    /// `ResizeBilinearOptions`: (align_corners, half_pixel_centers).
    pub fn resize(t: Option<Table>) -> FbResult<(bool, bool)> {
        t.map_or(Ok((false, false)), |t| Ok((t.bool(2)?, t.bool(3)?)))
    }

    /// `FullyConnectedOptions`: (act, weights_format, keep_num_dims).
    pub fn fully_connected(t: Option<Table>) -> FbResult<(u8, u8, bool)> {
        t.map_or(Ok((ACT_NONE, 0, false)), |t| {
            Ok((t.u8(0, ACT_NONE)?, t.u8(1, 0)?, t.bool(2)?))
        })
    }

    /// `ReducerOptions.keep_dims`.
    pub fn keep_dims(t: Option<Table>) -> FbResult<bool> {
        t.map_or(Ok(false), |t| t.bool(0))
    }
}
