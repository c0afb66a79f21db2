//! `gesture-app bench-events`: footage played through the live pipeline in batch mode (every
//! clip-rate sample computed, as fast as the model runs, the events of real-time playback) and
//! the events it fires counted: events per hour of footage and, where a script says what was
//! performed (`FIRST LAST LABEL` per gesture, frame numbers from 1, as `synth --session` writes
//! beside its recording), per gesture hits, misses, extra events and the delay from the
//! gesture's end to its event. A landmark session (a landmark clip file, as `handsynth
//! --session` and `handcheck --session` write) is replayed through a landmark model with the
//! worker's steps instead ([`replay_landmarks`]): it has no pictures for the pipeline's hand
//! tracker.

use crate::capture::SourceSpec;
use crate::live::events::{EventDetector, EventSettings, FireAt};
use crate::live::worker::softmax;
use crate::live::{rate, FrameModel, LiveError, Pipeline, PipelineOptions, WorkerMsg};
use crate::model::backbone::hand_landmarks::{INPUT_LEN, INPUT_ROWS};
use crate::train::data::landmarks::LandmarkClip;
use candle_core::{DType, Tensor};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One event the pipeline fired.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FiredEvent {
    /// Source time of the frame that fired it, seconds.
    pub t_s: f64,
    pub label: String,
    pub prob: f32,
}

/// What playing the footage gave.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Played {
    pub events: Vec<FiredEvent>,
    pub predictions: u64,
    /// Frames the capture thread delivered.
    pub frames: u64,
    pub frames_undecodable: u64,
    /// Footage length, seconds: the last frame's time plus one frame step.
    pub footage_s: f64,
    /// Wall time of the batch run, seconds.
    pub wall_s: f64,
    /// The highest smoothed probability any class outside the background reached, its label
    /// and time (s): how near the footage came to an event (the margin below the threshold).
    pub peak: Option<(String, f32, f64)>,
    /// Every prediction: its source time (s) and smoothed probabilities, class order.
    #[serde(skip)]
    pub trace: Vec<(f64, Vec<f32>)>,
}

impl Played {
    /// Events per hour of footage.
    pub fn events_per_hour(&self) -> f64 {
        if self.footage_s > 0.0 {
            self.events.len() as f64 * 3600.0 / self.footage_s
        } else {
            0.0
        }
    }
}

/// Plays `spec` through a pipeline running `model` in batch mode and collects its events.
pub fn play(
    model: Arc<dyn FrameModel>,
    spec: &SourceSpec,
    options: &PipelineOptions,
) -> Result<Played, LiveError> {
    let mut options = options.clone();
    options.worker.batch = true;
    options.source.looping = false;
    let started = Instant::now();
    let labels = model.config().labels.clone();
    let background = options.worker.events.background.clone();
    let pipeline = Pipeline::start(model, spec, &options, None)?;
    let mut peak: Option<(String, f32, f64)> = None;
    let mut events = Vec::new();
    let mut predictions = 0;
    let mut last_pts: Option<Duration> = None;
    let mut first_pts: Option<Duration> = None;
    let mut trace = Vec::new();
    loop {
        let Ok(msg) = pipeline.messages().recv() else {
            return Err(LiveError::Stopped(
                "the inference thread ended unexpectedly".into(),
            ));
        };
        match msg {
            WorkerMsg::Prediction(p) => {
                predictions += 1;
                for (i, &prob) in p.probs.iter().enumerate() {
                    let label = labels.get(i).map(String::as_str).unwrap_or("");
                    if !background.iter().any(|b| b.eq_ignore_ascii_case(label))
                        && peak.as_ref().is_none_or(|(_, best, _)| prob > *best)
                    {
                        peak = Some((label.to_string(), prob, p.t.as_secs_f64()));
                    }
                }
                first_pts.get_or_insert(p.t);
                last_pts = Some(p.t);
                trace.push((p.t.as_secs_f64(), p.probs));
            }
            WorkerMsg::Event(e) => events.push(FiredEvent {
                t_s: e.t.as_secs_f64(),
                label: e.label,
                prob: e.prob,
            }),
            WorkerMsg::Quit(None) => break,
            WorkerMsg::Quit(Some(why)) => return Err(LiveError::Stopped(why)),
            _ => {}
        }
    }
    let ring = pipeline.ring();
    let frames = ring.pushed();
    let last = ring
        .latest()
        .map(|f| f.pts)
        .or(last_pts)
        .unwrap_or_default();
    let step = if frames > 1 {
        last.as_secs_f64() / (frames - 1) as f64
    } else {
        0.0
    };
    Ok(Played {
        events,
        predictions,
        frames,
        frames_undecodable: ring.status().undecodable(),
        footage_s: last.as_secs_f64() + step,
        wall_s: started.elapsed().as_secs_f64(),
        peak,
        trace,
    })
}

/// Replays a landmark session (a landmark clip file, no pictures) through a landmark model with
/// the live worker's batch-mode steps and collects its events. The live pipeline takes
/// pictures and runs the hand tracker on them; a generated session is already what the tracker
/// reports, so it is fed to the same parts the worker is made of instead: the clip-rate grid
/// over the window (`window`, resampled by time from the clip's rate), one backbone pass per
/// sample, the TSN test picks of [`rate::segment_offsets`], the head, the softmax, and the
/// [`EventDetector`] with its full-window rule.
pub fn replay_landmarks(
    model: &dyn FrameModel,
    clip: &LandmarkClip,
    window: Duration,
    settings: &EventSettings,
) -> crate::Result<Played> {
    let started = Instant::now();
    let cfg = model.config();
    if !cfg.arch.reads_landmarks() {
        return Err(crate::Error::Config(format!(
            "a landmark session needs a landmark model (hand_landmarks), not {}",
            cfg.arch
        )));
    }
    let mut detector = EventDetector::new(settings, &cfg.labels, FireAt::for_arch(cfg.arch))
        .map_err(|e| crate::Error::Config(e.to_string()))?;
    let src_fps = f64::from(clip.fps.unwrap_or(cfg.clip_fps));
    let fps = f64::from(cfg.clip_fps);
    let n = cfg.num_segments;
    let steps = rate::window_steps(window, cfg.clip_fps, n);
    let footage_s = clip.frames.len() as f64 / src_fps;
    let mut features: Vec<Tensor> = Vec::new(); // [D] per clip-rate sample
    let mut played = Played {
        events: Vec::new(),
        predictions: 0,
        frames: clip.frames.len() as u64,
        frames_undecodable: 0,
        footage_s,
        wall_s: 0.0,
        peak: None,
        trace: Vec::new(),
    };
    let mut input = vec![0f32; INPUT_LEN];
    for k in 0.. {
        let t = k as f64 / fps;
        if t >= footage_s {
            break;
        }
        let frame = ((t * src_fps).round() as usize).min(clip.frames.len() - 1);
        clip.pack(frame, false, &mut input);
        let x = Tensor::from_slice(&input, (1, INPUT_ROWS, 3), model.device())?;
        features.push(model.frame_features(&x)?.get(0)?); // [D]
        let have = (k + 1).min(steps);
        let Some(offsets) = rate::segment_offsets(have, n) else {
            continue;
        };
        let rows: Vec<Tensor> = offsets.iter().map(|&o| features[k - o].clone()).collect();
        let logits = model.head(&Tensor::stack(&rows, 0)?.unsqueeze(0)?)?; // [1, C]
        let logits: Vec<f32> = logits.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()?;
        let raw = softmax(&logits);
        played.predictions += 1;
        let at = Duration::from_secs_f64(t);
        if let Some(e) = detector.update_with(&raw, at, have >= steps) {
            played.events.push(FiredEvent {
                t_s: t,
                label: e.label,
                prob: e.prob,
            });
        }
        for (i, &prob) in detector.smoothed().iter().enumerate() {
            if !detector.is_background(i)
                && played.peak.as_ref().is_none_or(|(_, best, _)| prob > *best)
            {
                played.peak = Some((cfg.labels[i].clone(), prob, t));
            }
        }
        played.trace.push((t, detector.smoothed().to_vec()));
    }
    played.wall_s = started.elapsed().as_secs_f64();
    Ok(played)
}

/// One performed gesture of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Performed {
    /// First and last frame, numbered from 1.
    pub first: u64,
    pub last: u64,
    pub label: String,
}

/// Reads a script: one `FIRST LAST LABEL` line per gesture (blank lines and `#` comments
/// skipped). Errors name the line.
pub fn parse_script(text: &str) -> Result<Vec<Performed>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let (Some(a), Some(b), Some(label)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("line {}: expected FIRST LAST LABEL", i + 1));
        };
        let (Ok(first), Ok(last)) = (a.parse::<u64>(), b.parse::<u64>()) else {
            return Err(format!(
                "line {}: FIRST and LAST must be frame numbers",
                i + 1
            ));
        };
        if first == 0 || last < first {
            return Err(format!(
                "line {}: frames are numbered from 1 and LAST >= FIRST",
                i + 1
            ));
        }
        out.push(Performed {
            first,
            last,
            label: label.trim().to_string(),
        });
    }
    Ok(out)
}

/// The score of one label.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LabelScore {
    pub label: String,
    /// Times the script performs it.
    pub performed: u64,
    /// Performed gestures that got their event.
    pub hits: u64,
    pub misses: u64,
    /// Events of this label that match no performed gesture.
    pub extras: u64,
    /// Delay from each hit gesture's last frame to its event, milliseconds (negative: the event
    /// came before the gesture's last frame).
    pub delays_ms: Vec<f64>,
}

/// Hits, misses and extras of a run against a script.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Score {
    pub labels: Vec<LabelScore>,
    pub hits: u64,
    pub misses: u64,
    pub extras: u64,
}

/// Scores `events` against `script` played at `fps` (frame `i` at `(i - 1) / fps` s). An event
/// is a hit for the earliest performed gesture of its label that is not yet hit and whose span,
/// from its first frame to `max_delay` after its last, holds the event; any other event is
/// extra. Gestures labelled in `background` are not expected to fire: they count no hits or
/// misses, and an event during them is extra.
pub fn score(
    events: &[FiredEvent],
    script: &[Performed],
    fps: f64,
    background: &[String],
    max_delay: Duration,
) -> Score {
    let time = |frame: u64| (frame as f64 - 1.0) / fps;
    let expected: Vec<&Performed> = script
        .iter()
        .filter(|p| !background.contains(&p.label))
        .collect();
    let mut hit = vec![false; expected.len()];
    let mut by_label: BTreeMap<String, LabelScore> = BTreeMap::new();
    for p in &expected {
        slot(&mut by_label, &p.label).performed += 1;
    }
    let mut sorted: Vec<&FiredEvent> = events.iter().collect();
    sorted.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    for e in sorted {
        let found = expected.iter().enumerate().position(|(i, p)| {
            !hit[i]
                && p.label == e.label
                && e.t_s >= time(p.first)
                && e.t_s <= time(p.last) + max_delay.as_secs_f64()
        });
        let s = slot(&mut by_label, &e.label);
        match found {
            Some(i) => {
                hit[i] = true;
                s.hits += 1;
                s.delays_ms
                    .push(((e.t_s - time(expected[i].last)) * 1e4).round() / 10.0);
            }
            None => s.extras += 1,
        }
    }
    let mut total = Score::default();
    for (_, mut s) in by_label {
        s.misses = s.performed - s.hits;
        total.hits += s.hits;
        total.misses += s.misses;
        total.extras += s.extras;
        total.labels.push(s);
    }
    total
}

/// The score of `label`, made when first needed.
fn slot<'a>(m: &'a mut BTreeMap<String, LabelScore>, label: &str) -> &'a mut LabelScore {
    m.entry(label.to_string()).or_insert_with(|| LabelScore {
        label: label.to_string(),
        ..LabelScore::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t_s: f64, label: &str) -> FiredEvent {
        FiredEvent {
            t_s,
            label: label.into(),
            prob: 0.9,
        }
    }

    #[test]
    fn scripts_parse_and_bad_lines_are_named() {
        let s = parse_script("# c\n13 36 Swiping Left\n\n49 72 No gesture\n").unwrap();
        assert_eq!(
            s[0],
            Performed {
                first: 13,
                last: 36,
                label: "Swiping Left".into()
            }
        );
        assert_eq!(s.len(), 2);
        assert!(parse_script("1 x A").unwrap_err().contains("line 1"));
        assert!(parse_script("\n5 4 A").unwrap_err().contains("line 2"));
        assert!(parse_script("5").unwrap_err().contains("FIRST LAST LABEL"));
    }

    #[test]
    fn events_are_hits_misses_or_extras() {
        // At 10 fps: A spans 0.0..=1.0 s, B 2.0..=3.0 s, "No gesture" 4.0..=5.0 s.
        let script = parse_script("1 11 A\n21 31 B\n41 51 No gesture\n61 71 A").unwrap();
        let events = [
            ev(1.2, "A"), // hit, 200 ms after A's last frame
            ev(1.3, "A"), // a second event for the same gesture: extra
            ev(4.5, "C"), // during "No gesture": extra
            ev(6.0, "A"), // second A: hit, 1 s before its last frame
        ];
        let s = score(
            &events,
            &script,
            10.0,
            &["No gesture".into()],
            Duration::from_secs(2),
        );
        assert_eq!((s.hits, s.misses, s.extras), (2, 1, 2));
        let a = &s.labels[0];
        assert_eq!(
            (a.label.as_str(), a.performed, a.hits, a.extras),
            ("A", 2, 2, 1)
        );
        assert_eq!(a.delays_ms, vec![200.0, -1000.0]);
        let b = &s.labels[1];
        assert_eq!((b.performed, b.hits, b.misses), (1, 0, 1));
        assert_eq!(s.labels[2].label, "C");
        assert_eq!(s.labels[2].extras, 1);
    }

    #[test]
    fn events_per_hour_of_footage() {
        let p = Played {
            events: vec![ev(1.0, "A"), ev(2.0, "B")],
            predictions: 10,
            frames: 100,
            frames_undecodable: 0,
            footage_s: 60.0,
            wall_s: 1.0,
            peak: None,
            trace: Vec::new(),
        };
        assert_eq!(p.events_per_hour(), 120.0);
    }
}
