//! A user-space V4L2 camera for tests, loaded with `LD_PRELOAD`: `/dev/videoN` nodes that
//! exist for this process only, answering what V4L2 clients ask (v4l and nokhwa, v4l2-ctl,
//! v4l2-compliance), from a camera profile written as `v4l2-ctl --list-formats-ext` prints it.
//! The machines the tests run on have no cameras and cannot load kernel modules (no vivid, no
//! v4l2loopback), so the kernel side is played here, at the C library boundary.
//!
//! Environment (documented for users in tests/v4l2/README.md):
//! - `V4L2EMU_PROFILE`: the profile file (without it the library does nothing);
//! - `V4L2EMU_FRAMES`: a folder of numbered images to show (a test pattern without it);
//! - `V4L2EMU_FAULTS`: faults to inject ([`faults`]).
//!
//! Interposed: `open`/`openat` (and their 64-bit and fortified forms) of `/dev/videoN` and
//! `/sys/class/video4linux/videoN/{name,index,dev}`; `close`; `ioctl`, and `syscall(SYS_ioctl)`
//! (the v4l crate calls ioctl that way); `mmap`; `opendir`/`readdir` of `/dev`. Polling needs no
//! interposing: an open node is an eventfd ([`device`]).

pub mod abi;
pub mod device;
pub mod faults;
pub mod frames;
pub mod profile;

use device::Emu;
use libc::{c_char, c_int, c_long, c_ulong, c_void, mode_t, off_t};
use std::collections::HashMap;
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

static EMU: OnceLock<Option<Emu>> = OnceLock::new();

/// File descriptors below this are tracked without locking (an eventfd above it is refused).
const MAX_FD: usize = 4096;
static EMULATED: [AtomicBool; MAX_FD] = [const { AtomicBool::new(false) }; MAX_FD];

fn emu() -> Option<&'static Emu> {
    EMU.get_or_init(|| {
        let path = std::env::var_os("V4L2EMU_PROFILE")?;
        let load = || -> Result<Emu, String> {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: {e}", path.to_string_lossy()))?;
            let nodes =
                profile::parse(&text).map_err(|e| format!("{}: {e}", path.to_string_lossy()))?;
            let dir = std::env::var_os("V4L2EMU_FRAMES").filter(|d| !d.is_empty());
            let frames = frames::Frames::open(dir.as_deref().map(std::path::Path::new))?;
            let faults =
                faults::Faults::parse(&std::env::var("V4L2EMU_FAULTS").unwrap_or_default())?;
            Ok(Emu::new(nodes, frames, faults))
        };
        match load() {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("v4l2-emu: {e}");
                None
            }
        }
    })
    .as_ref()
}

fn emulated(fd: c_int) -> bool {
    fd >= 0 && (fd as usize) < MAX_FD && EMULATED[fd as usize].load(Ordering::Acquire)
}

fn set_errno(e: c_int) {
    unsafe { *libc::__errno_location() = e };
}

macro_rules! real {
    ($name:literal : $ty:ty) => {{
        static PTR: AtomicUsize = AtomicUsize::new(0);
        let mut p = PTR.load(Ordering::Relaxed);
        if p == 0 {
            p = unsafe {
                libc::dlsym(
                    libc::RTLD_NEXT,
                    concat!($name, "\0").as_ptr() as *const c_char,
                )
            } as usize;
            PTR.store(p, Ordering::Relaxed);
        }
        unsafe { std::mem::transmute::<usize, $ty>(p) }
    }};
}

/// What an emulated path opens.
enum Target {
    Node(usize),
    Sys(usize, &'static str),
}

fn target(path: *const c_char) -> Option<Target> {
    if path.is_null() {
        return None;
    }
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    let digits = |s: &[u8]| -> Option<usize> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    if let Some(rest) = bytes.strip_prefix(b"/dev/video") {
        return digits(rest).map(Target::Node);
    }
    let rest = bytes
        .strip_prefix(b"/sys/class/video4linux/video")
        .or_else(|| bytes.strip_prefix(b"/sys/dev/char/81:"))?;
    let slash = rest.iter().position(|&c| c == b'/')?;
    let n = digits(&rest[..slash])?;
    let file = match &rest[slash + 1..] {
        b"name" => "name",
        b"index" => "index",
        b"dev" => "dev",
        b"uevent" => "uevent",
        _ => return None,
    };
    Some(Target::Sys(n, file))
}

/// Opens an emulated path: `Some(result)`, or `None` when the path is not ours.
fn open_emulated(path: *const c_char, flags: c_int) -> Option<c_int> {
    let t = target(path)?;
    let emu = emu()?;
    let result = match t {
        Target::Node(n) => emu.open(n, flags).and_then(|fd| {
            if fd as usize >= MAX_FD {
                unsafe { libc::close(fd) };
                return Err(libc::EMFILE);
            }
            EMULATED[fd as usize].store(true, Ordering::Release);
            Ok(fd)
        }),
        Target::Sys(n, file) => {
            if n >= emu.present() {
                Err(libc::ENOENT)
            } else {
                let text = match file {
                    "name" => format!("{}\n", emu.nodes[n].card),
                    "index" => "0\n".to_string(),
                    "uevent" => format!("MAJOR=81\nMINOR={n}\nDEVNAME=video{n}\n"),
                    _ => format!("81:{n}\n"),
                };
                unsafe {
                    let fd = libc::memfd_create(c"v4l2emu-sysfs".as_ptr(), libc::MFD_CLOEXEC);
                    if fd < 0 {
                        Err(libc::EMFILE)
                    } else {
                        libc::write(fd, text.as_ptr() as *const c_void, text.len());
                        libc::lseek(fd, 0, libc::SEEK_SET);
                        Ok(fd)
                    }
                }
            }
        }
    };
    Some(result.unwrap_or_else(|e| {
        set_errno(e);
        -1
    }))
}

/// # Safety
/// The C library's `open`.
#[no_mangle]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    if let Some(r) = open_emulated(path, flags) {
        return r;
    }
    real!("open": extern "C" fn(*const c_char, c_int, mode_t) -> c_int)(path, flags, mode)
}

/// # Safety
/// The C library's `open64`.
#[no_mangle]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    if let Some(r) = open_emulated(path, flags) {
        return r;
    }
    real!("open64": extern "C" fn(*const c_char, c_int, mode_t) -> c_int)(path, flags, mode)
}

/// # Safety
/// The C library's `__open_2` (fortified `open`).
#[no_mangle]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    if let Some(r) = open_emulated(path, flags) {
        return r;
    }
    real!("__open_2": extern "C" fn(*const c_char, c_int) -> c_int)(path, flags)
}

/// # Safety
/// The C library's `__open64_2`.
#[no_mangle]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    if let Some(r) = open_emulated(path, flags) {
        return r;
    }
    real!("__open64_2": extern "C" fn(*const c_char, c_int) -> c_int)(path, flags)
}

/// # Safety
/// The C library's `openat`.
#[no_mangle]
pub unsafe extern "C" fn openat(
    dir: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    if let Some(r) = open_emulated(path, flags) {
        return r;
    }
    real!("openat": extern "C" fn(c_int, *const c_char, c_int, mode_t) -> c_int)(
        dir, path, flags, mode,
    )
}

/// # Safety
/// The C library's `openat64`.
#[no_mangle]
pub unsafe extern "C" fn openat64(
    dir: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    if let Some(r) = open_emulated(path, flags) {
        return r;
    }
    real!("openat64": extern "C" fn(c_int, *const c_char, c_int, mode_t) -> c_int)(
        dir, path, flags, mode,
    )
}

/// # Safety
/// The C library's `__openat_2`.
#[no_mangle]
pub unsafe extern "C" fn __openat_2(dir: c_int, path: *const c_char, flags: c_int) -> c_int {
    if let Some(r) = open_emulated(path, flags) {
        return r;
    }
    real!("__openat_2": extern "C" fn(c_int, *const c_char, c_int) -> c_int)(dir, path, flags)
}

/// # Safety
/// The C library's `__openat64_2`.
#[no_mangle]
pub unsafe extern "C" fn __openat64_2(dir: c_int, path: *const c_char, flags: c_int) -> c_int {
    if let Some(r) = open_emulated(path, flags) {
        return r;
    }
    real!("__openat64_2": extern "C" fn(c_int, *const c_char, c_int) -> c_int)(dir, path, flags)
}

/// # Safety
/// The C library's `close`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if emulated(fd) {
        EMULATED[fd as usize].store(false, Ordering::Release);
        if let Some(emu) = emu() {
            emu.close(fd);
        }
    }
    real!("close": extern "C" fn(c_int) -> c_int)(fd)
}

fn emulated_ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    let Some(emu) = emu() else {
        set_errno(libc::ENOTTY);
        return -1;
    };
    let Some(nr) = abi::request_nr(request) else {
        set_errno(libc::ENOTTY);
        return -1;
    };
    match unsafe { emu.ioctl(fd, nr, arg) } {
        Ok(r) => r,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// # Safety
/// The C library's `ioctl` (variadic there; the third argument is always passed in a register
/// on the 64-bit Linux ABIs).
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    if emulated(fd) {
        return emulated_ioctl(fd, request, arg);
    }
    real!("ioctl": extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int)(fd, request, arg)
}

/// # Safety
/// The C library's `syscall` (variadic there; six integer arguments are always passed in
/// registers on the 64-bit Linux ABIs).
#[no_mangle]
pub unsafe extern "C" fn syscall(
    num: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    if num == libc::SYS_ioctl && emulated(a1 as c_int) {
        return emulated_ioctl(a1 as c_int, a2 as c_ulong, a3 as *mut c_void) as c_long;
    }
    real!("syscall": extern "C" fn(c_long, c_long, c_long, c_long, c_long, c_long, c_long) -> c_long)(
        num, a1, a2, a3, a4, a5, a6,
    )
}

unsafe fn mmap_emulated(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    let Some(emu) = emu() else {
        set_errno(libc::ENODEV);
        return libc::MAP_FAILED;
    };
    match emu.mmap_target(fd, off, len) {
        Ok(memfd) => {
            real!("mmap": extern "C" fn(*mut c_void, usize, c_int, c_int, c_int, off_t) -> *mut c_void)(
                addr, len, prot, flags, memfd, 0,
            )
        }
        Err(e) => {
            set_errno(e);
            libc::MAP_FAILED
        }
    }
}

/// # Safety
/// The C library's `mmap`.
#[no_mangle]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    if emulated(fd) {
        return mmap_emulated(addr, len, prot, flags, fd, off);
    }
    real!("mmap": extern "C" fn(*mut c_void, usize, c_int, c_int, c_int, off_t) -> *mut c_void)(
        addr, len, prot, flags, fd, off,
    )
}

/// # Safety
/// The C library's `mmap64`.
#[no_mangle]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    if emulated(fd) {
        return mmap_emulated(addr, len, prot, flags, fd, off);
    }
    real!("mmap64": extern "C" fn(*mut c_void, usize, c_int, c_int, c_int, off_t) -> *mut c_void)(
        addr, len, prot, flags, fd, off,
    )
}

/// A listing of `/dev` being read: the real entries (without real video nodes), then ours.
struct DirListing {
    names: Vec<String>,
    next: usize,
    entry: Box<libc::dirent64>,
}

static DIRS: Mutex<Option<HashMap<usize, DirListing>>> = Mutex::new(None);
static DIRS_OPEN: AtomicUsize = AtomicUsize::new(0);

/// # Safety
/// The C library's `opendir`.
#[no_mangle]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut libc::DIR {
    let dir = real!("opendir": extern "C" fn(*const c_char) -> *mut libc::DIR)(path);
    if dir.is_null() || path.is_null() {
        return dir;
    }
    let p = CStr::from_ptr(path).to_bytes();
    if p != b"/dev" && p != b"/dev/" {
        return dir;
    }
    if let Some(emu) = emu() {
        let names = (0..emu.present()).map(|i| format!("video{i}")).collect();
        let mut dirs = DIRS.lock().unwrap_or_else(|e| e.into_inner());
        dirs.get_or_insert_with(HashMap::new).insert(
            dir as usize,
            DirListing {
                names,
                next: 0,
                entry: Box::new(std::mem::zeroed()),
            },
        );
        DIRS_OPEN.fetch_add(1, Ordering::Release);
    }
    dir
}

unsafe fn readdir_any(dir: *mut libc::DIR) -> *mut libc::dirent64 {
    let real = real!("readdir64": extern "C" fn(*mut libc::DIR) -> *mut libc::dirent64);
    if DIRS_OPEN.load(Ordering::Acquire) == 0 {
        return real(dir);
    }
    let mut dirs = DIRS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(listing) = dirs.as_mut().and_then(|m| m.get_mut(&(dir as usize))) else {
        drop(dirs);
        return real(dir);
    };
    loop {
        let e = real(dir);
        if e.is_null() {
            break;
        }
        let name = CStr::from_ptr((*e).d_name.as_ptr()).to_bytes();
        if !name.starts_with(b"video") {
            return e;
        }
    }
    let Some(name) = listing.names.get(listing.next) else {
        return std::ptr::null_mut();
    };
    listing.next += 1;
    let ent = &mut *listing.entry;
    ent.d_ino = 0x7645_0000 + listing.next as u64;
    ent.d_off = listing.next as i64;
    ent.d_reclen = std::mem::size_of::<libc::dirent64>() as u16;
    ent.d_type = libc::DT_CHR;
    ent.d_name.fill(0);
    for (d, s) in ent.d_name.iter_mut().zip(name.bytes()) {
        *d = s as c_char;
    }
    ent as *mut libc::dirent64
}

/// # Safety
/// The C library's `readdir64`.
#[no_mangle]
pub unsafe extern "C" fn readdir64(dir: *mut libc::DIR) -> *mut libc::dirent64 {
    readdir_any(dir)
}

/// # Safety
/// The C library's `readdir` (the same record as `readdir64` on 64-bit Linux).
#[no_mangle]
pub unsafe extern "C" fn readdir(dir: *mut libc::DIR) -> *mut libc::dirent64 {
    readdir_any(dir)
}

/// # Safety
/// The C library's `closedir`.
#[no_mangle]
pub unsafe extern "C" fn closedir(dir: *mut libc::DIR) -> c_int {
    if DIRS_OPEN.load(Ordering::Acquire) > 0 {
        let mut dirs = DIRS.lock().unwrap_or_else(|e| e.into_inner());
        if dirs
            .as_mut()
            .and_then(|m| m.remove(&(dir as usize)))
            .is_some()
        {
            DIRS_OPEN.fetch_sub(1, Ordering::Release);
        }
    }
    real!("closedir": extern "C" fn(*mut libc::DIR) -> c_int)(dir)
}

/// A character device's status, as `stat` reports `/dev/video{n}` (major 81, V4L).
unsafe fn node_stat(n: usize, buf: *mut libc::stat) {
    let st = &mut *buf;
    *st = std::mem::zeroed();
    st.st_mode = libc::S_IFCHR | 0o660;
    st.st_rdev = libc::makedev(81, n as u32);
    st.st_ino = 0x7645_0000 + n as u64;
    st.st_nlink = 1;
    st.st_gid = 44;
    st.st_blksize = 4096;
    st.st_dev = libc::makedev(0, 5);
}

/// `Some(result)` when `path` is an emulated node.
unsafe fn stat_emulated(path: *const c_char, buf: *mut libc::stat) -> Option<c_int> {
    let Target::Node(n) = target(path)? else {
        return None;
    };
    let emu = emu()?;
    if n >= emu.present() {
        set_errno(libc::ENOENT);
        return Some(-1);
    }
    node_stat(n, buf);
    Some(0)
}

/// # Safety
/// The C library's `stat`.
#[no_mangle]
pub unsafe extern "C" fn stat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    if let Some(r) = stat_emulated(path, buf) {
        return r;
    }
    real!("stat": extern "C" fn(*const c_char, *mut libc::stat) -> c_int)(path, buf)
}

/// # Safety
/// The C library's `stat64` (the same record as `stat` on 64-bit Linux).
#[no_mangle]
pub unsafe extern "C" fn stat64(path: *const c_char, buf: *mut libc::stat) -> c_int {
    if let Some(r) = stat_emulated(path, buf) {
        return r;
    }
    real!("stat64": extern "C" fn(*const c_char, *mut libc::stat) -> c_int)(path, buf)
}

/// # Safety
/// The C library's `lstat`.
#[no_mangle]
pub unsafe extern "C" fn lstat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    if let Some(r) = stat_emulated(path, buf) {
        return r;
    }
    real!("lstat": extern "C" fn(*const c_char, *mut libc::stat) -> c_int)(path, buf)
}

/// # Safety
/// The C library's `fstatat`.
#[no_mangle]
pub unsafe extern "C" fn fstatat(
    dir: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    if let Some(r) = stat_emulated(path, buf) {
        return r;
    }
    real!("fstatat": extern "C" fn(c_int, *const c_char, *mut libc::stat, c_int) -> c_int)(
        dir, path, buf, flags,
    )
}

/// # Safety
/// The C library's `fstatat64`.
#[no_mangle]
pub unsafe extern "C" fn fstatat64(
    dir: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    if let Some(r) = stat_emulated(path, buf) {
        return r;
    }
    real!("fstatat64": extern "C" fn(c_int, *const c_char, *mut libc::stat, c_int) -> c_int)(
        dir, path, buf, flags,
    )
}

unsafe fn fstat_emulated(fd: c_int, buf: *mut libc::stat) -> Option<c_int> {
    if !emulated(fd) {
        return None;
    }
    let n = emu()?.node_of(fd)?;
    node_stat(n, buf);
    Some(0)
}

/// # Safety
/// The C library's `fstat`.
#[no_mangle]
pub unsafe extern "C" fn fstat(fd: c_int, buf: *mut libc::stat) -> c_int {
    if let Some(r) = fstat_emulated(fd, buf) {
        return r;
    }
    real!("fstat": extern "C" fn(c_int, *mut libc::stat) -> c_int)(fd, buf)
}

/// # Safety
/// The C library's `fstat64`.
#[no_mangle]
pub unsafe extern "C" fn fstat64(fd: c_int, buf: *mut libc::stat) -> c_int {
    if let Some(r) = fstat_emulated(fd, buf) {
        return r;
    }
    real!("fstat64": extern "C" fn(c_int, *mut libc::stat) -> c_int)(fd, buf)
}

/// # Safety
/// The C library's `access`.
#[no_mangle]
pub unsafe extern "C" fn access(path: *const c_char, mode: c_int) -> c_int {
    if let Some(Target::Node(n)) = target(path) {
        if let Some(emu) = emu() {
            if n < emu.present() {
                return 0;
            }
            set_errno(libc::ENOENT);
            return -1;
        }
    }
    real!("access": extern "C" fn(*const c_char, c_int) -> c_int)(path, mode)
}

/// `Some(stream)` when `path` is an emulated sysfs file (C++ streams and stdio open those).
unsafe fn fopen_emulated(path: *const c_char, mode: *const c_char) -> Option<*mut libc::FILE> {
    if !matches!(target(path)?, Target::Sys(..)) {
        return None;
    }
    let fd = open_emulated(path, libc::O_RDONLY)?;
    if fd < 0 {
        return Some(std::ptr::null_mut());
    }
    Some(libc::fdopen(fd, mode))
}

/// # Safety
/// The C library's `fopen`.
#[no_mangle]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    if let Some(f) = fopen_emulated(path, mode) {
        return f;
    }
    real!("fopen": extern "C" fn(*const c_char, *const c_char) -> *mut libc::FILE)(path, mode)
}

/// # Safety
/// The C library's `fopen64`.
#[no_mangle]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    if let Some(f) = fopen_emulated(path, mode) {
        return f;
    }
    real!("fopen64": extern "C" fn(*const c_char, *const c_char) -> *mut libc::FILE)(path, mode)
}
