//! Writing small pickles and whole checkpoint files by hand, opcode by opcode, so the tests can
//! build exactly the (hostile) input they need without Python.

use std::io::Write;

/// A pickle under construction (protocol 2, as torch.save writes).
pub struct P(Vec<u8>);

impl P {
    pub fn new() -> Self {
        P(vec![0x80, 2])
    }

    /// Raw opcode bytes.
    pub fn op(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn mark(self) -> Self {
        self.op(b"(")
    }

    pub fn tuple(self) -> Self {
        self.op(b"t")
    }

    pub fn dict(self) -> Self {
        self.op(b"}")
    }

    pub fn setitems(self) -> Self {
        self.op(b"u")
    }

    pub fn reduce(self) -> Self {
        self.op(b"R")
    }

    pub fn stop(self) -> Vec<u8> {
        self.op(b".").0
    }

    /// BINUNICODE.
    pub fn str(mut self, s: &str) -> Self {
        self.0.push(b'X');
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    /// BININT for what fits 32 bits, LONG1 beyond.
    pub fn int(mut self, i: i64) -> Self {
        match i32::try_from(i) {
            Ok(v) => {
                self.0.push(b'J');
                self.0.extend_from_slice(&v.to_le_bytes());
            }
            Err(_) => {
                self.0.extend_from_slice(&[0x8a, 8]);
                self.0.extend_from_slice(&i.to_le_bytes());
            }
        }
        self
    }

    /// BINFLOAT.
    pub fn float(mut self, f: f64) -> Self {
        self.0.push(b'G');
        self.0.extend_from_slice(&f.to_be_bytes());
        self
    }

    /// GLOBAL `module\nname\n`.
    pub fn global(mut self, module: &str, name: &str) -> Self {
        self.0.push(b'c');
        self.0
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
        self
    }

    /// A tuple of ints.
    pub fn ints(self, xs: &[i64]) -> Self {
        xs.iter().fold(self.mark(), |p, &x| p.int(x)).tuple()
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` with the
    /// storage as a persistent id `('storage', torch.<storage_type>, key, 'cpu', numel)`.
    pub fn tensor(
        self,
        storage_type: &str,
        key: &str,
        numel: i64,
        offset: i64,
        size: &[i64],
        stride: &[i64],
    ) -> Self {
        self.global("torch._utils", "_rebuild_tensor_v2")
            .mark()
            .mark()
            .str("storage")
            .global("torch", storage_type)
            .str(key)
            .str("cpu")
            .int(numel)
            .tuple()
            .op(b"Q")
            .int(offset)
            .ints(size)
            .ints(stride)
            .op(&[0x89])
            .global("collections", "OrderedDict")
            .op(b")")
            .reduce()
            .tuple()
            .reduce()
    }
}

/// `{'epoch': 3, 'state_dict': OrderedDict(entries)}` where `entries` appends
/// `key, value` pairs to the pickle.
pub fn checkpoint_pickle(entries: impl FnOnce(P) -> P) -> Vec<u8> {
    let p = P::new()
        .dict()
        .mark()
        .str("epoch")
        .int(3)
        .str("state_dict")
        .global("collections", "OrderedDict")
        .op(b")")
        .reduce()
        .mark();
    entries(p).setitems().setitems().stop()
}

/// A legacy-format file: the header pickles, `main`, the key list, then each storage as
/// (element count, raw bytes).
pub fn legacy_file(main: &[u8], storages: &[(&str, u64, &[u8])]) -> Vec<u8> {
    let mut out = P(vec![0x80, 2])
        .op(&[
            0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
        ])
        .stop();
    out.extend(P::new().int(1001).stop());
    out.extend(
        P::new()
            .dict()
            .mark()
            .str("protocol_version")
            .int(1001)
            .str("little_endian")
            .op(&[0x88])
            .setitems()
            .stop(),
    );
    out.extend_from_slice(main);
    let keys = storages
        .iter()
        .fold(P::new().op(b"]").mark(), |p, (k, _, _)| p.str(k));
    out.extend(keys.op(b"e").stop());
    for (_, count, data) in storages {
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// A zip-format file: `archive/data.pkl` plus `archive/data/<key>` entries, stored.
pub fn zip_file(pkl: &[u8], storages: &[(&str, &[u8])]) -> Vec<u8> {
    zip_file_ordered(pkl, storages, b"little")
}

/// [`zip_file`] with the given `byteorder` entry.
pub fn zip_file_ordered(pkl: &[u8], storages: &[(&str, &[u8])], byteorder: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut add = |name: &str, data: &[u8]| {
        w.start_file(name, opts).expect("zip entry");
        w.write_all(data).expect("zip write");
    };
    add("archive/data.pkl", pkl);
    add("archive/byteorder", byteorder);
    for (k, data) in storages {
        add(&format!("archive/data/{k}"), data);
    }
    w.finish().expect("zip finish").into_inner()
}

/// Little-endian bytes of `xs`.
pub fn f32_bytes(xs: &[f32]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `bytes` to a temporary file and reads it as a checkpoint.
pub fn read_bytes(bytes: &[u8]) -> Result<super::super::Checkpoint, super::super::ImportError> {
    let f = temp_file(bytes);
    super::super::read_checkpoint(f.path())
}

/// Writes `bytes` to a fresh temporary file.
pub fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(bytes).expect("write temp file");
    f
}
