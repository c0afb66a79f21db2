//! The palm detector's SSD anchors, generated as MediaPipe's `SsdAnchorsCalculator`
//! (`mediapipe/calculators/tflite/ssd_anchors_calculator.cc`, non-multiscale path) does with the
//! options of `mediapipe/modules/palm_detection/palm_detection_cpu.pbtxt`.

/// One anchor, normalised to the model's input (centre and size).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    pub x_center: f32,
    pub y_center: f32,
    pub w: f32,
    pub h: f32,
}

/// The `SsdAnchorsCalculatorOptions` fields the palm graph sets (the rest at their proto
/// defaults: `interpolated_scale_aspect_ratio` 1.0, `reduce_boxes_in_lowest_layer` false).
#[derive(Clone, Debug, PartialEq)]
pub struct SsdAnchorOptions {
    pub input_size_width: u32,
    pub input_size_height: u32,
    pub min_scale: f32,
    pub max_scale: f32,
    pub anchor_offset_x: f32,
    pub anchor_offset_y: f32,
    pub strides: Vec<u32>,
    pub aspect_ratios: Vec<f32>,
    pub interpolated_scale_aspect_ratio: f32,
    pub fixed_anchor_size: bool,
}

impl SsdAnchorOptions {
    /// palm_detection_cpu.pbtxt: num_layers 4, min_scale 0.1484375, max_scale 0.75, 192×192,
    /// offsets 0.5, strides 8, 16, 16, 16, aspect ratio 1.0, fixed_anchor_size true.
    pub fn palm() -> Self {
        Self {
            input_size_width: 192,
            input_size_height: 192,
            min_scale: 0.1484375,
            max_scale: 0.75,
            anchor_offset_x: 0.5,
            anchor_offset_y: 0.5,
            strides: vec![8, 16, 16, 16],
            aspect_ratios: vec![1.0],
            interpolated_scale_aspect_ratio: 1.0,
            fixed_anchor_size: true,
        }
    }
}

fn calculate_scale(min_scale: f32, max_scale: f32, stride_index: usize, num_strides: usize) -> f32 {
    if num_strides == 1 {
        (min_scale + max_scale) * 0.5
    } else {
        min_scale + (max_scale - min_scale) * stride_index as f32 / (num_strides as f32 - 1.0)
    }
}

/// The anchors in the model's output order: layer groups of equal stride, then rows, columns,
/// and the anchors of one location.
pub fn ssd_anchors(o: &SsdAnchorOptions) -> Vec<Anchor> {
    let n = o.strides.len();
    let mut anchors = Vec::new();
    let mut layer = 0;
    while layer < n {
        let mut sizes: Vec<(f32, f32)> = Vec::new(); // (height, width)
        let mut last = layer;
        // Layers of the same stride share one feature map; their anchors interleave per location.
        while last < n && o.strides[last] == o.strides[layer] {
            let scale = calculate_scale(o.min_scale, o.max_scale, last, n);
            for &ratio in &o.aspect_ratios {
                let r = ratio.sqrt();
                sizes.push((scale / r, scale * r));
            }
            if o.interpolated_scale_aspect_ratio > 0.0 {
                let next = if last == n - 1 {
                    1.0
                } else {
                    calculate_scale(o.min_scale, o.max_scale, last + 1, n)
                };
                let s = (scale * next).sqrt();
                let r = o.interpolated_scale_aspect_ratio.sqrt();
                sizes.push((s / r, s * r));
            }
            last += 1;
        }
        let stride = o.strides[layer] as f32;
        let fh = (o.input_size_height as f32 / stride).ceil() as u32;
        let fw = (o.input_size_width as f32 / stride).ceil() as u32;
        for y in 0..fh {
            for x in 0..fw {
                for &(h, w) in &sizes {
                    let (w, h) = if o.fixed_anchor_size {
                        (1.0, 1.0)
                    } else {
                        (w, h)
                    };
                    anchors.push(Anchor {
                        x_center: (x as f32 + o.anchor_offset_x) / fw as f32,
                        y_center: (y as f32 + o.anchor_offset_y) / fh as f32,
                        w,
                        h,
                    });
                }
            }
        }
        layer = last;
    }
    anchors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palm_anchors_match_the_model_outputs() {
        let a = ssd_anchors(&SsdAnchorOptions::palm());
        // 24×24 locations × 2 at stride 8, 12×12 × 6 at stride 16: the model's 2016 boxes.
        assert_eq!(a.len(), 2016);
        assert_eq!(
            a[0],
            Anchor {
                x_center: 0.5 / 24.0,
                y_center: 0.5 / 24.0,
                w: 1.0,
                h: 1.0
            }
        );
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2].x_center, 1.5 / 24.0);
        assert_eq!(
            a[1152],
            Anchor {
                x_center: 0.5 / 12.0,
                y_center: 0.5 / 12.0,
                w: 1.0,
                h: 1.0
            }
        );
        assert_eq!(a[1157], a[1152]);
        assert_eq!(a[1158].x_center, 1.5 / 12.0);
        assert_eq!(a[2015].y_center, 11.5 / 12.0);
    }
}
