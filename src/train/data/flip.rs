//! Horizontal flipping with label mirroring. The original flips every training clip with p = 0.5
//! and keeps its label, which turns a "Swiping Left" into a mislabelled "Swiping Right"
//! (docs/ARCHITECTURE.md §5). Here a flip maps each class to its mirror class, and classes whose
//! mirror is unknown are never flipped. `naive` keeps the original's behaviour for comparison.

use crate::{Error, Result};
use std::path::Path;

/// What a horizontal flip does to each class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlipPolicy {
    /// No flipping.
    Off,
    /// Per class: `Some(mirror)` (the class itself when it is left/right symmetric) or `None`
    /// when the class must never be flipped.
    Mirror(Vec<Option<usize>>),
    /// The original: flip any clip, keep its label.
    Naive,
}

/// Jester's mirror pairs (the default for its label list). Rolling forward/backward, pushing,
/// pulling and zooming are not left/right mirrors of each other and stay as they are.
pub const JESTER_MIRROR_PAIRS: [(&str, &str); 3] = [
    ("Swiping Left", "Swiping Right"),
    ("Sliding Two Fingers Left", "Sliding Two Fingers Right"),
    ("Turning Hand Clockwise", "Turning Hand Counterclockwise"),
];

/// Words whose meaning a horizontal flip reverses.
const MIRROR_WORDS: [(&str, &str); 3] = [
    ("left", "right"),
    ("clockwise", "counterclockwise"),
    ("clockwise", "anticlockwise"),
];

fn swap_word(w: &str) -> Option<&'static str> {
    let lw = w.to_lowercase();
    MIRROR_WORDS.iter().find_map(|&(a, b)| {
        if lw == a {
            Some(b)
        } else if lw == b {
            Some(a)
        } else {
            None
        }
    })
}

/// Derives the mirror map from the label names: a label with a direction word (left/right,
/// clockwise/counterclockwise) maps to the label with the words swapped, or is never flipped if
/// that label does not exist; every other label maps to itself. On Jester this gives exactly
/// [`JESTER_MIRROR_PAIRS`].
pub fn auto_mirror_map(labels: &[String]) -> Vec<Option<usize>> {
    let lower: Vec<String> = labels.iter().map(|l| l.to_lowercase()).collect();
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let words: Vec<&str> = label.split_whitespace().collect();
            if !words.iter().any(|w| swap_word(w).is_some()) {
                return Some(i);
            }
            // Try swapping every direction word to each of its mirror words.
            let swapped: Vec<String> = words
                .iter()
                .map(|w| swap_word(w).map_or_else(|| w.to_lowercase(), str::to_string))
                .collect();
            let target = swapped.join(" ");
            lower.iter().position(|l| *l == target)
        })
        .collect()
}

/// Reads a mirror map from pairs: one pair a line, `Label A;Label B` (or tab-separated);
/// `#` starts a comment. Classes not named are treated as symmetric.
pub fn read_mirror_pairs(path: &Path, labels: &[String]) -> Result<Vec<Option<usize>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut map: Vec<Option<usize>> = (0..labels.len()).map(Some).collect();
    let find = |name: &str, line: usize| {
        labels
            .iter()
            .position(|l| l.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| Error::Parse {
                path: path.to_path_buf(),
                line,
                reason: format!("unknown label '{}'", name.trim()),
            })
    };
    for (i, raw) in text.lines().enumerate() {
        let s = raw.split('#').next().unwrap_or("").trim();
        if s.is_empty() {
            continue;
        }
        let Some((a, b)) = s.split_once(';').or_else(|| s.split_once('\t')) else {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                reason: "expected 'Label A;Label B'".into(),
            });
        };
        let (a, b) = (find(a, i + 1)?, find(b, i + 1)?);
        map[a] = Some(b);
        map[b] = Some(a);
    }
    Ok(map)
}

impl FlipPolicy {
    /// Parses `--flip-map`: `auto` (mirror map from the label names), `off`, `naive` (the
    /// original), or a file of mirror pairs.
    pub fn from_spec(spec: &str, labels: &[String]) -> Result<Self> {
        match spec {
            "auto" => Ok(FlipPolicy::Mirror(auto_mirror_map(labels))),
            "off" | "none" => Ok(FlipPolicy::Off),
            "naive" | "original" => Ok(FlipPolicy::Naive),
            path => Ok(FlipPolicy::Mirror(read_mirror_pairs(
                Path::new(path),
                labels,
            )?)),
        }
    }

    /// The label after a flip, or `None` when this clip must not be flipped.
    pub fn flipped_label(&self, label: usize) -> Option<usize> {
        match self {
            FlipPolicy::Off => None,
            FlipPolicy::Naive => Some(label),
            FlipPolicy::Mirror(map) => map.get(label).copied().flatten(),
        }
    }

    /// The swapped pairs, by name, for the run log.
    pub fn describe(&self, labels: &[String]) -> String {
        match self {
            FlipPolicy::Off => "off".into(),
            FlipPolicy::Naive => "naive (original: flips keep their label)".into(),
            FlipPolicy::Mirror(map) => {
                let pairs: Vec<String> = map
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| match m {
                        Some(j) if *j > i => Some(format!("{} <-> {}", labels[i], labels[*j])),
                        _ => None,
                    })
                    .collect();
                let never = map.iter().filter(|m| m.is_none()).count();
                format!(
                    "mirror [{}]{}",
                    pairs.join(", "),
                    if never > 0 {
                        format!(", {never} class(es) never flipped")
                    } else {
                        String::new()
                    }
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jester_labels() -> Vec<String> {
        let p = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/jester/category.txt"
        ));
        match std::fs::read_to_string(p) {
            Ok(t) => t.lines().map(str::to_string).collect(),
            // The names that matter, in Jester's order, when the shared data is absent.
            Err(_) => [
                "No gesture",
                "Rolling Hand Backward",
                "Rolling Hand Forward",
                "Sliding Two Fingers Left",
                "Sliding Two Fingers Right",
                "Swiping Left",
                "Swiping Right",
                "Turning Hand Clockwise",
                "Turning Hand Counterclockwise",
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    #[test]
    fn auto_map_on_jester_is_exactly_the_three_pairs() {
        let labels = jester_labels();
        let map = auto_mirror_map(&labels);
        let idx = |n: &str| labels.iter().position(|l| l == n).unwrap();
        let mut swapped = 0;
        for (i, m) in map.iter().enumerate() {
            let j = m.expect("every Jester class has a mirror");
            if j != i {
                swapped += 1;
                assert_eq!(map[j], Some(i));
            }
        }
        assert_eq!(swapped, 6);
        for (a, b) in JESTER_MIRROR_PAIRS {
            assert_eq!(map[idx(a)], Some(idx(b)));
        }
        let roll = idx("Rolling Hand Forward");
        assert_eq!(map[roll], Some(roll));
    }

    #[test]
    fn unpaired_direction_classes_are_never_flipped() {
        let labels: Vec<String> = [
            "Pushing something from left to right",
            "Waving",
            "Turn left",
        ]
        .map(String::from)
        .to_vec();
        let map = auto_mirror_map(&labels);
        assert_eq!(map, vec![None, Some(1), None]);
        let labels: Vec<String> = [
            "Pushing something from left to right",
            "Pushing something from right to left",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(auto_mirror_map(&labels), vec![Some(1), Some(0)]);
    }

    #[test]
    fn pair_file_and_policies() {
        let labels: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pairs.txt");
        std::fs::write(&f, "# mirrors\na;B\n").unwrap();
        let p = FlipPolicy::from_spec(f.to_str().unwrap(), &labels).unwrap();
        assert_eq!(p.flipped_label(0), Some(1));
        assert_eq!(p.flipped_label(2), Some(2));
        assert!(p.describe(&labels).contains("A <-> B"));
        std::fs::write(&f, "A;Z\n").unwrap();
        let e = FlipPolicy::from_spec(f.to_str().unwrap(), &labels).unwrap_err();
        assert!(e.to_string().contains(":1: unknown label 'Z'"), "{e}");
        assert_eq!(FlipPolicy::Off.flipped_label(0), None);
        assert_eq!(FlipPolicy::Naive.flipped_label(0), Some(0));
    }
}
