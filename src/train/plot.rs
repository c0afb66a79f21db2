//! PNG plots drawn with plotters: a run's loss and top-1 curves per epoch (`curves.png`), and a
//! confusion matrix (`eval --confusion-png`). Text uses egui's bundled Ubuntu font through
//! plotters' ab_glyph path, so no system font is needed.

use crate::train::metrics::{ConfusionMatrix, EpochRecord};
use crate::util::write_atomic;
use crate::{Error, Result};
use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// The font family every text in the plots uses.
pub(crate) const FONT: &str = "sans-serif";
pub(crate) const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);
pub(crate) const INK: RGBColor = RGBColor(30, 30, 30);
/// Diagonal (correct) and off-diagonal (confused) cells at a row share of 1.
const RIGHT: RGBColor = RGBColor(20, 110, 60);
const WRONG: RGBColor = RGBColor(200, 40, 40);

/// A plot that could not be drawn (in practice: the font could not be registered).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the plot: {0}")]
pub struct DrawError(String);

pub(crate) fn draw_err(e: impl std::fmt::Display) -> DrawError {
    DrawError(e.to_string())
}

/// Registers the font with plotters once per process.
fn font_ready() -> std::result::Result<(), DrawError> {
    static READY: OnceLock<bool> = OnceLock::new();
    let ok = *READY.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
            .is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| DrawError("egui's bundled font is not a usable TrueType font".into()))
}

/// Draws into a white `w`×`h` RGB buffer with `draw`.
pub(crate) fn render(
    (w, h): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> std::result::Result<(), DrawError>,
) -> std::result::Result<RgbImage, DrawError> {
    font_ready()?;
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    RgbImage::from_raw(w, h, buf).ok_or_else(|| DrawError("pixel buffer size".into()))
}

pub(crate) fn encode_png(path: &Path, img: std::result::Result<RgbImage, DrawError>) -> Result<()> {
    let img = img.map_err(|e| Error::bad_file(path, e.to_string()))?;
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::bad_file(path, format!("cannot encode PNG: {e}")))?;
    Ok(write_atomic(path, &bytes)?)
}

/// A named, coloured line of (epoch, value) points.
type Series<'a> = (&'a str, RGBColor, Vec<(u32, f64)>);

/// The y range that shows every point: from 0 (or below) to a little above the highest, or
/// `fixed`. A panel without a finite point gets 0..1.
fn y_range(series: &[Series], fixed: Option<(f64, f64)>) -> (f64, f64) {
    if let Some(r) = fixed {
        return r;
    }
    let values = series.iter().flat_map(|s| s.2.iter().map(|p| p.1));
    let (lo, hi) = values.fold((0f64, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi > lo {
        (lo, hi + (hi - lo) * 0.05)
    } else {
        (lo, lo + 1.0)
    }
}

/// One panel: title, the epoch axis from 1 to `x_max`, the series with their points, a legend.
fn panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    y_desc: &str,
    series: &[Series],
    fixed: Option<(f64, f64)>,
    x_max: u32,
) -> std::result::Result<(), DrawError> {
    let (lo, hi) = y_range(series, fixed);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20).into_font().color(&INK))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(1u32..x_max, lo..hi)
        .map_err(draw_err)?;
    let label_font = (FONT, 14).into_font().color(&INK);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(x_max.min(10) as usize)
        .y_labels(6)
        .label_style(label_font.clone())
        .axis_desc_style(label_font.clone())
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(draw_err)?;
    let mut any = false;
    for (name, color, points) in series {
        any |= !points.is_empty();
        let style = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style).point_size(3))
            .map_err(draw_err)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    if any {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(label_font)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(190, 190, 190))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

/// Renders the loss and top-1 curves of a run (train and validation, per epoch).
pub fn curves_image(history: &[EpochRecord]) -> std::result::Result<RgbImage, DrawError> {
    let x_max = history.last().map_or(1, |r| r.epoch as u32).max(2);
    let pts = |f: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(u32, f64)> {
        history
            .iter()
            .filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as u32, v)))
            .collect()
    };
    let loss = [
        ("train", TRAIN, pts(&|r| Some(r.train_loss))),
        ("val", VAL, pts(&|r| r.val_loss)),
    ];
    let top1 = [
        ("train", TRAIN, pts(&|r| Some(r.train_top1))),
        ("val", VAL, pts(&|r| r.val_top1)),
    ];
    render((900, 360), |root| {
        let (left, right) = root.split_horizontally(450);
        panel(&left, "loss", "cross-entropy", &loss, None, x_max)?;
        panel(&right, "top-1", "%", &top1, Some((0.0, 100.0)), x_max)
    })
}

/// Writes the curves PNG atomically.
pub fn write_curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    encode_png(path, curves_image(history))
}

/// The colour of a cell holding `share` of its row: white at 0, `full` at 1.
fn shade(full: RGBColor, share: f64) -> RGBColor {
    let s = |c: u8| (255.0 - (255.0 - c as f64) * share.clamp(0.0, 1.0)).round() as u8;
    RGBColor(s(full.0), s(full.1), s(full.2))
}

/// Renders a confusion matrix: one row per true class (its index and name on the left, its
/// accuracy on the right), one column per predicted class (by index); each cell shaded by its
/// share of the row, green on the diagonal and red off it, with its count when it fits.
pub fn confusion_image(
    m: &ConfusionMatrix,
    labels: &[String],
) -> std::result::Result<RgbImage, DrawError> {
    font_ready()?;
    let n = m.counts.len().max(1);
    let cell = (560 / n as u32).clamp(14, 48);
    let label_font = (FONT, 14).into_font().color(&INK);
    let names: Vec<String> = (0..n)
        .map(|i| format!("{i}  {}", labels.get(i).map_or("", String::as_str)))
        .collect();
    let name_w = names
        .iter()
        .map(|s| label_font.font.box_size(s).map_or(0, |b| b.0))
        .max()
        .unwrap_or(0);
    let (left, top, right, bottom) = (name_w + 24, 56, 64, 52);
    let grid = cell * n as u32;
    let size = ((left + grid + right).max(480), top + grid + bottom);
    let per_class = m.per_class();
    render(size, |root| {
        let title = "confusion matrix (rows: true class, columns: predicted class)";
        root.draw(&Text::new(
            title,
            (10, 10),
            (FONT, 18).into_font().color(&INK),
        ))
        .map_err(draw_err)?;
        let header = label_font.clone().pos(Pos::new(HPos::Center, VPos::Bottom));
        let acc_x = (left + grid + right / 2) as i32;
        root.draw(&Text::new("acc.", (acc_x, top as i32 - 6), header.clone()))
            .map_err(draw_err)?;
        let center = label_font.clone().pos(Pos::new(HPos::Center, VPos::Center));
        let row_name = label_font.clone().pos(Pos::new(HPos::Right, VPos::Center));
        let count_font = |dark: bool| {
            (FONT, (cell as f64 * 0.4).min(15.0))
                .into_font()
                .color(if dark { &WHITE } else { &INK })
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        for (i, row) in m.counts.iter().enumerate() {
            let total: u64 = row.iter().sum();
            let y0 = (top + i as u32 * cell) as i32;
            let cy = y0 + cell as i32 / 2;
            root.draw(&Text::new(
                names[i].as_str(),
                (left as i32 - 10, cy),
                row_name.clone(),
            ))
            .map_err(draw_err)?;
            for (j, &c) in row.iter().enumerate() {
                let share = if total > 0 {
                    c as f64 / total as f64
                } else {
                    0.0
                };
                let x0 = (left + j as u32 * cell) as i32;
                let color = shade(if i == j { RIGHT } else { WRONG }, share);
                let rect = [(x0, y0), (x0 + cell as i32 - 1, y0 + cell as i32 - 1)];
                root.draw(&Rectangle::new(rect, color.filled()))
                    .map_err(draw_err)?;
                if c > 0 && cell >= 22 {
                    let at = (x0 + cell as i32 / 2, cy);
                    root.draw(&Text::new(c.to_string(), at, count_font(share > 0.5)))
                        .map_err(draw_err)?;
                }
            }
            if let (_, Some(acc)) = per_class[i] {
                root.draw(&Text::new(
                    format!("{acc:.0}%"),
                    (acc_x, cy),
                    center.clone(),
                ))
                .map_err(draw_err)?;
            }
        }
        // Frame the grid; number the columns every 1 or 5 depending on room.
        let (gx, gy) = (left as i32, top as i32);
        root.draw(&Rectangle::new(
            [(gx - 1, gy - 1), (gx + grid as i32, gy + grid as i32)],
            RGBColor(150, 150, 150),
        ))
        .map_err(draw_err)?;
        let every = if cell >= 20 { 1 } else { 5 };
        let below = label_font.clone().pos(Pos::new(HPos::Center, VPos::Top));
        for j in (0..n).step_by(every) {
            let x = gx + (j as u32 * cell + cell / 2) as i32;
            root.draw(&Text::new(
                j.to_string(),
                (x, gy + grid as i32 + 6),
                below.clone(),
            ))
            .map_err(draw_err)?;
        }
        root.draw(&Text::new(
            "predicted class",
            (gx + grid as i32 / 2, gy + grid as i32 + 28),
            below,
        ))
        .map_err(draw_err)?;
        Ok(())
    })
}

/// Writes the confusion matrix PNG atomically.
pub fn write_confusion(path: &Path, m: &ConfusionMatrix, labels: &[String]) -> Result<()> {
    encode_png(path, confusion_image(m, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn record(epoch: usize, val: bool) -> EpochRecord {
        EpochRecord {
            lr: 0.01,
            train_loss: 2.0 / epoch as f64,
            train_top1: 20.0 * epoch as f64,
            train_top5: 90.0,
            val_loss: val.then_some(1.5 / epoch as f64),
            val_top1: val.then_some(18.0 * epoch as f64),
            val_top5: val.then_some(95.0),
            train_clips: 10,
            clips_per_s: 1.0,
            epoch_s: 1.0,
            ..EpochRecord::blank(epoch)
        }
    }

    fn rgb(c: RGBColor) -> Rgb<u8> {
        Rgb([c.0, c.1, c.2])
    }

    fn count(img: &RgbImage, c: RGBColor) -> usize {
        img.pixels().filter(|p| **p == rgb(c)).count()
    }

    /// Pixels that are neither white nor one of `colors`: text and axes (anti-aliased ink).
    fn dark(img: &RgbImage) -> usize {
        img.pixels()
            .filter(|p| p.0.iter().all(|&v| v < 120))
            .count()
    }

    #[test]
    fn curves_draw_both_series_with_axes_and_text() {
        let hist: Vec<_> = (1..=5).map(|e| record(e, e % 2 == 1)).collect();
        let img = curves_image(&hist).unwrap();
        assert_eq!(img.dimensions(), (900, 360));
        assert!(count(&img, TRAIN) > 200, "train curves drawn");
        assert!(count(&img, VAL) > 100, "val curves drawn");
        // Axes, tick labels, titles and the legend are ink; a plot without text has few.
        assert!(dark(&img) > 2000, "{} dark pixels", dark(&img));
        // One epoch only, none, or a NaN loss still draws axes without panicking.
        let mut nan = record(1, true);
        nan.train_loss = f64::NAN;
        for h in [&hist[..1], &[], &[nan]] {
            assert!(dark(&curves_image(h).unwrap()) > 1000);
        }
    }

    #[test]
    fn curves_png_decodes_with_the_size_and_is_not_blank() {
        let hist: Vec<_> = (1..=8).map(|e| record(e, true)).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("curves.png");
        write_curves(&p, &hist).unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (900, 360));
        let white = count(&img, RGBColor(255, 255, 255));
        let total = (900 * 360) as usize;
        assert!(white < total * 97 / 100, "{white} of {total} pixels white");
        assert!(count(&img, TRAIN) > 200 && count(&img, VAL) > 200);
    }

    #[test]
    fn confusion_shades_the_diagonal_and_names_the_classes() {
        let mut m = ConfusionMatrix::new(3);
        for _ in 0..4 {
            m.add(0, 0);
            m.add(1, 1);
        }
        m.add(1, 2);
        m.add(2, 0);
        let labels: Vec<String> = ["one", "two", "three"].map(String::from).to_vec();
        let img = confusion_image(&m, &labels).unwrap();
        assert!(count(&img, RIGHT) > 100, "row 0 is all correct");
        assert!(count(&img, WRONG) > 100, "row 2 is all wrong");
        // Row 1: 4 of 5 right, 1 of 5 wrong.
        assert!(count(&img, shade(RIGHT, 0.8)) > 100);
        assert!(count(&img, shade(WRONG, 0.2)) > 100);
        // The names widen the picture: a longer name, a wider image.
        let long: Vec<String> = [
            "one",
            "two",
            "a much longer class name than any of the others, it widens the picture",
        ]
        .map(String::from)
        .to_vec();
        let wide = confusion_image(&m, &long).unwrap();
        assert!(
            wide.width() > img.width(),
            "{} vs {}",
            wide.width(),
            img.width()
        );
        assert!(dark(&img) > 500, "text drawn");

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("confusion.png");
        write_confusion(&p, &m, &labels).unwrap();
        let back = image::open(&p).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), img.dimensions());
        assert_eq!(back, img);
    }

    #[test]
    fn many_classes_fit() {
        // Many classes: small cells, columns numbered every 5, still no panic.
        let mut m = ConfusionMatrix::new(60);
        for i in 0..60 {
            m.add(i, (i * 7) % 60);
        }
        let labels: Vec<String> = (0..60).map(|i| format!("class {i}")).collect();
        let img = confusion_image(&m, &labels).unwrap();
        assert!(img.height() > 60 * 14 && dark(&img) > 1000);
    }
}
