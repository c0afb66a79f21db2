//! The action map: which gesture does what. Read from a TOML file and from `--on LABEL=ACTION`
//! flags, checked whole at start (every action parsed, every label one of the model's), so
//! that a typo is one clear line naming where it is instead of a gesture that silently does
//! nothing later.
//!
//! ```toml
//! cooldown_ms = 1000        # default for every gesture below
//! timeout_s = 10            # how long an exec: command may run
//!
//! [gestures]
//! "Swiping Left" = "key:Left"
//! "Swiping Right" = { do = "key:Right", cooldown_ms = 400 }
//! "Thumb Up" = { do = "exec:notify-send 'thumb up'", timeout_s = 3 }
//! "Stop Sign" = "toggle-arm"
//! ```

use super::chord::Chord;
use super::ActionError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Cooldown of a gesture whose entry names none: long enough that one performance that the
/// detector splits in two (rare, after hysteresis) still does one thing, short enough for
/// slide after slide.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_millis(1000);
/// How long an `exec:` program may run before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The file read when `--actions` is not given, in the app's config folder.
pub const DEFAULT_FILE_NAME: &str = "actions.toml";

/// What a gesture does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `key:CHORD`: press a key chord in the focused window.
    Key(Chord),
    /// `exec:PROGRAM ARG...`: run a program (no shell), on its own thread, with a timeout.
    Exec {
        program: String,
        args: Vec<String>,
    },
    /// `print:TEXT`: show a line (the window, stdout; a JSON line when headless).
    Print(String),
    /// `arm`, `disarm`, `toggle-arm`: switch whether actions fire at all.
    Arm,
    Disarm,
    ToggleArm,
}

impl Action {
    /// The kind, as written before the colon (`key`, `exec`, `print`, `arm`...).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Key(_) => "key",
            Action::Exec { .. } => "exec",
            Action::Print(_) => "print",
            Action::Arm => "arm",
            Action::Disarm => "disarm",
            Action::ToggleArm => "toggle-arm",
        }
    }

    /// Whether this action switches the armed state (and so fires while disarmed).
    pub fn is_arming(&self) -> bool {
        matches!(self, Action::Arm | Action::Disarm | Action::ToggleArm)
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Action, String> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "arm" => return Ok(Action::Arm),
            "disarm" => return Ok(Action::Disarm),
            "toggle-arm" => return Ok(Action::ToggleArm),
            _ => {}
        }
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(format!(
                "unknown action '{s}' (actions: key:CHORD, exec:PROGRAM ARG..., print:TEXT, arm, \
                 disarm, toggle-arm)"
            ));
        };
        match kind.trim().to_ascii_lowercase().as_str() {
            "key" => Ok(Action::Key(rest.parse()?)),
            "exec" => {
                let mut words = shell_words::split(rest)
                    .map_err(|e| format!("exec: cannot split '{}': {e}", rest.trim()))?
                    .into_iter();
                let program = words
                    .next()
                    .ok_or_else(|| "exec: needs a program to run".to_string())?;
                Ok(Action::Exec {
                    program,
                    args: words.collect(),
                })
            }
            "print" => Ok(Action::Print(rest.to_string())),
            other => Err(format!(
                "unknown action kind '{other}:' (actions: key:CHORD, exec:PROGRAM ARG..., \
                 print:TEXT, arm, disarm, toggle-arm)"
            )),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Key(c) => write!(f, "key:{c}"),
            Action::Exec { program, args } => {
                let words = std::iter::once(program).chain(args);
                write!(f, "exec:{}", shell_words::join(words))
            }
            Action::Print(text) => write!(f, "print:{text}"),
            other => f.write_str(other.kind()),
        }
    }
}

/// One gesture's action and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The gesture, spelled as the model spells it once [`ActionMap::resolve`]d.
    pub label: String,
    pub action: Action,
    /// Least time between two firings of this binding.
    pub cooldown: Duration,
    /// How long an `exec:` program may run.
    pub timeout: Duration,
    /// Where it was written: `FILE:LINE` or `--on "..."`, for messages.
    pub origin: String,
}

/// Every binding, in the order written (the file's, then the flags').
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionMap {
    pub bindings: Vec<Binding>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// The file's defaults, which `--on` flags get too.
    defaults: Defaults,
}

/// The file's top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMap {
    cooldown_ms: Option<u64>,
    timeout_s: Option<toml::Spanned<f64>>,
    #[serde(default)]
    gestures: BTreeMap<String, toml::Spanned<toml::Value>>,
}

/// A gesture's entry written as a table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullEntry {
    #[serde(rename = "do")]
    action: String,
    cooldown_ms: Option<u64>,
    timeout_s: Option<f64>,
}

/// The defaults every entry starts from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Defaults {
    cooldown: Duration,
    timeout: Duration,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            cooldown: DEFAULT_COOLDOWN,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

fn timeout_from(secs: f64) -> Result<Duration, String> {
    if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!(
            "timeout_s must be more than 0 and at most a day, got {secs}"
        ))
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The app's config folder (`~/.config/gesture-app` on Linux, the platform's equivalent
/// elsewhere), where [`DEFAULT_FILE_NAME`] is looked for.
pub fn default_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "gesture-app")
        .map(|d| d.config_dir().join(DEFAULT_FILE_NAME))
}

impl ActionMap {
    /// Parses a map file's text; `path` names it in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<ActionMap, ActionError> {
        let at = |line: usize, message: String| ActionError::Entry {
            origin: format!("{}:{line}", path.display()),
            message,
        };
        let file: FileMap = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            at(line, e.message().trim().replace('\n', " "))
        })?;
        let mut defaults = Defaults::default();
        if let Some(ms) = file.cooldown_ms {
            defaults.cooldown = Duration::from_millis(ms);
        }
        if let Some(s) = file.timeout_s {
            let line = line_of(text, s.span().start);
            defaults.timeout = timeout_from(*s.get_ref()).map_err(|m| at(line, m))?;
        }
        let mut entries: Vec<_> = file.gestures.into_iter().collect();
        // The table is sorted by label; the user's order is the order of the lines.
        entries.sort_by_key(|(_, v)| v.span().start);
        let mut bindings = Vec::new();
        for (label, value) in entries {
            let line = line_of(text, value.span().start);
            let binding = Self::entry(&label, value.into_inner(), defaults)
                .map_err(|m| at(line, format!("'{label}': {m}")))?;
            bindings.push(Binding {
                origin: format!("{}:{line}", path.display()),
                ..binding
            });
        }
        Ok(ActionMap {
            bindings,
            file: Some(path.to_path_buf()),
            defaults,
        })
    }

    fn entry(label: &str, value: toml::Value, defaults: Defaults) -> Result<Binding, String> {
        let (action, cooldown, timeout) = match value {
            toml::Value::String(s) => (s, None, None),
            table @ toml::Value::Table(_) => {
                let e: FullEntry = table
                    .try_into()
                    .map_err(|e: toml::de::Error| e.message().trim().replace('\n', " "))?;
                (e.action, e.cooldown_ms, e.timeout_s)
            }
            other => {
                return Err(format!(
                    "expected an action string or a table {{ do = \"...\" }}, got a {}",
                    other.type_str()
                ))
            }
        };
        Ok(Binding {
            label: label.trim().to_string(),
            action: action.parse()?,
            cooldown: cooldown.map_or(defaults.cooldown, Duration::from_millis),
            timeout: timeout.map_or(Ok(defaults.timeout), timeout_from)?,
            origin: String::new(),
        })
    }

    /// Reads a map file.
    pub fn load(path: &Path) -> Result<ActionMap, ActionError> {
        let text = std::fs::read_to_string(path).map_err(|source| ActionError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Adds `--on LABEL=ACTION` flags (split at the first `=`), with the file's defaults; a
    /// flag replaces the file's entry for the same gesture.
    pub fn add_flags(&mut self, flags: &[String]) -> Result<(), ActionError> {
        let defaults = self.defaults;
        let mut seen: Vec<String> = Vec::new();
        for flag in flags {
            let origin = format!("--on \"{flag}\"");
            let err = |message: String| ActionError::Entry {
                origin: origin.clone(),
                message,
            };
            let (label, action) = flag.split_once('=').ok_or_else(|| {
                err("expected LABEL=ACTION, e.g. \"Swiping Left=key:Left\"".into())
            })?;
            let label = label.trim();
            if label.is_empty() {
                return Err(err("no gesture before '='".into()));
            }
            if seen.iter().any(|s| s.eq_ignore_ascii_case(label)) {
                return Err(err(format!("'{label}' is given twice")));
            }
            seen.push(label.to_string());
            let binding = Self::entry(label, toml::Value::String(action.into()), defaults)
                .map_err(|m| err(format!("'{label}': {m}")))?;
            self.bindings
                .retain(|b| !b.label.eq_ignore_ascii_case(label));
            self.bindings.push(Binding { origin, ..binding });
        }
        Ok(())
    }

    /// Checks every gesture against the model's `labels` (case-insensitive) and spells it as
    /// the model does.
    pub fn resolve(&mut self, labels: &[String]) -> Result<(), ActionError> {
        for b in &mut self.bindings {
            let known = labels.iter().find(|l| l.eq_ignore_ascii_case(&b.label));
            match known {
                Some(l) => b.label = l.clone(),
                None => {
                    return Err(ActionError::Entry {
                        origin: b.origin.clone(),
                        message: format!(
                            "unknown gesture '{}' (the model's classes: {})",
                            b.label,
                            labels.join(", ")
                        ),
                    })
                }
            }
        }
        Ok(())
    }

    /// The binding of `label`, by index.
    pub fn find(&self, label: &str) -> Option<usize> {
        self.bindings
            .iter()
            .position(|b| b.label.eq_ignore_ascii_case(label))
    }

    /// Whether any binding presses keys (and so needs injection).
    pub fn has_keys(&self) -> bool {
        self.bindings
            .iter()
            .any(|b| matches!(b.action, Action::Key(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::chord::{KeyName, Modifier, Named};

    fn labels() -> Vec<String> {
        ["Swiping Left", "Swiping Right", "Thumb Up", "Stop Sign"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    const GOOD: &str = r#"
cooldown_ms = 500

[gestures]
"swiping right" = { do = "key:ctrl+alt+Right", cooldown_ms = 200 }
"Swiping Left" = "key:Left"
"Thumb Up" = { do = "exec:notify-send 'thumb up' \"it's me\"", timeout_s = 2.5 }
"Stop Sign" = "toggle-arm"
"#;

    fn err_of(text: &str) -> String {
        ActionMap::from_toml(text, Path::new("a.toml"))
            .and_then(|mut m| m.resolve(&labels()))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parses_a_good_file_in_the_order_written() {
        let mut map = ActionMap::from_toml(GOOD, Path::new("a.toml")).unwrap();
        map.resolve(&labels()).unwrap();
        let b = &map.bindings;
        assert_eq!(b.len(), 4);
        assert_eq!(b[0].label, "Swiping Right", "spelled as the model does");
        assert_eq!(b[0].origin, "a.toml:5");
        assert_eq!(b[0].cooldown, Duration::from_millis(200));
        let Action::Key(chord) = &b[0].action else {
            panic!("{:?}", b[0].action)
        };
        assert_eq!(chord.modifiers, vec![Modifier::Ctrl, Modifier::Alt]);
        assert_eq!(chord.key, KeyName::Named(Named::Right));
        assert_eq!(b[1].cooldown, Duration::from_millis(500), "file default");
        assert_eq!(b[1].timeout, DEFAULT_TIMEOUT);
        assert_eq!(
            b[2].action,
            Action::Exec {
                program: "notify-send".into(),
                args: vec!["thumb up".into(), "it's me".into()],
            }
        );
        assert_eq!(b[2].timeout, Duration::from_secs_f64(2.5));
        assert_eq!(b[3].action, Action::ToggleArm);
        assert!(map.has_keys());
        assert_eq!(map.find("stop sign"), Some(3));
    }

    #[test]
    fn bad_files_name_the_line_and_what_is_wrong() {
        for (text, says) in [
            (
                "[gestures]\n\"Swiping Left\" = \"key:Rihgt\"\n",
                "a.toml:2: 'Swiping Left': unknown key 'Rihgt'",
            ),
            (
                "[gestures]\n\n\"Waving\" = \"key:Left\"\n",
                "a.toml:3: unknown gesture 'Waving'",
            ),
            (
                "[gestures]\n\"Thumb Up\" = \"exec:\"\n",
                "a.toml:2: 'Thumb Up': exec: needs a program",
            ),
            (
                "[gestures]\n\"Thumb Up\" = \"exec:echo 'open\"\n",
                "a.toml:2: 'Thumb Up': exec: cannot split",
            ),
            (
                "[gestures]\n\"Thumb Up\" = \"beep\"\n",
                "a.toml:2: 'Thumb Up': unknown action 'beep'",
            ),
            (
                "[gestures]\n\"Thumb Up\" = \"run:ls\"\n",
                "unknown action kind 'run:'",
            ),
            (
                "[gestures]\n\"Thumb Up\" = { do = \"arm\", colldown_ms = 3 }\n",
                "a.toml:2: 'Thumb Up': unknown field `colldown_ms`",
            ),
            (
                "[gestures]\n\"Thumb Up\" = 3\n",
                "a.toml:2: 'Thumb Up': expected an action string",
            ),
            ("cooldown = 3\n", "a.toml:1: unknown field `cooldown`"),
            (
                "[gestures]\n\"Thumb Up\" = \"arm\"\n\"Thumb Up\" = \"disarm\"\n",
                "a.toml:3:",
            ),
            ("[gestures\n", "a.toml:1:"),
            (
                "\ntimeout_s = -1\n",
                "a.toml:2: timeout_s must be more than 0",
            ),
        ] {
            let err = err_of(text);
            assert!(err.contains(says), "{text:?} gave: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn flags_split_at_the_first_equals_and_replace_the_file() {
        let mut map = ActionMap::from_toml(GOOD, Path::new("a.toml")).unwrap();
        map.add_flags(&[
            "Swiping Left=print:a=b".into(),
            "thumb up=exec:sh -c 'echo \"$1\" >> out' sh x".into(),
        ])
        .unwrap();
        map.resolve(&labels()).unwrap();
        let left = &map.bindings[map.find("Swiping Left").unwrap()];
        assert_eq!(left.action, Action::Print("a=b".into()));
        assert_eq!(left.origin, "--on \"Swiping Left=print:a=b\"");
        assert_eq!(map.bindings.len(), 4, "replaced, not added");
        let thumb = &map.bindings[map.find("Thumb Up").unwrap()];
        assert_eq!(
            thumb.action.to_string(),
            "exec:sh -c 'echo \"$1\" >> out' sh x"
        );

        for (flag, says) in [
            ("Swiping Left", "expected LABEL=ACTION"),
            ("=key:Left", "no gesture before '='"),
            ("Swiping Left=key:ctrl+", "chord 'ctrl+' has no key"),
        ] {
            let err = ActionMap::default()
                .add_flags(&[flag.into()])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("--on \"{flag}\": ")), "{err}");
            assert!(err.contains(says), "{err}");
        }
        let mut map = ActionMap::default();
        map.add_flags(&["Waving=arm".into()]).unwrap();
        let err = map.resolve(&labels()).unwrap_err().to_string();
        assert!(
            err.starts_with("--on \"Waving=arm\": unknown gesture 'Waving'"),
            "{err}"
        );
        let twice = ActionMap::default().add_flags(&["A=arm".into(), "a=disarm".into()]);
        assert!(twice.unwrap_err().to_string().contains("given twice"));
    }
}
