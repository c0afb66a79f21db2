//! `key:` actions: chords sent to the focused window through enigo (XTest on X11, SendInput on
//! Windows, CGEvent on macOS), from a thread of its own that owns the connection, so that a
//! slow or vanished display server stalls neither the window nor the inference worker.

use super::chord::{Chord, KeyName, Modifier, Named};
use super::report::Completion;
use super::Notify;
use crossbeam_channel::{Receiver, Sender};
use enigo::{Direction, Enigo, Key, Keyboard, Settings};
use std::time::{Duration, Instant};

/// How long the display server has to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One chord to press.
#[derive(Debug, Clone)]
pub struct KeyJob {
    pub id: u64,
    pub label: String,
    pub action: String,
    pub chord: Chord,
}

/// The injection thread. Dropping it ends the thread (after the chords already sent).
pub struct Injector {
    jobs: Sender<KeyJob>,
}

impl Injector {
    /// Connects to the desktop session; `Err` says, in one sentence, why keys cannot be sent
    /// here. Each chord's [`Completion`] goes to `done`.
    pub fn start(done: Sender<Completion>, notify: Option<Notify>) -> Result<Injector, String> {
        precheck()?;
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let (jobs, jobs_rx) = crossbeam_channel::unbounded::<KeyJob>();
        std::thread::Builder::new()
            .name("key-injection".into())
            .spawn(move || {
                let enigo = Enigo::new(&Settings::default());
                let mut enigo = match enigo {
                    Ok(e) => {
                        let _ = ready_tx.send(Ok(()));
                        e
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                serve(&mut enigo, &jobs_rx, &done, notify.as_ref());
            })
            .map_err(|e| format!("cannot start the key-injection thread: {e}"))?;
        match ready_rx.recv_timeout(CONNECT_TIMEOUT) {
            Ok(Ok(())) => Ok(Injector { jobs }),
            Ok(Err(e)) => Err(format!("cannot send keys: {e}")),
            Err(_) => Err(format!(
                "cannot send keys: the display server did not answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            )),
        }
    }

    /// Queues a chord; `false` if the thread is gone.
    pub fn send(&self, job: KeyJob) -> bool {
        self.jobs.send(job).is_ok()
    }
}

fn serve(
    enigo: &mut Enigo,
    jobs: &Receiver<KeyJob>,
    done: &Sender<Completion>,
    notify: Option<&Notify>,
) {
    for job in jobs.iter() {
        let start = Instant::now();
        let result = press(enigo, &job.chord);
        let _ = done.send(Completion {
            id: job.id,
            label: job.label,
            action: job.action,
            ok: result.is_ok(),
            detail: match result {
                Ok(()) => format!("pressed {}", job.chord),
                Err(e) => format!("cannot press {}: {e}", job.chord),
            },
            exit_code: None,
            output: String::new(),
            elapsed: start.elapsed(),
        });
        if let Some(n) = notify {
            n();
        }
    }
}

/// Reasons known before trying, worded for the user.
fn precheck() -> Result<(), String> {
    if cfg!(all(unix, not(target_os = "macos"))) {
        let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
        if !set("DISPLAY") {
            return Err(if set("WAYLAND_DISPLAY") {
                "cannot send keys: this is a Wayland session without XWayland (DISPLAY is not \
                 set); key injection needs an X server"
                    .into()
            } else {
                "cannot send keys: no X server (DISPLAY is not set)".into()
            });
        }
    }
    Ok(())
}

/// Holds the modifiers, clicks the key, releases the modifiers (also after a failure).
fn press(enigo: &mut Enigo, chord: &Chord) -> Result<(), String> {
    let key = key_of(chord.key)?;
    let mut held = Vec::new();
    let mut result = Ok(());
    for &m in &chord.modifiers {
        let k = modifier_key(m);
        match enigo.key(k, Direction::Press) {
            Ok(()) => held.push(k),
            Err(e) => {
                result = Err(e.to_string());
                break;
            }
        }
    }
    if result.is_ok() {
        result = enigo.key(key, Direction::Click).map_err(|e| e.to_string());
    }
    for k in held.into_iter().rev() {
        if let Err(e) = enigo.key(k, Direction::Release) {
            result = result.and(Err(e.to_string()));
        }
    }
    result
}

fn modifier_key(m: Modifier) -> Key {
    match m {
        Modifier::Ctrl => Key::Control,
        Modifier::Alt => Key::Alt,
        Modifier::Shift => Key::Shift,
        Modifier::Meta => Key::Meta,
    }
}

fn key_of(k: KeyName) -> Result<Key, String> {
    Ok(match k {
        KeyName::Char(c) => Key::Unicode(c),
        KeyName::F(n) => [
            Key::F1,
            Key::F2,
            Key::F3,
            Key::F4,
            Key::F5,
            Key::F6,
            Key::F7,
            Key::F8,
            Key::F9,
            Key::F10,
            Key::F11,
            Key::F12,
            Key::F13,
            Key::F14,
            Key::F15,
            Key::F16,
            Key::F17,
            Key::F18,
            Key::F19,
            Key::F20,
        ]
        .get(usize::from(n).wrapping_sub(1))
        .copied()
        .ok_or_else(|| format!("no key F{n}"))?,
        KeyName::Named(n) => match n {
            Named::Left => Key::LeftArrow,
            Named::Right => Key::RightArrow,
            Named::Up => Key::UpArrow,
            Named::Down => Key::DownArrow,
            Named::Home => Key::Home,
            Named::End => Key::End,
            Named::PageUp => Key::PageUp,
            Named::PageDown => Key::PageDown,
            Named::Return => Key::Return,
            Named::Tab => Key::Tab,
            Named::Space => Key::Space,
            Named::Backspace => Key::Backspace,
            Named::Delete => Key::Delete,
            Named::Escape => Key::Escape,
            Named::MediaPlayPause => Key::MediaPlayPause,
            Named::MediaNextTrack => Key::MediaNextTrack,
            Named::MediaPrevTrack => Key::MediaPrevTrack,
            #[cfg(not(target_os = "macos"))]
            Named::MediaStop => Key::MediaStop,
            #[cfg(target_os = "macos")]
            Named::MediaStop => return Err("macOS has no media stop key".into()),
            Named::VolumeUp => Key::VolumeUp,
            Named::VolumeDown => Key::VolumeDown,
            Named::VolumeMute => Key::VolumeMute,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_name_has_a_key() {
        for n in 1..=20 {
            assert!(key_of(KeyName::F(n)).is_ok());
        }
        assert_eq!(key_of(KeyName::Char('a')), Ok(Key::Unicode('a')));
        let c: Chord = "ctrl+MediaPlayPause".parse().unwrap();
        assert_eq!(key_of(c.key), Ok(Key::MediaPlayPause));
    }
}
