//! Index and label files of the data sets (docs/ARCHITECTURE.md §7): TRN-style `category.txt` +
//! `*_videofolder.txt` (`ID NUM_FRAMES LABEL_INDEX`, Jester and Something-Something v2 after
//! frame extraction), the raw Jester release CSVs (`jester-v1-labels.csv`,
//! `jester-v1-{train,validation}.csv` with `ID;Label`, `jester-v1-test.csv` with `ID` alone) and
//! Something-Something v2's JSON label files as they ship (`something-something-v2-labels.json`,
//! an object of the 174 templates to their indices; `-train.json`, `-validation.json`, lists of
//! `{"id", "label", "template", "placeholders"}`, `-test.json` with `id` alone), read as the
//! original's `process_sth_v2_dataset.py` reads them: the class is the `template` with its
//! brackets removed, the clip folder is the `id`.
//! Every malformed line is reported as `FILE:LINE: reason`.

use crate::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One clip of an index file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipEntry {
    /// The clip's folder name under the frames directory.
    pub id: String,
    /// Frame count from the index file; `None` for CSV lists (counted from the folder on use).
    pub num_frames: Option<usize>,
    /// Class index; `None` for unlabelled (test) lists.
    pub label: Option<usize>,
    /// 1-based line in the index file, for messages.
    pub line: usize,
}

/// The parsed contents of one index file.
#[derive(Debug, Clone)]
pub struct ClipList {
    pub path: PathBuf,
    pub entries: Vec<ClipEntry>,
}

impl ClipList {
    /// True when every entry carries a label (needed to train or evaluate).
    pub fn is_labelled(&self) -> bool {
        self.entries.iter().all(|e| e.label.is_some())
    }

    /// Clips per class (unlabelled entries are not counted).
    pub fn class_counts(&self, num_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; num_classes];
        for e in &self.entries {
            if let Some(l) = e.label.filter(|&l| l < num_classes) {
                counts[l] += 1;
            }
        }
        counts
    }
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Error::Parse {
            path: path.to_path_buf(),
            line,
            reason: "not valid UTF-8 text".into(),
        }
    })
}

/// Reads a label list: `category.txt` or `jester-v1-labels.csv`, one label a line, in class
/// index order. Blank lines are skipped; duplicates are an error.
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    parse_labels(path, &read_text(path)?)
}

/// [`read_labels`] on a file's text; `path` only names it in errors.
pub fn parse_labels(path: &Path, text: &str) -> Result<Vec<String>> {
    if text.trim_start().starts_with('{') {
        return parse_ssv2_labels(path, text);
    }
    let mut labels = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let label = raw.trim();
        if label.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(label.to_string(), i + 1) {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                reason: format!("label '{label}' already given on line {first}"),
            });
        }
        labels.push(label.to_string());
    }
    if labels.is_empty() {
        return Err(Error::bad_file(path, "no labels in the file"));
    }
    Ok(labels)
}

/// Reads an index file against `labels`. The format is chosen per file: lines with `;` are the
/// raw CSV release (`ID;Label` or `ID`), others the TRN format (`ID NUM_FRAMES LABEL_INDEX`,
/// or `ID NUM_FRAMES` for an unlabelled list).
pub fn read_list(path: &Path, labels: &[String]) -> Result<ClipList> {
    parse_list(path, &read_text(path)?, labels)
}

/// [`read_list`] on a file's text; `path` only names it in errors.
pub fn parse_list(path: &Path, text: &str, labels: &[String]) -> Result<ClipList> {
    let by_name: HashMap<String, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.to_lowercase(), i))
        .collect();
    if text.trim_start().starts_with('[') {
        return parse_ssv2_list(path, text, &by_name, labels.len());
    }
    let csv = text.lines().any(|l| l.contains(';'));
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let s = raw.trim();
        if s.is_empty() {
            continue;
        }
        let err = |reason: String| Error::Parse {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let entry = if csv {
            parse_csv_line(s, &by_name, labels.len()).map_err(err)?
        } else {
            parse_trn_line(s, labels.len()).map_err(err)?
        };
        entries.push(ClipEntry { line, ..entry });
    }
    if entries.is_empty() {
        return Err(Error::bad_file(path, "no clips in the index file"));
    }
    Ok(ClipList {
        path: path.to_path_buf(),
        entries,
    })
}

/// `something-something-v2-labels.json`: `{"template": "index", ...}` (indices as strings, as
/// shipped, or numbers); labels in index order. The indices must be 0..n, each once.
fn parse_ssv2_labels(path: &Path, text: &str) -> Result<Vec<String>> {
    let bad = |reason: String| Error::bad_file(path, &reason);
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("expected a JSON object of labels to indices".into()))?;
    let mut slots: Vec<Option<String>> = vec![None; object.len()];
    for (label, index) in object {
        let i = match index {
            serde_json::Value::String(s) => s.trim().parse::<usize>().ok(),
            serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
            _ => None,
        }
        .ok_or_else(|| {
            bad(format!(
                "label '{label}': index {index} is not a whole number"
            ))
        })?;
        let slot = slots.get_mut(i).ok_or_else(|| {
            bad(format!(
                "label '{label}': index {i} out of range for {} labels",
                object.len()
            ))
        })?;
        if let Some(other) = slot.replace(label.trim().to_string()) {
            return Err(bad(format!(
                "index {i} given to both '{other}' and '{label}'"
            )));
        }
    }
    if slots.is_empty() {
        return Err(bad("no labels in the file".into()));
    }
    // n distinct indices below n: every slot is filled.
    Ok(slots.into_iter().flatten().collect())
}

/// `something-something-v2-{train,validation,test}.json`: a list of clips; the class of a
/// clip is its `template` without the brackets around the placeholders (`"Putting [something]
/// on [something]"` → `"Putting something on something"`), as `process_sth_v2_dataset.py`
/// maps it; a list without templates (the test list) is unlabelled. Frame counts are counted
/// from the clip folders on use.
fn parse_ssv2_list(
    path: &Path,
    text: &str,
    by_name: &HashMap<String, usize>,
    num_classes: usize,
) -> Result<ClipList> {
    let bad = |reason: String| Error::bad_file(path, &reason);
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let items = value
        .as_array()
        .ok_or_else(|| bad("expected a JSON list of clips".into()))?;
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let err = |reason: String| bad(format!("clip {} of the list: {reason}", i + 1));
        let id = match item.get("id") {
            Some(serde_json::Value::String(s)) => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => return Err(err("no \"id\"".into())),
        };
        check_id(&id).map_err(err)?;
        let label = match item.get("template") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(t)) => {
                let name = t.replace(['[', ']'], "");
                Some(*by_name.get(&name.trim().to_lowercase()).ok_or_else(|| {
                    err(format!(
                        "unknown template '{name}' (not among the {num_classes} labels of the \
                         label file)"
                    ))
                })?)
            }
            Some(other) => return Err(err(format!("\"template\" is not text: {other}"))),
        };
        entries.push(ClipEntry {
            id,
            num_frames: None,
            label,
            line: i + 1,
        });
    }
    if entries.is_empty() {
        return Err(bad("no clips in the index file".into()));
    }
    Ok(ClipList {
        path: path.to_path_buf(),
        entries,
    })
}

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty clip id".into());
    }
    // The id names a folder under the frames directory: it must not climb out of it.
    if id.contains('/') || id.contains('\\') || id == "." || id == ".." {
        return Err(format!("clip id '{id}' is not a plain folder name"));
    }
    Ok(())
}

fn parse_csv_line(
    s: &str,
    by_name: &HashMap<String, usize>,
    num_classes: usize,
) -> Result<ClipEntry, String> {
    let mut parts = s.splitn(2, ';');
    let id = parts.next().unwrap_or("").trim();
    check_id(id)?;
    let label = match parts.next().map(str::trim) {
        None | Some("") => None,
        Some(name) => Some(*by_name.get(&name.to_lowercase()).ok_or_else(|| {
            format!("unknown label '{name}' (not among the {num_classes} labels of the label file)")
        })?),
    };
    Ok(ClipEntry {
        id: id.to_string(),
        num_frames: None,
        label,
        line: 0,
    })
}

fn parse_trn_line(s: &str, num_classes: usize) -> Result<ClipEntry, String> {
    let fields: Vec<&str> = s.split_whitespace().collect();
    if !(2..=3).contains(&fields.len()) {
        return Err(format!(
            "expected 'ID NUM_FRAMES LABEL_INDEX', got {} field(s): '{s}'",
            fields.len()
        ));
    }
    check_id(fields[0])?;
    let num_frames: usize = fields[1]
        .parse()
        .map_err(|_| format!("frame count '{}' is not a whole number", fields[1]))?;
    if num_frames == 0 {
        return Err("frame count is 0".into());
    }
    let label = match fields.get(2) {
        None => None,
        Some(f) => {
            let l: usize = f
                .parse()
                .map_err(|_| format!("label index '{f}' is not a whole number"))?;
            if l >= num_classes {
                return Err(format!(
                    "label index {l} out of range: the label file has {num_classes} classes"
                ));
            }
            Some(l)
        }
    };
    Ok(ClipEntry {
        id: fields[0].to_string(),
        num_frames: Some(num_frames),
        label,
        line: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    fn labels() -> Vec<String> {
        vec![
            "Swiping Left".into(),
            "Swiping Right".into(),
            "No gesture".into(),
        ]
    }

    #[test]
    fn trn_format_parses_and_reports_line_numbers() {
        let f = file("100 37 1\n\n200 12 0\n300 5\n");
        let list = read_list(f.path(), &labels()).unwrap();
        assert_eq!(list.entries.len(), 3);
        assert_eq!(
            list.entries[1],
            ClipEntry {
                id: "200".into(),
                num_frames: Some(12),
                label: Some(0),
                line: 3
            }
        );
        assert_eq!(list.entries[2].label, None);
        assert!(!list.is_labelled());

        for (content, line, needle) in [
            ("1 2 0\n2 x 1\n", 2, "frame count 'x'"),
            ("1 2 3\n", 1, "out of range"),
            ("1 2 0 7\n", 1, "4 field(s)"),
            ("1 2 0\n1 0 1\n", 2, "frame count is 0"),
            ("../etc 2 0\n", 1, "not a plain folder name"),
        ] {
            let f = file(content);
            let e = read_list(f.path(), &labels()).unwrap_err().to_string();
            let prefix = format!("{}:{line}: ", f.path().display());
            assert!(e.starts_with(&prefix) && e.contains(needle), "{e}");
        }
    }

    #[test]
    fn csv_release_format_maps_label_names() {
        let f = file("34870;Swiping Right\n56557;no gesture\n99;\n");
        let list = read_list(f.path(), &labels()).unwrap();
        let got: Vec<_> = list
            .entries
            .iter()
            .map(|e| (e.id.as_str(), e.label))
            .collect();
        assert_eq!(
            got,
            vec![("34870", Some(1)), ("56557", Some(2)), ("99", None)]
        );
        assert!(list.entries.iter().all(|e| e.num_frames.is_none()));
        let f = file("1;Swiping Left\n2;Thumb Up\n");
        let e = read_list(f.path(), &labels()).unwrap_err().to_string();
        assert!(e.contains(":2: unknown label 'Thumb Up'"), "{e}");
    }

    #[test]
    fn something_something_v2_json_files_as_shipped() {
        let labels = file(
            r#"{"Putting something on a surface": "1", "Approaching something with your camera": "0",
               "Pushing something from left to right": "2"}"#,
        );
        let labels = read_labels(labels.path()).unwrap();
        assert_eq!(labels[0], "Approaching something with your camera");
        assert_eq!(labels[2], "Pushing something from left to right");
        let list = file(
            r#"[{"id":"78687","label":"holding potato next to vicks vaporub bottle",
                 "template":"Pushing [something] from left to right","placeholders":["potato"]},
                {"id":"42326","label":"putting a pen on a table",
                 "template":"Putting [something] on a surface","placeholders":["a pen"]}]"#,
        );
        let list = read_list(list.path(), &labels).unwrap();
        assert_eq!(list.entries[0].id, "78687");
        assert_eq!(list.entries[0].label, Some(2));
        assert_eq!(list.entries[1].label, Some(1));
        assert_eq!(list.entries[1].num_frames, None);
        // The test list has ids only.
        let test = read_list(file(r#"[{"id":"1420"}]"#).path(), &labels).unwrap();
        assert!(!test.is_labelled());
        // Errors name the file and the clip.
        let e = read_list(
            file(r#"[{"id":"1","template":"Juggling [something]"}]"#).path(),
            &labels,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("clip 1") && e.contains("Juggling something"),
            "{e}"
        );
        let e = read_list(file(r#"[{"id":"../x","template":"x"}]"#).path(), &labels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain folder name"), "{e}");
        let e = read_labels(file(r#"{"a": "0", "b": "0"}"#).path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("index 0"), "{e}");
        assert!(read_labels(file(r#"{"a": "5"}"#).path()).is_err());
        assert!(read_labels(file("{").path()).is_err());
    }

    #[test]
    fn labels_reject_duplicates_and_empty_files() {
        let f = file("a\nb\n\nc");
        assert_eq!(read_labels(f.path()).unwrap(), vec!["a", "b", "c"]);
        let f = file("a\nb\na\n");
        let e = read_labels(f.path()).unwrap_err().to_string();
        assert!(e.contains(":3: label 'a' already given on line 1"), "{e}");
        assert!(read_labels(file("\n\n").path()).is_err());
        let e = read_labels(Path::new("/nonexistent/category.txt")).unwrap_err();
        let e = crate::error::report(&e);
        assert!(e.starts_with("/nonexistent/category.txt: "), "{e}");
        assert!(e.contains("No such file"), "{e}");
    }

    #[test]
    fn real_jester_split_files_parse() {
        let root = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/jester"
        ));
        if !root.exists() {
            assert!(
                std::env::var("GESTURE_APP_REQUIRE_SHARED").as_deref() != Ok("1"),
                "GESTURE_APP_REQUIRE_SHARED=1 but {} is missing",
                root.display()
            );
            eprintln!("skipping: {} not found", root.display());
            return;
        }
        let labels = read_labels(&root.join("category.txt")).unwrap();
        assert_eq!(labels.len(), 27);
        assert_eq!(labels[0], "Doing other things");
        // Jester v1's published split sizes. `wc -l` shows 118,561 and 14,786 for the first two:
        // their last line has no newline, and it is a clip all the same.
        for (name, n) in [
            ("train_videofolder.txt", 118_562),
            ("val_videofolder.txt", 14_787),
            ("test_videofolder.txt", 14_743),
        ] {
            let list = read_list(&root.join(name), &labels).unwrap();
            assert_eq!(list.entries.len(), n, "{name}");
            assert!(list.is_labelled());
            assert!(list.class_counts(27).iter().all(|&c| c > 0), "{name}");
        }
        let something = root.join("../something/category.txt");
        if something.exists() {
            assert_eq!(read_labels(&something).unwrap().len(), 174);
        }
    }
}
