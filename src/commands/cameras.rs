//! `gesture-app cameras`: the cameras the system reports, with their modes.

use gesture_app::capture::camera::list_cameras;
use std::process::ExitCode;

/// Prints every camera and its modes; says so when there is none.
pub fn run() -> anyhow::Result<ExitCode> {
    let cameras = list_cameras()?;
    if cameras.is_empty() {
        println!("no cameras found");
        return Ok(ExitCode::SUCCESS);
    }
    for cam in cameras {
        println!("camera:{}  {}  ({})", cam.index, cam.name, cam.description);
        match cam.modes {
            Ok(modes) if modes.is_empty() => println!("    (no modes reported)"),
            Ok(modes) => {
                for m in modes {
                    println!("    {m}");
                }
            }
            Err(e) => println!("    modes unavailable: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
