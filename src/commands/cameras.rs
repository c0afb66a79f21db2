//! `gesture-app cameras`: the cameras the system reports, with every mode each offers, marking
//! the ones the app decodes.

use gesture_app::capture::camera::list_cameras;
use gesture_app::capture::CameraSystem;
use std::process::ExitCode;

/// Prints every camera and its modes; says so when there is none.
pub fn run() -> anyhow::Result<ExitCode> {
    let cameras = list_cameras(&CameraSystem::native())?;
    if cameras.is_empty() {
        println!("no cameras found");
        return Ok(ExitCode::SUCCESS);
    }
    for cam in cameras {
        println!("camera:{}  {}", cam.id.index, cam.id.name);
        match cam.modes {
            Ok(modes) if modes.is_empty() => println!("    (no modes reported)"),
            Ok(modes) => {
                for m in modes {
                    let mark = if m.format.is_decodable() {
                        "decoded"
                    } else {
                        "not decoded by this app"
                    };
                    println!("    {:<24} {mark}", m.to_string());
                }
            }
            Err(e) => println!("    modes unavailable: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
