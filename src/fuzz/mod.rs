//! Fuzzing on stable Rust: a seeded mutation loop over the parsers that read what cameras, files
//! and users hand the app (frame decoders, the checkpoint pickle reader, the index and label
//! parsers, the data set's `dataset.toml`, the weights-metadata reader, the TFLite model reader and
//! executor, the readers of the FFmpeg child that plays video files; [`targets`]). Each input is a real input (a seed)
//! mutated a few times — bits flipped, bytes and lengths set to edge values, ranges cut,
//! repeated or spliced from another seed — up to [`MAX_INPUT`] bytes. A panic is caught and
//! reported with its input; a hang is caught by a watchdog that saves the input and ends the
//! process; an abort ends the process on its own. `gesture-app fuzz` runs millions of inputs,
//! `cargo test` a short pass of each target.

mod targets;

pub use targets::targets;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest input tried.
pub const MAX_INPUT: usize = 64 << 10;

/// One parser under test.
pub struct Target {
    pub name: &'static str,
    /// Real inputs to mutate.
    pub seeds: Vec<Vec<u8>>,
    /// Byte strings meaningful to this parser, inserted by the mutator.
    pub tokens: Vec<&'static [u8]>,
    /// Runs the parser on one input: `true` if it accepted it, `false` if it returned an error.
    pub run: fn(&[u8]) -> bool,
}

/// What one run of a target found.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: &'static str,
    pub inputs: u64,
    /// Inputs the parser accepted (the rest were refused with an error).
    pub accepted: u64,
    /// The slowest single input.
    pub slowest: Duration,
    pub elapsed: Duration,
    /// The first input that panicked, and the panic's message.
    pub crash: Option<(Vec<u8>, String)>,
}

/// Runs `target` on its seeds and then on `inputs` mutated inputs from `seed`; stops at the
/// first panic. An input running longer than `hang_after` makes the watchdog write it to
/// `hang_file` and exit the process with status 3.
pub fn run(
    target: &Target,
    inputs: u64,
    seed: u64,
    hang_after: Duration,
    hang_file: &std::path::Path,
) -> Report {
    let mut rng = StdRng::seed_from_u64(seed);
    let current = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let clock = Instant::now();
    let watchdog = {
        let (current, started, done) = (current.clone(), started.clone(), done.clone());
        let hang_file = hang_file.to_path_buf();
        let name = target.name;
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                let since = started.load(Ordering::SeqCst);
                let now = clock.elapsed().as_millis() as u64;
                if since != 0 && now.saturating_sub(since) > hang_after.as_millis() as u64 {
                    let input = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let _ = std::fs::write(&hang_file, &input);
                    eprintln!(
                        "fuzz {name}: an input ran longer than {hang_after:?} (a hang); saved \
                         {} bytes to {}",
                        input.len(),
                        hang_file.display()
                    );
                    std::process::exit(3);
                }
            }
        })
    };
    let mut report = Report {
        name: target.name,
        inputs: 0,
        accepted: 0,
        slowest: Duration::ZERO,
        elapsed: Duration::ZERO,
        crash: None,
    };
    let start = Instant::now();
    let total = target.seeds.len() as u64 + inputs;
    for i in 0..total {
        let input = match target.seeds.get(i as usize) {
            Some(s) => s.clone(),
            None => mutated(&mut rng, target),
        };
        current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone_from(&input);
        let t0 = Instant::now();
        started.store(clock.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
        let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        started.store(0, Ordering::SeqCst);
        report.slowest = report.slowest.max(t0.elapsed());
        report.inputs += 1;
        match outcome {
            Ok(true) => report.accepted += 1,
            Ok(false) => {}
            Err(panic) => {
                let msg = if let Some(s) = panic.downcast_ref::<&str>() {
                    s.to_string()
                } else if let Some(s) = panic.downcast_ref::<String>() {
                    s.clone()
                } else {
                    "(no message)".into()
                };
                report.crash = Some((input, msg));
                break;
            }
        }
    }
    done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    report.elapsed = start.elapsed();
    report
}

/// Edge values written over 1, 2, 4 or 8 bytes: lengths, counts and sizes a parser must not
/// trust.
const EDGES: [u64; 10] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    u64::MAX,
];

/// A seed with 1 to 6 mutations.
fn mutated(rng: &mut StdRng, target: &Target) -> Vec<u8> {
    let mut data = target.seeds[rng.random_range(0..target.seeds.len())].clone();
    for _ in 0..rng.random_range(1..=6) {
        mutate(rng, &mut data, target);
    }
    data.truncate(MAX_INPUT);
    data
}

fn mutate(rng: &mut StdRng, data: &mut Vec<u8>, target: &Target) {
    let len = data.len();
    let pos = |rng: &mut StdRng| {
        if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        }
    };
    match rng.random_range(0..10) {
        0 if len > 0 => {
            let p = pos(rng);
            data[p] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let p = pos(rng);
            data[p] = rng.random();
        }
        2 if len > 0 => {
            // An edge value over 1, 2, 4 or 8 bytes, little- or big-endian.
            let width = [1usize, 2, 4, 8][rng.random_range(0..4)];
            let v = EDGES[rng.random_range(0..EDGES.len())];
            let bytes = if rng.random() {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            let bytes = if rng.random() {
                &bytes[..width]
            } else {
                &bytes[8 - width..]
            };
            let p = pos(rng);
            for (i, b) in bytes.iter().enumerate() {
                if let Some(d) = data.get_mut(p + i) {
                    *d = *b;
                }
            }
        }
        3 => {
            let p = if len == 0 {
                0
            } else {
                rng.random_range(0..=len)
            };
            let n = rng.random_range(1..=16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(p..p, bytes);
        }
        4 if len > 0 => {
            let a = pos(rng);
            let b = (a + rng.random_range(1..=64.min(len))).min(len);
            data.drain(a..b);
        }
        5 if len > 0 => {
            // Repeat a range somewhere else.
            let a = pos(rng);
            let b = (a + rng.random_range(1..=256.min(len))).min(len);
            let chunk = data[a..b].to_vec();
            let p = rng.random_range(0..=len);
            data.splice(p..p, chunk);
        }
        6 => {
            // Splice: this input's start, another seed's end.
            let other = &target.seeds[rng.random_range(0..target.seeds.len())];
            let a = if len == 0 {
                0
            } else {
                rng.random_range(0..=len)
            };
            let b = if other.is_empty() {
                0
            } else {
                rng.random_range(0..other.len())
            };
            data.truncate(a);
            data.extend_from_slice(&other[b..]);
        }
        7 if len > 0 => data.truncate(pos(rng)),
        8 if !target.tokens.is_empty() => {
            let t = target.tokens[rng.random_range(0..target.tokens.len())];
            let p = if len == 0 {
                0
            } else {
                rng.random_range(0..=len)
            };
            data.splice(p..p, t.iter().copied());
        }
        _ => {
            let p = if len == 0 {
                0
            } else {
                rng.random_range(0..=len)
            };
            data.insert(p, rng.random());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short pass of every target (the long one is `gesture-app fuzz`).
    #[test]
    fn every_parser_survives_a_short_fuzz_pass() {
        let tmp = tempfile::tempdir().unwrap();
        for target in targets() {
            assert!(!target.seeds.is_empty(), "{}", target.name);
            let report = run(
                &target,
                1500,
                7,
                Duration::from_secs(20),
                &tmp.path().join("hang.bin"),
            );
            if let Some((input, msg)) = &report.crash {
                panic!(
                    "{}: panicked on a {}-byte input: {msg}\n{:?}",
                    target.name,
                    input.len(),
                    &input[..input.len().min(256)]
                );
            }
            assert_eq!(report.inputs, 1500 + target.seeds.len() as u64);
            // The seeds are real inputs, so at least they are accepted.
            assert!(report.accepted >= 1, "{}: nothing accepted", target.name);
        }
    }

    #[test]
    fn mutation_is_reproducible_and_bounded() {
        let t = Target {
            name: "t",
            seeds: vec![vec![1, 2, 3], vec![0; MAX_INPUT]],
            tokens: vec![b"tok"],
            run: |_| true,
        };
        let a: Vec<Vec<u8>> = {
            let mut rng = StdRng::seed_from_u64(1);
            (0..200).map(|_| mutated(&mut rng, &t)).collect()
        };
        let mut rng = StdRng::seed_from_u64(1);
        for x in &a {
            assert_eq!(x, &mutated(&mut rng, &t));
            assert!(x.len() <= MAX_INPUT);
        }
        assert!(a.iter().any(|x| x.len() != 3 && x.len() != MAX_INPUT));
    }
}
