//! `gesture-app record`: records clips of one gesture from any source the live app takes (a
//! camera, a video file, a frame folder, generated gestures) into a data set in Jester's layout, through
//! [`DatasetWriter`]. Frames are stored as they arrived, with their rate in `dataset.toml`; a
//! clip cut short (Ctrl-C, a camera lost, a source error) is discarded and every finished clip
//! is kept.

use super::run::{parse_resolution, ranged, FPS_RANGE};
use crate::process;
use anyhow::{anyhow, Context};
use gesture_app::capture::{CameraSystem, FrameSource, Pulled, SourceOptions, SourceSpec};
use gesture_app::train::data::writer::{check_label, DatasetWriter, Split, DEFAULT_VAL_EVERY};
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Record clips of one gesture into a data set.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  gesture-app record --out my_gestures --label \"Thumb Up\" --clips 10
  gesture-app record --out my_gestures --label \"Swiping Left\" --source path/to/frames --clips 3

The data set is in Jester's layout (category.txt, train_videofolder.txt, val_videofolder.txt,
rgb/ID/00001.jpg...) plus dataset.toml with each clip's frame rate, so `train`, `eval` and
`data check` read it as they read Jester; `train` and `eval` resample the clips to the model's
clip rate. Labels keep the order they were first recorded in. Ctrl-C discards the clip being
recorded and keeps the others (exit status 130).")]
pub struct RecordArgs {
    /// The data set to add the clips to: created when the folder is missing or empty, appended
    /// to when it is a data set (from `record` or `synth`).
    #[arg(long, value_name = "DATASET")]
    pub out: PathBuf,

    /// The gesture's name, one line (e.g. "Thumb Up"). A new name becomes a new class at the
    /// end of category.txt.
    #[arg(long, value_name = "NAME")]
    pub label: String,

    /// How many clips to record, 1 to 1000.
    #[arg(long, default_value_t = 5, value_name = "K", value_parser = ranged(CLIPS, "clips"))]
    pub clips: usize,

    /// Length of each clip in seconds, 0.5 to 60.
    #[arg(long, default_value_t = 2.5, value_name = "S", value_parser = ranged(SECONDS, "seconds"))]
    pub seconds: f32,

    /// Seconds of countdown before each clip, 0 to 60, to get into position [default: 3 for a
    /// camera, 0 for a folder or generated gestures].
    #[arg(long, value_name = "S", value_parser = ranged(COUNTDOWN, "seconds"))]
    pub countdown: Option<f32>,

    /// Where frames come from: `camera` (the first one), `camera:N`, `camera:NAME`, a video
    /// file or a folder of frames or of clip folders (played from the start again until every
    /// clip is recorded), or `synthetic` (generated gestures) [default: camera].
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<SourceSpec>,

    /// Playback rate of a folder or generated source, or the rate asked of a camera, 1 to 240
    /// [default: 12 for folders, 30 for synthetic and cameras]. Frames are stored at the rate
    /// they come.
    #[arg(long, value_name = "FPS", value_parser = ranged(FPS_RANGE, "frames per second"))]
    pub fps: Option<f32>,

    /// Camera resolution to ask for, e.g. 1280x720 [default: 640x480].
    #[arg(long, value_name = "WxH", value_parser = parse_resolution)]
    pub resolution: Option<(u32, u32)>,

    /// Every M-th clip of a label goes to the validation list, and its second clip while it
    /// has none there; M from 2 to 1000.
    #[arg(long, default_value_t = DEFAULT_VAL_EVERY, value_name = "M", value_parser = ranged(VAL_EVERY, "clips"))]
    pub val_every: usize,

    /// Seed of the generated gestures (`--source synthetic`).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,
}

const CLIPS: RangeInclusive<usize> = 1..=1000;
const SECONDS: RangeInclusive<f32> = 0.5..=60.0;
const COUNTDOWN: RangeInclusive<f32> = 0.0..=60.0;
const VAL_EVERY: RangeInclusive<usize> = 2..=1000;
/// Countdown before each clip from a camera when `--countdown` is not given.
const CAMERA_COUNTDOWN: f32 = 3.0;

/// What to record.
#[derive(Debug, Clone)]
struct Plan {
    label: String,
    clips: usize,
    seconds: Duration,
    countdown: Duration,
    /// A camera: frames come in real time and must be read during the countdown too.
    live: bool,
}

/// How a recording ended, when it did not fail.
#[derive(Debug, Clone, PartialEq)]
struct Recorded {
    clips: usize,
    /// Stopped by Ctrl-C.
    interrupted: bool,
    /// A clip was being recorded when it stopped (and was discarded).
    discarded: bool,
    /// Frames the source could not decode (dropped).
    undecodable: usize,
}

/// Runs `gesture-app record`.
pub fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    // Checked before a camera is opened or anything is written.
    let label = check_label(&args.label).context("--label")?;
    let existed = args.out.exists();
    let mut writer =
        DatasetWriter::open(&args.out).with_context(|| format!("--out {}", args.out.display()))?;
    let result = record_into(&args, &label, &mut writer);
    if !existed && writer.clips().is_empty() {
        // A folder this run made and put nothing in is not left behind.
        drop(writer);
        let _ = std::fs::remove_dir_all(&args.out);
    }
    result
}

fn record_into(
    args: &RecordArgs,
    label: &str,
    writer: &mut DatasetWriter,
) -> anyhow::Result<ExitCode> {
    let label = writer.resolve_label(label).context("--label")?;
    writer.set_val_every(args.val_every)?;
    let spec = args.source.clone().unwrap_or(SourceSpec::Camera(None));
    let live = matches!(spec, SourceSpec::Camera(_));
    let options = SourceOptions {
        fps: args.fps,
        looping: true,
        resolution: args.resolution,
        seed: args.seed,
        cameras: CameraSystem::native(),
    };
    let stop = process::catch_interrupts();
    eprintln!("{}", spec.opening_message());
    let mut source = spec
        .opener(&options)
        .and_then(|open| open())
        .with_context(|| format!("cannot open the source {spec}"))?;
    let plan = Plan {
        label,
        clips: args.clips,
        seconds: Duration::from_secs_f32(args.seconds),
        countdown: Duration::from_secs_f32(args.countdown.unwrap_or(if live {
            CAMERA_COUNTDOWN
        } else {
            0.0
        })),
        live,
    };
    eprintln!(
        "recording {} clip(s) of {:.1} s of '{}' from {} into {}",
        plan.clips,
        plan.seconds.as_secs_f32(),
        plan.label,
        source.describe(),
        writer.root().display()
    );
    let result = record(source.as_mut(), writer, &plan, stop, &mut std::io::stderr());
    drop(source);
    let summary = match writer.counts().into_iter().find(|c| c.label == plan.label) {
        Some(c) => format!(
            "{}: '{}' has {} training + {} validation clip(s); {} label(s) in all",
            writer.root().display(),
            plan.label,
            c.train,
            c.val,
            writer.labels().len()
        ),
        None => format!("{}: nothing recorded", writer.root().display()),
    };
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{summary}");
            return Err(e);
        }
    };
    if r.undecodable > 0 {
        eprintln!(
            "{} frame(s) could not be decoded and were skipped",
            r.undecodable
        );
    }
    eprintln!("{summary}");
    if r.interrupted {
        eprintln!(
            "interrupted: {} of {} clip(s) recorded{}",
            r.clips,
            plan.clips,
            if r.discarded {
                "; the clip in progress was discarded"
            } else {
                ""
            }
        );
        return Ok(ExitCode::from(process::INTERRUPTED_STATUS));
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a frame pull left the recording.
enum Next {
    Frame(gesture_app::capture::SourceFrame),
    /// Nothing usable now; `Some`: the source says what is wrong.
    Nothing(Option<String>),
}

/// Pulls one frame, turning the end of the stream and source errors into errors.
fn pull(source: &mut dyn FrameSource, undecodable: &mut usize) -> anyhow::Result<Next> {
    match source.next_frame() {
        Ok(Pulled::Frame(f)) => Ok(Next::Frame(f)),
        Ok(Pulled::Undecodable(_)) => {
            *undecodable += 1;
            Ok(Next::Nothing(None))
        }
        Ok(Pulled::Waiting(why)) => Ok(Next::Nothing(why)),
        Ok(Pulled::End) => Err(anyhow!("the source ended")),
        Err(e) => Err(anyhow!(e)),
    }
}

/// Records `plan.clips` clips from `source` into `writer`, telling `log` how it goes. Returns
/// early, with what is recorded, once `stop` is set; a source error ends it with the error.
/// Either way the clip in progress is discarded and the finished ones are in the data set.
fn record(
    source: &mut dyn FrameSource,
    writer: &mut DatasetWriter,
    plan: &Plan,
    stop: &AtomicBool,
    log: &mut dyn Write,
) -> anyhow::Result<Recorded> {
    let mut done = Recorded {
        clips: 0,
        interrupted: false,
        discarded: false,
        undecodable: 0,
    };
    let k = plan.clips;
    // 1 ms of slack: a played source's frame at exactly S seconds belongs to the next clip.
    let length = plan.seconds.saturating_sub(Duration::from_millis(1));
    while done.clips < k {
        let n = done.clips + 1;
        if !countdown(source, plan, n, stop, log, &mut done.undecodable)? {
            done.interrupted = true;
            return Ok(done);
        }
        let _ = writeln!(log, "clip {n}/{k}: recording…");
        let mut clip = writer.begin_clip()?;
        let mut start: Option<Duration> = None;
        let finished = loop {
            if stop.load(Ordering::SeqCst) {
                done.interrupted = true;
                done.discarded = true;
                return Ok(done); // `clip` is dropped: discarded.
            }
            let frame = match pull(source, &mut done.undecodable) {
                Ok(Next::Frame(f)) => f,
                Ok(Next::Nothing(None)) => continue,
                Ok(Next::Nothing(Some(why))) => {
                    let _ = writeln!(
                        log,
                        "clip {n}/{k} discarded: {why}; it is recorded again when frames come back"
                    );
                    break false;
                }
                Err(e) => {
                    return Err(e.context(format!(
                        "clip {n}/{k} discarded, {} clip(s) kept",
                        done.clips
                    )))
                }
            };
            let t0 = *start.get_or_insert(frame.pts);
            if frame.pts.saturating_sub(t0) >= length {
                break true;
            }
            if let Err(e) = clip.push(&frame.image, frame.pts) {
                let _ = writeln!(log, "clip {n}/{k} discarded: {e}; recording it again");
                break false;
            }
        };
        if !finished {
            continue;
        }
        let info = writer.finish_clip(clip, &plan.label)?;
        done.clips += 1;
        let split = match info.split {
            Split::Train => "training",
            Split::Val => "validation",
        };
        let _ = writeln!(
            log,
            "clip {n}/{k} recorded: {}, {} frames at {:.1} fps, {split}",
            info.id,
            info.frames,
            info.fps.unwrap_or(f32::NAN)
        );
    }
    Ok(done)
}

/// Counts down before clip `n`; a camera's frames are read and dropped meanwhile (it would
/// otherwise fall behind), and a camera fault starts the countdown again once frames are back.
/// False when `stop` was set.
fn countdown(
    source: &mut dyn FrameSource,
    plan: &Plan,
    n: usize,
    stop: &AtomicBool,
    log: &mut dyn Write,
    undecodable: &mut usize,
) -> anyhow::Result<bool> {
    if plan.countdown.is_zero() {
        return Ok(!stop.load(Ordering::SeqCst));
    }
    let _ = write!(log, "clip {n}/{}: get ready…", plan.clips);
    let _ = log.flush();
    let mut deadline = Instant::now() + plan.countdown;
    let mut shown = None;
    let mut fault: Option<String> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            let _ = writeln!(log);
            return Ok(false);
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = writeln!(log, " go");
            return Ok(true);
        }
        let left = (deadline - now).as_secs_f32().ceil() as u32;
        if shown != Some(left) {
            let _ = write!(log, " {left}");
            let _ = log.flush();
            shown = Some(left);
        }
        if plan.live {
            match pull(source, undecodable)? {
                Next::Frame(_) => {
                    if fault.take().is_some() {
                        let _ = write!(log, "\nframes are back; clip {n}: get ready…");
                        deadline = Instant::now() + plan.countdown;
                        shown = None;
                    }
                }
                Next::Nothing(Some(why)) => {
                    if fault.as_deref() != Some(why.as_str()) {
                        let _ = write!(log, "\n{why}");
                        fault = Some(why);
                    }
                    // Not before frames flow again.
                    deadline = Instant::now() + plan.countdown;
                }
                Next::Nothing(None) => {}
            }
        } else {
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gesture_app::capture::{CaptureError, SourceFrame};
    use gesture_app::train::data::DataSpec;
    use image::RgbImage;
    use std::path::Path;

    /// Frames at 10 fps with a script: `fail_at` ends in an error, `stall_at` reports a fault
    /// once, `stop_at` sets the stop flag (Ctrl-C) at that frame.
    struct Scripted<'a> {
        n: u64,
        fail_at: Option<u64>,
        stall_at: Option<u64>,
        stop_at: Option<(u64, &'a AtomicBool)>,
    }

    impl FrameSource for Scripted<'_> {
        fn describe(&self) -> String {
            "scripted".into()
        }
        fn nominal_fps(&self) -> Option<f32> {
            Some(10.0)
        }
        fn next_frame(&mut self) -> Result<Pulled, CaptureError> {
            let i = self.n;
            self.n += 1;
            if self.fail_at == Some(i) {
                return Err(CaptureError::Ended("camera unplugged".into()));
            }
            if self.stall_at == Some(i) {
                return Ok(Pulled::Waiting(Some("camera stalled".into())));
            }
            if let Some((at, flag)) = self.stop_at {
                if at == i {
                    flag.store(true, Ordering::SeqCst);
                }
            }
            let img = RgbImage::from_pixel(8, 6, image::Rgb([i as u8, 0, 0]));
            Ok(Pulled::Frame(SourceFrame::played(img, i, 10.0)))
        }
    }

    fn plan(clips: usize) -> Plan {
        Plan {
            label: "wave".into(),
            clips,
            seconds: Duration::from_millis(500),
            countdown: Duration::ZERO,
            live: false,
        }
    }

    fn source(fail_at: Option<u64>, stall_at: Option<u64>) -> Scripted<'static> {
        Scripted {
            n: 0,
            fail_at,
            stall_at,
            stop_at: None,
        }
    }

    fn lists(root: &Path) -> (String, String) {
        let read = |n| std::fs::read_to_string(root.join(n)).unwrap_or_default();
        (read("train_videofolder.txt"), read("val_videofolder.txt"))
    }

    #[test]
    fn records_clips_of_the_given_length_at_the_arrival_rate() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::open(dir.path()).unwrap();
        let mut log = Vec::new();
        let stop = AtomicBool::new(false);
        let r = record(&mut source(None, None), &mut w, &plan(3), &stop, &mut log).unwrap();
        assert_eq!(r.clips, 3);
        assert!(!r.interrupted);
        // 0.5 s at 10 fps: 5 frames; the 6th starts the next clip's time and is dropped.
        let (train, val) = lists(dir.path());
        assert_eq!(train, "rec000001 5 0\nrec000003 5 0\n");
        assert_eq!(val, "rec000002 5 0\n");
        let ds = DataSpec::new(dir.path())
            .open(Path::new("train_videofolder.txt"))
            .unwrap();
        assert_eq!(ds.rates.rate("rec000003"), Some(10.0));
        let log = String::from_utf8(log).unwrap();
        assert!(
            log.contains("clip 3/3 recorded: rec000003, 5 frames at 10.0 fps, training"),
            "{log}"
        );
    }

    #[test]
    fn a_source_failing_mid_clip_keeps_the_finished_clips() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::open(dir.path()).unwrap();
        let stop = AtomicBool::new(false);
        // Clip 1 is frames 0-4 (frame 5 ends it), clip 2 frames 6-10, clip 3 dies at frame 14.
        let e = record(
            &mut source(Some(14), None),
            &mut w,
            &plan(5),
            &stop,
            &mut Vec::new(),
        )
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("clip 3/5 discarded, 2 clip(s) kept") && e.contains("unplugged"),
            "{e}"
        );
        assert_eq!(w.clips().len(), 2);
        let (train, val) = lists(dir.path());
        assert_eq!(
            (train.as_str(), val.as_str()),
            ("rec000001 5 0\n", "rec000002 5 0\n")
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("rgb"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn a_stall_discards_the_clip_and_records_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::open(dir.path()).unwrap();
        let stop = AtomicBool::new(false);
        let mut log = Vec::new();
        let r = record(
            &mut source(None, Some(8)),
            &mut w,
            &plan(2),
            &stop,
            &mut log,
        )
        .unwrap();
        assert_eq!(r.clips, 2);
        let log = String::from_utf8(log).unwrap();
        assert!(log.contains("clip 2/2 discarded: camera stalled"), "{log}");
        // The discarded clip's id is not reused; its folder is gone.
        let ids: Vec<String> = w.clips().into_iter().map(|c| c.id).collect();
        assert_eq!(ids, vec!["rec000001", "rec000003"]);
        assert!(!dir.path().join("rgb/rec000002").exists());
    }

    #[test]
    fn ctrl_c_mid_clip_discards_only_that_clip() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::open(dir.path()).unwrap();
        w.add_clip("earlier", &[RgbImage::new(8, 6), RgbImage::new(8, 6)], 12.0)
            .unwrap();
        let stop = AtomicBool::new(false);
        let mut src = Scripted {
            n: 0,
            fail_at: None,
            stall_at: None,
            stop_at: Some((8, &stop)),
        };
        let r = record(&mut src, &mut w, &plan(4), &stop, &mut Vec::new()).unwrap();
        assert_eq!(
            r,
            Recorded {
                clips: 1,
                interrupted: true,
                discarded: true,
                undecodable: 0
            }
        );
        let (train, val) = lists(dir.path());
        assert_eq!(train, "rec000001 2 0\nrec000002 5 1\n");
        assert_eq!(val, "");
        let entries = std::fs::read_dir(dir.path().join("rgb")).unwrap().count();
        assert_eq!(entries, 2, "no partial folder is left");
    }

    #[test]
    fn a_countdown_waits_and_can_be_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::open(dir.path()).unwrap();
        let stop = AtomicBool::new(false);
        let mut p = plan(1);
        p.countdown = Duration::from_millis(300);
        p.live = true;
        let t = Instant::now();
        let mut log = Vec::new();
        record(&mut source(None, None), &mut w, &p, &stop, &mut log).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(300));
        let log = String::from_utf8(log).unwrap();
        assert!(log.contains("clip 1/1: get ready… 1 go"), "{log}");
        stop.store(true, Ordering::SeqCst);
        let r = record(&mut source(None, None), &mut w, &p, &stop, &mut Vec::new()).unwrap();
        assert!(r.interrupted && r.clips == 0 && !r.discarded);
        assert_eq!(w.clips().len(), 1);
    }
}
