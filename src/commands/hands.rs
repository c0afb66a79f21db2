//! `gesture-app hands`: MediaPipe's hand-tracking graph on photographs (each on its own, as
//! `mediapipe.solutions.hands.Hands(static_image_mode=True)`), printing the hands found, or
//! one JSON line per image with `--json`.

use anyhow::Context;
use clap::Args;
use gesture_app::hands::tflite::TfliteModel;
use gesture_app::hands::tracker::{Hand, HandOptions, HandTracker};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The palm detector and hand landmarker that ship with the app (a copy on disk overrides the
/// built-in one, as for the demo weights).
pub const PALM_MODEL: &str = "weights/hands/palm_detection_full.tflite";
/// See [`PALM_MODEL`].
pub const LANDMARK_MODEL: &str = "weights/hands/hand_landmark_full.tflite";

/// The shipped model `name`: its copy on disk, or the one built into the program.
fn shipped_model(name: &'static str) -> anyhow::Result<TfliteModel> {
    Ok(match super::bundled::find(name) {
        super::bundled::Found::Disk(path) => TfliteModel::from_file(&path)?,
        super::bundled::Found::BuiltIn(name) => {
            let file = gesture_app::builtin::file(name)
                .with_context(|| format!("{name} is not built into this program"))?;
            TfliteModel::from_bytes(file.bytes, &file.path())?
        }
    })
}

/// Flags of `hands`.
#[derive(Debug, Args)]
#[command(
    after_help = "Handedness follows MediaPipe's convention: the model assumes a \
    mirrored (selfie-view) image, so a right hand in an unmirrored photograph is reported as \
    \"Left\". Landmarks are in pixels of the image (z at the scale of x, relative to the wrist); \
    world landmarks are in metres. The defaults are those of \
    mediapipe.solutions.hands.Hands(static_image_mode=True): the full palm and landmark models, \
    at most 2 hands, detection and presence thresholds 0.5."
)]
pub struct HandsArgs {
    /// One line of JSON per image: {"file", "width", "height", "hands": [{"box", "handedness",
    /// "score", "landmarks": [[x, y, z] x 21], "world_landmarks": [[x, y, z] x 21]}]}
    #[arg(long)]
    pub json: bool,
    /// At most this many hands per image
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub max_hands: u32,
    /// Palm detection score threshold (MediaPipe's min_detection_confidence)
    #[arg(long, default_value_t = 0.5, value_parser = unit_interval)]
    pub min_detection_confidence: f32,
    /// Hand presence threshold (MediaPipe's min_tracking_confidence)
    #[arg(long, default_value_t = 0.5, value_parser = unit_interval)]
    pub min_presence: f32,
    /// Folder holding palm_detection_full.tflite and hand_landmark_full.tflite (default: the
    /// bundled weights/hands)
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// An image (.jpg, .png) or a folder of images
    #[arg(required = true, value_name = "IMAGE|FOLDER")]
    pub inputs: Vec<PathBuf>,
}

fn unit_interval(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside [0, 1]"))
    }
}

/// One hand of the `--json` line.
#[derive(Debug, serde::Serialize)]
pub struct HandJson {
    /// `[x_min, y_min, x_max, y_max]` of the landmarks, pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub handedness: &'static str,
    pub score: f32,
    pub landmarks: Vec<[f32; 3]>,
    pub world_landmarks: Vec<[f32; 3]>,
}

impl From<&Hand> for HandJson {
    fn from(h: &Hand) -> Self {
        Self {
            bbox: h.bounding_box(),
            handedness: h.handedness.label(),
            score: h.score,
            landmarks: h.landmarks.to_vec(),
            world_landmarks: h.world_landmarks.to_vec(),
        }
    }
}

/// The `--json` line of one image.
#[derive(Debug, serde::Serialize)]
pub struct ImageJson {
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub hands: Vec<HandJson>,
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

/// The images named: files as given, folders' images sorted by name.
fn image_list(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            found.sort();
            if found.is_empty() {
                anyhow::bail!("{}: no .jpg or .png images in this folder", p.display());
            }
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            anyhow::bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(out)
}

pub fn run(args: HandsArgs) -> anyhow::Result<ExitCode> {
    let options = HandOptions {
        static_image_mode: true,
        max_hands: args.max_hands as usize,
        min_detection_confidence: args.min_detection_confidence,
        min_tracking_confidence: args.min_presence,
    };
    let mut tracker = match &args.models {
        Some(dir) => HandTracker::from_dir(dir, options),
        None => HandTracker::new(
            shipped_model(PALM_MODEL)?,
            shipped_model(LANDMARK_MODEL)?,
            options,
        ),
    }
    .context("loading the hand models")?;
    for path in image_list(&args.inputs)? {
        let img = image::open(&path)
            .with_context(|| format!("{}: cannot read this image", path.display()))?
            .to_rgb8();
        let hands = tracker
            .process(&img)
            .with_context(|| format!("{}: running the hand graph", path.display()))?;
        if args.json {
            let line = ImageJson {
                file: path.display().to_string(),
                width: img.width(),
                height: img.height(),
                hands: hands.iter().map(HandJson::from).collect(),
            };
            println!("{}", serde_json::to_string(&line)?);
        } else {
            println!(
                "{} ({}x{}): {} hand(s)",
                path.display(),
                img.width(),
                img.height(),
                hands.len()
            );
            for h in &hands {
                let b = h.bounding_box();
                println!(
                    "  {} {:.2}  box ({:.0}, {:.0})-({:.0}, {:.0})  wrist ({:.1}, {:.1})",
                    h.handedness.label(),
                    h.score,
                    b[0],
                    b[1],
                    b[2],
                    b[3],
                    h.landmarks[0][0],
                    h.landmarks[0][1]
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
