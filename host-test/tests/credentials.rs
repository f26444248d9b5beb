//! The CLI's credentials through the AWS SDK's default chain, offline: each
//! test is a real `pinpoint-import run --aws -v` against the embedded
//! emulator, which accepts only the credentials the source under test hands
//! out (key, secret and session token), and no secret or token the test
//! hands out may appear on stdout or stderr.
//!
//! - a `credential_process` profile whose credentials expire during the job
//!   (refreshed), a broken profile (`InvalidSettings`), no credentials at all
//!   (`PermissionDenied`), environment variables winning over the profile;
//! - every source that needs a network service, against a local fake of that
//!   service on loopback, pointed at as the SDK allows:
//!   - STS `AssumeRole` for a `source_profile` role chain and STS
//!     `AssumeRoleWithWebIdentity` for `AWS_WEB_IDENTITY_TOKEN_FILE` +
//!     `AWS_ROLE_ARN` (`AWS_ENDPOINT_URL_STS`);
//!   - the IAM Identity Center portal's `GetRoleCredentials` for an
//!     `sso_session` profile and a legacy `sso_start_url` profile, with the
//!     token cache `aws sso login` writes (`AWS_ENDPOINT_URL_SSO`);
//!   - container credentials (`AWS_CONTAINER_CREDENTIALS_FULL_URI` on
//!     loopback, `AWS_CONTAINER_AUTHORIZATION_TOKEN`);
//!   - instance metadata, IMDSv2 (`AWS_EC2_METADATA_SERVICE_ENDPOINT`).
//!
//!   Each fake checks what the SDK must send (the signer, the bearer token
//!   from the cache, the web identity token from its file, the
//!   `Authorization` header, the IMDS session token) and each test checks
//!   that the `-v` log names the source that answered and the fake's URL.
//!
//! Not tested: refreshing an SSO token through SSO OIDC `CreateToken` (the
//! cached tokens here are valid for years; `AWS_ENDPOINT_URL_SSO_OIDC` would
//! point it at a fake), `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (the one
//! source that cannot be pointed at a fake: aws-config 1.13 roots it at the
//! constant `BASE_HOST = "http://169.254.170.2"`, `src/ecs.rs` lines 80 and
//! 241; it is the same provider and request as `_FULL_URI`, which is tested),
//! EKS Pod Identity's `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, and profiles
//! with `credential_source = Ec2InstanceMetadata` or `EcsContainer`.
//!
//! Every run clears the environment, points `HOME` at a temporary directory
//! and disables instance metadata (but for the IMDS test, which points it at
//! its fake): no test reaches beyond loopback. The fakes are plain HTTP/1.1
//! on 127.0.0.1, one bounded request per connection, and stop with the
//! test's runtime.

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
const ASSUMED_TOKEN: &str = "assumedSessionTokenNeverShown";
const SSO_ACCESS_TOKEN: &str = "ssoBearerTokenFromTheCacheNeverShown";
const SSO_SECRET: &str = "ssoRoleSecretNeverShown0000000000000000";
const SSO_SESSION_TOKEN: &str = "ssoRoleSessionTokenNeverShown";
const WEB_IDENTITY_TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaSJ9.webIdentityJwtNeverShown";
const WEB_SECRET: &str = "webIdentitySecretNeverShown000000000000";
const WEB_SESSION_TOKEN: &str = "webIdentitySessionTokenNeverShown";
const CONTAINER_AUTH_TOKEN: &str = "containerAuthorizationTokenNeverShown";
const CONTAINER_SECRET: &str = "containerSecretNeverShown00000000000000";
const CONTAINER_SESSION_TOKEN: &str = "containerSessionTokenNeverShown";
const IMDS_API_TOKEN: &str = "imdsApiTokenNeverShown==";
const IMDS_SECRET: &str = "imdsSecretNeverShown0000000000000000000";
const IMDS_SESSION_TOKEN: &str = "imdsSessionTokenNeverShown";
const SSO_REFRESH_TOKEN: &str = "ssoRefreshTokenNeverShown";
const SSO_CLIENT_SECRET: &str = "ssoClientSecretNeverShown";

/// Every secret and token the tests hand out: none may appear in output.
const SECRETS: &[&str] = &[
    PROC_SECRET,
    STATIC_SECRET,
    ASSUMED_SECRET,
    ENV_SECRET,
    ASSUMED_TOKEN,
    SSO_ACCESS_TOKEN,
    SSO_SECRET,
    SSO_SESSION_TOKEN,
    WEB_IDENTITY_TOKEN,
    WEB_SECRET,
    WEB_SESSION_TOKEN,
    CONTAINER_AUTH_TOKEN,
    CONTAINER_SECRET,
    CONTAINER_SESSION_TOKEN,
    IMDS_API_TOKEN,
    IMDS_SECRET,
    IMDS_SESSION_TOKEN,
    SSO_REFRESH_TOKEN,
    SSO_CLIENT_SECRET,
];

fn example() -> String {
    format!(
        "{}/../examples/1-customers-csv.json",
        env!("CARGO_MANIFEST_DIR")
    )
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
        // The cache the CLI uses by default, though HOME is the test's own.
        .env(
            "PINPOINT_IMPORT_CACHE_DIR",
            host_test::node::cache_dir().unwrap_or_else(|| "off".into()),
        )
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
    for secret in SECRETS {
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

/// One request a fake endpoint received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of a form or query parameter (`key=value&...`, no
    /// percent-decoding: the tests' values need none).
    fn param<'a>(text: &'a str, key: &str) -> Option<&'a str> {
        text.split('&')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }
}

/// What a fake endpoint answers: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// The requests a fake endpoint received, in order.
type Log = Arc<Mutex<Vec<Received>>>;

/// The largest request a fake endpoint reads (the SDK's are a few KB).
const MAX_REQUEST_BYTES: usize = 64 << 10;

/// A fake HTTP/1.1 endpoint on loopback: one request per connection, recorded,
/// answered by `answer`, the connection then closed. It lives on the test's
/// runtime and stops with it.
async fn fake_endpoint(
    answer: impl Fn(&Received) -> Answer + Send + Sync + 'static,
) -> (SocketAddr, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let answer = Arc::new(answer);
    let received = log.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (log, answer) = (received.clone(), answer.clone());
            tokio::spawn(async move {
                let Some(request) = read_request(&mut conn).await else {
                    return;
                };
                let (status, headers, body) = answer(&request);
                log.lock().unwrap().push(request);
                let mut response = format!("HTTP/1.1 {status} Fake\r\n");
                for (name, value) in headers {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                ));
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (addr, log)
}

/// The head, then a body of Content-Length bytes (at most
/// [`MAX_REQUEST_BYTES`] in all).
async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST_BYTES {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let mut lines = head.lines();
        let mut first = lines.next()?.split(' ');
        let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
            return Some(Received {
                method,
                target,
                headers,
                body,
            });
        }
    }
}

/// A fake STS on loopback: `AssumeRole` (signed) and
/// `AssumeRoleWithWebIdentity` (unsigned), each answered with fixed
/// credentials (ASIAASSUMED, ASIAWEBIDENTITY).
async fn fake_sts() -> (SocketAddr, Log) {
    fake_endpoint(|r| {
        let action = Received::param(&r.body, "Action").unwrap_or("");
        let (key, secret, token) = match action {
            "AssumeRole" => ("ASIAASSUMED", ASSUMED_SECRET, ASSUMED_TOKEN),
            "AssumeRoleWithWebIdentity" => ("ASIAWEBIDENTITY", WEB_SECRET, WEB_SESSION_TOKEN),
            _ => return (400, vec![], format!("unexpected action {action:?}")),
        };
        let body = format!(
            r#"<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result><Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/Importer/s</Arn><AssumedRoleId>AROATEST:s</AssumedRoleId></AssumedRoleUser></{action}Result><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></{action}Response>"#
        );
        (200, vec![("content-type", "text/xml".into())], body)
    })
    .await
}

/// The access key id that signed a request (`None`: unsigned).
fn signer(r: &Received) -> Option<String> {
    let auth = r.header("authorization")?;
    let credential = auth.split("Credential=").nth(1)?;
    credential.split('/').next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_profile_with_static_keys_assumes_the_role() {
    let assumed = Credentials::new(
        "ASIAASSUMED",
        ASSUMED_SECRET,
        Some(ASSUMED_TOKEN.into()),
        None,
        "test",
    );
    let emu = emulator(vec![assumed]).await;
    let (sts, received) = fake_sts().await;
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
    let signers: Vec<_> = received.lock().unwrap().iter().map(signer).collect();
    assert_eq!(signers, [Some("AKIDSTATICBASE".to_owned())], "{stderr}");
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

/// Temporary credentials the emulator accepts (key, secret and session
/// token must all match what the fake handed out).
fn temporary(key: &str, secret: &str, token: &str) -> Credentials {
    Credentials::new(key, secret, Some(token.to_owned()), None, "test")
}

/// The run succeeded, the log names the source that answered and the
/// endpoint it contacted, and no secret or token was shown.
fn assert_run_from(out: &Output, source: &str, contacted: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(json(out)["job_status"], "COMPLETED", "{stderr}");
    assert!(
        stderr.contains(&format!("credentials: from {source}")),
        "the log names {source}: {stderr}"
    );
    assert!(
        stderr.contains(contacted),
        "the log names {contacted}: {stderr}"
    );
    assert_no_secret(out);
}

/// The account and role of the SSO tests' profiles.
const SSO_ACCOUNT: &str = "123456789012";
const SSO_ROLE: &str = "Importer";

/// A fake IAM Identity Center portal (`GetRoleCredentials`): credentials
/// for [`SSO_ACCOUNT`] and [`SSO_ROLE`] to the bearer of
/// [`SSO_ACCESS_TOKEN`], 401 to anyone else, as the portal does.
async fn fake_sso_portal() -> (SocketAddr, Log) {
    fake_endpoint(|r| {
        let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
        if r.method != "GET"
            || path != "/federation/credentials"
            || Received::param(query, "account_id") != Some(SSO_ACCOUNT)
            || Received::param(query, "role_name") != Some(SSO_ROLE)
        {
            return (404, vec![], String::new());
        }
        if r.header("x-amz-sso_bearer_token") != Some(SSO_ACCESS_TOKEN) {
            return (
                401,
                vec![
                    ("content-type", "application/json".into()),
                    ("x-amzn-errortype", "UnauthorizedException".into()),
                ],
                r#"{"message":"Session token not found or invalid"}"#.into(),
            );
        }
        // 4070908800000 ms: 2099-01-01.
        let body = format!(
            r#"{{"roleCredentials":{{"accessKeyId":"ASIASSOROLE","secretAccessKey":"{SSO_SECRET}","sessionToken":"{SSO_SESSION_TOKEN}","expiration":4070908800000}}}}"#
        );
        (200, vec![("content-type", "application/json".into())], body)
    })
    .await
}

/// The token cache file `aws sso login` writes for `identifier` (the
/// session name, or the start URL for a legacy profile).
fn sso_cache_file(home: &Path, identifier: &str) -> PathBuf {
    use sha1::Digest;
    let name = hex::encode(sha1::Sha1::digest(identifier.as_bytes()));
    home.join(".aws/sso/cache").join(format!("{name}.json"))
}

/// The portal got exactly one `GetRoleCredentials`, with the cached token.
fn assert_one_role_credentials_call(received: &Log) {
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        received[0].header("x-amz-sso_bearer_token"),
        Some(SSO_ACCESS_TOKEN),
        "the bearer token is the cache's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sso_session_profile_gets_role_credentials_from_the_portal() {
    let emu = emulator(vec![temporary(
        "ASIASSOROLE",
        SSO_SECRET,
        SSO_SESSION_TOKEN,
    )])
    .await;
    let (portal, received) = fake_sso_portal().await;
    let home = tempfile::tempdir().unwrap();
    let start_url = "https://d-0000000000.awsapps.com/start";
    write(
        &home.path().join(".aws/config"),
        &format!(
            "[profile sso]\nsso_session = corp\nsso_account_id = {SSO_ACCOUNT}\nsso_role_name = {SSO_ROLE}\n\n\
             [sso-session corp]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n"
        ),
    );
    // As `aws sso login --sso-session corp` writes it: the access token
    // and, to refresh it through SSO OIDC when it nears its expiry, the
    // client registration (not used here: the token is valid for years).
    write(
        &sso_cache_file(home.path(), "corp"),
        &format!(
            r#"{{"startUrl": "{start_url}", "region": "us-east-1", "accessToken": "{SSO_ACCESS_TOKEN}", "expiresAt": "2099-01-01T00:00:00Z", "clientId": "fakeClientId", "clientSecret": "{SSO_CLIENT_SECRET}", "registrationExpiresAt": "2099-01-01T00:00:00Z", "refreshToken": "{SSO_REFRESH_TOKEN}"}}"#
        ),
    );
    let portal_url = format!("http://{portal}");
    let out = run_cli(
        &emu,
        home.path(),
        &["--profile", "sso"],
        &[("AWS_ENDPOINT_URL_SSO", portal_url.clone())],
    )
    .await;
    assert_run_from(&out, "Profile (profile sso)", &portal_url);
    assert_one_role_credentials_call(&received);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_sso_profile_gets_role_credentials_from_the_portal() {
    let emu = emulator(vec![temporary(
        "ASIASSOROLE",
        SSO_SECRET,
        SSO_SESSION_TOKEN,
    )])
    .await;
    let (portal, received) = fake_sso_portal().await;
    let home = tempfile::tempdir().unwrap();
    let start_url = "https://d-1111111111.awsapps.com/start";
    write(
        &home.path().join(".aws/config"),
        &format!(
            "[default]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_account_id = {SSO_ACCOUNT}\nsso_role_name = {SSO_ROLE}\n"
        ),
    );
    // The legacy cache is named after the start URL and has no refresh.
    write(
        &sso_cache_file(home.path(), start_url),
        &format!(
            r#"{{"startUrl": "{start_url}", "region": "us-east-1", "accessToken": "{SSO_ACCESS_TOKEN}", "expiresAt": "2099-01-01T00:00:00Z"}}"#
        ),
    );
    let portal_url = format!("http://{portal}");
    let out = run_cli(
        &emu,
        home.path(),
        &[],
        &[("AWS_ENDPOINT_URL_SSO", portal_url.clone())],
    )
    .await;
    assert_run_from(&out, "Profile (profile default)", &portal_url);
    assert_one_role_credentials_call(&received);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_identity_token_file_assumes_the_role_at_sts() {
    let emu = emulator(vec![temporary(
        "ASIAWEBIDENTITY",
        WEB_SECRET,
        WEB_SESSION_TOKEN,
    )])
    .await;
    let (sts, received) = fake_sts().await;
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("web-identity-token");
    write(&token_file, WEB_IDENTITY_TOKEN);
    let sts_url = format!("http://{sts}");
    let out = run_cli(
        &emu,
        home.path(),
        &[],
        &[
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                token_file.display().to_string(),
            ),
            (
                "AWS_ROLE_ARN",
                "arn:aws:iam::123456789012:role/CiImporter".into(),
            ),
            ("AWS_ROLE_SESSION_NAME", "ci-run-42".into()),
            ("AWS_ENDPOINT_URL_STS", sts_url.clone()),
        ],
    )
    .await;
    assert_run_from(&out, "WebIdentityToken (profile default)", &sts_url);
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let call = &received[0];
    assert_eq!(call.method, "POST");
    assert_eq!(signer(call), None, "AssumeRoleWithWebIdentity is unsigned");
    let form = |key| Received::param(&call.body, key);
    assert_eq!(form("Action"), Some("AssumeRoleWithWebIdentity"));
    assert_eq!(
        form("WebIdentityToken"),
        Some(WEB_IDENTITY_TOKEN),
        "the file's token"
    );
    assert_eq!(
        form("RoleArn"),
        Some("arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FCiImporter")
    );
    assert_eq!(form("RoleSessionName"), Some("ci-run-42"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_credentials_come_from_the_full_uri_with_the_authorization_token() {
    let emu = emulator(vec![temporary(
        "ASIACONTAINER",
        CONTAINER_SECRET,
        CONTAINER_SESSION_TOKEN,
    )])
    .await;
    let (endpoint, received) = fake_endpoint(|r| {
        if r.method != "GET" || r.target != "/creds" {
            return (404, vec![], String::new());
        }
        if r.header("authorization") != Some(CONTAINER_AUTH_TOKEN) {
            return (401, vec![], String::new());
        }
        let body = format!(
            r#"{{"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "{CONTAINER_SECRET}", "Token": "{CONTAINER_SESSION_TOKEN}", "Expiration": "2099-01-01T00:00:00Z"}}"#
        );
        (200, vec![("content-type", "application/json".into())], body)
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let uri = format!("http://{endpoint}/creds");
    let out = run_cli(
        &emu,
        home.path(),
        &[],
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.clone()),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                CONTAINER_AUTH_TOKEN.into(),
            ),
        ],
    )
    .await;
    assert_run_from(&out, "EcsContainer (profile default)", &uri);
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        received[0].header("authorization"),
        Some(CONTAINER_AUTH_TOKEN)
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_metadata_credentials_come_through_an_imdsv2_session() {
    let emu = emulator(vec![temporary(
        "ASIAINSTANCE",
        IMDS_SECRET,
        IMDS_SESSION_TOKEN,
    )])
    .await;
    const ROLE: &str = "ImporterInstanceRole";
    // As IMDS answers: a session token for a PUT with a TTL, 401 for a GET
    // without it, 404 for what it does not have (an instance has no
    // `security-credentials-extended/` unless asked for it).
    let (endpoint, received) = fake_endpoint(|r| {
        match (r.method.as_str(), r.target.as_str()) {
            ("PUT", "/latest/api/token") => {
                return match r.header("x-aws-ec2-metadata-token-ttl-seconds") {
                    Some(ttl) => (
                        200,
                        vec![("x-aws-ec2-metadata-token-ttl-seconds", ttl.to_owned())],
                        IMDS_API_TOKEN.to_owned(),
                    ),
                    None => (400, vec![], String::new()),
                };
            }
            ("GET", _) if r.header("x-aws-ec2-metadata-token") != Some(IMDS_API_TOKEN) => {
                return (401, vec![], String::new());
            }
            _ => {}
        }
        let credentials = format!("/latest/meta-data/iam/security-credentials/{ROLE}");
        match (r.method.as_str(), r.target.as_str()) {
            ("GET", "/latest/meta-data/iam/security-credentials/") => (200, vec![], ROLE.into()),
            ("GET", path) if path == credentials => (
                200,
                vec![],
                format!(
                    r#"{{"Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", "Type": "AWS-HMAC", "AccessKeyId": "ASIAINSTANCE", "SecretAccessKey": "{IMDS_SECRET}", "Token": "{IMDS_SESSION_TOKEN}", "Expiration": "2099-01-01T00:00:00Z"}}"#
                ),
            ),
            _ => (404, vec![], String::new()),
        }
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://{endpoint}");
    let out = run_cli(
        &emu,
        home.path(),
        &[],
        &[
            ("AWS_EC2_METADATA_DISABLED", "false".into()),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.clone()),
        ],
    )
    .await;
    assert_run_from(&out, "Ec2InstanceMetadata (profile default)", &url);
    let received = received.lock().unwrap().clone();
    let calls: Vec<(&str, &str)> = received
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/meta-data/iam/security-credentials/"),
            (
                "GET",
                "/latest/meta-data/iam/security-credentials/ImporterInstanceRole"
            ),
        ],
        "{received:?}"
    );
    assert!(
        received[0]
            .header("x-aws-ec2-metadata-token-ttl-seconds")
            .is_some()
    );
    for get in &received[1..] {
        assert_eq!(get.header("x-aws-ec2-metadata-token"), Some(IMDS_API_TOKEN));
    }
    emu.shutdown().await;
}
