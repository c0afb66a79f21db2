//! PNG plots drawn with the `image` crate: a run's loss and top-1 curves per epoch, and a
//! confusion matrix.

pub mod font;

use crate::train::atomic::write_atomic;
use crate::train::error::{Result, TrainError};
use crate::train::metrics::{ConfusionMatrix, EpochRecord};
use font::{draw_text, text_width};
use image::{Rgb, RgbImage};
use std::path::Path;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([30, 30, 30]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);
const TRAIN: Rgb<u8> = Rgb([31, 119, 180]);
const VAL: Rgb<u8> = Rgb([255, 127, 14]);

fn encode_png(path: &Path, img: &RgbImage) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| TrainError::bad_file(path, format!("cannot encode PNG: {e}")))?;
    write_atomic(path, &bytes)
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, c: Rgb<u8>) {
    for yy in y..y + h {
        for xx in x..x + w {
            put(img, xx, yy, c);
        }
    }
}

/// A 2-pixel line (Bresenham, drawn twice offset by one row).
fn line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    loop {
        put(img, x, y, c);
        put(img, x, y + 1, c);
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// Round tick spacing giving about `n` ticks over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-12);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_tick(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else {
        let digits = (-step.log10().floor()) as usize;
        format!("{v:.digits$}")
    }
}

/// A named, coloured line of (x, y) points.
type Series<'a> = (&'a str, Rgb<u8>, Vec<(f64, f64)>);

/// One panel: series of (x, y) points, drawn in a box at (x, y, w, h).
struct Panel<'a> {
    title: &'a str,
    series: Vec<Series<'a>>,
    y_range: Option<(f64, f64)>,
}

fn draw_panel(img: &mut RgbImage, p: &Panel, bx: i64, by: i64, bw: i64, bh: i64, x_max: f64) {
    let (left, top, right, bottom) = (bx + 44, by + 24, bx + bw - 10, by + bh - 30);
    let all: Vec<f64> = p
        .series
        .iter()
        .flat_map(|s| s.2.iter().map(|q| q.1))
        .collect();
    let (mut lo, mut hi) = p.y_range.unwrap_or_else(|| {
        let lo = all.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = all.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        (lo.min(0.0), hi)
    });
    // Also catches NaN bounds (no finite point at all).
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        hi = lo + 1.0;
    }
    let ystep = nice_step(hi - lo, 5.0);
    lo = (lo / ystep).floor() * ystep;
    hi = (hi / ystep).ceil() * ystep;
    let x_min = 1.0;
    let x_span = (x_max - x_min).max(1.0);
    let px = |x: f64| left + ((x - x_min) / x_span * (right - left) as f64).round() as i64;
    let py = |y: f64| bottom - ((y - lo) / (hi - lo) * (bottom - top) as f64).round() as i64;
    // Grid and y ticks.
    let mut v = lo;
    while v <= hi + ystep * 0.01 {
        let y = py(v);
        for x in left..=right {
            put(img, x, y, GRID);
        }
        let label = fmt_tick(v, ystep);
        draw_text(
            img,
            left - 4 - text_width(&label, 1) as i64,
            y - 3,
            &label,
            1,
            BLACK,
        );
        v += ystep;
    }
    // X ticks at whole epochs.
    let xstep = nice_step(x_span, 8.0).max(1.0);
    let mut e = x_min;
    while e <= x_max + 1e-9 {
        let x = px(e);
        for y in bottom..bottom + 4 {
            put(img, x, y, BLACK);
        }
        let label = format!("{e:.0}");
        draw_text(
            img,
            x - text_width(&label, 1) as i64 / 2,
            bottom + 7,
            &label,
            1,
            BLACK,
        );
        e += xstep;
    }
    for x in left..=right {
        put(img, x, bottom, BLACK);
    }
    for y in top..=bottom {
        put(img, left, y, BLACK);
    }
    draw_text(img, left, by + 6, p.title, 2, BLACK);
    let label = "epoch";
    draw_text(img, (left + right) / 2 - 15, bottom + 18, label, 1, BLACK);
    // Series, with a legend at the top right.
    let mut lx = right;
    for (name, color, pts) in p.series.iter().rev() {
        lx -= text_width(name, 1) as i64 + 18;
        fill_rect(img, lx, by + 9, 10, 4, *color);
        draw_text(img, lx + 13, by + 8, name, 1, BLACK);
        for w in pts.windows(2) {
            line(
                img,
                (px(w[0].0), py(w[0].1)),
                (px(w[1].0), py(w[1].1)),
                *color,
            );
        }
        for &(x, y) in pts {
            fill_rect(img, px(x) - 2, py(y) - 2, 5, 5, *color);
        }
    }
}

/// Renders the loss and top-1 curves of a run.
pub fn curves_image(history: &[EpochRecord]) -> RgbImage {
    let (w, h) = (900u32, 360u32);
    let mut img = RgbImage::from_pixel(w, h, WHITE);
    let x_max = history.last().map_or(1.0, |r| r.epoch as f64).max(2.0);
    let pts = |f: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as f64, v)))
            .collect()
    };
    let loss = Panel {
        title: "loss",
        series: vec![
            ("train", TRAIN, pts(&|r| Some(r.train_loss))),
            ("val", VAL, pts(&|r| r.val_loss)),
        ],
        y_range: None,
    };
    let top1 = Panel {
        title: "top-1 %",
        series: vec![
            ("train", TRAIN, pts(&|r| Some(r.train_top1))),
            ("val", VAL, pts(&|r| r.val_top1)),
        ],
        y_range: Some((0.0, 100.0)),
    };
    let half = (w / 2) as i64;
    draw_panel(&mut img, &loss, 0, 0, half, h as i64, x_max);
    draw_panel(&mut img, &top1, half, 0, half, h as i64, x_max);
    img
}

/// Writes the curves PNG atomically.
pub fn write_curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    encode_png(path, &curves_image(history))
}

/// Renders a confusion matrix: rows true classes with their names and accuracy, cells shaded
/// by the row's share.
pub fn confusion_image(m: &ConfusionMatrix, labels: &[String]) -> RgbImage {
    let n = m.counts.len().max(1) as i64;
    let cell = (560 / n).clamp(8, 36);
    let name_w = labels
        .iter()
        .enumerate()
        .map(|(i, l)| text_width(&format!("{i:>2} {l}"), 1))
        .max()
        .unwrap_or(0) as i64;
    let (left, top) = (name_w + 12, 40);
    let acc_w = 60;
    let w = left + n * cell + acc_w;
    let h = top + n * cell + 30;
    let mut img = RgbImage::from_pixel(w as u32, h as u32, WHITE);
    draw_text(
        &mut img,
        6,
        6,
        "confusion (rows: true, columns: predicted)",
        2,
        BLACK,
    );
    let per_class = m.per_class();
    for (i, row) in m.counts.iter().enumerate() {
        let total: u64 = row.iter().sum();
        let y = top + i as i64 * cell;
        let name = format!("{i:>2} {}", labels.get(i).map_or("", String::as_str));
        draw_text(&mut img, 6, y + cell / 2 - 3, &name, 1, BLACK);
        for (j, &c) in row.iter().enumerate() {
            let share = if total > 0 {
                c as f64 / total as f64
            } else {
                0.0
            };
            let shade = |full: u8| (255.0 - (255.0 - full as f64) * share).round() as u8;
            let color = if i == j {
                Rgb([shade(20), shade(110), shade(60)])
            } else {
                Rgb([shade(200), shade(40), shade(40)])
            };
            let x = left + j as i64 * cell;
            fill_rect(&mut img, x, y, cell - 1, cell - 1, color);
        }
        if let (_, Some(acc)) = per_class[i] {
            let s = format!("{acc:.0}%");
            draw_text(
                &mut img,
                left + n * cell + 6,
                y + cell / 2 - 3,
                &s,
                1,
                BLACK,
            );
        }
    }
    let every = if cell >= 14 { 1 } else { 5 };
    for j in (0..n).step_by(every) {
        let s = j.to_string();
        let x = left + j * cell + cell / 2 - text_width(&s, 1) as i64 / 2;
        draw_text(&mut img, x, top + n * cell + 6, &s, 1, BLACK);
    }
    img
}

/// Writes the confusion matrix PNG atomically.
pub fn write_confusion(path: &Path, m: &ConfusionMatrix, labels: &[String]) -> Result<()> {
    encode_png(path, &confusion_image(m, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, val: bool) -> EpochRecord {
        EpochRecord {
            epoch,
            lr: 0.01,
            train_loss: 2.0 / epoch as f64,
            train_top1: 20.0 * epoch as f64,
            train_top5: 90.0,
            val_loss: val.then_some(1.5 / epoch as f64),
            val_top1: val.then_some(18.0 * epoch as f64),
            val_top5: val.then_some(95.0),
            train_clips: 10,
            skipped_clips: 0,
            clips_per_s: 1.0,
            epoch_s: 1.0,
            clipped_steps: 0,
        }
    }

    fn count(img: &RgbImage, c: Rgb<u8>) -> usize {
        img.pixels().filter(|p| **p == c).count()
    }

    #[test]
    fn curves_draw_both_series() {
        let hist: Vec<_> = (1..=5).map(|e| record(e, e % 2 == 1)).collect();
        let img = curves_image(&hist);
        assert!(count(&img, TRAIN) > 200, "train curves drawn");
        assert!(count(&img, VAL) > 100, "val curves drawn");
        // One epoch only, or none, still draws axes without panicking.
        assert!(count(&curves_image(&hist[..1]), BLACK) > 100);
        assert!(count(&curves_image(&[]), BLACK) > 100);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("curves.png");
        write_curves(&p, &hist).unwrap();
        assert_eq!(image::open(&p).unwrap().width(), 900);
    }

    #[test]
    fn confusion_shades_the_diagonal() {
        let mut m = ConfusionMatrix::new(3);
        for _ in 0..4 {
            m.add(0, 0);
            m.add(1, 1);
        }
        m.add(1, 2);
        m.add(2, 0);
        let labels: Vec<String> = ["one", "two", "three"].map(String::from).to_vec();
        let img = confusion_image(&m, &labels);
        let full_diag = Rgb([20, 110, 60]);
        let full_off = Rgb([200, 40, 40]);
        assert!(count(&img, full_diag) > 100, "row 0 is all correct");
        assert!(count(&img, full_off) > 100, "row 2 is all wrong");
        assert!(nice_step(97.0, 5.0) == 20.0 && nice_step(0.9, 5.0) == 0.2);
    }
}
