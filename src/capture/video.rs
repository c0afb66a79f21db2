//! Video files as a frame source: any container and codec the system's FFmpeg decodes (MP4,
//! WebM, Matroska, MOV, AVI...), played at the container's timestamps (the worker resamples them
//! to the model's clip rate, as it does a camera's), optionally looping.
//!
//! Decoding runs the `ffmpeg` tool as a child process rather than linking libav* through the
//! `ffmpeg-next` bindings: nothing to build (no libav*-dev headers, no bindgen, no ABI to match
//! the system's FFmpeg version), the user installs one ordinary package (`ffmpeg`), and a
//! decoder that crashes or spins on a hostile file takes down a child process, never the app.
//! The child writes raw RGB24 frames on its stdout; its `showinfo` filter logs each frame's
//! integer timestamp and size on stderr, which carries the container's timing (variable frame
//! rate included) and FFmpeg's own decode errors. Two reader threads own the pipes (stderr is
//! drained on its own thread so the child can never block on a full stderr pipe); the source
//! reads their output through a bounded channel with a timeout, so `next_frame` returns within
//! 100 ms whatever the child does, and dropping the source kills the child.
//!
//! Undecodable packets (FFmpeg's "Error while decoding stream" / "Decoding error") are counted
//! as dropped frames; frames concealed by the decoder are delivered. A file that yields no frame
//! at all (not a video, no video stream, truncated before the first frame) is one error naming
//! the file and FFmpeg's reason.

use super::{CaptureError, FrameSource, Pulled, SourceFrame};
use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use image::RgbImage;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Environment variable naming the `ffmpeg` executable to run instead of the one on `PATH`.
pub const FFMPEG_ENV: &str = "GESTURE_APP_FFMPEG";

/// File name endings taken as video files by `--source` even before the file is looked at (so
/// a missing `clip.mp4` is reported as a missing video, not as a missing folder).
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "webm", "mkv", "avi", "mpg", "mpeg", "ts", "m2ts", "mts", "wmv", "flv",
    "3gp", "ogv", "gif", "mxf", "vob", "y4m", "nut", "asf",
];

/// Frames are scaled down by FFmpeg so their shorter side is at most this many pixels (the
/// models read 256 or less; a 4K file piped at full size would cost 25 MB a frame).
pub const MAX_SHORTER_SIDE: u32 = 480;

/// Largest frame accepted from the child, in pixels (a corrupt size must not allocate GBs).
const MAX_PIXELS: u64 = 16 << 20;
/// How long `open` waits for the first frame (or FFmpeg's verdict) before giving up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `next_frame` waits for a frame before telling the capture thread to ask again.
const POLL: Duration = Duration::from_millis(100);
/// How long without a frame before the source says the decoder is stalled.
const STALL: Duration = Duration::from_secs(5);
/// Frames decoded ahead of the consumer (back-pressure on the child beyond that).
const AHEAD: usize = 4;
/// FFmpeg log lines kept to explain a failure.
const LOG_LINES: usize = 24;

/// How to play a video file.
#[derive(Debug, Clone)]
pub struct VideoOptions {
    /// Start over at the end (timestamps keep increasing across the restart).
    pub looping: bool,
    /// Shorter side frames are scaled down to, at most; `None` keeps the file's size.
    pub max_shorter_side: Option<u32>,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            looping: false,
            max_shorter_side: Some(MAX_SHORTER_SIDE),
        }
    }
}

/// Whether `path` is to be played as a video file: an existing file, or a name with a video
/// extension.
pub fn looks_like_video(path: &Path) -> bool {
    if path.is_file() {
        return true;
    }
    !path.exists()
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The `ffmpeg` executable: [`FFMPEG_ENV`] or `ffmpeg` on `PATH`.
pub fn ffmpeg_program() -> PathBuf {
    std::env::var_os(FFMPEG_ENV)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("ffmpeg"))
}

/// What one line of FFmpeg's stderr says.
#[derive(Debug, Clone, PartialEq)]
pub enum LogLine {
    /// `showinfo`'s time base: a frame's time is `pts * num / den` seconds.
    TimeBase(i64, i64),
    /// One frame passed the filter: its timestamp in time-base units (`None`: NOPTS) and size.
    Frame {
        pts: Option<i64>,
        width: u32,
        height: u32,
    },
    /// A packet the decoder refused: its frame never comes.
    DecodeError(String),
    /// Anything else (kept to explain a failure).
    Other(String),
}

/// Reads one stderr line of the child. Never panics, whatever the bytes.
pub fn parse_log_line(line: &str) -> LogLine {
    let line = line.trim_end();
    if line.contains("Parsed_showinfo") {
        if let Some(rest) = after(line, "config in time_base:") {
            let tb = rest.split([',', ' ']).find(|s| !s.is_empty()).unwrap_or("");
            if let Some((n, d)) = tb.split_once('/') {
                if let (Ok(n), Ok(d)) = (n.trim().parse::<i64>(), d.trim().parse::<i64>()) {
                    if n > 0 && d > 0 {
                        return LogLine::TimeBase(n, d);
                    }
                }
            }
            return LogLine::Other(line.to_string());
        }
        if after(line, " n:").is_some() {
            let pts = after(line, " pts:").and_then(|r| first_word(r).parse::<i64>().ok());
            let size = after(line, " s:").and_then(|r| {
                let (w, h) = first_word(r).split_once('x')?;
                Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?))
            });
            if let Some((width, height)) = size {
                return LogLine::Frame { pts, width, height };
            }
        }
        return LogLine::Other(line.to_string());
    }
    // FFmpeg ≤ 6: "Error while decoding stream #0:0: ..."; 7: "[vist#0:0/h264 @ ..] Decoding
    // error: ...".
    if line.contains("Error while decoding stream") || line.contains("Decoding error") {
        return LogLine::DecodeError(strip_context(line).to_string());
    }
    LogLine::Other(line.to_string())
}

/// The text after the first `key`, if any.
fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.find(key).map(|i| &line[i + key.len()..])
}

/// The first whitespace-separated word of `s` (after leading spaces).
fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

/// A log line without FFmpeg's `[component @ 0x...] ` prefix.
fn strip_context(line: &str) -> &str {
    match (line.starts_with('['), line.find("] ")) {
        (true, Some(i)) => line[i + 2..].trim(),
        _ => line.trim(),
    }
}

/// Why FFmpeg produced no frame, from its last log lines, in a few words.
pub fn failure_reason(log: &[String], path: &Path) -> String {
    let interesting: Vec<&str> = log
        .iter()
        .map(|l| strip_context(l))
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("Input #")
                && !l.starts_with("Output #")
                && !l.starts_with("Stream mapping")
                && !l.starts_with("Stream #")
                && !l.starts_with("Press [q]")
                && !l.starts_with("Metadata")
                && !l.starts_with("Duration")
                && !l.starts_with("frame=")
                && !l.starts_with("video:")
                && !l.contains("Conversion failed")
                && !l.contains("Nothing was written")
        })
        .collect();
    let joined = interesting.join(" ");
    let file = path.display().to_string();
    let mut last = interesting
        .last()
        .map(|l| l.trim_start_matches(file.as_str()).trim_start_matches(": "))
        .unwrap_or("")
        .to_string();
    if joined.contains("matches no streams") || joined.contains("does not contain any stream") {
        return "has no video stream".into();
    }
    if joined.contains("moov atom not found") && !joined.contains("misdetection possible") {
        return "is not a playable video (moov atom not found: truncated or not an MP4)".into();
    }
    if joined.contains("Invalid data found when processing input") {
        return "is not a video FFmpeg can read (Invalid data found when processing input)".into();
    }
    if last.is_empty() {
        last = "FFmpeg decoded no frame".into();
    }
    format!("no frame could be decoded ({last})")
}

/// What the reader threads hand the source.
enum Item {
    Frame {
        pts_secs: Option<f64>,
        image: RgbImage,
    },
    Undecodable(String),
    /// The stream ended; `Some` when the pipe broke in a frame or the frame size was absurd.
    End(Option<String>),
}

/// One run of the child over the file.
struct Decoder {
    child: Child,
    items: Receiver<Item>,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Decoder {
    fn spawn(path: &Path, options: &VideoOptions, legacy_vsync: bool) -> Result<Self, String> {
        let program = ffmpeg_program();
        let scale = match options.max_shorter_side {
            // Never upscale; keep the aspect; even sizes are not needed for rgb24.
            Some(m) => format!(
                "scale=w='trunc(iw*min(1,{m}/min(iw,ih)))':h='trunc(ih*min(1,{m}/min(iw,ih)))',"
            ),
            None => String::new(),
        };
        let mut cmd = Command::new(&program);
        cmd.args(["-nostdin", "-hide_banner", "-nostats", "-loglevel", "info"])
            .arg("-i")
            .arg(path)
            .args(["-map", "0:v:0", "-an", "-sn", "-dn"]);
        // Every decoded frame once, at its own timestamp: no duplicates or drops to a rate.
        if legacy_vsync {
            cmd.args(["-vsync", "passthrough"]);
        } else {
            cmd.args(["-fps_mode", "passthrough"]);
        }
        cmd.args(["-vf", &format!("{scale}showinfo")])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "cannot run {} (not found): playing video files needs FFmpeg; install it \
                     (Debian/Ubuntu: sudo apt install ffmpeg; macOS: brew install ffmpeg; \
                     Windows: winget install ffmpeg) or name the executable in {FFMPEG_ENV}",
                    program.display()
                )
            } else {
                format!("cannot run {}: {e}", program.display())
            }
        })?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("cannot read FFmpeg's output".into());
        };
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (headers_tx, headers_rx) = unbounded();
        let (items_tx, items) = bounded(AHEAD);
        let spawned = std::thread::Builder::new()
            .name("ffmpeg-log".into())
            .spawn({
                let log = log.clone();
                move || read_log(stderr, headers_tx, log)
            })
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("ffmpeg-frames".into())
                    .spawn(move || read_frames(stdout, headers_rx, items_tx))
            });
        if let Err(e) = spawned {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("cannot start the video reader thread: {e}"));
        }
        Ok(Decoder { child, items, log })
    }

    fn log_lines(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Waits briefly for the child to exit after its output ended, then kills it.
    fn finish(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // Killing closes the pipes, which ends both reader threads.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the log thread tells the frame thread, in stream order.
enum Header {
    Frame {
        pts_secs: Option<f64>,
        width: u32,
        height: u32,
    },
    Undecodable(String),
}

/// The stderr thread: parses every line; frame headers and decode errors go to the frame
/// thread in order, the rest into the bounded log.
fn read_log(stderr: impl Read, headers: Sender<Header>, log: Arc<Mutex<VecDeque<String>>>) {
    let mut time_base: Option<(i64, i64)> = None;
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // Lines end in \n; progress lines in \r. A line is capped so a child writing no newline
        // cannot grow it without bound.
        match read_line_capped(&mut reader, &mut buf, 64 << 10) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buf);
        for line in text.split(['\r', '\n']) {
            let header = match parse_log_line(line) {
                LogLine::TimeBase(n, d) => {
                    time_base = Some((n, d));
                    None
                }
                LogLine::Frame { pts, width, height } => Some(Header::Frame {
                    pts_secs: match (pts, time_base) {
                        (Some(p), Some((n, d))) => Some(p as f64 * n as f64 / d as f64),
                        _ => None,
                    },
                    width,
                    height,
                }),
                LogLine::DecodeError(why) => Some(Header::Undecodable(why)),
                LogLine::Other(text) => {
                    if !text.trim().is_empty() && !text.starts_with(' ') {
                        if let Ok(mut l) = log.lock() {
                            if l.len() == LOG_LINES {
                                l.pop_front();
                            }
                            l.push_back(text);
                        }
                    }
                    None
                }
            };
            if let Some(h) = header {
                if headers.send(h).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads up to and including the next `\n` (or `cap` bytes); 0 at the end.
fn read_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<usize> {
    let mut n = 0;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(n);
        }
        let take = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => avail.len(),
        };
        let take = take.min(cap.saturating_sub(n).max(1));
        buf.extend_from_slice(&avail[..take]);
        let done = buf.last() == Some(&b'\n') || n + take >= cap;
        r.consume(take);
        n += take;
        if done {
            return Ok(n);
        }
    }
}

/// The stdout thread: for each frame header, reads that frame's bytes. The frame size is the
/// first frame's: FFmpeg scales later frames of a stream that changes size to it.
fn read_frames(mut stdout: ChildStdout, headers: Receiver<Header>, items: Sender<Item>) {
    let end = read_frames_from(&mut stdout, &headers, &items);
    let _ = items.send(Item::End(end));
}

fn read_frames_from(
    stdout: &mut impl Read,
    headers: &Receiver<Header>,
    items: &Sender<Item>,
) -> Option<String> {
    let mut size: Option<(u32, u32)> = None;
    // The log thread ends when the child closes stderr; queued headers are read first.
    while let Ok(h) = headers.recv() {
        let item = match h {
            Header::Undecodable(why) => Item::Undecodable(why),
            Header::Frame {
                pts_secs,
                width,
                height,
            } => {
                let (w, h) = *size.get_or_insert((width, height));
                let pixels = w as u64 * h as u64;
                if pixels == 0 || pixels > MAX_PIXELS {
                    return Some(format!("FFmpeg reported a frame of {w}x{h} pixels"));
                }
                // Read through `take` so a frame cut short allocates only what came.
                let len = pixels * 3;
                let mut data = Vec::with_capacity(len.min(1 << 20) as usize);
                match stdout.by_ref().take(len).read_to_end(&mut data) {
                    Ok(n) if n as u64 == len => {}
                    Ok(n) => {
                        return Some(format!(
                            "the decoder's output ended inside a frame ({n} of {len} bytes)"
                        ))
                    }
                    Err(e) => return Some(format!("cannot read the decoder's output: {e}")),
                }
                let Some(image) = RgbImage::from_raw(w, h, data) else {
                    return Some("frame buffer of the wrong size".into());
                };
                Item::Frame { pts_secs, image }
            }
        };
        if items.send(item).is_err() {
            return None;
        }
    }
    None
}

/// What the readers make of a child's whole output (`log`: its stderr, `stdout`: the frame
/// stream): frames, undecodable frames, and why the stream broke, if it did. The fuzz harness
/// feeds it hostile output; it never panics and allocates only what the input holds.
pub fn replay_child_output(log: &[u8], stdout: &[u8]) -> (usize, usize, Option<String>) {
    let (htx, hrx) = unbounded();
    let (itx, irx) = unbounded();
    read_log(log, htx, Arc::new(Mutex::new(VecDeque::new())));
    let end = read_frames_from(&mut &stdout[..], &hrx, &itx);
    let (mut frames, mut undecodable) = (0, 0);
    for item in irx.try_iter() {
        match item {
            Item::Frame { .. } => frames += 1,
            Item::Undecodable(_) => undecodable += 1,
            Item::End(_) => {}
        }
    }
    (frames, undecodable, end)
}

/// A video file played through an FFmpeg child process.
pub struct VideoSource {
    path: PathBuf,
    options: VideoOptions,
    decoder: Option<Decoder>,
    legacy_vsync: bool,
    /// The first frame, read while opening.
    pending: Option<Pulled>,
    /// Frame size delivered (for the description).
    size: Option<(u32, u32)>,
    /// Seconds of the first frame of the current pass (timestamps start at 0).
    first_secs: Option<f64>,
    /// Added to the pass's timestamps: the length of the passes before (looping).
    offset: f64,
    /// The last delivered timestamp and the step before it.
    last: Option<f64>,
    step: f64,
    delivered: u64,
    passes: u32,
    last_item: Instant,
}

impl VideoSource {
    /// Starts FFmpeg on `path` and waits for its first frame, so that a file FFmpeg cannot play
    /// (or a missing FFmpeg) is an error here, naming the file and why.
    pub fn open(path: &Path, options: &VideoOptions) -> Result<Self, CaptureError> {
        let err = |reason: String| CaptureError::Video {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.is_dir() {
            return Err(err("is a folder, not a video file".into()));
        }
        let mut src = VideoSource {
            path: path.to_path_buf(),
            options: options.clone(),
            decoder: None,
            legacy_vsync: false,
            pending: None,
            size: None,
            first_secs: None,
            offset: 0.0,
            last: None,
            step: 0.0,
            delivered: 0,
            passes: 0,
            last_item: Instant::now(),
        };
        src.start_pass().map_err(err)?;
        // The first thing the child says: a frame, or why there is none.
        let deadline = Instant::now() + OPEN_TIMEOUT;
        loop {
            match src.pull(deadline.saturating_duration_since(Instant::now()))? {
                Pulled::Waiting(_) if Instant::now() < deadline => continue,
                Pulled::Waiting(_) => {
                    return Err(err(format!(
                        "FFmpeg gave no frame within {} s",
                        OPEN_TIMEOUT.as_secs()
                    )))
                }
                Pulled::End => return Err(err("no frame could be decoded".into())),
                first => {
                    src.pending = Some(first);
                    return Ok(src);
                }
            }
        }
    }

    fn start_pass(&mut self) -> Result<(), String> {
        self.decoder = Some(Decoder::spawn(
            &self.path,
            &self.options,
            self.legacy_vsync,
        )?);
        self.first_secs = None;
        self.passes += 1;
        self.last_item = Instant::now();
        Ok(())
    }

    /// Frames delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The next item, waiting up to `wait`.
    fn pull(&mut self, wait: Duration) -> Result<Pulled, CaptureError> {
        if let Some(p) = self.pending.take() {
            return Ok(p);
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(Pulled::End);
        };
        let item = match decoder.items.recv_timeout(wait.min(POLL)) {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) => {
                let stalled = self.last_item.elapsed() > STALL;
                return Ok(Pulled::Waiting(stalled.then(|| {
                    format!("{}: waiting for the video decoder…", self.path.display())
                })));
            }
            Err(RecvTimeoutError::Disconnected) => Item::End(None),
        };
        self.last_item = Instant::now();
        match item {
            Item::Frame { pts_secs, image } => {
                self.size.get_or_insert(image.dimensions());
                Ok(Pulled::Frame(self.stamp(pts_secs, image)))
            }
            Item::Undecodable(why) => Ok(Pulled::Undecodable(format!(
                "{}: cannot decode frame: {why}",
                self.path.display()
            ))),
            Item::End(broken) => self.pass_ended(broken),
        }
    }

    /// Source time of a frame: its container time from the first frame of the pass, after the
    /// earlier passes, never going backwards (a missing or repeated timestamp takes one step
    /// after the last).
    fn stamp(&mut self, pts_secs: Option<f64>, image: RgbImage) -> SourceFrame {
        let first = *self.first_secs.get_or_insert(pts_secs.unwrap_or(0.0));
        let guess = self.last.map_or(0.0, |l| l + self.step.max(1e-3));
        let mut t = match pts_secs {
            Some(p) if p.is_finite() => self.offset + (p - first),
            _ => guess,
        };
        if let Some(l) = self.last {
            if t <= l {
                t = guess;
            } else {
                self.step = t - l;
            }
        }
        self.last = Some(t);
        self.delivered += 1;
        SourceFrame {
            image,
            pts: Duration::from_secs_f64(t.max(0.0)),
            captured_at: None,
        }
    }

    fn pass_ended(&mut self, broken: Option<String>) -> Result<Pulled, CaptureError> {
        let Some(mut decoder) = self.decoder.take() else {
            return Ok(Pulled::End);
        };
        decoder.finish();
        let log = decoder.log_lines();
        drop(decoder);
        let frames_this_pass = self.first_secs.is_some();
        if !frames_this_pass {
            if !self.legacy_vsync && log.iter().any(|l| l.contains("fps_mode")) {
                // FFmpeg before 5.1 knows the option as -vsync.
                self.legacy_vsync = true;
                self.start_pass().map_err(|r| self.error(r))?;
                return Ok(Pulled::Waiting(None));
            }
            return Err(self.error(match broken {
                Some(b) => format!("no frame could be decoded ({b})"),
                None => failure_reason(&log, &self.path),
            }));
        }
        let next = if self.options.looping {
            // The next pass starts one frame step after this one's last frame.
            self.offset = self.last.unwrap_or(0.0) + self.step.max(1e-3);
            self.start_pass().map_err(|r| self.error(r))?;
            Pulled::Waiting(None)
        } else {
            Pulled::End
        };
        // A stream cut inside a frame (a truncated file) lost that frame: counted as dropped.
        if let Some(why) = broken {
            self.pending = Some(next);
            return Ok(Pulled::Undecodable(format!(
                "{}: cannot decode frame: {why}",
                self.path.display()
            )));
        }
        Ok(next)
    }

    fn error(&self, reason: String) -> CaptureError {
        CaptureError::Video {
            path: self.path.clone(),
            reason,
        }
    }
}

impl FrameSource for VideoSource {
    fn describe(&self) -> String {
        let size = self
            .size
            .map(|(w, h)| format!(" {w}x{h}"))
            .unwrap_or_default();
        format!(
            "video {}{size} at its own timestamps{}",
            self.path.display(),
            if self.options.looping {
                ", looping"
            } else {
                ""
            }
        )
    }

    fn nominal_fps(&self) -> Option<f32> {
        (self.step > 0.0).then(|| (1.0 / self.step) as f32)
    }

    fn next_frame(&mut self) -> Result<Pulled, CaptureError> {
        self.pull(POLL)
    }
}

/// Every frame of a video file with its time in seconds from the first, decoded at once (for
/// `classify`). Undecodable frames are skipped and counted in the second value.
pub fn read_all(
    path: &Path,
    options: &VideoOptions,
) -> Result<(Vec<(f64, RgbImage)>, u64), CaptureError> {
    let mut src = VideoSource::open(path, options)?;
    let mut frames = Vec::new();
    let mut undecodable = 0;
    loop {
        match src.next_frame()? {
            Pulled::Frame(f) => frames.push((f.pts.as_secs_f64(), f.image)),
            Pulled::Undecodable(_) => undecodable += 1,
            Pulled::Waiting(_) => {}
            Pulled::End => return Ok((frames, undecodable)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn showinfo_lines_parse() {
        assert_eq!(
            parse_log_line(
                "[Parsed_showinfo_1 @ 0x55dc648436c0] config in time_base: 1/12288, frame_rate: 12/1"
            ),
            LogLine::TimeBase(1, 12288)
        );
        assert_eq!(
            parse_log_line(
                "[Parsed_showinfo_0 @ 0x5] n:  12 pts:  12288 pts_time:1  pos: 48 fmt:yuv420p \
                 sar:1/1 s:128x96 i:P iskey:1 type:I checksum:316DBB8D"
            ),
            LogLine::Frame {
                pts: Some(12288),
                width: 128,
                height: 96
            }
        );
        assert_eq!(
            parse_log_line("[Parsed_showinfo_0 @ 0x5] n:   0 pts:NOPTS pts_time:NOPTS s:4x4 i:P"),
            LogLine::Frame {
                pts: None,
                width: 4,
                height: 4
            }
        );
        assert_eq!(
            parse_log_line(
                "Error while decoding stream #0:0: Invalid data found when processing input"
            ),
            LogLine::DecodeError(
                "Error while decoding stream #0:0: Invalid data found when processing input".into()
            )
        );
        assert_eq!(
            parse_log_line("[vist#0:0/h264 @ 0x1] Decoding error: Invalid data"),
            LogLine::DecodeError("Decoding error: Invalid data".into())
        );
        // Side-data lines of showinfo and garbage are not frames.
        assert!(matches!(
            parse_log_line("[Parsed_showinfo_0 @ 0x5]   side data - User Data Unregistered:"),
            LogLine::Other(_)
        ));
        assert!(matches!(
            parse_log_line("[Parsed_showinfo_0 @ 0x5] n: s:99999999999999x4"),
            LogLine::Other(_)
        ));
    }

    #[test]
    fn failures_are_explained_in_a_few_words() {
        let p = Path::new("clip.mp4");
        let log = |lines: &[&str]| lines.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // A text file named .mp4: FFmpeg guesses MP4 with a low score and finds no index.
        assert_eq!(
            failure_reason(
                &log(&[
                    "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] Format mov,mp4,m4a,3gp,3g2,mj2 detected \
                     only with low score of 1, misdetection possible!",
                    "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] moov atom not found",
                    "clip.mp4: Invalid data found when processing input"
                ]),
                p
            ),
            "is not a video FFmpeg can read (Invalid data found when processing input)"
        );
        // A real MP4 cut before its index.
        assert_eq!(
            failure_reason(
                &log(&[
                    "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] moov atom not found",
                    "clip.mp4: Invalid data found when processing input"
                ]),
                p
            ),
            "is not a playable video (moov atom not found: truncated or not an MP4)"
        );
        assert_eq!(
            failure_reason(
                &log(&[
                    "Stream map '0:v:0' matches no streams.",
                    "To ignore this..."
                ]),
                p
            ),
            "has no video stream"
        );
        assert_eq!(
            failure_reason(&[], p),
            "no frame could be decoded (FFmpeg decoded no frame)"
        );
    }

    #[test]
    fn frames_are_cut_from_the_pipe_by_their_headers() {
        let (htx, hrx) = unbounded();
        let (itx, irx) = bounded(16);
        htx.send(Header::Frame {
            pts_secs: Some(0.0),
            width: 2,
            height: 1,
        })
        .unwrap();
        htx.send(Header::Undecodable("bad packet".into())).unwrap();
        htx.send(Header::Frame {
            pts_secs: Some(0.5),
            width: 2,
            height: 1,
        })
        .unwrap();
        // A third header whose bytes never come: the pipe ends inside it.
        htx.send(Header::Frame {
            pts_secs: Some(1.0),
            width: 2,
            height: 1,
        })
        .unwrap();
        drop(htx);
        let bytes: Vec<u8> = (0..15).collect();
        let end = read_frames_from(&mut &bytes[..], &hrx, &itx);
        assert!(end.unwrap().contains("ended inside a frame"));
        let got: Vec<Item> = irx.try_iter().collect();
        assert_eq!(got.len(), 3);
        assert!(
            matches!(&got[0], Item::Frame { image, .. } if image.as_raw()[..] == [0, 1, 2, 3, 4, 5])
        );
        assert!(matches!(&got[1], Item::Undecodable(w) if w == "bad packet"));
        assert!(
            matches!(&got[2], Item::Frame { pts_secs: Some(t), image } if *t == 0.5 && image.as_raw()[0] == 6)
        );
    }

    #[test]
    fn capped_lines_never_grow_past_the_cap() {
        let data = vec![b'x'; 1000];
        let mut r = BufReader::with_capacity(64, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut r, &mut buf, 100).unwrap(), 100);
        let mut r = BufReader::new(&b"ab\ncd"[..]);
        buf.clear();
        read_line_capped(&mut r, &mut buf, 100).unwrap();
        assert_eq!(buf, b"ab\n");
        buf.clear();
        read_line_capped(&mut r, &mut buf, 100).unwrap();
        assert_eq!(buf, b"cd");
    }

    #[test]
    fn video_names_are_recognised() {
        assert!(looks_like_video(Path::new("no/such/clip.MP4")));
        assert!(looks_like_video(Path::new("no/such/clip.webm")));
        assert!(!looks_like_video(Path::new("no/such/frames")));
    }
}
