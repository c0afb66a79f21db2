//! `gesture-app install-desktop`: puts the app in the desktop's applications menu (Linux and
//! other freedesktop.org desktops) — `assets/gesture-app.desktop` with `Exec=` the absolute path
//! of this executable, and the icon `assets/gesture-app.svg`, both built into the program — under
//! `$XDG_DATA_HOME` (default `~/.local/share`), written atomically. `--uninstall` removes them.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The desktop entry as shipped (`Exec=gesture-app`: right when the binary is on PATH).
pub const DESKTOP_ENTRY: &str = include_str!("../../assets/gesture-app.desktop");
/// The icon (hand-drawn SVG).
pub const ICON_SVG: &str = include_str!("../../assets/gesture-app.svg");

const ENTRY_FILE: &str = "applications/gesture-app.desktop";
const ICON_FILE: &str = "icons/hicolor/scalable/apps/gesture-app.svg";

/// Flags of `install-desktop`.
#[derive(Debug, clap::Args)]
pub struct InstallDesktopArgs {
    /// Remove the entry and the icon instead.
    #[arg(long)]
    pub uninstall: bool,
}

/// `$XDG_DATA_HOME`, else `~/.local/share` (a relative `XDG_DATA_HOME` is ignored, as the
/// XDG base directory specification says).
fn data_home() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
        if d.is_absolute() {
            return Ok(d);
        }
    }
    match std::env::var_os("HOME").map(PathBuf::from) {
        Some(h) if h.is_absolute() => Ok(h.join(".local/share")),
        _ => bail!("neither XDG_DATA_HOME nor HOME names an absolute folder to install into"),
    }
}

/// `exe` as one argument of a desktop entry's `Exec=` value: quoted when it holds a reserved
/// character, `"`, `` ` ``, `$` and `\` escaped inside the quotes, `%` doubled, and then the
/// string escape of every value (`\` → `\\`) applied.
pub fn exec_value(exe: &Path) -> anyhow::Result<String> {
    let s = exe
        .to_str()
        .with_context(|| format!("{}: not valid UTF-8, which Exec= needs", exe.display()))?;
    if s.chars().any(char::is_control) {
        bail!("{s:?}: a control character in the path cannot go into Exec=");
    }
    const RESERVED: &[char] = &[
        ' ', '\t', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`',
    ];
    let mut arg = if s.contains(RESERVED) {
        let mut q = String::from("\"");
        for c in s.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        s.to_string()
    };
    arg = arg.replace('%', "%%");
    Ok(arg.replace('\\', "\\\\"))
}

/// The shipped entry with `Exec=` running `exe`.
pub fn entry_for(exe: &Path) -> anyhow::Result<String> {
    let exec = exec_value(exe)?;
    Ok(DESKTOP_ENTRY
        .lines()
        .map(|l| {
            if l.starts_with("Exec=") {
                format!("Exec={exec}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n")
}

pub fn run(args: InstallDesktopArgs) -> anyhow::Result<ExitCode> {
    if cfg!(any(windows, target_os = "macos")) {
        bail!(
            "desktop entries are for Linux and other freedesktop.org desktops; on Windows and \
             macOS see docs/install.md"
        );
    }
    let home = data_home()?;
    let entry = home.join(ENTRY_FILE);
    let icon = home.join(ICON_FILE);
    if args.uninstall {
        for p in [&entry, &icon] {
            match std::fs::remove_file(p) {
                Ok(()) => println!("removed {}", p.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    println!("not there: {}", p.display())
                }
                Err(e) => return Err(e).with_context(|| format!("cannot remove {}", p.display())),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot tell where this executable is")?;
    let text = entry_for(&exe)?;
    for (path, bytes) in [(&icon, ICON_SVG.as_bytes()), (&entry, text.as_bytes())] {
        let dir = path.parent().expect("a file under the data folder");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        gesture_app::write_atomic(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!(
        "gesture-app is in the applications menu (Exec={}); `gesture-app install-desktop \
         --uninstall` removes it",
        exe.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_quotes_and_escapes_by_the_desktop_entry_rules() {
        assert_eq!(
            exec_value(Path::new("/usr/bin/gesture-app")).unwrap(),
            "/usr/bin/gesture-app"
        );
        assert_eq!(
            exec_value(Path::new("/home/a b/bin/gesture-app")).unwrap(),
            "\"/home/a b/bin/gesture-app\""
        );
        // `$` escaped inside quotes, then every `\` doubled by the value's own escaping.
        assert_eq!(
            exec_value(Path::new("/x/$HOME/g")).unwrap(),
            "\"/x/\\\\$HOME/g\""
        );
        assert_eq!(exec_value(Path::new("/x/50%/g")).unwrap(), "/x/50%%/g");
        assert!(exec_value(Path::new("/x\n/g")).is_err());
        let entry = entry_for(Path::new("/opt/g/gesture-app")).unwrap();
        assert!(entry.contains("\nExec=/opt/g/gesture-app\n"), "{entry}");
        assert_eq!(entry.matches("Exec=").count(), 1);
    }
}
