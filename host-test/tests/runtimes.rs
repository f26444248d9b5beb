//! The portable component in runtimes nobody here wrote: the stock wasmtime
//! CLI and Node.js through jco, against the emulator; and both components'
//! import lists. The tools come from `.ci/install-tools` (pinned); a missing
//! tool fails these tests with the command that installs it.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use host_test::emulated::{self, Emulator, EmulatorConfig};
use host_test::node::{COMPONENT, PORTABLE_COMPONENT};
use serde_json::Value;

const INSTALL: &str = "install the pinned test tools with `bash .ci/install-tools`";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The seed examples: (segment name, input as the CLI reads it, endpoints).
fn seed_examples() -> Vec<(String, Value, usize)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "three seed examples");
    files
        .iter()
        .map(|p| {
            let input: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            let name = input["segment_name"].as_str().unwrap().to_owned();
            let endpoints = endpoint_count(&input);
            (name, input, endpoints)
        })
        .collect()
}

/// Endpoints in an example: CSV rows after the header, or JSON array items.
fn endpoint_count(input: &Value) -> usize {
    let data = input["data"].as_str().unwrap();
    match input["format"].as_str().unwrap() {
        "CSV" => data.lines().filter(|l| !l.trim().is_empty()).count() - 1,
        _ => serde_json::from_str::<Vec<Value>>(data).unwrap().len(),
    }
}

/// The portable component written by the CLI (`pinpoint-import component
/// --portable`), as a user without a Rust toolchain gets it.
fn portable_wasm() -> &'static Path {
    static FILE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &FILE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("node-portable.wasm");
            let out = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
                .args(["component", "--portable", "--output"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            (dir, path)
        })
        .1
}

/// The environment that points the portable component at `endpoint` with
/// the emulator's bucket, role and keys.
fn environment(endpoint: &str) -> Vec<(&'static str, String)> {
    let mut env = emulated::environment(endpoint);
    env.push(("PINPOINT_IMPORT_POLL_INTERVAL_MS", "50".to_owned()));
    env
}

/// `text` as a WAVE string literal.
fn wave_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The node's input as a WAVE record for `--invoke`: the seed's four
/// fields, and `on-existing` when the input has `on_existing` (the option
/// field is left out otherwise, as WAVE allows).
fn wave_input(input: &Value) -> String {
    let on_existing = match input["on_existing"].as_str() {
        Some(value) => format!(", on-existing: some({})", value.replace('_', "-")),
        None => String::new(),
    };
    format!(
        "{{application-id: {}, segment-name: {}, format: {}, data: {}{on_existing}}}",
        wave_string(input["application_id"].as_str().unwrap()),
        wave_string(input["segment_name"].as_str().unwrap()),
        input["format"].as_str().unwrap().to_ascii_lowercase(),
        wave_string(input["data"].as_str().unwrap()),
    )
}

/// `wasmtime run -S http --env ... --invoke 'FUNCTION(INPUT)' node-portable.wasm`.
fn wasmtime(function: &str, input: &Value, env: &[(&str, String)]) -> Output {
    let mut command = Command::new("wasmtime");
    command.args(["run", "-S", "http"]);
    for (k, v) in env {
        command.arg("--env").arg(format!("{k}={v}"));
    }
    command
        .arg("--invoke")
        .arg(format!("{function}({})", wave_input(input)))
        .arg(portable_wasm())
        .stdin(Stdio::null());
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the wasmtime CLI ({e}): {INSTALL}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The value of `field: "..."` in WAVE text.
fn wave_field<'a>(wave: &'a str, field: &str) -> Option<&'a str> {
    let start = wave.find(&format!("{field}: \""))? + field.len() + 3;
    let len = wave[start..].find('"')?;
    Some(&wave[start..start + len])
}

async fn emulator() -> Emulator {
    Emulator::start(
        EmulatorConfig::default(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap()
}

/// Checks what a run of each seed example left in the emulator: one segment
/// of its name with its endpoints, and no staged object.
fn assert_imported(emulator: &Emulator, examples: &[(String, Value, usize)], ids: &[String]) {
    let segments = emulator.segments(emulated::SEED_APPLICATION_ID);
    for ((name, _, endpoints), id) in examples.iter().zip(ids) {
        let found: Vec<_> = segments.iter().filter(|s| &s.name == name).collect();
        assert_eq!(found.len(), 1, "one segment {name}: {segments:?}");
        assert_eq!(&found[0].id, id, "the id printed is the segment's");
        assert_eq!(found[0].size, *endpoints as u64, "endpoints of {name}");
    }
    assert_eq!(
        emulator.objects(emulated::DEFAULT_BUCKET),
        Vec::<String>::new(),
        "nothing staged is left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wasmtime_cli_imports_the_seed_examples() {
    let emulator = emulator().await;
    let env = environment(&emulator.endpoint_url());
    let examples = seed_examples();
    let mut ids = Vec::new();
    for (name, input, _) in &examples {
        let (input, env) = (input.clone(), env.clone());
        let out = tokio::task::spawn_blocking(move || wasmtime("run", &input, &env))
            .await
            .unwrap();
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {stdout}\n{}",
            text(&out.stderr)
        );
        assert!(stdout.starts_with("ok({"), "{name}: {stdout}");
        assert_eq!(
            wave_field(&stdout, "segment-name"),
            Some(name.as_str()),
            "{stdout}"
        );
        assert!(stdout.contains("job-status: completed"), "{stdout}");
        ids.push(wave_field(&stdout, "segment-id").unwrap().to_owned());
        // Log lines and progress went to stderr, one line each.
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("pinpoint-segment-import: progress: waiting-for-job"),
            "{stderr}"
        );
        assert!(
            !stderr.contains(emulated::DEFAULT_SECRET_ACCESS_KEY),
            "no secret in logs"
        );
    }
    assert_imported(&emulator, &examples, &ids);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wasmtime_cli_gets_typed_errors() {
    let emulator = emulator().await;
    let env = environment(&emulator.endpoint_url());
    let (_, mut input, _) = seed_examples().remove(0);
    input["data"] = Value::from("ChannelType,Address\nFAX,+12125551234\n");
    let bad = input.clone();
    let env2 = env.clone();
    let out = tokio::task::spawn_blocking(move || wasmtime("run", &bad, &env2))
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("err(invalid-channel-type({"), "{stdout}");
    assert!(stdout.contains("field: some(\"ChannelType\")"), "{stdout}");

    // A missing bucket is invalid-settings naming the variable.
    let no_bucket: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| *k != "PINPOINT_IMPORT_BUCKET")
        .collect();
    let (_, good, _) = seed_examples().remove(0);
    let out = tokio::task::spawn_blocking(move || wasmtime("run", &good, &no_bucket))
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("err(invalid-settings({"), "{stdout}");
    assert!(stdout.contains("PINPOINT_IMPORT_BUCKET"), "{stdout}");
    assert!(emulator.segments(emulated::SEED_APPLICATION_ID).is_empty());
}

#[test]
fn the_wasmtime_cli_validates_and_describes_offline() {
    // No environment at all: validate needs no settings and no network.
    for (name, input, endpoints) in seed_examples() {
        let out = wasmtime("validate", &input, &[]);
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with("ok({"),
            "{name}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("endpoint-count: {endpoints},")),
            "{stdout}"
        );
    }
    let out = Command::new("wasmtime")
        .args(["run", "-S", "http", "--invoke", "describe()"])
        .arg(portable_wasm())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the wasmtime CLI ({e}): {INSTALL}"));
    let described = text(&out.stdout);
    assert!(described.contains("import_pinpoint_segment"), "{described}");
    // The portable build says which world it is (WAVE escapes the quotes).
    assert!(
        described.contains(r#"\"world\":\"node-portable\""#),
        "{described}"
    );
}

/// `pinpoint-import emulator --port 0`, stopped on drop.
struct StandaloneEmulator {
    child: std::process::Child,
    url: String,
}

impl Drop for StandaloneEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn standalone_emulator() -> StandaloneEmulator {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(["emulator", "--port", "0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_once("listening at ")
                .map(|(_, u)| u.trim().to_owned())
        })
        .expect("the emulator says where it listens");
    // Keep draining stderr so the emulator never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    StandaloneEmulator { child, url }
}

#[test]
fn the_wasmtime_cli_against_the_standalone_emulator() {
    // The README's line, as a user types it: the emulator in one process,
    // the stock wasmtime CLI in another. A second run of the same input
    // finds the segment the first one made.
    let emulator = standalone_emulator();
    let env = environment(&emulator.url);
    for (name, input, _) in seed_examples() {
        let first = text(&wasmtime("run", &input, &env).stdout);
        assert!(first.starts_with("ok({"), "{name}: {first}");
        let again = text(&wasmtime("run", &input, &env).stdout);
        assert_eq!(
            wave_field(&again, "segment-id"),
            wave_field(&first, "segment-id"),
            "{again}"
        );
        assert!(again.contains("reused-existing-segment: true"), "{again}");
    }
}

#[test]
fn the_wasmtime_cli_makes_a_new_version_with_on_existing() {
    // Seed example 1 as a daily sync, then example 3's data under the same
    // name with `on-existing: some(new-version)`: the same segment, at
    // version 2.
    let emulator = standalone_emulator();
    let env = environment(&emulator.url);
    let examples = seed_examples();
    let mut day1 = examples[0].1.clone();
    day1["segment_name"] = "Daily_Sync_Wasmtime".into();
    let mut day2 = examples[2].1.clone();
    day2["segment_name"] = day1["segment_name"].clone();
    day2["on_existing"] = "new_version".into();
    let first = text(&wasmtime("run", &day1, &env).stdout);
    assert!(first.contains("created-segment: true"), "{first}");
    let second = text(&wasmtime("run", &day2, &env).stdout);
    assert!(second.starts_with("ok({"), "{second}");
    assert_eq!(
        wave_field(&second, "segment-id"),
        wave_field(&first, "segment-id"),
        "{second}"
    );
    assert!(second.contains("created-segment: false"), "{second}");
    assert!(second.contains("segment-version: some(2)"), "{second}");
    // The seed's four fields alone (no option): a duplicate, as described.
    let mut plain = day2.clone();
    plain.as_object_mut().unwrap().remove("on_existing");
    plain["data"] = examples[1].1["data"].clone();
    plain["format"] = examples[1].1["format"].clone();
    let duplicate = text(&wasmtime("run", &plain, &env).stdout);
    assert!(
        duplicate.starts_with("err(duplicate-segment-name("),
        "{duplicate}"
    );
}

/// The portable component transpiled by jco, with a Node script that calls
/// one export and prints `{"ok": ...}` or `{"err": {"tag", "val"}}`.
fn jco_module() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let tools = repo().join(".ci/tools/node_modules");
        let jco = tools.join(".bin/jco");
        assert!(jco.exists(), "jco is not installed: {INSTALL}");
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&tools, dir.path().join("node_modules")).unwrap();
        let out = Command::new(&jco)
            .args(["transpile", "--name", "node_component", "-q", "-o"])
            .arg(dir.path().join("out"))
            .arg(portable_wasm())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "jco transpile: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        std::fs::write(
            dir.path().join("call.mjs"),
            r#"import { node } from './out/node_component.js';
const [fn, json] = process.argv.slice(2);
const show = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? Number(x) : x));
try {
  const input = JSON.parse(json);
  console.log(show({ ok: node[fn](input) }));
} catch (e) {
  if (e && e.payload) console.log(show({ err: e.payload }));
  else { console.error(e); process.exit(3); }
}
"#,
        )
        .unwrap();
        dir
    })
    .path()
}

/// Calls `function` of the transpiled component in Node with `env`.
fn node_call(function: &str, input: &Value, env: &[(&str, String)]) -> Value {
    let js_input = serde_json::json!({
        "applicationId": input["application_id"],
        "segmentName": input["segment_name"],
        "format": input["format"].as_str().unwrap().to_ascii_lowercase(),
        "data": input["data"],
    });
    let dir = jco_module();
    let out = Command::new("node")
        .current_dir(dir)
        .arg("call.mjs")
        .arg(function)
        .arg(js_input.to_string())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e})"));
    let stdout = text(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("node printed no result: {stdout}\n{}", text(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread")]
async fn node_and_jco_import_the_seed_examples_and_get_typed_errors() {
    let emulator = emulator().await;
    let env = environment(&emulator.endpoint_url());
    let examples = seed_examples();
    let mut ids = Vec::new();
    for (name, input, endpoints) in &examples {
        let (input, env) = (input.clone(), env.clone());
        let result = tokio::task::spawn_blocking(move || node_call("run", &input, &env))
            .await
            .unwrap();
        let out = &result["ok"];
        assert_eq!(out["segmentName"], name.as_str(), "{result}");
        assert_eq!(out["jobStatus"], "completed", "{result}");
        assert_eq!(out["endpointsSubmitted"], *endpoints, "{result}");
        ids.push(out["segmentId"].as_str().unwrap().to_owned());
    }
    assert_imported(&emulator, &examples, &ids);

    let (_, mut bad, _) = seed_examples().remove(0);
    bad["data"] = Value::from("ChannelType,Address\nEMAIL\n");
    let result = tokio::task::spawn_blocking(move || node_call("run", &bad, &env))
        .await
        .unwrap();
    assert_eq!(result["err"]["tag"], "malformed-data", "{result}");
    assert!(
        result["err"]["val"]["totalProblems"].as_u64() >= Some(1),
        "{result}"
    );
}

/// The component's imports, by name.
fn imports(bytes: &[u8]) -> BTreeSet<String> {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::new(&engine, bytes).unwrap();
    component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn the_portable_component_imports_only_stable_wasi() {
    let allowed = [
        "wasi:http/",
        "wasi:io/",
        "wasi:clocks/",
        "wasi:random/",
        "wasi:cli/",
    ];
    for name in imports(PORTABLE_COMPONENT) {
        let (interface, version) = name.split_once('@').unwrap_or((&name, ""));
        if interface == "pinpoint:segment-import/types" {
            continue; // types only: runtimes satisfy it without code
        }
        assert!(
            allowed.iter().any(|p| interface.starts_with(p)),
            "the portable component imports {name}"
        );
        let stable =
            version.starts_with("0.2.") && version[4..].chars().all(|c| c.is_ascii_digit());
        assert!(stable, "{name} is not a stable WASI 0.2 version");
    }
}

/// The import list `docs/embedding.md` documents under `<!-- marker -->`.
fn documented_imports(marker: &str) -> BTreeSet<String> {
    let page = std::fs::read_to_string(repo().join("docs/embedding.md")).unwrap();
    let start = page
        .find(&format!("<!-- {marker} -->"))
        .unwrap_or_else(|| panic!("docs/embedding.md has no list {marker}"));
    let block = &page[start..];
    let block = &block[block.find("```text").unwrap() + 7..];
    let block = &block[..block.find("```").unwrap()];
    block.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn both_components_import_what_the_docs_document() {
    assert_eq!(
        imports(COMPONENT),
        documented_imports("full-component-imports")
    );
    assert_eq!(
        imports(PORTABLE_COMPONENT),
        documented_imports("portable-component-imports")
    );
}
