//! The webcam as a frame source, on any [`CameraBackend`]: picks a camera by index or name,
//! negotiates its mode ([`super::negotiate`]), decodes its frames ([`super::decode`]) and
//! survives its faults. The device is opened and read on a reader thread of its own, because
//! a driver call can block for ever; the capture thread only waits on a channel, so it always
//! sees a stall (no frame for [`CameraSettings::stall_after`]: the camera is reopened), an
//! unplug (the camera is looked for again, by name then index, with backoff, until it returns)
//! and a panic in the driver (the stream ends with its cause).

use super::decode::decode;
use super::device::{CameraBackend, CameraDevice, CameraId, CameraSystem, Mode, RawFrame};
use super::negotiate::{choose, Choice, Wanted};
use super::thread::panic_message;
use super::{CameraSelector, CaptureError, FrameSource, Pulled, SourceFrame, SourceOptions};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long `next_frame` waits for a frame before returning so a stop request is seen.
const SLICE: Duration = Duration::from_millis(100);
/// First wait before reopening a lost or stalled camera; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// Raw frames queued between the reader and the capture thread; more are dropped (the
/// capture thread only falls behind while it decodes, and then the newest frames matter).
const RAW_QUEUE: usize = 2;

/// Which camera to open and how.
#[derive(Debug, Clone)]
pub struct CameraSettings {
    pub selector: Option<CameraSelector>,
    pub wanted: Wanted,
    pub system: CameraSystem,
    /// No frame for this long: "camera stalled", and the camera is reopened.
    pub stall_after: Duration,
    /// Longest wait for a camera to open.
    pub open_timeout: Duration,
}

impl CameraSettings {
    /// The settings `--source camera[:…]`, `--resolution` and `--fps` describe.
    pub fn new(selector: Option<CameraSelector>, options: &SourceOptions) -> Self {
        CameraSettings {
            selector,
            wanted: Wanted {
                resolution: options.resolution,
                fps: options.fps,
            },
            system: options.cameras.clone(),
            stall_after: Duration::from_secs(2),
            open_timeout: Duration::from_secs(15),
        }
    }
}

/// A camera as `gesture-app cameras` lists it.
#[derive(Debug, Clone)]
pub struct CameraListing {
    pub id: CameraId,
    /// The modes it offers, sorted, or why they could not be read.
    pub modes: Result<Vec<Mode>, String>,
}

/// Every camera of `system` with its modes; reading the modes does not start a camera.
pub fn list_cameras(system: &CameraSystem) -> Result<Vec<CameraListing>, CaptureError> {
    Ok(system
        .0
        .cameras()?
        .into_iter()
        .map(|id| {
            let modes = system
                .0
                .open(&id)
                .and_then(|mut dev| dev.modes())
                .map(|mut modes| {
                    modes.sort_by(|a, b| {
                        (a.width * a.height, a.fps, a.format.preference()).cmp(&(
                            b.width * b.height,
                            b.fps,
                            b.format.preference(),
                        ))
                    });
                    modes.dedup();
                    modes
                })
                .map_err(|e| e.to_string());
            CameraListing { id, modes }
        })
        .collect())
}

/// The camera `selector` names among `cameras` (the first when `None`).
fn pick<'a>(
    cameras: &'a [CameraId],
    selector: Option<&CameraSelector>,
) -> Result<&'a CameraId, CaptureError> {
    let found = match selector {
        None => cameras.first(),
        Some(CameraSelector::Index(i)) => cameras.iter().find(|c| c.index == *i),
        Some(CameraSelector::Name(n)) => {
            let n = n.to_lowercase();
            cameras.iter().find(|c| c.name.to_lowercase().contains(&n))
        }
    };
    found.ok_or_else(|| CaptureError::UnknownCamera {
        wanted: match selector {
            None => "found (is one plugged in? `gesture-app cameras` lists them)".into(),
            Some(CameraSelector::Index(i)) => format!("with index {i}"),
            Some(CameraSelector::Name(n)) => format!("named '{n}'"),
        },
        available: if cameras.is_empty() {
            "none".into()
        } else {
            cameras
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}

/// The camera that was streaming, when it comes back: the same name first (its index may
/// have changed when it was plugged in again), else the same index.
fn find_again<'a>(cameras: &'a [CameraId], was: &CameraId) -> Option<&'a CameraId> {
    cameras
        .iter()
        .find(|c| c.name == was.name)
        .or_else(|| cameras.iter().find(|c| c.index == was.index))
}

/// What the reader thread tells the capture thread.
enum FromReader {
    Opened {
        id: CameraId,
        choice: Choice,
    },
    Frame(RawFrame),
    /// Opening or reading failed (busy, unplugged, driver error): worth trying again.
    Failed(CaptureError),
    /// The backend panicked: a bug, not worth retrying.
    Panicked(String),
}

/// Which camera a reader opens.
enum Target {
    Select(Option<CameraSelector>),
    Again(CameraId),
}

/// A reader thread. Dropping it asks the thread to stop; a thread blocked in the driver is
/// left to end on its own.
struct Reader {
    rx: Receiver<FromReader>,
    stop: Arc<AtomicBool>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn spawn_reader(settings: &CameraSettings, target: Target) -> Result<Reader, CaptureError> {
    let (tx, rx) = bounded(RAW_QUEUE);
    let stop = Arc::new(AtomicBool::new(false));
    let backend = settings.system.0.clone();
    let wanted = settings.wanted;
    let thread_stop = stop.clone();
    std::thread::Builder::new()
        .name("camera-reader".into())
        .spawn(move || {
            let run = AssertUnwindSafe(|| read(&*backend, target, wanted, &tx, &thread_stop));
            match catch_unwind(run) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let _ = tx.send(FromReader::Failed(e));
                }
                Err(panic) => {
                    let _ = tx.send(FromReader::Panicked(panic_message(&*panic)));
                }
            }
        })
        .map_err(|e| CaptureError::Settings(format!("cannot start camera reader thread: {e}")))?;
    Ok(Reader { rx, stop })
}

/// The reader thread's body: find, open, negotiate, stream until stopped or failed.
fn read(
    backend: &dyn CameraBackend,
    target: Target,
    wanted: Wanted,
    tx: &Sender<FromReader>,
    stop: &AtomicBool,
) -> Result<(), CaptureError> {
    let cameras = backend.cameras()?;
    let id = match &target {
        Target::Select(selector) => pick(&cameras, selector.as_ref())?.clone(),
        Target::Again(was) => find_again(&cameras, was)
            .ok_or_else(|| CaptureError::Camera {
                camera: was.to_string(),
                reason: "not plugged in".into(),
            })?
            .clone(),
    };
    let mut device: Box<dyn CameraDevice> = backend.open(&id)?;
    let mut choice = choose(&id.to_string(), &device.modes()?, wanted)?;
    let started = device.start(&choice.mode)?;
    if started != choice.mode {
        // The driver had its own idea (another size or rate): say so, and run at what it gives.
        let answered = format!(
            "asked the camera for {}, it answered {started}",
            choice.mode
        );
        choice.note = Some(match choice.note.take() {
            Some(n) => format!("{n}; {answered}"),
            None => answered,
        });
        choice.mode = started;
    }
    if tx.send(FromReader::Opened { id, choice }).is_err() {
        return Ok(());
    }
    while !stop.load(Ordering::SeqCst) {
        let frame = device.frame()?;
        match tx.try_send(FromReader::Frame(frame)) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => break,
        }
    }
    Ok(())
}

/// Where the camera stands.
#[derive(Clone, Copy)]
enum Link {
    /// Frames are expected; the last arrived (or the camera opened) at this time.
    Streaming(Instant),
    /// A reader is opening the camera again since this time.
    Reopening(Instant),
    /// Waiting until this time to try again.
    Waiting(Instant),
}

/// An open webcam that keeps itself open.
pub struct CameraSource {
    settings: CameraSettings,
    id: CameraId,
    mode: Mode,
    note: Option<String>,
    reader: Option<Reader>,
    link: Link,
    /// What is wrong while not streaming ("camera lost, waiting for it").
    trouble: Option<String>,
    backoff: Duration,
    start: Instant,
}

impl CameraSource {
    /// Finds and opens the selected camera, negotiates its mode and starts it. Fails when the
    /// camera is not there, is busy, offers nothing we decode, or does not open in time.
    pub fn open(settings: CameraSettings) -> Result<Self, CaptureError> {
        let reader = spawn_reader(&settings, Target::Select(settings.selector.clone()))?;
        let what = match &settings.selector {
            None => "camera".to_string(),
            Some(CameraSelector::Index(i)) => format!("camera {i}"),
            Some(CameraSelector::Name(n)) => format!("camera '{n}'"),
        };
        let (id, choice) = match reader.rx.recv_timeout(settings.open_timeout) {
            Ok(FromReader::Opened { id, choice }) => (id, choice),
            Ok(FromReader::Failed(e)) => return Err(e),
            Ok(FromReader::Panicked(why)) => {
                return Err(CaptureError::Panicked("camera reader", why))
            }
            Ok(FromReader::Frame(_)) | Err(RecvTimeoutError::Disconnected) => {
                return Err(CaptureError::Camera {
                    camera: what,
                    reason: "the reader stopped before the camera opened".into(),
                })
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(CaptureError::StartTimeout(what, settings.open_timeout))
            }
        };
        Ok(CameraSource {
            settings,
            id,
            mode: choice.mode,
            note: choice.note,
            reader: Some(reader),
            link: Link::Streaming(Instant::now()),
            trouble: None,
            backoff: FIRST_BACKOFF,
            start: Instant::now(),
        })
    }

    /// Drops the reader and tries again after the backoff, saying `why` meanwhile.
    fn retry_later(&mut self, why: String) -> Pulled {
        self.reader = None;
        self.link = Link::Waiting(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.trouble = Some(why.clone());
        Pulled::Waiting(Some(why))
    }

    fn on_frame(&mut self, raw: RawFrame) -> Pulled {
        self.link = Link::Streaming(raw.captured_at);
        self.backoff = FIRST_BACKOFF;
        self.trouble = None;
        match decode(&raw) {
            Ok(image) => Pulled::Frame(SourceFrame {
                image,
                pts: raw.captured_at.saturating_duration_since(self.start),
                captured_at: Some(raw.captured_at),
            }),
            Err(e) => Pulled::Undecodable(format!("camera {}: {e}", self.id)),
        }
    }
}

impl FrameSource for CameraSource {
    fn describe(&self) -> String {
        format!("camera {} {}", self.id, self.mode)
    }

    fn nominal_fps(&self) -> Option<f32> {
        Some(self.mode.fps as f32)
    }

    fn note(&self) -> Option<String> {
        self.note.clone()
    }

    fn next_frame(&mut self) -> Result<Pulled, CaptureError> {
        if let Link::Waiting(at) = self.link {
            let now = Instant::now();
            if now < at {
                std::thread::sleep((at - now).min(SLICE));
                return Ok(Pulled::Waiting(self.trouble.clone()));
            }
            self.reader = Some(spawn_reader(
                &self.settings,
                Target::Again(self.id.clone()),
            )?);
            self.link = Link::Reopening(Instant::now());
        }
        let Some(reader) = &self.reader else {
            return Ok(self.retry_later("camera lost, waiting for it".into()));
        };
        match reader.rx.recv_timeout(SLICE) {
            Ok(FromReader::Frame(raw)) => Ok(self.on_frame(raw)),
            Ok(FromReader::Opened { id, choice }) => {
                self.id = id;
                self.mode = choice.mode;
                self.note = choice.note;
                self.link = Link::Streaming(Instant::now());
                Ok(Pulled::Waiting(self.trouble.clone()))
            }
            Ok(FromReader::Failed(e)) => {
                // Keep saying "lost" while it is away, whatever each attempt's reason.
                let why = match &self.trouble {
                    Some(t) if t.starts_with("camera lost") => t.clone(),
                    _ => format!("camera lost, waiting for it ({e})"),
                };
                Ok(self.retry_later(why))
            }
            Ok(FromReader::Panicked(why)) => Err(CaptureError::Panicked("camera reader", why)),
            Err(RecvTimeoutError::Disconnected) => {
                Ok(self.retry_later("camera lost, waiting for it".into()))
            }
            Err(RecvTimeoutError::Timeout) => Ok(match self.link {
                Link::Streaming(since) if since.elapsed() >= self.settings.stall_after => self
                    .retry_later(format!(
                        "camera stalled: no frame for {:.0} s; reopening it",
                        since.elapsed().as_secs_f32()
                    )),
                Link::Reopening(since) if since.elapsed() >= self.settings.open_timeout => {
                    self.retry_later("camera lost, waiting for it (it does not open)".into())
                }
                _ => Pulled::Waiting(self.trouble.clone()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u32, name: &str) -> CameraId {
        CameraId {
            index: i,
            name: name.into(),
        }
    }

    #[test]
    fn picks_by_index_or_name_and_explains_misses() {
        let cams = vec![id(0, "Integrated Webcam"), id(2, "USB Camera HD")];
        assert_eq!(pick(&cams, None).unwrap().name, "Integrated Webcam");
        let sel = CameraSelector::Index(2);
        assert_eq!(pick(&cams, Some(&sel)).unwrap().name, "USB Camera HD");
        let sel = CameraSelector::Name("usb".into());
        assert_eq!(pick(&cams, Some(&sel)).unwrap().index, 2);
        let err = pick(&cams, Some(&CameraSelector::Index(1)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("index 1") && err.contains("2 (USB Camera HD)"),
            "{err}"
        );
        let err = pick(&[], None).unwrap_err().to_string();
        assert!(err.contains("available: none"), "{err}");
    }

    #[test]
    fn a_returning_camera_is_found_by_name_then_index() {
        let was = id(2, "USB Camera HD");
        // Plugged into another port: a new index, the same name.
        let cams = vec![id(0, "Integrated Webcam"), id(3, "USB Camera HD")];
        assert_eq!(find_again(&cams, &was), Some(&cams[1]));
        // Renamed by the driver but at the same index.
        let cams = vec![id(2, "USB Camera")];
        assert_eq!(find_again(&cams, &was), Some(&cams[0]));
        assert_eq!(find_again(&[id(0, "Other")], &was), None);
    }
}
