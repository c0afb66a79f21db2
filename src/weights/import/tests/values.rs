//! Hand-built checkpoints: strided and shared views, every storage dtype, byte order, where
//! the state_dict is found, and the scalar metadata beside it.

use super::super::{CheckpointFormat, ImportError};
use super::builder::{
    checkpoint_pickle, f32_bytes, legacy_file, read_bytes, zip_file, zip_file_ordered, P,
};
use candle_core::DType;

fn f32s(t: &candle_core::Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn strided_offset_and_shared_views() {
    let data: Vec<f32> = (0..8).map(|x| x as f32).collect();
    let pkl = checkpoint_pickle(|p| {
        p.str("transposed")
            .tensor("FloatStorage", "0", 8, 0, &[3, 2], &[1, 3])
            .str("tail")
            .tensor("FloatStorage", "0", 8, 4, &[2, 2], &[2, 1])
            .str("broadcast")
            .tensor("FloatStorage", "0", 8, 1, &[2, 3], &[0, 1])
            .str("scalar")
            .tensor("FloatStorage", "0", 8, 7, &[], &[])
            .str("empty")
            .tensor("FloatStorage", "0", 8, 1000, &[0, 5], &[5, 1])
    });
    for (file, format) in [
        (
            zip_file(&pkl, &[("0", &f32_bytes(&data))]),
            CheckpointFormat::Zip,
        ),
        (
            legacy_file(&pkl, &[("0", 8, &f32_bytes(&data))]),
            CheckpointFormat::Legacy,
        ),
    ] {
        let ck = read_bytes(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ck.format, format);
        let names: Vec<&str> = ck.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["transposed", "tail", "broadcast", "scalar", "empty"]
        );
        let t = &ck.tensors;
        assert_eq!(t[0].1.dims(), &[3, 2]);
        assert_eq!(f32s(&t[0].1), [0., 3., 1., 4., 2., 5.]);
        assert_eq!(f32s(&t[1].1), [4., 5., 6., 7.]);
        assert_eq!(f32s(&t[2].1), [1., 2., 3., 1., 2., 3.]);
        assert_eq!(t[3].1.rank(), 0);
        assert_eq!(f32s(&t[3].1), [7.]);
        assert_eq!(t[4].1.dims(), &[0, 5]);
        assert_eq!(ck.meta.get("epoch").map(String::as_str), Some("3"));
    }
}

#[test]
fn every_storage_dtype() {
    let h = |x: f32| half::f16::from_f32(x).to_bits().to_le_bytes();
    let bf = |x: f32| half::bf16::from_f32(x).to_bits().to_le_bytes();
    let storages: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "DoubleStorage",
            "d",
            [1.5f64, -2.0]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        ("HalfStorage", "h", [h(0.5), h(-3.0)].concat()),
        ("BFloat16Storage", "b", [bf(0.25), bf(8.0)].concat()),
        (
            "LongStorage",
            "l",
            [-7i64, 1 << 40]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        (
            "IntStorage",
            "i",
            [-5i32, 9].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        (
            "ShortStorage",
            "s",
            [-300i16, 2].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        ("CharStorage", "c", vec![0xff, 4]),
        ("ByteStorage", "u", vec![200, 1]),
        ("BoolStorage", "o", vec![1, 0]),
    ];
    let pkl = checkpoint_pickle(|p| {
        storages.iter().fold(p, |p, (ty, key, _)| {
            p.str(key).tensor(ty, key, 2, 0, &[2], &[1])
        })
    });
    let entries: Vec<(&str, &[u8])> = storages
        .iter()
        .map(|(_, k, b)| (*k, b.as_slice()))
        .collect();
    let ck = read_bytes(&zip_file(&pkl, &entries)).unwrap_or_else(|e| panic!("{e}"));
    let get = |k: &str| &ck.tensors.iter().find(|(n, _)| n == k).unwrap().1;
    assert_eq!(get("d").to_vec1::<f64>().unwrap(), [1.5, -2.0]);
    assert_eq!(get("h").to_vec1::<f32>().unwrap(), [0.5, -3.0]);
    assert_eq!(get("b").to_vec1::<f32>().unwrap(), [0.25, 8.0]);
    assert_eq!(get("l").to_vec1::<i64>().unwrap(), [-7, 1 << 40]);
    assert_eq!(get("i").to_vec1::<i64>().unwrap(), [-5, 9]);
    assert_eq!(get("s").to_vec1::<i64>().unwrap(), [-300, 2]);
    assert_eq!(get("c").to_vec1::<i64>().unwrap(), [-1, 4]);
    assert_eq!(get("u").to_vec1::<u8>().unwrap(), [200, 1]);
    assert_eq!(get("o").to_vec1::<u8>().unwrap(), [1, 0]);
    assert_eq!(get("o").dtype(), DType::U8);
}

#[test]
fn big_endian_zip() {
    let data: Vec<u8> = [1.25f32, -4.0]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect();
    let pkl = checkpoint_pickle(|p| p.str("w").tensor("FloatStorage", "0", 2, 0, &[2], &[1]));
    let ck = read_bytes(&zip_file_ordered(&pkl, &[("0", &data)], b"big")).unwrap();
    assert_eq!(f32s(&ck.tensors[0].1), [1.25, -4.0]);
}

#[test]
fn legacy_storage_views() {
    // ('storage', FloatStorage, root key, 'cpu', root numel, (view key, offset, size))
    let pkl = checkpoint_pickle(|p| {
        p.str("v")
            .global("torch._utils", "_rebuild_tensor_v2")
            .mark()
            .mark()
            .str("storage")
            .global("torch", "FloatStorage")
            .str("root")
            .str("cpu")
            .int(6)
            .mark()
            .str("view")
            .int(2)
            .int(3)
            .tuple()
            .tuple()
            .op(b"Q")
            .int(1)
            .ints(&[2])
            .ints(&[1])
            .op(&[0x89, b'N'])
            .tuple()
            .reduce()
    });
    let data = f32_bytes(&[0., 1., 2., 3., 4., 5.]);
    let ck =
        read_bytes(&legacy_file(&pkl, &[("root", 6, &data)])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f32s(&ck.tensors[0].1), [3., 4.]);
}

#[test]
fn meta_scalars_and_numpy_best_prec1() {
    // numpy.float64(93.2) as protocol 2 pickles it: the raw bytes as a latin-1 string.
    let latin1: String = 93.2f64
        .to_le_bytes()
        .iter()
        .map(|&b| char::from(b))
        .collect();
    let pkl = P::new()
        .dict()
        .mark()
        .str("arch")
        .str("BNInception")
        .str("lr")
        .float(0.001)
        .str("flag")
        .op(&[0x88])
        .str("nothing")
        .op(b"N")
        .str("best_prec1")
        .global("numpy.core.multiarray", "scalar")
        .global("numpy", "dtype")
        .str("f8")
        .op(&[0x89, 0x88, 0x87])
        .reduce()
        .mark()
        .int(3)
        .str("<")
        .op(b"NNN")
        .int(-1)
        .int(-1)
        .int(0)
        .tuple()
        .op(b"b")
        .global("_codecs", "encode")
        .str(&latin1)
        .str("latin1")
        .op(&[0x86])
        .reduce()
        .op(&[0x86])
        .reduce()
        .str("best_f32")
        .global("numpy._core.multiarray", "scalar")
        .global("numpy", "dtype")
        .str("f4")
        .op(&[0x89, 0x88, 0x87])
        .reduce()
        .op(&[b'C', 4])
        .op(&93.2f32.to_le_bytes())
        .op(&[0x86])
        .reduce()
        .str("w")
        .tensor("FloatStorage", "0", 1, 0, &[1], &[1])
        .setitems()
        .stop();
    let ck =
        read_bytes(&zip_file(&pkl, &[("0", &f32_bytes(&[2.0]))])).unwrap_or_else(|e| panic!("{e}"));
    let m = |k: &str| ck.meta.get(k).map(String::as_str);
    assert_eq!(m("arch"), Some("BNInception"));
    assert_eq!(m("lr"), Some("0.001"));
    assert_eq!(m("flag"), Some("true"));
    assert_eq!(m("best_prec1"), Some("93.2"));
    assert_eq!(m("best_f32"), Some("93.2"));
    assert_eq!(m("nothing"), None);
    assert_eq!(ck.tensors.len(), 1, "top-level tensors are the state_dict");
}

#[test]
fn protocol_4_opcodes_and_parameters() {
    // FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, BINGET; a Parameter-wrapped tensor;
    // the state_dict under 'model'; a duplicated key keeps its place and takes the last value.
    let short = |p: P, s: &str| p.op(&[0x8c, s.len() as u8]).op(s.as_bytes());
    let mut p = P::new()
        .op(&[0x80, 4, 0x95])
        .op(&[0; 8])
        .dict()
        .op(&[0x94])
        .mark();
    p = short(p, "model").dict().mark();
    p = short(p, "a");
    p = short(short(p, "torch._utils"), "_rebuild_parameter").op(&[0x93, 0x94]);
    p = p
        .tensor("FloatStorage", "0", 2, 0, &[2], &[1])
        .op(&[0x88])
        .global("collections", "OrderedDict")
        .op(b")")
        .reduce()
        .op(&[0x87])
        .reduce();
    p = short(p, "b").tensor("FloatStorage", "0", 2, 1, &[1], &[1]);
    p = short(p, "a").tensor("FloatStorage", "0", 2, 1, &[1], &[1]);
    let pkl = p.setitems().setitems().stop();
    let ck = read_bytes(&zip_file(&pkl, &[("0", &f32_bytes(&[5.0, 6.0]))]))
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = ck.tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(f32s(&ck.tensors[0].1), [6.0]);
}

#[test]
fn no_state_dict_is_a_clear_error() {
    let not_dict = P::new().mark().int(1).tuple().stop();
    let e = read_bytes(&zip_file(&not_dict, &[])).unwrap_err();
    assert!(matches!(e, ImportError::NoStateDict { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("the checkpoint is a tuple, not a dict"),
        "{e}"
    );

    let no_tensors = P::new().dict().str("epoch").int(4).op(b"s").stop();
    let e = read_bytes(&legacy_file(&no_tensors, &[])).unwrap_err();
    assert!(e.to_string().contains("top-level keys: epoch"), "{e}");
}
