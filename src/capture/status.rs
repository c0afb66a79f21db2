//! What the capture thread tells everyone besides frames: what the source is, what is wrong
//! with it right now ("opening camera…", "camera stalled", "camera lost, waiting for it"), why
//! its mode is not the one asked for, and how many frames could not be decoded. Written by the
//! capture thread, read by the worker (statistics), the window and `--headless`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
struct Inner {
    description: String,
    health: Option<String>,
    note: Option<String>,
    last_undecodable: Option<String>,
}

/// The capture thread's status board.
#[derive(Default)]
pub struct CaptureStatus {
    inner: Mutex<Inner>,
    undecodable: AtomicU64,
}

impl CaptureStatus {
    // Every update is a single assignment: a poisoned lock still holds consistent data.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the source said it is (empty until it is open).
    pub fn description(&self) -> String {
        self.lock().description.clone()
    }

    pub(crate) fn set_description(&self, d: String) {
        self.lock().description = d;
    }

    /// What is wrong right now, if anything; `None` while frames flow.
    pub fn health(&self) -> Option<String> {
        self.lock().health.clone()
    }

    pub(crate) fn set_health(&self, h: Option<String>) {
        self.lock().health = h;
    }

    /// Why the source runs in another mode than the one asked for, if it does.
    pub fn note(&self) -> Option<String> {
        self.lock().note.clone()
    }

    pub(crate) fn set_note(&self, n: Option<String>) {
        self.lock().note = n;
    }

    /// Frames dropped because they could not be decoded, since the source opened.
    pub fn undecodable(&self) -> u64 {
        self.undecodable.load(Ordering::SeqCst)
    }

    /// Why the last undecodable frame could not be decoded.
    pub fn last_undecodable(&self) -> Option<String> {
        self.lock().last_undecodable.clone()
    }

    pub(crate) fn count_undecodable(&self, why: String) {
        self.lock().last_undecodable = Some(why);
        self.undecodable.fetch_add(1, Ordering::SeqCst);
    }
}
