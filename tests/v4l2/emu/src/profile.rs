//! Camera profiles: what `v4l2-ctl --list-formats-ext` prints, taken as it comes. A profile is
//! one or more nodes; a node is an optional `Driver Info:` block (`v4l2-ctl -D`: card, driver,
//! bus, device caps) followed by the format listing. A text without any header is one capture
//! node with a default card name. Each further `Driver Info:` block starts the next node
//! (`/dev/video1`, ...), so a metadata-only node is a block whose Device Caps lack Video
//! Capture. Lines starting with `#` are comments. Both v4l2-ctl layouts are read: the current
//! `[0]: 'MJPG' (Motion-JPEG, compressed)` one and the older `Index`/`Type`/`Pixel
//! Format`/`Name` one, with intervals printed as `0.033s` or `0.033 s`, and stepwise intervals
//! with their fps on the same line or on a following `: (...)` line.

use crate::abi::{self, Fract};

/// A frame size entry of a format.
#[derive(Debug, Clone, PartialEq)]
pub enum Size {
    Discrete(u32, u32),
    /// min_w, max_w, step_w, min_h, max_h, step_h (continuous: steps of 1).
    Stepwise {
        min: (u32, u32),
        max: (u32, u32),
        step: (u32, u32),
        continuous: bool,
    },
}

impl Size {
    /// Whether `w`x`h` is one of the sizes this entry gives.
    pub fn contains(&self, w: u32, h: u32) -> bool {
        match *self {
            Size::Discrete(a, b) => a == w && b == h,
            Size::Stepwise { min, max, step, .. } => {
                (min.0..=max.0).contains(&w)
                    && (min.1..=max.1).contains(&h)
                    && (w - min.0).is_multiple_of(step.0.max(1))
                    && (h - min.1).is_multiple_of(step.1.max(1))
            }
        }
    }

    /// The size of this entry nearest to `w`x`h` (stepwise: clamped and rounded to the step).
    pub fn nearest(&self, w: u32, h: u32) -> (u32, u32) {
        match *self {
            Size::Discrete(a, b) => (a, b),
            Size::Stepwise { min, max, step, .. } => {
                let fit = |v: u32, lo: u32, hi: u32, st: u32| {
                    let st = st.max(1);
                    let v = v.clamp(lo, hi);
                    let k = (v - lo + st / 2) / st;
                    (lo + k * st).min(hi - (hi - lo) % st)
                };
                (fit(w, min.0, max.0, step.0), fit(h, min.1, max.1, step.1))
            }
        }
    }
}

/// A frame interval entry of a size.
#[derive(Debug, Clone, PartialEq)]
pub enum Interval {
    Discrete(Fract),
    Stepwise {
        min: Fract,
        max: Fract,
        step: Fract,
        continuous: bool,
    },
}

/// One pixel format a node lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    pub fourcc: u32,
    pub description: String,
    pub flags: u32,
    /// Sizes, each with the intervals listed under it.
    pub sizes: Vec<(Size, Vec<Interval>)>,
}

/// One `/dev/videoN`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub card: String,
    pub driver: String,
    pub bus_info: String,
    pub version: u32,
    pub device_caps: u32,
    pub formats: Vec<Format>,
}

impl Node {
    fn new() -> Self {
        Node {
            card: DEFAULT_CARD.into(),
            driver: "uvcvideo".into(),
            bus_info: String::new(),
            version: 0x0006_0100,
            device_caps: 0,
            formats: Vec::new(),
        }
    }

    /// Whether it captures video (not only metadata).
    pub fn is_capture(&self) -> bool {
        self.device_caps & abi::CAP_VIDEO_CAPTURE != 0
    }
}

/// Card name of a profile without a `Driver Info` header.
pub const DEFAULT_CARD: &str = "Emulated Webcam";

/// The nodes a profile text describes.
pub fn parse(text: &str) -> Result<Vec<Node>, String> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut node = Node::new();
    let mut caps_seen = false;
    let mut header_seen = false;
    let mut in_driver_info = false;
    let mut last_stepwise_old = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let lineno = n + 1;
        if line.starts_with("Driver Info") {
            if header_seen || !node.formats.is_empty() {
                nodes.push(finish(node, caps_seen));
                node = Node::new();
                caps_seen = false;
            }
            header_seen = true;
            in_driver_info = true;
            continue;
        }
        let (key, value) = match line.split_once(':') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line, ""),
        };
        if in_driver_info {
            match key {
                "Driver name" => {
                    node.driver = value.to_string();
                    continue;
                }
                "Card type" => {
                    node.card = value.to_string();
                    continue;
                }
                "Bus info" => {
                    node.bus_info = value.to_string();
                    continue;
                }
                "Driver version" => {
                    let v: Vec<u32> = value.split('.').filter_map(|p| p.parse().ok()).collect();
                    if v.len() == 3 {
                        node.version = v[0] << 16 | v[1] << 8 | v[2];
                    }
                    continue;
                }
                "Capabilities" => continue,
                "Device Caps" => {
                    let hex = value.trim_start_matches("0x");
                    node.device_caps = u32::from_str_radix(hex, 16)
                        .map_err(|_| format!("line {lineno}: bad Device Caps '{value}'"))?;
                    caps_seen = true;
                    continue;
                }
                _ if value.is_empty() && !line.contains(':') => continue, // capability names
                _ => in_driver_info = false,
            }
        }
        if line.starts_with('[') {
            // [0]: 'MJPG' (Motion-JPEG, compressed)
            let (fourcc, rest) = quoted_fourcc(line)
                .ok_or_else(|| format!("line {lineno}: no 'FOURCC' in '{line}'"))?;
            let (description, flags) = description_and_flags(rest);
            node.formats.push(Format {
                fourcc,
                description,
                flags,
                sizes: Vec::new(),
            });
            continue;
        }
        match key {
            "Pixel Format" => {
                let (fourcc, rest) = quoted_fourcc(value)
                    .ok_or_else(|| format!("line {lineno}: no 'FOURCC' in '{line}'"))?;
                let (_, flags) = description_and_flags(rest);
                node.formats.push(Format {
                    fourcc,
                    description: String::new(),
                    flags,
                    sizes: Vec::new(),
                });
            }
            "Name" => {
                if let Some(f) = node.formats.last_mut() {
                    f.description = value.to_string();
                }
            }
            "Size" => {
                let f = node
                    .formats
                    .last_mut()
                    .ok_or_else(|| format!("line {lineno}: a Size before any format"))?;
                if let Some(size) = parse_size(value) {
                    f.sizes.push((size, Vec::new()));
                }
            }
            "Interval" => {
                let entry = node
                    .formats
                    .last_mut()
                    .and_then(|f| f.sizes.last_mut())
                    .ok_or_else(|| format!("line {lineno}: an Interval before any Size"))?;
                let ival = parse_interval(value)
                    .ok_or_else(|| format!("line {lineno}: cannot read interval '{value}'"))?;
                last_stepwise_old =
                    matches!(ival, Interval::Stepwise { .. }) && !value.contains("fps");
                // A one-value range (old UVC drivers: "0.033 s - 0.033 s with step 0.000 s") is
                // served as the discrete interval it is: v4l2-compliance rejects step > max - min.
                entry.1.push(match ival {
                    Interval::Stepwise { min, max, .. } if min == max => Interval::Discrete(min),
                    other => other,
                });
            }
            "" if last_stepwise_old => {
                // Older v4l2-ctl: ": (30.000 fps - 1.000 fps with step 30.000 fps)".
                let fps = numbers(value);
                if let (Some(Interval::Stepwise { min, max, .. }), [hi, lo, ..]) = (
                    node.formats
                        .last_mut()
                        .and_then(|f| f.sizes.last_mut())
                        .and_then(|s| s.1.last_mut()),
                    fps.as_slice(),
                ) {
                    *min = fract_from_fps(*hi, min.secs());
                    *max = fract_from_fps(*lo, max.secs());
                }
                last_stepwise_old = false;
            }
            _ => {} // ioctl:, Type:, Index:, anything else v4l2-ctl prints around the listing
        }
    }
    nodes.push(finish(node, caps_seen));
    if !nodes.iter().any(Node::is_capture) {
        return Err("no node captures video (no formats listed and no Video Capture caps)".into());
    }
    if nodes.iter().all(|n| n.formats.is_empty()) {
        return Err(
            "no formats in it: expected the output of v4l2-ctl --list-formats-ext ([0]: 'MJPG' ...)"
                .into(),
        );
    }
    Ok(nodes)
}

fn finish(mut node: Node, caps_seen: bool) -> Node {
    if !caps_seen {
        node.device_caps = if node.formats.is_empty() && node.card != DEFAULT_CARD {
            abi::CAP_META_CAPTURE | abi::CAP_STREAMING | abi::CAP_EXT_PIX_FORMAT
        } else {
            abi::CAP_VIDEO_CAPTURE | abi::CAP_STREAMING | abi::CAP_EXT_PIX_FORMAT
        };
    }
    // Only what the emulator implements (no read/write I/O, no output side).
    node.device_caps &= abi::CAP_VIDEO_CAPTURE
        | abi::CAP_META_CAPTURE
        | abi::CAP_STREAMING
        | abi::CAP_EXT_PIX_FORMAT;
    node.device_caps |= abi::CAP_STREAMING;
    node
}

/// The FourCC between the first pair of quotes, and the text after it.
fn quoted_fourcc(s: &str) -> Option<(u32, &str)> {
    let start = s.find('\'')? + 1;
    let len = s[start..].find('\'')?;
    let inner = &s[start..start + len];
    let (code, big_endian) = match inner.strip_suffix("-BE") {
        Some(c) => (c, true),
        None => (inner, false),
    };
    let mut b = [b' '; 4];
    for (i, c) in code.bytes().take(4).enumerate() {
        b[i] = c;
    }
    let v = abi::fourcc(&b) | if big_endian { 1 << 31 } else { 0 };
    Some((v, &s[start + len + 1..]))
}

/// "(Motion-JPEG, compressed)" -> ("Motion-JPEG", COMPRESSED).
fn description_and_flags(rest: &str) -> (String, u32) {
    let inner = rest
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let mut parts: Vec<&str> = inner.split(", ").collect();
    let mut flags = 0;
    const FLAG_WORDS: [&str; 7] = [
        "compressed",
        "emulated",
        "continuous-bytestream",
        "dyn-resolution",
        "enc-cap-frame-interval",
        "csc-colorspace",
        "csc-quantization",
    ];
    while let Some(last) = parts.last() {
        if !FLAG_WORDS.contains(last) {
            break;
        }
        if *last == "compressed" {
            flags |= abi::FMT_FLAG_COMPRESSED;
        } else if *last == "emulated" {
            flags |= 0x0002;
        }
        parts.pop();
    }
    (parts.join(", "), flags)
}

fn dims(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once('x')?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

fn parse_size(value: &str) -> Option<Size> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.first().copied()? {
        "Discrete" => {
            let (w, h) = dims(words.get(1)?)?;
            Some(Size::Discrete(w, h))
        }
        kind @ ("Stepwise" | "Continuous") => {
            let min = dims(words.get(1)?)?;
            let max = dims(words.get(3)?)?;
            let step = match words.iter().position(|w| *w == "step") {
                Some(i) => {
                    let (a, b) = words.get(i + 1)?.split_once('/')?;
                    (a.parse().ok()?, b.parse().ok()?)
                }
                None => (1, 1),
            };
            Some(Size::Stepwise {
                min,
                max,
                step,
                continuous: kind == "Continuous",
            })
        }
        _ => None,
    }
}

/// The decimal numbers in `s`, in order.
fn numbers(s: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || (c == '.' && !cur.is_empty()) {
            cur.push(c);
        } else if !cur.is_empty() {
            if let Ok(v) = cur.trim_end_matches('.').parse() {
                out.push(v);
            }
            cur.clear();
        }
    }
    out
}

/// The time per frame of a rate printed with 3 decimals (30.000, 29.970, 7.500), as the
/// fraction a driver would report (1/30, 1001/30000, 2/15); `secs` when no rate is printed.
pub fn fract_from_fps(fps: f64, secs: f64) -> Fract {
    if fps.is_nan() || fps <= 0.0 {
        return fract_from_secs(secs);
    }
    let close = |f: Fract| (f.denominator as f64 / f.numerator as f64 - fps).abs() < 0.0006;
    let r = fps.round();
    if r >= 1.0
        && close(Fract {
            numerator: 1,
            denominator: r as u32,
        })
    {
        return Fract {
            numerator: 1,
            denominator: r as u32,
        };
    }
    let k = (fps * 1.001).round() as u32;
    let ntsc = Fract {
        numerator: 1001,
        denominator: k * 1000,
    };
    if k > 0 && close(ntsc) {
        return ntsc;
    }
    for n in 2..=16u32 {
        let d = (fps * n as f64).round() as u32;
        let f = Fract {
            numerator: n,
            denominator: d,
        };
        if d > 0 && close(f) {
            return f;
        }
    }
    reduce(1000, (fps * 1000.0).round() as u32)
}

/// A time in seconds printed with 3 decimals as a fraction: 1/N where that prints the same
/// (0.033 -> 1/30), else thousandths.
pub fn fract_from_secs(secs: f64) -> Fract {
    if secs.is_nan() || secs <= 0.0 {
        return Fract {
            numerator: 0,
            denominator: 1,
        };
    }
    let r = (1.0 / secs).round();
    if r >= 1.0 && ((1.0 / r) - secs).abs() < 0.0005 {
        return Fract {
            numerator: 1,
            denominator: r as u32,
        };
    }
    reduce((secs * 1000.0).round() as u32, 1000)
}

fn reduce(n: u32, d: u32) -> Fract {
    let (mut a, mut b) = (n, d);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let g = a.max(1);
    Fract {
        numerator: n / g,
        denominator: d / g,
    }
}

fn parse_interval(value: &str) -> Option<Interval> {
    let kind = value.split_whitespace().next()?;
    let nums = numbers(value);
    match kind {
        "Discrete" => {
            let secs = *nums.first()?;
            Some(Interval::Discrete(fract_from_fps(
                nums.get(1).copied().unwrap_or(0.0),
                secs,
            )))
        }
        "Stepwise" => {
            let (min_s, max_s, step_s) = (*nums.first()?, *nums.get(1)?, *nums.get(2)?);
            // "(1.000-30.000 fps)": the slowest rate first.
            let (min, max) = match (nums.get(3), nums.get(4)) {
                (Some(lo), Some(hi)) => (fract_from_fps(*hi, min_s), fract_from_fps(*lo, max_s)),
                _ => (fract_from_secs(min_s), fract_from_secs(max_s)),
            };
            Some(Interval::Stepwise {
                min,
                max,
                // "with step 0.000s": the 100 ns unit UVC counts in (a zero step is invalid).
                step: match fract_from_secs(step_s) {
                    Fract { numerator: 0, .. } => Fract {
                        numerator: 1,
                        denominator: 10_000_000,
                    },
                    f => f,
                },
                continuous: false,
            })
        }
        "Continuous" => {
            let (min_s, max_s) = (*nums.first()?, *nums.get(1)?);
            let (min, max) = match (nums.get(2), nums.get(3)) {
                (Some(lo), Some(hi)) => (fract_from_fps(*hi, min_s), fract_from_fps(*lo, max_s)),
                _ => (fract_from_secs(min_s), fract_from_secs(max_s)),
            };
            Some(Interval::Stepwise {
                min,
                max,
                step: Fract {
                    numerator: 1,
                    denominator: 1,
                },
                continuous: true,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'MJPG' (Motion-JPEG, compressed)
\t\tSize: Discrete 1920x1080
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.067s (15.000 fps)
\t[1]: 'YUYV' (YUYV 4:2:2)
\t\tSize: Stepwise 16x16 - 1920x1080 with step 8/8
\t\tSize: Discrete 640x480
\t\t\tInterval: Stepwise 0.033s - 1.000s with step 0.033s (1.000-30.000 fps)
\t\t\tInterval: Discrete 0.033s (29.970 fps)
";

    #[test]
    fn reads_current_v4l2_ctl_output() {
        let nodes = parse(NEW).unwrap();
        assert_eq!(nodes.len(), 1);
        let n = &nodes[0];
        assert!(n.is_capture());
        assert_eq!(n.card, DEFAULT_CARD);
        assert_eq!(n.formats[0].fourcc, abi::fourcc(b"MJPG"));
        assert_eq!(n.formats[0].description, "Motion-JPEG");
        assert_eq!(n.formats[0].flags, abi::FMT_FLAG_COMPRESSED);
        assert_eq!(
            n.formats[0].sizes[0].1,
            vec![
                Interval::Discrete(Fract {
                    numerator: 1,
                    denominator: 30
                }),
                Interval::Discrete(Fract {
                    numerator: 1,
                    denominator: 15
                })
            ]
        );
        let (size, ivals) = &n.formats[1].sizes[1];
        assert_eq!(size, &Size::Discrete(640, 480));
        assert_eq!(
            ivals[0],
            Interval::Stepwise {
                min: Fract {
                    numerator: 1,
                    denominator: 30
                },
                max: Fract {
                    numerator: 1,
                    denominator: 1
                },
                step: Fract {
                    numerator: 1,
                    denominator: 30
                },
                continuous: false
            }
        );
        assert_eq!(
            ivals[1],
            Interval::Discrete(Fract {
                numerator: 1001,
                denominator: 30000
            })
        );
        assert!(n.formats[1].sizes[0].0.contains(640, 480));
        assert_eq!(n.formats[1].sizes[0].0.nearest(641, 2000), (640, 1080));
    }

    #[test]
    fn reads_older_layout_and_headers_and_second_nodes() {
        let text = "Driver Info (not using libv4l2):
\tDriver name   : uvcvideo
\tCard type     : Integrated Camera: Integrated C
\tBus info      : usb-0000:00:14.0-8
\tDriver version: 5.4.0
\tCapabilities  : 0x84a00001
\t\tVideo Capture
\t\tMetadata Capture
\t\tStreaming
\tDevice Caps   : 0x04200001
\t\tVideo Capture
\t\tStreaming
ioctl: VIDIOC_ENUM_FMT
\tIndex       : 0
\tType        : Video Capture
\tPixel Format: 'MJPG' (compressed)
\tName        : Motion-JPEG
\t\tSize: Discrete 1280x720
\t\t\tInterval: Stepwise 0.033 s - 1.000 s with step 0.033 s
\t\t\t            : (30.000 fps - 1.000 fps with step 30.000 fps)
\t\t\tInterval: Discrete 0.133 s (7.500 fps)
Driver Info:
\tCard type     : Integrated Camera: Integrated C
\tDevice Caps   : 0x04a00000
";
        let nodes = parse(text).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].card, "Integrated Camera: Integrated C");
        assert_eq!(nodes[0].version, 0x050400);
        assert!(nodes[0].is_capture() && !nodes[1].is_capture());
        let f = &nodes[0].formats[0];
        assert_eq!(f.description, "Motion-JPEG");
        assert_eq!(f.flags, abi::FMT_FLAG_COMPRESSED);
        assert_eq!(
            f.sizes[0].1[1],
            Interval::Discrete(Fract {
                numerator: 2,
                denominator: 15
            })
        );
        assert!(matches!(
            f.sizes[0].1[0],
            Interval::Stepwise {
                min: Fract {
                    numerator: 1,
                    denominator: 30
                },
                max: Fract {
                    numerator: 1,
                    denominator: 1
                },
                ..
            }
        ));
    }

    #[test]
    fn nothing_to_capture_is_an_error() {
        assert!(parse("ioctl: VIDIOC_ENUM_FMT\n").is_err());
        assert!(parse("junk\n").is_err());
        assert!(parse("Driver Info:\n Card type : x\n Device Caps : 0x04a00000\n").is_err());
        assert!(parse("\t\tSize: Discrete 1x1\n").is_err());
    }
}
