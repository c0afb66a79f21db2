//! From frames on disk or from a camera to the network's input: TSN segment sampling
//! (docs/ARCHITECTURE.md §5), the evaluation resize + centre crop, normalisation per the
//! weights' [`InputNorm`], and the frame differences of the RGBDiff modality.

use crate::model::config::{ChannelOrder, Framing, InputNorm, Modality, ModelConfig};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use image::{imageops::FilterType, RgbImage};
use std::path::{Path, PathBuf};

/// Frame indices (0-based) for evaluation, test and the live app: the centre of each of `n`
/// equal segments.
///
/// The original (TSN `_get_val_indices`) returns all zeros unless `num_frames > n`, so a clip of
/// exactly `n` frames would be read as `n` copies of its first frame. We apply the centre rule
/// whenever `num_frames >= 1`; it gives `0..n` for `num_frames == n` and repeats frames evenly
/// for shorter clips. [`sample_eval_indices_original`] keeps the original's rule.
pub fn sample_eval_indices(num_frames: usize, n: usize) -> Vec<usize> {
    if num_frames == 0 {
        return vec![0; n];
    }
    let tick = num_frames as f64 / n as f64;
    (0..n)
        .map(|i| ((tick / 2.0 + tick * i as f64) as usize).min(num_frames - 1))
        .collect()
}

/// The original's evaluation sampling, bit for bit: centre of each segment if
/// `num_frames > n`, else all zeros.
pub fn sample_eval_indices_original(num_frames: usize, n: usize) -> Vec<usize> {
    if num_frames > n {
        sample_eval_indices(num_frames, n)
    } else {
        vec![0; n]
    }
}

/// Frame indices (0-based) for training (TSN `_sample_indices`): a random frame inside each of
/// `n` equal segments; N sorted random frames if segments would be empty; zeros if the clip is
/// shorter than `n`.
pub fn sample_train_indices(num_frames: usize, n: usize, rng: &mut impl rand::Rng) -> Vec<usize> {
    let avg = num_frames / n;
    if avg > 0 {
        (0..n).map(|i| i * avg + rng.random_range(0..avg)).collect()
    } else if num_frames > n {
        let mut v: Vec<usize> = (0..n).map(|_| rng.random_range(0..num_frames)).collect();
        v.sort_unstable();
        v
    } else {
        vec![0; n]
    }
}

/// The frames (0-based indices) of a clip of `num_frames` frames stored at `from_fps` that a
/// model trained at `to_fps` sees: times `1/to_fps` apart over the clip's duration, centred on
/// it, each mapped to the nearest frame — the live worker's resampling by timestamp
/// (`live::rate`) for a clip whose frames are evenly spaced. A faster recording is thinned, a
/// slower one repeats frames; at equal rates every frame is kept. TSN sampling then picks
/// segments from these steps.
pub fn resample_clip(num_frames: usize, from_fps: f32, to_fps: f32) -> Vec<usize> {
    if num_frames == 0 || !(from_fps > 0.0 && to_fps > 0.0) {
        return (0..num_frames).collect();
    }
    let (from, to) = (from_fps as f64, to_fps as f64);
    let duration = (num_frames - 1) as f64 / from;
    // The tolerance keeps the last step when the duration is a whole number of steps.
    let steps = (duration * to + 1e-6).floor() as usize + 1;
    let offset = (duration - (steps - 1) as f64 / to) / 2.0;
    (0..steps)
        .map(|j| (((offset + j as f64 / to) * from).round() as usize).min(num_frames - 1))
        .collect()
}

/// Segments of `frames_per_segment` consecutive frames (RGBDiff reads several): the frames
/// (0-based, into `num_frames`) each of the segments starting at `starts` reads, segment after
/// segment, clamped to the clip. Starts come from the sampling rules applied to
/// [`segment_starts_len`] positions, as TSN does for `new_length > 1`.
pub fn segment_frames(
    starts: &[usize],
    frames_per_segment: usize,
    num_frames: usize,
) -> Vec<usize> {
    let last = num_frames.saturating_sub(1);
    starts
        .iter()
        .flat_map(|&s| (0..frames_per_segment).map(move |j| (s + j).min(last)))
        .collect()
}

/// Where a segment of `frames_per_segment` frames may start in a clip of `num_frames`: TSN's
/// `num_frames - new_length + 1` (at least 1).
pub fn segment_starts_len(num_frames: usize, frames_per_segment: usize) -> usize {
    (num_frames + 1)
        .saturating_sub(frames_per_segment.max(1))
        .max(1)
}

/// Writes one segment's backbone input into `out` (`c_in · S · S` floats) from its crops
/// (`S`×`S`, oldest first; one per frame of the segment): the normalised frame for RGB, the
/// differences of neighbouring normalised frames (newer minus older) for RGBDiff, as TSN's
/// `_get_diff` computes them on the normalised input.
pub fn segment_into(crops: &[&RgbImage], modality: Modality, norm: &InputNorm, out: &mut [f32]) {
    match modality {
        Modality::Rgb => normalize_into(crops[0], norm, out),
        Modality::RgbDiff => {
            let plane3 = out.len() / crops.len().saturating_sub(1).max(1);
            for (pair, dst) in crops.windows(2).zip(out.chunks_exact_mut(plane3)) {
                diff_into(pair[0], pair[1], norm, dst);
            }
        }
    }
}

/// `normalise(newer) - normalise(older)` as CHW floats into `out`: the mean cancels.
fn diff_into(older: &RgbImage, newer: &RgbImage, norm: &InputNorm, out: &mut [f32]) {
    let plane = (newer.width() * newer.height()) as usize;
    debug_assert_eq!(out.len(), 3 * plane);
    let src = match norm.channel_order {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let (a, b) = (older.as_raw(), newer.as_raw());
    for c in 0..3 {
        let mul = norm.scale / norm.std[c];
        let dst = &mut out[c * plane..(c + 1) * plane];
        let s = src[c];
        for (i, d) in dst.iter_mut().enumerate() {
            *d = (b[3 * i + s] as f32 - a[3 * i + s] as f32) * mul;
        }
    }
}

/// Resizes so the shorter side is `resize` (aspect kept), then crops the centre `crop`×`crop`.
pub fn resize_center_crop(img: &RgbImage, resize: usize, crop: usize) -> RgbImage {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let resized;
    let src = if w.min(h) == resize {
        img
    } else {
        let (nw, nh) = if w <= h {
            (resize, (h * resize + w / 2) / w)
        } else {
            ((w * resize + h / 2) / h, resize)
        };
        // Triangle = antialiased bilinear, the closest to PIL's Resize(BILINEAR) the original used.
        resized = image::imageops::resize(img, nw as u32, nh as u32, FilterType::Triangle);
        &resized
    };
    let (w, h) = src.dimensions();
    // torchvision CenterCrop: offset = round((size - crop) / 2).
    let x0 = ((w as f64 - crop as f64) / 2.0).round().max(0.0) as u32;
    let y0 = ((h as f64 - crop as f64) / 2.0).round().max(0.0) as u32;
    image::imageops::crop_imm(src, x0, y0, crop as u32, crop as u32).to_image()
}

/// The evaluation (and live) view of one frame: the `crop`² input per `framing`. The centre
/// crop first resizes the shorter side to `resize`; the whole frame is squashed to `crop`².
pub fn frame_view(img: &RgbImage, framing: Framing, resize: usize, crop: usize) -> RgbImage {
    match framing {
        Framing::CenterCrop => resize_center_crop(img, resize, crop),
        Framing::WholeFrame => {
            if img.dimensions() == (crop as u32, crop as u32) {
                img.clone()
            } else {
                image::imageops::resize(img, crop as u32, crop as u32, FilterType::Triangle)
            }
        }
    }
}

/// Writes one `S`×`S` RGB crop as normalised CHW floats into `out` (length 3·S·S).
pub fn normalize_into(img: &RgbImage, norm: &InputNorm, out: &mut [f32]) {
    let plane = (img.width() * img.height()) as usize;
    debug_assert_eq!(out.len(), 3 * plane);
    // Output channel c reads input channel src[c].
    let src = match norm.channel_order {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let mul: [f32; 3] = std::array::from_fn(|c| norm.scale / norm.std[c]);
    let add: [f32; 3] = std::array::from_fn(|c| -norm.mean[c] / norm.std[c]);
    let raw = img.as_raw();
    for c in 0..3 {
        let dst = &mut out[c * plane..(c + 1) * plane];
        let s = src[c];
        for (i, d) in dst.iter_mut().enumerate() {
            *d = raw[3 * i + s] as f32 * mul[c] + add[c];
        }
    }
}

/// Evaluation preprocessing of whole frames into one tensor `[n, c_in, S, S]` on `device`:
/// `frames` holds the segments' frames one segment after the other (`cfg.frames_per_segment()`
/// each, so one frame per segment for RGB).
pub fn frames_to_tensor(frames: &[RgbImage], cfg: &ModelConfig, device: &Device) -> Result<Tensor> {
    let s = cfg.input_size;
    let per = cfg.frames_per_segment();
    if frames.is_empty() || !frames.len().is_multiple_of(per) {
        return Err(Error::Config(format!(
            "{} frame(s) do not make whole segments of {per} frames",
            frames.len()
        )));
    }
    let n = frames.len() / per;
    let len = cfg.input_channels() * s * s;
    let mut data = vec![0f32; n * len];
    for (seg, out) in frames.chunks(per).zip(data.chunks_mut(len)) {
        let crops: Vec<RgbImage> = seg
            .iter()
            .map(|img| frame_view(img, cfg.framing, cfg.resize_size, s))
            .collect();
        let refs: Vec<&RgbImage> = crops.iter().collect();
        segment_into(&refs, cfg.modality, &cfg.input, out);
    }
    Ok(Tensor::from_vec(
        data,
        (n, cfg.input_channels(), s, s),
        device,
    )?)
}

/// The frame files of a clip folder (`00001.jpg`, `000001.png`, ...), in frame order.
///
/// Frames must be numbered from 1 without gaps: a missing frame would silently shift the TSN
/// sampling, so it is an error.
pub fn list_clip_frames(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut numbered = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        if !matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png")) {
            continue;
        }
        let Some(num) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<usize>().ok())
        else {
            continue;
        };
        numbered.push((num, path));
    }
    if numbered.is_empty() {
        return Err(Error::Clip {
            path: dir.to_path_buf(),
            reason: "no frames found (expected numbered images such as 00001.jpg)".into(),
        });
    }
    numbered.sort();
    for (i, (num, path)) in numbered.iter().enumerate() {
        if *num != i + 1 {
            return Err(Error::Clip {
                path: dir.to_path_buf(),
                reason: format!(
                    "frames are not numbered 1..{} without gaps: expected frame {} but found {}",
                    numbered.len(),
                    i + 1,
                    path.display()
                ),
            });
        }
    }
    Ok(numbered.into_iter().map(|(_, p)| p).collect())
}

/// Decodes one frame file to RGB, naming the file on failure.
pub fn load_frame(path: &Path) -> Result<RgbImage> {
    let img = image::open(path).map_err(|e| Error::Clip {
        path: path.to_path_buf(),
        reason: format!("cannot decode frame: {e}"),
    })?;
    Ok(img.to_rgb8())
}

/// Loads the `num_segments` segments of a clip folder chosen by the evaluation rule,
/// preprocessed: `[N, c_in, S, S]`. Errors if the clip has fewer frames than the model has
/// segments.
pub fn load_clip(dir: &Path, cfg: &ModelConfig, device: &Device) -> Result<Tensor> {
    let files = list_clip_frames(dir)?;
    if files.len() < cfg.num_segments {
        return Err(Error::Clip {
            path: dir.to_path_buf(),
            reason: format!(
                "clip has {} frame(s) but the model samples {} segments; it needs at least {}",
                files.len(),
                cfg.num_segments,
                cfg.num_segments
            ),
        });
    }
    let per = cfg.frames_per_segment();
    let starts = sample_eval_indices(segment_starts_len(files.len(), per), cfg.num_segments);
    let idx = segment_frames(&starts, per, files.len());
    let frames = idx
        .iter()
        .map(|&i| load_frame(&files[i]))
        .collect::<Result<Vec<_>>>()?;
    frames_to_tensor(&frames, cfg, device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn eval_sampling_matches_tsn_centres() {
        // TSN: tick = 36/8 = 4.5, offsets int(2.25 + 4.5 i).
        assert_eq!(
            sample_eval_indices(36, 8),
            vec![2, 6, 11, 15, 20, 24, 29, 33]
        );
        assert_eq!(sample_eval_indices(8, 8), (0..8).collect::<Vec<_>>());
        assert_eq!(sample_eval_indices(4, 8), vec![0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(sample_eval_indices_original(8, 8), vec![0; 8]);
        assert_eq!(
            sample_eval_indices_original(36, 8),
            sample_eval_indices(36, 8)
        );
    }

    #[test]
    fn train_sampling_stays_in_segments() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let idx = sample_train_indices(37, 8, &mut rng);
            for (i, &f) in idx.iter().enumerate() {
                assert!(f >= i * 4 && f < i * 4 + 4, "{idx:?}");
            }
            let short = sample_train_indices(10, 8, &mut rng);
            assert!(short.windows(2).all(|w| w[0] <= w[1]) && short.iter().all(|&f| f < 10));
        }
        assert_eq!(sample_train_indices(5, 8, &mut rng), vec![0; 8]);
    }

    #[test]
    fn crop_is_torchvision_centre() {
        let img = RgbImage::from_fn(256, 256, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let c = resize_center_crop(&img, 256, 224);
        assert_eq!(c.dimensions(), (224, 224));
        assert_eq!(c.get_pixel(0, 0).0, [16, 16, 0]);
        let wide = RgbImage::new(320, 240);
        assert_eq!(resize_center_crop(&wide, 128, 112).dimensions(), (112, 112));
    }

    #[test]
    fn whole_frame_view_keeps_the_edges_in_sight() {
        // A 176×100 frame, dark but for a bright 20 px band at the left edge: the centre crop
        // cuts it away, the whole-frame view keeps it at the left of its square.
        let img = RgbImage::from_fn(176, 100, |x, _| {
            image::Rgb(if x < 20 {
                [250, 250, 250]
            } else {
                [10, 10, 10]
            })
        });
        let centre = frame_view(&img, Framing::CenterCrop, 64, 64);
        let whole = frame_view(&img, Framing::WholeFrame, 64, 64);
        assert_eq!(
            (centre.dimensions(), whole.dimensions()),
            ((64, 64), (64, 64))
        );
        assert!(
            centre.pixels().all(|p| p.0[0] < 20),
            "the centre crop saw the edge"
        );
        // 20/176 of 64 px ≈ 7 columns stay bright; the right side stays dark.
        assert!((0..64).all(|y| whole.get_pixel(2, y).0[0] > 240));
        assert!((0..64).all(|y| whole.get_pixel(60, y).0[0] < 20));
        // A frame already the input's size is taken as it is.
        let small = RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, 7]));
        assert_eq!(frame_view(&small, Framing::WholeFrame, 64, 64), small);
    }

    #[test]
    fn normalisation_orders_and_scales_channels() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([10, 20, 30]));
        let bgr = InputNorm {
            channel_order: ChannelOrder::Bgr,
            scale: 1.0,
            mean: [104.0, 117.0, 128.0],
            std: [1.0; 3],
        };
        let mut out = vec![0.0; 6];
        normalize_into(&img, &bgr, &mut out);
        assert_eq!(out, vec![-74.0, -74.0, -97.0, -97.0, -118.0, -118.0]);
    }

    #[test]
    fn segments_of_several_frames_start_where_they_fit() {
        // TSN with new_length 5 (6 frames a segment) on 30 frames: 25 starts, tick 25/4.
        let starts = sample_eval_indices(segment_starts_len(30, 6), 4);
        assert_eq!(starts, vec![3, 9, 15, 21]);
        let frames = segment_frames(&starts, 6, 30);
        assert_eq!(frames.len(), 24);
        assert_eq!(&frames[18..], &[21, 22, 23, 24, 25, 26]);
        // A clip shorter than a segment repeats its last frame.
        assert_eq!(segment_starts_len(3, 6), 1);
        assert_eq!(segment_frames(&[0], 6, 3), vec![0, 1, 2, 2, 2, 2]);
        // RGB: one frame a segment, the plain rules.
        assert_eq!(segment_starts_len(30, 1), 30);
        assert_eq!(segment_frames(&[4, 9], 1, 30), vec![4, 9]);
    }

    #[test]
    fn rgb_diff_input_is_the_difference_of_normalised_neighbours() {
        let norm = ModelConfig::new(
            crate::model::config::Arch::SqueezeNet11,
            crate::model::config::Consensus::Mlp,
            1,
            vec!["a".into()],
        )
        .input;
        let frames: Vec<RgbImage> = [10u8, 30, 25]
            .iter()
            .map(|&v| RgbImage::from_pixel(2, 1, image::Rgb([v, 2 * v, 0])))
            .collect();
        let refs: Vec<&RgbImage> = frames.iter().collect();
        let mut out = vec![f32::NAN; 2 * 3 * 2];
        segment_into(&refs, Modality::RgbDiff, &norm, &mut out);
        let mut a = vec![0.0; 6];
        let mut b = vec![0.0; 6];
        for (k, pair) in frames.windows(2).enumerate() {
            normalize_into(&pair[0], &norm, &mut a);
            normalize_into(&pair[1], &norm, &mut b);
            for i in 0..6 {
                let want = b[i] - a[i];
                let got = out[k * 6 + i];
                assert!(
                    (got - want).abs() <= 1e-5,
                    "diff {k} value {i}: {got} vs {want}"
                );
            }
        }
        // RGB reads only the first crop.
        let mut rgb = vec![f32::NAN; 6];
        segment_into(&refs, Modality::Rgb, &norm, &mut rgb);
        normalize_into(&frames[0], &norm, &mut a);
        assert_eq!(rgb, a);
    }

    #[test]
    fn clips_are_resampled_by_time() {
        // Same rate: untouched.
        assert_eq!(resample_clip(36, 12.0, 12.0), (0..36).collect::<Vec<_>>());
        // 30 fps for 2.5 s (76 frames) seen at 12 fps: 31 steps, 2 or 3 frames apart, spanning
        // the clip.
        let r = resample_clip(76, 30.0, 12.0);
        assert_eq!(r.len(), 31);
        assert_eq!((r[0], r[30]), (0, 75));
        assert!(
            r.windows(2).all(|w| w[1] - w[0] == 2 || w[1] - w[0] == 3),
            "{r:?}"
        );
        // 6 fps seen at 12: every frame twice (one end once), in order.
        let r = resample_clip(6, 6.0, 12.0);
        assert_eq!(r.len(), 11);
        assert!(
            r.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1),
            "{r:?}"
        );
        assert_eq!((r[0], r[10]), (0, 5));
        // Degenerate input is left alone.
        assert_eq!(resample_clip(1, 30.0, 12.0), vec![0]);
        assert!(resample_clip(0, 30.0, 12.0).is_empty());
        assert_eq!(resample_clip(3, f32::NAN, 12.0), vec![0, 1, 2]);
    }
}
