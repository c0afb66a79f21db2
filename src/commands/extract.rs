//! `gesture-app data extract`: video files to frame folders, as TRN-pytorch's `extract_frames.py`
//! does for Something-Something v2 before training: `OUT/rgb/ID/00001.jpg...` for every clip of
//! the given lists (`something-something-v2-train.json`, ...; or every video in the folder),
//! with the label and list files copied beside them so `train --root OUT` reads the set as it
//! ships. Each video is decoded by its own `ffmpeg` process (the field's decoder, as the video
//! source uses it), several at a time; a clip is written into a hidden folder and renamed when
//! complete, so an interrupted run resumes where it stopped and never leaves half a clip.

use anyhow::{anyhow, bail, Context};
use gesture_app::capture::video::{ffmpeg_program, VIDEO_EXTENSIONS};
use gesture_app::train::data::index::{read_labels, read_list};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Flags of `data extract`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example (Something-Something v2 as it ships):
  gesture-app data extract --videos 20bn-something-something-v2 --out ssv2 \\
    --labels something-something-v2-labels.json \\
    --list something-something-v2-train.json --list something-something-v2-validation.json
  gesture-app train --root ssv2 --train-list something-something-v2-train.json \\
    --val-list something-something-v2-validation.json ...")]
pub struct ExtractArgs {
    /// Folder of the videos, named by clip id (`78687.webm`).
    #[arg(long, value_name = "DIR")]
    pub videos: PathBuf,
    /// Data set root to write: frames in OUT/rgb/ID/, label and list files copied into OUT.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Label file (`something-something-v2-labels.json`, `category.txt`...), copied into OUT.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Index files naming the clips to extract (repeatable; needs --labels), copied into OUT.
    /// Without it: every video in --videos.
    #[arg(long = "list", value_name = "FILE")]
    pub lists: Vec<PathBuf>,
    /// Videos decoded at once [default: the CPU cores].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Scale frames to this height (width keeps the aspect) [default: the video's own].
    #[arg(long, value_name = "PX")]
    pub height: Option<u32>,
    /// Longest one video may take before it is given up as failed, seconds.
    #[arg(long, default_value_t = 300, value_name = "S")]
    pub timeout: u64,
}

/// One clip to extract.
struct Job {
    id: String,
    video: PathBuf,
}

/// Runs `data extract`.
pub fn run(args: ExtractArgs) -> anyhow::Result<ExitCode> {
    if !args.videos.is_dir() {
        bail!("--videos {}: not a folder", args.videos.display());
    }
    let ids: Vec<String> = if args.lists.is_empty() {
        video_ids(&args.videos)?
    } else {
        let labels_path = args
            .labels
            .as_ref()
            .ok_or_else(|| anyhow!("--list needs --labels (the label file the list refers to)"))?;
        let labels = read_labels(labels_path)?;
        let mut ids = Vec::new();
        for list in &args.lists {
            ids.extend(read_list(list, &labels)?.entries.into_iter().map(|e| e.id));
        }
        ids
    };
    if ids.is_empty() {
        bail!("no video to extract in {}", args.videos.display());
    }
    let frames_root = args.out.join("rgb");
    std::fs::create_dir_all(&frames_root)
        .with_context(|| format!("cannot create {}", frames_root.display()))?;
    for file in args.labels.iter().chain(&args.lists) {
        let to = args.out.join(file.file_name().unwrap_or_default());
        if std::fs::canonicalize(file).ok() != std::fs::canonicalize(&to).ok() {
            // Copied beside and renamed: a reader never sees half a file.
            let tmp = args.out.join(".copy.partial");
            std::fs::copy(file, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &to))
                .with_context(|| format!("cannot copy {} to {}", file.display(), to.display()))?;
        }
    }
    let mut jobs = Vec::new();
    let mut skipped = 0;
    let mut failed: Vec<(String, String)> = Vec::new();
    for id in ids {
        if frames_root.join(&id).is_dir() {
            skipped += 1;
            continue;
        }
        match find_video(&args.videos, &id) {
            Some(video) => jobs.push(Job { id, video }),
            None => failed.push((id, "no video file of that name".into())),
        }
    }
    let total = jobs.len();
    let threads = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    eprintln!(
        "{total} video(s) to extract into {} with {threads} job(s); {skipped} already there",
        frames_root.display()
    );
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} videos, {per_sec}, ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let next = AtomicUsize::new(0);
    let frames = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    let started = Instant::now();
    let timeout = Duration::from_secs(args.timeout.max(1));
    std::thread::scope(|s| {
        for _ in 0..threads.min(total.max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                match extract_one(job, &frames_root, args.height, timeout) {
                    Ok(n) => {
                        frames.fetch_add(n, Ordering::SeqCst);
                    }
                    Err(e) => {
                        if let Ok(mut errs) = errors.lock() {
                            errs.push((job.id.clone(), e))
                        }
                    }
                }
                if let Some(b) = &bar {
                    b.inc(1);
                }
            });
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let job_errors = errors.into_inner().unwrap_or_default();
    let done = total - job_errors.len();
    failed.extend(job_errors);
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "extracted {done} video(s), {} frames, in {secs:.1} s ({:.1} videos/s); {skipped} were \
         already there; {} failed",
        frames.load(Ordering::SeqCst),
        done as f64 / secs.max(1e-9),
        failed.len()
    );
    for (id, why) in failed.iter().take(20) {
        eprintln!("  {id}: {why}");
    }
    if failed.len() > 20 {
        eprintln!("  ... and {} more", failed.len() - 20);
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The clip ids of the video files in `dir` (file names without extension), sorted.
fn video_ids(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// `dir/ID.EXT` for the first video extension that exists (`.webm` first: SSv2's).
fn find_video(dir: &Path, id: &str) -> Option<PathBuf> {
    VIDEO_EXTENSIONS
        .iter()
        .flat_map(|e| [e.to_string(), e.to_ascii_uppercase()])
        .map(|e| dir.join(format!("{id}.{e}")))
        .find(|p| p.is_file())
}

/// Decodes one video into `root/ID/00001.jpg...` (through a hidden folder renamed at the end);
/// returns its frame count.
fn extract_one(
    job: &Job,
    root: &Path,
    height: Option<u32>,
    timeout: Duration,
) -> Result<usize, String> {
    let partial = root.join(format!(".{}.partial", job.id));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let result = run_ffmpeg(&job.video, &partial, height, timeout).and_then(|()| {
        let n = std::fs::read_dir(&partial)
            .map_err(|e| e.to_string())?
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "jpg"))
            })
            .count();
        if n == 0 {
            return Err("FFmpeg decoded no frame".into());
        }
        std::fs::rename(&partial, root.join(&job.id)).map_err(|e| e.to_string())?;
        Ok(n)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    result
}

/// `ffmpeg -i VIDEO OUT/%05d.jpg`, every decoded frame once, killed after `timeout`.
fn run_ffmpeg(
    video: &Path,
    out: &Path,
    height: Option<u32>,
    timeout: Duration,
) -> Result<(), String> {
    let mut cmd = Command::new(ffmpeg_program());
    cmd.args([
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-threads",
        "1",
    ])
    .arg("-i")
    .arg(video)
    .args(["-map", "0:v:0", "-fps_mode", "passthrough", "-q:v", "2"]);
    if let Some(h) = height {
        cmd.args(["-vf", &format!("scale=-2:{h}")]);
    }
    cmd.arg(out.join("%05d.jpg"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        format!(
            "cannot run {}: {e} (extracting frames needs FFmpeg: apt install ffmpeg)",
            ffmpeg_program().display()
        )
    })?;
    // Drained on its own thread so a chatty decoder cannot block on a full pipe.
    let log = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = (&mut err).take(64 << 10).read_to_end(&mut text);
            let _ = std::io::copy(&mut err, &mut std::io::sink());
            String::from_utf8_lossy(&text).into_owned()
        })
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let log = log.and_then(|h| h.join().ok()).unwrap_or_default();
    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    match status {
        None => Err(format!("FFmpeg took longer than {} s", timeout.as_secs())),
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("FFmpeg failed ({s}): {last}")),
    }
}
