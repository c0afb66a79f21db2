//! The check generator's pictures: a clip's look (background texture, moving blobs, hand shape
//! and colour, lighting, camera shake, blur, noise, JPEG quality) drawn once per clip, and each
//! frame rendered from it and the hand's pose.
//!
//! Drawn independently of `synth`'s renderer on purpose (see the module above): other hand
//! shapes (a mitten or a fist with a thumb, two to five fingers of their own lengths, sometimes a
//! forearm), other backgrounds (stripes, checks, gradients, value noise, blended, in any colour),
//! a directional light, optional outline, separable blur, Gaussian luminance and colour noise, a
//! shaking camera. A frame shows only where the hand is now.

use super::motion::HandPose;
use rand::Rng;
use std::f32::consts::PI;

type Rgb = [f32; 3];

/// Pixels of camera shake the background is drawn beyond the frame on each side.
const MARGIN: i32 = 3;

/// One part of a hand: a capsule from `a` to `b` of radius `r`, in palm units (the palm's half
/// height is 1; fingers point to −v).
#[derive(Debug, Clone, Copy)]
struct Capsule {
    a: (f32, f32),
    b: (f32, f32),
    r: f32,
}

impl Capsule {
    fn dist(&self, u: f32, v: f32) -> f32 {
        let (pax, pay, bax, bay) = (
            u - self.a.0,
            v - self.a.1,
            self.b.0 - self.a.0,
            self.b.1 - self.a.1,
        );
        let h = ((pax * bax + pay * bay) / (bax * bax + bay * bay).max(1e-6)).clamp(0.0, 1.0);
        ((pax - bax * h).powi(2) + (pay - bay * h).powi(2)).sqrt() - self.r
    }
}

/// A finger: its direction from the palm's axis when spread wide, length and radius.
#[derive(Debug, Clone, Copy)]
struct Finger {
    angle: f32,
    len: f32,
    r: f32,
}

/// A hand's shape: an elliptic palm, fingers that fan out with the spread, and fixed parts
/// (thumb, knuckles, forearm) that do not.
#[derive(Debug, Clone)]
struct HandShape {
    palm: (f32, f32),
    fingers: Vec<Finger>,
    fixed: Vec<Capsule>,
    /// How far (palm units) from the palm's centre the shape can reach.
    reach: f32,
}

impl HandShape {
    fn random(rng: &mut impl Rng) -> HandShape {
        let side = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let mut fixed = Vec::new();
        let mut fingers = Vec::new();
        let palm;
        if rng.random_bool(0.3) {
            // A fist: a round palm, a row of knuckles on top and a thumb up one side.
            palm = (
                rng.random_range(0.8..1.0f32),
                rng.random_range(0.85..1.0f32),
            );
            let k = rng.random_range(3..=4);
            for i in 0..k {
                let u = -0.5 + i as f32 / (k - 1) as f32;
                fixed.push(Capsule {
                    a: (u * palm.0, -0.8 * palm.1),
                    b: (u * palm.0, -0.8 * palm.1),
                    r: rng.random_range(0.18..0.26),
                });
            }
            fixed.push(Capsule {
                a: (side * 0.7 * palm.0, -0.1),
                b: (side * 0.9 * palm.0, -rng.random_range(0.9..1.3f32)),
                r: rng.random_range(0.16..0.22),
            });
        } else {
            // A mitten: two to five fingers of their own lengths, a thumb most of the time.
            palm = (rng.random_range(0.6..0.9f32), 1.0);
            let n = rng.random_range(2..=5);
            let fan = rng.random_range(0.5..0.9f32);
            for i in 0..n {
                let a = if n == 1 {
                    0.0
                } else {
                    -fan / 2.0 + fan * i as f32 / (n - 1) as f32
                };
                fingers.push(Finger {
                    angle: a,
                    len: rng.random_range(0.6..1.3),
                    r: rng.random_range(0.12..0.22),
                });
            }
            if rng.random_bool(0.8) {
                let a = side * rng.random_range(1.0..1.5f32);
                let root = (side * 0.6 * palm.0, 0.2);
                let len = rng.random_range(0.6..0.95f32);
                fixed.push(Capsule {
                    a: root,
                    b: (root.0 + a.sin() * len, root.1 - a.cos() * len),
                    r: rng.random_range(0.16..0.22),
                });
            }
        }
        if rng.random_bool(0.5) {
            // A forearm out of the bottom of the palm.
            fixed.push(Capsule {
                a: (0.0, 0.7),
                b: (rng.random_range(-0.4..0.4f32), 3.2),
                r: rng.random_range(0.4..0.55),
            });
        }
        let mut reach = palm.0.max(palm.1);
        for c in &fixed {
            for p in [c.a, c.b] {
                reach = reach.max((p.0 * p.0 + p.1 * p.1).sqrt() + c.r);
            }
        }
        for f in &fingers {
            reach = reach.max(0.9 + f.len + f.r);
        }
        HandShape {
            palm,
            fingers,
            fixed,
            reach,
        }
    }

    /// The capsules of the fingers at `spread`.
    fn fingers_at(&self, spread: f32) -> Vec<Capsule> {
        self.fingers
            .iter()
            .map(|f| {
                let root_angle = f.angle * 0.7;
                let a = (
                    0.8 * self.palm.0 * root_angle.sin(),
                    -0.8 * self.palm.1 * root_angle.cos(),
                );
                let dir = f.angle * (0.3 + 0.9 * spread);
                Capsule {
                    a,
                    b: (a.0 + dir.sin() * f.len, a.1 - dir.cos() * f.len),
                    r: f.r,
                }
            })
            .collect()
    }

    /// Signed distance (palm units) from (u, v) to the hand with `fingers`.
    fn dist(&self, u: f32, v: f32, fingers: &[Capsule]) -> f32 {
        let (ex, ey) = (u / self.palm.0, v / self.palm.1);
        let mut d = ((ex * ex + ey * ey).sqrt() - 1.0) * self.palm.0.min(self.palm.1);
        for c in fingers.iter().chain(&self.fixed) {
            d = d.min(c.dist(u, v));
        }
        d
    }
}

/// A blob drifting across the picture: something else moving in the room.
#[derive(Debug, Clone)]
struct Blob {
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
    rx: f32,
    ry: f32,
    rgb: Rgb,
    alpha: f32,
}

/// A clip's look, fixed for all its frames.
#[derive(Debug, Clone)]
pub struct Look {
    w: usize,
    h: usize,
    /// `(w + 2·MARGIN)·(h + 2·MARGIN)` pixels, so a shaken camera still sees background.
    background: Vec<Rgb>,
    blobs: Vec<Blob>,
    hand: HandShape,
    skin: Rgb,
    /// Light direction in hand space and its strength.
    light: (f32, f32, f32),
    outline: bool,
    /// Camera offset of each frame.
    shake: Vec<(i32, i32)>,
    /// 0 none, 1 a 3-tap and 2 a 5-tap binomial blur.
    blur: u8,
    noise: f32,
    chroma: f32,
    white_balance: Rgb,
    pub jpeg_quality: u8,
}

fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let c = v * s;
    let hp = (h.rem_euclid(1.0)) * 6.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

fn any_colour(rng: &mut impl Rng) -> Rgb {
    hsv(
        rng.random_range(0.0..1.0),
        rng.random_range(0.0..1.0),
        rng.random_range(0.12..1.0),
    )
}

/// Skin from the darkest to the palest tones, with some hue and brightness variation; now and
/// then a glove of any colour.
fn skin_colour(rng: &mut impl Rng) -> Rgb {
    if rng.random_bool(0.12) {
        return any_colour(rng);
    }
    const TONES: [Rgb; 7] = [
        [255.0, 224.0, 196.0],
        [241.0, 194.0, 158.0],
        [224.0, 172.0, 125.0],
        [198.0, 134.0, 86.0],
        [161.0, 102.0, 62.0],
        [115.0, 70.0, 42.0],
        [70.0, 44.0, 30.0],
    ];
    let t = rng.random_range(0.0..(TONES.len() - 1) as f32);
    let (i, f) = (t as usize, t.fract());
    let k = rng.random_range(0.85..1.1f32);
    std::array::from_fn(|c| {
        let v = TONES[i][c] + (TONES[i + 1][c] - TONES[i][c]) * f;
        (v * k + rng.random_range(-10.0..10.0)).clamp(0.0, 255.0)
    })
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    std::array::from_fn(|c| a[c] + (b[c] - a[c]) * t)
}

/// A texture of `bw`×`bh` pixels: stripes, checks, a linear or radial gradient, or value noise.
fn texture(bw: usize, bh: usize, rng: &mut impl Rng) -> Vec<Rgb> {
    let (c0, c1) = (any_colour(rng), any_colour(rng));
    let angle = rng.random_range(0.0..PI);
    let (ca, sa) = (angle.cos(), angle.sin());
    let scale = bh.max(bw) as f32;
    let kind = rng.random_range(0..5);
    // Value noise: random values on a lattice, smoothly interpolated, two octaves.
    let cell = rng.random_range(6.0..40.0f32);
    let (gw, gh) = (
        (bw as f32 / cell) as usize + 3,
        (bh as f32 / cell) as usize + 3,
    );
    let lattice: Vec<f32> = (0..gw * gh * 2)
        .map(|_| rng.random_range(0.0..1.0))
        .collect();
    let period = rng.random_range(5.0..30.0f32);
    let soft = rng.random_bool(0.5);
    let centre = (
        rng.random_range(0.0..bw as f32),
        rng.random_range(0.0..bh as f32),
    );
    let noise_at = |x: f32, y: f32, octave: usize| -> f32 {
        let (gx, gy) = (
            x / cell * (1 << octave) as f32,
            y / cell * (1 << octave) as f32,
        );
        let (ix, iy) = (gx as usize % (gw - 1), gy as usize % (gh - 1));
        let (fx, fy) = (gx.fract(), gy.fract());
        let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
        let at = |i: usize, j: usize| lattice[octave * gw * gh + j * gw + i];
        let top = at(ix, iy) + (at(ix + 1, iy) - at(ix, iy)) * sx;
        let bottom = at(ix, iy + 1) + (at(ix + 1, iy + 1) - at(ix, iy + 1)) * sx;
        top + (bottom - top) * sy
    };
    let mut out = Vec::with_capacity(bw * bh);
    for y in 0..bh {
        for x in 0..bw {
            let (fx, fy) = (x as f32, y as f32);
            let along = fx * ca + fy * sa;
            let t = match kind {
                0 => {
                    let s = (2.0 * PI * along / period).sin();
                    if soft {
                        0.5 + 0.5 * s
                    } else {
                        f32::from(s > 0.0)
                    }
                }
                1 => {
                    let across = -fx * sa + fy * ca;
                    let parity = ((along / period).floor() + (across / period).floor()) as i64;
                    f32::from(parity.rem_euclid(2) == 0)
                }
                2 => (along / scale).clamp(0.0, 1.0),
                3 => {
                    let d = ((fx - centre.0).powi(2) + (fy - centre.1).powi(2)).sqrt();
                    (d / scale).clamp(0.0, 1.0)
                }
                _ => (0.7 * noise_at(fx, fy, 0) + 0.3 * noise_at(fx, fy, 1)).clamp(0.0, 1.0),
            };
            out.push(mix(c0, c1, t));
        }
    }
    out
}

fn lum(c: Rgb) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

fn distance(a: Rgb, b: Rgb) -> f32 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum::<f32>().sqrt()
}

/// A standard normal value (Box–Muller).
fn gauss(rng: &mut impl Rng) -> f32 {
    let u1: f32 = rng.random_range(1e-7..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

impl Look {
    /// A random look for a clip of `frames` frames of `w`×`h` pixels.
    pub fn random(w: u32, h: u32, frames: usize, rng: &mut impl Rng) -> Look {
        let (w, h) = (w as usize, h as usize);
        let (bw, bh) = (w + 2 * MARGIN as usize, h + 2 * MARGIN as usize);
        let mut background = texture(bw, bh, rng);
        if rng.random_bool(0.5) {
            let alpha = rng.random_range(0.25..0.5f32);
            for (p, q) in background.iter_mut().zip(texture(bw, bh, rng)) {
                *p = mix(*p, q, alpha);
            }
        }
        let mean = background
            .iter()
            .fold([0.0; 3], |acc, p| std::array::from_fn(|c| acc[c] + p[c]))
            .map(|s| s / background.len() as f32);
        // A hand that differs from the background on average, in colour or brightness.
        let mut skin = skin_colour(rng);
        for _ in 0..30 {
            if distance(skin, mean) > 70.0 || (lum(skin) - lum(mean)).abs() > 45.0 {
                break;
            }
            skin = skin_colour(rng);
        }
        let blobs = (0..rng.random_range(0..=3))
            .map(|_| {
                let dir = rng.random_range(0.0..2.0 * PI);
                let speed = rng.random_range(0.0..0.8f32);
                Blob {
                    x: rng.random_range(0.0..w as f32),
                    y: rng.random_range(0.0..h as f32),
                    vx: speed * dir.cos(),
                    vy: speed * dir.sin(),
                    rx: rng.random_range(0.04..0.14f32) * h as f32,
                    ry: rng.random_range(0.04..0.14f32) * h as f32,
                    rgb: if rng.random_bool(0.25) {
                        skin_colour(rng)
                    } else {
                        any_colour(rng)
                    },
                    alpha: rng.random_range(0.4..1.0),
                }
            })
            .collect();
        // The camera: steady, or shaking by a pixel now and then.
        let shaky = if rng.random_bool(0.3) {
            0.0
        } else {
            rng.random_range(0.05..0.5)
        };
        let mut o = (0i32, 0i32);
        let shake = (0..frames)
            .map(|_| {
                if rng.random_bool(shaky) {
                    o.0 = (o.0 + rng.random_range(-1..=1)).clamp(-MARGIN, MARGIN);
                    o.1 = (o.1 + rng.random_range(-1..=1)).clamp(-MARGIN, MARGIN);
                }
                o
            })
            .collect();
        let light_dir = rng.random_range(0.0..2.0 * PI);
        Look {
            w,
            h,
            background,
            blobs,
            hand: HandShape::random(rng),
            skin,
            light: (
                light_dir.cos(),
                light_dir.sin(),
                rng.random_range(0.0..0.35),
            ),
            outline: rng.random_bool(0.3),
            shake,
            blur: [0, 0, 1, 1, 2][rng.random_range(0..5)],
            noise: rng.random_range(1.0..10.0),
            chroma: rng.random_range(0.0..0.6),
            white_balance: std::array::from_fn(|_| rng.random_range(0.92..1.08)),
            jpeg_quality: rng.random_range(35..=95),
        }
    }

    /// Frame `f` with the hand at `pose`; `rng` draws the frame's noise.
    pub fn render(&self, f: usize, pose: HandPose, rng: &mut impl Rng) -> image::RgbImage {
        let (w, h) = (self.w, self.h);
        let (ox, oy) = self.shake.get(f).copied().unwrap_or_default();
        let bw = w + 2 * MARGIN as usize;
        let mut buf: Vec<Rgb> = Vec::with_capacity(w * h);
        for y in 0..h {
            let row = (y as i32 + MARGIN + oy) as usize * bw;
            let x0 = (MARGIN + ox) as usize;
            buf.extend_from_slice(&self.background[row + x0..row + x0 + w]);
        }
        let (ox, oy) = (ox as f32, oy as f32);
        for b in &self.blobs {
            let (cx, cy) = (b.x + b.vx * f as f32 - ox, b.y + b.vy * f as f32 - oy);
            self.paint(&mut buf, cx, cy, b.rx.max(b.ry) + 1.0, |x, y| {
                let (u, v) = ((x - cx) / b.rx, (y - cy) / b.ry);
                let d = ((u * u + v * v).sqrt() - 1.0) * b.rx.min(b.ry);
                (d, b.rgb, b.alpha)
            });
        }
        if pose.visible {
            self.draw_hand(
                &mut buf,
                HandPose {
                    x: pose.x - ox,
                    y: pose.y - oy,
                    ..pose
                },
            );
        }
        blur(&mut buf, w, h, self.blur);
        let gain = 1.0 + 0.02 * gauss(rng);
        let mut img = image::RgbImage::new(w as u32, h as u32);
        for (p, out) in buf.iter().zip(img.pixels_mut()) {
            let luma = self.noise * gauss(rng);
            for ((o, &v), &wb) in out.0.iter_mut().zip(p).zip(&self.white_balance) {
                let n = luma + self.noise * self.chroma * gauss(rng);
                *o = (v * wb * gain + n).round().clamp(0.0, 255.0) as u8;
            }
        }
        img
    }

    /// Blends a shape into `buf` within `reach` pixels of (cx, cy): `shade(x, y)` gives the
    /// signed distance in pixels, the colour and the opacity at a pixel centre.
    fn paint(
        &self,
        buf: &mut [Rgb],
        cx: f32,
        cy: f32,
        reach: f32,
        shade: impl Fn(f32, f32) -> (f32, Rgb, f32),
    ) {
        let (w, h) = (self.w as i32, self.h as i32);
        let (x0, x1) = (
            ((cx - reach) as i32).max(0),
            ((cx + reach) as i32 + 1).min(w - 1),
        );
        let (y0, y1) = (
            ((cy - reach) as i32).max(0),
            ((cy + reach) as i32 + 1).min(h - 1),
        );
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (d, rgb, alpha) = shade(x as f32 + 0.5, y as f32 + 0.5);
                let cover = (0.5 - d).clamp(0.0, 1.0) * alpha;
                if cover > 0.0 {
                    let px = &mut buf[(y * w + x) as usize];
                    *px = mix(*px, rgb, cover);
                }
            }
        }
    }

    fn draw_hand(&self, buf: &mut [Rgb], pose: HandPose) {
        let fingers = self.hand.fingers_at(pose.spread);
        let (sin, cos) = pose.angle.sin_cos();
        let s = pose.size.max(1.0);
        let (lx, ly, k) = self.light;
        let reach = self.hand.reach;
        self.paint(buf, pose.x, pose.y, reach * s + 1.0, |x, y| {
            let (dx, dy) = (x - pose.x, y - pose.y);
            let (u, v) = ((cos * dx + sin * dy) / s, (-sin * dx + cos * dy) / s);
            let d = self.hand.dist(u, v, &fingers) * s;
            let lit = (1.0 + k * (u * lx + v * ly) / reach).clamp(0.5, 1.5);
            let edge = if self.outline && d > -1.2 { 0.7 } else { 1.0 };
            (d, self.skin.map(|c| (c * lit * edge).min(255.0)), 1.0)
        });
    }
}

/// A separable binomial blur of `taps` 0 (none), 1 ([1 2 1]) or 2 ([1 4 6 4 1]), edges clamped.
fn blur(buf: &mut [Rgb], w: usize, h: usize, taps: u8) {
    let kernel: &[f32] = match taps {
        0 => return,
        1 => &[0.25, 0.5, 0.25],
        _ => &[1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0],
    };
    let r = kernel.len() as i32 / 2;
    let mut tmp = buf.to_vec();
    for (step, len, lines, stride) in [(1, w, h, w), (w, h, w, 1)] {
        for line in 0..lines {
            let base = line * stride;
            for i in 0..len {
                let mut acc = [0.0f32; 3];
                for (j, &k) in kernel.iter().enumerate() {
                    let at = (i as i32 + j as i32 - r).clamp(0, len as i32 - 1) as usize;
                    let p = buf[base + at * step];
                    for c in 0..3 {
                        acc[c] += k * p[c];
                    }
                }
                tmp[base + i * step] = acc;
            }
        }
        buf.copy_from_slice(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn pose(x: f32, y: f32, size: f32) -> HandPose {
        HandPose {
            x,
            y,
            size,
            angle: 0.0,
            spread: 0.5,
            visible: true,
        }
    }

    #[test]
    fn the_hand_is_where_its_pose_says() {
        // Without noise the frames with and without a hand differ only around it.
        for seed in 0..10 {
            let mut look = Look::random(96, 64, 4, &mut StdRng::seed_from_u64(seed));
            look.noise = 0.0;
            look.shake = vec![(0, 0); 4];
            let render = |p: HandPose| look.render(0, p, &mut StdRng::seed_from_u64(1));
            let empty = render(HandPose {
                visible: false,
                ..pose(0.0, 0.0, 1.0)
            });
            let hand = render(pose(30.0, 30.0, 10.0));
            let reach = look.hand.reach * 10.0 + 4.0;
            let (mut near, mut far) = (0u32, 0u32);
            for (x, y, p) in hand.enumerate_pixels() {
                let q = empty.get_pixel(x, y);
                let diff: i32 = (0..3).map(|c| (p.0[c] as i32 - q.0[c] as i32).abs()).sum();
                let d = ((x as f32 - 30.0).powi(2) + (y as f32 - 30.0).powi(2)).sqrt();
                if d > reach {
                    far += u32::from(diff > 6);
                } else {
                    near += u32::from(diff > 6);
                }
            }
            assert_eq!(far, 0, "seed {seed}: pixels changed away from the hand");
            assert!(
                near > 100,
                "seed {seed}: the hand changed only {near} pixels"
            );
        }
    }

    #[test]
    fn blur_keeps_flat_areas_and_softens_edges() {
        let mut buf: Vec<Rgb> = (0..64)
            .map(|i| if i % 8 < 4 { [0.0; 3] } else { [200.0; 3] })
            .collect();
        blur(&mut buf, 8, 8, 2);
        assert_eq!(buf[0], [0.0; 3]);
        assert!(buf[3][0] > 10.0 && buf[4][0] < 190.0, "{:?}", &buf[..8]);
        assert!((buf[7][0] - 200.0).abs() < 1e-3);
    }

    #[test]
    fn skin_tones_span_dark_to_pale() {
        let mut rng = StdRng::seed_from_u64(3);
        let l: Vec<f32> = (0..400).map(|_| lum(skin_colour(&mut rng))).collect();
        let (lo, hi) = l
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(lo < 70.0 && hi > 200.0, "{lo} {hi}");
    }
}
