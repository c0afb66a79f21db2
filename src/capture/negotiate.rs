//! Choosing a camera mode: the user's `--resolution` and `--fps` when the camera offers them in
//! a format we decode, else the nearest mode it does offer, with a sentence saying which and
//! why. A camera offering only formats we cannot decode is an error naming them.

use super::device::{Mode, PixelFormat};
use super::CaptureError;
use std::collections::BTreeSet;

/// Mode asked for when the user names none: what almost every webcam offers.
pub const DEFAULT_MODE: (u32, u32, u32) = (640, 480, 30);

/// What the user asked for (`None`: no preference given).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Wanted {
    pub resolution: Option<(u32, u32)>,
    pub fps: Option<f32>,
}

/// The chosen mode and, when it is not what was asked, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub mode: Mode,
    /// "1920x1080@30 is not offered in a format we decode; using 1280x720@30 MJPEG, the
    /// nearest" — shown in the window and logged.
    pub note: Option<String>,
}

/// Picks the mode to stream in among `modes`, for the camera called `camera` (for errors).
pub fn choose(camera: &str, modes: &[Mode], wanted: Wanted) -> Result<Choice, CaptureError> {
    let decodable: Vec<&Mode> = modes.iter().filter(|m| m.format.is_decodable()).collect();
    if decodable.is_empty() {
        let offered: BTreeSet<String> = modes.iter().map(|m| m.format.to_string()).collect();
        return Err(CaptureError::Camera {
            camera: camera.to_string(),
            reason: if offered.is_empty() {
                "it reports no modes at all".into()
            } else {
                format!(
                    "it only offers formats this app does not decode ({}); supported: MJPEG, \
                     YUYV, NV12, GREY, RGB, BGR",
                    offered.into_iter().collect::<Vec<_>>().join(", ")
                )
            },
        });
    }
    let (w, h) = wanted
        .resolution
        .unwrap_or((DEFAULT_MODE.0, DEFAULT_MODE.1));
    let fps = wanted.fps.unwrap_or(DEFAULT_MODE.2 as f32);
    let best = decodable
        .iter()
        .min_by(|a, b| {
            let key = |m: &Mode| (resolution_distance(m, w, h), fps_distance(m.fps, fps));
            let (ra, fa) = key(a);
            let (rb, fb) = key(b);
            ra.total_cmp(&rb)
                .then(fa.total_cmp(&fb))
                .then(a.format.preference().cmp(&b.format.preference()))
        })
        .expect("decodable is not empty");
    let mode = (*best).clone();
    let same_size = mode.width == w && mode.height == h;
    let same_rate = (mode.fps as f32 - fps).abs() < 0.5;
    if same_size && same_rate {
        return Ok(Choice { mode, note: None });
    }
    let asked = format!(
        "{w}x{h}@{}{}",
        fps,
        if wanted.resolution.is_none() && wanted.fps.is_none() {
            " (the default)"
        } else {
            ""
        }
    );
    let undecoded_match = modes
        .iter()
        .find(|m| !m.format.is_decodable() && m.width == w && m.height == h);
    let why = match (same_size, undecoded_match) {
        (true, _) => format!("{w}x{h} is not offered at {fps} fps"),
        (false, Some(m)) => format!("{asked} is only offered in {} (not decoded)", m.format),
        (false, None) => format!("{asked} is not offered"),
    };
    let note = format!("{why}; using {mode}, the nearest mode the camera offers");
    Ok(Choice {
        mode,
        note: Some(note),
    })
}

/// How far a mode's size is from `w`x`h`: the summed log-ratios of the sides, so 1280x720 is
/// as far from 640x480 as 320x240 is (twice/half the pixels per side matter alike).
fn resolution_distance(m: &Mode, w: u32, h: u32) -> f64 {
    let side = |have: u32, want: u32| ((have.max(1) as f64) / (want.max(1) as f64)).ln().abs();
    side(m.width, w) + side(m.height, h)
}

/// How far a mode's rate is from `fps`; a faster mode is preferred to an equally slower one
/// (frames can be skipped, not invented).
fn fps_distance(have: u32, fps: f32) -> f64 {
    let d = have as f64 - fps as f64;
    if d >= 0.0 {
        d
    } else {
        -d * 1.5
    }
}

/// The formats among `modes`, for listings: "MJPEG, YUYV".
pub fn formats_offered(modes: &[Mode]) -> Vec<PixelFormat> {
    let set: BTreeSet<PixelFormat> = modes.iter().map(|m| m.format.clone()).collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use PixelFormat::*;

    fn webcam() -> Vec<Mode> {
        vec![
            Mode::new(Yuyv, 640, 480, 30),
            Mode::new(Yuyv, 1280, 720, 10),
            Mode::new(Mjpeg, 640, 480, 30),
            Mode::new(Mjpeg, 1280, 720, 30),
            Mode::new(Mjpeg, 320, 240, 30),
            Mode::new(Other("H264".into()), 1920, 1080, 30),
        ]
    }

    #[test]
    fn offered_modes_are_used_as_asked_preferring_mjpeg() {
        let c = choose("cam", &webcam(), Wanted::default()).unwrap();
        assert_eq!(c.mode, Mode::new(Mjpeg, 640, 480, 30));
        assert_eq!(c.note, None);
        let wanted = Wanted {
            resolution: Some((1280, 720)),
            fps: Some(10.0),
        };
        let c = choose("cam", &webcam(), wanted).unwrap();
        assert_eq!(c.mode, Mode::new(Yuyv, 1280, 720, 10));
        assert_eq!(c.note, None);
    }

    #[test]
    fn a_mode_not_offered_gets_the_nearest_and_says_why() {
        let wanted = Wanted {
            resolution: Some((1920, 1080)),
            fps: Some(30.0),
        };
        let c = choose("cam", &webcam(), wanted).unwrap();
        assert_eq!(c.mode, Mode::new(Mjpeg, 1280, 720, 30));
        let note = c.note.unwrap();
        assert!(
            note.contains("1920x1080@30 is only offered in H264")
                && note.contains("using 1280x720@30 MJPEG"),
            "{note}"
        );
        let wanted = Wanted {
            resolution: Some((640, 480)),
            fps: Some(60.0),
        };
        let c = choose("cam", &webcam(), wanted).unwrap();
        assert_eq!(c.mode, Mode::new(Mjpeg, 640, 480, 30));
        assert!(c.note.unwrap().contains("640x480 is not offered at 60 fps"));
        let wanted = Wanted {
            resolution: Some((800, 600)),
            fps: None,
        };
        let c = choose("cam", &webcam(), wanted).unwrap();
        assert_eq!(c.mode, Mode::new(Mjpeg, 640, 480, 30));
        assert!(c.note.unwrap().contains("800x600@30 is not offered"));
    }

    #[test]
    fn undecodable_formats_only_is_an_error_naming_them() {
        let modes = vec![
            Mode::new(Other("H264".into()), 640, 480, 30),
            Mode::new(Other("HEVC".into()), 640, 480, 30),
        ];
        let err = choose("0 (Odd cam)", &modes, Wanted::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("0 (Odd cam)") && err.contains("(H264, HEVC)"),
            "{err}"
        );
        let err = choose("cam", &[], Wanted::default()).unwrap_err();
        assert!(err.to_string().contains("no modes"));
    }
}
