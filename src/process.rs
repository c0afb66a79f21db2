//! Process-wide settings, made once at the start of `main` before any thread exists. They live in
//! the binary, not the library: a program that links the library keeps its own allocator and
//! thread settings.
//!
//! Allocator: this process allocates and frees tensors of hundreds of MB every step. glibc's malloc
//! serves such blocks with fresh `mmap`s and unmaps them on free, so every training step pays for
//! page faults that zero the whole block again (half of a squeezenet1_1 training step's time went
//! to the kernel). Keeping freed memory in the heap for reuse removes that cost at the price of a
//! resident size that stays at its peak.
//!
//! Threads (training on the CPU): candle runs element-wise CPU ops on its own pool of
//! threads, besides rayon's pool that runs the matrix products and our convolution ops; after
//! each op its workers spin (about half a millisecond) before sleeping. In a training step,
//! where rayon's threads run the convolutions between candle's element-wise ops, the two pools
//! fight over the cores: on 2 shared cores the spinning cost a quarter of the backward pass.
//! With candle's pool reduced to the calling thread that disappears; the element-wise ops it
//! runs are memory-bound and lose little. Fine-tuning's head, whose ops are small, spent 70 % of
//! its thread's time in that spin (perf, `bench-finetune` beside two trainings), so every
//! command now runs candle's element-wise ops on the caller.
//!
//! Thread count: unless `RAYON_NUM_THREADS` is set, candle 0.11 asks `num_cpus::get_physical()`
//! on every matrix product, which reads and parses `/proc/cpuinfo` each time (4–7 % of the
//! fine-tuning head's time). Setting the variable once, to the count rayon's pool already uses,
//! changes no pool and makes that a lookup.

/// Makes glibc malloc reuse freed large blocks instead of returning them to the system. Returns
/// whether every setting was accepted; a no-op (returning `false`) on other C libraries.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc's tuning parameters; it is called before any
        // thread of ours exists and takes plain integers.
        unsafe {
            // Blocks of any size come from the heap, not from their own mmap.
            let mmap = libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
            // Never give the top of the heap back, and grow it in 256 MiB steps.
            let trim = libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            let pad = libc::mallopt(libc::M_TOP_PAD, 256 << 20);
            mmap == 1 && trim == 1 && pad == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// The variable candle reads, once, when its pool is first used.
const CANDLE_NUM_THREADS: &str = "CANDLE_NUM_THREADS";
/// The variable rayon reads for its global pool, and candle for every matrix product.
const RAYON_NUM_THREADS: &str = "RAYON_NUM_THREADS";

/// Sets `RAYON_NUM_THREADS` to the number of threads rayon's global pool would use anyway
/// (the CPUs this process may run on), unless the user has set it. Returns whether it changed
/// the setting. Call at the start of `main`, before any other thread exists.
pub fn fix_thread_count() -> bool {
    if std::env::var_os(RAYON_NUM_THREADS).is_some() {
        return false;
    }
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::env::set_var(RAYON_NUM_THREADS, n.to_string());
    true
}

/// Makes candle run its element-wise CPU ops on the calling thread, unless the user has set
/// `CANDLE_NUM_THREADS`. Returns whether it changed the setting. Call at the start of `main`,
/// before any other thread exists (it sets an environment variable).
pub fn candle_elementwise_on_caller() -> bool {
    if std::env::var_os(CANDLE_NUM_THREADS).is_some() {
        return false;
    }
    std::env::set_var(CANDLE_NUM_THREADS, "1");
    true
}

/// Set by the first Ctrl-C (SIGINT) or SIGTERM once [`catch_interrupts`] is in place.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns Ctrl-C and SIGTERM into a flag the command polls, so it can stop cleanly (`record`
/// discards the clip in progress and keeps the finished ones). A second Ctrl-C ends the process
/// at once with status 130, for a command that does not stop. Returns the flag. Elsewhere than
/// on Unix the signals keep their default action; the files a command writes stay consistent
/// all the same (they are replaced atomically).
pub fn catch_interrupts() -> &'static std::sync::atomic::AtomicBool {
    #[cfg(unix)]
    {
        extern "C" fn on_signal(_: libc::c_int) {
            // Only async-signal-safe calls here: an atomic swap and _exit.
            if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                // SAFETY: _exit is async-signal-safe and ends the process without unwinding.
                unsafe { libc::_exit(130) };
            }
        }
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler does nothing but touch an atomic and call _exit, both allowed
        // in a signal handler.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }
    &INTERRUPTED
}

/// The exit status of a command stopped by Ctrl-C (128 + SIGINT, what shells report).
pub const INTERRUPTED_STATUS: u8 = 130;

/// Lets a closed standard output end the process quietly, as other command-line tools do
/// (`gesture-app info W | head -3`): Rust ignores SIGPIPE, so `println!` to a closed pipe panics
/// with a backtrace instead. For the printing commands only: the window (X11/Wayland sockets) and
/// the headless live app (which reports a closed output as an error of its own) keep the
/// default.
pub fn die_quietly_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called before any thread exists; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
