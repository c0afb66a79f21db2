//! README.md and the docs/ pages it sends readers to are a promise: every `gesture-app` command
//! in their ```sh blocks ([`PAGES`], read in that order, so a page may use what an earlier one
//! wrote), and every example in `gesture-app --help` / `gesture-app COMMAND --help`, runs here as
//! written, in order, on real files of the right kind — torch-saved checkpoints and ImageNet
//! state_dicts (tests/fixtures/make_convert_cases.py), clips generated in Jester's layout by
//! `gesture-app synth`, the bundled weights and recording. Paths are substituted ([`PATHS`]);
//! flags are kept as written; long runs get an added flag that cuts them short, or a timeout for a
//! live run ([`RULES`]).
//!
//! Hardware this machine lacks is handled by one rule each, and nothing else is skipped:
//! - a camera: commands that need one run up to the point where it is needed and must fail there
//!   with the documented message (with a camera they run); without a display the live app says
//!   so and runs headless;
//! - a GPU and CUDA toolkit: `cargo` lines (building, testing, `--features cuda`) are left to CI
//!   and to a machine with a GPU, and a docs/ page of shell steps for such a machine is listed in
//!   [`NOT_RUN`] with the hardware it needs;
//! - benchmarks against other implementations (a release build, Python) and commands on footage
//!   the user brings are in [`NOT_RUN`] too, naming the test that runs the same commands where
//!   one does. Every docs/ page with a ```sh block is in [`PAGES`]
//!   or [`NOT_RUN`], and README links to every page of [`PAGES`] (`documented_pages_are_known`).
//!
//! The pages and the help text are read at run time, so an edited or added command is run too,
//! and one this file does not know how to run (a new subcommand, an unknown path) fails the test
//! with what to add. Every command runs in an empty working directory and may write only what its
//! arguments ask for.
//!
//! With `GESTURE_APP_PYTHON` naming a Python that has torch, torchvision and pretrainedmodels,
//! the torch files are made at full size by the script first (the real modules' own weights);
//! otherwise the small committed ones in tests/fixtures/torch are used.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_gesture-app");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The pages whose ```sh commands are run, in this order: README first, then the docs/ pages it
/// links to that hold commands (each must hold at least one).
const PAGES: &[&str] = &[
    "README.md",
    "docs/models.md",
    "docs/live.md",
    "docs/actions.md",
    "docs/training.md",
    "docs/teach.md",
];

/// docs/ pages with ```sh blocks that are not run here, and what they need that this test lacks.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "docs/gpu.md",
        "a CUDA toolkit and an NVIDIA GPU (building with --features cuda)",
    ),
    (
        "docs/video.md",
        "the user's own footage (clip.mp4, street.mp4...); tests/it/video.rs runs the same \
         commands on videos it encodes with ffmpeg",
    ),
    (
        "docs/compare.md",
        "a data set and minutes to hours of training per sweep; tests/it/compare.rs runs a small \
         sweep of the same command",
    ),
    (
        "docs/hands.md",
        "a release build of the example and the TFLite interpreter in Python (a benchmark)",
    ),
];

/// What a path in a documented command stands for when the test runs it.
#[derive(Debug, Clone, Copy)]
enum Stand {
    /// A file made by tests/fixtures/make_convert_cases.py (its name there).
    Torch(&'static str),
    /// A file or folder of the repository.
    Repo(&'static str),
    /// The data set in Jester's layout that `gesture-app synth` generated.
    DataRoot,
    /// One clip folder of that data set.
    Clip,
    /// Kept as written: what an earlier command wrote in the working directory, or a name the
    /// command resolves itself (an index file relative to `--root`).
    AsWritten,
}

/// Every path word the documented commands use. A command with a path not listed here fails the
/// test: add what it stands for.
const PATHS: &[(&str, Stand)] = &[
    // convert: an original Jester checkpoint, torchvision's and pretrainedmodels' ImageNet files.
    ("TRN_jester.pth.tar", Stand::Torch("TRN_jester.pth.tar")),
    ("jester/category.txt", Stand::Torch("jester_category.txt")),
    (
        "squeezenet1_1-b8a52dc0.pth",
        Stand::Torch("squeezenet1_1_imagenet.pth"),
    ),
    (
        "imagenet_bninception.pth",
        Stand::Torch("bninception_imagenet.pth"),
    ),
    // Data, clips and the bundled files.
    ("/data/jester", Stand::DataRoot),
    // `train --finetune` on "your own clips": the generated data set stands for them.
    ("my_clips", Stand::DataRoot),
    ("path/to/clip_folder", Stand::Clip),
    ("path/to/frames", Stand::Repo("assets/demo_clips/gestures")),
    ("W", Stand::Repo("weights/demo.safetensors")),
    (
        "training/jester_bninception_trn.toml",
        Stand::Repo("training/jester_bninception_trn.toml"),
    ),
    (
        "training/jester_squeezenet_mlp.toml",
        Stand::Repo("training/jester_squeezenet_mlp.toml"),
    ),
    // Written by the commands before them.
    ("jester_trn.safetensors", Stand::AsWritten),
    ("squeezenet_imagenet.safetensors", Stand::AsWritten),
    ("imagenet_bninception.safetensors", Stand::AsWritten),
    ("runs/jester_trn8", Stand::AsWritten),
    ("runs/jester_trn8/best.safetensors", Stand::AsWritten),
    ("runs/squeezenet_mlp", Stand::AsWritten),
    ("runs/my_gestures", Stand::AsWritten),
    ("runs/my_gestures/best.safetensors", Stand::AsWritten),
    ("runs/first_try", Stand::AsWritten),
    ("runs/first_try/best.safetensors", Stand::AsWritten),
    ("confusion.png", Stand::AsWritten),
    ("train_videofolder.txt", Stand::AsWritten),
    ("my_gestures", Stand::AsWritten),
    (
        "weights/demo.safetensors",
        Stand::Repo("weights/demo.safetensors"),
    ),
    ("val_videofolder.txt", Stand::AsWritten),
];

/// Flags whose value is a path (checked against [`PATHS`] like positional arguments).
const PATH_FLAGS: &[&str] = &[
    "--weights",
    "-w",
    "--labels",
    "--root",
    "--recipe",
    "--pretrained",
    "--finetune",
    "--run-dir",
    "--resume",
    "--confusion-png",
    "--list",
    "--train-list",
    "--val-list",
    "--frames-dir",
    "--source",
    "--out",
];

/// How a subcommand is run.
struct Rule {
    /// The command words after `gesture-app` (`""`: the live app with no subcommand).
    command: &'static str,
    /// Flags appended to cut a long run short, given the command's own arguments.
    cut_short: fn(&[String]) -> Vec<String>,
    /// What the command may write: the arguments naming its outputs.
    writes: &'static [Output],
    /// How it must end.
    expect: Expect,
}

/// An argument naming something a command writes.
#[derive(Debug, Clone, Copy)]
enum Output {
    /// The n-th positional argument (0-based).
    Positional(usize),
    /// The value of a flag.
    Flag(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Exit code 0.
    Success,
    /// The live app: decided by its source (see [`live_expectation`]).
    Live,
    /// `record`: fails for want of a camera where it needs one and there is none, else exit
    /// code 0 (it records a fixed number of clips).
    Recording,
}

fn nothing(_: &[String]) -> Vec<String> {
    Vec::new()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// One epoch on tiny frames; a resumed run may only change a few flags, `--epochs` among them.
fn short_training(args: &[String]) -> Vec<String> {
    if args.iter().any(|a| a == "--resume") {
        words("--epochs 2 --no-progress")
    } else {
        words(
            "--epochs 1 --input-size 64 --resize-size 64 --batch-size 2 --workers 1 --no-progress",
        )
    }
}

/// Every subcommand the documented commands may use, and how to run it.
const RULES: &[Rule] = &[
    Rule {
        command: "",
        cut_short: nothing,
        writes: &[],
        expect: Expect::Live,
    },
    Rule {
        command: "run",
        cut_short: nothing,
        writes: &[],
        expect: Expect::Live,
    },
    Rule {
        command: "convert",
        cut_short: nothing,
        writes: &[Output::Positional(1)],
        expect: Expect::Success,
    },
    Rule {
        command: "classify",
        cut_short: nothing,
        writes: &[],
        expect: Expect::Success,
    },
    Rule {
        command: "info",
        cut_short: nothing,
        writes: &[],
        expect: Expect::Success,
    },
    Rule {
        command: "cameras",
        cut_short: nothing,
        writes: &[],
        expect: Expect::Success,
    },
    Rule {
        command: "data check",
        cut_short: nothing,
        writes: &[],
        expect: Expect::Success,
    },
    Rule {
        command: "train",
        cut_short: short_training,
        writes: &[Output::Flag("--run-dir"), Output::Flag("--resume")],
        expect: Expect::Success,
    },
    Rule {
        command: "eval",
        cut_short: nothing,
        writes: &[Output::Flag("--confusion-png")],
        expect: Expect::Success,
    },
    Rule {
        command: "record",
        cut_short: nothing,
        writes: &[Output::Flag("--out")],
        expect: Expect::Recording,
    },
    Rule {
        command: "synth",
        cut_short: |_| words("--clips-per-class 1 --frames 10 --size 64"),
        writes: &[Output::Positional(0)],
        expect: Expect::Success,
    },
];

/// Commands run after README's and the help's, through the same rules: what the documented ones
/// leave out but a user of them does next.
const ALSO: &[&str] = &[
    // `train --pretrained` from torchvision's squeezenet1_1 too (docs/training.md shows BNInception).
    "gesture-app train --recipe training/jester_squeezenet_mlp.toml --root /data/jester \
     --pretrained squeezenet_imagenet.safetensors --run-dir runs/squeezenet_mlp",
    // eval without --confusion-png writes nothing.
    "gesture-app eval --weights runs/jester_trn8/best.safetensors --root /data/jester",
    "gesture-app info imagenet_bninception.safetensors",
];

/// A `--help` example or a command of a page: where it came from and its words.
#[derive(Debug, Clone)]
struct Documented {
    origin: String,
    words: Vec<String>,
}

/// Splits a shell command line into words: single and double quotes, backslash escapes and
/// line continuations, `#` comments. No expansions: the documented commands use none.
fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.get_or_insert_default().push(n);
                }
            }
            (Some(_), c) => cur.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.get_or_insert_default();
            }
            (None, '\\') => match chars.next() {
                Some('\n') | None => {}
                Some(n) => cur.get_or_insert_default().push(n),
            },
            (None, '#') if cur.is_none() => {
                // A comment runs to the end of the line.
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            (None, c) if c.is_whitespace() => out.extend(cur.take()),
            (None, c) => cur.get_or_insert_default().push(c),
        }
    }
    assert!(quote.is_none(), "unterminated quote in: {line}");
    out.extend(cur);
    out
}

/// The commands of every ```sh block of a Markdown text, one per logical line.
fn sh_commands(markdown: &str, origin: &str) -> Vec<Documented> {
    let mut out = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start();
        match &mut block {
            None if fence.starts_with("```sh") || fence.starts_with("```bash") => {
                block = Some((i + 2, String::new()));
            }
            None => {}
            Some(_) if fence.starts_with("```") => {
                let (first, text) = block.take().unwrap();
                out.extend(logical_lines(&text, origin, first));
            }
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    out
}

/// Joins `\` continuations and splits `text` into commands, each tagged with its first line.
fn logical_lines(text: &str, origin: &str, first_line: usize) -> Vec<Documented> {
    let mut out = Vec::new();
    let mut acc = String::new();
    let mut start = first_line;
    for (i, line) in text.lines().enumerate() {
        if acc.is_empty() {
            start = first_line + i;
        }
        acc.push_str(line);
        acc.push('\n');
        if line.trim_end().ends_with('\\') {
            continue;
        }
        let words = shell_words(&acc);
        acc.clear();
        if !words.is_empty() {
            out.push(Documented {
                origin: format!("{origin}:{start}"),
                words,
            });
        }
    }
    out
}

/// The examples of one `--help` text: the indented lines under `Examples:`.
fn help_examples(help: &str, origin: &str) -> Vec<Documented> {
    let mut text = String::new();
    let mut inside = false;
    for line in help.lines() {
        if line.trim_end().ends_with("Examples:") {
            inside = true;
        } else if inside && (line.starts_with(' ') || line.starts_with('\t')) {
            text.push_str(line);
            text.push('\n');
        } else {
            inside = false;
        }
    }
    logical_lines(&text, origin, 1)
        .into_iter()
        .filter(|d| d.words[0] == "gesture-app")
        .collect()
}

/// The subcommands a help text lists under `Commands:` (without `help`).
fn help_subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

/// The flags of a help text that take a value (`--weights <FILE>`), short and long forms.
fn value_flags(help: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in help.lines() {
        let line = line.trim_start();
        if !line.starts_with('-') {
            continue;
        }
        let mut names = Vec::new();
        for tok in line.split_whitespace() {
            let tok = tok.trim_end_matches(',');
            if tok.starts_with('-') {
                names.push(tok.to_string());
            } else {
                if tok.starts_with('<') {
                    out.extend(names.drain(..));
                }
                break;
            }
        }
    }
    out
}

fn help_text(command: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(command)
        .arg("--help")
        .output()
        .expect("run gesture-app --help");
    assert!(out.status.success(), "{command:?} --help failed");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// Every `gesture-app [COMMAND...] --help`: its words and text.
fn all_help() -> Vec<(Vec<String>, String)> {
    let mut todo: Vec<Vec<String>> = vec![Vec::new()];
    let mut out = Vec::new();
    while let Some(cmd) = todo.pop() {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let text = help_text(&args);
        for sub in help_subcommands(&text) {
            let mut next = cmd.clone();
            next.push(sub);
            todo.push(next);
        }
        out.push((cmd, text));
    }
    out.sort();
    out
}

/// Where the test keeps its inputs and runs the commands.
struct Ctx {
    /// Torch-saved files (full size from the script, or the committed small ones).
    torch: PathBuf,
    /// Generated Jester-layout data set.
    data_root: PathBuf,
    /// The empty working directory every command runs in.
    work: PathBuf,
    /// stdout/stderr of each command.
    logs: PathBuf,
    /// Help texts by command words, for the flags that take values.
    help: Vec<(Vec<String>, String)>,
    has_camera: bool,
}

impl Ctx {
    fn resolve(&self, word: &str, origin: &str) -> String {
        let Some((_, stand)) = PATHS.iter().find(|(w, _)| *w == word) else {
            panic!(
                "{origin}: path '{word}' is not in readme_commands.rs's PATHS: add what it stands \
                 for (a fixture, a repository file, the generated data, or kept as written)"
            );
        };
        let path = match stand {
            Stand::Torch(name) => self.torch.join(name),
            Stand::Repo(rel) => Path::new(REPO).join(rel),
            Stand::DataRoot => self.data_root.clone(),
            Stand::Clip => {
                let list = std::fs::read_to_string(self.data_root.join("val_videofolder.txt"))
                    .expect("generated val list");
                let id = list
                    .split_whitespace()
                    .next()
                    .expect("a clip in the val list");
                self.data_root.join("rgb").join(id)
            }
            Stand::AsWritten => return word.to_string(),
        };
        assert!(path.exists(), "{origin}: {} does not exist", path.display());
        path.to_string_lossy().into_owned()
    }

    fn takes_value(&self, command: &str, flag: &str) -> bool {
        let flag = flag.split('=').next().unwrap_or(flag);
        let words: Vec<&str> = command.split_whitespace().collect();
        let help = self
            .help
            .iter()
            .find(|(c, _)| c.iter().map(String::as_str).eq(words.iter().copied()))
            .or_else(|| self.help.iter().find(|(c, _)| c.is_empty()))
            .map(|(_, h)| h.as_str())
            .unwrap_or("");
        value_flags(help).contains(flag)
    }
}

/// A documented command, ready to run.
struct Prepared {
    origin: String,
    rule: &'static Rule,
    args: Vec<String>,
    /// The documented arguments after substitution, before `cut_short`.
    documented: Vec<String>,
}

fn prepare(ctx: &Ctx, doc: &Documented) -> Prepared {
    let origin = &doc.origin;
    assert_eq!(
        doc.words[0], "gesture-app",
        "{origin}: not a gesture-app command"
    );
    let rest = &doc.words[1..];
    // The longest rule whose words start the command (`data check` before `data`), else the
    // live app, whose flags come first.
    let rule = RULES
        .iter()
        .filter(|r| !r.command.is_empty())
        .filter(|r| {
            let w: Vec<&str> = r.command.split(' ').collect();
            rest.len() >= w.len() && rest.iter().zip(&w).all(|(a, b)| a == b)
        })
        .max_by_key(|r| r.command.len())
        .or_else(|| {
            (rest.is_empty() || rest[0].starts_with('-'))
                .then(|| RULES.iter().find(|r| r.command.is_empty()).unwrap())
        })
        .unwrap_or_else(|| {
            panic!(
                "{origin}: `gesture-app {}` has no rule in readme_commands.rs's RULES: add how to \
                 run it (what it writes, how to cut it short, how it must end)",
                rest.first().map_or("", String::as_str)
            )
        });
    let skip = rule.command.split_whitespace().count();
    let mut args: Vec<String> = rest[..skip].to_vec();
    let mut i = skip;
    while i < rest.len() {
        let w = &rest[i];
        if w.starts_with('-') {
            args.push(w.clone());
            if let Some((flag, value)) = w.split_once('=') {
                if PATH_FLAGS.contains(&flag) && is_path_value(flag, value) {
                    *args.last_mut().unwrap() = format!("{flag}={}", ctx.resolve(value, origin));
                }
            } else if ctx.takes_value(rule.command, w) {
                i += 1;
                let value = rest
                    .get(i)
                    .unwrap_or_else(|| panic!("{origin}: {w} needs a value"));
                args.push(
                    if PATH_FLAGS.contains(&w.as_str()) && is_path_value(w, value) {
                        ctx.resolve(value, origin)
                    } else {
                        value.clone()
                    },
                );
            }
        } else {
            // Every positional argument of the documented commands is a path.
            args.push(ctx.resolve(w, origin));
        }
        i += 1;
    }
    let documented = args.clone();
    args.extend((rule.cut_short)(&documented));
    Prepared {
        origin: origin.clone(),
        rule,
        args,
        documented,
    }
}

/// `--source camera:1` and `--source synthetic` name no path.
fn is_path_value(flag: &str, value: &str) -> bool {
    flag != "--source" || !(value == "synthetic" || value.starts_with("camera"))
}

/// The value of `flag` (either spelling) among `args`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(flag).and_then(|r| r.strip_prefix('='))
        }
    })
}

/// The positional arguments after the command words (values of flags skipped).
fn positionals(ctx: &Ctx, p: &Prepared) -> Vec<String> {
    let skip = p.rule.command.split_whitespace().count();
    let mut out = Vec::new();
    let mut i = skip;
    while i < p.documented.len() {
        let w = &p.documented[i];
        if w.starts_with('-') {
            if !w.contains('=') && ctx.takes_value(p.rule.command, w) {
                i += 1;
            }
        } else {
            out.push(w.clone());
        }
        i += 1;
    }
    out
}

/// How a live-app command must end here.
#[derive(Debug, PartialEq)]
enum Live {
    /// A camera is needed and there is none: fails saying so.
    NeedsCamera,
    /// Runs until stopped (a camera, `--loop`, the synthetic source): still running after it
    /// has started, then killed.
    Endless,
    /// A folder played once: ends by itself.
    Finite,
}

fn live_expectation(ctx: &Ctx, args: &[String]) -> Live {
    let looping = args.iter().any(|a| a == "--loop");
    match flag_value(args, "--source") {
        None if args.iter().any(|a| a == "--demo") => {
            if looping {
                Live::Endless
            } else {
                Live::Finite
            }
        }
        None | Some("camera") => camera(ctx),
        Some(s) if s.starts_with("camera:") => camera(ctx),
        Some("synthetic") => Live::Endless,
        Some(_) if looping => Live::Endless,
        Some(_) => Live::Finite,
    }
}

/// `record` needs a camera unless `--source` names a folder or `synthetic`; it ends by itself.
fn recording_expectation(ctx: &Ctx, args: &[String]) -> Live {
    match flag_value(args, "--source") {
        Some(s) if s != "camera" && !s.starts_with("camera:") => Live::Finite,
        _ if ctx.has_camera => Live::Finite,
        _ => Live::NeedsCamera,
    }
}

fn camera(ctx: &Ctx) -> Live {
    if ctx.has_camera {
        Live::Endless
    } else {
        Live::NeedsCamera
    }
}

/// What the live app says when it needs a camera and finds none (README: `gesture-app cameras`
/// lists them; the live app falls back to the demo only without --weights).
const NO_CAMERA: &str = "no camera";
/// What it says without a display before running headless.
const NO_DISPLAY: &str = "no display";
/// The line the headless live app prints once its pipeline runs.
const STARTED: &str = "; source ";

/// How a command ended.
struct Ran {
    /// None: still running when stopped.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    seconds: f64,
}

/// Runs `gesture-app args` in `ctx.work`; `stop_once` stops an endless run once its stderr
/// shows that text (and a moment more has passed).
fn execute(ctx: &Ctx, n: usize, args: &[String], stop_once: Option<&str>) -> Ran {
    let out_path = ctx.logs.join(format!("{n}.out"));
    let err_path = ctx.logs.join(format!("{n}.err"));
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(&ctx.work)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start gesture-app");
    let start = Instant::now();
    let limit = Duration::from_secs(600);
    let mut started_at: Option<Instant> = None;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if let Some(text) = stop_once {
            let err = std::fs::read_to_string(&err_path).unwrap_or_default();
            if started_at.is_none() && err.contains(text) {
                started_at = Some(Instant::now());
            }
            if started_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2)) {
                child.kill().expect("kill");
                child.wait().expect("reap");
                break None;
            }
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("gesture-app {args:?} ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ran {
        code,
        stdout: std::fs::read_to_string(out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(err_path).unwrap_or_default(),
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Every file under `dir`, relative to it, with when it was last written.
fn files(dir: &Path) -> BTreeMap<PathBuf, SystemTime> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, SystemTime>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let written = e.metadata().and_then(|m| m.modified()).unwrap();
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), written);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Runs one prepared command and checks how it ended and what it wrote.
fn check(ctx: &Ctx, n: usize, p: &Prepared) {
    let before = files(&ctx.work);
    let data_before = files(&ctx.data_root);
    let live = match p.rule.expect {
        Expect::Live => Some(live_expectation(ctx, &p.documented)),
        Expect::Recording => Some(recording_expectation(ctx, &p.documented)),
        Expect::Success => None,
    };
    let stop = (live == Some(Live::Endless)).then_some(STARTED);
    let ran = execute(ctx, n, &p.args, stop);
    let shown = format!(
        "{} `gesture-app {}` ({:.1} s)\nstdout:\n{}\nstderr:\n{}",
        p.origin,
        p.args.join(" "),
        ran.seconds,
        ran.stdout,
        ran.stderr
    );
    eprintln!(
        "{}: `gesture-app {}`: {:.1} s",
        p.origin,
        p.args.join(" "),
        ran.seconds
    );
    assert!(!ran.stderr.contains("panicked"), "a panic: {shown}");
    match live {
        None | Some(Live::Finite) => assert_eq!(ran.code, Some(0), "failed: {shown}"),
        Some(Live::Endless) => assert_eq!(ran.code, None, "ended by itself: {shown}"),
        Some(Live::NeedsCamera) => {
            assert_eq!(
                ran.code,
                Some(1),
                "expected to fail for want of a camera: {shown}"
            );
            let last = ran.stderr.lines().last().unwrap_or("");
            assert!(
                last.starts_with("error: ") && last.contains(NO_CAMERA),
                "the last line should say a camera is missing: {shown}"
            );
        }
    }
    if p.rule.expect == Expect::Live && !p.documented.iter().any(|a| a == "--headless") {
        assert!(
            ran.stderr.contains(NO_DISPLAY),
            "no word of the missing display: {shown}"
        );
    }
    if p.rule.command == "train" && flag_value(&p.documented, "--pretrained").is_some() {
        assert!(
            ran.stdout.contains("initialised") && !ran.stdout.contains("left at random init"),
            "--pretrained did not initialise the backbone: {shown}"
        );
    }

    // Only what was asked for is written, and nothing in the data set.
    let allowed: Vec<PathBuf> = p
        .rule
        .writes
        .iter()
        .filter_map(|o| match o {
            Output::Positional(i) => positionals(ctx, p).get(*i).cloned(),
            Output::Flag(f) => flag_value(&p.documented, f).map(str::to_string),
        })
        .map(PathBuf::from)
        .collect();
    // New files, and files written again (an earlier command's output is no excuse).
    let written: Vec<PathBuf> = files(&ctx.work)
        .into_iter()
        .filter(|(f, t)| before.get(f) != Some(t))
        .map(|(f, _)| f)
        .filter(|f| !allowed.iter().any(|a| f.starts_with(a)))
        .collect();
    assert!(
        written.is_empty(),
        "wrote {written:?}, which it was not asked for: {shown}"
    );
    assert_eq!(
        files(&ctx.data_root),
        data_before,
        "changed the data set: {shown}"
    );
    for a in &allowed {
        let target = ctx.work.join(a);
        assert!(
            a.is_absolute()
                || target.exists()
                || ran.code.is_none()
                || live == Some(Live::NeedsCamera),
            "did not write {}: {shown}",
            a.display()
        );
    }
}

/// The torch-saved files: full size from the script when a Python with torch is named, else
/// the committed small ones.
fn torch_files(scratch: &Path) -> PathBuf {
    let committed = Path::new(REPO).join("tests/fixtures/torch");
    let Ok(python) = std::env::var("GESTURE_APP_PYTHON") else {
        return committed;
    };
    let out = scratch.join("torch");
    let status = Command::new(&python)
        .arg(Path::new(REPO).join("tests/fixtures/make_convert_cases.py"))
        .arg(&out)
        .arg("--full")
        .status()
        .expect("run make_convert_cases.py");
    assert!(
        status.success(),
        "{python} make_convert_cases.py --full failed"
    );
    out
}

#[test]
fn every_documented_command_runs_as_written() {
    let scratch = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let logs = scratch.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let data_root = scratch.path().join("jester");
    // A tiny data set in Jester's layout: two clips of each of three classes, one of them for
    // validation.
    let synth = Command::new(BIN)
        .args(["synth", data_root.to_str().unwrap()])
        .args(["--classes", "Swiping Left,Swiping Right,No gesture"])
        .args(words(
            "--clips-per-class 2 --val-every 2 --size 64 --frames 12 --seed 3",
        ))
        .output()
        .expect("run synth");
    assert!(
        synth.status.success(),
        "{}",
        String::from_utf8_lossy(&synth.stderr)
    );
    let cameras = Command::new(BIN)
        .arg("cameras")
        .output()
        .expect("run cameras");
    let ctx = Ctx {
        torch: torch_files(scratch.path()),
        data_root,
        work: work.path().to_path_buf(),
        logs,
        help: all_help(),
        // `cameras` lists each as `camera:N  NAME`, the spelling `--source` takes.
        has_camera: String::from_utf8_lossy(&cameras.stdout)
            .lines()
            .any(|l| l.starts_with("camera:")),
    };

    let mut documented = Vec::new();
    for page in PAGES {
        let text = std::fs::read_to_string(Path::new(REPO).join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        let commands = sh_commands(&text, page);
        assert!(
            commands.iter().any(|d| d.words[0] == "gesture-app"),
            "{page} has no gesture-app command in a ```sh block: take it out of PAGES"
        );
        documented.extend(commands);
    }
    let mut from_help = Vec::new();
    for (cmd, text) in &ctx.help {
        let origin = format!("gesture-app {} --help", cmd.join(" "));
        from_help.extend(help_examples(text, &origin));
    }
    assert!(!from_help.is_empty(), "no examples found in any --help");
    documented.extend(from_help);
    for (i, line) in ALSO.iter().enumerate() {
        documented.extend(logical_lines(line, &format!("ALSO[{i}]"), 1));
    }

    let mut ran = 0;
    for doc in &documented {
        match doc.words[0].as_str() {
            // Building and testing are CI's.
            "cargo" => continue,
            "gesture-app" => {}
            other => panic!("{}: `{other}` is neither gesture-app nor cargo", doc.origin),
        }
        let p = prepare(&ctx, doc);
        ran += 1;
        check(&ctx, ran, &p);
    }
    assert!(
        ran >= 10,
        "only {ran} commands found: are README and its pages still read?"
    );
}

/// Every docs/ page with shell commands is either run ([`PAGES`]) or named in [`NOT_RUN`] with
/// the hardware it needs, and README links to every page that is run.
#[test]
fn documented_pages_are_known() {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    for page in PAGES.iter().filter(|p| **p != "README.md") {
        assert!(
            readme.contains(&format!("]({page})")),
            "README.md does not link to {page}, whose commands are run as README's"
        );
    }
    let mut unknown = Vec::new();
    for e in std::fs::read_dir(Path::new(REPO).join("docs"))
        .unwrap()
        .flatten()
    {
        let name = format!("docs/{}", e.file_name().to_string_lossy());
        if !name.ends_with(".md") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        let has_sh = text.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("```sh") || l.starts_with("```bash")
        });
        let known =
            PAGES.contains(&name.as_str()) || NOT_RUN.iter().any(|(p, _)| *p == name.as_str());
        if has_sh && !known {
            unknown.push(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "{unknown:?} hold ```sh commands but are neither in PAGES (run) nor in NOT_RUN (with the \
         hardware they need): add them to one"
    );
    for (page, _) in NOT_RUN {
        assert!(
            Path::new(REPO).join(page).exists(),
            "{page} in NOT_RUN is gone: take it out"
        );
    }
}

#[test]
fn parsing_follows_the_shell() {
    assert_eq!(
        shell_words("gesture-app --weights W --class-threshold \"Swiping Left=0.8\"   # a comment"),
        [
            "gesture-app",
            "--weights",
            "W",
            "--class-threshold",
            "Swiping Left=0.8"
        ]
    );
    assert_eq!(
        shell_words("a 'b c' d\\ e \\\n  f"),
        ["a", "b c", "d e", "f"]
    );
    let md =
        "text\n```sh\ngesture-app a \\\n    --b c   # note\n\ncargo test\n```\n```\nnot sh\n```\n";
    let cmds = sh_commands(md, "X");
    let w: Vec<_> = cmds.iter().map(|d| d.words.join(" ")).collect();
    assert_eq!(w, ["gesture-app a --b c", "cargo test"]);
    assert_eq!(cmds[0].origin, "X:3");
    let help = "Usage: x\n\nExamples:\n  gesture-app convert A B \\\n      --arch X\n  gesture-app info B\n\nBoth formats\n";
    let ex: Vec<_> = help_examples(help, "h")
        .into_iter()
        .map(|d| d.words.join(" "))
        .collect();
    assert_eq!(
        ex,
        ["gesture-app convert A B --arch X", "gesture-app info B"]
    );
    let opts =
        "Options:\n  -w, --weights <FILE>  Weights\n      --json  JSON\n      --top <TOP>  k\n";
    assert_eq!(
        value_flags(opts).into_iter().collect::<Vec<_>>(),
        ["--top", "--weights", "-w"]
    );
}
