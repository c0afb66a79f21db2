//! `exec:` actions: a program run directly (no shell), on a thread of its own so that neither
//! the inference worker nor the window ever waits for it, killed when it outlives its timeout,
//! its output collected for the log.

use super::report::Completion;
use super::Notify;
use crossbeam_channel::Sender;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How much of each output stream is kept (the end of it).
const OUTPUT_KEEP: usize = 4096;
/// How often a running program is checked on.
const POLL: Duration = Duration::from_millis(10);
/// How long the output is waited for after the program ended: a child it left behind may hold
/// the pipes open.
const OUTPUT_GRACE: Duration = Duration::from_millis(300);

/// One program to run.
#[derive(Debug, Clone)]
pub struct ExecJob {
    pub id: u64,
    pub label: String,
    pub action: String,
    pub program: String,
    pub args: Vec<String>,
    pub timeout: Duration,
}

/// Runs `job` on its own thread; its [`Completion`] goes to `done` (then `notify` is called).
pub fn start(job: ExecJob, done: Sender<Completion>, notify: Option<Notify>) {
    let (id, label, action) = (job.id, job.label.clone(), job.action.clone());
    let done2 = done.clone();
    let spawned = std::thread::Builder::new()
        .name("action-exec".into())
        .spawn(move || {
            let c = run(&job);
            let _ = done.send(c);
            if let Some(n) = notify {
                n();
            }
        });
    if let Err(e) = spawned {
        let _ = done2.send(Completion {
            id,
            label,
            action,
            ok: false,
            detail: format!("cannot start a thread for it: {e}"),
            exit_code: None,
            output: String::new(),
            elapsed: Duration::ZERO,
        });
    }
}

/// Runs `job` to its end or its timeout, on the calling thread.
pub fn run(job: &ExecJob) -> Completion {
    let start = Instant::now();
    let mut completion = Completion {
        id: job.id,
        label: job.label.clone(),
        action: job.action.clone(),
        ok: false,
        detail: String::new(),
        exit_code: None,
        output: String::new(),
        elapsed: Duration::ZERO,
    };
    let child = Command::new(&job.program)
        .args(&job.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            completion.detail = if e.kind() == std::io::ErrorKind::NotFound {
                format!("cannot run '{}': program not found", job.program)
            } else {
                format!("cannot run '{}': {e}", job.program)
            };
            return completion;
        }
    };
    let readers = [
        child.stdout.take().map(|s| read_tail(Box::new(s))),
        child.stderr.take().map(|s| read_tail(Box::new(s))),
    ];
    let ended = wait_until(&mut child, start + job.timeout);
    completion.detail = match ended {
        Ok(Some(status)) => {
            completion.exit_code = status.code();
            completion.ok = status.success();
            describe(status)
        }
        Ok(None) => {
            // Killing fails only when it has just ended; either way it is reaped below.
            let _ = child.kill();
            let _ = child.wait();
            format!("timed out after {}: killed", secs(job.timeout))
        }
        Err(e) => format!("cannot wait for it: {e}"),
    };
    let deadline = Instant::now() + OUTPUT_GRACE;
    let mut output = Vec::new();
    for r in readers.into_iter().flatten() {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Ok(bytes) = r.recv_timeout(left) {
            output.push(String::from_utf8_lossy(&bytes).trim_end().to_string());
        }
    }
    output.retain(|s| !s.is_empty());
    completion.output = output.join("\n");
    completion.elapsed = start.elapsed();
    completion
}

/// Waits for `child` until `deadline`; `None` if it is still running then.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
}

fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}");
        }
    }
    status.to_string()
}

fn secs(d: Duration) -> String {
    format!("{} s", (d.as_secs_f64() * 10.0).round() / 10.0)
}

/// Reads a stream to its end on a thread, keeping its last [`OUTPUT_KEEP`] bytes.
fn read_tail(mut stream: Box<dyn Read + Send>) -> crossbeam_channel::Receiver<Vec<u8>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name("action-output".into())
        .spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * OUTPUT_KEEP {
                    kept.drain(..kept.len() - OUTPUT_KEEP);
                }
            }
            if kept.len() > OUTPUT_KEEP {
                kept.drain(..kept.len() - OUTPUT_KEEP);
            }
            let _ = tx.send(kept);
        });
    // Without a reader thread the output is lost, not the action.
    drop(spawned);
    rx
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn job(program: &str, args: &[&str], timeout_ms: u64) -> ExecJob {
        ExecJob {
            id: 7,
            label: "Thumb Up".into(),
            action: "exec:test".into(),
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[test]
    fn reports_exit_codes_and_output() {
        let c = run(&job("sh", &["-c", "echo out; echo err >&2; exit 3"], 5000));
        assert!(!c.ok);
        assert_eq!(c.exit_code, Some(3));
        assert_eq!(c.detail, "exited with code 3");
        assert_eq!(c.output, "out\nerr");
        let c = run(&job("sh", &["-c", "true"], 5000));
        assert!(c.ok, "{c:?}");
        assert_eq!(c.detail, "exited with code 0");
    }

    #[test]
    fn a_missing_program_and_a_hanging_one_are_reported() {
        let c = run(&job("no-such-program-gesture-app", &[], 5000));
        assert!(!c.ok);
        assert!(c.detail.contains("program not found"), "{}", c.detail);
        let start = Instant::now();
        let c = run(&job("sleep", &["30"], 200));
        assert!(!c.ok);
        assert_eq!(c.detail, "timed out after 0.2 s: killed");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}
