//! The event → action decision, kept free of side effects so it can be tested alone: whether
//! a gesture's action fires, given the armed switch and the per-binding cooldowns. The
//! arming actions switch the state here, and fire while disarmed (or nothing could arm).

use super::map::{Action, ActionMap};
use std::time::{Duration, Instant};

/// What an event leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The gesture has no action.
    Unmapped,
    /// Actions are disarmed.
    Disarmed(usize),
    /// The binding fired less than its cooldown ago.
    Cooldown { binding: usize, remaining: Duration },
    /// Do binding `.0`. For the arming actions the switch is already thrown.
    Fire(usize),
}

/// The armed switch and when each binding last fired. Starts disarmed unless told otherwise;
/// never saved, so a restart is always safe.
#[derive(Debug, Clone)]
pub struct Gate {
    armed: bool,
    last_fired: Vec<Option<Instant>>,
}

impl Gate {
    /// A gate for `map`'s bindings.
    pub fn new(map: &ActionMap, armed: bool) -> Gate {
        Gate {
            armed,
            last_fired: vec![None; map.bindings.len()],
        }
    }

    /// Whether actions fire.
    pub fn armed(&self) -> bool {
        self.armed
    }

    /// Throws the switch (the window's checkbox).
    pub fn set_armed(&mut self, armed: bool) {
        self.armed = armed;
    }

    /// Decides what the event `label` at `now` does, and records a firing.
    pub fn decide(&mut self, map: &ActionMap, label: &str, now: Instant) -> Decision {
        let Some(i) = map.find(label) else {
            return Decision::Unmapped;
        };
        let binding = &map.bindings[i];
        if !self.armed && !binding.action.is_arming() {
            return Decision::Disarmed(i);
        }
        if let Some(last) = self.last_fired[i] {
            let since = now.saturating_duration_since(last);
            if since < binding.cooldown {
                return Decision::Cooldown {
                    binding: i,
                    remaining: binding.cooldown - since,
                };
            }
        }
        self.last_fired[i] = Some(now);
        match binding.action {
            Action::Arm => self.armed = true,
            Action::Disarm => self.armed = false,
            Action::ToggleArm => self.armed = !self.armed,
            _ => {}
        }
        Decision::Fire(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ActionMap {
        let mut m = ActionMap::default();
        m.add_flags(&[
            "Swiping Left=key:Left".into(),
            "Swiping Right=print:next".into(),
            "Stop Sign=toggle-arm".into(),
            "Thumb Down=disarm".into(),
        ])
        .unwrap();
        m
    }

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn nothing_fires_until_armed_and_arming_gestures_always_do() {
        let m = map();
        let mut g = Gate::new(&m, false);
        let t = Instant::now();
        assert_eq!(g.decide(&m, "Swiping Left", t), Decision::Disarmed(0));
        assert_eq!(g.decide(&m, "Waving", t), Decision::Unmapped);
        assert_eq!(g.decide(&m, "Stop Sign", at(t, 10)), Decision::Fire(2));
        assert!(g.armed());
        assert_eq!(g.decide(&m, "swiping left", at(t, 20)), Decision::Fire(0));
        assert_eq!(g.decide(&m, "Thumb Down", at(t, 30)), Decision::Fire(3));
        assert!(!g.armed());
        assert_eq!(
            g.decide(&m, "Swiping Right", at(t, 40)),
            Decision::Disarmed(1)
        );
        g.set_armed(true);
        assert_eq!(g.decide(&m, "Swiping Right", at(t, 50)), Decision::Fire(1));
        // A disarmed event does not start the cooldown.
        assert_eq!(
            Gate::new(&m, true).decide(&m, "Swiping Right", t),
            Decision::Fire(1)
        );
    }

    #[test]
    fn cooldown_is_per_binding_and_counts_from_the_last_firing() {
        let m = map(); // cooldowns: the default, 1 s
        let mut g = Gate::new(&m, true);
        let t = Instant::now();
        assert_eq!(g.decide(&m, "Swiping Left", t), Decision::Fire(0));
        assert_eq!(g.decide(&m, "Swiping Right", at(t, 100)), Decision::Fire(1));
        assert_eq!(
            g.decide(&m, "Swiping Left", at(t, 400)),
            Decision::Cooldown {
                binding: 0,
                remaining: Duration::from_millis(600)
            }
        );
        // The refused event did not restart the clock.
        assert_eq!(g.decide(&m, "Swiping Left", at(t, 1000)), Decision::Fire(0));
        assert!(matches!(
            g.decide(&m, "Stop Sign", at(t, 1100)),
            Decision::Fire(2)
        ));
        assert!(matches!(
            g.decide(&m, "Stop Sign", at(t, 1200)),
            Decision::Cooldown { binding: 2, .. }
        ));
        assert!(!g.armed(), "the bounce did not toggle back");
    }
}
