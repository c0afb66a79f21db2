//! A rotated region of an RGB image resampled into a model's square input tensor, as
//! MediaPipe's `ImageToTensorCalculator` does it on the CPU
//! (`mediapipe/calculators/tensor/image_to_tensor_converter_opencv.cc`,
//! `image_to_tensor_utils.cc`): the region's corners go onto the tensor's corners and OpenCV's
//! `warpPerspective` samples it with `INTER_LINEAR`, into 8-bit pixels, which are then scaled to
//! the model's value range.
//!
//! Written here rather than with an image crate because the parity with MediaPipe depends on
//! OpenCV's exact sampling: tensor pixel `(x, y)` (integer, no half-pixel offset) maps to the
//! source point `centre + R·((x/size − ½)·w, (y/size − ½)·h)`, rounded to 1/32 pixel
//! (`INTER_TAB_SIZE`), interpolated with 1/32-step weights and rounded to 8 bits; outside the
//! image either zero (`BORDER_ZERO`) or the nearest edge pixel (`BORDER_REPLICATE`).

use image::RgbImage;

/// A rectangle in pixels of the image, rotated by `rotation` radians (clockwise in image
/// coordinates, y down) about its centre: MediaPipe's `RotatedRect`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RotatedRect {
    pub center_x: f32,
    pub center_y: f32,
    pub width: f32,
    pub height: f32,
    pub rotation: f32,
}

impl RotatedRect {
    /// The whole image, unrotated (`GetRoi` without a rectangle).
    pub fn whole(width: u32, height: u32) -> Self {
        Self {
            center_x: 0.5 * width as f32,
            center_y: 0.5 * height as f32,
            width: width as f32,
            height: height as f32,
            rotation: 0.0,
        }
    }
}

/// What a sample outside the image reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Border {
    /// Black (`BORDER_ZERO`: the palm detector's letterbox).
    Zero,
    /// The nearest edge pixel (`BORDER_REPLICATE`, the default: the landmark model's crop).
    Replicate,
}

/// Letterbox padding `[left, top, right, bottom]` as fractions of the tensor side.
pub type Padding = [f32; 4];

/// `PadRoi` with `keep_aspect_ratio: true` for a square tensor: widens the shorter side of
/// `roi` to the longer one and returns the padding that adds, as fractions of the tensor.
pub fn pad_to_square(roi: &mut RotatedRect) -> Padding {
    // tensor_aspect_ratio = 1 for the square inputs of both hand models.
    let roi_aspect = roi.height / roi.width;
    if 1.0 > roi_aspect {
        let vertical = (1.0 - roi_aspect) / 2.0;
        roi.height = roi.width;
        [0.0, vertical, 0.0, vertical]
    } else {
        let horizontal = (1.0 - 1.0 / roi_aspect) / 2.0;
        roi.width = roi.height;
        [horizontal, 0.0, horizontal, 0.0]
    }
}

/// OpenCV's fixed-point position: 1/32 pixel (`INTER_BITS` = 5).
const INTER_BITS: i64 = 5;
const INTER_TAB: i64 = 1 << INTER_BITS;

/// The `size`×`size` RGB crop of `roi` as 8-bit pixels, `[size, size, 3]` row-major: the
/// intermediate image OpenCV's `warpPerspective` produces.
pub fn crop_u8(image: &RgbImage, roi: &RotatedRect, size: usize, border: Border) -> Vec<u8> {
    let mut out = vec![0u8; size * size * 3];
    let (w, h) = (image.width() as i64, image.height() as i64);
    let src = image.as_raw();
    let (sin, cos) = (roi.rotation as f64).sin_cos();
    let (rw, rh) = (roi.width as f64, roi.height as f64);
    let (cx, cy) = (roi.center_x as f64, roi.center_y as f64);
    let inv = 1.0 / size as f64;
    // An empty image has nothing to replicate: every sample is black.
    let border = if w == 0 || h == 0 {
        Border::Zero
    } else {
        border
    };
    let fetch = |x: i64, y: i64, c: usize| -> i64 {
        match border {
            Border::Zero => {
                if x < 0 || y < 0 || x >= w || y >= h {
                    0
                } else {
                    src[((y * w + x) * 3) as usize + c] as i64
                }
            }
            Border::Replicate => {
                let x = x.clamp(0, w - 1);
                let y = y.clamp(0, h - 1);
                src[((y * w + x) * 3) as usize + c] as i64
            }
        }
    };
    warm(src, w, h, roi);
    for ty in 0..size {
        let v = (ty as f64 * inv - 0.5) * rh;
        for tx in 0..size {
            let u = (tx as f64 * inv - 0.5) * rw;
            let sx = cx + cos * u - sin * v;
            let sy = cy + sin * u + cos * v;
            // NaN or huge positions (a degenerate region) read as far outside the image.
            let fx = round_ties_even(sx * INTER_TAB as f64);
            let fy = round_ties_even(sy * INTER_TAB as f64);
            let (x0, y0) = (fx >> INTER_BITS, fy >> INTER_BITS);
            let (ax, ay) = (fx & (INTER_TAB - 1), fy & (INTER_TAB - 1));
            let w00 = (INTER_TAB - ax) * (INTER_TAB - ay);
            let w01 = ax * (INTER_TAB - ay);
            let w10 = (INTER_TAB - ax) * ay;
            let w11 = ax * ay;
            let o = (ty * size + tx) * 3;
            if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
                // All four neighbours inside (most samples): no border rule to apply.
                let top = ((y0 * w + x0) * 3) as usize;
                let (p, q) = (&src[top..top + 6], &src[top + (w * 3) as usize..][..6]);
                for c in 0..3 {
                    let s = p[c] as i64 * w00
                        + p[3 + c] as i64 * w01
                        + q[c] as i64 * w10
                        + q[3 + c] as i64 * w11;
                    out[o + c] = ((s + 512) >> 10).clamp(0, 255) as u8;
                }
                continue;
            }
            for c in 0..3 {
                let s = fetch(x0, y0, c) * w00
                    + fetch(x0 + 1, y0, c) * w01
                    + fetch(x0, y0 + 1, c) * w10
                    + fetch(x0 + 1, y0 + 1, c) * w11;
                // Weights sum to 32·32; OpenCV rounds its 2^15-scaled sum the same way.
                out[o + c] = ((s + 512) >> 10).clamp(0, 255) as u8;
            }
        }
    }
    out
}

/// Reads one byte per cache line of the source rows under `roi`'s bounding box, row by row,
/// before the crop samples them. The samples walk the image along the rotated region's rows,
/// across cache lines in an order the hardware prefetcher does not follow, so a frame that is
/// not in cache yet (every new camera frame) cost a memory round trip per line; read in
/// address order first, the lines stream in.
fn warm(src: &[u8], w: i64, h: i64, roi: &RotatedRect) {
    let (sin, cos) = (roi.rotation as f64).sin_cos();
    let (hw, hh) = (roi.width as f64 / 2.0, roi.height as f64 / 2.0);
    let (cx, cy) = (roi.center_x as f64, roi.center_y as f64);
    let ex = (cos * hw).abs() + (sin * hh).abs();
    let ey = (sin * hw).abs() + (cos * hh).abs();
    if !(ex.is_finite() && ey.is_finite() && cx.is_finite() && cy.is_finite()) || w == 0 || h == 0 {
        return;
    }
    let clampx = |v: f64| (v.floor() as i64).clamp(0, w - 1);
    let clampy = |v: f64| (v.floor() as i64).clamp(0, h - 1);
    let (x0, x1) = (clampx(cx - ex - 1.0), clampx(cx + ex + 1.0));
    let (y0, y1) = (clampy(cy - ey - 1.0), clampy(cy + ey + 1.0));
    let mut acc = 0u8;
    for y in y0..=y1 {
        let row = &src[((y * w + x0) * 3) as usize..((y * w + x1 + 1) * 3) as usize];
        for line in row.chunks(64) {
            acc ^= line[0];
        }
    }
    std::hint::black_box(acc);
}

/// `v` rounded to the nearest integer, ties to even, clamped to `i32`'s range (NaN gives 0),
/// as `f64::round_ties_even` then a clamp would give. The crate is built for baseline x86-64,
/// where `round_ties_even` is a call to libm's `rint` (1.5 % of a tracked frame); adding and
/// subtracting 1.5·2^52 rounds the same way in the default rounding mode for |v| ≤ 2^51.
#[inline]
fn round_ties_even(v: f64) -> i64 {
    const MAGIC: f64 = 6755399441055744.0; // 1.5 · 2^52
    let v = v.clamp(i32::MIN as f64, i32::MAX as f64);
    ((v + MAGIC) - MAGIC) as i64
}

/// The crop as the model's input, `[size, size, 3]` in [0, 1] (`output_tensor_float_range`
/// min 0, max 1 in both hand graphs).
pub fn crop_to_tensor(
    image: &RgbImage,
    roi: &RotatedRect,
    size: usize,
    border: Border,
) -> Vec<f32> {
    let scale = 1.0f32 / 255.0;
    crop_u8(image, roi, size, border)
        .into_iter()
        .map(|v| v as f32 * scale)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    #[test]
    fn rounding_matches_the_standard_library() {
        let mut values = vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -1e300,
            0.0,
            -0.0,
        ];
        for i in -2000..2000 {
            // Ties, near-ties and plain values, small and near i32's ends.
            for base in [0.0, 2.0e9, -2.0e9, 2147483647.0, -2147483648.0] {
                let v = base + i as f64 * 0.25;
                values.extend([v, v + 1e-9, v - 1e-9]);
            }
        }
        for v in values {
            let want = v.round_ties_even().clamp(i32::MIN as f64, i32::MAX as f64) as i64;
            assert_eq!(round_ties_even(v), want, "{v}");
        }
    }

    #[test]
    fn unrotated_region_of_the_tensor_size_is_a_copy() {
        let img = ramp(40, 30);
        // A 16×16 region whose corner sits on pixel (4, 6): tensor pixel (x, y) reads (4+x, 6+y).
        let roi = RotatedRect {
            center_x: 12.0,
            center_y: 14.0,
            width: 16.0,
            height: 16.0,
            rotation: 0.0,
        };
        let out = crop_u8(&img, &roi, 16, Border::Zero);
        for y in 0..16u32 {
            for x in 0..16u32 {
                let p = img.get_pixel(4 + x, 6 + y).0;
                assert_eq!(&out[((y * 16 + x) * 3) as usize..][..3], &p, "({x}, {y})");
            }
        }
    }

    #[test]
    fn quarter_turn_reads_the_image_rotated() {
        let img = ramp(20, 20);
        // Rotation π/2: tensor x runs down the image, tensor y runs right to left.
        let roi = RotatedRect {
            center_x: 10.0,
            center_y: 10.0,
            width: 8.0,
            height: 8.0,
            rotation: std::f32::consts::FRAC_PI_2,
        };
        let out = crop_u8(&img, &roi, 8, Border::Zero);
        for y in 0..8i64 {
            for x in 0..8i64 {
                // u = x − 4, v = y − 4; source = (10 − v, 10 + u).
                let p = img
                    .get_pixel((10 - (y - 4)) as u32, (10 + (x - 4)) as u32)
                    .0;
                assert_eq!(&out[((y * 8 + x) * 3) as usize..][..3], &p, "({x}, {y})");
            }
        }
    }

    #[test]
    fn borders_zero_or_replicate() {
        let img = RgbImage::from_pixel(4, 4, image::Rgb([200, 100, 50]));
        let roi = RotatedRect {
            center_x: 2.0,
            center_y: 2.0,
            width: 16.0,
            height: 16.0,
            rotation: 0.0,
        };
        let zero = crop_u8(&img, &roi, 16, Border::Zero);
        let rep = crop_u8(&img, &roi, 16, Border::Replicate);
        assert_eq!(&zero[..3], &[0, 0, 0]);
        assert!(rep.chunks(3).all(|p| p == [200, 100, 50]));
        // Half a pixel into the border blends with black.
        let roi = RotatedRect {
            center_x: 8.5,
            center_y: 2.0,
            width: 16.0,
            height: 16.0,
            rotation: 0.0,
        };
        let half = crop_u8(&img, &roi, 16, Border::Zero);
        // Tensor x = 3 reads source x = 3.5: half pixel 3, half outside.
        assert_eq!(&half[(8 * 16 + 3) * 3..][..3], &[100, 50, 25]);
    }

    #[test]
    fn padding_widens_the_short_side() {
        let mut r = RotatedRect::whole(640, 480);
        assert_eq!(pad_to_square(&mut r), [0.0, 0.125, 0.0, 0.125]);
        assert_eq!((r.width, r.height), (640.0, 640.0));
        let mut r = RotatedRect::whole(300, 600);
        assert_eq!(pad_to_square(&mut r), [0.25, 0.0, 0.25, 0.0]);
        assert_eq!((r.width, r.height), (600.0, 600.0));
    }

    #[test]
    fn absurd_regions_do_not_panic() {
        let img = ramp(5, 5);
        for roi in [
            RotatedRect {
                center_x: f32::NAN,
                center_y: 0.0,
                width: 1.0,
                height: 1.0,
                rotation: 0.0,
            },
            RotatedRect {
                center_x: 1e30,
                center_y: -1e30,
                width: 1e30,
                height: 1.0,
                rotation: 1.0,
            },
        ] {
            assert_eq!(crop_u8(&img, &roi, 8, Border::Replicate).len(), 8 * 8 * 3);
        }
        assert!(crop_u8(
            &RgbImage::new(0, 0),
            &RotatedRect::whole(0, 0),
            4,
            Border::Replicate
        )
        .iter()
        .all(|&v| v == 0));
    }
}
