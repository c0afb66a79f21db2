//! Ensembles: several networks of one configuration trained apart (another seed, other data)
//! joined in one weights file, whose prediction is the mean of their probabilities
//! (docs/ARCHITECTURE.md §8). Networks trained from different seeds err in different places, so
//! their mean is wrong less often and less sure when it is: on continuous sessions this is what
//! keeps a gesture's way back from firing an event (docs/handmodel.md).
//!
//! A member's tensors keep their names under [`member_prefix`]. Fine-tuning and
//! `train --pretrained` read an ensemble's first network ([`first_member`]).

use super::{Contents, WeightsFile};
use crate::model::config::{ModelConfig, MAX_MEMBERS};
use crate::model::{member_prefix, split_members};
use crate::{Error, Result};
use candle_core::Tensor;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What joining fewer than two networks says.
const TOO_FEW: &str = "an ensemble needs at least two models";

/// Joins models into one ensemble: their configuration (each member's provenance kept as
/// `member.{k}.{key}`) and tensors. Ensembles among the inputs contribute all their networks.
/// The models must agree on everything but their provenance and dropout.
pub fn join(inputs: Vec<(PathBuf, WeightsFile)>) -> Result<(ModelConfig, HashMap<String, Tensor>)> {
    let Some((first_path, first)) = inputs.first() else {
        return Err(Error::Config(TOO_FEW.into()));
    };
    let reference = comparable(&first.config);
    let first_path = first_path.clone();
    let mut config = first.config.clone();
    config.provenance = BTreeMap::new();
    let mut tensors = HashMap::new();
    let mut sources = Vec::new();
    let mut k = 0;
    for (path, file) in inputs {
        if file.contents != Contents::Model {
            return Err(Error::bad_file(
                &path,
                "holds backbone weights only, not a model to join",
            ));
        }
        if comparable(&file.config) != reference {
            return Err(Error::bad_file(
                &path,
                format!(
                    "is not the same model as {} (an ensemble's networks share the \
                     architecture, head, segments, labels and input; only provenance and \
                     dropout may differ)",
                    first_path.display()
                ),
            ));
        }
        let members = file.config.members;
        for (j, part) in split(&path, file.tensors, members)?.into_iter().enumerate() {
            if k == MAX_MEMBERS {
                return Err(Error::Config(format!(
                    "an ensemble holds at most {MAX_MEMBERS} networks"
                )));
            }
            let prefix = member_prefix(k);
            tensors.extend(part.into_iter().map(|(n, t)| (format!("{prefix}{n}"), t)));
            for (key, value) in &file.config.provenance {
                let key = match (members, key.strip_prefix(&format!("member.{j}."))) {
                    (1, _) => key.clone(),
                    (_, Some(rest)) => rest.to_string(),
                    // An ensemble's own entries (its member list) are not one network's.
                    (_, None) => continue,
                };
                config
                    .provenance
                    .insert(format!("member.{k}.{key}"), value.clone());
            }
            sources.push(match members {
                1 => path.display().to_string(),
                _ => format!("{} (network {j})", path.display()),
            });
            k += 1;
        }
    }
    if k < 2 {
        return Err(Error::Config(TOO_FEW.into()));
    }
    config.members = k;
    config
        .provenance
        .insert("source".into(), "gesture-app ensemble".into());
    config
        .provenance
        .insert("members".into(), sources.join(", "));
    Ok((config, tensors))
}

/// An ensemble's first network as a weights file of its own (a single network is returned as
/// it is).
pub fn first_member(file: WeightsFile, path: &Path) -> Result<WeightsFile> {
    let members = file.config.members;
    if members == 1 {
        return Ok(file);
    }
    let mut parts = split(path, file.tensors, members)?;
    let mut config = file.config;
    config.members = 1;
    let prefix = "member.0.";
    config.provenance = config
        .provenance
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v)))
        .collect();
    Ok(WeightsFile {
        config,
        contents: file.contents,
        tensors: parts.swap_remove(0),
    })
}

/// The configuration with what may differ between members cleared.
fn comparable(c: &ModelConfig) -> ModelConfig {
    let mut c = c.clone();
    c.provenance = BTreeMap::new();
    c.dropout = 0.0;
    c.members = 1;
    c
}

/// A file's tensors per network ([`split_members`]), a mismatch reported against the file.
fn split(
    path: &Path,
    tensors: HashMap<String, Tensor>,
    members: usize,
) -> Result<Vec<HashMap<String, Tensor>>> {
    split_members(tensors, members).map_err(|e| match e {
        Error::Mismatch { details, .. } => Error::bad_file(path, details),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Arch, Consensus};
    use crate::model::GestureModel;
    use candle_core::{DType, Device};

    /// A small landmark model's tensors, randomly initialised as training would save them, with
    /// `seed` in its provenance (the initialisation itself is not seeded: keep what it returns).
    fn network(seed: u64) -> (ModelConfig, HashMap<String, Tensor>) {
        let mut cfg = ModelConfig::new(
            Arch::HandLandmarks,
            Consensus::Mlp,
            3,
            vec!["a".into(), "b".into(), "c".into()],
        );
        cfg.img_feature_dim = 8;
        cfg.provenance.insert("seed".into(), seed.to_string());
        let tensors = crate::testing::random_tensors(&cfg).unwrap();
        (cfg, tensors)
    }

    fn file(net: &(ModelConfig, HashMap<String, Tensor>)) -> WeightsFile {
        WeightsFile {
            config: net.0.clone(),
            contents: Contents::Model,
            tensors: net.1.clone(),
        }
    }

    fn clips() -> Tensor {
        // [2, N=3, 22, 3]: any numbers; the backbone reads them as landmarks.
        Tensor::arange(0f32, 2. * 3. * 66., &Device::Cpu)
            .unwrap()
            .affine(1.0 / 400.0, 0.1)
            .unwrap()
            .reshape((2, 3, 22, 3))
            .unwrap()
    }

    fn probs(m: &GestureModel, x: &Tensor) -> Vec<Vec<f32>> {
        candle_nn::ops::softmax_last_dim(&m.forward(x).unwrap())
            .unwrap()
            .to_vec2()
            .unwrap()
    }

    #[test]
    fn an_ensemble_predicts_the_mean_of_its_networks_probabilities() {
        let dev = Device::Cpu;
        let nets = [1, 2, 3].map(network);
        let singles: Vec<GestureModel> = nets
            .iter()
            .map(|(c, t)| GestureModel::from_tensors(c.clone(), t.clone(), &dev).unwrap())
            .collect();
        let inputs = nets
            .iter()
            .enumerate()
            .map(|(k, n)| (PathBuf::from(format!("m{k}.safetensors")), file(n)))
            .collect();
        let (config, tensors) = join(inputs).unwrap();
        assert_eq!(config.members, 3);
        assert_eq!(config.provenance["member.1.seed"], "2");
        assert!(tensors.keys().all(|k| k.starts_with("members.")));
        let joined = GestureModel::from_tensors(config, tensors, &dev).unwrap();
        let x = clips();
        let each: Vec<_> = singles.iter().map(|m| probs(m, &x)).collect();
        let got = probs(&joined, &x);
        // The networks disagree, so the test can tell a mean from any one of them.
        assert!((each[0][0][0] - each[1][0][0]).abs() > 1e-4);
        for b in 0..2 {
            for c in 0..3 {
                let want = (each[0][b][c] + each[1][b][c] + each[2][b][c]) / 3.0;
                let diff = (got[b][c] - want).abs();
                assert!(diff <= 1e-5, "[{b}][{c}]: {} vs {want}", got[b][c]);
            }
        }
        // The live path (features cached per frame, then the head) agrees with forward.
        let frames = x.reshape((6, 22, 3)).unwrap();
        let feats = joined.frame_features(&frames).unwrap(); // [6, 3·8]
        assert_eq!(feats.dims(), &[6, joined.frame_feature_dim()]);
        let head = joined.head(&feats.reshape((2, 3, 24)).unwrap()).unwrap();
        let head = candle_nn::ops::softmax_last_dim(&head)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for b in 0..2 {
            for c in 0..3 {
                assert!((head[b][c] - got[b][c]).abs() <= 1e-5);
            }
        }
    }

    #[test]
    fn joining_refuses_other_models_and_keeps_networks_apart() {
        let nets = [1, 2, 3].map(network);
        let mut other = file(&nets[1]);
        other.config.labels[2] = "z".into();
        let e = join(vec![
            ("a.st".into(), file(&nets[0])),
            ("b.st".into(), other),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("b.st") && e.contains("not the same model"),
            "{e}"
        );
        let e = join(vec![("a.st".into(), file(&nets[0]))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least two"), "{e}");

        // An ensemble joined with one more network holds all three; its first network comes
        // back whole, provenance included.
        let (c, t) = join(vec![
            ("a.st".into(), file(&nets[0])),
            ("b.st".into(), file(&nets[1])),
        ])
        .unwrap();
        let pair = WeightsFile {
            config: c,
            contents: Contents::Model,
            tensors: t,
        };
        let first = first_member(
            WeightsFile {
                config: pair.config.clone(),
                contents: Contents::Model,
                tensors: pair.tensors.clone(),
            },
            Path::new("pair.st"),
        )
        .unwrap();
        let (c1, t1) = &nets[0];
        assert_eq!(&first.config, c1);
        assert_eq!(first.tensors.len(), t1.len());
        for (k, v) in t1 {
            let d = (&first.tensors[k] - v).unwrap().abs().unwrap();
            let d = d.flatten_all().unwrap().max(0).unwrap();
            assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0, "{k}");
        }
        let (c3, t3) = join(vec![
            ("pair.st".into(), pair),
            ("c.st".into(), file(&nets[2])),
        ])
        .unwrap();
        assert_eq!(c3.members, 3);
        assert_eq!(c3.provenance["member.1.seed"], "2");
        assert_eq!(c3.provenance["member.2.seed"], "3");
        assert_eq!(t3.len(), 3 * t1.len());

        // A tensor outside the members is named.
        let mut bad = t3.clone();
        bad.insert(
            "stray.weight".into(),
            Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap(),
        );
        let e = GestureModel::from_tensors(c3, bad, &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("stray.weight"), "{e}");
    }
}
