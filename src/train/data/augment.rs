//! Training augmentation (docs/ARCHITECTURE.md §5): TSN's `GroupMultiScaleCrop` — one crop per
//! clip, its sides drawn from scales 1, .875, .75, .66 of the shorter side (aspect distortion of
//! at most one scale step), placed at one of 13 fixed corner/centre offsets, resized to the input
//! size — and the horizontal flip. For whole-frame models ([`Framing::WholeFrame`]) the same
//! scales and places apply to each side of the frame instead of to a square of its shorter side.

use crate::model::config::Framing;
use image::{imageops::FilterType, RgbImage};
use rand::Rng;

/// The original's crop scales, relative to the frame's shorter side.
pub const SCALES: [f64; 4] = [1.0, 0.875, 0.75, 0.66];

/// A crop rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// TSN's `_sample_crop_size` with `fix_crop=True, more_fix_crop=True, max_distort=1`.
pub fn sample_multiscale_crop(
    img_w: u32,
    img_h: u32,
    input_size: usize,
    rng: &mut impl Rng,
) -> CropBox {
    let base = img_w.min(img_h) as f64;
    let input = input_size as i64;
    // Sizes within 3 px of the input size snap to it (as the original does).
    let sizes: Vec<u32> = SCALES
        .iter()
        .map(|s| {
            let x = (base * s) as i64;
            (if (x - input).abs() < 3 { input } else { x }).max(1) as u32
        })
        .collect();
    let mut pairs = Vec::new();
    for (i, &h) in sizes.iter().enumerate() {
        for (j, &w) in sizes.iter().enumerate() {
            if i.abs_diff(j) <= 1 {
                pairs.push((w.min(img_w), h.min(img_h)));
            }
        }
    }
    let (w, h) = pairs[rng.random_range(0..pairs.len())];
    let offsets = fix_offsets(img_w, img_h, w, h);
    let (x, y) = offsets[rng.random_range(0..offsets.len())];
    CropBox { x, y, w, h }
}

/// A training crop for a model that sees frames per `framing`.
pub fn sample_crop(
    framing: Framing,
    img_w: u32,
    img_h: u32,
    input_size: usize,
    rng: &mut impl Rng,
) -> CropBox {
    match framing {
        Framing::CenterCrop => sample_multiscale_crop(img_w, img_h, input_size, rng),
        Framing::WholeFrame => sample_whole_frame_crop(img_w, img_h, rng),
    }
}

/// TSN's multi-scale crop with each side's scale taken of that side (the two at most one scale
/// step apart): scale 1 on both is the whole frame, which evaluation squashes to the input.
pub fn sample_whole_frame_crop(img_w: u32, img_h: u32, rng: &mut impl Rng) -> CropBox {
    let side = |len: u32, s: f64| ((len as f64 * s) as u32).clamp(1, len);
    let mut pairs = Vec::new();
    for (i, &sh) in SCALES.iter().enumerate() {
        for (j, &sw) in SCALES.iter().enumerate() {
            if i.abs_diff(j) <= 1 {
                pairs.push((side(img_w, sw), side(img_h, sh)));
            }
        }
    }
    let (w, h) = pairs[rng.random_range(0..pairs.len())];
    let offsets = fix_offsets(img_w, img_h, w, h);
    let (x, y) = offsets[rng.random_range(0..offsets.len())];
    CropBox { x, y, w, h }
}

/// TSN's `fill_fix_offset(more_fix_crop=True)`: corners, centre, edge midpoints and the four
/// quarter points.
fn fix_offsets(img_w: u32, img_h: u32, crop_w: u32, crop_h: u32) -> Vec<(u32, u32)> {
    let ws = (img_w - crop_w) / 4;
    let hs = (img_h - crop_h) / 4;
    vec![
        (0, 0),
        (4 * ws, 0),
        (0, 4 * hs),
        (4 * ws, 4 * hs),
        (2 * ws, 2 * hs),
        (0, 2 * hs),
        (4 * ws, 2 * hs),
        (2 * ws, 4 * hs),
        (2 * ws, 0),
        (ws, hs),
        (3 * ws, hs),
        (ws, 3 * hs),
        (3 * ws, 3 * hs),
    ]
}

/// Crops `img` to `crop` and resizes the result to `size`×`size` (bilinear, as the original's
/// PIL resize).
pub fn crop_resize(img: &RgbImage, crop: CropBox, size: usize) -> RgbImage {
    let view = image::imageops::crop_imm(img, crop.x, crop.y, crop.w, crop.h);
    if crop.w as usize == size && crop.h as usize == size {
        return view.to_image();
    }
    image::imageops::resize(&*view, size as u32, size as u32, FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn crops_stay_inside_and_use_the_scales() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let c = sample_multiscale_crop(176, 100, 224, &mut rng);
            assert!(c.x + c.w <= 176 && c.y + c.h <= 100, "{c:?}");
            // max_distort = 1: the two sides are at most one scale step apart.
            let step = |v: u32| [100, 87, 75, 66].iter().position(|&s| s == v).unwrap();
            assert!(step(c.w).abs_diff(step(c.h)) <= 1, "{c:?}");
            seen.insert((c.w, c.h, c.x, c.y));
        }
        // 10 size pairs × up to 13 offsets, many distinct.
        assert!(seen.len() > 60, "{}", seen.len());
        // Snapping: on a 226-px frame the full-size crop becomes exactly 224.
        let c = sample_multiscale_crop(300, 226, 224, &mut rng);
        assert!([224, 197, 169, 149].contains(&c.w), "{c:?}");
    }

    #[test]
    fn whole_frame_crops_scale_each_side_and_include_the_whole_frame() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut whole = 0;
        let mut widths = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let c = sample_crop(Framing::WholeFrame, 176, 100, 64, &mut rng);
            assert!(c.x + c.w <= 176 && c.y + c.h <= 100, "{c:?}");
            let step_w = [176, 154, 132, 116].iter().position(|&s| s == c.w);
            let step_h = [100, 87, 75, 66].iter().position(|&s| s == c.h);
            let (Some(sw), Some(sh)) = (step_w, step_h) else {
                panic!("{c:?} is not a scale of each side");
            };
            assert!(sw.abs_diff(sh) <= 1, "{c:?}");
            whole += usize::from(
                c == CropBox {
                    x: 0,
                    y: 0,
                    w: 176,
                    h: 100,
                },
            );
            widths.insert(c.w);
        }
        // 10 size pairs, the whole frame (one pair, one place) among them.
        assert_eq!(widths.len(), 4);
        assert!(whole > 20, "{whole}");
        // The centre-crop framing keeps the original's squares of the shorter side.
        let c = sample_crop(Framing::CenterCrop, 176, 100, 64, &mut rng);
        assert!(c.w <= 100, "{c:?}");
    }

    #[test]
    fn crop_resize_reads_the_right_region() {
        let img = RgbImage::from_fn(40, 20, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let c = CropBox {
            x: 10,
            y: 5,
            w: 8,
            h: 8,
        };
        let out = crop_resize(&img, c, 8);
        assert_eq!(out.get_pixel(0, 0).0, [10, 5, 0]);
        let big = crop_resize(&img, c, 16);
        assert_eq!(big.dimensions(), (16, 16));
    }
}
