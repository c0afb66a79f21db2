//! The fuzzed parsers and their seeds: real inputs built here, the repository's torch-saved
//! checkpoint fixtures and the bundled demo weights' header.

use super::Target;
use crate::capture::decode::decode_parts;
use crate::capture::PixelFormat;
use crate::model::config::ModelConfig;
use crate::{Arch, Consensus};
use image::{Rgb, RgbImage};
use std::path::Path;

/// Every target.
pub fn targets() -> Vec<Target> {
    vec![
        frames(),
        checkpoint(),
        index(),
        dataset_rates(),
        weights_metadata(),
        tflite(),
        video_child_output(),
    ]
}

/// The readers of the FFmpeg child that plays video files (`capture::video`): its stderr log
/// (frame headers, decode errors) and the raw frame stream cut by those headers. An input is
/// `[log length u16 LE][log][frame bytes]`. The decoder itself runs in the child, where a crash
/// cannot reach the app; tests/it/video.rs plays corrupt files through the real child.
fn video_child_output() -> Target {
    fn run(input: &[u8]) -> bool {
        if input.len() < 2 {
            return false;
        }
        let n = (u16::from_le_bytes([input[0], input[1]]) as usize).min(input.len() - 2);
        let (log, frames) = input[2..].split_at(n);
        let (decoded, _, broken) = crate::capture::video::replay_child_output(log, frames);
        decoded > 0 && broken.is_none()
    }
    let log: &[u8] = include_bytes!("seeds/ffmpeg_child.log");
    let rgb: &[u8] = include_bytes!("seeds/ffmpeg_child.rgb");
    let seed = |log: &[u8]| {
        let mut v = (log.len() as u16).to_le_bytes().to_vec();
        v.extend_from_slice(log);
        v.extend_from_slice(rgb);
        v
    };
    let mut with_error = log.to_vec();
    with_error.extend_from_slice(
        b"Error while decoding stream #0:0: Invalid data found when processing input\n",
    );
    Target {
        name: "video child output (FFmpeg log lines, raw frame stream)",
        seeds: vec![seed(log), seed(&with_error)],
        tokens: vec![
            b"[Parsed_showinfo_0 @ 0x1] n:   0 pts:      0 s:4x2\n",
            b"config in time_base: 1/12288, ",
            b" pts:NOPTS ",
            b" s:65535x65535 ",
            b"Decoding error: x\n",
            b"\r",
        ],
        run,
    }
}

const FORMATS: [PixelFormat; 6] = [
    PixelFormat::Mjpeg,
    PixelFormat::Yuyv,
    PixelFormat::Nv12,
    PixelFormat::Grey,
    PixelFormat::Rgb,
    PixelFormat::Bgr,
];

/// Frame decoders. An input is `[format][width u16 LE][height u16 LE][frame bytes]`; sizes are
/// taken modulo 641 so zero, odd and mismatched sizes all occur while a frame stays cheap.
fn frames() -> Target {
    fn run(input: &[u8]) -> bool {
        if input.len() < 5 {
            return false;
        }
        let format = match input[0] % 7 {
            6 => PixelFormat::Other("H264".into()),
            i => FORMATS[i as usize].clone(),
        };
        let w = u16::from_le_bytes([input[1], input[2]]) as u32 % 641;
        let h = u16::from_le_bytes([input[3], input[4]]) as u32 % 641;
        decode_parts(&format, w, h, &input[5..]).is_ok()
    }
    let picture = RgbImage::from_fn(32, 24, |x, y| {
        Rgb([(x * 8) as u8, (y * 10) as u8, ((x + y) * 4) as u8])
    });
    let frame = |format: usize, w: u32, h: u32, data: Vec<u8>| {
        let mut v = vec![format as u8];
        v.extend_from_slice(&(w as u16).to_le_bytes());
        v.extend_from_slice(&(h as u16).to_le_bytes());
        v.extend(data);
        v
    };
    let mut seeds = Vec::new();
    for (i, format) in FORMATS.iter().enumerate() {
        seeds.push(frame(
            i,
            32,
            24,
            crate::capture::fake::encode(&picture, format),
        ));
    }
    let grey = image::DynamicImage::ImageRgb8(picture.clone()).to_luma8();
    let mut grey_jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut grey_jpeg, 75)
        .encode_image(&grey)
        .expect("encoding to memory");
    seeds.push(frame(0, 32, 24, grey_jpeg));
    Target {
        name: "frame decoders (MJPEG, YUYV, NV12, GREY, RGB, BGR)",
        seeds,
        // JPEG markers: SOI, EOI, SOF0, DHT, DQT, SOS, DRI, RST0.
        tokens: vec![
            b"\xff\xd8",
            b"\xff\xd9",
            b"\xff\xc0\x00\x11\x08",
            b"\xff\xc4",
            b"\xff\xdb",
            b"\xff\xda",
            b"\xff\xdd\x00\x04\x00\x01",
            b"\xff\xd0",
        ],
        run,
    }
}

/// Pickle opcodes used to build the checkpoint seed by hand.
mod op {
    pub const PROTO2: &[u8] = b"\x80\x02";
    pub const STOP: u8 = b'.';
    pub const MARK: u8 = b'(';
    pub const TUPLE: u8 = b't';
    pub const LIST: u8 = b'l';
    pub const REDUCE: u8 = b'R';
    pub const BINPERSID: u8 = b'Q';
    pub const EMPTY_DICT: u8 = b'}';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const SETITEMS: u8 = b'u';
    pub const NONE: u8 = b'N';
    pub const NEWFALSE: u8 = 0x89;
    pub const TUPLE2: u8 = 0x86;
    pub const BININT1: u8 = b'K';
}

fn unicode(s: &str) -> Vec<u8> {
    let mut v = vec![b'X'];
    v.extend_from_slice(&(s.len() as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

fn global(module: &str, name: &str) -> Vec<u8> {
    format!("c{module}\n{name}\n").into_bytes()
}

fn pickle(body: &[u8]) -> Vec<u8> {
    let mut v = op::PROTO2.to_vec();
    v.extend_from_slice(body);
    v.push(op::STOP);
    v
}

/// A legacy (PyTorch < 1.6) checkpoint, `{"state_dict": {"fc.weight": 2x2 float tensor},
/// "epoch": 3}`, as torch.save wrote it: magic, protocol, sys_info, the object, the storage
/// keys, then the storage.
fn legacy_checkpoint() -> Vec<u8> {
    use op::*;
    let mut magic = vec![0x8a, 10];
    magic.extend_from_slice(&[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
    let mut out = pickle(&magic);
    out.extend(pickle(b"M\xe9\x03"));
    out.extend(pickle(&[EMPTY_DICT]));
    let mut tensor = global("torch._utils", "_rebuild_tensor_v2");
    tensor.push(MARK);
    tensor.push(MARK);
    tensor.extend(unicode("storage"));
    tensor.extend(global("torch", "FloatStorage"));
    tensor.extend(unicode("0"));
    tensor.extend(unicode("cpu"));
    tensor.extend([BININT1, 4, NONE, TUPLE, BINPERSID]);
    tensor.extend([BININT1, 0]);
    tensor.extend([BININT1, 2, BININT1, 2, TUPLE2]);
    tensor.extend([BININT1, 2, BININT1, 1, TUPLE2]);
    tensor.push(NEWFALSE);
    tensor.extend(global("collections", "OrderedDict"));
    tensor.extend([EMPTY_TUPLE, REDUCE]);
    tensor.extend([TUPLE, REDUCE]);
    let mut state = vec![EMPTY_DICT, MARK];
    state.extend(unicode("fc.weight"));
    state.extend(tensor);
    state.push(SETITEMS);
    let mut main = vec![EMPTY_DICT, MARK];
    main.extend(unicode("state_dict"));
    main.extend(state);
    main.extend(unicode("epoch"));
    main.extend([BININT1, 3]);
    main.push(SETITEMS);
    out.extend(pickle(&main));
    let mut keys = vec![MARK];
    keys.extend(unicode("0"));
    keys.push(LIST);
    out.extend(pickle(&keys));
    out.extend_from_slice(&4u64.to_le_bytes());
    for v in [1.0f32, -2.0, 0.5, 4.0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The checkpoint reader (pickle machine, legacy and zip containers).
fn checkpoint() -> Target {
    fn run(input: &[u8]) -> bool {
        crate::weights::import::parse(Path::new("fuzz.pth"), input).is_ok()
    }
    let mut seeds = vec![legacy_checkpoint()];
    // Whole torch-saved checkpoints from the repository's fixtures (zip and legacy, ~39 KB).
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch/forms");
    for name in [
        "squeezenet1_1_state_dict.pth",
        "squeezenet1_1_state_dict_legacy.pth",
        "squeezenet1_1_model_module_legacy.pth",
    ] {
        if let Ok(bytes) = std::fs::read(fixtures.join(name)) {
            if bytes.len() <= super::MAX_INPUT {
                seeds.push(bytes);
            }
        }
    }
    Target {
        name: "checkpoint reader (pickle, legacy and zip .pth)",
        seeds,
        tokens: vec![
            b"ctorch._utils\n_rebuild_tensor_v2\n",
            b"ctorch\nFloatStorage\n",
            b"ccollections\nOrderedDict\n",
            b"cos\nsystem\n",
            b"(",
            b"t",
            b"R",
            b"Q",
            b"u",
            b"\x8a\x0a",
            b"X\xff\xff\xff\x7f",
            b"PK\x03\x04",
        ],
        run,
    }
}

/// The label and index-file parsers. An input is `LABELS \0 INDEX`.
fn index() -> Target {
    fn run(input: &[u8]) -> bool {
        let (labels, list) = match input.iter().position(|&b| b == 0) {
            Some(i) => (&input[..i], &input[i + 1..]),
            None => (input, &[][..]),
        };
        let path = Path::new("fuzz.txt");
        let labels =
            crate::train::data::index::parse_labels(path, &String::from_utf8_lossy(labels));
        let fallback: Vec<String> = ["Swiping Left", "Swiping Right", "No gesture"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let accepted = labels.is_ok();
        let labels = labels.unwrap_or(fallback);
        let list =
            crate::train::data::index::parse_list(path, &String::from_utf8_lossy(list), &labels);
        accepted && list.is_ok()
    }
    let labels = "Swiping Left\nSwiping Right\nNo gesture\n";
    Target {
        name: "index and label parsers (TRN lists, Jester CSV)",
        seeds: vec![
            format!("{labels}\0100 37 0\n101 30 2\n102 25 1\n").into_bytes(),
            format!("{labels}\034870;Swiping Left\n56557;No gesture\n1;swiping right\n")
                .into_bytes(),
            format!("{labels}\034870;\n56557;\n").into_bytes(),
            format!("{labels}\0100 37\n101 30\n").into_bytes(),
        ],
        tokens: vec![
            b"\n",
            b";",
            b" ",
            b"\t",
            b"\r\n",
            b"-1",
            b"0",
            b"18446744073709551616",
            b"..",
            b"/",
            b"\xc3\xa9",
            b"\xff",
        ],
        run,
    }
}

/// A data set's `dataset.toml` (the frame rate of each recorded clip).
fn dataset_rates() -> Target {
    fn run(input: &[u8]) -> bool {
        let text = String::from_utf8_lossy(input);
        crate::train::data::meta::ClipRates::parse(Path::new("dataset.toml"), &text).is_ok()
    }
    let mut written = crate::train::data::meta::ClipRates::default();
    written.clip_fps.insert("rec000001".into(), 29.97);
    written.clip_fps.insert("rec000002".into(), 12.0);
    Target {
        name: "data set rates (dataset.toml)",
        seeds: vec![
            written.to_toml().into_bytes(),
            b"format = 1\nfps = 12.0\n".to_vec(),
        ],
        tokens: vec![
            b"=",
            b"[",
            b"]",
            b"\"",
            b".",
            b"\n",
            b"#",
            b"nan",
            b"inf",
            b"-0.0",
            b"1e39",
            b"clip_fps",
            b"format",
            b"fps",
        ],
        run,
    }
}

/// The weights-metadata reader (the safetensors JSON header and our config in it).
fn weights_metadata() -> Target {
    fn run(input: &[u8]) -> bool {
        crate::weights::parse_header(Path::new("fuzz.safetensors"), input).is_ok()
    }
    let labels = vec!["Swiping Left".to_string(), "No gesture".to_string()];
    let config = ModelConfig::new(Arch::SqueezeNet11, Consensus::TrnMultiscale, 8, labels);
    let header = serde_json::json!({
        "__metadata__": {
            "format": crate::weights::FORMAT,
            "contents": "model",
            "config": serde_json::to_string(&config).expect("a config serialises"),
        },
        "fc.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    });
    let mut seeds = vec![header.to_string().into_bytes()];
    // The bundled demo model's real header.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/demo.safetensors");
    if let Ok(bytes) = std::fs::read(demo) {
        if bytes.len() >= 8 {
            let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
            if let Some(h) = bytes.get(8..8 + n) {
                seeds.push(h[..h.len().min(super::MAX_INPUT)].to_vec());
            }
        }
    }
    Target {
        name: "weights metadata reader",
        seeds,
        tokens: vec![
            b"\"",
            b"\\\"",
            b"{",
            b"}",
            b"[",
            b",",
            b"null",
            b"-1",
            b"1e999",
            b"18446744073709551616",
            b"\\u0000",
        ],
        run,
    }
}

/// The TFLite model reader and executor (`hands::tflite`): a model that loads is also run on
/// zeros when it is small enough to run quickly.
fn tflite() -> Target {
    fn run(input: &[u8]) -> bool {
        let Ok(model) = crate::hands::tflite::TfliteModel::from_bytes(input, "fuzz.tflite") else {
            return false;
        };
        let n: usize = model.input_shape().iter().product();
        if model.macs() < 5_000_000 && model.activation_floats() < 2_000_000 {
            let outs = model
                .run(&vec![0.0; n])
                .expect("an input of the model's size runs");
            assert_eq!(outs.len(), model.output_names().len());
        }
        true
    }
    // The small model holding every operator the hand models use.
    let small = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hands/ops.tflite");
    Target {
        name: "TFLite model reader (hands::tflite)",
        seeds: std::fs::read(small).into_iter().collect(),
        tokens: vec![
            b"TFL3",
            b"\x00\x00\x00\x00",
            b"\xff\xff\xff\xff",
            b"\x01\x00\x00\x00",
            b"\x00\x10\x00\x00",
            b"\xff\xff\xff\x7f",
        ],
        run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_real_inputs_the_parsers_accept() {
        let ckpt = crate::weights::import::parse(Path::new("seed.pth"), &legacy_checkpoint())
            .expect("the hand-built checkpoint parses");
        assert_eq!(ckpt.tensors.len(), 1);
        assert_eq!(ckpt.tensors[0].0, "fc.weight");
        assert_eq!(ckpt.meta["epoch"], "3");
        for target in targets() {
            for (i, seed) in target.seeds.iter().enumerate() {
                assert!((target.run)(seed), "{} seed {i}", target.name);
            }
        }
        let checkpoint_seeds = targets()
            .into_iter()
            .find(|t| t.name.starts_with("checkpoint"))
            .unwrap()
            .seeds;
        assert_eq!(
            checkpoint_seeds.len(),
            4,
            "the repository's torch fixtures are seeds"
        );
    }
}
