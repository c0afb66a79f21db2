//! Data sets for training and evaluation: index files ([`index`]), where a clip's frames live
//! on disk ([`Dataset`]), augmentation ([`augment`], [`flip`]) and the threaded batch loader
//! ([`loader`]); [`check`] audits a data set without training on it.

pub mod augment;
pub mod check;
pub mod flip;
pub mod index;
pub mod landmarks;
pub mod loader;
pub mod meta;
pub mod writer;

use crate::{Error, Result};
use index::{ClipEntry, ClipList};
use meta::ClipRates;
use std::path::{Path, PathBuf};

/// How a data set's frame files are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameNaming {
    /// Zero-padded width of the frame number: 5 for Jester (`00001.jpg`), 6 for
    /// Something-Something v2 after extraction (`000001.jpg`).
    pub digits: usize,
    pub ext: String,
}

impl FrameNaming {
    /// Jester's `00001.jpg`.
    pub fn jester() -> Self {
        FrameNaming {
            digits: 5,
            ext: "jpg".into(),
        }
    }

    /// Something-Something v2's `000001.jpg`.
    pub fn something() -> Self {
        FrameNaming {
            digits: 6,
            ext: "jpg".into(),
        }
    }

    /// The file name of 0-based frame `index`.
    pub fn file_name(&self, index: usize) -> String {
        format!("{:0width$}.{}", index + 1, self.ext, width = self.digits)
    }

    /// Reads the naming off a clip folder: the file whose stem is a zero-padded 1.
    pub fn detect(clip_dir: &Path) -> Option<Self> {
        let rd = std::fs::read_dir(clip_dir).ok()?;
        for entry in rd.flatten() {
            let name = entry.file_name();
            let name = name.to_str()?;
            let (stem, ext) = name.rsplit_once('.')?;
            let ext_ok = matches!(ext.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png");
            if ext_ok && stem.len() > 1 && stem.trim_start_matches('0') == "1" {
                return Some(FrameNaming {
                    digits: stem.len(),
                    ext: ext.to_string(),
                });
            }
        }
        None
    }
}

/// A labelled clip list together with where its frames are.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The folder holding one sub-folder of frames per clip id.
    pub frames_dir: PathBuf,
    pub naming: FrameNaming,
    pub labels: Vec<String>,
    pub list: ClipList,
    /// The rate each clip was recorded at (`dataset.toml`); empty for Jester and `synth`.
    pub rates: ClipRates,
}

impl Dataset {
    /// The folder of a clip's frames.
    pub fn clip_dir(&self, entry: &ClipEntry) -> PathBuf {
        self.frames_dir.join(&entry.id)
    }

    /// The file of 0-based frame `index` of a clip.
    pub fn frame_path(&self, entry: &ClipEntry, index: usize) -> PathBuf {
        self.clip_dir(entry).join(self.naming.file_name(index))
    }

    /// The landmark file of a clip, in a landmark data set.
    pub fn landmark_path(&self, entry: &ClipEntry) -> PathBuf {
        self.frames_dir.join(format!("{}.json", entry.id))
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        self.list.entries.len()
    }

    /// True when the list has no clips.
    pub fn is_empty(&self) -> bool {
        self.list.entries.is_empty()
    }

    /// Refuses lists with unlabelled clips (training and evaluation need every label).
    pub fn require_labels(&self) -> Result<()> {
        match self.list.entries.iter().find(|e| e.label.is_none()) {
            None => Ok(()),
            Some(e) => Err(Error::Parse {
                path: self.list.path.clone(),
                line: e.line,
                reason: format!(
                    "clip {} has no label; training and evaluation need one",
                    e.id
                ),
            }),
        }
    }
}

impl Dataset {
    /// Re-indexes the clips' labels to `labels` (a model's), matching by name — exactly, else
    /// ignoring case, as the index files do — so a data set whose label file lists the model's
    /// labels in another order, or only some of them, is evaluated in the model's classes.
    /// Labels of the clips that `labels` does not have are an error naming them.
    pub fn relabel(&mut self, labels: &[String]) -> Result<()> {
        let find = |name: &str| {
            let lower = name.to_lowercase();
            labels
                .iter()
                .position(|l| l == name)
                .or_else(|| labels.iter().position(|l| l.to_lowercase() == lower))
        };
        let map: Vec<Option<usize>> = self.labels.iter().map(|l| find(l)).collect();
        let mut unknown: Vec<(usize, usize)> = Vec::new();
        for e in &self.list.entries {
            if let Some(l) = e.label.filter(|&l| map[l].is_none()) {
                match unknown.iter_mut().find(|(u, _)| *u == l) {
                    Some((_, n)) => *n += 1,
                    None => unknown.push((l, 1)),
                }
            }
        }
        if !unknown.is_empty() {
            let named: Vec<String> = unknown
                .iter()
                .map(|&(l, n)| {
                    format!(
                        "'{}' ({n} clip{})",
                        self.labels[l],
                        if n == 1 { "" } else { "s" }
                    )
                })
                .collect();
            return Err(Error::Data(format!(
                "{}: the model does not know the label{} {}; it knows {}",
                self.list.path.display(),
                if named.len() == 1 { "" } else { "s" },
                named.join(", "),
                labels.join(", ")
            )));
        }
        for e in &mut self.list.entries {
            e.label = e.label.and_then(|l| map[l]);
        }
        self.labels = labels.to_vec();
        Ok(())
    }
}

/// Where a data set lives and how to read it; resolved into [`Dataset`]s by [`DataSpec::open`].
#[derive(Debug, Clone)]
pub struct DataSpec {
    /// The data set root (holds `category.txt`, the index files and the frames).
    pub root: PathBuf,
    /// Label file; default `ROOT/category.txt`, else `ROOT/jester-v1-labels.csv`.
    pub labels: Option<PathBuf>,
    /// Frames folder; default `ROOT/rgb` when it exists, else `ROOT`.
    pub frames_dir: Option<PathBuf>,
    /// Frame naming; default read off the first clip folder, else Jester's.
    pub naming: Option<FrameNaming>,
}

impl DataSpec {
    /// A spec with every default.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataSpec {
            root: root.into(),
            labels: None,
            frames_dir: None,
            naming: None,
        }
    }

    /// Resolves a path given on the command line: as given if it exists or is absolute, else
    /// relative to the root.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() || p.exists() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }

    /// The label file in use.
    pub fn labels_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.labels {
            return Ok(self.resolve(p));
        }
        for name in [
            "category.txt",
            "jester-v1-labels.csv",
            "something-something-v2-labels.json",
        ] {
            let p = self.root.join(name);
            if p.exists() {
                return Ok(p);
            }
        }
        Err(Error::Data(format!(
            "no label file: {} has neither category.txt, jester-v1-labels.csv nor \
             something-something-v2-labels.json (give --labels FILE)",
            self.root.display()
        )))
    }

    /// Opens the index file `list` (relative to the root unless it exists as given).
    pub fn open(&self, list: &Path) -> Result<Dataset> {
        if !self.root.is_dir() {
            return Err(Error::Data(format!(
                "data root {} is not a folder",
                self.root.display()
            )));
        }
        let labels = index::read_labels(&self.labels_path()?)?;
        let list = index::read_list(&self.resolve(list), &labels)?;
        let frames_dir = match &self.frames_dir {
            Some(d) => self.resolve(d),
            None if self.root.join("rgb").is_dir() => self.root.join("rgb"),
            // A landmark data set (docs/ARCHITECTURE.md §7): one ID.json per clip.
            None if self.root.join("landmarks").is_dir() => self.root.join("landmarks"),
            None => self.root.clone(),
        };
        let naming = match &self.naming {
            Some(n) => n.clone(),
            None => list
                .entries
                .iter()
                .take(20)
                .find_map(|e| FrameNaming::detect(&frames_dir.join(&e.id)))
                .unwrap_or_else(FrameNaming::jester),
        };
        Ok(Dataset {
            frames_dir,
            naming,
            labels,
            list,
            rates: ClipRates::read(&self.root)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_detects_padding_width() {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("7");
        std::fs::create_dir(&clip).unwrap();
        std::fs::write(clip.join("000001.jpg"), b"x").unwrap();
        std::fs::write(clip.join("000002.jpg"), b"x").unwrap();
        let n = FrameNaming::detect(&clip).unwrap();
        assert_eq!(n, FrameNaming::something());
        assert_eq!(n.file_name(9), "000010.jpg");
        assert_eq!(FrameNaming::jester().file_name(0), "00001.jpg");
        assert!(FrameNaming::detect(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn open_resolves_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("category.txt"), "a\nb\n").unwrap();
        std::fs::write(dir.path().join("val.txt"), "c1 3 1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("rgb/c1")).unwrap();
        std::fs::write(dir.path().join("rgb/c1/00001.png"), b"x").unwrap();
        let ds = DataSpec::new(dir.path())
            .open(Path::new("val.txt"))
            .unwrap();
        assert_eq!(ds.frames_dir, dir.path().join("rgb"));
        assert_eq!(ds.naming.ext, "png");
        assert_eq!(
            ds.frame_path(&ds.list.entries[0], 2),
            dir.path().join("rgb/c1/00003.png")
        );
        let e = DataSpec::new(dir.path().join("nope"))
            .open(Path::new("val.txt"))
            .unwrap_err();
        assert!(e.to_string().contains("is not a folder"));
    }

    #[test]
    fn relabel_matches_labels_by_name() {
        let entry = |id: &str, label| ClipEntry {
            id: id.into(),
            num_frames: Some(3),
            label: Some(label),
            line: 1,
        };
        let ds = Dataset {
            frames_dir: "rgb".into(),
            naming: FrameNaming::jester(),
            labels: vec!["Swiping Right".into(), "no gesture".into(), "Fist".into()],
            list: ClipList {
                path: "val.txt".into(),
                entries: vec![entry("1", 0), entry("2", 1), entry("3", 0)],
            },
            rates: ClipRates::default(),
        };
        let model: Vec<String> = ["No gesture", "Swiping Left", "Swiping Right"]
            .map(String::from)
            .to_vec();
        // Another order, a subset in use, a label spelt in another case.
        let mut d = ds.clone();
        d.relabel(&model).unwrap();
        assert_eq!(d.labels, model);
        let got: Vec<_> = d.list.entries.iter().map(|e| e.label).collect();
        assert_eq!(got, vec![Some(2), Some(0), Some(2)]);
        // A label the model lacks, used by clips, is named with its clip count.
        let mut d = ds.clone();
        d.list.entries.push(entry("4", 2));
        d.list.entries.push(entry("5", 2));
        let e = d.relabel(&model).unwrap_err().to_string();
        assert!(
            e.starts_with("val.txt: the model does not know the label 'Fist' (2 clips); it knows No gesture, "),
            "{e}"
        );
    }
}
