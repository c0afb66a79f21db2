//! What the window remembers between runs, in eframe's storage: the detection settings
//! (when events fire, threshold, release, smoothing), the last source opened and the last weights file loaded.
//! A flag given on the command line wins over a remembered value; a remembered value that no
//! longer works (a file gone, a camera unplugged, a number out of range) is dropped with a note
//! in the window, never an error at start.

use crate::capture::SourceSpec;
use crate::live::events::{EventSettings, FireAt};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The key the settings are stored under.
pub const STORAGE_KEY: &str = "gesture-app.settings";

/// The remembered settings. Every field has `#[serde(default)]`, so a file from an older or
/// newer version, or a missing one, reads as "nothing remembered" field by field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    /// When events fire, as `--fire-at` spells it, if the user chose a rule (none: the
    /// model's).
    #[serde(default)]
    pub fire_at: Option<String>,
    #[serde(default)]
    pub threshold: Option<f32>,
    #[serde(default)]
    pub release: Option<f32>,
    #[serde(default)]
    pub smoothing_ms: Option<f32>,
    /// The last source that opened, as `--source` spells it (folders as absolute paths).
    #[serde(default)]
    pub source: Option<String>,
    /// The last weights file that loaded and that the user chose (not the default demo model),
    /// as an absolute path.
    #[serde(default)]
    pub weights: Option<PathBuf>,
    /// Whether the preview draws the tracked hand's skeleton (landmark models).
    #[serde(default)]
    pub show_hand: Option<bool>,
}

/// What to do with one remembered value.
#[derive(Debug, Clone, PartialEq)]
pub enum Recall<T> {
    /// Nothing remembered, or the command line named its own.
    Nothing,
    /// Use the remembered value.
    Use(T),
    /// The remembered value no longer works; the note says why (shown in the window).
    Dropped(String),
}

/// Which settings the command line gave explicitly; those win over remembered ones.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Given {
    pub fire_at: bool,
    pub threshold: bool,
    pub release: bool,
    pub smoothing: bool,
    pub source: bool,
    pub weights: bool,
}

impl Remembered {
    /// Reads the settings from `storage`; nothing (or something unreadable) gives the default.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default()
    }

    /// Writes the settings to `storage`.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, self);
    }

    /// Applies the remembered detection settings that `given` leaves open to `events`; a value
    /// out of range is skipped with a note. Release never ends above the threshold.
    pub fn apply_events(&self, given: Given, events: &mut EventSettings) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(name) = self.fire_at.as_deref().filter(|_| !given.fire_at) {
            match name.parse::<FireAt>() {
                Ok(f) => events.fire = Some(f),
                Err(e) => notes.push(format!("ignored the remembered {e}")),
            }
        }
        let mut take = |name: &str, v: Option<f32>, given: bool, ok: bool, into: &mut f32| match v {
            Some(v) if !given && ok => *into = v,
            Some(v) if !given => {
                notes.push(format!("ignored the remembered {name} {v}: out of range"))
            }
            _ => {}
        };
        let unit = |v: Option<f32>| v.is_some_and(|v| (0.0..=1.0).contains(&v));
        take(
            "threshold",
            self.threshold,
            given.threshold,
            unit(self.threshold),
            &mut events.threshold,
        );
        take(
            "release",
            self.release,
            given.release,
            unit(self.release),
            &mut events.release,
        );
        let half_life = self.smoothing_ms.is_some_and(|v| v.is_finite() && v >= 0.0);
        take(
            "smoothing",
            self.smoothing_ms,
            given.smoothing,
            half_life,
            &mut events.smoothing_ms,
        );
        if events.release > events.threshold {
            events.release = events.threshold;
        }
        notes
    }

    /// The remembered weights file to load instead of the default, when the command line did not
    /// name one and the file is still there.
    pub fn weights_to_load(&self, given: Given) -> Recall<&Path> {
        match &self.weights {
            Some(w) if !given.weights && (w.is_file() || crate::builtin::file_at(w).is_some()) => {
                Recall::Use(w)
            }
            Some(w) if !given.weights => Recall::Dropped(format!(
                "the weights last used, {}, are gone; using the default model",
                w.display()
            )),
            _ => Recall::Nothing,
        }
    }

    /// The remembered source to open instead of the default, when the command line did not name
    /// one; a remembered folder that is gone is dropped.
    pub fn source_to_open(&self, given: Given) -> Recall<SourceSpec> {
        let Some(s) = self.source.as_deref().filter(|_| !given.source) else {
            return Recall::Nothing;
        };
        match s.parse::<SourceSpec>() {
            Ok(SourceSpec::Folder(p)) if !p.is_dir() => Recall::Dropped(format!(
                "the source last used, {}, is gone; using the default source",
                p.display()
            )),
            Ok(SourceSpec::Video(p)) if !p.is_file() => Recall::Dropped(format!(
                "the source last used, {}, is gone; using the default source",
                p.display()
            )),
            Ok(spec) => Recall::Use(spec),
            Err(e) => Recall::Dropped(format!("ignored the remembered source '{s}': {e}")),
        }
    }
}

/// eframe's storage interface held in memory: settings for one process only (tests, or a run
/// that must not touch the user's remembered settings).
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage(pub std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

/// `path` as an absolute path (so a remembered file is found from any working directory);
/// unchanged when that fails, and for a built-in file's name (`built-in:NAME`).
pub fn absolute(path: &Path) -> PathBuf {
    if crate::builtin::name_in(path).is_some() {
        return path.to_path_buf();
    }
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_read_back_and_garbage_reads_as_nothing() {
        let r = Remembered {
            fire_at: Some("threshold".into()),
            threshold: Some(0.6),
            release: None,
            smoothing_ms: Some(300.0),
            source: Some("synthetic".into()),
            weights: Some("/x/w.safetensors".into()),
            show_hand: Some(false),
        };
        let mut s = MemoryStorage::default();
        r.save(&mut s);
        assert_eq!(Remembered::load(Some(&s)), r);
        assert_eq!(Remembered::load(None), Remembered::default());
        // A field this version does not know, one it misses, and an unreadable store.
        s.0.insert(
            STORAGE_KEY.into(),
            "(threshold: Some(0.7), colour: 3)".into(),
        );
        let partial = Remembered::load(Some(&s));
        assert_eq!(partial.threshold, Some(0.7));
        assert_eq!(partial.source, None);
        s.0.insert(STORAGE_KEY.into(), "not ron at all (".into());
        assert_eq!(Remembered::load(Some(&s)), Remembered::default());
    }

    #[test]
    fn flags_win_and_bad_values_are_skipped() {
        let r = Remembered {
            threshold: Some(0.5),
            release: Some(0.9),
            smoothing_ms: Some(f32::NAN),
            ..Remembered::default()
        };
        let mut ev = EventSettings::default();
        let notes = r.apply_events(Given::default(), &mut ev);
        assert_eq!(ev.threshold, 0.5);
        // Release 0.9 is remembered but may not exceed the threshold.
        assert_eq!(ev.release, 0.5);
        assert_eq!(ev.smoothing_ms, EventSettings::default().smoothing_ms);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("smoothing"), "{notes:?}");

        let mut ev = EventSettings::default();
        let given = Given {
            threshold: true,
            release: true,
            ..Given::default()
        };
        assert!(r.apply_events(given, &mut ev).len() == 1);
        assert_eq!(ev.threshold, 0.8);
        assert_eq!(ev.release, 0.4);
    }

    #[test]
    fn the_fire_rule_is_remembered_unless_a_flag_names_one() {
        let r = Remembered {
            fire_at: Some("threshold".into()),
            ..Remembered::default()
        };
        let mut ev = EventSettings::default();
        assert!(r.apply_events(Given::default(), &mut ev).is_empty());
        assert_eq!(ev.fire, Some(FireAt::Threshold));
        let mut ev = EventSettings::default();
        let given = Given {
            fire_at: true,
            ..Given::default()
        };
        r.apply_events(given, &mut ev);
        assert_eq!(ev.fire, None);
        // A name this version does not know is dropped with a note.
        let odd = Remembered {
            fire_at: Some("whenever".into()),
            ..Remembered::default()
        };
        let mut ev = EventSettings::default();
        let notes = odd.apply_events(Given::default(), &mut ev);
        assert_eq!(ev.fire, None);
        assert!(notes[0].contains("whenever"), "{notes:?}");
    }

    #[test]
    fn gone_files_fall_back_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("w.safetensors");
        std::fs::write(&w, b"x").unwrap();
        let r = Remembered {
            source: Some(dir.path().display().to_string()),
            weights: Some(w.clone()),
            ..Remembered::default()
        };
        assert_eq!(
            r.weights_to_load(Given::default()),
            Recall::Use(w.as_path())
        );
        let folder = SourceSpec::Folder(dir.path().to_path_buf());
        assert_eq!(r.source_to_open(Given::default()), Recall::Use(folder));
        let given = Given {
            source: true,
            weights: true,
            ..Given::default()
        };
        assert_eq!(r.weights_to_load(given), Recall::Nothing);
        assert_eq!(r.source_to_open(given), Recall::Nothing);
        drop(dir);
        let Recall::Dropped(e) = r.weights_to_load(Given::default()) else {
            panic!("a gone weights file is dropped");
        };
        assert!(e.contains("w.safetensors") && e.contains("gone"), "{e}");
        let Recall::Dropped(e) = r.source_to_open(Given::default()) else {
            panic!("a gone folder is dropped");
        };
        assert!(e.contains("gone"), "{e}");
        let camera = Remembered {
            source: Some("camera:1".into()),
            ..Remembered::default()
        };
        assert!(matches!(
            camera.source_to_open(Given::default()),
            Recall::Use(SourceSpec::Camera(Some(_)))
        ));
    }

    #[test]
    fn built_in_files_are_remembered_by_name_and_never_gone() {
        let name = Path::new("built-in:weights/demo.safetensors");
        assert_eq!(
            absolute(name),
            name,
            "not made into a path under the working folder"
        );
        let r = Remembered {
            source: Some("built-in:assets/demo_clips".into()),
            weights: Some(name.to_path_buf()),
            ..Remembered::default()
        };
        assert_eq!(r.weights_to_load(Given::default()), Recall::Use(name));
        assert_eq!(
            r.source_to_open(Given::default()),
            Recall::Use(SourceSpec::BuiltIn("assets/demo_clips"))
        );
        let facts = super::super::model_facts(
            &crate::weights::read_config(name).unwrap().0,
            "cpu",
            Some(name),
        );
        assert!(
            facts.contains(&("weights".into(), "demo.safetensors (built-in)".into())),
            "{facts:?}"
        );
    }
}
