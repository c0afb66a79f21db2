//! `gesture-app export`: re-saves a weights file, here with its tensors stored as float16
//! (`--half`: half the file) or its matrices as 8-bit codes with a scale per row (`--int8`: about
//! a quarter), which is how a model built into the program keeps the binary small. The loader
//! widens both back to float32, so every command takes the result as it is.

use anyhow::{bail, Context};
use gesture_app::weights::{self, Storage};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The weights file to read (.safetensors made by `train` or `convert`).
    pub input: PathBuf,
    /// Where to write the result (written atomically; never the input itself).
    pub output: PathBuf,
    /// Store the tensors as float16: half the file; outputs move by about 1e-3 of their size.
    #[arg(long, conflicts_with = "int8")]
    pub half: bool,
    /// Store matrices as 8-bit integers with a float32 scale per row, the rest as float16: about a
    /// quarter of float32; each weight moves by at most half of its row's largest value / 127.
    #[arg(long)]
    pub int8: bool,
    /// Set a provenance entry of the result (repeatable), e.g. to name the recipe's command
    /// without the paths of the machine it ran on.
    #[arg(long = "provenance", value_name = "KEY=VALUE", value_parser = key_value)]
    pub provenance: Vec<(String, String)>,
}

/// Parses a `KEY=VALUE` provenance flag.
pub(crate) fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

/// Runs `gesture-app export`.
pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let Some((storage, stored)) = storage(args.half, args.int8, "export") else {
        bail!("nothing to do: say how to store the tensors (--half or --int8)");
    };
    if args.output.exists()
        && std::fs::canonicalize(&args.output).ok() == std::fs::canonicalize(&args.input).ok()
    {
        bail!(
            "{}: the output would replace the input; name another file",
            args.output.display()
        );
    }
    let file = weights::load_file(&args.input)
        .with_context(|| format!("cannot read weights {}", args.input.display()))?;
    let mut config = file.config;
    config.provenance.insert("stored".into(), stored);
    config.provenance.extend(args.provenance);
    weights::save_stored(&args.output, &file.tensors, &config, file.contents, storage)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "{} ({} bytes) → {} ({} bytes, {})",
        args.input.display(),
        size(&args.input),
        args.output.display(),
        size(&args.output),
        if args.int8 {
            "8-bit matrices"
        } else {
            "float16"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The storage `--half` / `--int8` ask for and the provenance line that says so (`None`: neither).
pub(crate) fn storage(half: bool, int8: bool, command: &str) -> Option<(Storage, String)> {
    if int8 {
        Some((
            Storage::Q8Rows,
            format!("8-bit matrices with a scale per row, float16 otherwise (gesture-app {command} --int8)"),
        ))
    } else if half {
        Some((
            Storage::F16,
            format!("float16 (gesture-app {command} --half)"),
        ))
    } else {
        None
    }
}
