//! The model's configuration: which backbone, which consensus head, how many segments, and how
//! frames must be preprocessed. It travels inside every weights file (docs/ARCHITECTURE.md §8),
//! so `--weights FILE` alone is enough to run a model.

use crate::util::UnknownName;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The 2D CNN run on every sampled frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Arch {
    /// torchvision's squeezenet1_1 `features`: 512-d features, RGB input in [0, 1].
    #[serde(rename = "squeezenet1_1")]
    SqueezeNet11,
    /// pretrainedmodels' bninception: 1024-d features, BGR input in 0..255.
    #[serde(rename = "BNInception")]
    BnInception,
    /// A hand tracker's output per frame (MediaPipe's 21 landmarks, presence, handedness)
    /// turned into hand features and one Linear + ReLU: 128-d features
    /// (`model::backbone::hand_landmarks`). Fed landmarks, not pixels.
    #[serde(rename = "hand_landmarks")]
    HandLandmarks,
}

impl Arch {
    /// Every image backbone (the CNNs), in the order `--help` lists them.
    pub const ALL: [Arch; 2] = [Arch::SqueezeNet11, Arch::BnInception];

    /// True for the backbone fed a hand tracker's landmarks rather than frames.
    pub fn reads_landmarks(self) -> bool {
        self == Arch::HandLandmarks
    }

    /// The name the original code and our files use.
    pub fn name(self) -> &'static str {
        match self {
            Arch::SqueezeNet11 => "squeezenet1_1",
            Arch::BnInception => "BNInception",
            Arch::HandLandmarks => "hand_landmarks",
        }
    }

    /// Width of the globally pooled backbone feature.
    pub fn feature_dim(self) -> usize {
        match self {
            Arch::SqueezeNet11 => 512,
            Arch::BnInception => 1024,
            Arch::HandLandmarks => crate::model::backbone::hand_landmarks::WIDTH,
        }
    }

    /// The input normalisation the backbone was pretrained with (docs/ARCHITECTURE.md §4).
    pub fn default_input(self) -> InputNorm {
        match self {
            // torchvision ImageNet statistics; the landmark backbone reads no pixels and keeps
            // them only because a configuration always has an input normalisation.
            Arch::SqueezeNet11 | Arch::HandLandmarks => InputNorm {
                channel_order: ChannelOrder::Rgb,
                scale: 1.0 / 255.0,
                mean: [0.485, 0.456, 0.406],
                std: [0.229, 0.224, 0.225],
            },
            // pretrainedmodels' bninception settings: BGR, range 0..255, mean (104, 117, 128), std 1.
            Arch::BnInception => InputNorm {
                channel_order: ChannelOrder::Bgr,
                scale: 1.0,
                mean: [104.0, 117.0, 128.0],
                std: [1.0, 1.0, 1.0],
            },
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "squeezenet1_1" | "squeezenet" => Ok(Arch::SqueezeNet11),
            "bninception" | "bn-inception" => Ok(Arch::BnInception),
            "hand_landmarks" | "hand-landmarks" => Ok(Arch::HandLandmarks),
            _ => Err(UnknownName {
                what: "arch",
                got: s.to_string(),
                expected: "one of: squeezenet1_1, BNInception, hand_landmarks",
            }),
        }
    }
}

/// The head that fuses the N per-frame features into class scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Consensus {
    #[serde(rename = "MLP")]
    Mlp,
    #[serde(rename = "TRNmultiscale")]
    TrnMultiscale,
    #[serde(rename = "RNN_TANH")]
    RnnTanh,
    #[serde(rename = "RNN_RELU")]
    RnnRelu,
    #[serde(rename = "LSTM")]
    Lstm,
    #[serde(rename = "GRU")]
    Gru,
    #[serde(rename = "BLSTM")]
    Blstm,
    /// The original's FCN2D module; "FCN" and "FCN2D" both parse to it.
    #[serde(rename = "FCN", alias = "FCN2D")]
    Fcn,
    /// TSN's average consensus: new_fc maps straight to the classes, then a mean over time.
    #[serde(rename = "avg", alias = "TSN")]
    Avg,
}

impl Consensus {
    /// Every head, in the order `--help` lists them.
    pub const ALL: [Consensus; 9] = [
        Consensus::Mlp,
        Consensus::TrnMultiscale,
        Consensus::RnnTanh,
        Consensus::RnnRelu,
        Consensus::Lstm,
        Consensus::Gru,
        Consensus::Blstm,
        Consensus::Fcn,
        Consensus::Avg,
    ];

    /// The name the original code and our files use.
    pub fn name(self) -> &'static str {
        match self {
            Consensus::Mlp => "MLP",
            Consensus::TrnMultiscale => "TRNmultiscale",
            Consensus::RnnTanh => "RNN_TANH",
            Consensus::RnnRelu => "RNN_RELU",
            Consensus::Lstm => "LSTM",
            Consensus::Gru => "GRU",
            Consensus::Blstm => "BLSTM",
            Consensus::Fcn => "FCN",
            Consensus::Avg => "avg",
        }
    }

    /// True for the recurrent heads (which own an `rnn` and an `fc`).
    pub fn is_recurrent(self) -> bool {
        matches!(
            self,
            Consensus::RnnTanh
                | Consensus::RnnRelu
                | Consensus::Lstm
                | Consensus::Gru
                | Consensus::Blstm
        )
    }

    /// Smallest number of segments the head is defined for.
    pub fn min_segments(self) -> usize {
        match self {
            Consensus::TrnMultiscale => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Consensus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Consensus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "MLP" => Consensus::Mlp,
            "TRNMULTISCALE" | "TRN" => Consensus::TrnMultiscale,
            "RNN_TANH" => Consensus::RnnTanh,
            "RNN_RELU" => Consensus::RnnRelu,
            "LSTM" => Consensus::Lstm,
            "GRU" => Consensus::Gru,
            "BLSTM" => Consensus::Blstm,
            "FCN" | "FCN2D" => Consensus::Fcn,
            "AVG" | "TSN" => Consensus::Avg,
            _ => {
                return Err(UnknownName {
                    what: "consensus",
                    got: s.to_string(),
                    expected: "one of: MLP, TRNmultiscale, RNN_TANH, RNN_RELU, LSTM, GRU, BLSTM, \
                               FCN, avg",
                })
            }
        })
    }
}

/// Channel order the backbone expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelOrder {
    #[serde(rename = "RGB")]
    Rgb,
    #[serde(rename = "BGR")]
    Bgr,
}

/// How an 8-bit RGB pixel becomes a network input: reorder channels, multiply by `scale`,
/// subtract `mean`, divide by `std` (mean/std given in the backbone's channel order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputNorm {
    pub channel_order: ChannelOrder,
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// What each segment feeds the backbone (TSN's `--modality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub enum Modality {
    /// One frame per segment: 3 channels.
    #[default]
    #[serde(rename = "RGB")]
    Rgb,
    /// TSN's RGBDiff: `new_length + 1` consecutive frames per segment, the differences of
    /// neighbours stacked as `3 · new_length` channels. Motion then shows in every crop of the
    /// input, where a convolution sees it and global pooling keeps it: a from-scratch network
    /// learns direction from it even when single frames do not show where a hand is going
    /// (training/README.md, issue 9).
    #[serde(rename = "RGBDiff")]
    RgbDiff,
}

impl Modality {
    /// The name the original code and our files use.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Rgb => "RGB",
            Modality::RgbDiff => "RGBDiff",
        }
    }

    /// Consecutive frames each segment reads: 1 for RGB, `new_length + 1` for RGBDiff.
    pub fn frames_per_segment(self, new_length: usize) -> usize {
        match self {
            Modality::Rgb => 1,
            Modality::RgbDiff => new_length + 1,
        }
    }

    /// Channels of a segment's input to the backbone: 3 for RGB, `3 · new_length` for RGBDiff.
    pub fn input_channels(self, new_length: usize) -> usize {
        match self {
            Modality::Rgb => 3,
            Modality::RgbDiff => 3 * new_length,
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Modality {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rgb" => Ok(Modality::Rgb),
            "rgbdiff" | "rgb-diff" | "diff" => Ok(Modality::RgbDiff),
            _ => Err(UnknownName {
                what: "modality",
                got: s.to_string(),
                expected: "one of: RGB, RGBDiff",
            }),
        }
    }
}

/// Which part of a frame the network sees, and how it is brought to the square input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// The original's: the shorter side resized to `resize_size`, then the centre
    /// `input_size`² square (on Jester's 176×100 frames, the middle 57 % of the width).
    /// Training crops squares of 1–0.66 of the shorter side at 13 places (TSN).
    #[default]
    CenterCrop,
    /// The whole frame, squashed to `input_size`² (aspect not kept): a hand near the left or
    /// right edge stays in view. Training crops 1–0.66 of *each* side (at most one scale step
    /// apart) at the same 13 places, so the scale and place jitter match the original's.
    WholeFrame,
}

impl Framing {
    /// The name our files use.
    pub fn name(self) -> &'static str {
        match self {
            Framing::CenterCrop => "center_crop",
            Framing::WholeFrame => "whole_frame",
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Framing {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "center_crop" | "centre_crop" | "center" | "centre" => Ok(Framing::CenterCrop),
            "whole_frame" | "whole" | "full" => Ok(Framing::WholeFrame),
            _ => Err(UnknownName {
                what: "framing",
                got: s.to_string(),
                expected: "one of: center_crop, whole_frame",
            }),
        }
    }
}

/// How TRNmultiscale picks relations for scales smaller than N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrnMode {
    /// Deterministic: min(3, C(N,k)) × the mean over all C(N,k) relations of each scale k < N.
    #[default]
    Expectation,
    /// The original: sum min(3, C(N,k)) relations drawn at random on every forward pass.
    Random,
}

/// Everything needed to build and feed a model; stored in the weights file's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub arch: Arch,
    pub consensus: Consensus,
    pub num_segments: usize,
    /// Width of each frame's feature after `new_fc` (the original's `--img_feature_dim`).
    pub img_feature_dim: usize,
    pub num_classes: usize,
    /// Class names, index order.
    pub labels: Vec<String>,
    /// Side of the square crop fed to the backbone.
    pub input_size: usize,
    /// Shorter side the frame is resized to before the centre crop (evaluation).
    pub resize_size: usize,
    /// Which part of each frame the network sees (files without it: the centre crop).
    #[serde(default)]
    pub framing: Framing,
    pub input: InputNorm,
    /// Hidden size of the recurrent heads (the original's `--rnn_hidden_size`; BLSTM splits it
    /// in half per direction).
    #[serde(default = "default_rnn_hidden")]
    pub rnn_hidden: usize,
    #[serde(default = "default_rnn_layers")]
    pub rnn_layers: usize,
    /// Dropout before new_fc during training (the original's `--dropout`).
    #[serde(default = "default_dropout")]
    pub dropout: f32,
    #[serde(default)]
    pub trn_mode: TrnMode,
    /// Frame rate of the clips the model was trained on (Jester: 12 fps); the live app
    /// resamples the camera to it.
    #[serde(default = "default_fps")]
    pub clip_fps: f32,
    /// What a segment feeds the backbone: one frame, or frame differences.
    #[serde(default)]
    pub modality: Modality,
    /// Frame differences per segment with [`Modality::RgbDiff`] (TSN's `new_length`); unused
    /// for RGB.
    #[serde(default = "default_new_length")]
    pub new_length: usize,
    /// Free-form provenance: where the weights came from, training run, dataset, accuracy.
    #[serde(default)]
    pub provenance: std::collections::BTreeMap<String, String>,
    /// The hand-tracking models whose output a landmark backbone was trained on, by sha256
    /// (empty for image backbones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hand_models: Vec<HandModelRef>,
    /// How many networks of this configuration the file holds (an ensemble, `gesture-app
    /// ensemble`): their tensors are `members.{k}.*` and the model's prediction is the mean of
    /// their probabilities. 1 for a single network, whose tensors have no prefix.
    #[serde(default = "default_members", skip_serializing_if = "is_one")]
    pub members: usize,
}

/// A hand-tracking model a landmark model needs, named by its file's sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandModelRef {
    /// What the model does: `palm_detection` or `hand_landmark`.
    pub role: String,
    /// The file's name in the package it ships in.
    pub file: String,
    /// Where the file comes from.
    pub source: String,
    pub sha256: String,
}

/// The tracker models landmark models are made for: MediaPipe 0.10.21's full palm detector and
/// hand landmarker (the PyPI wheel `mediapipe==0.10.21`, `mediapipe/modules/...`; sha256 of the
/// files computed from that wheel).
pub fn mediapipe_hand_models() -> Vec<HandModelRef> {
    let r = |role: &str, file: &str, sha: &str| HandModelRef {
        role: role.into(),
        file: file.into(),
        source: "mediapipe==0.10.21 (PyPI), Apache-2.0".into(),
        sha256: sha.into(),
    };
    vec![
        r(
            "palm_detection",
            "mediapipe/modules/palm_detection/palm_detection_full.tflite",
            "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
        ),
        r(
            "hand_landmark",
            "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
            "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
        ),
    ]
}

fn default_rnn_hidden() -> usize {
    256
}
fn default_rnn_layers() -> usize {
    1
}
fn default_dropout() -> f32 {
    0.3
}
fn default_fps() -> f32 {
    12.0
}
fn default_new_length() -> usize {
    DEFAULT_NEW_LENGTH
}
fn default_members() -> usize {
    1
}
fn is_one(n: &usize) -> bool {
    *n == 1
}

/// The most networks an ensemble may hold.
pub const MAX_MEMBERS: usize = 16;

/// TSN's frame differences per segment for RGBDiff.
pub const DEFAULT_NEW_LENGTH: usize = 5;
/// The most frame differences a segment may stack.
pub const MAX_NEW_LENGTH: usize = 16;

impl ModelConfig {
    /// A config with the original's defaults for the given backbone, head and label list.
    pub fn new(arch: Arch, consensus: Consensus, num_segments: usize, labels: Vec<String>) -> Self {
        ModelConfig {
            arch,
            consensus,
            num_segments,
            img_feature_dim: 256,
            num_classes: labels.len(),
            labels,
            input_size: 224,
            resize_size: 256,
            framing: Framing::CenterCrop,
            input: arch.default_input(),
            rnn_hidden: default_rnn_hidden(),
            rnn_layers: default_rnn_layers(),
            dropout: default_dropout(),
            trn_mode: TrnMode::default(),
            clip_fps: default_fps(),
            modality: Modality::Rgb,
            new_length: default_new_length(),
            provenance: Default::default(),
            hand_models: if arch.reads_landmarks() {
                mediapipe_hand_models()
            } else {
                Vec::new()
            },
            members: 1,
        }
    }

    /// Consecutive frames each segment reads ([`Modality::frames_per_segment`]).
    pub fn frames_per_segment(&self) -> usize {
        self.modality.frames_per_segment(self.new_length)
    }

    /// Channels of a segment's input to the backbone ([`Modality::input_channels`]).
    pub fn input_channels(&self) -> usize {
        self.modality.input_channels(self.new_length)
    }

    /// Width of what `new_fc` emits per frame: `img_feature_dim`, or the class count for `avg`.
    pub fn frame_feature_dim(&self) -> usize {
        match self.consensus {
            Consensus::Avg => self.num_classes,
            _ => self.img_feature_dim,
        }
    }

    /// Checks the combination is one the heads are defined for.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.num_segments == 0 || self.num_segments > 32 {
            return Err(ConfigError::Segments(self.num_segments));
        }
        if self.num_segments < self.consensus.min_segments() {
            return Err(ConfigError::TooFewSegments {
                consensus: self.consensus,
                min: self.consensus.min_segments(),
                got: self.num_segments,
            });
        }
        if self.num_classes == 0 {
            return Err(ConfigError::NoClasses);
        }
        if self.labels.len() != self.num_classes {
            return Err(ConfigError::LabelCount {
                labels: self.labels.len(),
                classes: self.num_classes,
            });
        }
        if self.img_feature_dim == 0 {
            return Err(ConfigError::NoFeatures);
        }
        if self.consensus == Consensus::Blstm && !self.rnn_hidden.is_multiple_of(2) {
            return Err(ConfigError::OddBlstmHidden(self.rnn_hidden));
        }
        if self.input_size < 32 || self.resize_size < self.input_size {
            return Err(ConfigError::InputSize {
                input: self.input_size,
                resize: self.resize_size,
            });
        }
        if self.modality == Modality::RgbDiff && !(1..=MAX_NEW_LENGTH).contains(&self.new_length) {
            return Err(ConfigError::NewLength(self.new_length));
        }
        if self.arch.reads_landmarks() && self.modality != Modality::Rgb {
            return Err(ConfigError::LandmarkModality);
        }
        if !(1..=MAX_MEMBERS).contains(&self.members) {
            return Err(ConfigError::Members(self.members));
        }
        Ok(())
    }
}

/// A model configuration the heads are not defined for ([`ModelConfig::validate`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("num_segments must be in 1..=32, got {0}")]
    Segments(usize),
    #[error("{consensus} needs at least {min} segments, got {got}")]
    TooFewSegments {
        consensus: Consensus,
        min: usize,
        got: usize,
    },
    #[error("the hand_landmarks backbone reads one tracked frame per segment (modality RGB)")]
    LandmarkModality,
    #[error("num_classes must be at least 1")]
    NoClasses,
    #[error("{labels} labels given for {classes} classes")]
    LabelCount { labels: usize, classes: usize },
    #[error("img_feature_dim must be at least 1")]
    NoFeatures,
    #[error("BLSTM needs an even rnn_hidden (split per direction), got {0}")]
    OddBlstmHidden(usize),
    #[error(
        "input_size {input} / resize_size {resize} are not usable \
         (need 32 <= input_size <= resize_size)"
    )]
    InputSize { input: usize, resize: usize },
    #[error("new_length (frame differences per segment) must be in 1..={MAX_NEW_LENGTH}, got {0}")]
    NewLength(usize),
    #[error("an ensemble holds 1..={MAX_MEMBERS} networks, got members = {0}")]
    Members(usize),
}

impl From<ConfigError> for crate::Error {
    fn from(e: ConfigError) -> Self {
        crate::Error::Config(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Arch::ALL {
            assert_eq!(a.name().parse::<Arch>().unwrap(), a);
        }
        for c in Consensus::ALL {
            assert_eq!(c.name().parse::<Consensus>().unwrap(), c);
        }
        assert_eq!("FCN2D".parse::<Consensus>().unwrap(), Consensus::Fcn);
        assert!("resnet".parse::<Arch>().is_err());
    }

    #[test]
    fn config_json_round_trip_and_aliases() {
        let cfg = ModelConfig::new(
            Arch::BnInception,
            Consensus::TrnMultiscale,
            8,
            vec!["a".into(), "b".into()],
        );
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains("\"BNInception\"") && json.contains("\"TRNmultiscale\""));
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
        let fcn: Consensus = serde_json::from_str("\"FCN2D\"").unwrap();
        assert_eq!(fcn, Consensus::Fcn);
    }

    #[test]
    fn validate_rejects_bad_combinations() {
        let labels = vec!["x".to_string(); 3];
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::TrnMultiscale, 1, labels);
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("at least 2"));
        cfg.num_segments = 33;
        assert!(cfg.validate().is_err());
        cfg.num_segments = 8;
        assert!(cfg.validate().is_ok());
        cfg.num_classes = 4;
        assert!(cfg.validate().is_err());
        cfg.num_classes = 3;
        cfg.modality = Modality::RgbDiff;
        cfg.new_length = 0;
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("new_length"));
        cfg.new_length = 4;
        assert!(cfg.validate().is_ok());
        assert_eq!((cfg.frames_per_segment(), cfg.input_channels()), (5, 12));
    }

    #[test]
    fn configs_without_a_modality_read_as_rgb() {
        let cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Mlp, 4, vec!["a".into()]);
        let mut json: serde_json::Value = serde_json::to_value(&cfg).unwrap();
        json.as_object_mut().unwrap().remove("modality");
        json.as_object_mut().unwrap().remove("new_length");
        let back: ModelConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.modality, Modality::Rgb);
        assert_eq!((back.frames_per_segment(), back.input_channels()), (1, 3));
        assert_eq!("rgbdiff".parse::<Modality>().unwrap(), Modality::RgbDiff);
        assert!("flow".parse::<Modality>().is_err());
    }

    #[test]
    fn configs_without_a_framing_read_as_the_centre_crop() {
        let mut cfg = ModelConfig::new(Arch::SqueezeNet11, Consensus::Mlp, 4, vec!["a".into()]);
        assert_eq!(cfg.framing, Framing::CenterCrop);
        cfg.framing = Framing::WholeFrame;
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(json["framing"], "whole_frame");
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("framing");
        let back: ModelConfig = serde_json::from_value(old).unwrap();
        assert_eq!(back.framing, Framing::CenterCrop);
        let same: ModelConfig = serde_json::from_value(json).unwrap();
        assert_eq!(same.framing, Framing::WholeFrame);
        assert_eq!(
            "whole-frame".parse::<Framing>().unwrap(),
            Framing::WholeFrame
        );
        assert_eq!("centre".parse::<Framing>().unwrap(), Framing::CenterCrop);
        assert!("letterbox".parse::<Framing>().is_err());
    }
}
