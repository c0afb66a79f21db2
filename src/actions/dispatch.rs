//! The dispatcher: takes gesture events (never raw predictions), asks the [`Gate`] whether
//! each one's action fires, does it (or hands it to its thread) and says what it did. Keys and
//! programs finish later and are reported as [`Completion`]s, which the caller collects with
//! [`Dispatcher::poll`] and, at the end of a run, [`Dispatcher::wait_pending`].

use super::exec::{self, ExecJob};
use super::gate::{Decision, Gate};
use super::inject::{Injector, KeyJob};
use super::map::{Action, ActionMap};
use super::report::{Completion, Report, Skip, Status};
use super::Notify;
use crossbeam_channel::{Receiver, Sender};
use std::time::{Duration, Instant};

/// Extra time a pending action gets beyond its timeout before a run stops waiting for it.
const WAIT_SLACK: Duration = Duration::from_secs(2);

/// Runs the action map.
pub struct Dispatcher {
    map: ActionMap,
    gate: Gate,
    /// `Err(why)` when keys cannot be sent in this session; `Ok(None)` when no key is mapped.
    injector: Result<Option<Injector>, String>,
    done_tx: Sender<Completion>,
    done_rx: Receiver<Completion>,
    notify: Option<Notify>,
    /// Started actions whose completion has not been collected: id → latest end.
    pending: Vec<(u64, Instant)>,
    next_id: u64,
}

impl Dispatcher {
    /// A dispatcher for `map` (already [`ActionMap::resolve`]d), armed or not. Connects for
    /// key injection only when a key is mapped. `notify` is called when a completion arrives
    /// (the window's repaint).
    pub fn new(map: ActionMap, armed: bool, notify: Option<Notify>) -> Dispatcher {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let injector = if map.has_keys() {
            Injector::start(done_tx.clone(), notify.clone()).map(Some)
        } else {
            Ok(None)
        };
        Dispatcher {
            gate: Gate::new(&map, armed),
            map,
            injector,
            done_tx,
            done_rx,
            notify,
            pending: Vec::new(),
            next_id: 1,
        }
    }

    /// The map it runs.
    pub fn map(&self) -> &ActionMap {
        &self.map
    }

    /// Checks the map against a new model's `labels`; on failure the map stays as it was
    /// (its unknown gestures then never come).
    pub fn relabel(&mut self, labels: &[String]) -> Result<(), super::ActionError> {
        let mut map = self.map.clone();
        map.resolve(labels)?;
        self.map = map;
        Ok(())
    }

    /// Whether actions fire.
    pub fn armed(&self) -> bool {
        self.gate.armed()
    }

    /// Arms or disarms (the window's switch).
    pub fn set_armed(&mut self, armed: bool) {
        self.gate.set_armed(armed);
    }

    /// Why keys cannot be sent, when a key is mapped and they cannot: to be said once, at start.
    pub fn injection_problem(&self) -> Option<&str> {
        self.injector.as_ref().err().map(String::as_str)
    }

    /// Acts on one gesture event at `now`.
    pub fn on_event(&mut self, label: &str, now: Instant) -> Report {
        let decision = self.gate.decide(&self.map, label, now);
        let mut report = Report {
            label: label.to_string(),
            action: None,
            status: Status::Done,
            detail: String::new(),
            print: None,
        };
        let i = match decision {
            Decision::Unmapped => {
                report.status = Status::Skipped(Skip::Unmapped);
                report.detail = "no action for this gesture".into();
                return report;
            }
            Decision::Disarmed(i) => {
                report.action = Some(self.map.bindings[i].action.to_string());
                report.status = Status::Skipped(Skip::Disarmed);
                report.detail = "skipped: actions are disarmed".into();
                return report;
            }
            Decision::Cooldown { binding, remaining } => {
                report.action = Some(self.map.bindings[binding].action.to_string());
                report.status = Status::Skipped(Skip::Cooldown);
                report.detail = format!("skipped: cooling down, {} ms left", remaining.as_millis());
                return report;
            }
            Decision::Fire(i) => i,
        };
        let binding = self.map.bindings[i].clone();
        let action_text = binding.action.to_string();
        report.action = Some(action_text.clone());
        let id = self.next_id;
        match &binding.action {
            Action::Key(chord) => match &self.injector {
                Ok(Some(inj)) => {
                    let job = KeyJob {
                        id,
                        label: label.to_string(),
                        action: action_text,
                        chord: chord.clone(),
                    };
                    if inj.send(job) {
                        self.started(&mut report, id, now + WAIT_SLACK);
                        report.detail = format!("pressing {chord}");
                    } else {
                        report.status = Status::Skipped(Skip::InjectionUnavailable);
                        report.detail = "skipped: the key-injection thread has ended".into();
                    }
                }
                // `Ok(None)` cannot happen: an injector is started whenever a key is mapped.
                Ok(None) | Err(_) => {
                    report.status = Status::Skipped(Skip::InjectionUnavailable);
                    report.detail = "skipped: keys cannot be sent in this session".into();
                }
            },
            Action::Exec { program, args } => {
                let job = ExecJob {
                    id,
                    label: label.to_string(),
                    action: action_text,
                    program: program.clone(),
                    args: args.clone(),
                    timeout: binding.timeout,
                };
                let ends = now + binding.timeout + WAIT_SLACK;
                exec::start(job, self.done_tx.clone(), self.notify.clone());
                self.started(&mut report, id, ends);
                report.detail = format!("started {program}");
            }
            Action::Print(text) => {
                report.print = Some(text.clone());
                report.detail = format!("printed \"{text}\"");
            }
            Action::Arm | Action::Disarm | Action::ToggleArm => {
                report.detail = if self.gate.armed() {
                    "armed"
                } else {
                    "disarmed"
                }
                .into();
            }
        }
        report
    }

    fn started(&mut self, report: &mut Report, id: u64, ends: Instant) {
        self.next_id += 1;
        self.pending.push((id, ends));
        report.status = Status::Started { id };
    }

    /// The completions that have arrived, without waiting.
    pub fn poll(&mut self) -> Vec<Completion> {
        let done: Vec<Completion> = self.done_rx.try_iter().collect();
        self.pending
            .retain(|(id, _)| !done.iter().any(|c| c.id == *id));
        done
    }

    /// The channel completions arrive on (for a `select!`); pass what it gives to
    /// [`Dispatcher::collected`].
    pub fn completions(&self) -> &Receiver<Completion> {
        &self.done_rx
    }

    /// Marks a completion taken from [`Dispatcher::completions`] as collected.
    pub fn collected(&mut self, c: &Completion) {
        self.pending.retain(|(id, _)| *id != c.id);
    }

    /// How many started actions have not reported yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Waits until every started action has reported, each at most until its timeout (and a
    /// little slack); gives each completion to `each` as it arrives. Returns the ids of those
    /// that never reported.
    pub fn wait_pending(&mut self, mut each: impl FnMut(&Completion)) -> Vec<u64> {
        while let Some(last) = self.pending.iter().map(|&(_, end)| end).max() {
            let left = last.saturating_duration_since(Instant::now());
            match self.done_rx.recv_timeout(left) {
                Ok(c) => {
                    self.collected(&c);
                    each(&c);
                }
                Err(_) => break,
            }
        }
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn dispatcher(flags: &[&str], armed: bool) -> Dispatcher {
        let mut map = ActionMap::default();
        map.add_flags(&flags.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        Dispatcher::new(map, armed, None)
    }

    #[test]
    fn reports_what_each_event_did() {
        let mut d = dispatcher(
            &["A=print:hello", "B=exec:sh -c 'exit 4'", "C=toggle-arm"],
            false,
        );
        let t = Instant::now();
        let r = d.on_event("A", t);
        assert_eq!(r.status, Status::Skipped(Skip::Disarmed));
        assert_eq!(r.print, None);
        assert_eq!(r.to_json()["reason"], "disarmed");
        assert_eq!(d.on_event("Z", t).status, Status::Skipped(Skip::Unmapped));
        let r = d.on_event("C", t);
        assert_eq!(
            (r.status.clone(), r.detail.as_str()),
            (Status::Done, "armed")
        );
        let r = d.on_event("A", t);
        assert_eq!(r.print.as_deref(), Some("hello"));
        let r = d.on_event("B", t);
        assert_eq!(r.status, Status::Started { id: 1 });
        assert_eq!(r.to_json()["id"], 1);
        assert_eq!(d.pending(), 1);
        let mut seen = Vec::new();
        assert!(d.wait_pending(|c| seen.push(c.clone())).is_empty());
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].exit_code, Some(4));
        assert_eq!(seen[0].to_json()["status"], "failed");
        assert_eq!(d.on_event("A", t).status, Status::Skipped(Skip::Cooldown));
    }
}
