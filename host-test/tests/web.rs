//! `pinpoint-import web` in a real browser: headless Chromium (Debian's
//! `chromium`) driven by playwright-core, both installed by
//! `.ci/install-tools`; a missing tool fails these tests with the command
//! that installs it.
//!
//! The page's verdict, counts and problems for every file are compared with
//! `pinpoint-import validate`'s; the committed glue with what the pinned jco
//! makes of this checkout's portable component. Screenshots of each state
//! go to `target/web-screenshots/`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

const INSTALL: &str = "install the pinned test tools with `bash .ci/install-tools`";
const BIN: &str = env!("CARGO_BIN_EXE_pinpoint-import");
const CHROMIUM: &str = "/usr/bin/chromium";
/// The project id and segment name the page's worker validates with.
const APPLICATION_ID: &str = "preflight-check";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tools() -> PathBuf {
    repo().join(".ci/tools")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn portable_wasm(dir: &Path) -> PathBuf {
    let path = dir.join("node-portable.wasm");
    let out = Command::new(BIN)
        .args(["component", "--portable", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    path
}

#[test]
fn the_committed_glue_is_what_the_pinned_jco_makes_of_this_component() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = portable_wasm(dir.path());
    let fresh = dir.path().join("generated");
    let out = Command::new("bash")
        .arg(repo().join("host-test/web/generate"))
        .arg(&fresh)
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "host-test/web/generate: {}{}\n{INSTALL}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let committed = files(&repo().join("host-test/web/generated"));
    let generated = files(&fresh);
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&committed), names(&generated));
    for ((name, a), (_, b)) in committed.iter().zip(&generated) {
        assert!(
            a == b,
            "host-test/web/generated/{name} is stale: run `host-test/web/generate` and commit it"
        );
    }

    // The core modules the site serves are jco's, byte for byte.
    let jco = tools().join("node_modules/.bin/jco");
    let out = Command::new(&jco)
        .args([
            "transpile",
            "--name",
            "node_component",
            "--instantiation",
            "async",
        ])
        .args(["--no-typescript", "-q", "-o"])
        .arg(dir.path().join("jco"))
        .arg(&wasm)
        .output()
        .unwrap_or_else(|e| panic!("cannot run jco ({e}): {INSTALL}"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let site = dir.path().join("site");
    let out = Command::new(BIN)
        .args(["web", "--output"])
        .arg(&site)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cores: Vec<_> = files(&dir.path().join("jco"))
        .into_iter()
        .filter(|(n, _)| n.ends_with(".wasm"))
        .collect();
    assert_eq!(
        cores.len(),
        3,
        "jco wrote the component's three core modules"
    );
    for (name, bytes) in cores {
        let module = std::fs::read_to_string(site.join("core").join(format!("{name}.js"))).unwrap();
        let encoded = module
            .strip_prefix("export default \"")
            .and_then(|m| m.strip_suffix("\";\n"))
            .unwrap();
        let served = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert!(served == bytes, "core/{name}.js is not jco's {name}");
    }
}

/// `pinpoint-import web --port 0`, stopped (SIGTERM) on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(BIN)
            .args(["web", "--port", "0"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split_once(" is at ")
                    .map(|(_, rest)| rest.split_whitespace().next().unwrap().to_owned())
            })
            .expect("the command prints its URL");
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, url }
    }

    /// SIGTERM: the server stops with 143.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        // Drop's kill then finds the process gone, and its wait the status.
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pinpoint-import validate` of `file` as the page validates it, writing
/// the file a run would stage to `staged` (when the data is valid).
fn cli_validate(file: &Path, format: &str, staged: &Path) -> Value {
    let out = Command::new(BIN)
        .args(["validate", "--staged-file"])
        .arg(staged)
        .args(["--application-id", APPLICATION_ID])
        .args([
            "--segment-name",
            APPLICATION_ID,
            "--format",
            format,
            "--data-file",
        ])
        .arg(file)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("validate printed no JSON ({e}): {}", text(&out.stderr)))
}

/// `MissingRequiredFields` as the component names it: `missing-required-fields`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks that the page showed what the CLI reports for the same file.
fn assert_same_as_cli(name: &str, page: &Value, cli: &Value) {
    if let Some(error) = cli.get("error") {
        assert_eq!(page["valid"], false, "{name}: {page}");
        assert_eq!(
            page["error"],
            kebab(error["type"].as_str().unwrap()),
            "{name}"
        );
        assert!(
            page["summaryText"]
                .as_str()
                .unwrap()
                .contains(error["message"].as_str().unwrap()),
            "{name}: the page shows the message: {page}"
        );
        let total = error
            .get("total_problems")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        assert_eq!(page["totalProblems"], total, "{name}");
        let expected: Vec<Value> = error
            .get("problems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|p| {
                json!({
                    "record": p["record"], "line": p["line"], "column": p["column"],
                    "field": p["field"], "kind": kebab(p["kind"].as_str().unwrap()),
                    "message": p["message"],
                })
            })
            .collect();
        let shown: Vec<Value> = page["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                json!({
                    "record": p["record"], "line": p["line"], "column": p["column"],
                    "field": p["field"], "kind": p["kind"], "message": p["message"],
                })
            })
            .collect();
        assert_eq!(shown, expected, "{name}: the problems table");
    } else {
        assert_eq!(page["valid"], true, "{name}: {page}");
        assert_eq!(page["endpoints"], cli["endpoint_count"], "{name}");
        assert_eq!(page["channels"], cli["channel_counts"], "{name}");
        let staged = grouped(cli["bytes_to_stage"].as_u64().unwrap());
        assert!(
            page["summaryText"]
                .as_str()
                .unwrap()
                .contains(&format!("{staged} bytes (limit")),
            "{name}: the page shows the staged size {staged}: {page}"
        );
    }
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A CSV of about `bytes` bytes of valid e-mail endpoints.
fn large_csv(path: &Path, bytes: usize) -> usize {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let header = "ChannelType,Address,User.UserId,User.UserAttributes.FirstName,Location.City\n";
    out.write_all(header.as_bytes()).unwrap();
    let (mut written, mut rows) = (header.len(), 0);
    while written < bytes {
        let row = format!(
            "EMAIL,user{rows}@example.com,user_{rows},Name{},Springfield\n",
            rows % 997
        );
        out.write_all(row.as_bytes()).unwrap();
        written += row.len();
        rows += 1;
    }
    out.flush().unwrap();
    rows
}

#[test]
fn the_page_checks_files_in_chromium_as_the_cli_does() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: {INSTALL}"
    );
    assert!(
        tools()
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is not installed: {INSTALL}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    let mut expected = Vec::new();

    // Each seed example's data, as the file a user would have.
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    examples.sort();
    assert_eq!(examples.len(), 3, "three seed examples");
    for example in &examples {
        let input: Value =
            serde_json::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
        let format = if input["format"] == "CSV" {
            "CSV"
        } else {
            "JSON"
        };
        let stem = example.file_stem().unwrap().to_string_lossy().into_owned();
        let file = dir
            .path()
            .join(format!("{stem}.{}", format.to_ascii_lowercase()));
        std::fs::write(&file, input["data"].as_str().unwrap()).unwrap();
        cases.push((stem, file, format, false, true));
    }
    // A broken file: a bad channel type on line 3, a missing Address on
    // line 5, a bad e-mail address on line 6.
    let broken = dir.path().join("broken.csv");
    std::fs::write(
        &broken,
        "ChannelType,Address,User.UserId\n\
         EMAIL,ana@example.com,ana\n\
         FAX,+12125551234,bo\n\
         SMS,+12125550000,cy\n\
         EMAIL,,dee\n\
         EMAIL,not-an-address,eve\n",
    )
    .unwrap();
    cases.push(("broken".into(), broken, "CSV", false, false));
    // A JSON array (staged as NDJSON).
    let array = dir.path().join("array.json");
    std::fs::write(
        &array,
        r#"[
  {"ChannelType": "EMAIL", "Address": "ana@example.com", "User": {"UserId": "ana"}},
  {"ChannelType": "SMS", "Address": "+12125551234", "Attributes": {"Interests": ["a", "b"]}}
]
"#,
    )
    .unwrap();
    cases.push(("array".into(), array, "JSON", false, true));
    // 100 MB of CSV.
    let large = dir.path().join("large.csv");
    let rows = large_csv(&large, 100 << 20);
    cases.push(("large".into(), large, "CSV", true, false));

    // What the CLI stages, and where the page's download goes, per case.
    let staged = |name: &str, by: &str| dir.path().join(format!("{name}.{by}.staged"));
    for (name, file, format, ..) in &cases {
        expected.push((
            name.clone(),
            cli_validate(file, format, &staged(name, "cli")),
        ));
    }
    assert_eq!(expected.last().unwrap().1["endpoint_count"], rows as u64);

    let server = Server::start();
    let spec = json!({
        "url": server.url,
        "executable": CHROMIUM,
        "cases": cases.iter().map(|(name, file, _, slow, download)| json!({
            "name": name, "file": file, "slow": slow,
            "saveTo": download.then(|| staged(name, "page")),
        })).collect::<Vec<_>>(),
    });
    let spec_file = dir.path().join("cases.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let out_file = dir.path().join("out.json");
    let shots = repo().join("target/web-screenshots");
    let out = Command::new("node")
        .arg(repo().join("host-test/tests/web/browser.mjs"))
        .arg(tools())
        .arg(&spec_file)
        .arg(&out_file)
        .arg(&shots)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): {INSTALL}"));
    assert!(
        out.status.success(),
        "the browser script failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), expected.len());
    for (page, (name, cli)) in results.iter().zip(&expected) {
        assert_eq!(page["name"], name.as_str());
        assert_same_as_cli(name, page, cli);
        eprintln!(
            "{name}: {} ms in the browser, {} progress values",
            page["elapsedMs"],
            page["progress"].as_array().unwrap().len()
        );
    }

    // Each download is, byte for byte, the file `validate --staged-file`
    // writes; the JSON array's is NDJSON, one endpoint object per line.
    for (name, file, format, _, download) in &cases {
        if !download {
            continue;
        }
        let page = std::fs::read(staged(name, "page")).unwrap();
        let cli = std::fs::read(staged(name, "cli")).unwrap();
        assert!(
            page == cli,
            "{name}: the page's download differs from the CLI's staged file"
        );
        let ext = if *format == "CSV" { "csv" } else { "json" };
        let stem = file.file_stem().unwrap().to_string_lossy();
        let result = results.iter().find(|r| r["name"] == name.as_str()).unwrap();
        assert_eq!(
            result["downloadName"],
            format!("{stem}.pinpoint.{ext}"),
            "{name}"
        );
    }
    let array = std::fs::read_to_string(staged("array", "page")).unwrap();
    let lines: Vec<&str> = array.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"ChannelType":"EMAIL","Address":"ana@example.com","User":{"UserId":"ana"}}"#,
            r#"{"ChannelType":"SMS","Address":"+12125551234","Attributes":{"Interests":["a","b"]}}"#,
        ],
        "the JSON array is staged as NDJSON"
    );
    assert!(array.ends_with('\n'), "{array:?}");

    // The broken file: the three problems at their lines and fields, each
    // with its line shown and the field marked.
    let broken = &results[3];
    let at = |line: u64| {
        broken["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["line"] == line)
            .unwrap_or_else(|| panic!("no problem on line {line}: {broken}"))
            .clone()
    };
    let (channel, address, email) = (at(3), at(5), at(6));
    assert_eq!(channel["field"], "ChannelType");
    assert_eq!(channel["kind"], "invalid-channel-type");
    assert_eq!(channel["source"], "FAX,+12125551234,bo");
    assert_eq!(channel["marked"], "FAX");
    assert_eq!(address["field"], "Address");
    assert_eq!(address["kind"], "missing-required-fields");
    assert_eq!(address["source"], "EMAIL,,dee");
    assert_eq!(email["field"], "Address");
    assert_eq!(email["marked"], "not-an-address");

    // Every request went to the page's own origin.
    let requests = report["requests"].as_array().unwrap();
    assert!(requests.len() >= 5, "{requests:?}");
    // (A download's `blob:` URL names an object in the page's memory.)
    let blob = format!("blob:{}", server.url.trim_end_matches('/'));
    for r in requests {
        let r = r.as_str().unwrap();
        assert!(r.starts_with(&server.url) || r.starts_with(&blob), "{r}");
    }
    let status = server.stop();
    assert_eq!(
        status.code(),
        Some(143),
        "SIGTERM stops the server with 143"
    );
}
