//! Raw camera frames to RGB: MJPEG (with the JPEG decoder `image` brings, zune-jpeg, which
//! returns errors on bad data instead of panicking), YUYV and NV12 (BT.601, studio range, as
//! webcams send them), GREY, RGB and BGR. Every size is checked before it is used, so a short,
//! garbage or lying buffer is an error, never a panic or a huge allocation.

use super::device::{PixelFormat, RawFrame};
use image::RgbImage;

/// Largest frame side accepted (8K is 7680): a header claiming more is refused unread. (The
/// `BadSize` messages spell it out.)
pub const MAX_SIDE: u32 = 8192;
/// Largest allocation the JPEG decoder may make for one frame.
const MAX_JPEG_ALLOC: u64 = 512 << 20;
/// How far from the end of a JPEG its end-of-image marker may be (some cameras pad frames).
const EOI_SEARCH: usize = 4096;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{format} frame of {width}x{height}: {rule}")]
    BadSize {
        format: PixelFormat,
        width: u32,
        height: u32,
        rule: &'static str,
    },
    #[error("truncated {format} frame: {got} bytes, {width}x{height} needs {needed}")]
    Truncated {
        format: PixelFormat,
        width: u32,
        height: u32,
        needed: usize,
        got: usize,
    },
    #[error("truncated JPEG frame ({0} bytes, no end-of-image marker)")]
    TruncatedJpeg(usize),
    #[error("bad JPEG frame: {0}")]
    Jpeg(String),
    #[error("{0} frames are not decoded")]
    Unsupported(PixelFormat),
    #[error("{0}")]
    Image(String),
}

/// Decodes one raw frame to RGB.
pub fn decode(frame: &RawFrame) -> Result<RgbImage, DecodeError> {
    decode_parts(&frame.format, frame.width, frame.height, &frame.data)
}

/// Decodes `data`, a `width`x`height` frame in `format`, to RGB.
pub fn decode_parts(
    format: &PixelFormat,
    width: u32,
    height: u32,
    data: &[u8],
) -> Result<RgbImage, DecodeError> {
    match format {
        PixelFormat::Mjpeg => decode_jpeg(width, height, data),
        PixelFormat::Yuyv => {
            let src = checked(format, width, height, data, 4, true)?;
            Ok(yuyv_to_rgb(width, height, src))
        }
        PixelFormat::Nv12 => {
            // Y plane (w·h) then interleaved UV at half resolution (w·h/2).
            let src = checked(format, width, height, data, 3, true)?;
            Ok(nv12_to_rgb(width, height, src))
        }
        PixelFormat::Yu12 => {
            // Y plane (w·h), then U and V planes (w·h/4 each).
            let src = checked(format, width, height, data, 3, true)?;
            Ok(yu12_to_rgb(width, height, src))
        }
        PixelFormat::Grey => {
            let src = checked(format, width, height, data, 2, false)?;
            let rgb = src.iter().flat_map(|&y| [y, y, y]).collect();
            Ok(image_from(width, height, rgb))
        }
        PixelFormat::Rgb => {
            let src = checked(format, width, height, data, 6, false)?;
            Ok(image_from(width, height, src.to_vec()))
        }
        PixelFormat::Bgr => {
            let src = checked(format, width, height, data, 6, false)?;
            let rgb = src
                .chunks_exact(3)
                .flat_map(|p| [p[2], p[1], p[0]])
                .collect();
            Ok(image_from(width, height, rgb))
        }
        PixelFormat::Other(_) => Err(DecodeError::Unsupported(format.clone())),
    }
}

/// The first `width·height·half_bytes/2` bytes of `data`, after checking the size is sane
/// (`half_bytes`: bytes per two pixels). Longer buffers are accepted: drivers may pad.
fn checked<'a>(
    format: &PixelFormat,
    width: u32,
    height: u32,
    data: &'a [u8],
    half_bytes: usize,
    needs_even: bool,
) -> Result<&'a [u8], DecodeError> {
    let side_ok = |s: u32| (1..=MAX_SIDE).contains(&s) && (!needs_even || s.is_multiple_of(2));
    if !side_ok(width) || !side_ok(height) {
        return Err(DecodeError::BadSize {
            format: format.clone(),
            width,
            height,
            rule: if needs_even {
                "sides must be even, 2 to 8192"
            } else {
                "sides must be 1 to 8192"
            },
        });
    }
    // At most 8192² · 3 bytes: no overflow in usize.
    let needed = width as usize * height as usize * half_bytes / 2;
    if data.len() < needed {
        return Err(DecodeError::Truncated {
            format: format.clone(),
            width,
            height,
            needed,
            got: data.len(),
        });
    }
    Ok(&data[..needed])
}

fn image_from(width: u32, height: u32, rgb: Vec<u8>) -> RgbImage {
    RgbImage::from_raw(width, height, rgb).expect("buffer size checked by `checked`")
}

/// Decodes an image file's bytes (a frame folder's `00001.jpg`): JPEGs with the same checks as
/// camera frames (a file cut short is refused, not shown half grey), other formats by `image`.
pub fn decode_file(data: &[u8]) -> Result<RgbImage, DecodeError> {
    if data.starts_with(&[0xFF, 0xD8]) {
        return decode_jpeg(MAX_SIDE, MAX_SIDE, data);
    }
    image::load_from_memory(data)
        .map(|img| img.to_rgb8())
        .map_err(|e| DecodeError::Image(e.to_string()))
}

/// A JPEG no larger than the camera's mode (`width`x`height`): a corrupt header claiming a
/// huge picture is refused before anything is allocated for it.
fn decode_jpeg(width: u32, height: u32, data: &[u8]) -> Result<RgbImage, DecodeError> {
    // A frame cut short decodes "successfully" with its missing part grey; the model must not
    // see that, so a JPEG without its end-of-image marker is refused.
    let tail = &data[data.len().saturating_sub(EOI_SEARCH)..];
    if !tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(DecodeError::TruncatedJpeg(data.len()));
    }
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(data), image::ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width.min(MAX_SIDE));
    limits.max_image_height = Some(height.min(MAX_SIDE));
    limits.max_alloc = Some(MAX_JPEG_ALLOC);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| DecodeError::Jpeg(e.to_string()))?;
    Ok(img.to_rgb8())
}

/// BT.601 studio-range YCbCr to RGB in 8.8 fixed point (the usual integer form of
/// R = 1.164(Y−16) + 1.596(V−128), G = 1.164(Y−16) − 0.392(U−128) − 0.813(V−128),
/// B = 1.164(Y−16) + 2.017(U−128)); within 1 of the exact value.
#[inline]
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = 298 * (y as i32 - 16);
    let d = u as i32 - 128;
    let e = v as i32 - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
    ]
}

fn yuyv_to_rgb(width: u32, height: u32, src: &[u8]) -> RgbImage {
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for q in src.chunks_exact(4) {
        let (y0, u, y1, v) = (q[0], q[1], q[2], q[3]);
        rgb.extend_from_slice(&yuv_to_rgb(y0, u, v));
        rgb.extend_from_slice(&yuv_to_rgb(y1, u, v));
    }
    image_from(width, height, rgb)
}

fn nv12_to_rgb(width: u32, height: u32, src: &[u8]) -> RgbImage {
    let (w, h) = (width as usize, height as usize);
    let (luma, chroma) = src.split_at(w * h);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        let uv_row = &chroma[(row / 2) * w..(row / 2 + 1) * w];
        for (col, &y) in luma[row * w..(row + 1) * w].iter().enumerate() {
            let uv = &uv_row[(col / 2) * 2..(col / 2) * 2 + 2];
            rgb.extend_from_slice(&yuv_to_rgb(y, uv[0], uv[1]));
        }
    }
    image_from(width, height, rgb)
}

fn yu12_to_rgb(width: u32, height: u32, src: &[u8]) -> RgbImage {
    let (w, h) = (width as usize, height as usize);
    let (luma, chroma) = src.split_at(w * h);
    let (u_plane, v_plane) = chroma.split_at(w * h / 4);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        let c_row = (row / 2) * (w / 2);
        for (col, &y) in luma[row * w..(row + 1) * w].iter().enumerate() {
            let c = c_row + col / 2;
            rgb.extend_from_slice(&yuv_to_rgb(y, u_plane[c], v_plane[c]));
        }
    }
    image_from(width, height, rgb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// Test picture: 2×2 blocks of one colour each (so 4:2:0 and 4:2:2 chroma subsampling lose
    /// nothing), covering dark, light, saturated and grey colours.
    fn picture(w: u32, h: u32) -> RgbImage {
        let colours = [
            [255u8, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [20, 20, 20],
            [240, 240, 240],
            [128, 64, 200],
            [200, 180, 20],
            [90, 160, 150],
        ];
        RgbImage::from_fn(w, h, |x, y| {
            Rgb(colours[((x / 2) as usize * 3 + (y / 2) as usize * 5) % colours.len()])
        })
    }

    /// RGB to BT.601 studio-range YUV, the standard's formula, rounded.
    fn rgb_to_yuv(p: [u8; 3]) -> [u8; 3] {
        let [r, g, b] = p.map(|c| c as f64);
        let y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0;
        let u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
        let v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
        [y, u, v].map(|c| c.round().clamp(0.0, 255.0) as u8)
    }

    /// The standard's inverse, exact (in f64), clamped and rounded.
    fn yuv_to_rgb_exact(y: u8, u: u8, v: u8) -> [u8; 3] {
        let (y, u, v) = (y as f64 - 16.0, u as f64 - 128.0, v as f64 - 128.0);
        let k = 255.0 / 219.0;
        let r = k * y + 255.0 / 112.0 * 0.701 * v;
        let g = k * y
            - 255.0 / 112.0 * 0.886 * 0.114 / 0.587 * u
            - 255.0 / 112.0 * 0.701 * 0.299 / 0.587 * v;
        let b = k * y + 255.0 / 112.0 * 0.886 * u;
        [r, g, b].map(|c| c.round().clamp(0.0, 255.0) as u8)
    }

    fn yuyv_of(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        for px in img.pixels().collect::<Vec<_>>().chunks(2) {
            let a = rgb_to_yuv(px[0].0);
            let b = rgb_to_yuv(px[1].0);
            out.extend_from_slice(&[a[0], a[1], b[0], a[2]]);
        }
        out
    }

    fn nv12_of(img: &RgbImage) -> Vec<u8> {
        let (w, h) = img.dimensions();
        let mut y_plane = Vec::new();
        let mut uv_plane = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let yuv = rgb_to_yuv(img.get_pixel(x, y).0);
                y_plane.push(yuv[0]);
                if y % 2 == 0 && x % 2 == 0 {
                    uv_plane.extend_from_slice(&[yuv[1], yuv[2]]);
                }
            }
        }
        y_plane.extend(uv_plane);
        y_plane
    }

    /// I420: the Y plane, then U, then V, each chroma plane at half size.
    fn yu12_of(img: &RgbImage) -> Vec<u8> {
        let nv12 = nv12_of(img);
        let (w, h) = img.dimensions();
        let (luma, uv) = nv12.split_at((w * h) as usize);
        let mut out = luma.to_vec();
        out.extend(uv.iter().step_by(2));
        out.extend(uv.iter().skip(1).step_by(2));
        out
    }

    fn max_diff(a: &RgbImage, b: &RgbImage) -> u8 {
        assert_eq!(a.dimensions(), b.dimensions());
        a.as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap()
    }

    #[test]
    fn integer_bt601_is_within_one_of_the_exact_formula() {
        for y in (0..=255u8).step_by(3) {
            for u in (0..=255u8).step_by(5) {
                for v in (0..=255u8).step_by(7) {
                    let got = yuv_to_rgb(y, u, v);
                    let want = yuv_to_rgb_exact(y, u, v);
                    for c in 0..3 {
                        assert!(
                            got[c].abs_diff(want[c]) <= 1,
                            "{y} {u} {v}: {got:?} vs {want:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn yuyv_and_nv12_decode_to_the_colours_they_were_made_from() {
        let img = picture(16, 10);
        for (format, data) in [
            (PixelFormat::Yuyv, yuyv_of(&img)),
            (PixelFormat::Nv12, nv12_of(&img)),
            (PixelFormat::Yu12, yu12_of(&img)),
        ] {
            let got = decode_parts(&format, 16, 10, &data).unwrap();
            // The exact inverse of the bytes we made: within the integer form's 1.
            let exact = RgbImage::from_fn(16, 10, |x, y| {
                let p = rgb_to_yuv(img.get_pixel(x, y).0);
                Rgb(yuv_to_rgb_exact(p[0], p[1], p[2]))
            });
            assert!(max_diff(&got, &exact) <= 1, "{format}");
            // And close to the original: 8-bit YUV rounding costs at most a few levels.
            assert!(
                max_diff(&got, &img) <= 3,
                "{format}: {}",
                max_diff(&got, &img)
            );
        }
    }

    #[test]
    fn packed_formats_are_exact() {
        let img = picture(6, 4);
        let rgb = decode_parts(&PixelFormat::Rgb, 6, 4, img.as_raw()).unwrap();
        assert_eq!(rgb, img);
        let bgr: Vec<u8> = img.pixels().flat_map(|p| [p[2], p[1], p[0]]).collect();
        assert_eq!(decode_parts(&PixelFormat::Bgr, 6, 4, &bgr).unwrap(), img);
        let grey: Vec<u8> = (0..24).map(|i| i * 10).collect();
        let got = decode_parts(&PixelFormat::Grey, 6, 4, &grey).unwrap();
        assert_eq!(got.get_pixel(5, 3).0, [230, 230, 230]);
        assert_eq!(got.get_pixel(1, 0).0, [10, 10, 10]);
        // Padding after the frame (some drivers) is ignored.
        let mut padded = img.as_raw().clone();
        padded.extend_from_slice(&[0; 17]);
        assert_eq!(decode_parts(&PixelFormat::Rgb, 6, 4, &padded).unwrap(), img);
    }

    fn jpeg_of(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
            .encode_image(img)
            .unwrap();
        out
    }

    #[test]
    fn mjpeg_decodes_with_jpeg_loss_only() {
        // Blocks of 8 px so JPEG's own chroma subsampling and DCT blocks stay uniform.
        let img = RgbImage::from_fn(32, 16, |x, y| {
            Rgb([((x / 8) * 60) as u8, ((y / 8) * 200) as u8, 90])
        });
        let got = decode_parts(&PixelFormat::Mjpeg, 32, 16, &jpeg_of(&img)).unwrap();
        // Quality 100 on flat 8×8 blocks: the colour conversion's rounding only.
        assert!(max_diff(&got, &img) <= 3, "{}", max_diff(&got, &img));
        // Zero padding after the end-of-image marker (some cameras) is fine.
        let mut padded = jpeg_of(&img);
        padded.extend_from_slice(&[0; 300]);
        assert!(decode_parts(&PixelFormat::Mjpeg, 32, 16, &padded).is_ok());
        // A JPEG larger than the camera's mode is refused, not decoded.
        let err = decode_parts(&PixelFormat::Mjpeg, 16, 16, &padded).unwrap_err();
        assert!(matches!(err, DecodeError::Jpeg(_)), "{err}");
    }

    #[test]
    fn truncated_and_garbage_frames_are_errors() {
        let img = picture(16, 8);
        let jpeg = jpeg_of(&img);
        for cut in [0, 1, 2, 20, jpeg.len() / 2, jpeg.len() - 2] {
            let err = decode_parts(&PixelFormat::Mjpeg, 16, 8, &jpeg[..cut]).unwrap_err();
            assert!(
                matches!(err, DecodeError::TruncatedJpeg(_) | DecodeError::Jpeg(_)),
                "{cut}: {err}"
            );
        }
        let mut garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(decode_parts(&PixelFormat::Mjpeg, 16, 8, &garbage).is_err());
        garbage.extend_from_slice(&[0xFF, 0xD9]);
        assert!(decode_parts(&PixelFormat::Mjpeg, 16, 8, &garbage).is_err());
        // A JPEG header with its body replaced by noise.
        let mut noisy = jpeg.clone();
        let n = noisy.len();
        for (i, b) in noisy[n / 3..n - 2].iter_mut().enumerate() {
            *b = (i * 31 % 256) as u8;
        }
        let _ = decode_parts(&PixelFormat::Mjpeg, 16, 8, &noisy); // must not panic

        let yuyv = yuyv_of(&img);
        let err = decode_parts(&PixelFormat::Yuyv, 16, 8, &yuyv[..yuyv.len() - 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "truncated YUYV frame: 255 bytes, 16x8 needs 256"
        );
        let nv12 = nv12_of(&img);
        assert!(decode_parts(&PixelFormat::Nv12, 16, 8, &nv12[..16 * 8]).is_err());
        assert!(decode_parts(&PixelFormat::Rgb, 16, 8, &[1, 2, 3]).is_err());
        assert!(decode_parts(&PixelFormat::Grey, 16, 8, &[]).is_err());
        // Sizes that are zero, odd where pairs are needed, or absurd.
        assert!(matches!(
            decode_parts(&PixelFormat::Yuyv, 15, 8, &yuyv),
            Err(DecodeError::BadSize { .. })
        ));
        assert!(decode_parts(&PixelFormat::Rgb, 0, 8, &[]).is_err());
        assert!(decode_parts(&PixelFormat::Grey, u32::MAX, u32::MAX, &[0; 64]).is_err());
        let err = decode_parts(&PixelFormat::Other("H264".into()), 16, 8, &[0; 64]).unwrap_err();
        assert_eq!(err.to_string(), "H264 frames are not decoded");
    }
}
