//! Continuous sessions: one person in one room performing classes one after another, the hand
//! moving on its own from where one class leaves it to where the next starts (lowered a little
//! on the way; raised from below the picture, or dropped out of it, where one side has no
//! hand). What the live app sees between gestures is in no single clip: the end of one
//! gesture, the way back, the start of the next. `bench-events` replays a session with the live
//! worker's steps and counts the events it fires, so event rules and models can be judged on
//! this generator's sessions, not only on the second generator's; [`windows`] cuts training
//! clips from sessions.

use super::gestures::{self, Script};
use super::hand::Proportions;
use super::{
    clip_json, smooth, Camera, HandSynthError, Handedness, Held, LandmarkClip, Performance, Place,
    Scene, Timing, TrackerNoise, CLIP_FPS,
};
use crate::util::write_atomic;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// Seeds the random stream of [`windows`]' edge windows.
const EDGE_STREAM: u64 = 0x7a11_7a11_7a11_7a11;

/// Labels that are not gestures: performed for longer, and never expected to fire.
const BACKGROUND: [&str; 2] = ["No gesture", "Doing other things"];

/// One class performed in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// First and last frame, numbered from 1 (`bench-events`' script format).
    pub first: usize,
    pub last: usize,
    pub label: String,
}

/// A session: what the tracker reports frame by frame, and what was performed when.
#[derive(Debug, Clone)]
pub struct Session {
    pub clip: LandmarkClip,
    pub script: Vec<Segment>,
}

/// The script's text: one `FIRST LAST LABEL` line per class, background classes included.
pub fn script_text(script: &[Segment]) -> String {
    script
        .iter()
        .map(|s| format!("{} {} {}\n", s.first, s.last, s.label))
        .collect()
}

/// Generates a session of `labels` in order (Jester's labels; anything else is "Doing other
/// things") from `seed`: a gesture takes 14–30 frames at 12 fps, "No gesture" and "Doing other
/// things" 24–48, and the hand moves on its own for 6–18 frames between two classes.
pub fn generate_session(labels: &[String], seed: u64) -> Session {
    let mut rng = StdRng::seed_from_u64(seed);
    let cam = Camera::random(&mut rng);
    let truth = if rng.random_bool(0.4) {
        Handedness::Left
    } else {
        Handedness::Right
    };
    let scene = Scene {
        cam,
        left: truth == Handedness::Left,
        palm: rng.random_range(0.068..0.11f32),
        props: Proportions::random(&mut rng),
        noise: TrackerNoise::random(truth, &mut rng),
        tremor: rng.random_range(0.0..0.006f32),
        tremor_hz: [rng.random_range(2.0..6.0), rng.random_range(3.0..9.0)],
    };
    // Where this person holds the hand; each class is performed somewhere near it.
    let dist = rng.random_range(0.4..0.9f32);
    let (ax, ay) = (
        rng.random_range(0.3..0.7f32),
        rng.random_range(0.35..0.7f32),
    );
    let mut held: Vec<Option<Held>> = Vec::new();
    let mut script = Vec::with_capacity(labels.len());
    let mut last_place = Place::new(&scene, dist, ax, ay);
    for (k, label) in labels.iter().enumerate() {
        let background = BACKGROUND.contains(&label.as_str());
        let s: Script = gestures::script(label, &mut rng);
        let timing = if background {
            Timing::random(true, s.min_span, &mut rng)
        } else {
            // The segment is the gesture: it starts and ends with it.
            Timing {
                start: 0.0,
                end: 1.0,
                ease: rng.random_range(0.3..1.0),
                pause: rng
                    .random_bool(0.25)
                    .then(|| (rng.random_range(0.2..0.8), rng.random_range(0.1..0.3))),
            }
        };
        let len = if background {
            rng.random_range(24..=48usize)
        } else {
            rng.random_range(14..=30usize)
        };
        let place = Place::new(
            &scene,
            dist * rng.random_range(0.85..1.15f32),
            ax + rng.random_range(-0.12..0.12f32),
            ay + rng.random_range(-0.1..0.1f32),
        );
        let play = Performance {
            script: &s,
            timing: &timing,
            place,
            enters: false,
            leaves: false,
        };
        let frames: Vec<Option<Held>> = (0..len)
            .map(|i| {
                let t = (held.len() + i) as f32 / CLIP_FPS;
                play.held(&scene, i as f32 / (len - 1) as f32, t)
            })
            .collect();
        if k > 0 {
            // From where the last class left the hand to where this one starts, lowered a
            // little on the way. Where one end has no hand, the hand comes up from below the
            // picture into where the class starts, fingers first, or drops out of it.
            let gap = rng.random_range(6..=18usize);
            let dip = rng.random_range(0.0..0.06f32);
            let from = held.last().copied().flatten();
            let to = frames.first().copied().flatten();
            let below = |h: Held, out: f32, k: f32| {
                let mut h = h;
                h.at[1] += out * k;
                h.pitch += 0.6 * k;
                h
            };
            for j in 0..gap {
                let w = (j + 1) as f32 / (gap + 1) as f32;
                held.push(match (from, to) {
                    (Some(a), Some(b)) => {
                        let mut h = a.lerp(&b, smooth(w));
                        h.at[1] += dip * (std::f32::consts::PI * w).sin();
                        Some(h)
                    }
                    (None, Some(b)) => Some(below(b, place.out_of_view, 1.0 - smooth(w))),
                    (Some(a), None) => Some(below(a, last_place.out_of_view, smooth(w))),
                    (None, None) => None,
                });
            }
        }
        last_place = place;
        script.push(Segment {
            first: held.len() + 1,
            last: held.len() + len,
            label: label.clone(),
        });
        held.extend(frames);
    }
    // The tracker loses the hand for a few frames in a row now and then.
    let bursts = held.len() / 60;
    for _ in 0..bursts {
        let len = rng.random_range(2..6usize);
        let at = rng.random_range(0..held.len().saturating_sub(len).max(1));
        for h in held.iter_mut().skip(at).take(len) {
            *h = None;
        }
    }
    let frames = held
        .iter()
        .map(|h| {
            h.and_then(|h| scene.observe(&h, &mut rng))
                .into_iter()
                .collect()
        })
        .collect();
    Session {
        clip: LandmarkClip {
            width: scene.cam.width,
            height: scene.cam.height,
            fps: CLIP_FPS,
            frames,
        },
        script,
    }
}

/// Writes [`generate_session`]'s session as `out/session.json` (a landmark clip file,
/// docs/ARCHITECTURE.md §7) and `out/script.txt`, each atomically.
pub fn write_session(out: &Path, labels: &[String], seed: u64) -> Result<Session, HandSynthError> {
    if labels.is_empty() {
        return Err(HandSynthError::Options(
            "a session needs at least one class".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|source| HandSynthError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let session = generate_session(labels, seed);
    write_atomic(
        &out.join("session.json"),
        clip_json(&session.clip).as_bytes(),
    )?;
    write_atomic(
        &out.join("script.txt"),
        script_text(&session.script).as_bytes(),
    )?;
    Ok(session)
}

/// Training clips cut from one generated session of gestures drawn from `gestures` (Jester
/// labels, background ones left out), each labelled by what it holds: a window holding a whole
/// gesture (90 % of its frames or more, and no more than a quarter of any other) is that
/// gesture; a window holding no more than a quarter of any gesture is "Doing other things"
/// where half of it or more is such a stretch, else "No gesture"; and at each gesture's edges
/// (`edge_windows`) a window with 60 % of it or more, up to its end, and what follows is
/// that gesture, one with 35 % or less background; anything between is not cut. Windows are
/// 24–40 frames long, the live window to the longest clip. The background windows are what
/// clips alone never show a model: the end of a gesture and the hand going back, the way from
/// one gesture to the next, a hand lowered and raised again.
pub fn windows(gestures: &[String], seed: u64) -> Vec<(LandmarkClip, String)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let moves: Vec<&String> = gestures
        .iter()
        .filter(|g| !BACKGROUND.contains(&g.as_str()))
        .collect();
    if moves.is_empty() {
        return Vec::new();
    }
    // Background, then gestures with background between most of them: some people chain
    // gestures with only the way from one to the next between them.
    let idle = |rng: &mut StdRng| {
        if rng.random_bool(0.75) {
            BACKGROUND[0]
        } else {
            BACKGROUND[1]
        }
    };
    let mut plan = vec![idle(&mut rng).to_string()];
    let n = rng.random_range(3..=6usize);
    for k in 0..n {
        plan.push(moves[rng.random_range(0..moves.len())].clone());
        if k + 1 == n || rng.random_bool(0.75) {
            plan.push(idle(&mut rng).to_string());
        }
    }
    let session = generate_session(&plan, rng.random());
    let total = session.clip.frames.len();
    let spans: Vec<Span> = session
        .script
        .iter()
        .map(|s| (s.first - 1, s.last - 1, s.label.as_str()))
        .collect();
    let cut = |a: usize, len: usize, label: &str| {
        let clip = LandmarkClip {
            width: session.clip.width,
            height: session.clip.height,
            fps: session.clip.fps,
            frames: session.clip.frames[a..a + len].to_vec(),
        };
        (clip, label.to_string())
    };
    let mut out = Vec::new();
    for (i, g) in spans.iter().enumerate() {
        if BACKGROUND.contains(&g.2) {
            continue;
        }
        let len = rng.random_range(24..=40usize).min(total);
        // Starts whose window holds the whole gesture, less a frame or two at either end.
        let slack = (g.1 - g.0 + 1) / 10;
        let lo = (g.1 - slack + 1).saturating_sub(len);
        let hi = (g.0 + slack).min(total - len);
        if lo > hi {
            continue;
        }
        let a = rng.random_range(lo..=hi);
        let b = a + len - 1;
        let clean = spans
            .iter()
            .enumerate()
            .all(|(j, o)| j == i || BACKGROUND.contains(&o.2) || covered(o, a, b) <= 0.25);
        if covered(g, a, b) >= 0.9 && clean {
            out.push(cut(a, len, g.2));
        }
    }
    // As many background windows as gestures, tried at random places.
    let wanted = out.len().max(1);
    let mut made = 0;
    for _ in 0..wanted * 6 {
        if made == wanted {
            break;
        }
        let len = rng.random_range(24..=40usize).min(total);
        let a = rng.random_range(0..=total - len);
        let b = a + len - 1;
        let quiet = spans
            .iter()
            .all(|o| BACKGROUND.contains(&o.2) || covered(o, a, b) <= 0.25);
        if !quiet {
            continue;
        }
        out.push(cut(a, len, background_of(&spans, a, b)));
        made += 1;
    }
    for (a, b, label) in edge_windows(&spans, total, seed) {
        out.push(cut(a, b + 1 - a, label));
    }
    out
}

/// A class in a session: first and last frame, numbered from 0, and label.
type Span<'a> = (usize, usize, &'a str);

/// The share of span `g` inside frames `a..=b`.
fn covered(g: &Span, a: usize, b: usize) -> f32 {
    let inside = (g.1.min(b) + 1).saturating_sub(g.0.max(a));
    inside as f32 / (g.1 - g.0 + 1) as f32
}

/// The label of a window with no gesture in it: "Doing other things" where half of it or more
/// is such a stretch, else "No gesture".
fn background_of(spans: &[Span], a: usize, b: usize) -> &'static str {
    let busy: usize = spans
        .iter()
        .filter(|o| o.2 == BACKGROUND[1])
        .map(|o| (o.1.min(b) + 1).saturating_sub(o.0.max(a)))
        .sum();
    if 2 * busy >= b + 1 - a {
        BACKGROUND[1]
    } else {
        BACKGROUND[0]
    }
}

/// Windows at a gesture's edges: most of the gesture and then the way back is still the
/// gesture; a little of it, after or before, is background. Without them a model never saw
/// the hand going back, which looks like the opposite gesture (a pull after a push, a zoom
/// in after a zoom out), and fired on it. Their own random stream leaves [`windows`]' other
/// windows as they were.
///
/// Returns (first frame, last frame, label) of each window cut, frames numbered from 0.
fn edge_windows<'a>(spans: &[Span<'a>], total: usize, seed: u64) -> Vec<(usize, usize, &'a str)> {
    let mut rng = StdRng::seed_from_u64(seed ^ EDGE_STREAM);
    let mut out = Vec::new();
    for (i, g) in spans.iter().enumerate() {
        if BACKGROUND.contains(&g.2) {
            continue;
        }
        for after in [true, false] {
            let len = rng.random_range(24..=40usize).min(total);
            let (a, b) = if after {
                // The gesture's end and what follows.
                let b = rng.random_range(g.1..=(g.1 + len - 1).min(total - 1));
                if b + 1 < len {
                    continue;
                }
                (b + 1 - len, b)
            } else {
                // What comes before and the gesture's start.
                let lo = g.0.saturating_sub(len - 1);
                let hi = g.0.min(total - len);
                if lo > hi {
                    continue;
                }
                let a = rng.random_range(lo..=hi);
                (a, a + len - 1)
            };
            let clean = spans
                .iter()
                .enumerate()
                .all(|(j, o)| j == i || BACKGROUND.contains(&o.2) || covered(o, a, b) <= 0.25);
            if !clean {
                continue;
            }
            let share = covered(g, a, b);
            if after && share >= 0.6 {
                out.push((a, b, g.2));
            } else if share <= 0.35 {
                out.push((a, b, background_of(spans, a, b)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_session_is_reproducible_and_its_script_tiles_the_frames_with_gaps() {
        let l = labels(&[
            "No gesture",
            "Swiping Left",
            "No gesture",
            "Thumb Up",
            "Doing other things",
        ]);
        let a = generate_session(&l, 5);
        let b = generate_session(&l, 5);
        assert_eq!(clip_json(&a.clip), clip_json(&b.clip));
        assert_eq!(a.script, b.script);
        assert_eq!(a.script.len(), 5);
        assert_eq!(a.script[0].first, 1);
        assert_eq!(a.script.last().unwrap().last, a.clip.frames.len());
        for w in a.script.windows(2) {
            let gap = w[1].first - w[0].last - 1;
            assert!((6..=18).contains(&gap), "{gap}");
        }
        let gesture = &a.script[1];
        assert!((14..=30).contains(&(gesture.last - gesture.first + 1)));
        assert_ne!(clip_json(&a.clip), clip_json(&generate_session(&l, 6).clip));
    }

    #[test]
    fn gestures_in_a_session_do_what_they_say_and_the_hand_travels_between_them() {
        // The swipe moves left on screen in most sessions, and between two gestures the hand
        // is seen on its way in most frames.
        let l = labels(&["Swiping Left", "Swiping Right"]);
        let (mut left, mut right, mut seen, mut gap_frames) = (0, 0, 0, 0);
        for seed in 0..20 {
            let s = generate_session(&l, seed);
            let x = |a: usize, b: usize| -> Vec<f32> {
                s.clip.frames[a - 1..b]
                    .iter()
                    .filter_map(|h| h.first())
                    .map(|h| h.landmarks[9][0])
                    .collect()
            };
            let moved = |xs: Vec<f32>| {
                xs.last().copied().unwrap_or(0.0) - xs.first().copied().unwrap_or(0.0)
            };
            left += (moved(x(s.script[0].first, s.script[0].last)) < -0.05) as usize;
            right += (moved(x(s.script[1].first, s.script[1].last)) > 0.05) as usize;
            let between = &s.clip.frames[s.script[0].last..s.script[1].first - 1];
            gap_frames += between.len();
            seen += between.iter().filter(|h| !h.is_empty()).count();
        }
        assert!(
            left >= 16 && right >= 16,
            "{left} left, {right} right of 20"
        );
        assert!(seen * 10 >= gap_frames * 6, "{seen} of {gap_frames}");
    }

    #[test]
    fn windows_hold_whole_gestures_or_none_and_say_which() {
        let gestures = labels(&["Swiping Left", "Thumb Up", "Stop Sign"]);
        let (mut moves, mut idle) = (0, 0);
        for seed in 0..30 {
            let w = windows(&gestures, seed);
            let text = |w: &[(LandmarkClip, String)]| {
                w.iter().map(|(c, l)| clip_json(c) + l).collect::<Vec<_>>()
            };
            assert_eq!(text(&w), text(&windows(&gestures, seed)), "{seed}");
            for (clip, label) in &w {
                assert!((24..=40).contains(&clip.frames.len()));
                if BACKGROUND.contains(&label.as_str()) {
                    idle += 1;
                } else {
                    assert!(gestures.contains(label), "{label}");
                    moves += 1;
                }
            }
        }
        // 3-6 gestures a session, most of them cut whole, and about as many quiet windows.
        assert!(moves >= 60, "{moves} gesture windows");
        assert!(idle * 2 >= moves, "{idle} background windows for {moves}");
        // A window labelled with a swipe shows the hand moving left across it.
        let (mut left, mut swipes) = (0, 0);
        for seed in 0..30 {
            for (clip, label) in windows(&gestures, seed) {
                if label != "Swiping Left" {
                    continue;
                }
                swipes += 1;
                left += super::super::moves_left(&clip) as usize;
            }
        }
        assert!(
            swipes >= 10 && left * 10 >= swipes * 8,
            "{left} of {swipes}"
        );
    }

    #[test]
    fn edge_windows_hold_most_of_a_gesture_and_its_end_as_it_or_little_of_it_as_background() {
        let spans: Vec<Span> = vec![
            (0, 39, "No gesture"),
            (46, 65, "Swiping Left"),
            (72, 119, "Doing other things"),
            (126, 145, "Thumb Up"),
            (152, 199, "No gesture"),
        ];
        let (mut as_gesture, mut with_after, mut idle, mut busy) = (0, 0, 0, 0);
        for seed in 0..100 {
            let w = edge_windows(&spans, 200, seed);
            assert_eq!(w, edge_windows(&spans, 200, seed));
            for (a, b, label) in w {
                assert!((24..=40).contains(&(b + 1 - a)), "{a}..={b}");
                // The gesture the window holds most of.
                let g = spans
                    .iter()
                    .filter(|s| !BACKGROUND.contains(&s.2))
                    .max_by(|x, y| covered(x, a, b).total_cmp(&covered(y, a, b)))
                    .unwrap();
                let share = covered(g, a, b);
                match label {
                    "No gesture" | "Doing other things" => {
                        assert!(share <= 0.35, "{a}..={b} {label}: {share} of {}", g.2);
                        idle += (label == "No gesture") as usize;
                        busy += (label == "Doing other things") as usize;
                    }
                    _ => {
                        assert_eq!(label, g.2, "{a}..={b}");
                        assert!(share >= 0.6 && b >= g.1, "{a}..={b} {label}: {share}");
                        as_gesture += 1;
                        with_after += (b >= g.1 + 6) as usize;
                    }
                }
            }
        }
        // Two windows a gesture were tried, 400 in all: most are cut, and a window that holds a
        // gesture's end mostly holds the way back too.
        assert!(as_gesture >= 60, "{as_gesture}");
        assert!(with_after * 2 >= as_gesture, "{with_after} of {as_gesture}");
        assert!(idle >= 20 && busy >= 20, "{idle} quiet, {busy} busy");
    }

    #[test]
    fn write_session_writes_both_files_and_refuses_an_empty_session() {
        let dir = tempfile::tempdir().unwrap();
        let s = write_session(dir.path(), &labels(&["No gesture", "Stop Sign"]), 1).unwrap();
        let script = std::fs::read_to_string(dir.path().join("script.txt")).unwrap();
        assert_eq!(script, script_text(&s.script));
        assert!(script.ends_with("Stop Sign\n"));
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("session.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["frames"].as_array().unwrap().len(), s.clip.frames.len());
        assert!(write_session(dir.path(), &[], 1).is_err());
    }
}
