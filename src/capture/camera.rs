//! The webcam, through nokhwa: pick a camera by index or name, ask for a mode close to the
//! requested resolution and rate (MJPEG first, as webcams deliver their higher rates in it),
//! decode each frame to RGB on the capture thread. Dropping the source stops the stream and
//! releases the device.

use super::{CameraSelector, CaptureError, FrameSource, SourceFrame};
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat,
    RequestedFormatType, Resolution,
};
use nokhwa::Camera;
use std::time::Instant;

/// Mode asked for when the user names none: what almost every webcam offers.
const DEFAULT_MODE: (u32, u32, u32) = (640, 480, 30);

/// A camera as `gesture-app cameras` lists it.
#[derive(Debug, Clone)]
pub struct CameraListing {
    pub index: String,
    pub name: String,
    pub description: String,
    /// The modes it offers ("640x480@30FPS, MJPEG Format"), or why they could not be read.
    pub modes: Result<Vec<String>, String>,
}

/// The cameras the system reports (an empty list when there is none).
pub fn query_cameras() -> Result<Vec<CameraInfo>, CaptureError> {
    nokhwa::query(ApiBackend::Auto).map_err(|e| CaptureError::Camera {
        camera: "(listing)".into(),
        reason: e.to_string(),
    })
}

/// Every camera with its modes; opening a camera to read its modes does not start it.
pub fn list_cameras() -> Result<Vec<CameraListing>, CaptureError> {
    Ok(query_cameras()?
        .into_iter()
        .map(|info| {
            let modes = Camera::new(
                info.index().clone(),
                RequestedFormat::new::<RgbFormat>(RequestedFormatType::None),
            )
            .and_then(|mut cam| cam.compatible_camera_formats())
            .map(|mut formats| {
                formats.sort_by_key(|f| (f.resolution(), f.frame_rate()));
                formats.iter().map(ToString::to_string).collect()
            })
            .map_err(|e| e.to_string());
            CameraListing {
                index: info.index().to_string(),
                name: info.human_name(),
                description: info.description().to_string(),
                modes,
            }
        })
        .collect())
}

/// The camera `selector` names among `cameras` (the first when `None`).
fn pick<'a>(
    cameras: &'a [CameraInfo],
    selector: Option<&CameraSelector>,
) -> Result<&'a CameraInfo, CaptureError> {
    let found = match selector {
        None => cameras.first(),
        Some(CameraSelector::Index(i)) => cameras
            .iter()
            .find(|c| c.index() == &CameraIndex::Index(*i)),
        Some(CameraSelector::Name(n)) => {
            let n = n.to_lowercase();
            cameras
                .iter()
                .find(|c| c.human_name().to_lowercase().contains(&n))
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
                .map(|c| format!("{} ({})", c.index(), c.human_name()))
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}

/// An open, streaming webcam.
pub struct CameraSource {
    camera: Camera,
    name: String,
    mode: CameraFormat,
    start: Instant,
}

impl CameraSource {
    /// Opens the selected camera and starts its stream.
    pub fn open(
        selector: Option<&CameraSelector>,
        resolution: Option<(u32, u32)>,
        fps: Option<f32>,
    ) -> Result<Self, CaptureError> {
        let cameras = query_cameras()?;
        let info = pick(&cameras, selector)?;
        let name = format!("{} ({})", info.index(), info.human_name());
        let (w, h) = resolution.unwrap_or((DEFAULT_MODE.0, DEFAULT_MODE.1));
        let rate = fps
            .map(|f| f.round().max(1.0) as u32)
            .unwrap_or(DEFAULT_MODE.2);
        let wanted = CameraFormat::new(Resolution::new(w, h), FrameFormat::MJPEG, rate);
        let camera_err = |e: nokhwa::NokhwaError| CaptureError::Camera {
            camera: name.clone(),
            reason: format!("{e} (is another program using it?)"),
        };
        // Some drivers cannot fulfil a requested mode ("Failed to Fufill"): then take whatever
        // the camera offers and convert.
        let mut camera = Camera::new(
            info.index().clone(),
            RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted)),
        )
        .or_else(|_| {
            Camera::new(
                info.index().clone(),
                RequestedFormat::new::<RgbFormat>(RequestedFormatType::None),
            )
        })
        .map_err(camera_err)?;
        camera.open_stream().map_err(camera_err)?;
        let mode = camera.camera_format();
        Ok(CameraSource {
            camera,
            name,
            mode,
            start: Instant::now(),
        })
    }
}

impl FrameSource for CameraSource {
    fn describe(&self) -> String {
        format!("camera {} {}", self.name, self.mode)
    }

    fn nominal_fps(&self) -> Option<f32> {
        Some(self.mode.frame_rate() as f32)
    }

    fn next_frame(&mut self) -> Result<Option<SourceFrame>, CaptureError> {
        let lost = |e: nokhwa::NokhwaError| CaptureError::Camera {
            camera: self.name.clone(),
            reason: format!("lost: {e}"),
        };
        let buffer = self.camera.frame().map_err(lost)?;
        let captured_at = Instant::now();
        let image = buffer.decode_image::<RgbFormat>().map_err(lost)?;
        Ok(Some(SourceFrame {
            image,
            pts: captured_at - self.start,
            captured_at: Some(captured_at),
        }))
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        let _ = self.camera.stop_stream();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(i: u32, name: &str) -> CameraInfo {
        CameraInfo::new(name, "test", "", CameraIndex::Index(i))
    }

    #[test]
    fn picks_by_index_or_name_and_explains_misses() {
        let cams = vec![info(0, "Integrated Webcam"), info(2, "USB Camera HD")];
        assert_eq!(pick(&cams, None).unwrap().human_name(), "Integrated Webcam");
        let sel = CameraSelector::Index(2);
        assert_eq!(
            pick(&cams, Some(&sel)).unwrap().human_name(),
            "USB Camera HD"
        );
        let sel = CameraSelector::Name("usb".into());
        assert_eq!(
            pick(&cams, Some(&sel)).unwrap().index(),
            &CameraIndex::Index(2)
        );
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
}
