//! Parity with the PyTorch reference: every fixture in ../shared/fixtures (checkpoints in the
//! original format, frames, and the logits the reference computed; see its README) converts and
//! classifies to max |Δlogit| ≤ 1e-4 · max|logit|.

use crate::common::{self, max_abs, max_abs_diff};

use candle_core::Device;
use gesture_app::weights::convert::{convert_state_dict, ConvertOptions};
use gesture_app::weights::import::read_checkpoint;
use gesture_app::{Arch, Consensus, GestureModel};

#[test]
fn library_matches_pytorch_on_every_fixture() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let labels = common::jester_labels(&shared);
    for case in common::CASES {
        let exp = common::expected(&shared, case);
        let arch: Arch = exp["arch"].as_str().unwrap().parse().unwrap();
        let consensus: Consensus = exp["consensus"].as_str().unwrap().parse().unwrap();
        let n = exp["num_segments"].as_u64().unwrap() as usize;
        let ckpt =
            read_checkpoint(&shared.join("fixtures").join(format!("{case}.pth.tar"))).unwrap();
        let opts = ConvertOptions {
            arch,
            consensus,
            num_segments: n,
            labels: labels.clone(),
            img_feature_dim: None,
            clip_fps: 12.0,
        };
        let (cfg, tensors, _) = convert_state_dict(ckpt.tensors, &ckpt.meta, &opts).unwrap();
        let model = GestureModel::from_tensors(cfg.clone(), tensors, &Device::Cpu).unwrap();
        let clip = gesture_app::preprocess::load_clip(
            &shared.join("fixtures").join(format!("{case}_frames")),
            &cfg,
            &Device::Cpu,
        )
        .unwrap();

        let feats = model.backbone_features(&clip).unwrap();
        let want_feats: Vec<f32> = exp["intermediates"]["backbone_features"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(common::floats)
            .collect();
        let got_feats = feats.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let scale = max_abs(&want_feats);
        let d = max_abs_diff(&got_feats, &want_feats);
        assert!(
            d <= 1e-4 * scale.max(1.0),
            "{case}: backbone features differ by {d} (scale {scale})"
        );

        let logits = model.forward(&clip.unsqueeze(0).unwrap()).unwrap();
        let got = logits.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let want = common::floats(&exp["logits"]);
        let scale = max_abs(&want);
        let d = max_abs_diff(&got, &want);
        eprintln!("{case}: max |Δlogit| = {d:.3e} (max |logit| {scale:.3})");
        assert!(
            d <= 1e-4 * scale,
            "{case}: logits differ by {d} > 1e-4 × {scale}"
        );
    }
}
