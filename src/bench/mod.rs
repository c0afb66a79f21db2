//! Benchmarks behind `gesture-app bench`, `bench-pipeline` and `bench-train`: the model alone
//! ([`model`]), the live pipeline as a user feels it ([`pipeline`]) and training
//! ([`train`]); `bench-events` counts the events footage fires ([`events`]); `bench-teach` is
//! the landmark model's teaching check ([`teach`]). They time the real code paths on random
//! weights and generated frames.

pub mod events;
pub mod finetune;
pub mod model;
pub mod pipeline;
pub mod teach;
pub mod train;

/// CPU time this process has used, in ns: every thread, including threads that have exited
/// (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`). `None` where the platform does not tell.
pub fn process_cpu_ns() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime only writes the timespec we pass, which outlives the call.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn cpu_time_counts_work_done_on_threads_that_have_exited() {
        let before = super::process_cpu_ns().unwrap();
        std::thread::spawn(|| {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < std::time::Duration::from_millis(50) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        })
        .join()
        .unwrap();
        let spent = super::process_cpu_ns().unwrap() - before;
        // The thread spun for 50 ms of wall time; under load it may get less CPU, but not none.
        assert!(spent >= 5_000_000, "{spent} ns");
    }
}
