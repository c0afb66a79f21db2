//! Hostile and broken input: forbidden globals are refused by name, absurd sizes and cut files
//! give errors (never a panic, an abort or a huge allocation), and so does every prefix and
//! every single-byte corruption of a small valid checkpoint.

use super::super::{parse, ImportError};
use super::builder::{checkpoint_pickle, f32_bytes, legacy_file, read_bytes, zip_file, P};
use std::path::Path;

fn small_checkpoint() -> Vec<u8> {
    checkpoint_pickle(|p| {
        p.str("w")
            .tensor("FloatStorage", "0", 4, 0, &[2, 2], &[1, 2])
            .str("n")
            .tensor("LongStorage", "1", 1, 0, &[], &[])
    })
}

fn small_storages() -> [(&'static str, Vec<u8>); 2] {
    [
        ("0", f32_bytes(&[1., 2., 3., 4.])),
        ("1", 7i64.to_le_bytes().to_vec()),
    ]
}

fn small_zip() -> Vec<u8> {
    let s = small_storages();
    zip_file(&small_checkpoint(), &[(s[0].0, &s[0].1), (s[1].0, &s[1].1)])
}

fn small_legacy() -> Vec<u8> {
    let s = small_storages();
    legacy_file(
        &small_checkpoint(),
        &[(s[0].0, 4, &s[0].1), (s[1].0, 1, &s[1].1)],
    )
}

fn refused(pkl: Vec<u8>, global: &str) {
    for file in [zip_file(&pkl, &[]), legacy_file(&pkl, &[])] {
        let e = read_bytes(&file).expect_err("a forbidden global must not load");
        assert!(
            matches!(&e, ImportError::ForbiddenGlobal { global: g, .. } if g == global),
            "{e}"
        );
        assert!(
            e.to_string().ends_with(&format!(
                ": refuses to load global '{global}': only tensor storages and containers are allowed"
            )),
            "{e}"
        );
    }
}

#[test]
fn code_execution_globals_are_refused() {
    // {'state_dict': os.system('touch DIR/pwned')}: REDUCE calls os.system with a shell command
    // that creates a marker file in a fresh folder. Run first by a real shell (as os.system
    // would), to show the payload works: it creates the marker. So if the importer ever
    // executed the global it names, the marker would exist after loading and the last check
    // would fail; refusing the global by name leaves it absent.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let command = format!("touch '{}'", marker.display());
    if cfg!(unix) {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .status()
            .unwrap();
        assert!(
            status.success() && marker.exists(),
            "the payload itself works"
        );
        std::fs::remove_file(&marker).unwrap();
    }
    refused(
        P::new()
            .dict()
            .str("state_dict")
            .global("os", "system")
            .str(&command)
            .op(&[0x85])
            .reduce()
            .op(b"s")
            .stop(),
        "os.system",
    );
    // builtins.eval through STACK_GLOBAL (protocol 4)
    let short = |p: P, s: &str| p.op(&[0x8c, s.len() as u8]).op(s.as_bytes());
    let p = short(short(P::new().dict(), "builtins"), "eval").op(&[0x93]);
    refused(
        short(p, &format!("__import__('os').system({command:?})"))
            .op(&[0x85])
            .reduce()
            .stop(),
        "builtins.eval",
    );
    // torch's own nested unpickler is no way around the allow-list either
    refused(
        P::new().global("torch.storage", "_load_from_bytes").stop(),
        "torch.storage._load_from_bytes",
    );
    refused(P::new().global("posix", "system").stop(), "posix.system");
    assert!(!marker.exists(), "the importer executed a refused global");
}

#[test]
fn unsupported_storages_and_whole_models_say_so() {
    let complex = checkpoint_pickle(|p| {
        p.str("w")
            .tensor("ComplexFloatStorage", "0", 1, 0, &[1], &[1])
    });
    let e = read_bytes(&zip_file(&complex, &[])).unwrap_err();
    assert!(
        e.to_string()
            .contains("storage type torch.ComplexFloatStorage is not supported"),
        "{e}"
    );
    let module = P::new()
        .mark()
        .str("module")
        .str("Net")
        .str("net.py")
        .str("src")
        .tuple()
        .op(b"Q")
        .stop();
    let e = read_bytes(&legacy_file(&module, &[])).unwrap_err();
    assert!(e.to_string().contains("whole model object"), "{e}");
}

#[test]
fn not_a_checkpoint() {
    for junk in [
        &b""[..],
        b"hello, world\n",
        &[0x89, b'P', b'N', b'G', 0, 0, 0, 0],
        &[7u8; 4096],
    ] {
        let e = read_bytes(junk).unwrap_err();
        assert!(
            e.to_string()
                .ends_with(": not a PyTorch checkpoint (neither a zip archive nor a pickle)"),
            "{e}"
        );
    }
    // A pickle, but not one torch.save wrote.
    let e = read_bytes(&P::new().dict().stop()).unwrap_err();
    assert!(
        e.to_string()
            .contains("not a PyTorch checkpoint (a pickle without PyTorch's magic number)"),
        "{e}"
    );
    let e = read_bytes(&zip_file(b"", &[])[..]).unwrap_err();
    assert!(
        matches!(
            e,
            ImportError::Truncated { .. } | ImportError::Malformed { .. }
        ),
        "{e}"
    );
}

#[test]
fn zip_storage_cut_short() {
    let pkl = checkpoint_pickle(|p| {
        p.str("w")
            .tensor("FloatStorage", "17", 1024, 0, &[1024], &[1])
    });
    let e = read_bytes(&zip_file(&pkl, &[("17", &[0u8; 1000])])).unwrap_err();
    assert!(
        e.to_string().ends_with(
            ": truncated: storage '17' needs 4096 bytes but its archive entry holds 1000"
        ),
        "{e}"
    );
    let e = read_bytes(&zip_file(&pkl, &[])).unwrap_err();
    assert!(
        e.to_string()
            .contains("storage '17' is missing from the archive"),
        "{e}"
    );
}

#[test]
fn absurd_sizes_fail_cleanly() {
    let huge = 1i64 << 60;
    let pkl = checkpoint_pickle(|p| {
        p.str("w")
            .tensor("FloatStorage", "0", huge, 0, &[huge], &[1])
    });
    let e = read_bytes(&zip_file(&pkl, &[("0", &[0u8; 16])])).unwrap_err();
    assert!(
        e.to_string().contains("needs 4611686018427387904 bytes"),
        "{e}"
    );
    let e = read_bytes(&legacy_file(&pkl, &[("0", 1 << 60, &[0u8; 16])])).unwrap_err();
    assert!(matches!(e, ImportError::Truncated { .. }), "{e}");
    let e = read_bytes(&legacy_file(&pkl, &[("0", u64::MAX, &[0u8; 16])])).unwrap_err();
    assert!(matches!(e, ImportError::Truncated { .. }), "{e}");

    // Small storage, views that are not.
    let data = f32_bytes(&[1., 2., 3., 4.]);
    let views: [(&[i64], &[i64], i64, &str); 6] = [
        (&[5], &[1], 0, "reaches past the 4 elements"),
        (&[2], &[1], 3, "reaches past the 4 elements"),
        (
            &[1 << 20, 1 << 20],
            &[0, 0],
            0,
            "broadcast from a storage of 4",
        ),
        (
            &[1 << 40, 1 << 40, 1 << 40],
            &[0, 0, 0],
            0,
            "too many elements",
        ),
        (&[2], &[-1], 0, "stride is negative"),
        (&[2, 2], &[1], 0, "size has 2 dimensions but stride has 1"),
    ];
    for (size, stride, offset, want) in views {
        let pkl = checkpoint_pickle(|p| {
            p.str("w")
                .tensor("FloatStorage", "0", 4, offset, size, stride)
        });
        let e = read_bytes(&zip_file(&pkl, &[("0", &data)])).unwrap_err();
        assert!(e.to_string().contains(want), "{size:?}/{stride:?}: {e}");
    }
}

#[test]
fn deep_nesting_neither_recurses_nor_overflows() {
    // A tuple nested a million deep (one byte a level) ...
    let mut p = P::new().op(b")");
    p = p.op(&vec![0x85; 1_000_000]);
    let e = read_bytes(&legacy_file(&p.stop(), &[])).unwrap_err();
    assert!(e.to_string().contains("the checkpoint is a tuple"), "{e}");
    // ... and lists linked after creation through the memo: L[i].append(L[i+1]).
    let n = 200_000u32;
    let mut p = P::new();
    for i in 0..n {
        p = p.op(b"]r").op(&i.to_le_bytes()).op(b"0");
    }
    for i in 0..n - 1 {
        p = p
            .op(b"j")
            .op(&i.to_le_bytes())
            .op(b"j")
            .op(&(i + 1).to_le_bytes())
            .op(b"a0");
    }
    let e = read_bytes(&legacy_file(
        &p.op(b"j").op(&0u32.to_le_bytes()).stop(),
        &[],
    ))
    .unwrap_err();
    assert!(e.to_string().contains("the checkpoint is a list"), "{e}");
}

#[test]
fn broken_streams_are_errors() {
    let cases: [(Vec<u8>, &str); 5] = [
        (
            P::new().op(b"h\x05").stop(),
            "memo entry 5 read before it was written",
        ),
        (P::new().op(b"s").stop(), "stack underflow"),
        (P::new().op(b"(0t").stop(), "no MARK to pop"),
        (P::new().op(b"\xff").stop(), "unsupported opcode 0xff"),
        (P::new().op(b"(").op(&[0x85]).stop(), "stack underflow"),
    ];
    for (pkl, want) in cases {
        let e = read_bytes(&zip_file(&pkl, &[])).unwrap_err();
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
}

#[test]
fn every_prefix_and_corruption_is_handled() {
    let path = Path::new("mem.pth");
    for good in [small_zip(), small_legacy()] {
        let ck = parse(path, &good).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ck.tensors.len(), 2);
        for cut in 0..good.len() {
            assert!(
                parse(path, &good[..cut]).is_err(),
                "prefix of {cut} bytes loaded"
            );
        }
        // Flipping bytes may still give a loadable file (e.g. a changed value); it must
        // never panic. Legacy files have no checksum, zip entries do.
        for i in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                let _ = parse(path, &bad);
            }
        }
    }
}

#[test]
fn copy_amplification_is_bounded() {
    // L = [0] * 100_000; then set(L) 100_000 times: 10^10 copied items unless bounded.
    let mut p = P::new()
        .op(b"]q\x00(")
        .op(&b"K\x00".repeat(100_000))
        .op(b"e");
    p = p.global("builtins", "set").op(b"q\x010");
    p = p.op(&b"h\x01h\x00\x85R0".repeat(100_000));
    let e = read_bytes(&legacy_file(&p.op(b"h\x00").stop(), &[])).unwrap_err();
    assert!(
        e.to_string()
            .contains("copies far more items than it holds"),
        "{e}"
    );
}
