//! The flags that locate a data set on disk, shared by `eval` and `data check`.

use gesture_app::train::data::{DataSpec, FrameNaming};
use std::path::PathBuf;

/// Where a data set's labels and frames are.
#[derive(clap::Args, Debug, Clone)]
pub struct DataSetArgs {
    /// Data set root (category.txt, index files, rgb/ID/00001.jpg...).
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Label file (default ROOT/category.txt or ROOT/jester-v1-labels.csv).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Frames folder (default ROOT/rgb if present, else ROOT).
    #[arg(long, value_name = "DIR")]
    pub frames_dir: Option<PathBuf>,
    /// Digits of frame file numbers (default detected).
    #[arg(long, value_name = "N")]
    pub frame_digits: Option<usize>,
}

impl DataSetArgs {
    /// The data set these flags describe.
    pub fn spec(&self) -> DataSpec {
        DataSpec {
            root: self.root.clone(),
            labels: self.labels.clone(),
            frames_dir: self.frames_dir.clone(),
            naming: self.frame_digits.map(|digits| FrameNaming {
                digits,
                ext: "jpg".into(),
            }),
        }
    }
}
