//! A continuous check session: one person (one hand, one camera) performing several classes one
//! after another, the hand moving on its own between them (a repositioning, an idle stretch), as
//! one landmark clip file plus a script of what was performed (`FIRST LAST LABEL` per gesture,
//! frames from 1, the layout `synth --session` writes). The event check plays it through the
//! live event rules and counts one event per gesture and none for the idle motion.
//!
//! Built from this generator's own keyframes, grips and hand (the parent module), so it stays as
//! independent of `handsynth` as the clips are.

use super::{keyframes, sample, HandCheckError, Key, View};
use crate::util::{mix_seed, write_atomic};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// Classes that are not gestures: they fill their span and get no script line.
fn is_idle(label: &str) -> bool {
    matches!(label, "No gesture" | "Doing other things")
}

/// The person and the camera, drawn once for the whole session.
fn draw_view(rng: &mut StdRng) -> View {
    let (w, h) = [(640u32, 480u32), (1280, 720)][rng.random_range(0..2)];
    let fov_v = rng.random_range(40f32..58.0).to_radians();
    let focal = h as f32 / 2.0 / (fov_v / 2.0).tan();
    let depth = rng.random_range(45.0..75.0f32);
    View {
        w,
        h,
        focal,
        left: rng.random_bool(0.4),
        size: rng.random_range(0.85..1.15f32),
        long: rng.random_range(0.92..1.08f32),
        home: [
            rng.random_range(-0.15..0.15f32) * depth * w as f32 / focal * 0.5,
            rng.random_range(0.0..0.2f32) * depth * h as f32 / focal * 0.5,
            depth,
        ],
        sigma: rng.random_range(0.003..0.01f32),
        rho: rng.random_range(0.3..0.8f32),
        score: rng.random_range(0.75..1.0f32),
    }
}

/// Smoothstep between two keys: a hand moving from one place, turn and grip to the next.
fn between(a: &Key, b: &Key, t: f32) -> Key {
    let s = t * t * (3.0 - 2.0 * t);
    sample(&[*a, *b], s)
}

/// A session performing `labels` in order, `gap` frames of the hand moving on its own between
/// two of them; returns the clip file's text and the script (one line per gesture). A label
/// this generator does not perform is an error.
pub fn session_text(
    labels: &[String],
    gap: usize,
    seed: u64,
) -> Result<(String, String), HandCheckError> {
    let mut rng = StdRng::seed_from_u64(mix_seed(seed, 0x5e55));
    let view = draw_view(&mut rng);
    let mut frames: Vec<String> = Vec::new();
    let mut script = String::new();
    let mut noise = [[0f32; 3]; 21];
    let mut last: Option<Key> = None;
    for label in labels {
        let keys = keyframes(label, &mut rng)?;
        let first = keys.as_ref().map(|k| sample(k, 0.0));
        // The hand moves from where the last class left it to where this one starts; it
        // appears (or leaves) at the start of a span where there was (or will be) no hand.
        if !frames.is_empty() {
            for i in 0..gap {
                let t = (i + 1) as f32 / (gap + 1) as f32;
                frames.push(match (&last, &first) {
                    (Some(a), Some(b)) => view
                        .render(&between(a, b, t), false, &mut noise, &mut rng)
                        .unwrap_or_else(|| "[]".into()),
                    _ => "[]".into(),
                });
            }
        }
        let len = if is_idle(label) {
            rng.random_range(24..=40usize)
        } else {
            rng.random_range(16..=30usize)
        };
        let start = frames.len() + 1;
        let keep_roll = label.starts_with("Turning");
        for i in 0..len {
            let t = i as f32 / (len - 1) as f32;
            frames.push(match &keys {
                Some(k) => view
                    .render(&sample(k, t), keep_roll, &mut noise, &mut rng)
                    .unwrap_or_else(|| "[]".into()),
                None => "[]".into(),
            });
        }
        if !is_idle(label) {
            script.push_str(&format!("{start} {} {label}\n", frames.len()));
        }
        last = keys.as_ref().map(|k| sample(k, 1.0));
    }
    let text = format!(
        "{{\"format\":\"hand-landmarks/1\",\"width\":{},\"height\":{},\"fps\":12,\"frames\":[{}]}}\n",
        view.w,
        view.h,
        frames.join(",")
    );
    Ok((text, script))
}

/// Writes `session.json` and `script.txt` into `out`.
pub fn write_session(
    out: &Path,
    labels: &[String],
    gap: usize,
    seed: u64,
) -> Result<(), HandCheckError> {
    if labels.is_empty() {
        return Err(HandCheckError::Options("a session needs classes".into()));
    }
    std::fs::create_dir_all(out).map_err(|source| HandCheckError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let (text, script) = session_text(labels, gap, seed)?;
    write_atomic(&out.join("session.json"), text.as_bytes())?;
    write_atomic(&out.join("script.txt"), script.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_one_clip_with_a_line_per_gesture_in_order() {
        let labels: Vec<String> = [
            "No gesture",
            "Swiping Left",
            "Doing other things",
            "Thumb Up",
        ]
        .map(String::from)
        .to_vec();
        let (text, script) = session_text(&labels, 10, 3).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let frames = v["frames"].as_array().unwrap();
        let lines: Vec<Vec<&str>> = script.lines().map(|l| l.splitn(3, ' ').collect()).collect();
        assert_eq!(lines.len(), 2, "{script}");
        assert_eq!(lines[0][2], "Swiping Left");
        assert_eq!(lines[1][2], "Thumb Up");
        let span = |l: &Vec<&str>| {
            (
                l[0].parse::<usize>().unwrap(),
                l[1].parse::<usize>().unwrap(),
            )
        };
        let ((a0, a1), (b0, b1)) = (span(&lines[0]), span(&lines[1]));
        assert!(1 < a0 && a0 < a1 && a1 + 10 < b0 && b0 < b1 && b1 <= frames.len());
        // One person: the same handedness throughout.
        let hands: std::collections::BTreeSet<&str> = frames
            .iter()
            .filter_map(|f| f.get(0))
            .map(|h| h["handedness"].as_str().unwrap())
            .collect();
        assert_eq!(hands.len(), 1);
        // The swipe moves the hand across the picture over its span.
        let x = |i: usize| {
            frames[i - 1]
                .get(0)
                .map(|h| h["landmarks"][9][0].as_f64().unwrap())
        };
        if let (Some(s), Some(e)) = (x(a0), x(a1)) {
            assert!((s - e).abs() > 0.05, "the swipe moved {s} → {e}");
        }
    }
}
