//! The kernel's V4L2 structures and request numbers, as `linux/videodev2.h` lays them out on
//! 64-bit Linux. Written out here (not taken from a bindings crate) so the emulator depends on
//! libc and image only; the layouts are the few the emulator answers.

use libc::{c_ulong, timeval};

/// The `_IOC_NR` of a request the emulator answers: the whole code (direction, size, type,
/// number) must be one videodev2.h defines on 64-bit Linux, as the kernel checks.
pub fn request_nr(request: c_ulong) -> Option<u32> {
    const W: u32 = 1;
    const R: u32 = 2;
    const RW: u32 = 3;
    const KNOWN: [(u32, u32, u32); 28] = [
        (QUERYCAP, R, 104),
        (ENUM_FMT, RW, 64),
        (G_FMT, RW, 208),
        (S_FMT, RW, 208),
        (REQBUFS, RW, 20),
        (QUERYBUF, RW, 88),
        (QBUF, RW, 88),
        (DQBUF, RW, 88),
        (STREAMON, W, 4),
        (STREAMOFF, W, 4),
        (G_PARM, RW, 204),
        (S_PARM, RW, 204),
        (ENUMINPUT, RW, 80),
        (G_CTRL, RW, 8),
        (S_CTRL, RW, 8),
        (QUERYCTRL, RW, 68),
        (QUERYMENU, RW, 44),
        (G_INPUT, R, 4),
        (S_INPUT, RW, 4),
        (TRY_FMT, RW, 208),
        (G_PRIORITY, R, 4),
        (S_PRIORITY, W, 4),
        (G_EXT_CTRLS, RW, 32),
        (S_EXT_CTRLS, RW, 32),
        (TRY_EXT_CTRLS, RW, 32),
        (ENUM_FRAMESIZES, RW, 44),
        (ENUM_FRAMEINTERVALS, RW, 52),
        (QUERY_EXT_CTRL, RW, 232),
    ];
    let request = request as u32;
    if request == LOG_STATUS_REQUEST {
        return Some(LOG_STATUS);
    }
    let (dir, size, ty, nr) = (
        request >> 30,
        (request >> 16) & 0x3fff,
        (request >> 8) & 0xff,
        request & 0xff,
    );
    (ty == b'V' as u32 && KNOWN.contains(&(nr, dir, size))).then_some(nr)
}

pub const LOG_STATUS: u32 = 70;
/// `_IO('V', 70)`: no argument.
const LOG_STATUS_REQUEST: u32 = (b'V' as u32) << 8 | 70;

// _IOC_NR of the requests answered (videodev2.h).
pub const QUERYCAP: u32 = 0;
pub const ENUM_FMT: u32 = 2;
pub const G_FMT: u32 = 4;
pub const S_FMT: u32 = 5;
pub const REQBUFS: u32 = 8;
pub const QUERYBUF: u32 = 9;
pub const QBUF: u32 = 15;
pub const DQBUF: u32 = 17;
pub const STREAMON: u32 = 18;
pub const STREAMOFF: u32 = 19;
pub const G_PARM: u32 = 21;
pub const S_PARM: u32 = 22;
pub const ENUMINPUT: u32 = 26;
pub const G_CTRL: u32 = 27;
pub const S_CTRL: u32 = 28;
pub const QUERYCTRL: u32 = 36;
pub const QUERYMENU: u32 = 37;
pub const G_INPUT: u32 = 38;
pub const S_INPUT: u32 = 39;
pub const TRY_FMT: u32 = 64;
pub const G_PRIORITY: u32 = 67;
pub const S_PRIORITY: u32 = 68;
pub const G_EXT_CTRLS: u32 = 71;
pub const S_EXT_CTRLS: u32 = 72;
pub const TRY_EXT_CTRLS: u32 = 73;
pub const ENUM_FRAMESIZES: u32 = 74;
pub const ENUM_FRAMEINTERVALS: u32 = 75;
pub const QUERY_EXT_CTRL: u32 = 103;

pub const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
pub const BUF_TYPE_META_CAPTURE: u32 = 13;
pub const MEMORY_MMAP: u32 = 1;
pub const FIELD_NONE: u32 = 1;
pub const COLORSPACE_SRGB: u32 = 8;
pub const PIX_FMT_PRIV_MAGIC: u32 = 0xfeed_cafe;

pub const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
pub const CAP_META_CAPTURE: u32 = 0x0080_0000;
pub const CAP_EXT_PIX_FORMAT: u32 = 0x0020_0000;
pub const CAP_STREAMING: u32 = 0x0400_0000;
pub const CAP_DEVICE_CAPS: u32 = 0x8000_0000;

pub const FMT_FLAG_COMPRESSED: u32 = 0x0001;
pub const FRMSIZE_DISCRETE: u32 = 1;
pub const FRMSIZE_CONTINUOUS: u32 = 2;
pub const FRMSIZE_STEPWISE: u32 = 3;

pub const BUF_FLAG_MAPPED: u32 = 0x0001;
pub const BUF_FLAG_QUEUED: u32 = 0x0002;
pub const BUF_FLAG_DONE: u32 = 0x0004;
pub const BUF_FLAG_TIMESTAMP_MONOTONIC: u32 = 0x2000;
pub const BUF_CAP_SUPPORTS_MMAP: u32 = 1;
pub const CAP_TIMEPERFRAME: u32 = 0x1000;
pub const INPUT_TYPE_CAMERA: u32 = 2;

/// A FourCC from its four characters.
pub const fn fourcc(s: &[u8; 4]) -> u32 {
    s[0] as u32 | (s[1] as u32) << 8 | (s[2] as u32) << 16 | (s[3] as u32) << 24
}

/// A fraction (time per frame, in seconds).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fract {
    pub numerator: u32,
    pub denominator: u32,
}

impl Fract {
    pub fn secs(self) -> f64 {
        self.numerator as f64 / self.denominator.max(1) as f64
    }
}

#[repr(C)]
pub struct Capability {
    pub driver: [u8; 16],
    pub card: [u8; 32],
    pub bus_info: [u8; 32],
    pub version: u32,
    pub capabilities: u32,
    pub device_caps: u32,
    pub reserved: [u32; 3],
}

#[repr(C)]
pub struct FmtDesc {
    pub index: u32,
    pub type_: u32,
    pub flags: u32,
    pub description: [u8; 32],
    pub pixelformat: u32,
    pub mbus_code: u32,
    pub reserved: [u32; 3],
}

#[repr(C)]
pub struct FrmSizeEnum {
    pub index: u32,
    pub pixel_format: u32,
    pub type_: u32,
    /// discrete: width, height; stepwise: min_w, max_w, step_w, min_h, max_h, step_h.
    pub u: [u32; 6],
    pub reserved: [u32; 2],
}

#[repr(C)]
pub struct FrmIvalEnum {
    pub index: u32,
    pub pixel_format: u32,
    pub width: u32,
    pub height: u32,
    pub type_: u32,
    /// discrete: one fraction; stepwise: min, max, step.
    pub u: [Fract; 3],
    pub reserved: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PixFormat {
    pub width: u32,
    pub height: u32,
    pub pixelformat: u32,
    pub field: u32,
    pub bytesperline: u32,
    pub sizeimage: u32,
    pub colorspace: u32,
    pub priv_: u32,
    pub flags: u32,
    pub ycbcr_enc: u32,
    pub quantization: u32,
    pub xfer_func: u32,
}

#[repr(C)]
pub struct MetaFormat {
    pub dataformat: u32,
    pub buffersize: u32,
}

/// `struct v4l2_format`: the union holds pointers (v4l2_window), so it sits at offset 8.
#[repr(C)]
pub struct Format {
    pub type_: u32,
    pub _pad: u32,
    pub raw: [u64; 25],
}

#[repr(C)]
pub struct CaptureParm {
    pub capability: u32,
    pub capturemode: u32,
    pub timeperframe: Fract,
    pub extendedmode: u32,
    pub readbuffers: u32,
    pub reserved: [u32; 4],
}

/// `struct v4l2_streamparm` (the union holds u32s only: no padding after `type`).
#[repr(C)]
pub struct StreamParm {
    pub type_: u32,
    pub raw: [u32; 50],
}

#[repr(C)]
pub struct RequestBuffers {
    pub count: u32,
    pub type_: u32,
    pub memory: u32,
    pub capabilities: u32,
    pub flags: u8,
    pub reserved: [u8; 3],
}

#[repr(C)]
pub struct Timecode {
    pub type_: u32,
    pub flags: u32,
    pub frames: u8,
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    pub userbits: [u8; 4],
}

#[repr(C)]
pub struct Buffer {
    pub index: u32,
    pub type_: u32,
    pub bytesused: u32,
    pub flags: u32,
    pub field: u32,
    pub timestamp: timeval,
    pub timecode: Timecode,
    pub sequence: u32,
    pub memory: u32,
    /// `m.offset` for MMAP (the union is 8 bytes: it also holds a pointer).
    pub m: u64,
    pub length: u32,
    pub reserved2: u32,
    pub request_fd: u32,
}

#[repr(C)]
pub struct Input {
    pub index: u32,
    pub name: [u8; 32],
    pub type_: u32,
    pub audioset: u32,
    pub tuner: u32,
    pub std: u64,
    pub status: u32,
    pub capabilities: u32,
    pub reserved: [u32; 3],
}

#[repr(C)]
pub struct ExtControls {
    pub which: u32,
    pub count: u32,
    pub error_idx: u32,
    pub request_fd: i32,
    pub reserved: [u32; 1],
    pub controls: u64,
}

/// Copies `s` into a NUL-terminated fixed field.
pub fn put_str(field: &mut [u8], s: &str) {
    field.fill(0);
    let n = s.len().min(field.len() - 1);
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn layouts_match_videodev2_h_on_64_bit() {
        assert_eq!(size_of::<Capability>(), 104);
        assert_eq!(size_of::<FmtDesc>(), 64);
        assert_eq!(size_of::<FrmSizeEnum>(), 44);
        assert_eq!(size_of::<FrmIvalEnum>(), 52);
        assert_eq!(size_of::<Format>(), 208);
        assert_eq!(size_of::<StreamParm>(), 204);
        assert_eq!(size_of::<RequestBuffers>(), 20);
        assert_eq!(size_of::<Buffer>(), 88);
        assert_eq!(size_of::<Input>(), 80);
        assert_eq!(size_of::<PixFormat>(), 48);
    }
}
