//! The CLI's credentials through the AWS SDK's default chain, offline: a run
//! against the embedded emulator with a `credential_process` profile whose
//! credentials expire during the job (refreshed), a `source_profile` role
//! chain (static keys assuming a role at a local fake STS), a broken profile,
//! and environment variables winning over the profile.
//!
//! Every run clears the environment, points `HOME` at a temporary directory
//! and disables instance metadata: no test reaches beyond loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use host_test::credentials::Credentials;
use host_test::emulated::{self, Emulator, EmulatorConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROC_SECRET: &str = "procSecretNeverShown0000000000000000000";
const STATIC_SECRET: &str = "staticSourceSecretNeverShown00000000000";
const ASSUMED_SECRET: &str = "assumedSecretNeverShown0000000000000000";
const ENV_SECRET: &str = "envSecretNeverShown000000000000000000000";

fn example() -> String {
    format!(
        "{}/../examples/1-customers-csv.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The compiled-component cache the tests share (the CLI's default).
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PINPOINT_IMPORT_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("pinpoint-import"))
        .unwrap_or_else(|| std::env::temp_dir().join("pinpoint-import-cache"))
}

/// An emulator accepting `credentials`, moving jobs only when polled.
async fn emulator(credentials: Vec<Credentials>) -> Emulator {
    Emulator::start(
        EmulatorConfig {
            credentials,
            job_step: Duration::MAX,
            ..EmulatorConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap()
}

/// `pinpoint-import run --aws -v` against `emu` with only `vars` (and PATH).
async fn run_cli(emu: &Emulator, home: &Path, args: &[&str], vars: &[(&str, String)]) -> Output {
    let url = emu.endpoint_url();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
    cmd.args(["run", "--aws", "-v", "--input", &example()])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("PINPOINT_IMPORT_CACHE_DIR", cache_dir())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", emulated::DEFAULT_REGION)
        .env("AWS_ENDPOINT_URL_PINPOINT", &url)
        .env("AWS_ENDPOINT_URL_S3", &url)
        .env("PINPOINT_IMPORT_BUCKET", emulated::DEFAULT_BUCKET)
        .env("PINPOINT_IMPORT_ROLE_ARN", emulated::DEFAULT_ROLE_ARN);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn assert_no_secret(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [PROC_SECRET, STATIC_SECRET, ASSUMED_SECRET, ENV_SECRET] {
        assert!(!all.contains(secret), "a secret leaked:\n{all}");
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_process_credentials_are_refreshed_during_a_slow_job() {
    // Each run of the process prints new keys (AKIDPROC0001, 0002, ...)
    // that expire 2-3 s later; the emulator accepts the first 50.
    let keys: Vec<Credentials> = (1..=50)
        .map(|n| Credentials::new(format!("AKIDPROC{n:04}"), PROC_SECRET, None, None, "test"))
        .collect();
    let emu = emulator(keys).await;
    let home = tempfile::tempdir().unwrap();
    let counter = home.path().join("runs");
    let script = home.path().join("creds.sh");
    write(
        &script,
        &format!(
            r#"#!/bin/sh
echo x >> '{counter}'
n=$(wc -l < '{counter}' | tr -d ' ')
expires=$(date -u -d "@$(( $(date +%s) + 3 ))" +%Y-%m-%dT%H:%M:%SZ)
printf '{{"Version": 1, "AccessKeyId": "AKIDPROC%04d", "SecretAccessKey": "{PROC_SECRET}", "Expiration": "%s"}}\n' "$n" "$expires"
"#,
            counter = counter.display()
        ),
    );
    write(
        &home.path().join(".aws/config"),
        &format!(
            "[profile proc]\ncredential_process = sh {}\n",
            script.display()
        ),
    );
    // Five polls a second apart: the job takes about 5 s.
    let started = std::time::Instant::now();
    let out = run_cli(
        &emu,
        home.path(),
        &["--profile", "proc"],
        &[
            ("PINPOINT_IMPORT_POLL_INTERVAL_MS", "1000".into()),
            ("PINPOINT_IMPORT_POLL_MAX_INTERVAL_MS", "1000".into()),
        ],
    )
    .await;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(json(&out)["job_status"], "COMPLETED", "{stderr}");
    let runs = std::fs::read_to_string(&counter).unwrap().lines().count();
    let refreshes = stderr
        .matches("credentials: from Profile (profile proc)")
        .count();
    eprintln!("job took {took:?}; the process ran {runs} times; {refreshes} fetches logged");
    assert!(runs >= 2, "no refresh in {took:?}: {stderr}");
    assert_eq!(refreshes, runs, "{stderr}");
    assert_no_secret(&out);
    emu.shutdown().await;
}

/// A fake STS on loopback: answers `AssumeRole` with fixed credentials and
/// records the access key id that signed each request.
async fn fake_sts(signers: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let signers = signers.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Head, then the body of Content-Length bytes.
                loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            let credential = text
                                .split("Credential=")
                                .nth(1)
                                .and_then(|c| c.split('/').next())
                                .unwrap_or("")
                                .to_owned();
                            signers.lock().unwrap().push(credential);
                            break;
                        }
                    }
                }
                let body = format!(
                    r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>{ASSUMED_SECRET}</SecretAccessKey><SessionToken>assumedToken</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/Importer/s</Arn><AssumedRoleId>AROATEST:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></AssumeRoleResponse>"#
                );
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_profile_with_static_keys_assumes_the_role() {
    let assumed = Credentials::new(
        "ASIAASSUMED",
        ASSUMED_SECRET,
        Some("assumedToken".into()),
        None,
        "test",
    );
    let emu = emulator(vec![assumed]).await;
    let signers = Arc::new(Mutex::new(Vec::new()));
    let sts = fake_sts(signers.clone()).await;
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join(".aws/credentials"),
        &format!(
            "[base]\naws_access_key_id = AKIDSTATICBASE\naws_secret_access_key = {STATIC_SECRET}\n"
        ),
    );
    write(
        &home.path().join(".aws/config"),
        "[profile importer]\nrole_arn = arn:aws:iam::123456789012:role/Importer\nsource_profile = base\n",
    );
    let out = run_cli(
        &emu,
        home.path(),
        &[],
        &[
            ("AWS_PROFILE", "importer".into()),
            ("AWS_ENDPOINT_URL_STS", format!("http://{sts}")),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(json(&out)["job_status"], "COMPLETED");
    assert_eq!(*signers.lock().unwrap(), ["AKIDSTATICBASE"], "{stderr}");
    assert!(stderr.contains("STS"), "the log names STS: {stderr}");
    assert_no_secret(&out);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_profile_is_invalid_settings_naming_it() {
    let emu = emulator(vec![emulated::default_credentials()]).await;
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join(".aws/config"),
        "[profile broken]\nrole_arn = arn:aws:iam::123456789012:role/Importer\ncredential_source = Nowhere\n",
    );
    let out = run_cli(&emu, home.path(), &["--profile", "broken"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["error"]["type"], "InvalidSettings", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("profile broken"), "{message}");
    assert!(message.contains("Profile"), "names the source: {message}");
    assert!(emu.import_jobs(emulated::SEED_APPLICATION_ID).is_empty());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_anywhere_is_permission_denied_naming_the_profile() {
    let emu = emulator(vec![emulated::default_credentials()]).await;
    let home = tempfile::tempdir().unwrap();
    let out = run_cli(&emu, home.path(), &["--profile", "nobody"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["error"]["type"], "PermissionDenied", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("nobody"), "{message}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_variables_win_over_the_profile() {
    // The emulator accepts only the environment's keys: a run signed with
    // the profile's would be refused.
    let env_keys = Credentials::new("AKIDFROMENV", ENV_SECRET, None, None, "test");
    let emu = emulator(vec![env_keys]).await;
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join(".aws/credentials"),
        &format!(
            "[default]\naws_access_key_id = AKIDSTATICBASE\naws_secret_access_key = {STATIC_SECRET}\n"
        ),
    );
    let vars: BTreeMap<&str, String> = [
        ("AWS_ACCESS_KEY_ID", "AKIDFROMENV".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET.to_owned()),
    ]
    .into_iter()
    .collect();
    let vars: Vec<(&str, String)> = vars.into_iter().collect();
    let out = run_cli(&emu, home.path(), &[], &vars).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("credentials: from Environment"), "{stderr}");
    assert_no_secret(&out);
    emu.shutdown().await;
}
