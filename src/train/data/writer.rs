//! Writing a data set clip by clip, in Jester's layout (`category.txt`,
//! `{train,val}_videofolder.txt`, `rgb/ID/00001.jpg`) plus `dataset.toml` with each clip's frame
//! rate, so `train`, `eval` and `data check` read it as they read Jester. Used by
//! `gesture-app record` and the window's Teach panel.
//!
//! The index files are the commit point. A clip's frames go into a hidden folder
//! (`rgb/.partial-*`) that is renamed to `rgb/ID` only once every frame is on disk; then the
//! rates, the labels and last the index file are replaced atomically. A clip cut short (its
//! [`PendingClip`] dropped, the process killed) leaves the data set as it was. Labels are only
//! ever appended to `category.txt`, so the label index of a clip never changes. One writer at a
//! time: [`DatasetWriter::open`] takes a lock on the folder.

use super::index::{self, ClipEntry};
use super::meta::{valid_fps, ClipRates};
use super::FrameNaming;
use crate::util::write_atomic;
use crate::{Error, Result};
use image::RgbImage;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every M-th clip of a label goes to validation unless told otherwise.
pub const DEFAULT_VAL_EVERY: usize = 5;
/// The training index file.
pub const TRAIN_LIST: &str = "train_videofolder.txt";
/// The validation index file.
pub const VAL_LIST: &str = "val_videofolder.txt";
/// The label file.
pub const LABELS: &str = "category.txt";
/// JPEG quality of stored frames: high enough that compression is not what a model learns.
pub const JPEG_QUALITY: u8 = 90;
/// Longest label accepted (a label is shown in the window and in event lines).
pub const MAX_LABEL_CHARS: usize = 100;

const FRAMES_DIR: &str = "rgb";
const LOCK_FILE: &str = ".gesture-app.lock";
const PARTIAL_PREFIX: &str = ".partial-";
const ID_PREFIX: &str = "rec";

/// Which index file a clip is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Val,
}

impl Split {
    /// The index file of this split.
    pub fn list_name(self) -> &'static str {
        match self {
            Split::Train => TRAIN_LIST,
            Split::Val => VAL_LIST,
        }
    }
}

/// One clip of the data set.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipInfo {
    /// Folder name under `rgb/`.
    pub id: String,
    pub label: String,
    pub frames: usize,
    /// The rate its frames were recorded at (`None` for clips not made by a writer, e.g.
    /// Jester's, whose rate the data set does not say).
    pub fps: Option<f32>,
    pub split: Split,
}

/// Clips of one label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelCount {
    pub label: String,
    pub train: usize,
    pub val: usize,
}

/// An index line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    id: String,
    frames: usize,
    label: usize,
}

/// A data set open for appending and deleting clips. Holds a lock on the folder while it lives.
pub struct DatasetWriter {
    root: PathBuf,
    frames_dir: PathBuf,
    labels: Vec<String>,
    train: Vec<Line>,
    val: Vec<Line>,
    rates: ClipRates,
    val_every: usize,
    next_id: u64,
    _lock: File,
}

/// Checks a label typed by a person: trimmed, not empty, one line, no control characters, at
/// most [`MAX_LABEL_CHARS`]. Returns the trimmed label.
pub fn check_label(label: &str) -> Result<String> {
    let t = label.trim();
    let bad = |why: &str| Err(Error::Data(format!("label {label:?} {why}")));
    if t.is_empty() {
        return bad("is empty");
    }
    if t.contains(['\n', '\r']) {
        return bad("has a line break; a label is one line of category.txt");
    }
    if t.chars().any(char::is_control) {
        return bad("has a control character");
    }
    if t.chars().count() > MAX_LABEL_CHARS {
        return bad(&format!("is longer than {MAX_LABEL_CHARS} characters"));
    }
    Ok(t.to_string())
}

/// Whether the k-th clip (1-based) of a label whose other clips already include `val` in
/// validation goes to validation: every `val_every`-th clip, and the second one when none is
/// there yet, so a label has a validation clip as soon as it has two clips.
pub fn goes_to_val(k: usize, val: usize, val_every: usize) -> bool {
    (val_every > 0 && k.is_multiple_of(val_every)) || (k >= 2 && val == 0)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// True for a folder with nothing in it but what an interrupted writer leaves (hidden files, an
/// `rgb/` of partial clips).
fn is_blank_folder(dir: &Path) -> Result<bool> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if name == FRAMES_DIR && entry.path().is_dir() && is_blank_folder(&entry.path())? {
            continue;
        }
        return Ok(false);
    }
    Ok(true)
}

/// Reads an index file for appending: missing or blank is empty; every line must be
/// `ID NUM_FRAMES LABEL_INDEX`.
fn read_lines(path: &Path, labels: &[String]) -> Result<Vec<Line>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let list = index::parse_list(path, &text, labels)?;
    list.entries
        .into_iter()
        .map(|e: ClipEntry| match (e.num_frames, e.label) {
            (Some(frames), Some(label)) => Ok(Line {
                id: e.id,
                frames,
                label,
            }),
            _ => Err(Error::Parse {
                path: path.to_path_buf(),
                line: e.line,
                reason: "clips are appended as 'ID NUM_FRAMES LABEL_INDEX' lines, and this list \
                         is in another format (the release CSV, or without labels)"
                    .into(),
            }),
        })
        .collect()
}

fn list_text(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| format!("{} {} {}\n", l.id, l.frames, l.label))
        .collect()
}

fn labels_text(labels: &[String]) -> String {
    let mut t = labels.join("\n");
    t.push('\n');
    t
}

/// The number in a writer's clip id (`rec000042` → 42).
fn id_number(id: &str) -> Option<u64> {
    id.strip_prefix(ID_PREFIX)?.parse().ok()
}

impl DatasetWriter {
    /// Opens the data set at `root` for writing, creating it when the folder is missing or
    /// empty. Refuses a folder that holds other things but no `category.txt`, index files in
    /// another format, frames outside `rgb/` or not named like Jester's, and a data set another
    /// writer has open. Partial clips a killed writer left behind are removed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if root.exists() && !root.is_dir() {
            return Err(Error::Data(format!(
                "{} is not a folder; give a new or empty folder, or a data set",
                root.display()
            )));
        }
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        let labels_path = root.join(LABELS);
        let is_dataset = labels_path.exists();
        if !is_dataset && !is_blank_folder(&root)? {
            return Err(Error::Data(format!(
                "{} is not a data set (it has no {LABELS}) and is not empty; record into a new or \
                 empty folder, or into a data set made by `record` or `synth`",
                root.display()
            )));
        }
        let lock_path = root.join(LOCK_FILE);
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Data(format!(
                    "{} is being written by another recording (gesture-app record or the Teach \
                     panel); wait until it ends",
                    root.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let labels = if is_dataset {
            index::read_labels(&labels_path)?
        } else {
            Vec::new()
        };
        let train = read_lines(&root.join(TRAIN_LIST), &labels)?;
        let val = read_lines(&root.join(VAL_LIST), &labels)?;
        let frames_dir = root.join(FRAMES_DIR);
        if let Some(first) = train.iter().chain(&val).next() {
            if !frames_dir.is_dir() {
                return Err(Error::Data(format!(
                    "{}: the clips' frames are not in {FRAMES_DIR}/; record writes Jester's layout \
                     ({FRAMES_DIR}/ID/00001.jpg) and cannot add to this data set",
                    root.display()
                )));
            }
            if let Some(naming) = FrameNaming::detect(&frames_dir.join(&first.id)) {
                if naming != FrameNaming::jester() {
                    return Err(Error::Data(format!(
                        "{}: frames are named like {}, record writes {}; the two cannot be mixed \
                         in one data set",
                        root.display(),
                        naming.file_name(0),
                        FrameNaming::jester().file_name(0)
                    )));
                }
            }
        }
        let rates = ClipRates::read(&root)?;
        let mut next_id = 1;
        for id in train.iter().chain(&val).map(|l| l.id.as_str()) {
            if let Some(n) = id_number(id) {
                next_id = next_id.max(n + 1);
            }
        }
        if frames_dir.is_dir() {
            for entry in std::fs::read_dir(&frames_dir).map_err(io(&frames_dir))? {
                let entry = entry.map_err(io(&frames_dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(PARTIAL_PREFIX) {
                    // We hold the lock: the writer that left it is gone.
                    let _ = std::fs::remove_dir_all(entry.path());
                } else if let Some(n) = id_number(&name) {
                    next_id = next_id.max(n + 1);
                }
            }
        }
        Ok(DatasetWriter {
            root,
            frames_dir,
            labels,
            train,
            val,
            rates,
            val_every: DEFAULT_VAL_EVERY,
            next_id,
            _lock: lock,
        })
    }

    /// Sends every `m`-th clip of a label to validation (and the second one, while a label has
    /// none there). `m` must be at least 2, or no clip would be left to train on.
    pub fn set_val_every(&mut self, m: usize) -> Result<()> {
        if m < 2 {
            return Err(Error::Data(format!(
                "every {m}-th clip to validation would leave none to train on; give 2 or more"
            )));
        }
        self.val_every = m;
        Ok(())
    }

    /// The data set's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The labels in class-index order (the order they were first recorded in).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The label as the data set spells it: `label` checked by [`check_label`], and refused when
    /// it differs from an existing label only in case (the index files match labels ignoring
    /// case, so the two would be confused).
    pub fn resolve_label(&self, label: &str) -> Result<String> {
        let label = check_label(label)?;
        if self.labels.contains(&label) {
            return Ok(label);
        }
        let lower = label.to_lowercase();
        if let Some(same) = self.labels.iter().find(|l| l.to_lowercase() == lower) {
            return Err(Error::Data(format!(
                "label '{label}' differs from the data set's '{same}' only in case; use '{same}'"
            )));
        }
        Ok(label)
    }

    fn info(&self, line: &Line, split: Split) -> ClipInfo {
        ClipInfo {
            id: line.id.clone(),
            label: self.labels[line.label].clone(),
            frames: line.frames,
            fps: self.rates.rate(&line.id),
            split,
        }
    }

    /// Every clip: the training list's, then the validation list's, each in file order.
    pub fn clips(&self) -> Vec<ClipInfo> {
        let train = self.train.iter().map(|l| self.info(l, Split::Train));
        let val = self.val.iter().map(|l| self.info(l, Split::Val));
        train.chain(val).collect()
    }

    /// The clips of `label`, oldest first (by id for recorded clips).
    pub fn clips_of(&self, label: &str) -> Vec<ClipInfo> {
        let mut v: Vec<ClipInfo> = self
            .clips()
            .into_iter()
            .filter(|c| c.label == label)
            .collect();
        v.sort_by_key(|c| (id_number(&c.id), c.id.clone()));
        v
    }

    /// Training and validation clips per label, in label order.
    pub fn counts(&self) -> Vec<LabelCount> {
        let mut out: Vec<LabelCount> = self
            .labels
            .iter()
            .map(|l| LabelCount {
                label: l.clone(),
                train: 0,
                val: 0,
            })
            .collect();
        for l in &self.train {
            out[l.label].train += 1;
        }
        for l in &self.val {
            out[l.label].val += 1;
        }
        out
    }

    /// The folder of clip `id`'s frames.
    pub fn clip_dir(&self, id: &str) -> PathBuf {
        self.frames_dir.join(id)
    }

    /// The file of 0-based frame `index` of clip `id` (for thumbnails and playback).
    pub fn frame_path(&self, id: &str, index: usize) -> PathBuf {
        self.clip_dir(id)
            .join(FrameNaming::jester().file_name(index))
    }

    /// Where the next clip of `label` would go.
    pub fn next_split(&self, label: &str) -> Split {
        let Some(idx) = self.labels.iter().position(|l| l == label) else {
            return Split::Train;
        };
        let train = self.train.iter().filter(|l| l.label == idx).count();
        let val = self.val.iter().filter(|l| l.label == idx).count();
        if goes_to_val(train + val + 1, val, self.val_every) {
            Split::Val
        } else {
            Split::Train
        }
    }

    /// Starts a clip: frames pushed into it are written at once, into a hidden folder that
    /// [`DatasetWriter::finish_clip`] turns into a clip of the data set. Dropped unfinished, it
    /// is deleted and the data set is as before.
    pub fn begin_clip(&mut self) -> Result<PendingClip> {
        std::fs::create_dir_all(&self.frames_dir).map_err(io(&self.frames_dir))?;
        let dir = tempfile::Builder::new()
            .prefix(PARTIAL_PREFIX)
            .tempdir_in(&self.frames_dir)
            .map_err(io(&self.frames_dir))?;
        let id = format!("{ID_PREFIX}{:06}", self.next_id);
        self.next_id += 1;
        Ok(PendingClip {
            dir,
            id,
            frames: 0,
            first_pts: None,
            last_pts: None,
            size: None,
            fps: None,
        })
    }

    /// Adds a finished clip under `label` (a new label is appended to `category.txt`): its
    /// folder becomes `rgb/ID`, its rate goes into `dataset.toml`, and last the index file of
    /// its split names it. On an error the data set is left as it was.
    pub fn finish_clip(&mut self, clip: PendingClip, label: &str) -> Result<ClipInfo> {
        let label = self.resolve_label(label)?;
        let fps = clip.fps()?;
        let id = clip.id.clone();
        let frames = clip.frames;
        let target = self.clip_dir(&id);
        if target.exists() {
            return Err(Error::Data(format!(
                "{} exists already; not overwriting it",
                target.display()
            )));
        }
        let split = self.next_split(&label);
        let partial = clip.dir.keep();
        if let Err(e) = std::fs::rename(&partial, &target) {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(Error::io(&target, e));
        }
        match self.commit(&id, &label, frames, fps, split) {
            Ok(info) => Ok(info),
            Err(e) => {
                // Nothing names the folder: remove it so the data set is as before.
                let _ = std::fs::remove_dir_all(&target);
                Err(e)
            }
        }
    }

    /// Writes the rate, the label and the index line of a clip whose folder is in place; on
    /// an error puts back the files it had replaced.
    fn commit(
        &mut self,
        id: &str,
        label: &str,
        frames: usize,
        fps: f32,
        split: Split,
    ) -> Result<ClipInfo> {
        let mut rates = self.rates.clone();
        rates.clip_fps.insert(id.to_string(), fps);
        let mut labels = self.labels.clone();
        let label_idx = match labels.iter().position(|l| l == label) {
            Some(i) => i,
            None => {
                labels.push(label.to_string());
                labels.len() - 1
            }
        };
        let mut lines = match split {
            Split::Train => self.train.clone(),
            Split::Val => self.val.clone(),
        };
        lines.push(Line {
            id: id.to_string(),
            frames,
            label: label_idx,
        });
        let new_label = labels.len() > self.labels.len();
        let other = match split {
            Split::Train => Split::Val,
            Split::Val => Split::Train,
        };
        let other_path = self.root.join(other.list_name());
        let written = (|| -> Result<()> {
            rates.write(&self.root)?;
            if new_label {
                write_atomic(&self.root.join(LABELS), labels_text(&labels).as_bytes())?;
            }
            if !other_path.exists() {
                // Jester's layout has both lists; an empty one until its first clip.
                write_atomic(&other_path, b"")?;
            }
            // The commit point: from here on the clip is in the data set.
            write_atomic(
                &self.root.join(split.list_name()),
                list_text(&lines).as_bytes(),
            )?;
            Ok(())
        })();
        if let Err(e) = written {
            // Best effort: the files as they were (a rate or label nothing uses is harmless).
            if new_label && !self.labels.is_empty() {
                let _ = write_atomic(
                    &self.root.join(LABELS),
                    labels_text(&self.labels).as_bytes(),
                );
            } else if new_label {
                let _ = std::fs::remove_file(self.root.join(LABELS));
            }
            if self.rates.is_empty() {
                let _ = std::fs::remove_file(ClipRates::path(&self.root));
            } else {
                let _ = self.rates.write(&self.root);
            }
            return Err(e);
        }
        self.rates = rates;
        self.labels = labels;
        match split {
            Split::Train => self.train = lines,
            Split::Val => self.val = lines,
        }
        Ok(ClipInfo {
            id: id.to_string(),
            label: label.to_string(),
            frames,
            fps: Some(fps),
            split,
        })
    }

    /// Adds a whole clip at once: `frames` recorded at `fps` frames a second.
    pub fn add_clip(&mut self, label: &str, frames: &[RgbImage], fps: f32) -> Result<ClipInfo> {
        // Checked before any frame is encoded.
        self.resolve_label(label)?;
        if !valid_fps(fps) {
            return Err(Error::Data(format!(
                "frame rate {fps} is not a usable rate"
            )));
        }
        let mut clip = self.begin_clip()?;
        for (i, f) in frames.iter().enumerate() {
            clip.push(f, Duration::from_secs_f64(i as f64 / fps as f64))?;
        }
        clip.fps = Some(fps);
        self.finish_clip(clip, label)
    }

    /// Deletes clip `id`: first from its index file (so nothing names a missing folder), then
    /// its rate, then its frames. Its label stays in `category.txt` (other clips' label indices
    /// must not change), with no clips if this was its last.
    pub fn delete_clip(&mut self, id: &str) -> Result<()> {
        let (split, pos) = if let Some(p) = self.train.iter().position(|l| l.id == id) {
            (Split::Train, p)
        } else if let Some(p) = self.val.iter().position(|l| l.id == id) {
            (Split::Val, p)
        } else {
            return Err(Error::Data(format!(
                "{}: no clip '{id}' in the data set",
                self.root.display()
            )));
        };
        let mut lines = match split {
            Split::Train => self.train.clone(),
            Split::Val => self.val.clone(),
        };
        lines.remove(pos);
        write_atomic(
            &self.root.join(split.list_name()),
            list_text(&lines).as_bytes(),
        )?;
        match split {
            Split::Train => self.train = lines,
            Split::Val => self.val = lines,
        }
        if self.rates.clip_fps.contains_key(id) {
            let mut rates = self.rates.clone();
            rates.clip_fps.remove(id);
            rates.write(&self.root)?;
            self.rates = rates;
        }
        let dir = self.clip_dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&dir, e)),
        }
    }
}

/// A clip being recorded: frames are written as they come, into a hidden folder removed when
/// the clip is dropped unfinished.
pub struct PendingClip {
    dir: tempfile::TempDir,
    id: String,
    frames: usize,
    first_pts: Option<Duration>,
    last_pts: Option<Duration>,
    size: Option<(u32, u32)>,
    /// The rate given by [`DatasetWriter::add_clip`]; otherwise measured from the timestamps.
    fps: Option<f32>,
}

impl PendingClip {
    /// The id the clip will have in the data set.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Frames written so far.
    pub fn len(&self) -> usize {
        self.frames
    }

    /// True before the first frame.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Time from the first frame to the last.
    pub fn duration(&self) -> Duration {
        match (self.first_pts, self.last_pts) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        }
    }

    /// Writes the next frame, received at `pts` (any clock; only differences count). Frames
    /// must come in time order and keep the first frame's size (a camera that changed mode
    /// mid-clip gives a clip to discard).
    pub fn push(&mut self, image: &RgbImage, pts: Duration) -> Result<()> {
        let path = self
            .dir
            .path()
            .join(FrameNaming::jester().file_name(self.frames));
        if self.last_pts.is_some_and(|last| pts < last) {
            return Err(Error::Data(format!(
                "clip {}: frame {} is older than the frame before it",
                self.id,
                self.frames + 1
            )));
        }
        let size = image.dimensions();
        if let Some(first) = self.size.filter(|&s| s != size) {
            return Err(Error::Data(format!(
                "clip {}: frame {} is {}x{}, the clip's frames are {}x{}",
                self.id,
                self.frames + 1,
                size.0,
                size.1,
                first.0,
                first.1
            )));
        }
        let file = File::create(&path).map_err(io(&path))?;
        let mut w = std::io::BufWriter::new(file);
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut w, JPEG_QUALITY)
            .encode_image(image)
            .map_err(|e| Error::bad_file(&path, format!("cannot encode the frame: {e}")))?;
        w.flush().map_err(io(&path))?;
        // On disk before the index can name the clip.
        w.get_ref().sync_all().map_err(io(&path))?;
        self.size = Some(size);
        self.first_pts.get_or_insert(pts);
        self.last_pts = Some(pts);
        self.frames += 1;
        Ok(())
    }

    /// The rate the frames came at: frames less one over the time they span, rounded to a
    /// thousandth. An error for fewer than two frames or no time between them.
    pub fn fps(&self) -> Result<f32> {
        if let Some(f) = self.fps {
            return Ok(f);
        }
        let span = self.duration().as_secs_f64();
        if self.frames < 2 || span <= 0.0 {
            return Err(Error::Data(format!(
                "clip {} has {} frame(s) over {span:.3} s: too short to know its frame rate",
                self.id, self.frames
            )));
        }
        let fps = (((self.frames - 1) as f64 / span) * 1000.0).round() / 1000.0;
        let fps = fps as f32;
        if !valid_fps(fps) {
            return Err(Error::Data(format!(
                "clip {}: its frames came at {fps} frames a second, not a usable rate",
                self.id
            )));
        }
        Ok(fps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::data::DataSpec;

    fn frames(n: usize, shade: u8) -> Vec<RgbImage> {
        (0..n)
            .map(|i| RgbImage::from_pixel(16, 12, image::Rgb([shade, i as u8 * 20, 0])))
            .collect()
    }

    fn read(root: &Path, name: &str) -> String {
        std::fs::read_to_string(root.join(name)).unwrap()
    }

    /// Every file of the data set with its contents (frames by size), for before/after checks.
    fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.file_name().unwrap() == LOCK_FILE {
                    continue;
                }
                if p.is_dir() {
                    out.push((p.strip_prefix(root).unwrap().to_path_buf(), Vec::new()));
                    walk(root, &p, out);
                } else {
                    let bytes = std::fs::read(&p).unwrap();
                    out.push((p.strip_prefix(root).unwrap().to_path_buf(), bytes));
                }
            }
        }
        let mut out = Vec::new();
        walk(root, root, &mut out);
        out.sort();
        out
    }

    #[test]
    fn appends_in_jesters_layout_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("set");
        let mut w = DatasetWriter::open(&root).unwrap();
        let a = w.add_clip("Thumb Up", &frames(6, 10), 30.0).unwrap();
        assert_eq!(
            (a.id.as_str(), a.split, a.frames, a.fps),
            ("rec000001", Split::Train, 6, Some(30.0))
        );
        w.add_clip(" Two Fingers ", &frames(5, 20), 15.0).unwrap();
        let c = w.add_clip("Thumb Up", &frames(4, 30), 30.0).unwrap();
        assert_eq!(
            c.split,
            Split::Val,
            "the second clip of a label is validation"
        );
        assert_eq!(read(&root, LABELS), "Thumb Up\nTwo Fingers\n");
        assert_eq!(read(&root, TRAIN_LIST), "rec000001 6 0\nrec000002 5 1\n");
        assert_eq!(read(&root, VAL_LIST), "rec000003 4 0\n");
        assert!(root.join("rgb/rec000001/00006.jpg").is_file());
        assert!(!root.join("rgb/rec000001/00007.jpg").exists());
        drop(w);

        // What train/eval/data check read.
        let ds = DataSpec::new(&root).open(Path::new(TRAIN_LIST)).unwrap();
        assert_eq!(ds.labels, vec!["Thumb Up", "Two Fingers"]);
        assert_eq!(ds.naming, FrameNaming::jester());
        assert_eq!(ds.rates.rate("rec000002"), Some(15.0));
        let img = crate::preprocess::load_frame(&ds.frame_path(&ds.list.entries[0], 0)).unwrap();
        assert_eq!(img.dimensions(), (16, 12));

        // Reopened: ids go on, existing labels keep their index, a new one is appended.
        let mut w = DatasetWriter::open(&root).unwrap();
        let d = w.add_clip("Fist", &frames(3, 40), 12.0).unwrap();
        assert_eq!(d.id, "rec000004");
        w.add_clip("Two Fingers", &frames(3, 50), 12.0).unwrap();
        assert_eq!(read(&root, LABELS), "Thumb Up\nTwo Fingers\nFist\n");
        assert_eq!(
            read(&root, TRAIN_LIST),
            "rec000001 6 0\nrec000002 5 1\nrec000004 3 2\n"
        );
        assert_eq!(read(&root, VAL_LIST), "rec000003 4 0\nrec000005 3 1\n");
        assert_eq!(
            w.counts(),
            vec![
                LabelCount {
                    label: "Thumb Up".into(),
                    train: 1,
                    val: 1
                },
                LabelCount {
                    label: "Two Fingers".into(),
                    train: 1,
                    val: 1
                },
                LabelCount {
                    label: "Fist".into(),
                    train: 1,
                    val: 0
                },
            ]
        );
        let ids: Vec<String> = w.clips_of("Thumb Up").into_iter().map(|c| c.id).collect();
        assert_eq!(ids, vec!["rec000001", "rec000003"]);
        assert_eq!(
            w.frame_path("rec000004", 2),
            root.join("rgb/rec000004/00003.jpg")
        );
    }

    #[test]
    fn every_mth_clip_and_the_second_go_to_validation() {
        // Clip k of a label, with the validation clips before it counted.
        let mut val = 0;
        let mut picked = Vec::new();
        for k in 1..=12 {
            if goes_to_val(k, val, 5) {
                val += 1;
                picked.push(k);
            }
        }
        assert_eq!(picked, vec![2, 5, 10]);
        assert!(!goes_to_val(1, 0, 5), "a single clip trains");

        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::open(dir.path()).unwrap();
        assert!(w.set_val_every(1).is_err());
        w.set_val_every(3).unwrap();
        let mut splits = Vec::new();
        for i in 0..7 {
            // Two labels interleaved: the rule counts per label.
            splits.push(w.add_clip("a", &frames(2, i), 10.0).unwrap().split);
            w.add_clip("b", &frames(2, i), 10.0).unwrap();
        }
        use Split::{Train as T, Val as V};
        assert_eq!(splits, vec![T, V, V, T, T, V, T]);
        assert_eq!(w.counts()[1].val, 3);
        // A deleted validation clip is made up for by the next clip of the label.
        let first_val = w.clips_of("a").into_iter().find(|c| c.split == V).unwrap();
        w.delete_clip(&first_val.id).unwrap();
        w.delete_clip("rec000011").unwrap();
        let left: Vec<Split> = w.clips_of("a").iter().map(|c| c.split).collect();
        assert_eq!(left, vec![T, V, T, T, T]);
        assert_eq!(w.next_split("a"), V, "clip 6 of a is the 3rd's multiple");
    }

    #[test]
    fn an_unfinished_clip_leaves_the_set_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut w = DatasetWriter::open(root).unwrap();
        w.add_clip("a", &frames(4, 1), 12.0).unwrap();
        w.add_clip("a", &frames(4, 2), 12.0).unwrap();
        let before = snapshot(root);
        let mut clip = w.begin_clip().unwrap();
        for (i, f) in frames(3, 9).iter().enumerate() {
            clip.push(f, Duration::from_millis(33 * i as u64)).unwrap();
        }
        assert_eq!(clip.len(), 3);
        drop(clip); // Ctrl-C, a lost camera...
        assert_eq!(snapshot(root), before);

        // A writer killed mid-clip leaves a hidden partial folder: never named by the index,
        // and removed by the next writer.
        let partial = root.join("rgb/.partial-killed");
        std::fs::create_dir_all(&partial).unwrap();
        std::fs::write(partial.join("00001.jpg"), b"half").unwrap();
        drop(w);
        let ds = DataSpec::new(root).open(Path::new(TRAIN_LIST)).unwrap();
        assert_eq!(ds.len(), 1);
        let mut w = DatasetWriter::open(root).unwrap();
        assert!(!partial.exists());
        assert_eq!(snapshot(root), before);
        // The finished clips are all there, and the next clip is added after them.
        assert_eq!(w.clips().len(), 2);
        let mut clip = w.begin_clip().unwrap();
        for (i, f) in frames(5, 7).iter().enumerate() {
            clip.push(f, Duration::from_millis(40 * i as u64)).unwrap();
        }
        assert_eq!(clip.fps().unwrap(), 25.0);
        let info = w.finish_clip(clip, "b").unwrap();
        assert_eq!((info.frames, info.fps), (5, Some(25.0)));
        assert_eq!(ClipRates::read(root).unwrap().rate(&info.id), Some(25.0));
    }

    #[test]
    fn a_failed_index_write_keeps_the_previous_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut w = DatasetWriter::open(root).unwrap();
        w.add_clip("a", &frames(3, 1), 12.0).unwrap();
        let before = snapshot(root);
        // The validation list cannot be replaced (a folder stands in its way).
        std::fs::remove_file(root.join(VAL_LIST)).unwrap();
        std::fs::create_dir(root.join(VAL_LIST)).unwrap();
        let e = w.add_clip("a", &frames(3, 2), 12.0).unwrap_err();
        assert!(e.to_string().contains(VAL_LIST), "{e}");
        // (The empty list file and the folder in its place look alike here.)
        assert_eq!(snapshot(root), before);
        // Also for a new label: category.txt and dataset.toml are put back.
        let train = std::fs::read(root.join(TRAIN_LIST)).unwrap();
        std::fs::remove_file(root.join(TRAIN_LIST)).unwrap();
        std::fs::create_dir(root.join(TRAIN_LIST)).unwrap();
        let before = snapshot(root);
        let e = w.add_clip("b", &frames(3, 4), 12.0).unwrap_err();
        assert!(e.to_string().contains(TRAIN_LIST), "{e}");
        assert_eq!(snapshot(root), before);
        assert_eq!(read(root, LABELS), "a\n");
        assert_eq!(w.labels(), ["a"]);
        std::fs::remove_dir(root.join(TRAIN_LIST)).unwrap();
        std::fs::write(root.join(TRAIN_LIST), train).unwrap();
        w.add_clip("b", &frames(3, 4), 12.0).unwrap();
        assert_eq!(read(root, LABELS), "a\nb\n");
        // No temp file is left by the atomic writes.
        assert!(std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with(".tmp")));
    }

    #[test]
    fn deleting_a_clip_keeps_the_labels() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut w = DatasetWriter::open(root).unwrap();
        let a = w.add_clip("a", &frames(3, 1), 12.0).unwrap();
        w.add_clip("b", &frames(3, 2), 12.0).unwrap();
        w.delete_clip(&a.id).unwrap();
        assert!(!root.join("rgb").join(&a.id).exists());
        assert_eq!(read(root, TRAIN_LIST), "rec000002 3 1\n");
        assert_eq!(read(root, LABELS), "a\nb\n");
        assert_eq!(ClipRates::read(root).unwrap().rate(&a.id), None);
        let e = w.delete_clip(&a.id).unwrap_err().to_string();
        assert!(e.contains("no clip 'rec000001'"), "{e}");
    }

    #[test]
    fn refuses_bad_labels_folders_and_a_second_writer() {
        for (label, needle) in [
            ("", "is empty"),
            ("   ", "is empty"),
            ("a\nb", "line break"),
            ("a\tb", "control character"),
        ] {
            let e = check_label(label).unwrap_err().to_string();
            assert!(e.contains(needle), "{label:?}: {e}");
        }
        assert!(check_label(&"x".repeat(101)).is_err());
        assert_eq!(check_label("  Thumb Up ").unwrap(), "Thumb Up");

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("set");
        let mut w = DatasetWriter::open(&root).unwrap();
        w.add_clip("Thumb Up", &frames(2, 1), 12.0).unwrap();
        let e = w.resolve_label("thumb up").unwrap_err().to_string();
        assert!(e.contains("only in case"), "{e}");
        let e = w.add_clip("", &frames(2, 1), 12.0).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = w.add_clip("x", &frames(2, 1), f32::NAN).unwrap_err();
        assert!(e.to_string().contains("not a usable rate"), "{e}");
        let e = DatasetWriter::open(&root).err().unwrap().to_string();
        assert!(e.contains("being written by another recording"), "{e}");
        drop(w);
        DatasetWriter::open(&root).unwrap();

        // A folder of other things, a file, a list in the release CSV format.
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "x").unwrap();
        let e = DatasetWriter::open(&other).err().unwrap().to_string();
        assert!(
            e.contains("is not a data set") && e.contains("not empty"),
            "{e}"
        );
        let e = DatasetWriter::open(other.join("notes.txt")).err().unwrap();
        assert!(e.to_string().contains("is not a folder"), "{e}");
        let csv = dir.path().join("csv");
        std::fs::create_dir_all(csv.join("rgb")).unwrap();
        std::fs::write(csv.join(LABELS), "a\n").unwrap();
        std::fs::write(csv.join(TRAIN_LIST), "1;a\n").unwrap();
        let e = DatasetWriter::open(&csv).err().unwrap().to_string();
        assert!(e.contains("another format"), "{e}");
    }

    #[test]
    fn pending_clips_check_their_frames() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::open(dir.path()).unwrap();
        let mut clip = w.begin_clip().unwrap();
        assert!(clip.fps().is_err(), "no frames, no rate");
        clip.push(&frames(1, 0)[0], Duration::from_millis(100))
            .unwrap();
        let e = clip.push(&frames(1, 0)[0], Duration::from_millis(50));
        assert!(e.unwrap_err().to_string().contains("older"));
        let e = clip.push(&RgbImage::new(8, 8), Duration::from_millis(150));
        assert!(e.unwrap_err().to_string().contains("16x12"));
        let e = w.finish_clip(clip, "a").unwrap_err().to_string();
        assert!(e.contains("too short"), "{e}");
        assert!(!dir.path().join(LABELS).exists());
    }
}
