//! Drawing generated frames: a textured background, a hand (palm, four fingers and a thumb, as
//! signed distance fields, antialiased) with a fading motion trail, and sensor noise.
//!
//! Why a trail: the backbone sees one frame at a time and its global average pooling forgets
//! where things are, so a swipe left and a swipe right would look alike frame by frame. Real
//! moving hands leave motion blur behind them; the trail plays that part, so each frame shows
//! the direction of motion, and size (zoom) and orientation (turns) survive pooling as they are.

use super::motion::Pose;
use image::RgbImage;
use rand::Rng;

/// A clip's fixed look: background, hand colour and handedness.
#[derive(Debug, Clone)]
pub struct Scene {
    pub size: u32,
    /// Background, `size²` RGB floats in 0..255.
    background: Vec<[f32; 3]>,
    hand_rgb: [f32; 3],
    /// +1 right hand (thumb on the image's right when fingers point up), -1 left.
    handedness: f32,
    noise_sigma: f32,
    /// Whether the hand is in the picture at all (a "No gesture" clip may show none).
    pub hand_visible: bool,
}

fn lum(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

fn random_color(rng: &mut impl Rng) -> [f32; 3] {
    [
        rng.random_range(0.0..255.0),
        rng.random_range(0.0..255.0),
        rng.random_range(0.0..255.0),
    ]
}

impl Scene {
    /// A random scene: background gradient plus static blobs, a skin-like or odd hand colour
    /// that stands out from the background, random handedness and noise level.
    pub fn random(size: u32, rng: &mut impl Rng) -> Scene {
        let n = size as usize;
        // Muted backgrounds (a grey level plus a little colour): varied, but the hand stays the
        // most salient thing in the picture, as a hand close to a camera is.
        let muted = |rng: &mut dyn rand::RngCore| -> [f32; 3] {
            let grey = rng.random_range(20.0..235.0f32);
            std::array::from_fn(|_| (grey + rng.random_range(-35.0..35.0f32)).clamp(0.0, 255.0))
        };
        let (c0, c1) = (muted(rng), muted(rng));
        let dir = rng.random_range(0.0..std::f32::consts::TAU);
        let (dx, dy) = (dir.cos(), dir.sin());
        let mut background = Vec::with_capacity(n * n);
        for y in 0..n {
            for x in 0..n {
                let t = 0.5
                    + 0.5 * ((x as f32 / n as f32 - 0.5) * dx + (y as f32 / n as f32 - 0.5) * dy);
                background.push(std::array::from_fn(|c| c0[c] + (c1[c] - c0[c]) * t));
            }
        }
        // Static distractors: soft ellipses and boxes of moderate contrast.
        for _ in 0..rng.random_range(2..6) {
            let col = muted(rng);
            let (bx, by) = (
                rng.random_range(0.0..n as f32),
                rng.random_range(0.0..n as f32),
            );
            let (rx, ry) = (
                rng.random_range(0.05..0.25) * n as f32,
                rng.random_range(0.05..0.25) * n as f32,
            );
            let boxy = rng.random_bool(0.5);
            let alpha = rng.random_range(0.15..0.4);
            for y in 0..n {
                for x in 0..n {
                    let (u, v) = ((x as f32 - bx) / rx, (y as f32 - by) / ry);
                    let inside = if boxy {
                        u.abs() < 1.0 && v.abs() < 1.0
                    } else {
                        u * u + v * v < 1.0
                    };
                    if inside {
                        let px = &mut background[y * n + x];
                        for c in 0..3 {
                            px[c] += (col[c] - px[c]) * alpha;
                        }
                    }
                }
            }
        }
        let bg_lum = background.iter().map(|p| lum(*p)).sum::<f32>() / background.len() as f32;
        let mut hand_rgb;
        loop {
            hand_rgb = if rng.random_bool(0.7) {
                // Skin tones: from pale to dark, with some variation in hue.
                let k = rng.random_range(0.0..1.0f32);
                let base = [255.0 - 150.0 * k, 220.0 - 150.0 * k, 190.0 - 140.0 * k];
                std::array::from_fn(|c| (base[c] + rng.random_range(-15.0..15.0)).clamp(0.0, 255.0))
            } else {
                random_color(rng)
            };
            if (lum(hand_rgb) - bg_lum).abs() > 60.0 {
                break;
            }
        }
        Scene {
            size,
            background,
            hand_rgb,
            handedness: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            noise_sigma: rng.random_range(2.0..6.0),
            hand_visible: true,
        }
    }
}

fn capsule(px: f32, py: f32, ax: f32, ay: f32, bx: f32, by: f32, r: f32) -> f32 {
    let (pax, pay, bax, bay) = (px - ax, py - ay, bx - ax, by - ay);
    let h = ((pax * bax + pay * bay) / (bax * bax + bay * bay)).clamp(0.0, 1.0);
    ((pax - bax * h).powi(2) + (pay - bay * h).powi(2)).sqrt() - r
}

/// Signed distance (in hand radii) from a hand-space point to the hand; fingers point to -y.
fn hand_sdf(u: f32, v: f32, handedness: f32) -> f32 {
    // Palm: an ellipse, distance approximated by scaling.
    let (ex, ey) = (u / 0.55, (v - 0.15) / 0.6);
    let mut d = ((ex * ex + ey * ey).sqrt() - 1.0) * 0.55;
    for (x, len) in [(-0.36, 0.62), (-0.12, 0.75), (0.12, 0.78), (0.36, 0.66)] {
        d = d.min(capsule(u, v, x, -0.25, x * 1.15, -0.25 - len, 0.12));
    }
    let t = handedness;
    d.min(capsule(u, v, 0.4 * t, 0.25, 0.85 * t, -0.2, 0.13))
}

/// Draws the hand at `pose` over `buf` with opacity `alpha`.
fn draw_hand(buf: &mut [[f32; 3]], scene: &Scene, pose: Pose, alpha: f32) {
    let n = scene.size as i32;
    let reach = (pose.scale * 1.4) as i32 + 2;
    let (sin, cos) = pose.angle.sin_cos();
    let (x0, x1) = (
        (pose.x as i32 - reach).max(0),
        (pose.x as i32 + reach).min(n - 1),
    );
    let (y0, y1) = (
        (pose.y as i32 - reach).max(0),
        (pose.y as i32 + reach).min(n - 1),
    );
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = (x as f32 + 0.5 - pose.x, y as f32 + 0.5 - pose.y);
            // Rotate the pixel into hand space (inverse rotation), then scale.
            let u = (cos * dx + sin * dy) / pose.scale;
            let v = (-sin * dx + cos * dy) / pose.scale;
            let d_px = hand_sdf(u, v, scene.handedness) * pose.scale;
            let cover = (0.5 - d_px).clamp(0.0, 1.0);
            if cover <= 0.0 {
                continue;
            }
            // Darker rim and a light-from-above shading give the shape edges and volume.
            let rim = if d_px > -1.5 { 0.65 } else { 1.0 };
            let shade = rim * (1.1 - 0.25 * (v + 1.0) / 2.0);
            let a = cover * alpha;
            let px = &mut buf[(y * n + x) as usize];
            for (p, &h) in px.iter_mut().zip(&scene.hand_rgb) {
                let col = (h * shade).min(255.0);
                *p += (col - *p) * a;
            }
        }
    }
}

/// Opacity of the trail copies, newest first.
const TRAIL: [f32; 4] = [0.6, 0.45, 0.3, 0.15];

/// Renders one frame: the background, the trail (`trail[0]` the pose one step back, ...), the
/// hand, brightness flicker and noise.
pub fn render_frame(scene: &Scene, pose: Pose, trail: &[Pose], rng: &mut impl Rng) -> RgbImage {
    let mut buf = scene.background.clone();
    if scene.hand_visible {
        for (p, a) in trail.iter().zip(TRAIL).rev() {
            draw_hand(&mut buf, scene, *p, a);
        }
        draw_hand(&mut buf, scene, pose, 1.0);
    }
    let gain = rng.random_range(0.95..1.05f32);
    let n = scene.size;
    let mut img = RgbImage::new(n, n);
    for (px, out) in buf.iter().zip(img.pixels_mut()) {
        for (o, &p) in out.0.iter_mut().zip(px) {
            // Sum of uniforms: a cheap, nearly Gaussian noise of the scene's sigma.
            let noise: f32 = (0..3).map(|_| rng.random_range(-1.0..1.0f32)).sum::<f32>();
            *o = (p * gain + noise * scene.noise_sigma).clamp(0.0, 255.0) as u8;
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn hand_shape_is_chiral_and_filled() {
        assert!(hand_sdf(0.0, 0.1, 1.0) < 0.0, "palm centre is inside");
        assert!(hand_sdf(0.12, -0.9, 1.0) < 0.0, "a finger is inside");
        assert!(hand_sdf(0.0, 2.0, 1.0) > 0.0);
        // The thumb is on one side only.
        assert!(hand_sdf(0.8, -0.15, 1.0) < 0.0);
        assert!(hand_sdf(-0.8, -0.15, 1.0) > 0.0);
    }

    #[test]
    fn the_hand_is_drawn_where_the_pose_says() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let scene = Scene::random(64, &mut rng);
        let pose = Pose {
            x: 20.0,
            y: 40.0,
            scale: 10.0,
            angle: 0.0,
        };
        let with = render_frame(&scene, pose, &[], &mut rand::rngs::StdRng::seed_from_u64(1));
        let mut hidden = scene.clone();
        hidden.hand_visible = false;
        let without = render_frame(
            &hidden,
            pose,
            &[],
            &mut rand::rngs::StdRng::seed_from_u64(1),
        );
        let diff = |x: u32, y: u32| {
            let (a, b) = (with.get_pixel(x, y).0, without.get_pixel(x, y).0);
            (0..3).map(|c| a[c].abs_diff(b[c]) as u32).sum::<u32>()
        };
        assert!(diff(20, 41) > 40, "palm changes the picture");
        assert_eq!(diff(55, 5), 0, "far corner untouched");
    }
}
