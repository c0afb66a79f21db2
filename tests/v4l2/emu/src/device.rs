//! The emulated devices' state and their answers to the V4L2 ioctls: format negotiation over
//! the profile's listing, mmap buffer queues backed by memfds, a streaming thread per device
//! that completes a queued buffer at each frame time, and the injected faults.
//!
//! An open node is a real `eventfd`, so `poll`, `select` and `epoll` work on it unchanged: it
//! is readable exactly when a completed buffer waits to be dequeued (or the camera was
//! unplugged, so the next call fails with ENODEV).

use crate::abi::{self, Fract};
use crate::faults::{hit, Faults, SFmt, SParm};
use crate::frames::{self, Frames};
use crate::profile::{Interval, Node, Size};
use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Distance between two buffers' mmap offsets (any buffer fits below it).
const BUF_OFFSET_STEP: u64 = 1 << 26;

type Res = Result<i32, i32>;

/// What the process sees: the profile's nodes, their state, the frames and the faults.
pub struct Emu {
    pub nodes: Vec<Node>,
    pub frames: Frames,
    pub faults: Faults,
    state: Mutex<State>,
    cond: Condvar,
}

struct Buf {
    memfd: i32,
    map: usize,
    len: usize,
    queued: bool,
    done: bool,
    mapped: bool,
    bytesused: u32,
    sequence: u32,
    timestamp: libc::timeval,
}

struct Dev {
    fcc: u32,
    width: u32,
    height: u32,
    interval: Fract,
    owner: Option<i32>,
    bufs: Vec<Buf>,
    streaming: bool,
    stream_id: u64,
    queue: VecDeque<usize>,
    done: VecDeque<usize>,
    sequence: u32,
}

struct OpenFd {
    node: usize,
    generation: u64,
    priority: u32,
    signalled: bool,
}

/// When an unplugged camera comes back (`None`: never).
type Until = Option<Instant>;

struct State {
    fds: HashMap<i32, OpenFd>,
    devs: Vec<Dev>,
    generation: u64,
    unplugged: Option<Until>,
    stall: Option<Until>,
    opens: u64,
    delivered: u64,
}

fn now_timeval() -> libc::timeval {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    libc::timeval {
        tv_sec: ts.tv_sec,
        tv_usec: ts.tv_nsec / 1000,
    }
}

fn past(until: &Until) -> bool {
    until.is_some_and(|t| Instant::now() >= t)
}

fn until(secs: Option<f64>) -> Until {
    secs.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)))
}

/// Every interval listed for `w`x`h` in format `f` (a default 30 fps when none is).
fn intervals_for(node: &Node, fcc: u32, w: u32, h: u32) -> Vec<Interval> {
    node.formats
        .iter()
        .filter(|f| f.fourcc == fcc)
        .flat_map(|f| f.sizes.iter())
        .find(|(s, iv)| s.contains(w, h) && !iv.is_empty())
        .map(|(_, iv)| iv.clone())
        .unwrap_or_else(|| {
            vec![Interval::Discrete(Fract {
                numerator: 1,
                denominator: 30,
            })]
        })
}

/// The listed interval nearest to `want`.
fn nearest_interval(ivals: &[Interval], want: Fract) -> Fract {
    let secs = want.secs();
    let mut best = None::<(f64, Fract)>;
    for iv in ivals {
        let cand = match *iv {
            Interval::Discrete(f) => f,
            Interval::Stepwise { min, max, step, .. } => {
                if secs <= min.secs() || step.numerator == 0 {
                    min
                } else if secs >= max.secs() {
                    max
                } else {
                    // min + k*step, over a common denominator.
                    let den = min.denominator as u64 * step.denominator as u64;
                    let minn = min.numerator as u64 * step.denominator as u64;
                    let stepn = step.numerator as u64 * min.denominator as u64;
                    let k = ((secs * den as f64 - minn as f64) / stepn as f64).round() as u64;
                    let num = minn + k * stepn;
                    let g = gcd(num, den);
                    Fract {
                        numerator: (num / g) as u32,
                        denominator: (den / g) as u32,
                    }
                }
            }
        };
        let d = (cand.secs() - secs).abs();
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|b| b.1).unwrap_or(want)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

fn first_interval(ivals: &[Interval]) -> Fract {
    match ivals.first() {
        Some(Interval::Discrete(f)) => *f,
        Some(Interval::Stepwise { min, .. }) => *min,
        None => Fract {
            numerator: 1,
            denominator: 30,
        },
    }
}

/// The format `fcc` negotiates to on `node`: the listed format (else the first), and its
/// listed size nearest to `w`x`h`.
fn negotiate(node: &Node, fcc: u32, w: u32, h: u32) -> (u32, u32, u32) {
    let Some(format) = node
        .formats
        .iter()
        .find(|f| f.fourcc == fcc)
        .or_else(|| node.formats.first())
    else {
        return (fcc, w, h);
    };
    let best = format
        .sizes
        .iter()
        .map(|(s, _)| s.nearest(w, h))
        .min_by_key(|&(a, b)| (a as i64 - w as i64).abs() + (b as i64 - h as i64).abs())
        .unwrap_or((640, 480));
    (format.fourcc, best.0, best.1)
}

fn default_dev(node: &Node) -> Dev {
    let (fcc, width, height) = match node
        .formats
        .iter()
        .find(|f| frames::servable(f.fourcc))
        .or_else(|| node.formats.first())
    {
        Some(f) => {
            let (w, h) = match f.sizes.first() {
                Some((s @ Size::Stepwise { .. }, _)) => s.nearest(640, 480),
                Some((s, _)) => s.nearest(0, 0),
                None => (640, 480),
            };
            (f.fourcc, w, h)
        }
        None => (abi::fourcc(b"YUYV"), 640, 480),
    };
    Dev {
        fcc,
        width,
        height,
        interval: first_interval(&intervals_for(node, fcc, width, height)),
        owner: None,
        bufs: Vec::new(),
        streaming: false,
        stream_id: 0,
        queue: VecDeque::new(),
        done: VecDeque::new(),
        sequence: 0,
    }
}

fn free_bufs(dev: &mut Dev) {
    for b in dev.bufs.drain(..) {
        unsafe {
            libc::munmap(b.map as *mut libc::c_void, b.len);
            libc::close(b.memfd);
        }
    }
    dev.queue.clear();
    dev.done.clear();
}

fn stop(dev: &mut Dev) {
    dev.streaming = false;
    dev.stream_id += 1;
    dev.queue.clear();
    dev.done.clear();
    for b in &mut dev.bufs {
        b.queued = false;
        b.done = false;
    }
}

fn errno_of(r: i32) -> Res {
    Err(r)
}

impl State {
    fn fd(&self, fd: i32) -> Result<&OpenFd, i32> {
        let f = self.fds.get(&fd).ok_or(libc::EBADF)?;
        if f.generation != self.generation {
            return Err(libc::ENODEV);
        }
        Ok(f)
    }

    /// Makes `fd`'s eventfd readable exactly when it has something to report.
    fn sync_ready(&mut self, fd: i32) {
        let generation = self.generation;
        let Some(f) = self.fds.get(&fd) else { return };
        let dev = &self.devs[f.node];
        let want = f.generation != generation
            || (dev.owner == Some(fd) && dev.streaming && !dev.done.is_empty());
        let f = self.fds.get_mut(&fd).unwrap();
        if want != f.signalled {
            let mut v: u64 = 1;
            unsafe {
                if want {
                    libc::write(fd, &v as *const u64 as *const libc::c_void, 8);
                } else {
                    libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8);
                }
            }
            f.signalled = want;
        }
    }

    /// The highest priority among the node's open descriptors.
    fn max_priority(&self, node: usize) -> u32 {
        self.fds
            .values()
            .filter(|f| f.node == node && f.generation == self.generation)
            .map(|f| f.priority)
            .max()
            .unwrap_or(2)
    }

    fn sync_all(&mut self) {
        let fds: Vec<i32> = self.fds.keys().copied().collect();
        for fd in fds {
            self.sync_ready(fd);
        }
    }

    fn plugged(&mut self) -> bool {
        if let Some(u) = self.unplugged {
            if past(&u) {
                self.unplugged = None;
            }
        }
        self.unplugged.is_none()
    }

    fn stalled(&mut self) -> bool {
        if let Some(u) = self.stall {
            if past(&u) {
                self.stall = None;
            }
        }
        self.stall.is_some()
    }
}

impl Emu {
    pub fn new(nodes: Vec<Node>, frames: Frames, faults: Faults) -> Self {
        let devs = nodes.iter().map(default_dev).collect();
        Emu {
            nodes,
            frames,
            faults,
            state: Mutex::new(State {
                fds: HashMap::new(),
                devs,
                generation: 0,
                unplugged: None,
                stall: None,
                opens: 0,
                delivered: 0,
            }),
            cond: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The nodes present now (none while unplugged).
    pub fn present(&self) -> usize {
        if self.lock().plugged() {
            self.nodes.len()
        } else {
            0
        }
    }

    /// Opens `/dev/video{index}`: the eventfd standing for it, or an errno.
    pub fn open(&self, index: usize, flags: i32) -> Result<i32, i32> {
        let mut st = self.lock();
        if index >= self.nodes.len() || !st.plugged() {
            return Err(libc::ENOENT);
        }
        st.opens += 1;
        if self.faults.busy.is_some_and(|k| st.opens <= k) {
            return Err(libc::EBUSY);
        }
        let mut efd_flags = 0;
        if flags & libc::O_NONBLOCK != 0 {
            efd_flags |= libc::EFD_NONBLOCK;
        }
        if flags & libc::O_CLOEXEC != 0 {
            efd_flags |= libc::EFD_CLOEXEC;
        }
        let fd = unsafe { libc::eventfd(0, efd_flags) };
        if fd < 0 {
            return Err(libc::EMFILE);
        }
        let generation = st.generation;
        st.fds.insert(
            fd,
            OpenFd {
                node: index,
                generation,
                priority: 2,
                signalled: false,
            },
        );
        Ok(fd)
    }

    /// The node `fd` opened.
    pub fn node_of(&self, fd: i32) -> Option<usize> {
        self.lock().fds.get(&fd).map(|f| f.node)
    }

    /// Forgets `fd` (the caller closes the eventfd); its buffers go if it owned them.
    pub fn close(&self, fd: i32) {
        let mut st = self.lock();
        let Some(f) = st.fds.remove(&fd) else { return };
        if f.generation == st.generation {
            let dev = &mut st.devs[f.node];
            if dev.owner == Some(fd) {
                stop(dev);
                free_bufs(dev);
                dev.owner = None;
            }
        }
        self.cond.notify_all();
    }

    /// The memfd and length to map for `offset` of `fd`'s buffers.
    pub fn mmap_target(&self, fd: i32, offset: i64, length: usize) -> Result<i32, i32> {
        let mut st = self.lock();
        let node = st.fd(fd)?.node;
        let dev = &mut st.devs[node];
        if offset < 0 || !(offset as u64).is_multiple_of(BUF_OFFSET_STEP) {
            return Err(libc::EINVAL);
        }
        let b = dev
            .bufs
            .get_mut((offset as u64 / BUF_OFFSET_STEP) as usize)
            .ok_or(libc::EINVAL)?;
        if length == 0 || length > b.len {
            return Err(libc::EINVAL);
        }
        b.mapped = true;
        Ok(b.memfd)
    }

    /// Answers one ioctl.
    ///
    /// # Safety
    /// `arg` points at the structure the request names, as the kernel requires.
    pub unsafe fn ioctl(&'static self, fd: i32, nr: u32, arg: *mut libc::c_void) -> Res {
        let mut st = self.lock();
        let node_ix = st.fd(fd)?.node;
        if nr == abi::LOG_STATUS {
            return Ok(0);
        }
        if arg.is_null() {
            return Err(libc::EFAULT);
        }
        // Changing calls wait for a descriptor of the highest priority (VIDIOC_S_PRIORITY).
        if matches!(
            nr,
            abi::S_FMT
                | abi::S_PARM
                | abi::S_INPUT
                | abi::S_PRIORITY
                | abi::REQBUFS
                | abi::STREAMON
                | abi::STREAMOFF
        ) && st.fds[&fd].priority < st.max_priority(node_ix)
        {
            return Err(libc::EBUSY);
        }
        let node = &self.nodes[node_ix];
        let video = node.is_capture();
        let cap_type = if video {
            abi::BUF_TYPE_VIDEO_CAPTURE
        } else {
            abi::BUF_TYPE_META_CAPTURE
        };
        match nr {
            abi::QUERYCAP => {
                let c = &mut *(arg as *mut abi::Capability);
                abi::put_str(&mut c.driver, &node.driver);
                abi::put_str(&mut c.card, &node.card);
                let bus = if node.bus_info.is_empty() {
                    "usb-0000:00:14.0-1".to_string()
                } else {
                    node.bus_info.clone()
                };
                abi::put_str(&mut c.bus_info, &bus);
                c.version = node.version;
                c.device_caps = node.device_caps;
                c.capabilities = self
                    .nodes
                    .iter()
                    .fold(abi::CAP_DEVICE_CAPS, |a, n| a | n.device_caps);
                c.reserved = [0; 3];
                Ok(0)
            }
            abi::ENUM_FMT => {
                let d = &mut *(arg as *mut abi::FmtDesc);
                if d.type_ != cap_type {
                    return Err(libc::EINVAL);
                }
                let (fcc, desc, flags) = if video {
                    let f = node.formats.get(d.index as usize).ok_or(libc::EINVAL)?;
                    (f.fourcc, f.description.clone(), f.flags)
                } else if d.index == 0 {
                    (
                        abi::fourcc(b"UVCH"),
                        "UVC Payload Header Metadata".into(),
                        0,
                    )
                } else {
                    return Err(libc::EINVAL);
                };
                d.pixelformat = fcc;
                d.flags = flags;
                abi::put_str(&mut d.description, &desc);
                d.mbus_code = 0;
                d.reserved = [0; 3];
                Ok(0)
            }
            abi::ENUM_FRAMESIZES => {
                let e = &mut *(arg as *mut abi::FrmSizeEnum);
                let f = node
                    .formats
                    .iter()
                    .find(|f| f.fourcc == e.pixel_format)
                    .ok_or(libc::EINVAL)?;
                let (size, _) = f.sizes.get(e.index as usize).ok_or(libc::EINVAL)?;
                match *size {
                    Size::Discrete(w, h) => {
                        e.type_ = abi::FRMSIZE_DISCRETE;
                        e.u = [w, h, 0, 0, 0, 0];
                    }
                    Size::Stepwise {
                        min,
                        max,
                        step,
                        continuous,
                    } => {
                        e.type_ = if continuous {
                            abi::FRMSIZE_CONTINUOUS
                        } else {
                            abi::FRMSIZE_STEPWISE
                        };
                        e.u = [min.0, max.0, step.0, min.1, max.1, step.1];
                    }
                }
                e.reserved = [0; 2];
                Ok(0)
            }
            abi::ENUM_FRAMEINTERVALS => {
                let e = &mut *(arg as *mut abi::FrmIvalEnum);
                let f = node
                    .formats
                    .iter()
                    .find(|f| f.fourcc == e.pixel_format)
                    .ok_or(libc::EINVAL)?;
                if !f.sizes.iter().any(|(s, _)| s.contains(e.width, e.height)) {
                    return Err(libc::EINVAL);
                }
                let ivals = intervals_for(node, f.fourcc, e.width, e.height);
                match ivals.get(e.index as usize).ok_or(libc::EINVAL)? {
                    Interval::Discrete(v) => {
                        e.type_ = 1;
                        e.u = [*v, Fract::default(), Fract::default()];
                    }
                    Interval::Stepwise {
                        min,
                        max,
                        step,
                        continuous,
                    } => {
                        e.type_ = if *continuous { 2 } else { 3 };
                        e.u = [*min, *max, *step];
                    }
                }
                e.reserved = [0; 2];
                Ok(0)
            }
            abi::G_FMT | abi::S_FMT | abi::TRY_FMT => {
                let f = &mut *(arg as *mut abi::Format);
                if f.type_ != cap_type {
                    return Err(libc::EINVAL);
                }
                if !video {
                    f.raw = [0; 25];
                    let m = &mut *(f.raw.as_mut_ptr() as *mut abi::MetaFormat);
                    m.dataformat = abi::fourcc(b"UVCH");
                    m.buffersize = 1024;
                    return Ok(0);
                }
                let pix = &mut *(f.raw.as_mut_ptr() as *mut abi::PixFormat);
                let dev = &mut st.devs[node_ix];
                let (fcc, w, h) = if nr == abi::G_FMT {
                    (dev.fcc, dev.width, dev.height)
                } else {
                    let (fcc, mut w, mut h) =
                        negotiate(node, pix.pixelformat, pix.width, pix.height);
                    if nr == abi::S_FMT {
                        match self.faults.sfmt {
                            SFmt::Refuse => return Err(libc::EINVAL),
                            SFmt::Answer(aw, ah) => (w, h) = (aw, ah),
                            SFmt::Normal => {}
                        }
                        if dev.owner.is_some_and(|o| o != fd)
                            || (dev.owner == Some(fd) && !dev.bufs.is_empty())
                        {
                            return Err(libc::EBUSY);
                        }
                        let ivals = intervals_for(node, fcc, w, h);
                        dev.interval = nearest_interval(&ivals, dev.interval);
                        (dev.fcc, dev.width, dev.height) = (fcc, w, h);
                    }
                    (fcc, w, h)
                };
                f.raw = [0; 25];
                let pix = &mut *(f.raw.as_mut_ptr() as *mut abi::PixFormat);
                pix.width = w;
                pix.height = h;
                pix.pixelformat = fcc;
                pix.field = abi::FIELD_NONE;
                pix.bytesperline = frames::bytes_per_line(fcc, w).unwrap_or(0);
                pix.sizeimage = frames::size_image(fcc, w, h);
                pix.colorspace = abi::COLORSPACE_SRGB;
                pix.priv_ = abi::PIX_FMT_PRIV_MAGIC;
                Ok(0)
            }
            abi::G_PARM | abi::S_PARM => {
                if self.faults.sparm == SParm::NotTty {
                    return Err(libc::ENOTTY);
                }
                let p = &mut *(arg as *mut abi::StreamParm);
                if p.type_ != abi::BUF_TYPE_VIDEO_CAPTURE || !video {
                    return Err(libc::EINVAL);
                }
                let c = &mut *(p.raw.as_mut_ptr() as *mut abi::CaptureParm);
                let dev = &mut st.devs[node_ix];
                if nr == abi::S_PARM {
                    let ivals = intervals_for(node, dev.fcc, dev.width, dev.height);
                    let want = c.timeperframe;
                    dev.interval = match self.faults.sparm {
                        SParm::Refuse => return Err(libc::EINVAL),
                        SParm::Answer(fps) => Fract {
                            numerator: 1,
                            denominator: fps.max(1),
                        },
                        _ if want.numerator == 0 || want.denominator == 0 => first_interval(&ivals),
                        _ => nearest_interval(&ivals, want),
                    };
                }
                p.raw = [0; 50];
                let c = &mut *(p.raw.as_mut_ptr() as *mut abi::CaptureParm);
                c.capability = abi::CAP_TIMEPERFRAME;
                c.timeperframe = dev.interval;
                Ok(0)
            }
            abi::REQBUFS => {
                let r = &mut *(arg as *mut abi::RequestBuffers);
                if r.type_ != abi::BUF_TYPE_VIDEO_CAPTURE || !video || r.memory != abi::MEMORY_MMAP
                {
                    return Err(libc::EINVAL);
                }
                r.capabilities = abi::BUF_CAP_SUPPORTS_MMAP;
                r.flags = 0;
                r.reserved = [0; 3];
                let dev = &mut st.devs[node_ix];
                if dev.owner.is_some_and(|o| o != fd) {
                    return Err(libc::EBUSY);
                }
                if dev.streaming && r.count > 0 {
                    return Err(libc::EBUSY);
                }
                stop(dev);
                free_bufs(dev);
                if r.count == 0 {
                    dev.owner = None;
                    return Ok(0);
                }
                let count = r.count.clamp(2, 32);
                let len = frames::size_image(dev.fcc, dev.width, dev.height) as usize;
                for _ in 0..count {
                    let memfd = libc::memfd_create(c"v4l2emu-buffer".as_ptr(), libc::MFD_CLOEXEC);
                    if memfd < 0 || libc::ftruncate(memfd, len as libc::off_t) != 0 {
                        free_bufs(dev);
                        return Err(libc::ENOMEM);
                    }
                    let map = libc::mmap(
                        std::ptr::null_mut(),
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        memfd,
                        0,
                    );
                    if map == libc::MAP_FAILED {
                        libc::close(memfd);
                        free_bufs(dev);
                        return Err(libc::ENOMEM);
                    }
                    dev.bufs.push(Buf {
                        memfd,
                        map: map as usize,
                        len,
                        queued: false,
                        done: false,
                        mapped: false,
                        bytesused: 0,
                        sequence: 0,
                        timestamp: libc::timeval {
                            tv_sec: 0,
                            tv_usec: 0,
                        },
                    });
                }
                dev.owner = Some(fd);
                r.count = count;
                Ok(0)
            }
            abi::QUERYBUF | abi::QBUF | abi::DQBUF => {
                let b = &mut *(arg as *mut abi::Buffer);
                if b.type_ != abi::BUF_TYPE_VIDEO_CAPTURE || !video {
                    return Err(libc::EINVAL);
                }
                if nr != abi::QUERYBUF && b.memory != abi::MEMORY_MMAP {
                    return Err(libc::EINVAL);
                }
                let index = match nr {
                    abi::QUERYBUF => {
                        if (b.index as usize) >= st.devs[node_ix].bufs.len() {
                            return Err(libc::EINVAL);
                        }
                        b.index as usize
                    }
                    abi::QBUF => {
                        let dev = &mut st.devs[node_ix];
                        if dev.owner != Some(fd) {
                            return Err(libc::EBUSY);
                        }
                        let i = b.index as usize;
                        let buf = dev.bufs.get_mut(i).ok_or(libc::EINVAL)?;
                        if buf.queued || buf.done {
                            return Err(libc::EINVAL);
                        }
                        buf.queued = true;
                        dev.queue.push_back(i);
                        i
                    }
                    _ => {
                        let nonblock = libc::fcntl(fd, libc::F_GETFL) & libc::O_NONBLOCK != 0;
                        let (g, i) = self.dequeue(st, fd, node_ix, nonblock)?;
                        st = g;
                        i
                    }
                };
                let dev = &st.devs[node_ix];
                let buf = &dev.bufs[index];
                b.index = index as u32;
                b.bytesused = if buf.done || nr == abi::DQBUF {
                    buf.bytesused
                } else {
                    0
                };
                b.flags = abi::BUF_FLAG_TIMESTAMP_MONOTONIC
                    | if buf.mapped { abi::BUF_FLAG_MAPPED } else { 0 }
                    | if buf.queued { abi::BUF_FLAG_QUEUED } else { 0 }
                    | if buf.done { abi::BUF_FLAG_DONE } else { 0 };
                b.field = abi::FIELD_NONE;
                b.timestamp = if nr == abi::DQBUF {
                    buf.timestamp
                } else {
                    libc::timeval {
                        tv_sec: 0,
                        tv_usec: 0,
                    }
                };
                b.timecode = std::mem::zeroed();
                b.sequence = if nr == abi::DQBUF { buf.sequence } else { 0 };
                b.memory = abi::MEMORY_MMAP;
                b.m = index as u64 * BUF_OFFSET_STEP;
                b.length = buf.len as u32;
                b.reserved2 = 0;
                b.request_fd = 0;
                st.sync_ready(fd);
                Ok(0)
            }
            abi::STREAMON | abi::STREAMOFF => {
                if *(arg as *const u32) != abi::BUF_TYPE_VIDEO_CAPTURE || !video {
                    return Err(libc::EINVAL);
                }
                let dev = &mut st.devs[node_ix];
                if dev.owner.is_some_and(|o| o != fd) {
                    return Err(libc::EBUSY);
                }
                if nr == abi::STREAMOFF {
                    stop(dev);
                } else if !dev.streaming {
                    if dev.owner != Some(fd) || dev.bufs.is_empty() {
                        return Err(libc::EINVAL);
                    }
                    dev.streaming = true;
                    dev.stream_id += 1;
                    dev.sequence = 0;
                    let id = dev.stream_id;
                    let interval = dev.interval;
                    let emu: &'static Emu = self;
                    std::thread::Builder::new()
                        .name("v4l2emu-stream".into())
                        .spawn(move || emu.stream(node_ix, id, interval))
                        .map_err(|_| libc::ENOMEM)?;
                }
                st.sync_ready(fd);
                self.cond.notify_all();
                Ok(0)
            }
            abi::ENUMINPUT => {
                let i = &mut *(arg as *mut abi::Input);
                if i.index != 0 || !video {
                    return Err(libc::EINVAL);
                }
                abi::put_str(&mut i.name, "Camera 1");
                i.type_ = abi::INPUT_TYPE_CAMERA;
                i.audioset = 0;
                i.tuner = 0;
                i.std = 0;
                i.status = 0;
                i.capabilities = 0;
                i.reserved = [0; 3];
                Ok(0)
            }
            abi::G_INPUT => {
                if !video {
                    return Err(libc::ENOTTY);
                }
                *(arg as *mut u32) = 0;
                Ok(0)
            }
            abi::S_INPUT => {
                if !video {
                    return Err(libc::ENOTTY);
                }
                if *(arg as *const u32) == 0 {
                    Ok(0)
                } else {
                    Err(libc::EINVAL)
                }
            }
            abi::G_PRIORITY => {
                *(arg as *mut u32) = st.max_priority(node_ix);
                Ok(0)
            }
            abi::S_PRIORITY => {
                let mut p = *(arg as *const u32);
                if p == 0 {
                    p = 2; // V4L2_PRIORITY_UNSET: the default
                }
                if !(1..=3).contains(&p) {
                    return Err(libc::EINVAL);
                }
                st.fds.get_mut(&fd).unwrap().priority = p;
                Ok(0)
            }
            abi::QUERYCTRL | abi::QUERY_EXT_CTRL | abi::QUERYMENU | abi::G_CTRL | abi::S_CTRL => {
                errno_of(libc::EINVAL)
            }
            abi::G_EXT_CTRLS | abi::S_EXT_CTRLS | abi::TRY_EXT_CTRLS => {
                // No controls: any id is invalid, found while validating (error_idx = count
                // for G/S, the failing index for TRY).
                let c = &mut *(arg as *mut abi::ExtControls);
                if c.count == 0 {
                    Ok(0)
                } else {
                    c.error_idx = if nr == abi::TRY_EXT_CTRLS { 0 } else { c.count };
                    Err(libc::EINVAL)
                }
            }
            _ => Err(libc::ENOTTY),
        }
    }

    /// Takes the oldest completed buffer of `fd`, waiting for one unless `nonblock`, and
    /// applies the faults due at this frame.
    fn dequeue<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        fd: i32,
        node: usize,
        nonblock: bool,
    ) -> Result<(MutexGuard<'a, State>, usize), i32> {
        loop {
            st.fd(fd)?;
            let dev = &mut st.devs[node];
            if dev.owner != Some(fd) {
                return Err(libc::EINVAL);
            }
            if let Some(i) = dev.done.pop_front() {
                dev.bufs[i].done = false;
                st.delivered += 1;
                let n = st.delivered;
                let f = &self.faults;
                if f.unplug.is_some_and(|(at, _)| at == n) {
                    self.unplug(&mut st, f.unplug.unwrap().1);
                    return Err(libc::ENODEV);
                }
                let dev = &mut st.devs[node];
                if hit(&f.eio, n) {
                    dev.bufs[i].queued = true;
                    dev.queue.push_front(i);
                    st.sync_ready(fd);
                    return Err(libc::EIO);
                }
                let buf = &mut dev.bufs[i];
                if hit(&f.empty, n) {
                    buf.bytesused = 0;
                } else if hit(&f.truncate, n) {
                    buf.bytesused /= 2;
                } else if hit(&f.corrupt, n) {
                    let data = unsafe {
                        std::slice::from_raw_parts_mut(buf.map as *mut u8, buf.bytesused as usize)
                    };
                    let mut x: u32 = 0x9e37_79b9 ^ n as u32;
                    for b in data.iter_mut() {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        // Never 0xFF: no JPEG marker can appear in the garbage.
                        *b = (x as u8) & 0x7f;
                    }
                }
                if f.stall.is_some_and(|(at, _)| at == n) {
                    st.stall = Some(until(f.stall.unwrap().1));
                }
                return Ok((st, i));
            }
            if !dev.streaming {
                return Err(libc::EINVAL);
            }
            if nonblock {
                return Err(libc::EAGAIN);
            }
            st = self
                .cond
                .wait_timeout(st, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Unplugs every node: open descriptors go dead, the nodes leave the listings until `secs`
    /// have passed.
    fn unplug(&self, st: &mut State, secs: Option<f64>) {
        st.generation += 1;
        st.unplugged = Some(until(secs));
        for (dev, node) in st.devs.iter_mut().zip(&self.nodes) {
            stop(dev);
            free_bufs(dev);
            *dev = default_dev(node);
        }
        st.sync_all();
        self.cond.notify_all();
    }

    /// The streaming thread of one device: completes the oldest queued buffer at each frame
    /// time; frame times with no buffer queued are dropped, as a camera does.
    fn stream(&self, node: usize, id: u64, interval: Fract) {
        let period = Duration::from_secs_f64(interval.secs().clamp(0.001, 10.0));
        let start = Instant::now();
        let mut k: u64 = 0;
        loop {
            let due = start + period * (k as u32 + 1);
            loop {
                let now = Instant::now();
                if now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(Duration::from_millis(20)));
                let st = self.lock();
                if st.devs[node].stream_id != id {
                    return;
                }
            }
            let frame = k as usize;
            k += 1;
            let (fcc, w, h) = {
                let mut st = self.lock();
                let stalled = st.stalled();
                let dev = &mut st.devs[node];
                if dev.stream_id != id {
                    return;
                }
                dev.sequence += 1;
                if stalled || dev.queue.is_empty() {
                    continue;
                }
                (dev.fcc, dev.width, dev.height)
            };
            let payload = self.frames.payload(frame, fcc, w, h);
            let mut st = self.lock();
            let dev = &mut st.devs[node];
            if dev.stream_id != id {
                return;
            }
            let Some(i) = dev.queue.pop_front() else {
                continue;
            };
            let sequence = dev.sequence - 1;
            let buf = &mut dev.bufs[i];
            let n = payload.len().min(buf.len);
            unsafe {
                std::ptr::copy_nonoverlapping(payload.as_ptr(), buf.map as *mut u8, n);
            }
            buf.bytesused = n as u32;
            buf.sequence = sequence;
            buf.timestamp = now_timeval();
            buf.queued = false;
            buf.done = true;
            dev.done.push_back(i);
            if let Some(owner) = dev.owner {
                st.sync_ready(owner);
            }
            self.cond.notify_all();
            drop(st);
            // Fell behind (a slow encode): skip the frame times already gone, as a camera does.
            let behind = start.elapsed().as_secs_f64() / period.as_secs_f64();
            if behind > (k + 1) as f64 {
                let skip = behind as u64 - k;
                k += skip;
                let mut st = self.lock();
                st.devs[node].sequence += skip as u32;
            }
        }
    }
}
