//! Picks the compute device: CUDA when built with the `cuda` feature and a GPU is present, else CPU.

use candle_core::Device;
use std::str::FromStr;

/// What the user asked for with `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl FromStr for DeviceChoice {
    type Err = crate::util::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda),
            _ => Err(crate::util::UnknownName {
                what: "device",
                got: s.to_string(),
                expected: "auto, cpu or cuda",
            }),
        }
    }
}

/// Resolves a [`DeviceChoice`] to a device, with a sentence saying what was picked and why.
pub fn select(choice: DeviceChoice) -> crate::Result<(Device, String)> {
    match choice {
        DeviceChoice::Cpu => Ok((Device::Cpu, "cpu (as requested)".into())),
        DeviceChoice::Cuda => {
            if !cfg!(feature = "cuda") {
                return Err(crate::Error::Config(
                    "--device cuda needs a build with CUDA support: cargo build --release --features cuda".into(),
                ));
            }
            let dev = Device::new_cuda(0).map_err(|e| {
                crate::Error::Config(format!("--device cuda: no usable CUDA GPU ({e})"))
            })?;
            Ok((dev, "cuda:0 (as requested)".into()))
        }
        DeviceChoice::Auto => {
            if cfg!(feature = "cuda") {
                match Device::new_cuda(0) {
                    Ok(dev) => return Ok((dev, "cuda:0 (auto: a CUDA GPU is present)".into())),
                    Err(e) => {
                        return Ok((
                            Device::Cpu,
                            format!("cpu (auto: built with CUDA but no GPU usable: {e})"),
                        ))
                    }
                }
            }
            Ok((
                Device::Cpu,
                "cpu (auto: this build has no CUDA support; build with --features cuda to use a GPU)"
                    .into(),
            ))
        }
    }
}
