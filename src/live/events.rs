//! From per-prediction probabilities to gesture events, with knobs a user can turn live:
//! exponential smoothing over time (a half-life in milliseconds, so it behaves the same at any
//! prediction rate), a confidence threshold (per class if wanted), hysteresis (after an event,
//! nothing fires until that class falls below a lower release level), background classes
//! ("No gesture", "Doing other things") that never fire, and hold times for classes that are
//! held poses (a stop sign fires once it has led for a while: a palm raised to start any
//! gesture looks like one until the gesture moves). A single swipe gives one event; a still
//! hand gives none.
//!
//! Two rules decide when an event fires ([`FireAt`]): the moment a class crosses its threshold,
//! or once the gesture is over, naming the class that led most of it ([`Segment`]). The second
//! is the hand-landmark model's default: a gesture's wind-up and way back look like other
//! gestures for a moment, and firing at the end halves the events they add (docs/handmodel.md,
//! "Firing at a gesture's end").

use std::time::Duration;

use super::segment::Segment;
use crate::model::config::Arch;

/// Labels treated as background when the user names none.
pub const DEFAULT_BACKGROUND: [&str; 2] = ["No gesture", "Doing other things"];

/// Hold times, in milliseconds, used when the user names none: Jester's stop sign is a palm
/// shown and held, and every other gesture starts with a palm raised to the camera, so it fires
/// only once it has led for this long (docs/handmodel.md, "Events"). Classes a model lacks are
/// ignored.
pub const DEFAULT_HOLDS: [(&str, f32); 1] = [("Stop Sign", 800.0)];

/// When a gesture's event fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireAt {
    /// The moment a class's smoothed probability reaches its threshold (and its hold). Fast,
    /// but a gesture's wind-up or way back may fire as another gesture.
    Threshold,
    /// Once the stretch during which a gesture class leads is over (or has lasted
    /// [`SEGMENT_MAX`]): the class that gathered the most probability over it fires, if it
    /// reached its threshold. About a second later than `threshold`, with half the extra
    /// events.
    End,
}

impl FireAt {
    /// The rule a model of `arch` uses unless the user names one: `end` for the landmark
    /// model, whose events it was measured on (docs/handmodel.md, "Firing at a gesture's
    /// end"), `threshold` for the image models, whose gestures (the drawn demo's among them)
    /// may follow each other with no rest between.
    pub fn for_arch(arch: Arch) -> FireAt {
        if arch.reads_landmarks() {
            FireAt::End
        } else {
            FireAt::Threshold
        }
    }

    /// The name the command line and the window use.
    pub fn name(self) -> &'static str {
        match self {
            FireAt::Threshold => "threshold",
            FireAt::End => "end",
        }
    }
}

impl std::str::FromStr for FireAt {
    type Err = crate::util::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "threshold" => Ok(FireAt::Threshold),
            "end" => Ok(FireAt::End),
            _ => Err(crate::util::UnknownName {
                what: "event rule",
                got: s.to_string(),
                expected: "threshold or end",
            }),
        }
    }
}

/// With [`FireAt::End`]: a gesture's stretch lasts while a gesture class leads with at least
/// this smoothed probability.
pub const SEGMENT_LEVEL: f32 = 0.5;

/// With [`FireAt::End`]: a stretch longer than this fires without waiting for its end, so an
/// event never comes more than this long after a gesture began to lead.
pub const SEGMENT_MAX: Duration = Duration::from_secs(3);

/// With [`FireAt::End`]: a stretch ending this soon after an event fires only if it gathered
/// at least as much probability as that event's class did. A gesture's way back is shorter and
/// less sure than the gesture.
pub const RETURN_WINDOW: Duration = Duration::from_millis(2500);

/// With [`FireAt::End`]: the most time one prediction counts for in a stretch's sums, so a
/// stalled camera's gap does not weigh as seconds of gesture (a 12 fps grid steps 83 ms; a
/// paced worker a few of those).
pub const MAX_STEP: Duration = Duration::from_millis(500);

/// The user's settings, by label.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSettings {
    /// When an event fires; `None`: the model's own rule ([`FireAt::for_arch`]).
    pub fire: Option<FireAt>,
    /// Smoothed probability a class must reach to fire.
    pub threshold: f32,
    /// Per-class thresholds overriding `threshold`: (label, probability).
    pub class_thresholds: Vec<(String, f32)>,
    /// After an event, its class must fall below this before anything fires again (with
    /// [`FireAt::Threshold`]; with [`FireAt::End`] the stretch's end does that job).
    pub release: f32,
    /// Half-life of the exponential moving average, in milliseconds (0: no smoothing).
    pub smoothing_ms: f32,
    /// Classes that never fire.
    pub background: Vec<String>,
    /// How long a class must lead, at or above its threshold, before it fires: (label,
    /// milliseconds). Labels the model lacks are ignored.
    pub holds: Vec<(String, f32)>,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            fire: None,
            threshold: 0.8,
            class_thresholds: Vec::new(),
            release: 0.4,
            smoothing_ms: 150.0,
            background: DEFAULT_BACKGROUND.iter().map(|s| s.to_string()).collect(),
            holds: default_holds(),
        }
    }
}

/// [`DEFAULT_HOLDS`] as settings.
pub fn default_holds() -> Vec<(String, f32)> {
    DEFAULT_HOLDS
        .iter()
        .map(|(l, ms)| (l.to_string(), *ms))
        .collect()
}

/// [`DEFAULT_HOLDS`] with the user's hold times on top: a label the user names takes the
/// user's time (0 turns a default off), others keep the default.
pub fn holds_with(user: &[(String, f32)]) -> Vec<(String, f32)> {
    let mut holds = default_holds();
    for (label, ms) in user {
        match holds
            .iter_mut()
            .find(|(l, _)| l.eq_ignore_ascii_case(label))
        {
            Some(h) => h.1 = *ms,
            None => holds.push((label.clone(), *ms)),
        }
    }
    holds
}

/// Settings that do not fit the model or make no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// A threshold or release level outside 0..=1; `name` says which.
    #[error("{name} must be between 0 and 1, got {value}")]
    NotAProbability { name: String, value: f32 },
    #[error("smoothing must be a half-life of 0 ms or more, got {0}")]
    Smoothing(f32),
    /// A hold time that is negative or not a number.
    #[error("the hold time of '{label}' must be 0 ms or more, got {ms}")]
    Hold { label: String, ms: f32 },
    /// A per-class threshold for a class the model does not have.
    #[error("unknown class '{label}' (the model's classes: {classes})")]
    UnknownClass { label: String, classes: String },
    #[error("clip rate must be positive, got {0}")]
    ClipRate(f32),
    /// The window the segments are sampled from is outside the range the pipeline supports.
    #[error("window must be {min} to {max} ms, got {got} ms")]
    Window { min: u64, max: u64, got: u128 },
    /// The rate a source may deliver frames at is not positive or absurdly high.
    #[error("source rate must be in (0, 1000] fps, got {0}")]
    SourceRate(f32),
    /// A landmark model whose hand tracker cannot be built (models it names are not built in).
    #[error("the model's hand tracker cannot be loaded: {0}")]
    HandTracker(String),
}

/// A gesture that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct GestureEvent {
    /// Source time of the newest frame of the window that fired it.
    pub t: Duration,
    pub class: usize,
    pub label: String,
    /// Smoothed probability when it fired (with [`FireAt::End`], the highest it reached in the
    /// gesture).
    pub prob: f32,
}

/// The settings resolved against a label list, plus the smoothing and hysteresis state.
#[derive(Debug, Clone)]
pub struct EventDetector {
    labels: Vec<String>,
    thresholds: Vec<f32>,
    release: Vec<f32>,
    background: Vec<bool>,
    half_life: f64,
    /// Seconds each class must lead before it fires.
    hold: Vec<f64>,
    /// The class leading at or above its threshold, and since when.
    leading: Option<(usize, Duration)>,
    smoothed: Vec<f32>,
    last_t: Option<Duration>,
    /// The class of the last event, until it falls below its release level.
    latched: Option<usize>,
    fire: FireAt,
    /// The model's rule, used when the settings name none.
    model_fire: FireAt,
    /// With [`FireAt::End`]: the stretch a gesture class leads now.
    segment: Option<Segment>,
    /// With [`FireAt::End`]: the last event's time and its class's mass then.
    last_event: Option<(Duration, f64)>,
    /// Time of the last prediction, trusted or not: how long the next one covers.
    last_step: Option<Duration>,
}

impl EventDetector {
    /// Resolves `settings` against `labels`; unknown labels and out-of-range levels are errors.
    /// `model_fire` is the rule used when the settings name none ([`FireAt::for_arch`]).
    pub fn new(
        settings: &EventSettings,
        labels: &[String],
        model_fire: FireAt,
    ) -> Result<Self, SettingsError> {
        let mut d = EventDetector {
            labels: labels.to_vec(),
            thresholds: Vec::new(),
            release: Vec::new(),
            background: Vec::new(),
            half_life: 0.0,
            hold: Vec::new(),
            leading: None,
            smoothed: Vec::new(),
            last_t: None,
            latched: None,
            fire: settings.fire.unwrap_or(model_fire),
            model_fire,
            segment: None,
            last_event: None,
            last_step: None,
        };
        d.apply(settings)?;
        Ok(d)
    }

    /// Changes the settings live, keeping the smoothed state.
    pub fn apply(&mut self, s: &EventSettings) -> Result<(), SettingsError> {
        let in_unit = |name: &str, value: f32| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(SettingsError::NotAProbability {
                    name: name.to_string(),
                    value,
                })
            }
        };
        in_unit("threshold", s.threshold)?;
        in_unit("release level", s.release)?;
        if !(s.smoothing_ms.is_finite() && s.smoothing_ms >= 0.0) {
            return Err(SettingsError::Smoothing(s.smoothing_ms));
        }
        let index_of = |label: &str| {
            self.labels
                .iter()
                .position(|l| l.eq_ignore_ascii_case(label))
                .ok_or_else(|| SettingsError::UnknownClass {
                    label: label.to_string(),
                    classes: self.labels.join(", "),
                })
        };
        let mut thresholds = vec![s.threshold; self.labels.len()];
        for (label, p) in &s.class_thresholds {
            in_unit(&format!("threshold of '{label}'"), *p)?;
            thresholds[index_of(label)?] = *p;
        }
        // Background labels the model does not have are fine: the defaults name Jester's.
        let background = self
            .labels
            .iter()
            .map(|l| s.background.iter().any(|b| b.eq_ignore_ascii_case(l)))
            .collect();
        let mut hold = vec![0.0; self.labels.len()];
        for (label, ms) in &s.holds {
            if !(ms.is_finite() && *ms >= 0.0) {
                return Err(SettingsError::Hold {
                    label: label.clone(),
                    ms: *ms,
                });
            }
            // Like background labels, holds may name classes this model lacks.
            if let Some(i) = self
                .labels
                .iter()
                .position(|l| l.eq_ignore_ascii_case(label))
            {
                hold[i] = f64::from(*ms) / 1000.0;
            }
        }
        self.hold = hold;
        self.release = thresholds.iter().map(|&t| s.release.min(t)).collect();
        self.thresholds = thresholds;
        self.background = background;
        self.half_life = s.smoothing_ms as f64 / 1000.0;
        let fire = s.fire.unwrap_or(self.model_fire);
        if self.fire != fire {
            self.fire = fire;
            self.segment = None;
            self.latched = None;
            self.leading = None;
        }
        Ok(())
    }

    /// Forgets the smoothed history (a new source starts).
    pub fn reset(&mut self) {
        self.smoothed.clear();
        self.last_t = None;
        self.latched = None;
        self.leading = None;
        self.segment = None;
        self.last_event = None;
        self.last_step = None;
    }

    /// The smoothed probabilities after the last update.
    pub fn smoothed(&self) -> &[f32] {
        &self.smoothed
    }

    /// The rule in force.
    pub fn fire(&self) -> FireAt {
        self.fire
    }

    /// Whether `class` never fires.
    pub fn is_background(&self, class: usize) -> bool {
        self.background.get(class).copied().unwrap_or(false)
    }

    /// Takes one prediction's probabilities at source time `t`; returns the event it fires.
    pub fn update(&mut self, probs: &[f32], t: Duration) -> Option<GestureEvent> {
        self.update_with(probs, t, true)
    }

    /// [`update`](Self::update), where `may_fire == false` marks a prediction that cannot be
    /// trusted (a window not yet filled): it is shown as it is, fires nothing, and leaves nothing
    /// in the average, which starts afresh with the first trusted prediction.
    pub fn update_with(
        &mut self,
        probs: &[f32],
        t: Duration,
        may_fire: bool,
    ) -> Option<GestureEvent> {
        if self.last_step.is_some_and(|last| t < last) {
            // Time went back (another source's clock): nothing before it still applies.
            self.segment = None;
            self.last_event = None;
        }
        // A stalled camera leaves a gap; one prediction stands for at most MAX_STEP of a stretch.
        let step = self
            .last_step
            .map_or(0.0, |last| t.saturating_sub(last).as_secs_f64())
            .min(MAX_STEP.as_secs_f64());
        self.last_step = Some(t);
        if !may_fire {
            self.smoothed = probs.to_vec();
            self.last_t = None;
            self.leading = None;
            self.segment = None;
            return None;
        }
        let dt = self.last_t.map(|last| t.saturating_sub(last).as_secs_f64());
        self.last_t = Some(t);
        match dt {
            Some(dt) if self.smoothed.len() == probs.len() && self.half_life > 0.0 => {
                // Weight of the past after dt: halves every half-life.
                let keep = 0.5f64.powf(dt / self.half_life) as f32;
                for (s, &p) in self.smoothed.iter_mut().zip(probs) {
                    *s = keep * *s + (1.0 - keep) * p;
                }
            }
            _ => self.smoothed = probs.to_vec(),
        }
        match self.fire {
            FireAt::Threshold => self.fire_at_threshold(t),
            FireAt::End => self.fire_at_end(t, step),
        }
    }

    /// The leading class and its smoothed probability.
    fn top(&self) -> Option<(usize, f32)> {
        self.smoothed
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn fire_at_threshold(&mut self, t: Duration) -> Option<GestureEvent> {
        if let Some(c) = self.latched {
            if self.smoothed[c] < self.release[c] {
                self.latched = None;
            } else {
                self.leading = None;
                return None;
            }
        }
        let (class, prob) = self.top()?;
        if self.background[class] || prob < self.thresholds[class] {
            self.leading = None;
            return None;
        }
        let since = match self.leading {
            Some((c, since)) if c == class => since,
            _ => {
                self.leading = Some((class, t));
                t
            }
        };
        if t.saturating_sub(since).as_secs_f64() + 1e-9 < self.hold[class] {
            return None;
        }
        self.leading = None;
        self.latched = Some(class);
        Some(self.event(t, class, prob))
    }

    /// [`FireAt::End`]: `step` is how many seconds this prediction covers.
    fn fire_at_end(&mut self, t: Duration, step: f64) -> Option<GestureEvent> {
        let (top, prob) = self.top()?;
        let leads = !self.background[top] && prob >= SEGMENT_LEVEL;
        if !leads {
            // The stretch is over: its event, if it has not given one yet.
            return match self.segment.take() {
                Some(seg) if !seg.fired => self.segment_event(&seg, t),
                _ => None,
            };
        }
        let mut seg = self
            .segment
            .take()
            .unwrap_or_else(|| Segment::new(t, self.labels.len()));
        seg.add(
            &self.smoothed,
            step,
            top,
            &self.thresholds,
            &self.background,
        );
        let mut event = None;
        if !seg.fired && t.saturating_sub(seg.start) >= SEGMENT_MAX {
            event = self.segment_event(&seg, t);
            seg.fired = event.is_some();
        }
        self.segment = Some(seg);
        event
    }

    /// The event a stretch gives at `t`, if its winner qualifies and is not a way back.
    fn segment_event(&mut self, seg: &Segment, t: Duration) -> Option<GestureEvent> {
        let class = seg.winner(&self.hold);
        if !seg.qualifies(class, &self.thresholds, &self.hold) {
            return None;
        }
        let mass = seg.mass[class];
        if let Some((last, last_mass)) = self.last_event {
            if t.saturating_sub(last) < RETURN_WINDOW && mass < last_mass {
                return None;
            }
        }
        self.last_event = Some((t, mass));
        Some(self.event(t, class, seg.peak[class]))
    }

    fn event(&self, t: Duration, class: usize, prob: f32) -> GestureEvent {
        GestureEvent {
            t,
            class,
            label: self.labels[class].clone(),
            prob,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["Swiping Left", "Swiping Right", "No gesture"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn unsmoothed() -> EventDetector {
        let settings = EventSettings {
            fire: Some(FireAt::Threshold),
            smoothing_ms: 0.0,
            ..Default::default()
        };
        EventDetector::new(&settings, &labels(), FireAt::Threshold).unwrap()
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Runs a sequence of (left, right, none) probabilities at 40 ms steps; returns the events.
    fn run(d: &mut EventDetector, seq: &[[f32; 3]]) -> Vec<String> {
        seq.iter()
            .enumerate()
            .filter_map(|(i, p)| d.update(p, ms(40 * i as u64)).map(|e| e.label))
            .collect()
    }

    #[test]
    fn one_swipe_fires_once_despite_wobble() {
        let mut d = unsmoothed();
        let swipe = [
            [0.1, 0.1, 0.8],
            [0.85, 0.1, 0.05],
            [0.6, 0.1, 0.3], // dips below the threshold, not below release
            [0.9, 0.05, 0.05],
            [0.3, 0.1, 0.6], // released
            [0.1, 0.1, 0.8],
        ];
        assert_eq!(run(&mut d, &swipe), vec!["Swiping Left"]);
        // Once released, the next swipe fires again.
        assert_eq!(run(&mut d, &swipe[1..2]), vec!["Swiping Left"]);
    }

    #[test]
    fn an_untrusted_window_never_fires_nor_stays_in_the_average() {
        let mut d = unsmoothed();
        let sure = [0.95, 0.0, 0.05];
        assert!(d.update_with(&sure, ms(0), false).is_none());
        assert_eq!(d.smoothed(), &sure);
        // Nothing was latched, so the first full window fires.
        let e = d.update_with(&sure, ms(40), true).expect("an event");
        assert_eq!(e.label, "Swiping Left");

        let settings = EventSettings {
            fire: Some(FireAt::Threshold),
            smoothing_ms: 500.0,
            ..Default::default()
        };
        let mut d = EventDetector::new(&settings, &labels(), FireAt::Threshold).unwrap();
        for i in 0..10 {
            d.update_with(&[0.0, 1.0, 0.0], ms(40 * i), false);
        }
        let e = d.update_with(&sure, ms(400), true).expect("an event");
        assert_eq!(
            (e.label.as_str(), d.smoothed()),
            ("Swiping Left", &sure[..])
        );
    }

    #[test]
    fn still_hand_and_background_never_fire() {
        let mut d =
            EventDetector::new(&EventSettings::default(), &labels(), FireAt::Threshold).unwrap();
        let still = vec![[0.05, 0.05, 0.9]; 50];
        assert!(run(&mut d, &still).is_empty());
        let unsure = vec![[0.45, 0.4, 0.15]; 50];
        assert!(run(&mut d, &unsure).is_empty());
    }

    #[test]
    fn smoothing_suppresses_single_spikes_and_is_rate_independent() {
        let settings = EventSettings {
            smoothing_ms: 200.0,
            ..Default::default()
        };
        let mut d = EventDetector::new(&settings, &labels(), FireAt::Threshold).unwrap();
        let mut spike = vec![[0.0, 0.0, 1.0]; 5];
        spike.push([1.0, 0.0, 0.0]);
        spike.extend(vec![[0.0, 0.0, 1.0]; 5]);
        assert!(run(&mut d, &spike).is_empty());
        // After one half-life of steady input the average is half way there, at any step size.
        for step in [10u64, 50] {
            let mut d = EventDetector::new(&settings, &labels(), FireAt::Threshold).unwrap();
            d.update(&[0.0, 0.0, 1.0], ms(0));
            let mut t = 0;
            while t < 200 {
                t += step;
                d.update(&[1.0, 0.0, 0.0], ms(t));
            }
            assert!((d.smoothed()[0] - 0.5).abs() < 1e-4, "{:?}", d.smoothed());
        }
    }

    #[test]
    fn a_held_class_fires_only_after_leading_for_its_hold_time() {
        let settings = EventSettings {
            fire: Some(FireAt::Threshold),
            smoothing_ms: 0.0,
            holds: holds_with(&[("Swiping Right".into(), 100.0)]),
            ..Default::default()
        };
        let mut d = EventDetector::new(&settings, &labels(), FireAt::Threshold).unwrap();
        // Leads for 80 ms (three steps of 40 ms), then the hand moves on: nothing.
        let brief = [
            [0.1, 0.85, 0.05],
            [0.1, 0.9, 0.0],
            [0.1, 0.9, 0.0],
            [0.2, 0.1, 0.7],
        ];
        assert!(run(&mut d, &brief).is_empty());
        // Leads for 120 ms: one event, at the step where the hold is reached.
        let mut d = EventDetector::new(&settings, &labels(), FireAt::Threshold).unwrap();
        let mut held = brief;
        held[3] = [0.1, 0.9, 0.0];
        let fired: Vec<Option<String>> = held
            .iter()
            .enumerate()
            .map(|(i, p)| d.update(p, ms(40 * i as u64)).map(|e| e.label))
            .collect();
        assert_eq!(fired, [None, None, None, Some("Swiping Right".into())]);
        // A class without a hold fires at once; the default stop-sign hold names a class these
        // labels lack, which is fine.
        assert_eq!(
            run(&mut d, &[[0.1, 0.1, 0.8], [0.9, 0.05, 0.05]]),
            ["Swiping Left"]
        );
        let bad = EventSettings {
            holds: vec![("Swiping Left".into(), -1.0)],
            ..Default::default()
        };
        let err = EventDetector::new(&bad, &labels(), FireAt::Threshold).unwrap_err();
        assert!(err.to_string().contains("'Swiping Left'"), "{err}");
        let nan = EventSettings {
            holds: vec![("Swiping Left".into(), f32::NAN)],
            ..Default::default()
        };
        assert!(EventDetector::new(&nan, &labels(), FireAt::Threshold).is_err());
    }

    #[test]
    fn user_holds_override_the_defaults_by_label() {
        let h = holds_with(&[("stop sign".into(), 0.0), ("Thumb Up".into(), 300.0)]);
        assert_eq!(
            h,
            vec![
                ("Stop Sign".to_string(), 0.0),
                ("Thumb Up".to_string(), 300.0)
            ]
        );
        assert_eq!(holds_with(&[]), default_holds());
    }

    #[test]
    fn per_class_thresholds_and_validation() {
        let settings = EventSettings {
            fire: Some(FireAt::Threshold),
            smoothing_ms: 0.0,
            class_thresholds: vec![("swiping right".into(), 0.9)],
            ..Default::default()
        };
        let mut d = EventDetector::new(&settings, &labels(), FireAt::Threshold).unwrap();
        assert!(run(&mut d, &[[0.1, 0.8, 0.1]]).is_empty());
        assert_eq!(run(&mut d, &[[0.05, 0.95, 0.0]]), vec!["Swiping Right"]);
        let bad = EventSettings {
            class_thresholds: vec![("Waving".into(), 0.5)],
            ..Default::default()
        };
        let err = EventDetector::new(&bad, &labels(), FireAt::Threshold).unwrap_err();
        assert!(err.to_string().contains("unknown class 'Waving'"), "{err}");
        let bad = EventSettings {
            threshold: 1.5,
            ..Default::default()
        };
        assert!(EventDetector::new(&bad, &labels(), FireAt::Threshold).is_err());
    }

    /// End-rule detector without smoothing over (left, right, none) labels plus a held class.
    fn at_end(holds: Vec<(String, f32)>) -> EventDetector {
        let settings = EventSettings {
            smoothing_ms: 0.0,
            holds,
            ..Default::default()
        };
        // The settings name no rule: the model's, here `end`.
        let d = EventDetector::new(&settings, &labels(), FireAt::End).unwrap();
        assert_eq!(d.fire(), FireAt::End);
        d
    }

    /// Runs (left, right, none) rows at 100 ms steps from `t0_ms`; returns (ms, label).
    fn run_at(d: &mut EventDetector, t0_ms: u64, seq: &[[f32; 3]]) -> Vec<(u64, String)> {
        seq.iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let t = t0_ms + 100 * i as u64;
                d.update(p, ms(t)).map(|e| (t, e.label))
            })
            .collect()
    }

    /// One event, `label` at `ms`.
    fn one(ms: u64, label: &str) -> Vec<(u64, String)> {
        vec![(ms, label.to_string())]
    }

    const LEFT: [f32; 3] = [0.9, 0.05, 0.05];
    const RIGHT: [f32; 3] = [0.05, 0.9, 0.05];
    const NONE: [f32; 3] = [0.05, 0.05, 0.9];

    #[test]
    fn at_the_end_a_wind_up_that_looks_like_another_gesture_does_not_fire() {
        let mut d = at_end(Vec::new());
        // Two steps that look like a swipe right, then six of a swipe left, then rest.
        let mut seq = vec![NONE, RIGHT, RIGHT];
        seq.extend([LEFT; 6]);
        seq.extend([NONE; 3]);
        // One event, the swipe left, at the first step of rest.
        assert_eq!(run_at(&mut d, 0, &seq), one(900, "Swiping Left"));
    }

    #[test]
    fn at_the_end_a_way_back_right_after_a_gesture_does_not_fire() {
        let mut d = at_end(Vec::new());
        let mut seq = vec![NONE];
        seq.extend([LEFT; 8]);
        seq.push(NONE);
        // The hand goes back: three steps that look like a swipe right, less than the swipe.
        seq.extend([RIGHT; 3]);
        seq.extend([NONE; 5]);
        assert_eq!(run_at(&mut d, 0, &seq), one(900, "Swiping Left"));
        // The same three steps well after the last event are a gesture of their own.
        let mut later = vec![RIGHT; 3];
        later.push(NONE);
        assert_eq!(run_at(&mut d, 5000, &later), one(5300, "Swiping Right"));
        // A stretch that never reaches the threshold gives nothing.
        let unsure = [[0.7, 0.1, 0.2], [0.7, 0.1, 0.2], NONE];
        assert!(run_at(&mut d, 9000, &unsure).is_empty());
    }

    #[test]
    fn at_the_end_a_long_stretch_fires_once_after_the_longest_wait() {
        let mut d = at_end(Vec::new());
        let seq = vec![LEFT; 50];
        let steps = SEGMENT_MAX.as_millis() as u64 / 100;
        assert_eq!(run_at(&mut d, 0, &seq), one(100 * steps, "Swiping Left"));
        // Its end gives no second event.
        assert!(run_at(&mut d, 5000, &[NONE, NONE]).is_empty());
    }

    #[test]
    fn at_the_end_a_palm_raised_before_a_swipe_is_not_a_stop_sign() {
        // "Swiping Right" plays the held class here: it needs 500 ms above its threshold.
        let mut d = at_end(vec![("Swiping Right".into(), 500.0)]);
        let mut seq = vec![NONE];
        seq.extend([RIGHT; 4]); // 400 ms: not held long enough, yet more mass than the swipe
        seq.extend([LEFT; 3]);
        seq.push(NONE);
        assert_eq!(run_at(&mut d, 0, &seq), one(800, "Swiping Left"));
        // Held for 600 ms, it fires.
        let mut held = vec![RIGHT; 6];
        held.push(NONE);
        assert_eq!(run_at(&mut d, 5000, &held), one(5600, "Swiping Right"));
    }

    #[test]
    fn at_the_end_a_stalled_or_restarted_clock_does_not_distort_the_sums() {
        let mut d = at_end(Vec::new());
        // A swipe left whose camera stalls for 10 s: the stretch is over its 3 s limit and fires.
        assert_eq!(run_at(&mut d, 0, &[NONE, LEFT]), []);
        assert_eq!(run_at(&mut d, 10_100, &[LEFT]), one(10_100, "Swiping Left"));
        // A swipe right right after it: its 0.6 s outweigh the left's 0.1 s plus at most
        // MAX_STEP, so it is not taken for a way back.
        let mut right = vec![NONE];
        right.extend([RIGHT; 7]);
        right.push(NONE);
        assert_eq!(run_at(&mut d, 10_200, &right), one(11_000, "Swiping Right"));
        // A clock that starts again from zero: the last event's time no longer holds back a
        // weaker stretch (without the reset it would, until 13.5 s came round again).
        let mut weak = vec![NONE, RIGHT, NONE];
        assert_eq!(run_at(&mut d, 0, &weak), one(200, "Swiping Right"));
        weak[1] = [0.85, 0.1, 0.05];
        assert!(
            run_at(&mut d, 1000, &weak).is_empty(),
            "a way back within 2.5 s"
        );
    }

    #[test]
    fn fire_rules_by_name() {
        assert_eq!("END".parse::<FireAt>().unwrap(), FireAt::End);
        assert_eq!("threshold".parse::<FireAt>().unwrap(), FireAt::Threshold);
        let err = "soon".parse::<FireAt>().unwrap_err().to_string();
        assert!(
            err.contains("soon") && err.contains("threshold or end"),
            "{err}"
        );
        for f in [FireAt::End, FireAt::Threshold] {
            assert_eq!(f.name().parse::<FireAt>().unwrap(), f);
        }
        assert_eq!(FireAt::for_arch(Arch::HandLandmarks), FireAt::End);
        for arch in Arch::ALL {
            assert_eq!(FireAt::for_arch(arch), FireAt::Threshold);
        }
        // Settings that name a rule win over the model's; naming none goes back to it.
        let mut d = at_end(Vec::new());
        let threshold = EventSettings {
            fire: Some(FireAt::Threshold),
            ..Default::default()
        };
        d.apply(&threshold).unwrap();
        assert_eq!(d.fire(), FireAt::Threshold);
        d.apply(&EventSettings::default()).unwrap();
        assert_eq!(d.fire(), FireAt::End);
    }
}
