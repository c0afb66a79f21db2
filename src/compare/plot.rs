//! `compare.png`: validation top-1 against cost, one point per configuration labelled with its
//! head — against the head's multiply-adds (thop) on the left, against CPU ms per clip on the
//! right. Drawn with plotters like the training curves (`train::plot`), whose font and PNG
//! writer it shares.

use super::table::Row;
use crate::train::plot::{draw_err, encode_png, render, DrawError, FONT, INK, TRAIN};
use crate::Result;
use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// (x, top-1, label) points.
type Points = Vec<(f64, f64, String)>;

fn panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    x_desc: &str,
    points: &[(f64, f64, String)],
) -> std::result::Result<(), DrawError> {
    let finite = |v: f64| v.is_finite();
    let xs = points.iter().map(|p| p.0).filter(|v| finite(*v));
    let x_hi = xs.fold(0f64, f64::max);
    let x_hi = if x_hi > 0.0 { x_hi * 1.15 } else { 1.0 };
    let y_lo = points
        .iter()
        .map(|p| p.1)
        .filter(|v| finite(*v))
        .fold(100f64, f64::min);
    let y_lo = (y_lo - 5.0).clamp(0.0, 95.0).floor();
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20).into_font().color(&INK))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(0f64..x_hi, y_lo..100.5f64)
        .map_err(draw_err)?;
    let label_font = (FONT, 14).into_font().color(&INK);
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("validation top-1 %")
        .label_style(label_font.clone())
        .axis_desc_style(label_font.clone())
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(draw_err)?;
    let shown = points.iter().filter(|p| finite(p.0) && finite(p.1));
    chart
        .draw_series(
            shown
                .clone()
                .map(|p| Circle::new((p.0, p.1), 5, TRAIN.filled())),
        )
        .map_err(draw_err)?;
    chart
        .draw_series(
            shown.map(|p| Text::new(p.2.clone(), (p.0, p.1), (FONT, 13).into_font().color(&INK))),
        )
        .map_err(draw_err)?;
    Ok(())
}

/// The two panels for `rows` (rows with a note, e.g. a diverged run, are left out).
pub fn compare_image(rows: &[Row]) -> std::result::Result<RgbImage, DrawError> {
    let kept: Vec<&Row> = rows.iter().filter(|r| r.note.is_none()).collect();
    let label = |r: &Row| format!("  {} N={}", r.head, r.segments);
    let by_macs: Points = kept
        .iter()
        .map(|r| (r.head_macs as f64 / 1e6, r.top1, label(r)))
        .collect();
    let by_ms: Points = kept.iter().map(|r| (r.cpu_ms, r.top1, label(r))).collect();
    render((1200, 520), |root| {
        let (left, right) = root.split_horizontally(600);
        panel(
            &left,
            "top-1 vs head cost",
            "head multiply-adds (M, thop)",
            &by_macs,
        )?;
        panel(&right, "top-1 vs speed", "CPU ms per clip", &by_ms)
    })
}

/// Writes the plot to `path` (PNG, atomically).
pub fn write_compare(path: &Path, rows: &[Row]) -> Result<()> {
    encode_png(path, compare_image(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::table::tests::row;

    #[test]
    fn draws_points_for_rows() {
        let mut a = row("a", "MLP", 80.0);
        a.head_macs = 2_000_000;
        let b = row("b", "LSTM", 95.0);
        let img = compare_image(&[a, b]).unwrap();
        assert_eq!(img.dimensions(), (1200, 520));
        // Some pixels carry the points' colour.
        let blue = img.pixels().filter(|p| p.0 == [31, 119, 180]).count();
        assert!(blue > 50, "{blue}");
        // No rows still draws empty axes.
        assert!(compare_image(&[]).is_ok());
    }
}
