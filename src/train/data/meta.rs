//! `dataset.toml`, beside `category.txt`: what the index files cannot say about a data set —
//! the rate its clips' frames arrived at. Clips recorded from a camera keep every frame at the
//! camera's rate; the loader resamples them by time to the model's clip rate (`clip_fps`), as
//! the live worker does with its window, so a 30 fps recording is seen at the speed Jester's
//! 12 fps clips were. A data set without the file (Jester, `synth`) is used as it is.

use crate::util::write_atomic;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file's name in a data set's root.
pub const FILE_NAME: &str = "dataset.toml";

/// The format version this code writes and reads.
pub const FORMAT: u32 = 1;

/// Frame rates beyond this are refused as nonsense (a typo or a broken clock).
const MAX_FPS: f32 = 1000.0;

/// The frame rates of a data set's clips, as stored in `dataset.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipRates {
    /// Format version ([`FORMAT`]).
    #[serde(default = "format_version")]
    pub format: u32,
    /// The rate of every clip not listed in `clip_fps`; `None`: such clips are used as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f32>,
    /// Frames per second of each clip, by clip id.
    #[serde(default)]
    pub clip_fps: BTreeMap<String, f32>,
}

fn format_version() -> u32 {
    FORMAT
}

impl ClipRates {
    /// The path of `dataset.toml` in the data set at `root`.
    pub fn path(root: &Path) -> PathBuf {
        root.join(FILE_NAME)
    }

    /// Reads `ROOT/dataset.toml`; no file means no rates (every clip used as stored).
    pub fn read(root: &Path) -> Result<Self> {
        let path = Self::path(root);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        Self::parse(&path, &text)
    }

    /// [`ClipRates::read`] on a file's text; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let rates: ClipRates =
            toml::from_str(text).map_err(|e| Error::bad_file(path, e.message().to_string()))?;
        if rates.format > FORMAT {
            return Err(Error::bad_file(
                path,
                format!(
                    "format {} is newer than this gesture-app reads ({FORMAT})",
                    rates.format
                ),
            ));
        }
        let bad = |what: String, v: f32| {
            Error::bad_file(
                path,
                format!("{what} = {v}: a frame rate must be above 0 and at most {MAX_FPS}"),
            )
        };
        if let Some(v) = rates.fps.filter(|&v| !valid_fps(v)) {
            return Err(bad("fps".into(), v));
        }
        if let Some((id, &v)) = rates.clip_fps.iter().find(|(_, &v)| !valid_fps(v)) {
            return Err(bad(format!("clip_fps.{id}"), v));
        }
        Ok(rates)
    }

    /// The rate clip `id` was stored at, if the data set says.
    pub fn rate(&self, id: &str) -> Option<f32> {
        self.clip_fps.get(id).copied().or(self.fps)
    }

    /// True when the data set says nothing about rates.
    pub fn is_empty(&self) -> bool {
        self.fps.is_none() && self.clip_fps.is_empty()
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("rates serialise");
        format!(
            "# The rate (frames per second) each clip's frames were recorded at. `train` and `eval`\n\
             # resample the clips to the model's clip rate, as the live app does.\n{body}"
        )
    }

    /// Writes `ROOT/dataset.toml` atomically.
    pub fn write(&self, root: &Path) -> Result<()> {
        write_atomic(&Self::path(root), self.to_toml().as_bytes())?;
        Ok(())
    }
}

/// Whether `fps` is a usable frame rate (NaN is not).
pub fn valid_fps(fps: f32) -> bool {
    fps > 0.0 && fps <= MAX_FPS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_falls_back_to_the_data_set_rate() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ClipRates::read(dir.path()).unwrap(), ClipRates::default());
        let mut r = ClipRates {
            format: FORMAT,
            fps: Some(12.0),
            ..Default::default()
        };
        r.clip_fps.insert("rec000001".into(), 29.97);
        r.write(dir.path()).unwrap();
        let back = ClipRates::read(dir.path()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.rate("rec000001"), Some(29.97));
        assert_eq!(back.rate("other"), Some(12.0));
        let none = ClipRates::parse(Path::new("d.toml"), "").unwrap();
        assert_eq!(none.rate("x"), None);
        assert!(none.is_empty());
    }

    #[test]
    fn bad_rates_and_newer_formats_are_refused_with_the_file_named() {
        for (text, needle) in [
            ("fps = 0.0\n", "fps = 0"),
            ("fps = nan\n", "fps = NaN"),
            ("[clip_fps]\na = -3.0\n", "clip_fps.a = -3"),
            ("[clip_fps]\na = 5000.0\n", "at most 1000"),
            ("format = 9\n", "newer"),
            ("speed = 3\n", "unknown field"),
        ] {
            let e = ClipRates::parse(Path::new("x/dataset.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("x/dataset.toml: ") && e.contains(needle),
                "{e}"
            );
        }
    }
}
