//! The bounded frame ring between the capture thread and its readers. Writing never waits:
//! when the ring is full the oldest frame is dropped. Readers take cheap snapshots (frames are
//! reference-counted) and can wait, with a timeout, for a frame newer than the one they saw.

use super::status::CaptureStatus;
use image::RgbImage;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A captured frame: shared pixels plus the two clocks the pipeline needs.
#[derive(Clone)]
pub struct Frame {
    /// Position in the capture stream, from 0, without gaps (also across overwrites).
    pub seq: u64,
    /// Presentation time on the source's clock (what frame-rate regulation reads).
    pub pts: Duration,
    /// When the capture thread had the frame: the start of glass-to-label latency.
    pub captured_at: Instant,
    pub image: Arc<RgbImage>,
}

/// Whether more frames will come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingState {
    Open,
    /// A finite source ended normally.
    Finished,
    /// The source failed; the message says why.
    Failed(String),
}

struct Inner {
    frames: VecDeque<Frame>,
    next_seq: u64,
    /// Frames up to (excluding) this sequence number have been handled by the reader that
    /// reports it ([`FrameRing::mark_consumed`]; batch playback waits on it).
    consumed: u64,
    overwritten: u64,
    state: RingState,
}

/// A fixed-capacity ring of the newest frames.
pub struct FrameRing {
    capacity: usize,
    inner: Mutex<Inner>,
    newer: Condvar,
    /// Signalled when the reader reports frames handled.
    taken: Condvar,
    status: CaptureStatus,
}

impl FrameRing {
    /// A ring holding at most `capacity` frames (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        FrameRing {
            capacity,
            inner: Mutex::new(Inner {
                frames: VecDeque::with_capacity(capacity),
                next_seq: 0,
                consumed: 0,
                overwritten: 0,
                state: RingState::Open,
            }),
            newer: Condvar::new(),
            taken: Condvar::new(),
            status: CaptureStatus::default(),
        }
    }

    // A panic elsewhere while holding the lock leaves the ring's data consistent (every
    // mutation is a single push/pop), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The capture thread's status: description, health, undecodable frames.
    pub fn status(&self) -> &CaptureStatus {
        &self.status
    }

    /// How many frames the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends a frame, dropping the oldest if full; returns its sequence number.
    pub fn push(&self, image: Arc<RgbImage>, pts: Duration, captured_at: Instant) -> u64 {
        let mut inner = self.lock();
        if inner.frames.len() == self.capacity {
            inner.frames.pop_front();
            inner.overwritten += 1;
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.frames.push_back(Frame {
            seq,
            pts,
            captured_at,
            image,
        });
        drop(inner);
        self.newer.notify_all();
        seq
    }

    /// Marks the end of the stream (normal or failed) and wakes every waiting reader.
    pub fn close(&self, state: RingState) {
        let mut inner = self.lock();
        if inner.state == RingState::Open {
            inner.state = state;
        }
        drop(inner);
        self.newer.notify_all();
    }

    /// Whether the stream is still open, and if not, why.
    pub fn state(&self) -> RingState {
        self.lock().state.clone()
    }

    /// The newest frame, if any.
    pub fn latest(&self) -> Option<Frame> {
        self.lock().frames.back().cloned()
    }

    /// Every frame the ring holds, oldest first.
    pub fn snapshot(&self) -> Vec<Frame> {
        self.lock().frames.iter().cloned().collect()
    }

    /// Number of frames held now.
    pub fn len(&self) -> usize {
        self.lock().frames.len()
    }

    /// True when the ring holds no frame.
    pub fn is_empty(&self) -> bool {
        self.lock().frames.is_empty()
    }

    /// Frames written so far.
    pub fn pushed(&self) -> u64 {
        self.lock().next_seq
    }

    /// Frames dropped because the ring was full.
    pub fn overwritten(&self) -> u64 {
        self.lock().overwritten
    }

    /// The reader has handled every frame up to and including `seq` (batch playback releases
    /// the next frame only then).
    pub fn mark_consumed(&self, seq: u64) {
        let mut inner = self.lock();
        inner.consumed = inner.consumed.max(seq + 1);
        drop(inner);
        self.taken.notify_all();
    }

    /// Waits up to `timeout` until the reader has handled frame `seq`; false on timeout.
    pub fn wait_consumed(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            if inner.consumed > seq {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self
                .taken
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits up to `timeout` for a frame with a sequence number above `after` (any frame if
    /// `None`). Returns true if there is one; false on timeout or when the stream has ended
    /// without one.
    pub fn wait_for_newer(&self, after: Option<u64>, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            let has_newer = match (inner.frames.back(), after) {
                (Some(f), Some(a)) => f.seq > a,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if has_newer {
                return true;
            }
            if inner.state != RingState::Open {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self
                .newer
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img() -> Arc<RgbImage> {
        Arc::new(RgbImage::new(2, 2))
    }

    #[test]
    fn overwrites_oldest_and_keeps_order() {
        let ring = FrameRing::new(3);
        let t0 = Instant::now();
        for i in 0..5u64 {
            assert_eq!(ring.push(img(), Duration::from_millis(i * 10), t0), i);
        }
        let seqs: Vec<u64> = ring.snapshot().iter().map(|f| f.seq).collect();
        assert_eq!(seqs, vec![2, 3, 4]);
        assert_eq!(ring.overwritten(), 2);
        assert_eq!(ring.pushed(), 5);
        assert_eq!(ring.latest().map(|f| f.seq), Some(4));
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn waiting_reader_wakes_on_push_and_on_close() {
        let ring = Arc::new(FrameRing::new(2));
        assert!(!ring.wait_for_newer(None, Duration::from_millis(10)));
        let writer = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                ring.push(img(), Duration::ZERO, Instant::now());
            })
        };
        let start = Instant::now();
        assert!(ring.wait_for_newer(None, Duration::from_secs(5)));
        assert!(start.elapsed() < Duration::from_secs(2));
        writer.join().unwrap();
        assert!(!ring.wait_for_newer(Some(0), Duration::from_millis(10)));

        let closer = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                ring.close(RingState::Failed("unplugged".into()));
            })
        };
        let start = Instant::now();
        assert!(!ring.wait_for_newer(Some(0), Duration::from_secs(5)));
        assert!(start.elapsed() < Duration::from_secs(2));
        closer.join().unwrap();
        assert_eq!(ring.state(), RingState::Failed("unplugged".into()));
        // The first reason sticks.
        ring.close(RingState::Finished);
        assert_eq!(ring.state(), RingState::Failed("unplugged".into()));
    }
}
