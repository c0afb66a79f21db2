//! The pictures the emulated camera shows: a folder of numbered images (`V4L2EMU_FRAMES`),
//! played in name order at the stream's rate and looped, or a moving test pattern when no
//! folder is given. Each is scaled to the negotiated size and turned into the negotiated pixel
//! format: MJPEG encoded with `image`'s JPEG encoder, YUV and RGB layouts converted here
//! (BT.601, limited range, as UVC cameras send).

use crate::abi::fourcc;
use image::imageops::FilterType;
use image::RgbImage;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Pixel formats the emulator can produce; others are listed but streamed as empty buffers.
pub fn servable(fcc: u32) -> bool {
    bytes_per_line(fcc, 2).is_some() || is_jpeg(fcc)
}

pub fn is_jpeg(fcc: u32) -> bool {
    fcc == fourcc(b"MJPG") || fcc == fourcc(b"JPEG")
}

/// Bytes per line of the first plane (`None`: compressed or not produced here).
pub fn bytes_per_line(fcc: u32, width: u32) -> Option<u32> {
    let b = fcc.to_le_bytes();
    Some(match &b {
        b"YUYV" | b"UYVY" | b"YVYU" | b"VYUY" => width * 2,
        b"NV12" | b"NV21" | b"YU12" | b"YV12" | b"GREY" => width,
        b"RGB3" | b"BGR3" => width * 3,
        _ => return None,
    })
}

/// Size of one frame in `fcc` at `w`x`h`, as G_FMT reports it.
pub fn size_image(fcc: u32, w: u32, h: u32) -> u32 {
    let b = fcc.to_le_bytes();
    match &b {
        b"NV12" | b"NV21" | b"YU12" | b"YV12" => w * h + 2 * w.div_ceil(2) * h.div_ceil(2),
        _ => match bytes_per_line(fcc, w) {
            Some(bpl) => bpl * h,
            // Compressed: room for any JPEG of the picture (UVC reports a similar bound).
            None => (w * h * 2).max(64 * 1024),
        },
    }
}

/// Where frames come from, with a cache of the payloads made so far.
pub struct Frames {
    files: Vec<PathBuf>,
    decoded: Mutex<HashMap<usize, Arc<RgbImage>>>,
    payloads: Mutex<PayloadCache>,
}

/// Payloads made so far, by (frame, FourCC, width, height), and their total size.
type PayloadCache = (HashMap<(usize, u32, u32, u32), Arc<Vec<u8>>>, usize);

/// Payload bytes kept before the cache is emptied.
const CACHE_BYTES: usize = 256 << 20;
/// Frames of the test pattern before it repeats.
const PATTERN_FRAMES: usize = 60;

impl Frames {
    /// The frames of `dir` (`None`: the test pattern).
    pub fn open(dir: Option<&Path>) -> Result<Self, String> {
        let mut files = Vec::new();
        if let Some(dir) = dir {
            let listing = |d: &Path| -> Vec<PathBuf> {
                let mut v: Vec<PathBuf> = std::fs::read_dir(d)
                    .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_default();
                v.sort();
                v
            };
            let entries = listing(dir);
            if entries.is_empty() && !dir.is_dir() {
                return Err(format!("{}: not a folder of frames", dir.display()));
            }
            let is_image = |p: &PathBuf| {
                let ext = p
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                matches!(ext.as_str(), "jpg" | "jpeg" | "png")
            };
            files = entries.iter().filter(|p| is_image(p)).cloned().collect();
            if files.is_empty() {
                // A folder of clip folders: all of them, in order.
                for sub in entries.iter().filter(|p| p.is_dir()) {
                    files.extend(listing(sub).into_iter().filter(|p| is_image(p)));
                }
            }
            if files.is_empty() {
                return Err(format!(
                    "{}: no frames (numbered .jpg/.png images) in it",
                    dir.display()
                ));
            }
        }
        Ok(Frames {
            files,
            decoded: Mutex::new(HashMap::new()),
            payloads: Mutex::new((HashMap::new(), 0)),
        })
    }

    /// How many distinct frames there are before the sequence repeats.
    pub fn count(&self) -> usize {
        if self.files.is_empty() {
            PATTERN_FRAMES
        } else {
            self.files.len()
        }
    }

    fn source(&self, i: usize) -> Arc<RgbImage> {
        if let Some(img) = self.decoded.lock().unwrap().get(&i) {
            return img.clone();
        }
        let img = if self.files.is_empty() {
            pattern(i)
        } else {
            image::open(&self.files[i])
                .map(|d| d.to_rgb8())
                // An unreadable file shows as grey: the camera still delivers a frame.
                .unwrap_or_else(|_| RgbImage::from_pixel(64, 48, image::Rgb([128, 128, 128])))
        };
        let img = Arc::new(img);
        self.decoded.lock().unwrap().insert(i, img.clone());
        img
    }

    /// Frame `i` (modulo the count) in `fcc` at `w`x`h`; empty for formats not produced here.
    pub fn payload(&self, i: usize, fcc: u32, w: u32, h: u32) -> Arc<Vec<u8>> {
        let i = i % self.count();
        let key = (i, fcc, w, h);
        if let Some(p) = self.payloads.lock().unwrap().0.get(&key) {
            return p.clone();
        }
        let p = Arc::new(if servable(fcc) && w > 0 && h > 0 {
            let src = self.source(i);
            let scaled = if src.dimensions() == (w, h) {
                (*src).clone()
            } else {
                image::imageops::resize(&*src, w, h, FilterType::Triangle)
            };
            convert(&scaled, fcc)
        } else {
            Vec::new()
        });
        let mut cache = self.payloads.lock().unwrap();
        if cache.1 + p.len() > CACHE_BYTES {
            cache.0.clear();
            cache.1 = 0;
        }
        cache.1 += p.len();
        cache.0.insert(key, p.clone());
        p
    }
}

/// A test pattern: colour bars with a white square moving across, so motion is visible.
fn pattern(i: usize) -> RgbImage {
    let (w, h) = (640u32, 480u32);
    let bars = [
        [235, 235, 235],
        [235, 235, 16],
        [16, 235, 235],
        [16, 235, 16],
        [235, 16, 235],
        [235, 16, 16],
        [16, 16, 235],
    ];
    let x0 = (i as u32 * (w - 80)) / PATTERN_FRAMES as u32;
    RgbImage::from_fn(w, h, |x, y| {
        if (x0..x0 + 80).contains(&x) && (200..280).contains(&y) {
            image::Rgb([255, 255, 255])
        } else {
            image::Rgb(bars[(x * 7 / w) as usize])
        }
    })
}

fn yuv(p: &image::Rgb<u8>) -> (u8, u8, u8) {
    let [r, g, b] = p.0.map(|v| v as i32);
    let y = 16 + ((66 * r + 129 * g + 25 * b + 128) >> 8);
    let u = 128 + ((-38 * r - 74 * g + 112 * b + 128) >> 8);
    let v = 128 + ((112 * r - 94 * g - 18 * b + 128) >> 8);
    (
        y.clamp(0, 255) as u8,
        u.clamp(0, 255) as u8,
        v.clamp(0, 255) as u8,
    )
}

/// `img` in the layout `fcc` names.
pub fn convert(img: &RgbImage, fcc: u32) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let b = fcc.to_le_bytes();
    match &b {
        b"MJPG" | b"JPEG" => {
            let mut out = Vec::new();
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
            if img.write_with_encoder(enc).is_err() {
                out.clear();
            }
            out
        }
        b"RGB3" => img.as_raw().clone(),
        b"BGR3" => img.pixels().flat_map(|p| [p[2], p[1], p[0]]).collect(),
        b"GREY" => img.pixels().map(|p| yuv(p).0).collect(),
        b"YUYV" | b"UYVY" | b"YVYU" | b"VYUY" => {
            let mut out = Vec::with_capacity((w * h * 2) as usize);
            for y in 0..h {
                for x in (0..w).step_by(2) {
                    let (y0, u0, v0) = yuv(img.get_pixel(x, y));
                    let (y1, u1, v1) = yuv(img.get_pixel((x + 1).min(w - 1), y));
                    let (u, v) = (
                        ((u0 as u16 + u1 as u16) / 2) as u8,
                        ((v0 as u16 + v1 as u16) / 2) as u8,
                    );
                    out.extend_from_slice(&match &b {
                        b"YUYV" => [y0, u, y1, v],
                        b"UYVY" => [u, y0, v, y1],
                        b"YVYU" => [y0, v, y1, u],
                        _ => [v, y0, u, y1],
                    });
                }
                out.truncate(((y + 1) * w * 2) as usize);
            }
            out
        }
        b"NV12" | b"NV21" | b"YU12" | b"YV12" => {
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let mut luma = Vec::with_capacity((w * h) as usize);
            let mut us = Vec::with_capacity((cw * ch) as usize);
            let mut vs = Vec::with_capacity((cw * ch) as usize);
            for p in img.pixels() {
                luma.push(yuv(p).0);
            }
            for cy in 0..ch {
                for cx in 0..cw {
                    let (_, u, v) = yuv(img.get_pixel((cx * 2).min(w - 1), (cy * 2).min(h - 1)));
                    us.push(u);
                    vs.push(v);
                }
            }
            let mut out = luma;
            match &b {
                b"NV12" => us.iter().zip(&vs).for_each(|(u, v)| out.extend([*u, *v])),
                b"NV21" => us.iter().zip(&vs).for_each(|(u, v)| out.extend([*v, *u])),
                b"YU12" => {
                    out.extend(&us);
                    out.extend(&vs);
                }
                _ => {
                    out.extend(&vs);
                    out.extend(&us);
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_servable_format_fills_its_sizeimage() {
        let img = pattern(3);
        for code in [
            b"YUYV", b"UYVY", b"NV12", b"YU12", b"YV12", b"GREY", b"RGB3", b"BGR3",
        ] {
            let f = fourcc(code);
            let small = image::imageops::resize(&img, 33, 17, FilterType::Nearest);
            assert_eq!(
                convert(&small, f).len() as u32,
                size_image(f, 33, 17),
                "{code:?}"
            );
        }
        let jpeg = convert(&img, fourcc(b"MJPG"));
        assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
        assert!(image::load_from_memory(&jpeg).is_ok());
    }
}
