//! Faults to inject, from `V4L2EMU_FAULTS`: comma-separated items, frames counted from 1 over
//! the whole process (every DQBUF that hands out a buffer counts, faulty or not):
//!
//! | item | effect |
//! |---|---|
//! | `eio@N` / `eio@N-M` | DQBUF number N (to M) fails with EIO; the buffer stays queued |
//! | `enodev@N[:S]` | at DQBUF N the camera is unplugged: every call on open descriptors fails with ENODEV, the nodes leave `/dev` and `/sys`; they come back after S seconds (never without `:S`) |
//! | `stall@N[:S]` | after frame N no buffer completes for S seconds (for ever without `:S`): poll and a blocking DQBUF wait |
//! | `corrupt@N[-M]` | frame N (to M) is garbage (random bytes, no JPEG markers) |
//! | `truncate@N[-M]` | frame N (to M) has half its bytes (`bytesused` halved) |
//! | `empty@N[-M]` | frame N (to M) has `bytesused` 0 |
//! | `busy` / `busy:K` | opening a node fails with EBUSY (the first K opens only) |
//! | `sfmt=refuse` / `sfmt=WxH` | S_FMT fails with EINVAL / answers WxH whatever was asked |
//! | `sparm=refuse` / `sparm=notty` / `sparm=F` | S_PARM fails with EINVAL / G_PARM and S_PARM fail with ENOTTY (driver without them) / S_PARM answers F fps |

use std::ops::RangeInclusive;

/// How S_FMT misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub enum SFmt {
    Normal,
    Refuse,
    Answer(u32, u32),
}

/// How G/S_PARM misbehave.
#[derive(Debug, Clone, PartialEq)]
pub enum SParm {
    Normal,
    Refuse,
    NotTty,
    Answer(u32),
}

/// The faults to inject.
#[derive(Debug, Clone)]
pub struct Faults {
    pub eio: Vec<RangeInclusive<u64>>,
    pub unplug: Option<(u64, Option<f64>)>,
    pub stall: Option<(u64, Option<f64>)>,
    pub corrupt: Vec<RangeInclusive<u64>>,
    pub truncate: Vec<RangeInclusive<u64>>,
    pub empty: Vec<RangeInclusive<u64>>,
    /// Opens that fail with EBUSY (`Some(u64::MAX)`: all).
    pub busy: Option<u64>,
    pub sfmt: SFmt,
    pub sparm: SParm,
}

/// Whether frame `n` falls in any of `ranges`.
pub fn hit(ranges: &[RangeInclusive<u64>], n: u64) -> bool {
    ranges.iter().any(|r| r.contains(&n))
}

fn range(s: &str) -> Option<RangeInclusive<u64>> {
    match s.split_once('-') {
        Some((a, b)) => Some(a.parse().ok()?..=b.parse().ok()?),
        None => {
            let n = s.parse().ok()?;
            Some(n..=n)
        }
    }
}

fn at_for(s: &str) -> Option<(u64, Option<f64>)> {
    match s.split_once(':') {
        Some((n, secs)) => Some((
            n.parse().ok()?,
            Some(secs.trim_end_matches('s').parse().ok()?),
        )),
        None => Some((s.parse().ok()?, None)),
    }
}

impl Faults {
    pub fn none() -> Self {
        Faults {
            eio: vec![],
            unplug: None,
            stall: None,
            corrupt: vec![],
            truncate: vec![],
            empty: vec![],
            busy: None,
            sfmt: SFmt::Normal,
            sparm: SParm::Normal,
        }
    }

    /// Reads the `V4L2EMU_FAULTS` syntax.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = Faults::none();
        for item in spec
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let bad = || format!("V4L2EMU_FAULTS: cannot read '{item}'");
            if let Some((name, arg)) = item.split_once('@') {
                match name {
                    "eio" => f.eio.push(range(arg).ok_or_else(bad)?),
                    "corrupt" => f.corrupt.push(range(arg).ok_or_else(bad)?),
                    "truncate" => f.truncate.push(range(arg).ok_or_else(bad)?),
                    "empty" => f.empty.push(range(arg).ok_or_else(bad)?),
                    "enodev" => f.unplug = Some(at_for(arg).ok_or_else(bad)?),
                    "stall" => f.stall = Some(at_for(arg).ok_or_else(bad)?),
                    _ => return Err(bad()),
                }
            } else if let Some((name, arg)) = item.split_once('=') {
                match (name, arg) {
                    ("sfmt", "refuse") => f.sfmt = SFmt::Refuse,
                    ("sfmt", wh) => {
                        let (w, h) = wh.split_once('x').ok_or_else(bad)?;
                        f.sfmt = SFmt::Answer(
                            w.parse().map_err(|_| bad())?,
                            h.parse().map_err(|_| bad())?,
                        );
                    }
                    ("sparm", "refuse") => f.sparm = SParm::Refuse,
                    ("sparm", "notty") => f.sparm = SParm::NotTty,
                    ("sparm", fps) => f.sparm = SParm::Answer(fps.parse().map_err(|_| bad())?),
                    _ => return Err(bad()),
                }
            } else if item == "busy" {
                f.busy = Some(u64::MAX);
            } else if let Some(k) = item.strip_prefix("busy:") {
                f.busy = Some(k.parse().map_err(|_| bad())?);
            } else {
                return Err(bad());
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_item() {
        let f = Faults::parse(
            "eio@5,enodev@9:1.5 stall@3:2s,corrupt@4-6,truncate@7,empty@8,busy:2,sfmt=320x240,sparm=15",
        )
        .unwrap();
        assert!(hit(&f.eio, 5) && !hit(&f.eio, 6));
        assert_eq!(f.unplug, Some((9, Some(1.5))));
        assert_eq!(f.stall, Some((3, Some(2.0))));
        assert!(hit(&f.corrupt, 5));
        assert_eq!(f.busy, Some(2));
        assert_eq!(f.sfmt, SFmt::Answer(320, 240));
        assert_eq!(f.sparm, SParm::Answer(15));
        assert!(Faults::parse("explode@3").is_err());
        assert!(Faults::parse("eio@x").is_err());
    }
}
