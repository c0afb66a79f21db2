//! The threads the operators of one model run share: helper threads that stay awake (spinning)
//! between operators, so that splitting an operator costs an atomic increment rather than a
//! thread wake-up.
//!
//! Why not rayon alone: its idle threads go to sleep at once and each parallel operator wakes
//! them through the kernel again. A model call is about 100 operators of 10–1000 µs, so with 2
//! threads the wake-ups ate most of the second thread's gain (landmark model 10.6 → 8.2 ms,
//! palm 10.3 → 9.6 ms, where the TFLite interpreter's spinning pool goes 8.1 → 4.2 and 8.9 →
//! 4.9). The helpers here spin for [`SPIN`] after each task, then sleep on a condition
//! variable; XNNPACK's pthreadpool does the same.
//!
//! The thread count is rayon's (`rayon::current_num_threads()`), so callers keep choosing it
//! with a rayon pool. Only one caller uses the team at a time; another caller meanwhile, or a
//! nested one, runs on rayon as before.

use rayon::prelude::*;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a helper spins waiting for the next task before it sleeps.
const SPIN: Duration = Duration::from_millis(2);

/// Most threads a job is split between.
const MAX_THREADS: usize = 16;

/// One parallel loop: `f(i)` for every `i < n`. Participant `t` of `threads` owns the
/// contiguous range `t·n/threads..(t+1)·n/threads` and claims its indices in order through
/// `next[t]`; when its range is done it claims what is left of the others'. Each index is
/// claimed once. Contiguous ranges keep successive operators' rows on the same core (the
/// output rows a thread wrote are the input rows it reads next, still in its L2).
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    n: usize,
    threads: usize,
    next: [AtomicUsize; MAX_THREADS],
    panicked: AtomicBool,
}

impl Job<'_> {
    fn range(&self, t: usize) -> (usize, usize) {
        (t * self.n / self.threads, (t + 1) * self.n / self.threads)
    }

    /// Participant `me`'s indices, then the others' left over, noting a panic.
    fn work(&self, me: usize) {
        for k in 0..self.threads {
            let t = (me + k) % self.threads;
            let (start, end) = self.range(t);
            loop {
                let i = start + self.next[t].fetch_add(1, SeqCst);
                if i >= end {
                    break;
                }
                if catch_unwind(AssertUnwindSafe(|| (self.f)(i))).is_err() {
                    self.panicked.store(true, SeqCst);
                }
            }
        }
    }
}

/// What the caller and the helpers share.
struct Shared {
    /// The open job, or null. Non-null only while its caller is inside [`for_each`], which
    /// does not return before every helper that read it has left it (`active`).
    job: AtomicPtr<Job<'static>>,
    /// Bumped for each job, so a waiting helper sees there is something to read.
    generation: AtomicUsize,
    /// Helpers between reading `job` and leaving it.
    active: AtomicUsize,
    /// Helpers asleep (or about to be) on `wake`.
    sleeping: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

/// The team: its shared state, and how many helpers were started (behind the mutex that
/// makes one caller at a time).
struct Team {
    shared: &'static Shared,
    helpers: Mutex<usize>,
}

fn team() -> &'static Team {
    static TEAM: OnceLock<Team> = OnceLock::new();
    TEAM.get_or_init(|| Team {
        shared: Box::leak(Box::new(Shared {
            job: AtomicPtr::new(std::ptr::null_mut()),
            generation: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        })),
        helpers: Mutex::new(0),
    })
}

/// One turn of a wait: a few hundred spins, then yielding the core at each turn. When the
/// caller and a helper share one core (the other core busy with another process), a waiting
/// thread that only spun would keep the one it waits for off the core until the scheduler's
/// next tick; the 2-thread landmark model then took 22 ms instead of 11.
#[inline]
fn pause(spins: u32) {
    if spins < YIELD_AFTER {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Spins before a wait starts yielding.
const YIELD_AFTER: u32 = 200;

/// A helper's life: wait for a new generation (spinning, then asleep), join its job if its id
/// is low enough, repeat.
fn helper(shared: &'static Shared, id: usize) {
    let mut seen = shared.generation.load(SeqCst);
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let g = shared.generation.load(SeqCst);
            if g != seen {
                seen = g;
                break;
            }
            pause(spins);
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > SPIN {
                let mut guard = shared.lock.lock().unwrap_or_else(|e| e.into_inner());
                shared.sleeping.fetch_add(1, SeqCst);
                while shared.generation.load(SeqCst) == seen {
                    guard = shared.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
                shared.sleeping.fetch_sub(1, SeqCst);
            }
        }
        shared.active.fetch_add(1, SeqCst);
        let job = shared.job.load(SeqCst);
        // SAFETY: `job` was read after `active` counted this helper; its caller clears `job`
        // before waiting for `active` to drop to zero, so a non-null job outlives this use.
        if let Some(job) = unsafe { job.as_ref() } {
            if id + 1 < job.threads {
                job.work(id + 1);
            }
        }
        shared.active.fetch_sub(1, SeqCst);
    }
}

/// Runs `f(i)` for every `i < n` on the calling thread and `rayon::current_num_threads() − 1`
/// helpers, in no particular order; returns when all are done. A panic in `f` is resumed here
/// once the other indices have run.
pub(super) fn for_each(n: usize, f: impl Fn(usize) + Sync) {
    let threads = rayon::current_num_threads().min(n).min(MAX_THREADS);
    if threads <= 1 {
        (0..n).for_each(f);
        return;
    }
    let team = team();
    // Another caller has the team (two models running at once): rayon, as before.
    let Ok(mut started) = team.helpers.try_lock() else {
        // Every index runs here too before a panic is resumed: rayon alone would stop handing
        // out indices at the first panic.
        let panic = Mutex::new(None);
        (0..n).into_par_iter().for_each(|i| {
            if let Err(e) = catch_unwind(AssertUnwindSafe(|| f(i))) {
                panic
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(e);
            }
        });
        if let Some(e) = panic.into_inner().unwrap_or_else(|e| e.into_inner()) {
            resume_unwind(e);
        }
        return;
    };
    while *started < threads - 1 {
        let (shared, id) = (team.shared, *started);
        let spawned = std::thread::Builder::new()
            .name(format!("hands-team-{id}"))
            .spawn(move || helper(shared, id));
        if spawned.is_err() {
            break;
        }
        *started += 1;
    }
    let job = Job {
        f: &f,
        n,
        threads: threads.min(*started + 1),
        next: Default::default(),
        panicked: AtomicBool::new(false),
    };
    let shared = team.shared;
    // Erase the job's lifetime for the helpers; see `Shared::job` for why it stays valid.
    shared
        .job
        .store(&job as *const Job<'_> as *mut Job<'static>, SeqCst);
    shared.generation.fetch_add(1, SeqCst);
    if shared.sleeping.load(SeqCst) > 0 {
        let _guard = shared.lock.lock().unwrap_or_else(|e| e.into_inner());
        shared.wake.notify_all();
    }
    job.work(0);
    shared.job.store(std::ptr::null_mut(), SeqCst);
    let mut spins = 0u32;
    while shared.active.load(SeqCst) != 0 {
        pause(spins);
        spins = spins.wrapping_add(1);
    }
    drop(started);
    if job.panicked.load(SeqCst) {
        resume_unwind(Box::new("a task of hands::tflite's thread team panicked"));
    }
}

/// `y` cut into pieces of `piece` floats (the last may be shorter), `f(index, piece)` for each,
/// as [`for_each`] runs them.
pub(super) fn for_each_piece(y: &mut [f32], piece: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let piece = piece.max(1);
    let len = y.len();
    let base = SendPtr(y.as_mut_ptr());
    for_each(len.div_ceil(piece), |i| {
        let start = i * piece;
        let end = (start + piece).min(len);
        // SAFETY: each index is run once, so the pieces handed out are disjoint parts of `y`,
        // which stays mutably borrowed until `for_each` returns.
        let part = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
        f(i, part);
    });
}

/// Runs `f(i, part)` for every `i < n`, where `part` is `y[range(i)]`: like
/// [`for_each_piece`] with parts of any length. The ranges must lie in `y`, in order and
/// without overlap (checked before anything runs: a violation is a bug, and panics).
pub(super) fn for_each_part(
    y: &mut [f32],
    n: usize,
    range: impl Fn(usize) -> std::ops::Range<usize> + Sync,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    let mut end = 0;
    for i in 0..n {
        let r = range(i);
        assert!(
            end <= r.start && r.start <= r.end && r.end <= y.len(),
            "part {i} ({r:?}) overlaps the one before it (ending at {end}) or leaves {} floats",
            y.len()
        );
        end = r.end;
    }
    let base = SendPtr(y.as_mut_ptr());
    for_each(n, |i| {
        let r = range(i);
        // SAFETY: the ranges were checked above to be disjoint parts of `y`, each index is run
        // once, and `y` stays mutably borrowed until `for_each` returns.
        let part = unsafe { std::slice::from_raw_parts_mut(base.get().add(r.start), r.len()) };
        f(i, part);
    });
}

/// A raw pointer the tasks may share (each touches its own part).
#[derive(Clone, Copy)]
pub(super) struct SendPtr(pub(super) *mut f32);
// SAFETY: used by `for_each_piece`, `for_each_part` and the 1×1 convolution's split by output
// channels, whose tasks touch disjoint parts of the buffer it points into.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so closures capture the whole wrapper).
    pub(super) fn get(self) -> *mut f32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(f)
    }

    #[test]
    fn every_index_runs_once() {
        for threads in [1, 2, 3] {
            for n in [0, 1, 2, 7, 100, 1000] {
                let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                in_pool(threads, || {
                    for_each(n, |i| {
                        hits[i].fetch_add(1, SeqCst);
                    })
                });
                assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "{threads} {n}");
            }
        }
    }

    #[test]
    fn pieces_cover_the_slice_once() {
        in_pool(2, || {
            for (len, piece) in [(0, 4), (1, 4), (10, 3), (96, 16), (1001, 64)] {
                let mut y = vec![-1f32; len];
                for_each_piece(&mut y, piece, |i, part| {
                    assert!(part.len() <= piece);
                    for (j, v) in part.iter_mut().enumerate() {
                        assert_eq!(*v, -1.0);
                        *v = (i * piece + j) as f32;
                    }
                });
                assert!(y.iter().enumerate().all(|(i, &v)| v == i as f32));
            }
        });
    }

    #[test]
    fn parts_of_any_length_are_handed_out_once_and_overlaps_refused() {
        in_pool(2, || {
            // Half rows of 7 columns: 4 and 3 columns, as the depthwise convolution splits.
            let bounds = [0, 4, 7, 11, 14, 18, 21];
            let mut y = vec![-1f32; 21];
            for_each_part(
                &mut y,
                6,
                |i| bounds[i]..bounds[i + 1],
                |i, part| {
                    assert_eq!(part.len(), bounds[i + 1] - bounds[i]);
                    for (j, v) in part.iter_mut().enumerate() {
                        assert_eq!(*v, -1.0);
                        *v = (bounds[i] + j) as f32;
                    }
                },
            );
            assert!(y.iter().enumerate().all(|(i, &v)| v == i as f32));
            let overlapping = catch_unwind(AssertUnwindSafe(|| {
                for_each_part(&mut y, 2, |i| i * 3..i * 3 + 4, |_, _| {});
            }));
            assert!(overlapping.is_err(), "overlapping parts must be refused");
            let outside = catch_unwind(AssertUnwindSafe(|| {
                for_each_part(&mut y, 1, |_| 20..22, |_, _| {});
            }));
            assert!(outside.is_err(), "a part past the end must be refused");
        });
    }

    #[test]
    fn concurrent_callers_all_finish() {
        // Two callers at once: one gets the team, the other rayon; both results complete.
        let sums: Vec<usize> = (0..4)
            .into_par_iter()
            .map(|_| {
                in_pool(2, || {
                    let total = AtomicUsize::new(0);
                    for _ in 0..50 {
                        for_each(64, |i| {
                            total.fetch_add(i, SeqCst);
                        });
                    }
                    total.load(SeqCst)
                })
            })
            .collect();
        assert!(sums.iter().all(|&s| s == 50 * 64 * 63 / 2), "{sums:?}");
    }

    /// `for_each` over 50 tasks on 2 threads, task 17 panicking: whether the panic came back to
    /// the caller, and how many tasks ran.
    fn fifty_tasks_one_panicking() -> (bool, usize) {
        let ran = AtomicUsize::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            in_pool(2, || {
                for_each(50, |i| {
                    ran.fetch_add(1, SeqCst);
                    assert!(i != 17, "task 17");
                })
            })
        }));
        (result.is_err(), ran.load(SeqCst))
    }

    #[test]
    fn with_the_team_busy_a_panicking_task_is_resumed_after_the_others_too() {
        // Another caller holds the team, so this one runs on rayon's threads.
        let (resumed, ran) = {
            let _busy = team().helpers.lock().unwrap_or_else(|e| e.into_inner());
            fifty_tasks_one_panicking()
        };
        assert!(resumed);
        assert_eq!(ran, 50);
    }

    #[test]
    fn a_panicking_task_is_resumed_after_the_others() {
        let (resumed, ran) = fifty_tasks_one_panicking();
        assert!(resumed);
        assert_eq!(ran, 50);
        // The team still works afterwards.
        let hits = AtomicUsize::new(0);
        in_pool(2, || {
            for_each(10, |_| {
                hits.fetch_add(1, SeqCst);
            })
        });
        assert_eq!(hits.load(SeqCst), 10);
    }
}
