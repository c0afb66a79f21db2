//! The platform's cameras through nokhwa (V4L2, Media Foundation, AVFoundation), behind our
//! [`CameraBackend`] seam. Only raw buffers are taken from nokhwa (it is built without its
//! `decoding` feature and its C JPEG decoder); [`super::decode`] turns them into RGB.

use super::device::{CameraBackend, CameraDevice, CameraId, Mode, PixelFormat, RawFrame};
use super::CaptureError;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};
use nokhwa::Camera;
use std::time::Instant;

/// Every format nokhwa knows: opening accepts any, we choose ([`super::negotiate`]).
const ALL_FORMATS: [FrameFormat; 6] = [
    FrameFormat::MJPEG,
    FrameFormat::YUYV,
    FrameFormat::NV12,
    FrameFormat::GRAY,
    FrameFormat::RAWRGB,
    FrameFormat::RAWBGR,
];

/// nokhwa's camera system.
pub struct NokhwaBackend;

fn nokhwa_err(camera: &str, what: &str, e: nokhwa::NokhwaError) -> CaptureError {
    CaptureError::Camera {
        camera: camera.to_string(),
        reason: format!("{what}: {e}"),
    }
}

impl CameraBackend for NokhwaBackend {
    fn cameras(&self) -> Result<Vec<CameraId>, CaptureError> {
        let infos = nokhwa::query(ApiBackend::Auto)
            .map_err(|e| nokhwa_err("(listing)", "cannot list cameras", e))?;
        Ok(infos
            .iter()
            .filter_map(|info| {
                // Network cameras (string indices) are not supported by the live app.
                let index = info.index().as_index().ok()?;
                Some(CameraId {
                    index,
                    name: info.human_name(),
                })
            })
            .collect())
    }

    fn open(&self, id: &CameraId) -> Result<Box<dyn CameraDevice>, CaptureError> {
        let name = id.to_string();
        let camera = Camera::new(
            CameraIndex::Index(id.index),
            RequestedFormat::with_formats(RequestedFormatType::None, &ALL_FORMATS),
        )
        .map_err(|e| nokhwa_err(&name, "cannot open (is another program using it?)", e))?;
        Ok(Box::new(NokhwaDevice { camera, name }))
    }
}

struct NokhwaDevice {
    camera: Camera,
    name: String,
}

fn pixel_format(f: FrameFormat) -> PixelFormat {
    match f {
        FrameFormat::MJPEG => PixelFormat::Mjpeg,
        FrameFormat::YUYV => PixelFormat::Yuyv,
        FrameFormat::NV12 => PixelFormat::Nv12,
        FrameFormat::GRAY => PixelFormat::Grey,
        FrameFormat::RAWRGB => PixelFormat::Rgb,
        FrameFormat::RAWBGR => PixelFormat::Bgr,
    }
}

fn frame_format(f: &PixelFormat) -> Option<FrameFormat> {
    ALL_FORMATS.into_iter().find(|&n| &pixel_format(n) == f)
}

impl CameraDevice for NokhwaDevice {
    fn modes(&mut self) -> Result<Vec<Mode>, CaptureError> {
        let formats = self
            .camera
            .compatible_camera_formats()
            .map_err(|e| nokhwa_err(&self.name, "cannot read its modes", e))?;
        Ok(formats
            .into_iter()
            .map(|f| {
                Mode::new(
                    pixel_format(f.format()),
                    f.resolution().width(),
                    f.resolution().height(),
                    f.frame_rate(),
                )
            })
            .collect())
    }

    fn start(&mut self, mode: &Mode) -> Result<Mode, CaptureError> {
        let format = frame_format(&mode.format).ok_or_else(|| CaptureError::Camera {
            camera: self.name.clone(),
            reason: format!("{} is not a format nokhwa can stream", mode.format),
        })?;
        let wanted = CameraFormat::new(Resolution::new(mode.width, mode.height), format, mode.fps);
        let formats = [format];
        self.camera
            .set_camera_requset(RequestedFormat::with_formats(
                RequestedFormatType::Exact(wanted),
                &formats,
            ))
            .map_err(|e| nokhwa_err(&self.name, &format!("cannot set mode {mode}"), e))?;
        self.camera
            .open_stream()
            .map_err(|e| nokhwa_err(&self.name, "cannot start streaming", e))?;
        let f = self.camera.camera_format();
        Ok(Mode::new(
            pixel_format(f.format()),
            f.resolution().width(),
            f.resolution().height(),
            f.frame_rate(),
        ))
    }

    fn frame(&mut self) -> Result<RawFrame, CaptureError> {
        let format = self.camera.camera_format();
        let buffer = self
            .camera
            .frame_raw()
            .map_err(|e| nokhwa_err(&self.name, "lost", e))?;
        Ok(RawFrame {
            format: pixel_format(format.format()),
            width: format.resolution().width(),
            height: format.resolution().height(),
            data: buffer.into_owned(),
            captured_at: Instant::now(),
        })
    }
}

impl Drop for NokhwaDevice {
    fn drop(&mut self) {
        let _ = self.camera.stop_stream();
    }
}
