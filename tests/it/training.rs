//! End-to-end training through the built binary: generated clips are learned to ≥ 90 %
//! validation top-1 and `eval` agrees; a run killed with SIGKILL resumes exactly where it stopped;
//! a diverging run stops and keeps its last good checkpoint; unreadable clips are skipped; bad
//! data sets are reported with file:line; the demo recipe learns clips of the second generator;
//! a run at chance says so.

use super::common::{run, run_ok, s};
use gesture_app::train::checkpoint;
use gesture_app::train::metrics::{EpochRecord, MetricsFiles};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gesture-app"))
}

/// The metrics of a run, minus the wall-clock fields.
fn deterministic(records: &[EpochRecord]) -> Vec<EpochRecord> {
    records
        .iter()
        .map(|r| EpochRecord {
            clips_per_s: 0.0,
            epoch_s: 0.0,
            ..r.clone()
        })
        .collect()
}

mod learning {
    use super::*;

    /// A few hundred generated clips of five classes, from scratch, small input: the best
    /// validation top-1 reaches 90 %, and `eval` on the saved weights reproduces it.
    #[test]
    fn generated_clips_are_learned_and_eval_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let (data, run_dir) = (dir.path().join("data"), dir.path().join("run"));
        run_ok(&[
            "synth",
            s(&data),
            "--classes",
            "No gesture,Swiping Left,Swiping Right,Zooming In With Full Hand,Zooming Out With Full Hand",
            "--clips-per-class",
            "40",
            "--size",
            "64",
            "--frames",
            "16",
            "--seed",
            "11",
        ]);
        let start = Instant::now();
        let out = run_ok(&[
            "train",
            "--recipe",
            concat!(env!("CARGO_MANIFEST_DIR"), "/training/demo.toml"),
            "--root",
            s(&data),
            "--run-dir",
            s(&run_dir),
            "--segments",
            "4",
            "--epochs",
            "14",
            "--stop-at-val-top1",
            "95",
            "--no-progress",
        ]);
        let log = String::from_utf8_lossy(&out.stdout);
        eprintln!("{log}\ntrained in {:.0} s", start.elapsed().as_secs_f64());
        let history = MetricsFiles::in_dir(&run_dir).read().unwrap();
        let best = history
            .iter()
            .filter_map(|r| r.val_top1)
            .fold(0.0, f64::max);
        assert!(
            best >= 90.0,
            "best validation top-1 {best:.1}% < 90%\n{log}"
        );

        // The weights file carries its provenance and runs through `eval` (folded BatchNorm,
        // the inference model) to the same accuracy.
        let best_file = run_dir.join("best.safetensors");
        let (cfg, _) = gesture_app::weights::load(&best_file).unwrap();
        assert_eq!(cfg.num_classes, 5);
        assert_eq!(cfg.provenance["source"], "gesture-app train");
        let recorded: f64 = cfg.provenance["val_top1"].parse().unwrap();
        assert!((recorded - best).abs() < 0.01);
        let png = dir.path().join("confusion.png");
        let out = run_ok(&[
            "eval",
            "--weights",
            s(&best_file),
            "--root",
            s(&data),
            "--list",
            "val_videofolder.txt",
            "--json",
            "--confusion-png",
            s(&png),
        ]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let top1 = report["top1"].as_f64().unwrap();
        // One clip in 40 may flip on float rounding between the two forward paths.
        assert!(
            (top1 - best).abs() <= 100.0 / 40.0 + 1e-9,
            "eval {top1} vs training {best}"
        );
        assert_eq!(report["per_class"].as_array().unwrap().len(), 5);
        assert_eq!(report["clips"].as_u64(), Some(40));
        assert!(image::open(&png).is_ok());
        assert!(image::open(run_dir.join("curves.png")).is_ok());
    }
}

mod resume {
    use super::*;

    /// A tiny, fully deterministic set-up: no dropout, the avg head, SGD.
    pub(super) fn tiny_args<'a>(data: &'a str, run_dir: &'a str) -> Vec<&'a str> {
        vec![
            "train",
            "--root",
            data,
            "--run-dir",
            run_dir,
            "--arch",
            "squeezenet1_1",
            "--consensus",
            "avg",
            "--segments",
            "2",
            "--input-size",
            "32",
            "--resize-size",
            "32",
            "--dropout",
            "0",
            "--batch-size",
            "4",
            "--epochs",
            "4",
            "--lr",
            "0.01",
            "--seed",
            "5",
            "--workers",
            "2",
            "--no-progress",
        ]
    }

    pub(super) fn tiny_data(dir: &Path) -> std::path::PathBuf {
        let data = dir.join("data");
        run_ok(&[
            "synth",
            s(&data),
            "--classes",
            "Swiping Left,Swiping Right,No gesture",
            "--clips-per-class",
            "8",
            "--size",
            "32",
            "--frames",
            "6",
            "--seed",
            "2",
        ]);
        data
    }

    /// SIGKILL after the first epoch, then `--resume`: the metrics and the final model are
    /// exactly those of an uninterrupted run, and no half-written file is left.
    #[test]
    fn sigkill_then_resume_matches_an_uninterrupted_run() {
        let dir = tempfile::tempdir().unwrap();
        let data = tiny_data(dir.path());
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        run_ok(&tiny_args(s(&data), s(&a)));

        let mut child = bin()
            .args(tiny_args(s(&data), s(&b)))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let jsonl = b.join("metrics.jsonl");
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let lines = std::fs::read_to_string(&jsonl).map_or(0, |t| t.lines().count());
            if lines >= 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the first epoch never finished");
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before it was killed"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(150));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let killed_at =
            checkpoint::load(&b.join("checkpoint.safetensors"), &candle_core::Device::Cpu)
                .expect("the checkpoint is whole after SIGKILL")
                .state
                .epoch;
        assert!(
            (1..4).contains(&killed_at),
            "killed after epoch {killed_at}"
        );

        let out = run_ok(&["train", "--resume", s(&b), "--no-progress"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("resumed from"));
        let (ma, mb) = (
            MetricsFiles::in_dir(&a).read().unwrap(),
            MetricsFiles::in_dir(&b).read().unwrap(),
        );
        assert_eq!(
            mb.iter().map(|r| r.epoch).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(deterministic(&ma), deterministic(&mb));
        let csv = std::fs::read_to_string(b.join("metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 5, "header + 4 epochs:\n{csv}");

        let dev = candle_core::Device::Cpu;
        let (ca, cb) = (
            checkpoint::load(&a.join("checkpoint.safetensors"), &dev).unwrap(),
            checkpoint::load(&b.join("checkpoint.safetensors"), &dev).unwrap(),
        );
        assert_eq!(ca.state.optimizer_steps, cb.state.optimizer_steps);
        for (name, t) in &ca.model {
            let (x, y): (Vec<f32>, Vec<f32>) = (
                t.flatten_all().unwrap().to_vec1().unwrap(),
                cb.model[name].flatten_all().unwrap().to_vec1().unwrap(),
            );
            assert_eq!(x, y, "{name} differs after resume");
        }
        let stale: Vec<_> = std::fs::read_dir(&b)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(stale.is_empty(), "{stale:?}");
    }

    /// A learning rate that blows the model up stops the run with exit code 3 and a clear
    /// message; the checkpoint of the last good epoch stays. An unreadable frame is skipped.
    #[test]
    fn divergence_stops_and_keeps_the_last_good_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let data = tiny_data(dir.path());
        // Clip 1 (a training clip) cannot be read at all.
        for f in 1..=6 {
            std::fs::write(
                data.join(format!("rgb/1/{f:05}.jpg")),
                b"\xff\xd8 not a jpeg",
            )
            .unwrap();
        }
        let run_dir = dir.path().join("run");
        let mut args = tiny_args(s(&data), s(&run_dir));
        let epochs = args.iter().position(|a| *a == "--epochs").unwrap();
        args[epochs + 1] = "1";
        let out = run_ok(&args);
        assert!(String::from_utf8_lossy(&out.stdout).contains("warning: skipped clip 1"));
        let first = MetricsFiles::in_dir(&run_dir).read().unwrap();
        assert!(first[0].skipped_clips >= 1);

        let out = run(&[
            "train",
            "--resume",
            s(&run_dir),
            "--epochs",
            "3",
            "--lr",
            "1e12",
            "--no-progress",
        ]);
        assert_eq!(out.status.code(), Some(3));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("diverged") && err.contains("last good checkpoint (epoch 1)"),
            "{err}"
        );
        assert!(!err.contains("panicked"));
        let ckpt = checkpoint::load(
            &run_dir.join("checkpoint.safetensors"),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        assert_eq!(ckpt.state.epoch, 1);
        assert_eq!(MetricsFiles::in_dir(&run_dir).read().unwrap(), first);
    }
}

mod second_generator {
    use super::*;

    /// The demo recipe learns clips of the second generator (`checkgen`), which no recipe was
    /// tuned on: the training loss falls well below ln C and training top-1 rises well above
    /// chance. The recipe is training/demo.toml itself, read by the recipe loader (`--recipe`);
    /// only the number of epochs is cut (the learning rate then stays at its first value), and
    /// the data kept small (3 classes × 24 training and 6 validation clips at half Jester's
    /// frame size), to keep the test cheap.
    ///
    /// It checks that learning happens at all, on the training clips: 24 clips a class are too
    /// few to generalise from, and 50 epochs leave it short of its best. Generalisation is the
    /// benchmark's job: 9 classes × 40/10 at 176×100 to ≥ 90 % validation top-1,
    /// docs/bench/checkgen_train.sh. With the RGB recipe this run stayed at chance (train loss
    /// 1.06–1.15 ≈ ln 3, predictions constant); with frame differences (RGBDiff) a release run
    /// of 40 epochs reached a training loss of 0.54–0.64 and training top-1 64–74 % over its
    /// last three epochs.
    #[test]
    fn demo_recipe_learns_the_second_generator() {
        let dir = tempfile::tempdir().unwrap();
        let (data, run_dir) = (dir.path().join("data"), dir.path().join("run"));
        run_ok(&[
            "checkgen",
            s(&data),
            "--classes",
            "Swiping Left,Swiping Up,Zooming In With Full Hand",
            "--clips-per-class",
            "30",
            "--width",
            "88",
            "--height",
            "50",
            "--seed",
            "3",
        ]);
        let start = Instant::now();
        let out = run_ok(&[
            "train",
            "--recipe",
            concat!(env!("CARGO_MANIFEST_DIR"), "/training/demo.toml"),
            "--root",
            s(&data),
            "--run-dir",
            s(&run_dir),
            "--epochs",
            "50",
            "--no-progress",
        ]);
        let log = String::from_utf8_lossy(&out.stdout);
        eprintln!("{log}\ntrained in {:.0} s", start.elapsed().as_secs_f64());
        let history = MetricsFiles::in_dir(&run_dir).read().unwrap();
        let ln_c = 3f64.ln();
        // The best of the last three epochs: one noisy epoch does not fail a run that learnt.
        let tail = &history[history.len() - 3..];
        let loss = tail
            .iter()
            .map(|r| r.train_loss)
            .fold(f64::INFINITY, f64::min);
        let top1 = tail.iter().map(|r| r.train_top1).fold(0.0, f64::max);
        assert!(
            loss < 0.75 * ln_c,
            "training loss {loss:.3} is not well below ln 3 = {ln_c:.3}\n{log}"
        );
        assert!(
            top1 >= 60.0,
            "training top-1 {top1:.1}% is not well above chance (33.3%)\n{log}"
        );
        assert_eq!(history.last().unwrap().diagnosis, None, "{log}");
    }
}

mod collapse {
    use super::*;

    /// A run that cannot learn (a learning rate of 1e-9 leaves the random network as it is)
    /// says so after three epochs at chance: in the epoch line, with the causes in train.log
    /// and diagnosis.txt, and in metrics.jsonl.
    #[test]
    fn a_run_at_chance_says_no_learning_yet() {
        let dir = tempfile::tempdir().unwrap();
        let data = super::resume::tiny_data(dir.path());
        let run_dir = dir.path().join("run");
        let mut args = super::resume::tiny_args(s(&data), s(&run_dir));
        let lr = args.iter().position(|a| *a == "--lr").unwrap();
        args[lr + 1] = "1e-9";
        let out = run_ok(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let flagged: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("epoch") && l.contains("no learning yet"))
            .collect();
        assert_eq!(flagged.len(), 2, "epochs 3 and 4 are flagged:\n{stdout}");
        assert!(flagged[0].contains("epochs 1-3"), "{stdout}");
        let diagnosis = std::fs::read_to_string(run_dir.join("diagnosis.txt")).unwrap();
        assert!(diagnosis.starts_with("no learning yet: "), "{diagnosis}");
        for cause in [
            "learning rate",
            "dead ReLUs",
            "input too small",
            "too little data",
            "labels wrong",
        ] {
            assert!(diagnosis.contains(cause), "{cause}: {diagnosis}");
        }
        let log = std::fs::read_to_string(run_dir.join("train.log")).unwrap();
        assert!(
            log.contains("dead ReLUs") && log.contains("no learning yet"),
            "{log}"
        );
        let history = MetricsFiles::in_dir(&run_dir).read().unwrap();
        let marked: Vec<bool> = history.iter().map(|r| r.diagnosis.is_some()).collect();
        assert_eq!(marked, [false, false, true, true]);
        assert!(history
            .iter()
            .all(|r| r.train_pred.is_some() && r.val_pred.is_some()));
    }
}

mod data_errors {
    use super::*;

    fn layout(root: &Path, list: &str) {
        std::fs::create_dir_all(root.join("rgb/a")).unwrap();
        std::fs::write(root.join("category.txt"), "x\ny\n").unwrap();
        std::fs::write(root.join("list.txt"), list).unwrap();
        for f in 1..=3 {
            image::RgbImage::new(8, 8)
                .save(root.join(format!("rgb/a/{f:05}.jpg")))
                .unwrap();
        }
    }

    #[test]
    fn data_check_lists_problems_by_line() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path(), "a 3 0\nb 3 1\na 4 1\n");
        let out = run(&[
            "data",
            "check",
            "--root",
            s(dir.path()),
            "--list",
            "list.txt",
        ]);
        assert_eq!(out.status.code(), Some(2));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("list.txt:2: clip b"), "{text}");
        assert!(
            text.contains("list.txt:3: clip a: index says 4 frames, folder has 3"),
            "{text}"
        );
        assert!(text.contains("1 of 3 clips OK"), "{text}");
    }

    #[test]
    fn malformed_index_is_a_one_line_error() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path(), "a 3 0\na three 1\n");
        std::fs::copy(dir.path().join("list.txt"), dir.path().join("val.txt")).unwrap();
        let out = run(&[
            "train",
            "--root",
            s(dir.path()),
            "--train-list",
            "list.txt",
            "--val-list",
            "val.txt",
            "--run-dir",
            s(&dir.path().join("run")),
        ]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("list.txt:2: frame count 'three' is not a whole number"),
            "{err}"
        );
        let out = run(&["train", "--resume", s(&dir.path().join("nowhere"))]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a run folder"));
    }
}
