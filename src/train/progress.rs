//! What a run shows while it works: an indicatif bar per epoch (loss, top-1, clips/s, ETA) on
//! a terminal, and summary lines on stdout that are also appended to the run's `train.log`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;

/// The console side of a run.
pub struct Console {
    bar: Option<ProgressBar>,
    log: Option<PathBuf>,
    /// Draw bars (they are drawn only on a terminal in any case).
    bars: bool,
    /// Lines go to the log only (a run inside a sweep that shows its own progress).
    quiet: bool,
}

impl Console {
    /// A console that appends its lines to `log` (if given); `bars` enables progress bars.
    pub fn new(log: Option<PathBuf>, bars: bool) -> Self {
        Console {
            bar: None,
            log,
            bars,
            quiet: false,
        }
    }

    /// A console that writes nothing on the terminal: its lines only go to `log`.
    pub fn log_only(log: PathBuf) -> Self {
        Console {
            bar: None,
            log: Some(log),
            bars: false,
            quiet: true,
        }
    }

    /// Starts a bar of `len` clips.
    pub fn start(&mut self, prefix: String, len: usize) {
        self.finish();
        if !self.bars {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:28}] {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(prefix);
        self.bar = Some(bar);
    }

    /// Moves the bar to `pos` clips with a status message.
    pub fn update(&self, pos: usize, msg: String) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos as u64);
            bar.set_message(msg);
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Prints a line (above the bar, if any) and appends it to the log.
    pub fn line(&self, text: &str) {
        if self.quiet {
            self.append_log(text);
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
        self.append_log(text);
    }

    /// Prints a line on stderr and appends it to the log.
    pub fn error(&mut self, text: &str) {
        self.finish();
        if !self.quiet {
            eprintln!("{text}");
        }
        self.append_log(text);
    }

    fn append_log(&self, text: &str) {
        if let Some(log) = &self.log {
            // The log is a convenience copy of stdout: failing to append must not stop a run.
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
            {
                let _ = writeln!(f, "{text}");
            }
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.finish();
    }
}
