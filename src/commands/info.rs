//! `gesture-app info`: what a weights file holds (by default the demo model the app runs without
//! `--weights`, usually the copy built into the program).

use super::bundled;
use clap::Args;
use gesture_app::builtin;
use gesture_app::model::config::{Framing, Modality};
use gesture_app::weights::{self, Contents};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The weights file (.safetensors), or `built-in:NAME` for one built into the program
    /// [default: the demo model, `built-in:weights/demo.safetensors` unless a copy on disk
    /// overrides it]
    pub weights: Option<PathBuf>,
    /// Print the stored config as JSON instead
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let path = args
        .weights
        .unwrap_or_else(|| bundled::find(bundled::DEMO_WEIGHTS).path());
    let file = weights::load_file(&path)?;
    let c = &file.config;
    if args.json {
        println!("{}", serde_json::to_string_pretty(c)?);
        return Ok(ExitCode::SUCCESS);
    }
    let params: usize = file.tensors.values().map(|t| t.elem_count()).sum();
    match builtin::file_at(&path) {
        Some(b) => println!(
            "file:            {} (built-in: part of this program, {} bytes, sha256 {})",
            path.display(),
            b.bytes.len(),
            b.sha256
        ),
        None => println!("file:            {}", path.display()),
    }
    match file.contents {
        Contents::Backbone => {
            println!(
                "contents:        {} ImageNet backbone (initialises `train --pretrained`)",
                c.arch
            );
        }
        Contents::Model => {
            println!("contents:        model");
            println!("arch:            {}", c.arch);
            println!("consensus:       {}", c.consensus);
            println!("segments:        {}", c.num_segments);
            println!("img_feature_dim: {}", c.img_feature_dim);
            if c.consensus.is_recurrent() {
                println!(
                    "rnn:             hidden {}, {} layer(s)",
                    c.rnn_hidden, c.rnn_layers
                );
            }
            println!("classes:         {}", c.num_classes);
            if c.members > 1 {
                println!(
                    "ensemble:        {} networks; the prediction is the mean of their probabilities",
                    c.members
                );
            }
            if c.arch.reads_landmarks() {
                println!(
                    "input:           a hand tracker's 21 landmarks, presence and handedness per frame"
                );
                for m in &c.hand_models {
                    println!(
                        "hand model:      {} {} sha256 {}",
                        m.role, m.source, m.sha256
                    );
                }
                println!("clip fps:        {}", c.clip_fps);
            } else {
                let view = match c.framing {
                    Framing::CenterCrop => format!(
                        "{0}x{0} centre crop after resizing the shorter side to {1}",
                        c.input_size, c.resize_size
                    ),
                    Framing::WholeFrame => {
                        format!("the whole frame squashed to {0}x{0}", c.input_size)
                    }
                };
                println!(
                    "input:           {view}; {:?}, x*{} - mean {:?} / std {:?}",
                    c.input.channel_order, c.input.scale, c.input.mean, c.input.std
                );
                println!("clip fps:        {}", c.clip_fps);
                match c.modality {
                    Modality::Rgb => println!("modality:        RGB (one frame per segment)"),
                    Modality::RgbDiff => println!(
                        "modality:        RGBDiff ({} differences of {} consecutive frames per segment)",
                        c.new_length,
                        c.frames_per_segment()
                    ),
                }
            }
        }
    }
    println!(
        "tensors:         {} ({:.2} M parameters)",
        file.tensors.len(),
        params as f64 / 1e6
    );
    for (k, v) in &c.provenance {
        println!("provenance:      {k} = {v}");
    }
    if file.contents == Contents::Model {
        println!("labels:");
        for (i, l) in c.labels.iter().enumerate() {
            println!("  {i:>3}  {l}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
