//! `gesture-app ensemble`: joins models trained apart (other seeds, other data) into one
//! weights file whose prediction is the mean of their probabilities (`weights::ensemble`).

use anyhow::{bail, Context};
use gesture_app::weights::{self, Contents, Storage};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `ensemble`.
#[derive(Debug, clap::Args)]
pub struct EnsembleArgs {
    /// Where to write the ensemble (written atomically; never one of the inputs).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The models to join (two or more weights files of the same architecture, head, segments,
    /// labels and input; an ensemble among them brings all its networks).
    #[arg(required = true, num_args = 2..)]
    pub inputs: Vec<PathBuf>,
    /// Store the tensors as float16 (as `export --half`): half the file.
    #[arg(long, conflicts_with = "int8")]
    pub half: bool,
    /// Store matrices as 8-bit integers with a scale per row (as `export --int8`): about a
    /// quarter of float32.
    #[arg(long)]
    pub int8: bool,
    /// Set a provenance entry of the result (repeatable), e.g. to name the recipe's commands
    /// without the paths of the machine they ran on.
    #[arg(long = "provenance", value_name = "KEY=VALUE", value_parser = super::export::key_value)]
    pub provenance: Vec<(String, String)>,
}

/// Runs `gesture-app ensemble`.
pub fn run(args: EnsembleArgs) -> anyhow::Result<ExitCode> {
    let out = std::fs::canonicalize(&args.output).ok();
    let mut inputs = Vec::with_capacity(args.inputs.len());
    for path in &args.inputs {
        if out.is_some() && std::fs::canonicalize(path).ok() == out {
            bail!(
                "{}: the output would replace an input; name another file",
                args.output.display()
            );
        }
        let file = weights::load_file(path)
            .with_context(|| format!("cannot read weights {}", path.display()))?;
        inputs.push((path.clone(), file));
    }
    let (mut config, tensors) = weights::ensemble::join(inputs)?;
    let storage = match super::export::storage(args.half, args.int8, "ensemble") {
        Some((storage, stored)) => {
            config.provenance.insert("stored".into(), stored);
            storage
        }
        None => Storage::F32,
    };
    config.provenance.extend(args.provenance);
    weights::save_stored(&args.output, &tensors, &config, Contents::Model, storage)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    // Read back through the loader every command uses, so a file that will not run is not left
    // looking finished.
    if let Err(e) = weights::load_model(&args.output, &candle_core::Device::Cpu) {
        let _ = std::fs::remove_file(&args.output);
        return Err(e).context(format!("{} does not load", args.output.display()));
    }
    println!(
        "{} networks of {} + {} ({} classes) → {}",
        config.members,
        config.arch,
        config.consensus,
        config.num_classes,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
