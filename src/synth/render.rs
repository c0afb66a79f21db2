//! Drawing generated frames: a textured background, a hand (palm, four fingers and a thumb, as
//! signed distance fields, antialiased) with a fading motion trail, and sensor noise.
//!
//! Two looks: the default one (muted backgrounds, a hand that stands out, the trail) and the
//! hard one ([`Scene::random_hard`]): saturated, textured, noisy backgrounds, hands of varied
//! shape, size and skin tone with less contrast, and no trail, as an independent renderer or a
//! camera would give. The hard look is for tuning training recipes on data whose frames carry no
//! cue that global average pooling keeps by construction.
//!
//! Why a trail: the backbone sees one frame at a time and its global average pooling forgets
//! where things are, so a swipe left and a swipe right would look alike frame by frame. Real
//! moving hands leave motion blur behind them; the trail plays that part, so each frame shows
//! the direction of motion, and size (zoom) and orientation (turns) survive pooling as they are.

use super::motion::Pose;
use image::RgbImage;
use rand::Rng;

/// The proportions of a hand, in hand radii (palm centre at the origin, fingers towards -y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandShape {
    /// Palm ellipse half-width and half-height.
    palm: (f32, f32),
    /// Finger lengths, outermost first (the thumb's side last).
    fingers: [f32; 4],
    /// Finger and thumb radius.
    finger_r: f32,
    thumb_r: f32,
}

impl HandShape {
    /// The default look's hand.
    pub const STANDARD: HandShape = HandShape {
        palm: (0.55, 0.6),
        fingers: [0.62, 0.75, 0.78, 0.66],
        finger_r: 0.12,
        thumb_r: 0.13,
    };

    /// A hand of random proportions around [`HandShape::STANDARD`].
    pub fn random(rng: &mut impl Rng) -> HandShape {
        let s = HandShape::STANDARD;
        HandShape {
            palm: (
                s.palm.0 * rng.random_range(0.8..1.2),
                s.palm.1 * rng.random_range(0.8..1.2),
            ),
            fingers: s.fingers.map(|l| l * rng.random_range(0.7..1.25)),
            finger_r: s.finger_r * rng.random_range(0.75..1.3),
            thumb_r: s.thumb_r * rng.random_range(0.75..1.3),
        }
    }
}

/// A clip's fixed look: background, hand colour and handedness.
#[derive(Debug, Clone)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    /// Background, `width × height` RGB floats in 0..255, row-major.
    background: Vec<[f32; 3]>,
    hand_rgb: [f32; 3],
    /// +1 right hand (thumb on the image's right when fingers point up), -1 left.
    handedness: f32,
    noise_sigma: f32,
    shape: HandShape,
    /// Whether a moving hand leaves a fading trail (the default look) or not (the hard one).
    pub trail: bool,
    /// Frame-to-frame brightness flicker: the range the gain is drawn from.
    gain: (f32, f32),
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
    /// A random square scene of the default look ([`Scene::random_sized`]).
    pub fn random(size: u32, rng: &mut impl Rng) -> Scene {
        Scene::random_sized(size, size, rng)
    }

    /// A random scene of the default look: background gradient plus static blobs, a skin-like
    /// or odd hand colour that stands out from the background, random handedness and noise
    /// level.
    pub fn random_sized(width: u32, height: u32, rng: &mut impl Rng) -> Scene {
        let (w, h) = (width as usize, height as usize);
        // Muted backgrounds (a grey level plus a little colour): varied, but the hand stays the
        // most salient thing in the picture, as a hand close to a camera is.
        let muted = |rng: &mut dyn rand::RngCore| -> [f32; 3] {
            let grey = rng.random_range(20.0..235.0f32);
            std::array::from_fn(|_| (grey + rng.random_range(-35.0..35.0f32)).clamp(0.0, 255.0))
        };
        let (c0, c1) = (muted(rng), muted(rng));
        let dir = rng.random_range(0.0..std::f32::consts::TAU);
        let (dx, dy) = (dir.cos(), dir.sin());
        let mut background = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let t = 0.5
                    + 0.5 * ((x as f32 / w as f32 - 0.5) * dx + (y as f32 / h as f32 - 0.5) * dy);
                background.push(std::array::from_fn(|c| c0[c] + (c1[c] - c0[c]) * t));
            }
        }
        // Static distractors: soft ellipses and boxes of moderate contrast.
        for _ in 0..rng.random_range(2..6) {
            let col = muted(rng);
            let (bx, by) = (
                rng.random_range(0.0..w as f32),
                rng.random_range(0.0..h as f32),
            );
            let (rx, ry) = (
                rng.random_range(0.05..0.25) * w as f32,
                rng.random_range(0.05..0.25) * h as f32,
            );
            let boxy = rng.random_bool(0.5);
            let alpha = rng.random_range(0.15..0.4);
            paint_blob(&mut background, w, (bx, by, rx, ry), boxy, col, alpha);
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
            width,
            height,
            background,
            hand_rgb,
            handedness: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            noise_sigma: rng.random_range(2.0..6.0),
            shape: HandShape::STANDARD,
            trail: true,
            gain: (0.95, 1.05),
            hand_visible: true,
        }
    }

    /// A random scene of the hard look: a gradient between two saturated colours, oriented
    /// stripes and many opaque coloured blobs (texture at every scale), a fixed grain, a skin
    /// tone from pale to dark that need not stand out much, a hand of random proportions,
    /// strong sensor noise and flicker, and no trail.
    pub fn random_hard(width: u32, height: u32, rng: &mut impl Rng) -> Scene {
        let (w, h) = (width as usize, height as usize);
        let (c0, c1) = (random_color(rng), random_color(rng));
        let dir = rng.random_range(0.0..std::f32::consts::TAU);
        let (dx, dy) = (dir.cos(), dir.sin());
        // Gratings: (frequency in cycles per frame width, orientation, phase, amplitude).
        let gratings: Vec<(f32, f32, f32, f32)> = (0..rng.random_range(1..4))
            .map(|_| {
                (
                    rng.random_range(1.0..12.0f32),
                    rng.random_range(0.0..std::f32::consts::PI),
                    rng.random_range(0.0..std::f32::consts::TAU),
                    rng.random_range(5.0..35.0f32),
                )
            })
            .collect();
        let mut background = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (u, v) = (x as f32 / w as f32 - 0.5, y as f32 / w as f32 - 0.5);
                let t = 0.5 + 0.5 * (u * dx + v * dy) * 2f32.sqrt();
                let stripes: f32 = gratings
                    .iter()
                    .map(|&(f, o, p, a)| {
                        a * ((u * o.cos() + v * o.sin()) * f * std::f32::consts::TAU + p).sin()
                    })
                    .sum();
                background.push(std::array::from_fn(|c| {
                    c0[c] + (c1[c] - c0[c]) * t.clamp(0.0, 1.0) + stripes
                }));
            }
        }
        for _ in 0..rng.random_range(4..14) {
            let col = random_color(rng);
            let (bx, by) = (
                rng.random_range(0.0..w as f32),
                rng.random_range(0.0..h as f32),
            );
            let side = rng.random_range(0.03..0.3) * h as f32;
            let (rx, ry) = (
                side * rng.random_range(0.5..2.0),
                side * rng.random_range(0.5..2.0),
            );
            let boxy = rng.random_bool(0.5);
            let alpha = rng.random_range(0.3..0.9);
            paint_blob(&mut background, w, (bx, by, rx, ry), boxy, col, alpha);
        }
        let grain = rng.random_range(3.0..15.0f32);
        for px in &mut background {
            for c in px.iter_mut() {
                *c = (*c + rng.random_range(-grain..grain)).clamp(0.0, 255.0);
            }
        }
        let bg_lum = background.iter().map(|p| lum(*p)).sum::<f32>() / background.len() as f32;
        let mut hand_rgb = [0.0; 3];
        for _ in 0..50 {
            let k = rng.random_range(0.0..1.0f32);
            let base = [255.0 - 170.0 * k, 215.0 - 160.0 * k, 185.0 - 145.0 * k];
            hand_rgb = std::array::from_fn(|c| {
                (base[c] + rng.random_range(-20.0..20.0)).clamp(0.0, 255.0)
            });
            if (lum(hand_rgb) - bg_lum).abs() > 25.0 {
                break;
            }
        }
        Scene {
            width,
            height,
            background,
            hand_rgb,
            handedness: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            noise_sigma: rng.random_range(4.0..12.0),
            shape: HandShape::random(rng),
            trail: false,
            gain: (0.88, 1.12),
            hand_visible: true,
        }
    }
}

/// Blends an ellipse (or a box, if `boxy`) centred at (bx, by) with radii (rx, ry) into `buf`
/// (`w` pixels a row).
fn paint_blob(
    buf: &mut [[f32; 3]],
    w: usize,
    (bx, by, rx, ry): (f32, f32, f32, f32),
    boxy: bool,
    col: [f32; 3],
    alpha: f32,
) {
    for (i, px) in buf.iter_mut().enumerate() {
        let (x, y) = ((i % w) as f32, (i / w) as f32);
        let (u, v) = ((x - bx) / rx, (y - by) / ry);
        let inside = if boxy {
            u.abs() < 1.0 && v.abs() < 1.0
        } else {
            u * u + v * v < 1.0
        };
        if inside {
            for c in 0..3 {
                px[c] += (col[c] - px[c]) * alpha;
            }
        }
    }
}

fn capsule(px: f32, py: f32, ax: f32, ay: f32, bx: f32, by: f32, r: f32) -> f32 {
    let (pax, pay, bax, bay) = (px - ax, py - ay, bx - ax, by - ay);
    let h = ((pax * bax + pay * bay) / (bax * bax + bay * bay)).clamp(0.0, 1.0);
    ((pax - bax * h).powi(2) + (pay - bay * h).powi(2)).sqrt() - r
}

/// Signed distance (in hand radii) from a hand-space point to the hand; fingers point to -y.
fn hand_sdf(u: f32, v: f32, shape: &HandShape, handedness: f32) -> f32 {
    // Palm: an ellipse, distance approximated by scaling.
    let (ex, ey) = (u / shape.palm.0, (v - 0.15) / shape.palm.1);
    let mut d = ((ex * ex + ey * ey).sqrt() - 1.0) * 0.55;
    let r = shape.finger_r;
    for (x, len) in [-0.36, -0.12, 0.12, 0.36].into_iter().zip(shape.fingers) {
        d = d.min(capsule(u, v, x, -0.25, x * 1.15, -0.25 - len, r));
    }
    let t = handedness;
    d.min(capsule(u, v, 0.4 * t, 0.25, 0.85 * t, -0.2, shape.thumb_r))
}

/// Draws the hand at `pose` over `buf` with opacity `alpha`.
fn draw_hand(buf: &mut [[f32; 3]], scene: &Scene, pose: Pose, alpha: f32) {
    let (w, h) = (scene.width as i32, scene.height as i32);
    let reach = (pose.scale * 1.4) as i32 + 2;
    let (sin, cos) = pose.angle.sin_cos();
    let (x0, x1) = (
        (pose.x as i32 - reach).max(0),
        (pose.x as i32 + reach).min(w - 1),
    );
    let (y0, y1) = (
        (pose.y as i32 - reach).max(0),
        (pose.y as i32 + reach).min(h - 1),
    );
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = (x as f32 + 0.5 - pose.x, y as f32 + 0.5 - pose.y);
            // Rotate the pixel into hand space (inverse rotation), then scale.
            let u = (cos * dx + sin * dy) / pose.scale;
            let v = (-sin * dx + cos * dy) / pose.scale;
            let d_px = hand_sdf(u, v, &scene.shape, scene.handedness) * pose.scale;
            let cover = (0.5 - d_px).clamp(0.0, 1.0);
            if cover <= 0.0 {
                continue;
            }
            // Darker rim and a light-from-above shading give the shape edges and volume.
            let rim = if d_px > -1.5 { 0.65 } else { 1.0 };
            let shade = rim * (1.1 - 0.25 * (v + 1.0) / 2.0);
            let a = cover * alpha;
            let px = &mut buf[(y * w + x) as usize];
            for (p, &h) in px.iter_mut().zip(&scene.hand_rgb) {
                let col = (h * shade).min(255.0);
                *p += (col - *p) * a;
            }
        }
    }
}

/// Opacity of the trail copies, newest first.
const TRAIL: [f32; 4] = [0.6, 0.45, 0.3, 0.15];

/// Renders one frame: the background, the trail (`trail[0]` the pose one step back, ...; drawn
/// only if the scene has one), the hand, brightness flicker and noise.
pub fn render_frame(scene: &Scene, pose: Pose, trail: &[Pose], rng: &mut impl Rng) -> RgbImage {
    let mut buf = scene.background.clone();
    if scene.hand_visible {
        if scene.trail {
            for (p, a) in trail.iter().zip(TRAIL).rev() {
                draw_hand(&mut buf, scene, *p, a);
            }
        }
        draw_hand(&mut buf, scene, pose, 1.0);
    }
    let gain = rng.random_range(scene.gain.0..scene.gain.1);
    let mut img = RgbImage::new(scene.width, scene.height);
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
        let s = &HandShape::STANDARD;
        assert!(hand_sdf(0.0, 0.1, s, 1.0) < 0.0, "palm centre is inside");
        assert!(hand_sdf(0.12, -0.9, s, 1.0) < 0.0, "a finger is inside");
        assert!(hand_sdf(0.0, 2.0, s, 1.0) > 0.0);
        // The thumb is on one side only.
        assert!(hand_sdf(0.8, -0.15, s, 1.0) < 0.0);
        assert!(hand_sdf(-0.8, -0.15, s, 1.0) > 0.0);
    }

    #[test]
    fn the_hard_look_draws_no_trail() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let scene = Scene::random_hard(80, 48, &mut rng);
        assert!(!scene.trail);
        let pose = |x| Pose {
            x,
            y: 24.0,
            scale: 10.0,
            angle: 0.0,
        };
        let frame = |trail: &[Pose]| {
            render_frame(
                &scene,
                pose(40.0),
                trail,
                &mut rand::rngs::StdRng::seed_from_u64(1),
            )
        };
        assert_eq!(frame(&[pose(30.0), pose(20.0)]), frame(&[]));
        assert_eq!(frame(&[]).dimensions(), (80, 48));
        let mut easy = Scene::random_sized(80, 48, &mut rng);
        easy.hand_visible = true;
        let with = render_frame(
            &easy,
            pose(40.0),
            &[pose(20.0)],
            &mut rand::rngs::StdRng::seed_from_u64(1),
        );
        let without = render_frame(
            &easy,
            pose(40.0),
            &[],
            &mut rand::rngs::StdRng::seed_from_u64(1),
        );
        assert_ne!(with, without, "the default look draws its trail");
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
