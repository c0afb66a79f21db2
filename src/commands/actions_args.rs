//! The flags of gesture actions (`--actions`, `--on`, `--armed`), shared by the window and
//! `--headless`, and the map they describe.

use gesture_app::actions::map::default_file;
use gesture_app::actions::ActionMap;
use std::path::PathBuf;

/// What gestures do on the desktop (README "Actions").
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ActionArgs {
    /// Action map, a TOML file of gesture = "ACTION" lines (README "Actions")
    /// [default: actions.toml in the config folder, e.g. ~/.config/gesture-app, if there is one].
    #[arg(long = "actions", value_name = "FILE", help_heading = "Actions")]
    pub file: Option<PathBuf>,

    /// What a gesture does (repeatable; replaces the file's line for that gesture):
    /// "LABEL=key:CHORD" (key:Right, key:ctrl+alt+Left, key:MediaPlayPause, key:VolumeUp),
    /// "LABEL=exec:PROGRAM ARG..." (no shell; words split like a POSIX shell),
    /// "LABEL=print:TEXT", or "LABEL=arm" / "disarm" / "toggle-arm".
    #[arg(long = "on", value_name = "LABEL=ACTION", help_heading = "Actions")]
    pub on: Vec<String>,

    /// Start with actions armed. Otherwise nothing fires until armed (the window's switch, or a
    /// gesture mapped to arm / toggle-arm). Never remembered between runs.
    #[arg(long, help_heading = "Actions")]
    pub armed: bool,
}

impl ActionArgs {
    /// The map these flags describe, not yet checked against a model's labels; `None` when
    /// nothing is mapped.
    pub fn map(&self) -> anyhow::Result<Option<ActionMap>> {
        let mut map = match &self.file {
            Some(path) => ActionMap::load(path)?,
            None => match default_file().filter(|p| p.is_file()) {
                Some(path) => ActionMap::load(&path)?,
                None => ActionMap::default(),
            },
        };
        map.add_flags(&self.on)?;
        Ok((!map.bindings.is_empty()).then_some(map))
    }
}
