//! From per-prediction probabilities to gesture events, with knobs a user can turn live:
//! exponential smoothing over time (a half-life in milliseconds, so it behaves the same at any
//! prediction rate), a confidence threshold (per class if wanted), hysteresis (after an event,
//! nothing fires until that class falls below a lower release level), background classes
//! ("No gesture", "Doing other things") that never fire, and hold times for classes that are
//! held poses (a stop sign fires once it has led for a while: a palm raised to start any
//! gesture looks like one until the gesture moves). A single swipe gives one event; a still
//! hand gives none.

use std::time::Duration;

/// Labels treated as background when the user names none.
pub const DEFAULT_BACKGROUND: [&str; 2] = ["No gesture", "Doing other things"];

/// Hold times, in milliseconds, used when the user names none: Jester's stop sign is a palm
/// shown and held, and every other gesture starts with a palm raised to the camera, so it fires
/// only once it has led for this long (docs/handmodel.md, "Events"). Classes a model lacks are
/// ignored.
pub const DEFAULT_HOLDS: [(&str, f32); 1] = [("Stop Sign", 800.0)];

/// The user's settings, by label.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSettings {
    /// Smoothed probability a class must reach to fire.
    pub threshold: f32,
    /// Per-class thresholds overriding `threshold`: (label, probability).
    pub class_thresholds: Vec<(String, f32)>,
    /// After an event, its class must fall below this before anything fires again.
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
    /// Smoothed probability when it fired.
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
}

impl EventDetector {
    /// Resolves `settings` against `labels`; unknown labels and out-of-range levels are errors.
    pub fn new(settings: &EventSettings, labels: &[String]) -> Result<Self, SettingsError> {
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
        Ok(())
    }

    /// Forgets the smoothed history (a new source starts).
    pub fn reset(&mut self) {
        self.smoothed.clear();
        self.last_t = None;
        self.latched = None;
        self.leading = None;
    }

    /// The smoothed probabilities after the last update.
    pub fn smoothed(&self) -> &[f32] {
        &self.smoothed
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
        if !may_fire {
            self.smoothed = probs.to_vec();
            self.last_t = None;
            self.leading = None;
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
        if let Some(c) = self.latched {
            if self.smoothed[c] < self.release[c] {
                self.latched = None;
            } else {
                self.leading = None;
                return None;
            }
        }
        let (class, &prob) = self
            .smoothed
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?;
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
        Some(GestureEvent {
            t,
            class,
            label: self.labels[class].clone(),
            prob,
        })
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
            smoothing_ms: 0.0,
            ..Default::default()
        };
        EventDetector::new(&settings, &labels()).unwrap()
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
            smoothing_ms: 500.0,
            ..Default::default()
        };
        let mut d = EventDetector::new(&settings, &labels()).unwrap();
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
        let mut d = EventDetector::new(&EventSettings::default(), &labels()).unwrap();
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
        let mut d = EventDetector::new(&settings, &labels()).unwrap();
        let mut spike = vec![[0.0, 0.0, 1.0]; 5];
        spike.push([1.0, 0.0, 0.0]);
        spike.extend(vec![[0.0, 0.0, 1.0]; 5]);
        assert!(run(&mut d, &spike).is_empty());
        // After one half-life of steady input the average is half way there, at any step size.
        for step in [10u64, 50] {
            let mut d = EventDetector::new(&settings, &labels()).unwrap();
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
            smoothing_ms: 0.0,
            holds: holds_with(&[("Swiping Right".into(), 100.0)]),
            ..Default::default()
        };
        let mut d = EventDetector::new(&settings, &labels()).unwrap();
        // Leads for 80 ms (three steps of 40 ms), then the hand moves on: nothing.
        let brief = [
            [0.1, 0.85, 0.05],
            [0.1, 0.9, 0.0],
            [0.1, 0.9, 0.0],
            [0.2, 0.1, 0.7],
        ];
        assert!(run(&mut d, &brief).is_empty());
        // Leads for 120 ms: one event, at the step where the hold is reached.
        let mut d = EventDetector::new(&settings, &labels()).unwrap();
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
        let err = EventDetector::new(&bad, &labels()).unwrap_err();
        assert!(err.to_string().contains("'Swiping Left'"), "{err}");
        let nan = EventSettings {
            holds: vec![("Swiping Left".into(), f32::NAN)],
            ..Default::default()
        };
        assert!(EventDetector::new(&nan, &labels()).is_err());
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
            smoothing_ms: 0.0,
            class_thresholds: vec![("swiping right".into(), 0.9)],
            ..Default::default()
        };
        let mut d = EventDetector::new(&settings, &labels()).unwrap();
        assert!(run(&mut d, &[[0.1, 0.8, 0.1]]).is_empty());
        assert_eq!(run(&mut d, &[[0.05, 0.95, 0.0]]), vec!["Swiping Right"]);
        let bad = EventSettings {
            class_thresholds: vec![("Waving".into(), 0.5)],
            ..Default::default()
        };
        let err = EventDetector::new(&bad, &labels()).unwrap_err();
        assert!(err.to_string().contains("unknown class 'Waving'"), "{err}");
        let bad = EventSettings {
            threshold: 1.5,
            ..Default::default()
        };
        assert!(EventDetector::new(&bad, &labels()).is_err());
    }
}
