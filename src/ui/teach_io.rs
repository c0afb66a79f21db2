//! The Teach panel's file work, on a thread of its own so the window never waits on a disk: the
//! data set writer (frames of the clip being recorded, finishing and deleting clips) and the
//! decoding of stored frames for thumbnails and playback. The UI sends [`IoCmd`]s and reads
//! [`IoReply`]s; every reply wakes the window.

use crate::capture::Waker;
use crate::train::data::writer::{ClipInfo, DatasetWriter, LabelCount, PendingClip};
use crossbeam_channel::{Receiver, Sender};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 96;
/// Longest side of a played-back frame, in pixels.
pub const PLAY_SIDE: u32 = 240;

/// What the UI asks of the file thread.
pub enum IoCmd {
    /// Lists the data set (opening it for writing when `create`, or when it exists).
    Open { create: bool },
    /// Starts a clip (the previous unfinished one, if any, is discarded).
    Begin,
    /// The next frame of the clip being recorded.
    Frame(Arc<RgbImage>, Duration),
    /// Adds the clip being recorded to the data set under this label.
    Finish(String),
    /// Drops the clip being recorded.
    Discard,
    /// Deletes a stored clip.
    Delete(String),
    /// Decodes the middle frame of a clip (`frames` long) as its thumbnail.
    Thumb { id: String, frames: usize },
    /// Decodes every frame of a clip for playback.
    Play { id: String, frames: usize },
}

/// The data set as the panel lists it.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub labels: Vec<String>,
    pub counts: Vec<LabelCount>,
    pub clips: Vec<ClipInfo>,
}

/// What the file thread answers.
pub enum IoReply {
    /// The data set after a change (or once opened).
    Listing(Listing),
    /// A clip was added: the data set with it, and the clip.
    Saved(Listing, ClipInfo),
    Thumb(String, egui::ColorImage),
    /// A clip's frames and the rate they were recorded at.
    Frames(String, Vec<egui::ColorImage>, Option<f32>),
    /// Something failed: what, and why (recording stops on a failed frame or clip).
    Failed {
        what: String,
        why: String,
    },
}

/// The file thread's end of the channels.
pub struct IoThread {
    pub tx: Sender<IoCmd>,
    pub rx: Receiver<IoReply>,
}

impl IoThread {
    /// Starts the thread for the data set at `root` (nothing is created before the first
    /// `Open { create: true }`).
    pub fn spawn(root: PathBuf, waker: Waker) -> std::io::Result<Self> {
        let (tx, cmd_rx) = crossbeam_channel::unbounded();
        let (reply_tx, rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("teach-io".into())
            .spawn(move || {
                let mut state = IoState {
                    root,
                    writer: None,
                    clip: None,
                    clip_failed: false,
                };
                for cmd in cmd_rx {
                    if let Some(reply) = state.handle(cmd) {
                        if reply_tx.send(reply).is_err() {
                            break;
                        }
                        waker();
                    }
                }
            })?;
        Ok(IoThread { tx, rx })
    }
}

struct IoState {
    root: PathBuf,
    writer: Option<DatasetWriter>,
    clip: Option<PendingClip>,
    /// A frame of the current clip failed: the rest of its frames are ignored.
    clip_failed: bool,
}

fn failed(what: impl Into<String>, why: impl std::fmt::Display) -> Option<IoReply> {
    Some(IoReply::Failed {
        what: what.into(),
        why: why.to_string(),
    })
}

impl IoState {
    fn writer(&mut self, create: bool) -> Result<Option<&mut DatasetWriter>, crate::Error> {
        if self.writer.is_none() && (create || self.root.join("category.txt").exists()) {
            self.writer = Some(DatasetWriter::open(&self.root)?);
        }
        Ok(self.writer.as_mut())
    }

    fn list(&self) -> Listing {
        match &self.writer {
            Some(w) => Listing {
                labels: w.labels().to_vec(),
                counts: w.counts(),
                clips: w.clips(),
            },
            None => Listing::default(),
        }
    }

    fn listing(&self) -> Option<IoReply> {
        Some(IoReply::Listing(self.list()))
    }

    fn handle(&mut self, cmd: IoCmd) -> Option<IoReply> {
        match cmd {
            IoCmd::Open { create } => match self.writer(create) {
                Ok(_) => self.listing(),
                Err(e) => failed(format!("opening {}", self.root.display()), e),
            },
            IoCmd::Begin => {
                self.clip = None;
                self.clip_failed = false;
                let begun = match self.writer(true) {
                    Ok(Some(w)) => w.begin_clip(),
                    Ok(None) => Err(crate::Error::Data("no data set".into())),
                    Err(e) => Err(e),
                };
                match begun {
                    Ok(c) => {
                        self.clip = Some(c);
                        None
                    }
                    Err(e) => {
                        self.clip_failed = true;
                        failed("starting a clip", e)
                    }
                }
            }
            IoCmd::Frame(image, pts) => {
                let clip = self.clip.as_mut().filter(|_| !self.clip_failed)?;
                match clip.push(&image, pts) {
                    Ok(()) => None,
                    Err(e) => {
                        self.clip_failed = true;
                        failed(format!("recording clip {}", clip.id()), e)
                    }
                }
            }
            IoCmd::Finish(label) => {
                let clip = self.clip.take()?;
                if self.clip_failed {
                    return None;
                }
                let w = self.writer.as_mut()?;
                match w.finish_clip(clip, &label) {
                    Ok(info) => Some(IoReply::Saved(self.list(), info)),
                    Err(e) => failed(format!("saving a clip of '{label}'"), e),
                }
            }
            IoCmd::Discard => {
                self.clip = None;
                None
            }
            IoCmd::Delete(id) => match self.writer(false) {
                Ok(Some(w)) => match w.delete_clip(&id) {
                    Ok(()) => self.listing(),
                    Err(e) => failed(format!("deleting clip {id}"), e),
                },
                Ok(None) => None,
                Err(e) => failed(format!("deleting clip {id}"), e),
            },
            IoCmd::Thumb { id, frames } => {
                let path = self.frame_path(&id, frames / 2)?;
                match load_scaled(&path, THUMB_SIDE) {
                    Ok(img) => Some(IoReply::Thumb(id, img)),
                    Err(why) => failed(format!("thumbnail of clip {id}"), why),
                }
            }
            IoCmd::Play { id, frames } => {
                let mut out = Vec::with_capacity(frames);
                for i in 0..frames {
                    let path = self.frame_path(&id, i)?;
                    match load_scaled(&path, PLAY_SIDE) {
                        Ok(img) => out.push(img),
                        Err(why) => return failed(format!("playing clip {id}"), why),
                    }
                }
                let fps = self
                    .writer
                    .as_ref()
                    .and_then(|w| w.clips().into_iter().find(|c| c.id == id))
                    .and_then(|c| c.fps);
                Some(IoReply::Frames(id, out, fps))
            }
        }
    }

    fn frame_path(&self, id: &str, index: usize) -> Option<PathBuf> {
        Some(self.writer.as_ref()?.frame_path(id, index))
    }
}

/// Decodes a stored frame and shrinks it to fit `side`×`side`.
fn load_scaled(path: &Path, side: u32) -> Result<egui::ColorImage, String> {
    let img = image::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_rgb8();
    let img = image::imageops::thumbnail(&img, side, side);
    let (w, h) = img.dimensions();
    Ok(egui::ColorImage::from_rgb(
        [w as usize, h as usize],
        img.as_raw(),
    ))
}
