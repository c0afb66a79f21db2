//! `data check`: audits a data set before days of training are spent on it — missing clip
//! folders, frame counts that disagree with the index file, gaps in the numbering and frames
//! that do not decode.

use super::Dataset;
use crate::preprocess;
use rayon::prelude::*;
use serde::Serialize;

/// What is wrong with a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    MissingFolder,
    /// The folder has no usable, gap-free numbered frames.
    BadFrames,
    FrameCount,
    Unreadable,
}

/// One problem, located by the index file's line.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub line: usize,
    pub id: String,
    pub kind: ProblemKind,
    pub detail: String,
}

/// The outcome of a check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub clips: usize,
    pub clips_ok: usize,
    pub frames_decoded: usize,
    pub class_counts: Vec<usize>,
    pub problems: Vec<Problem>,
}

fn check_clip(ds: &Dataset, idx: usize, decode: bool) -> (usize, Vec<Problem>) {
    let e = &ds.list.entries[idx];
    let dir = ds.clip_dir(e);
    let problem = |kind, detail: String| Problem {
        line: e.line,
        id: e.id.clone(),
        kind,
        detail,
    };
    if !dir.is_dir() {
        let p = problem(
            ProblemKind::MissingFolder,
            format!("{} not found", dir.display()),
        );
        return (0, vec![p]);
    }
    let files = match preprocess::list_clip_frames(&dir) {
        Ok(f) => f,
        Err(err) => return (0, vec![problem(ProblemKind::BadFrames, err.to_string())]),
    };
    let mut problems = Vec::new();
    if let Some(n) = e.num_frames {
        if n != files.len() {
            let detail = format!("index says {n} frames, folder has {}", files.len());
            problems.push(problem(ProblemKind::FrameCount, detail));
        }
    }
    let expected = ds.naming.file_name(0);
    if files[0].file_name().and_then(|n| n.to_str()) != Some(expected.as_str()) {
        let detail = format!(
            "frames are named like {} but the loader reads {expected}",
            files[0].display()
        );
        problems.push(problem(ProblemKind::BadFrames, detail));
    }
    let mut decoded = 0;
    if decode {
        for f in &files {
            match preprocess::load_frame(f) {
                Ok(_) => decoded += 1,
                Err(err) => problems.push(problem(ProblemKind::Unreadable, err.to_string())),
            }
        }
    }
    (decoded, problems)
}

/// Checks every clip of `ds` (in parallel); with `decode`, every frame is decoded too.
/// `progress` is called with the number of clips done so far.
pub fn check_dataset(ds: &Dataset, decode: bool, progress: &(dyn Fn(usize) + Sync)) -> CheckReport {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(usize, Vec<Problem>)> = (0..ds.len())
        .into_par_iter()
        .map(|i| {
            let r = check_clip(ds, i, decode);
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if d.is_multiple_of(256) {
                progress(d);
            }
            r
        })
        .collect();
    let frames_decoded = results.iter().map(|r| r.0).sum();
    let clips_ok = results.iter().filter(|r| r.1.is_empty()).count();
    let problems = results.into_iter().flat_map(|r| r.1).collect();
    CheckReport {
        clips: ds.len(),
        clips_ok,
        frames_decoded,
        class_counts: ds.list.class_counts(ds.labels.len()),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::data::DataSpec;
    use std::path::Path;

    #[test]
    fn finds_each_kind_of_problem() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("category.txt"), "a\nb\n").unwrap();
        std::fs::write(
            root.join("list.txt"),
            "good 2 0\nmissing 2 1\ncount 3 0\nbroken 2 1\ngap 2 0\n",
        )
        .unwrap();
        let frame = image::RgbImage::new(4, 4);
        for id in ["good", "count", "broken", "gap"] {
            std::fs::create_dir_all(root.join("rgb").join(id)).unwrap();
        }
        for (id, f) in [
            ("good", 1),
            ("good", 2),
            ("count", 1),
            ("count", 2),
            ("broken", 1),
        ] {
            frame
                .save(root.join(format!("rgb/{id}/{f:05}.jpg")))
                .unwrap();
        }
        std::fs::write(root.join("rgb/broken/00002.jpg"), b"\xff\xd8 truncated").unwrap();
        frame.save(root.join("rgb/gap/00001.jpg")).unwrap();
        frame.save(root.join("rgb/gap/00003.jpg")).unwrap();

        let ds = DataSpec::new(root).open(Path::new("list.txt")).unwrap();
        let report = check_dataset(&ds, true, &|_| {});
        assert_eq!(report.clips, 5);
        assert_eq!(report.clips_ok, 1);
        assert_eq!(report.class_counts, vec![3, 2]);
        let kinds: Vec<(&str, ProblemKind, usize)> = report
            .problems
            .iter()
            .map(|p| (p.id.as_str(), p.kind, p.line))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("missing", ProblemKind::MissingFolder, 2),
                ("count", ProblemKind::FrameCount, 3),
                ("broken", ProblemKind::Unreadable, 4),
                ("gap", ProblemKind::BadFrames, 5),
            ]
        );
        let quick = check_dataset(&ds, false, &|_| {});
        assert_eq!(quick.frames_decoded, 0);
        assert_eq!(quick.problems.len(), 3);
    }
}
