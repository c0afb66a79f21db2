//! Key chords as a user writes them (`Right`, `ctrl+alt+Left`, `MediaPlayPause`): parsed once at
//! start into modifiers and one key, so that a typo is refused before anything runs. The names
//! are our own, the same on every platform; [`super::inject`] turns them into enigo's keys.

use std::fmt;

/// A modifier held while the chord's key is pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Modifier {
    Ctrl,
    Alt,
    Shift,
    /// The Windows / Super / Command key.
    Meta,
}

impl Modifier {
    fn parse(name: &str) -> Option<Modifier> {
        Some(match name.to_ascii_lowercase().as_str() {
            "ctrl" | "control" => Modifier::Ctrl,
            "alt" | "option" => Modifier::Alt,
            "shift" => Modifier::Shift,
            "meta" | "super" | "win" | "cmd" | "command" => Modifier::Meta,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Modifier::Ctrl => "ctrl",
            Modifier::Alt => "alt",
            Modifier::Shift => "shift",
            Modifier::Meta => "meta",
        }
    }
}

/// The key a chord presses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyName {
    /// A printable character: a letter (lower case), a digit or a symbol.
    Char(char),
    /// F1 to F20.
    F(u8),
    Named(Named),
}

/// Keys without a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Named {
    Left,
    Right,
    Up,
    Down,
    Home,
    End,
    PageUp,
    PageDown,
    Return,
    Tab,
    Space,
    Backspace,
    Delete,
    Escape,
    MediaPlayPause,
    MediaNextTrack,
    MediaPrevTrack,
    MediaStop,
    VolumeUp,
    VolumeDown,
    VolumeMute,
}

/// Every named key: its name in a chord, then the other spellings accepted.
const NAMED: [(Named, &[&str]); 21] = [
    (Named::Left, &["Left", "LeftArrow"]),
    (Named::Right, &["Right", "RightArrow"]),
    (Named::Up, &["Up", "UpArrow"]),
    (Named::Down, &["Down", "DownArrow"]),
    (Named::Home, &["Home"]),
    (Named::End, &["End"]),
    (Named::PageUp, &["PageUp", "PgUp"]),
    (Named::PageDown, &["PageDown", "PgDn"]),
    (Named::Return, &["Return", "Enter"]),
    (Named::Tab, &["Tab"]),
    (Named::Space, &["Space"]),
    (Named::Backspace, &["Backspace"]),
    (Named::Delete, &["Delete", "Del"]),
    (Named::Escape, &["Escape", "Esc"]),
    (Named::MediaPlayPause, &["MediaPlayPause", "PlayPause"]),
    (Named::MediaNextTrack, &["MediaNextTrack", "MediaNext"]),
    (
        Named::MediaPrevTrack,
        &["MediaPrevTrack", "MediaPrev", "MediaPreviousTrack"],
    ),
    (Named::MediaStop, &["MediaStop"]),
    (Named::VolumeUp, &["VolumeUp"]),
    (Named::VolumeDown, &["VolumeDown"]),
    (Named::VolumeMute, &["VolumeMute", "Mute"]),
];

impl KeyName {
    fn parse(name: &str) -> Option<KeyName> {
        let mut chars = name.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            if c.is_ascii_graphic() {
                return Some(KeyName::Char(c.to_ascii_lowercase()));
            }
        }
        if let Some(n) = name
            .strip_prefix(['F', 'f'])
            .and_then(|n| n.parse::<u8>().ok())
        {
            return (1..=20).contains(&n).then_some(KeyName::F(n));
        }
        NAMED
            .iter()
            .find(|(_, names)| names.iter().any(|s| s.eq_ignore_ascii_case(name)))
            .map(|&(n, _)| KeyName::Named(n))
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyName::Char(c) => write!(f, "{c}"),
            KeyName::F(n) => write!(f, "F{n}"),
            KeyName::Named(n) => {
                let names = NAMED.iter().find(|(k, _)| k == n).map(|(_, s)| s[0]);
                f.write_str(names.unwrap_or("?"))
            }
        }
    }
}

/// Modifiers (sorted, no repeats) and the key pressed while they are held.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Chord {
    pub modifiers: Vec<Modifier>,
    pub key: KeyName,
}

impl std::str::FromStr for Chord {
    type Err = String;

    /// `MOD+MOD+KEY`, names case-insensitive: `Right`, `ctrl+alt+Left`, `shift+F5`, `ctrl+c`.
    fn from_str(s: &str) -> Result<Chord, String> {
        let s = s.trim();
        // A chord may end in '+' itself ("ctrl++"): the last part is the key, whatever it is.
        let (mods, key) = match s.strip_suffix("++") {
            Some(rest) => (Some(rest), "+"),
            None => match s.rsplit_once('+') {
                Some((m, k)) => (Some(m), k),
                None => (None, s),
            },
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("chord '{s}' has no key"));
        }
        if Modifier::parse(key).is_some() {
            return Err(format!("chord '{s}' has no key after its modifiers"));
        }
        let key = KeyName::parse(key).ok_or_else(|| {
            format!(
                "unknown key '{key}' in chord '{s}' (keys: a letter, digit or symbol, F1-F20, {})",
                NAMED.map(|(_, names)| names[0]).join(", ")
            )
        })?;
        let mut modifiers = Vec::new();
        for m in mods.into_iter().flat_map(|m| m.split('+')) {
            let m = m.trim();
            let modifier = Modifier::parse(m).ok_or_else(|| {
                format!("unknown modifier '{m}' in chord '{s}' (modifiers: ctrl, alt, shift, meta)")
            })?;
            if modifiers.contains(&modifier) {
                return Err(format!("modifier '{m}' twice in chord '{s}'"));
            }
            modifiers.push(modifier);
        }
        modifiers.sort();
        Ok(Chord { modifiers, key })
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.modifiers {
            write!(f, "{}+", m.name())?;
        }
        write!(f, "{}", self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(s: &str) -> Chord {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_keys_modifiers_and_media_keys() {
        assert_eq!(chord("Right").key, KeyName::Named(Named::Right));
        let c = chord("Alt + ctrl+Left");
        assert_eq!(c.modifiers, vec![Modifier::Ctrl, Modifier::Alt]);
        assert_eq!(c.to_string(), "ctrl+alt+Left");
        assert_eq!(chord("mediaplaypause").to_string(), "MediaPlayPause");
        assert_eq!(chord("VolumeUp").key, KeyName::Named(Named::VolumeUp));
        assert_eq!(chord("shift+F5").to_string(), "shift+F5");
        assert_eq!(chord("ctrl+C").key, KeyName::Char('c'));
        assert_eq!(chord("ctrl++").key, KeyName::Char('+'));
        assert_eq!(chord("super+1").modifiers, vec![Modifier::Meta]);
    }

    #[test]
    fn refuses_unknown_names_with_what_is_wrong() {
        for (bad, says) in [
            ("", "has no key"),
            ("ctrl+", "has no key"),
            ("ctrl+alt", "has no key after its modifiers"),
            ("Rihgt", "unknown key 'Rihgt'"),
            ("F25", "unknown key 'F25'"),
            ("hyper+Left", "unknown modifier 'hyper'"),
            ("ctrl+ctrl+a", "twice"),
        ] {
            let err = bad.parse::<Chord>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
