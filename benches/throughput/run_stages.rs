//! A 100 MB `run` split by stage, and the same import by the AWS CLI.
//!
//! `pinpoint-import run -v` with stderr not a terminal writes one line per
//! stage (`stage: staging`) and its log lines; each line is stamped as it
//! arrives, so the run's time splits at them:
//! - start: the process until its first stage (reading the data file,
//!   loading the compiled component from the cache [`component_cache`]
//!   warmed before any timed run, starting the embedded emulator if any);
//! - validate: the check pass, until the log line `... endpoints valid`;
//! - hash: the pass that writes the staged file into the staging key's hash
//!   and the upload's check (signed SHA-256, or CRC32C over HTTPS);
//! - look-ups: `GetApp` and `GetSegments`;
//! - upload: `PutObject` (a third pass writing the staged file into the
//!   request body);
//! - job: `CreateImportJob` and the `GetImportJob` polls until it ends;
//! - finish: clean-up and exit.
//!
//! Then the comparison: `pinpoint-import emulator` on loopback, and against
//! it the same `run` and what a user would script with the AWS CLI: `aws s3
//! cp` of the file, `aws pinpoint create-import-job`, and `aws pinpoint
//! get-import-job` in a loop until the job ends (no sleep between polls: each
//! call starts an interpreter, which is wait enough, and favours the CLI).
//! The two take turns, [`rounds`] times (`BENCH_RUN_ROUNDS`, default 3),
//! the one that goes first alternating, so that a slow minute of the shared
//! machine falls on both: the ratio is the median of the rounds' ratios.
//! The AWS CLI is `target/bench-awscli/bin/aws`, installed there (a venv,
//! `awscli==`[`AWS_CLI_VERSION`]) when `python3` can; without it the
//! comparison is skipped, and the bench says so.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use host_test::emulated;

/// Where every `pinpoint-import` child of the bench keeps its compiled
/// component (`PINPOINT_IMPORT_CACHE_DIR`), as a user's runs share theirs:
/// the children run with a cleared environment, which without it has no
/// cache, so each would compile the component at its start (about a second
/// of "start" that no user's second run pays). Warmed once, untimed, by a
/// `validate` of a one-row file.
pub fn component_cache(exe: &Path) -> (&'static str, PathBuf) {
    static WARMED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = WARMED.get_or_init(|| {
        let dir = target_dir().join("bench-component-cache");
        let data = dir.join("warm.csv");
        let warmed = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&data, "ChannelType,Address\nEMAIL,a@example.com\n"))
            .and_then(|()| {
                Command::new(exe)
                    .args([
                        "validate",
                        "--application-id",
                        "warm",
                        "--segment-name",
                        "warm",
                    ])
                    .args(["--format", "CSV", "--data-file"])
                    .arg(&data)
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .env(CACHE_VAR, &dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
            });
        match warmed {
            Ok(status) if status.success() => {}
            other => eprintln!("warming the component cache failed: {other:?}"),
        }
        dir
    });
    (CACHE_VAR, dir.clone())
}

/// The variable that names the node's compiled-component cache.
const CACHE_VAR: &str = "PINPOINT_IMPORT_CACHE_DIR";

/// The workspace's target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The AWS CLI version the comparison installs.
pub const AWS_CLI_VERSION: &str = "1.45.11";

/// One stage of a run and its seconds.
#[derive(Clone)]
pub struct Split {
    /// The stage.
    pub name: &'static str,
    /// Its seconds.
    pub seconds: f64,
}

/// Where each stage of a `run -v` ends: the first stderr line containing the
/// marker ends the stage named beside it.
const MARKERS: &[(&str, &str)] = &[
    ("start", "stage: validating"),
    ("validate", "endpoints valid"),
    ("hash", "stage: checking-application"),
    ("look-ups", "stage: staging"),
    ("upload", "stage: creating-job"),
    ("job", "stage: cleaning-up"),
];

/// The stderr lines of `child`, each with the seconds since `start` when it
/// arrived, read until the stream ends.
pub fn stamped_lines(
    child: &mut Child,
    start: Instant,
) -> std::thread::JoinHandle<Vec<(f64, String)>> {
    let stderr = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .map(|l| (start.elapsed().as_secs_f64(), l))
            .collect()
    })
}

/// The stages of a run from its stamped `-v` lines and its total seconds.
pub fn split(lines: &[(f64, String)], total: f64) -> Vec<Split> {
    let mut out = Vec::new();
    let mut from = 0.0;
    for (name, marker) in MARKERS {
        let Some((at, _)) = lines.iter().find(|(_, l)| l.contains(marker)) else {
            continue;
        };
        out.push(Split {
            name,
            seconds: at - from,
        });
        from = *at;
    }
    out.push(Split {
        name: "finish",
        seconds: total - from,
    });
    out
}

/// Each stage's median over `runs` (all split alike).
pub fn median_splits(runs: &[Vec<Split>]) -> Vec<Split> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|i| Split {
            name: first[i].name,
            seconds: super::median(
                runs.iter()
                    .map(|r| r.get(i).map_or(0.0, |s| s.seconds))
                    .collect(),
                |a, b| (a + b) / 2.0,
            ),
        })
        .collect()
}

/// `| stage | seconds | share |` rows of `splits`.
pub fn split_table(out: &mut String, splits: &[Split]) {
    use std::fmt::Write as _;
    let total: f64 = splits.iter().map(|s| s.seconds).sum();
    let _ = writeln!(out, "| stage | seconds | share |");
    let _ = writeln!(out, "|---|--:|--:|");
    for s in splits {
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.0}% |",
            s.name,
            s.seconds,
            100.0 * s.seconds / total.max(1e-9)
        );
    }
    let _ = writeln!(out, "| total | {total:.2} | |");
}

/// The AWS CLI: the venv's, installed there first if need be; why not.
fn aws_cli() -> Result<PathBuf, String> {
    let venv = target_dir().join("bench-awscli");
    let aws = venv.join("bin/aws");
    let installed = || {
        Command::new(&aws)
            .arg("--version")
            .output()
            .map(|o| {
                let text = [&o.stdout[..], &o.stderr[..]].concat();
                o.status.success() && String::from_utf8_lossy(&text).contains(AWS_CLI_VERSION)
            })
            .unwrap_or(false)
    };
    if installed() {
        return Ok(aws);
    }
    eprintln!(
        "installing awscli=={AWS_CLI_VERSION} into {}",
        venv.display()
    );
    let status = |c: &mut Command, what: &str| -> Result<(), String> {
        let o = c
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("{what}: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ))
        }
    };
    status(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    status(
        Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            &format!("awscli=={AWS_CLI_VERSION}"),
        ]),
        "pip install awscli",
    )?;
    if installed() {
        Ok(aws)
    } else {
        Err(format!("{} does not run", aws.display()))
    }
}

/// `pinpoint-import emulator` on a free loopback port: the child and its URL.
fn start_emulator(exe: &Path) -> Result<(Child, String), String> {
    let mut child = Command::new(exe)
        .args(["emulator", "--port", "0"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("pinpoint-import emulator: {e}"))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("listening at ").nth(1).map(|u| u.trim().to_owned()));
    // Keep draining it, so the emulator never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    match url {
        Some(url) => Ok((child, url)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err("pinpoint-import emulator printed no URL".into())
        }
    }
}

/// What a comparison found.
pub struct Comparison {
    /// Each round: `pinpoint-import run`'s stages against the emulator, and
    /// the AWS CLI's steps against the same emulator.
    pub rounds: Vec<(Vec<Split>, Vec<Split>)>,
    /// Its version line.
    pub aws_version: String,
}

/// How many rounds [`compare`] takes: `BENCH_RUN_ROUNDS`, default 3.
pub fn rounds() -> usize {
    std::env::var("BENCH_RUN_ROUNDS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3)
}

/// The node's `run` and the AWS CLI's import of the CSV file at `path`
/// against one `pinpoint-import emulator`; why not, when it cannot be run.
pub fn compare(exe: &Path, path: &Path, bytes: u64) -> Result<Comparison, String> {
    let aws = aws_cli()?;
    let aws_version = Command::new(&aws)
        .arg("--version")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.split_whitespace().next().unwrap_or("aws").to_owned()
        })
        .unwrap_or_default();
    let (mut emulator, url) = start_emulator(exe)?;
    let result = (|| {
        let env = emulated::environment(&url);
        let mut rounds = Vec::new();
        for round in 0..self::rounds() {
            let pair = if round % 2 == 0 {
                let node = node_run(exe, path, bytes, round, &env)?;
                (node, aws_import(&aws, path, &url, round, &env)?)
            } else {
                let aws = aws_import(&aws, path, &url, round, &env)?;
                (node_run(exe, path, bytes, round, &env)?, aws)
            };
            rounds.push(pair);
        }
        Ok(Comparison {
            rounds,
            aws_version,
        })
    })();
    let _ = emulator.kill();
    let _ = emulator.wait();
    result
}

/// `pinpoint-import run -v` against the emulator of `env`, split by stage.
fn node_run(
    exe: &Path,
    path: &Path,
    bytes: u64,
    round: usize,
    env: &[(&'static str, String)],
) -> Result<Vec<Split>, String> {
    let cache = component_cache(exe);
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args([
            "run",
            "-v",
            "--application-id",
            emulated::SEED_APPLICATION_ID,
        ])
        .args(["--segment-name", &format!("bench-vs-aws-{bytes}-{round}")])
        .args(["--format", "CSV", "--data-file"])
        .arg(path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .env(cache.0, cache.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("pinpoint-import run: {e}"))?;
    let lines = stamped_lines(&mut child, start);
    let output = child
        .wait_with_output()
        .map_err(|e| format!("pinpoint-import run: {e}"))?;
    let total = start.elapsed().as_secs_f64();
    let lines = lines.join().unwrap_or_default();
    if !output.status.success() {
        return Err(format!(
            "pinpoint-import run against the emulator failed: {}",
            String::from_utf8_lossy(&output.stdout).trim()
        ));
    }
    eprintln!("pinpoint-import run against pinpoint-import emulator: {total:.1} s");
    Ok(split(&lines, total))
}

/// `aws s3 cp`, `aws pinpoint create-import-job` and a `get-import-job`
/// loop against the emulator at `url`, each step timed.
fn aws_import(
    aws: &Path,
    path: &Path,
    url: &str,
    round: usize,
    env: &[(&'static str, String)],
) -> Result<Vec<Split>, String> {
    let run = |args: &[&str]| -> Result<String, String> {
        let o = Command::new(aws)
            .args(args)
            .args(["--endpoint-url", url, "--output", "text"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_DEFAULT_REGION", emulated::DEFAULT_REGION)
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .output()
            .map_err(|e| format!("aws {}: {e}", args[..2].join(" ")))?;
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned())
        } else {
            Err(format!(
                "aws {} failed: {}",
                args[..2].join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
    };
    let s3_url = format!(
        "s3://{}/aws-cli/endpoints-{round}.csv",
        emulated::DEFAULT_BUCKET
    );
    let t = Instant::now();
    run(&[
        "s3",
        "cp",
        &path.display().to_string(),
        &s3_url,
        "--only-show-errors",
    ])?;
    let uploaded = t.elapsed().as_secs_f64();
    let request = serde_json::json!({
        "Format": "CSV",
        "S3Url": s3_url,
        "RoleArn": emulated::DEFAULT_ROLE_ARN,
        "DefineSegment": true,
        "SegmentName": format!("bench-aws-cli-{round}"),
    })
    .to_string();
    let app = emulated::SEED_APPLICATION_ID;
    let job = run(&[
        "pinpoint",
        "create-import-job",
        "--application-id",
        app,
        "--import-job-request",
        &request,
        "--query",
        "ImportJobResponse.Id",
    ])?;
    let created = t.elapsed().as_secs_f64();
    loop {
        let status = run(&[
            "pinpoint",
            "get-import-job",
            "--application-id",
            app,
            "--job-id",
            &job,
            "--query",
            "ImportJobResponse.JobStatus",
        ])?;
        match status.as_str() {
            "COMPLETED" => break,
            "FAILED" => return Err(format!("the AWS CLI's import job {job} FAILED")),
            _ if t.elapsed().as_secs() > 600 => {
                return Err(format!(
                    "the AWS CLI's import job {job} was still {status} after 600 s"
                ));
            }
            _ => {}
        }
    }
    let done = t.elapsed().as_secs_f64();
    eprintln!("the AWS CLI's import against pinpoint-import emulator: {done:.1} s");
    Ok(vec![
        Split {
            name: "aws s3 cp",
            seconds: uploaded,
        },
        Split {
            name: "create-import-job",
            seconds: created - uploaded,
        },
        Split {
            name: "get-import-job loop",
            seconds: done - created,
        },
    ])
}
