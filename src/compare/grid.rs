//! The grid of a comparison: backbones × heads × segment counts, from flags or from a TOML file
//! that lists them (and may list single recipes), checked whole before anything trains so that
//! a bad entry fails in a second, not an hour into a sweep.

use crate::model::config::{Arch, Consensus};
use crate::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// How each configuration is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Backbone frozen: one shared feature cache, only `new_fc` and the head train (minutes).
    Fast,
    /// `gesture-app train`'s whole network, from scratch or from `--pretrained` weights.
    Full,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Fast => "fast",
            Mode::Full => "full",
        }
    }
}

/// A backbone as a grid names it: an architecture to train from scratch, or a weights file (a
/// converted checkpoint, an ImageNet backbone, any model) whose backbone is frozen (fast mode)
/// or starts training (full mode).
#[derive(Debug, Clone, PartialEq)]
pub enum Backbone {
    Arch(Arch),
    File(PathBuf),
}

impl Backbone {
    /// An architecture name, else a path.
    pub fn parse(s: &str) -> Self {
        match s.parse::<Arch>() {
            Ok(a) => Backbone::Arch(a),
            Err(_) => Backbone::File(PathBuf::from(s)),
        }
    }

    /// Short name for run folders and tables: the architecture, or the file's stem.
    pub fn label(&self) -> String {
        match self {
            Backbone::Arch(a) => a.name().to_string(),
            Backbone::File(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "weights".into()),
        }
    }
}

impl std::fmt::Display for Backbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backbone::Arch(a) => f.write_str(a.name()),
            Backbone::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One configuration of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub backbone: Backbone,
    pub consensus: Consensus,
    pub segments: usize,
    /// Full mode: a `train` recipe (TOML) the configuration starts from.
    pub recipe: Option<PathBuf>,
}

impl Entry {
    /// `<backbone>_<head>_<N>seg`: its run folder's name and its key in the state file.
    pub fn name(&self) -> String {
        format!(
            "{}_{}_{}seg",
            self.backbone.label(),
            self.consensus,
            self.segments
        )
    }
}

/// A grid entry as written, before it is checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    pub backbone: String,
    pub head: String,
    pub segments: usize,
    #[serde(default)]
    pub recipe: Option<PathBuf>,
}

impl std::fmt::Display for RawEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} × {} × {}", self.backbone, self.head, self.segments)
    }
}

/// The product of the lists: every backbone with every head and every N, in that order.
pub fn product(backbones: &[String], heads: &[String], segments: &[usize]) -> Vec<RawEntry> {
    let mut out = Vec::new();
    for b in backbones {
        for h in heads {
            for &n in segments {
                out.push(RawEntry {
                    backbone: b.clone(),
                    head: h.clone(),
                    segments: n,
                    recipe: None,
                });
            }
        }
    }
    out
}

/// A grid file: lists whose product is the grid, and/or `[[run]]` tables for single entries;
/// the other keys are the sweep's settings (flags given on the command line win).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridFile {
    pub mode: Option<String>,
    pub root: Option<PathBuf>,
    #[serde(default)]
    pub backbones: Vec<String>,
    #[serde(default)]
    pub heads: Vec<String>,
    #[serde(default)]
    pub segments: Vec<usize>,
    /// A `train` recipe every full-mode entry without its own starts from.
    pub recipe: Option<PathBuf>,
    pub epochs: Option<usize>,
    pub lr: Option<f64>,
    pub batch_size: Option<usize>,
    pub seed: Option<u64>,
    #[serde(default, rename = "run")]
    pub runs: Vec<RawEntry>,
}

impl GridFile {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::bad_file(path, e.to_string()))
    }

    /// The product of its lists, then its `[[run]]` entries.
    pub fn entries(&self) -> Vec<RawEntry> {
        let mut out = product(&self.backbones, &self.heads, &self.segments);
        out.extend(self.runs.iter().cloned());
        out
    }
}

/// Checks every entry for `mode`; the first bad one is refused with one line naming it: an
/// unknown head, a segment count the head is not defined for, a weights file or recipe that is
/// missing or unreadable, a fast-mode backbone without weights, the same configuration twice.
pub fn check(raw: &[RawEntry], mode: Mode) -> Result<Vec<Entry>> {
    if raw.is_empty() {
        return Err(Error::Config(
            "the grid is empty: give --backbones, --heads and --segments, or a --grid file".into(),
        ));
    }
    let mut out: Vec<Entry> = Vec::with_capacity(raw.len());
    for r in raw {
        let bad = |why: String| Error::Config(format!("grid entry {r}: {why}"));
        let consensus: Consensus = r.head.parse().map_err(|e| bad(format!("{e}")))?;
        if r.segments == 0 || r.segments > 32 {
            return Err(bad(format!(
                "N = {} is outside 1..=32 segments",
                r.segments
            )));
        }
        if r.segments < consensus.min_segments() {
            return Err(bad(format!(
                "{consensus} needs N >= {} segments",
                consensus.min_segments()
            )));
        }
        let backbone = Backbone::parse(&r.backbone);
        match (&backbone, mode) {
            (Backbone::File(p), _) => {
                if !p.is_file() {
                    return Err(bad(format!("weights file {} not found", p.display())));
                }
                crate::weights::read_config(p)
                    .map_err(|e| bad(format!("cannot use {}: {e}", p.display())))?;
            }
            (Backbone::Arch(_), Mode::Fast) => {
                return Err(bad(
                    "the fast mode freezes a trained backbone: name a weights file, not an \
                     architecture"
                        .into(),
                ))
            }
            (Backbone::Arch(_), Mode::Full) => {}
        }
        if let Some(recipe) = &r.recipe {
            if mode == Mode::Fast {
                return Err(bad(
                    "a recipe trains the whole network: use --mode full".into()
                ));
            }
            if !recipe.is_file() {
                return Err(bad(format!("recipe {} not found", recipe.display())));
            }
        }
        let entry = Entry {
            backbone,
            consensus,
            segments: r.segments,
            recipe: r.recipe.clone(),
        };
        if out.iter().any(|e| e.name() == entry.name()) {
            return Err(bad(format!("{} is in the grid twice", entry.name())));
        }
        out.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(b: &str, h: &str, n: usize) -> RawEntry {
        RawEntry {
            backbone: b.into(),
            head: h.into(),
            segments: n,
            recipe: None,
        }
    }

    #[test]
    fn bad_entries_are_named() {
        let err = |r: RawEntry, m| check(&[r], m).unwrap_err().to_string();
        let e = err(raw("squeezenet1_1", "FOO", 4), Mode::Full);
        assert!(
            e.contains("squeezenet1_1 × FOO × 4") && e.contains("FOO"),
            "{e}"
        );
        let e = err(raw("squeezenet1_1", "TRNmultiscale", 1), Mode::Full);
        assert!(e.contains("N >= 2"), "{e}");
        let e = err(raw("no/such.safetensors", "MLP", 4), Mode::Fast);
        assert!(
            e.contains("no/such.safetensors") && e.contains("not found"),
            "{e}"
        );
        let e = err(raw("BNInception", "MLP", 4), Mode::Fast);
        assert!(e.contains("weights file"), "{e}");
        let twice = [raw("squeezenet1_1", "MLP", 4), raw("squeezenet", "mlp", 4)];
        assert!(check(&twice, Mode::Full)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(check(&[], Mode::Full).is_err());
    }

    #[test]
    fn grid_files_expand_lists_then_runs() {
        let g: GridFile = toml::from_str(
            r#"
            mode = "full"
            backbones = ["squeezenet1_1"]
            heads = ["MLP", "LSTM"]
            segments = [4, 8]
            [[run]]
            backbone = "BNInception"
            head = "TRNmultiscale"
            segments = 8
            "#,
        )
        .unwrap();
        let entries = check(&g.entries(), Mode::Full).unwrap();
        let names: Vec<String> = entries.iter().map(Entry::name).collect();
        assert_eq!(
            names,
            [
                "squeezenet1_1_MLP_4seg",
                "squeezenet1_1_MLP_8seg",
                "squeezenet1_1_LSTM_4seg",
                "squeezenet1_1_LSTM_8seg",
                "BNInception_TRNmultiscale_8seg"
            ]
        );
        assert!(toml::from_str::<GridFile>("hedas = []").is_err());
    }
}
