//! AWS credentials for the node, found as the AWS CLI and SDKs find them: the
//! AWS SDK for Rust's default chain (`aws-config`), with its order and its
//! providers. [`StandardChain`] tries, first to last:
//!
//! 1. **Environment**: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!    `AWS_SESSION_TOKEN`;
//! 2. **Profile**: the profile (`--profile`, else `AWS_PROFILE`, else
//!    `default`) of `~/.aws/config` and `~/.aws/credentials`
//!    (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`): static keys,
//!    `credential_process`, IAM Identity Center (`sso_session` / `sso_*`, with
//!    the token cache `aws sso login` writes), `role_arn` with
//!    `source_profile` or `credential_source` (STS `AssumeRole`), and
//!    `web_identity_token_file`;
//! 3. **WebIdentityToken**: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`
//!    (EKS, CI systems; STS `AssumeRoleWithWebIdentity`);
//! 4. **EcsContainer**: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or
//!    `_FULL_URI` (ECS, EKS Pod Identity);
//! 5. **Ec2InstanceMetadata**: IMDSv2 (off with `AWS_EC2_METADATA_DISABLED=true`;
//!    elsewhere with `AWS_EC2_METADATA_SERVICE_ENDPOINT`).
//!
//! These are `aws-config`'s own providers, assembled in the order of its
//! `DefaultCredentialsChain` (and with its rule: a source that has nothing
//! passes to the next, a source that fails ends the chain), rather than that
//! type itself, so that a failure can name the source that failed.
//!
//! **Sync and async.** The component's `get-credentials` import is a plain
//! (blocking) WIT function, but the host binds it as an *async* host function
//! (`bindgen!`'s `imports` option in [`crate::bindings`]): wasmtime suspends
//! the guest's call on the run's async store while the host awaits
//! [`CredentialsProvider::credentials`]. So a refresh can run a
//! `credential_process`, or ask SSO, STS, a container or instance-metadata
//! endpoint, without blocking a thread of the executor and without any
//! background task; and `get-credentials`, which the component calls before
//! every signature, always gets credentials that are valid now.
//!
//! **Caching and refresh.** The chain's providers do not cache (the SDK's
//! clients cache in front of them); [`StandardChain`] does, as they do:
//! credentials without an expiry are kept for the whole run; credentials with
//! one are kept until [`StandardChain::refresh_before_expiry`] (5 minutes)
//! before it, or half their lifetime for short-lived ones, and then fetched
//! again from the start of the chain. One refresh at a time: concurrent
//! callers wait for it.
//!
//! **Errors.** A chain that produces nothing is a [`NoCredentials`] naming the
//! profile and the source that failed (the component reports it as
//! `PermissionDenied`); a broken profile (a `source_profile` that does not
//! exist, a role without a source, ...) is marked
//! [`NoCredentials::broken_configuration`] and is `InvalidSettings`, found
//! before the run starts ([`crate::node::NodeHost::run`]).
//!
//! **Egress.** The chain's HTTP (SSO, STS, container and instance-metadata
//! endpoints) is the host's, not the component's: it does not pass through
//! the run's egress policy. Every source the chain tries, and the endpoint it
//! may reach, is reported to [`StandardChain::on_log`] (the CLI shows it
//! with `-v`).
//!
//! The one credentials type is the AWS SDK's [`Credentials`], whose `Debug`
//! never shows the secret or the session token. No message here contains a
//! secret: errors are the SDK's, which name files, profiles and keys, not
//! values.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::profile::region::ProfileFileRegionProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_http_client::tls;

pub use aws_credential_types::Credentials;

/// The largest shared config or credentials file the host lets the chain
/// read (a real one is a few KB): a larger one, or one that is not a regular
/// file, is a broken configuration, not read to its end.
pub const MAX_PROFILE_FILE_BYTES: u64 = 1 << 20;

/// What [`CredentialsProvider::credentials`] returns.
pub type CredentialsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, NoCredentials>> + Send + 'a>>;

/// Why a provider has no credentials. Its message never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoCredentials {
    /// What failed: the profile, the source, the reason.
    pub message: String,
    /// The configuration cannot work (a broken profile): the run is
    /// `InvalidSettings` rather than `PermissionDenied`.
    pub broken_configuration: bool,
}

impl NoCredentials {
    /// No credentials now (the run is `PermissionDenied`).
    pub fn unavailable(message: impl Into<String>) -> Self {
        NoCredentials {
            message: message.into(),
            broken_configuration: false,
        }
    }

    /// A configuration that cannot work (the run is `InvalidSettings`).
    pub fn broken(message: impl Into<String>) -> Self {
        NoCredentials {
            message: message.into(),
            broken_configuration: true,
        }
    }
}

impl fmt::Display for NoCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NoCredentials {}

/// Where the component's `get-credentials` import gets its answer. Called
/// before every signature (and once before a run), so an implementation may
/// rotate credentials; the call is awaited on the run's async store.
pub trait CredentialsProvider: Send + Sync {
    /// Credentials valid now, or why there are none.
    fn credentials(&self) -> CredentialsFuture<'_>;
}

/// Fixed credentials.
#[derive(Debug, Clone)]
pub struct Static(pub Credentials);

impl Static {
    /// Long-term keys, or temporary ones with a session token.
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Self {
        Static(Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.map(str::to_owned),
            None,
            "static",
        ))
    }
}

impl CredentialsProvider for Static {
    fn credentials(&self) -> CredentialsFuture<'_> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
}

/// Where [`StandardChain`] reports what it does (never a secret).
pub type ChainLog = Arc<dyn Fn(&str) + Send + Sync>;

/// The AWS SDK's default credential chain (see the module doc), cached and
/// refreshed before expiry.
pub struct StandardChain {
    profile: Option<String>,
    region: Option<String>,
    refresh_before_expiry: Duration,
    log: Option<ChainLog>,
    sources: tokio::sync::OnceCell<Vec<(&'static str, SharedCredentialsProvider)>>,
    cached: Mutex<Option<Cached>>,
    /// Sources that had nothing: not asked again by this chain (the SDK's
    /// profile provider answers only its first call when its profile is
    /// unusable, and the environment does not change during a run).
    had_nothing: Mutex<Vec<(&'static str, String)>>,
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Cached {
    credentials: Credentials,
    /// When to fetch again (`None`: credentials that do not expire).
    refresh_at: Option<SystemTime>,
}

impl fmt::Debug for StandardChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandardChain")
            .field("profile", &self.profile_name())
            .field("region", &self.region)
            .field("refresh_before_expiry", &self.refresh_before_expiry)
            .finish_non_exhaustive()
    }
}

impl StandardChain {
    /// The chain for `profile` (`None`: `AWS_PROFILE`, else `default`), from
    /// the process environment and files.
    pub fn new(profile: Option<String>) -> Self {
        StandardChain {
            profile: profile.filter(|p| !p.trim().is_empty()),
            region: None,
            refresh_before_expiry: Duration::from_secs(300),
            log: None,
            sources: tokio::sync::OnceCell::new(),
            cached: Mutex::new(None),
            had_nothing: Mutex::new(Vec::new()),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The chain for the profile `AWS_PROFILE` (else `default`).
    pub fn from_process_env() -> Self {
        Self::new(None)
    }

    /// The region the chain's own requests use (STS, SSO): the run's region.
    /// Without it the SDK's region chain finds one.
    pub fn region(mut self, region: Option<String>) -> Self {
        self.region = region;
        self
    }

    /// How long before their expiry credentials are fetched again (at most
    /// half their lifetime). Default 5 minutes.
    pub fn refresh_before_expiry(mut self, margin: Duration) -> Self {
        self.refresh_before_expiry = margin;
        self
    }

    /// Where to report the sources tried, the endpoints they may reach and
    /// each refresh.
    pub fn on_log(mut self, log: ChainLog) -> Self {
        self.log = Some(log);
        self
    }

    /// The profile this chain reads.
    pub fn profile_name(&self) -> String {
        self.profile
            .clone()
            .or_else(|| non_empty_var("AWS_PROFILE"))
            .unwrap_or_else(|| "default".to_owned())
    }

    fn say(&self, message: &str) {
        if let Some(log) = &self.log {
            log(message);
        }
    }

    async fn sources(&self) -> &[(&'static str, SharedCredentialsProvider)] {
        self.sources
            .get_or_init(|| async {
                let region = match &self.region {
                    Some(r) => Some(Region::new(r.clone())),
                    None => resolve_region(self.profile.as_deref()).await,
                };
                let conf = provider_config().with_region(region);
                let mut profile = ProfileFileCredentialsProvider::builder().configure(&conf);
                if let Some(name) = &self.profile {
                    profile = profile.profile_name(name);
                }
                vec![
                    (
                        "Environment",
                        SharedCredentialsProvider::new(
                            EnvironmentVariableCredentialsProvider::new(),
                        ),
                    ),
                    ("Profile", SharedCredentialsProvider::new(profile.build())),
                    (
                        "WebIdentityToken",
                        SharedCredentialsProvider::new(
                            WebIdentityTokenCredentialsProvider::builder()
                                .configure(&conf)
                                .build(),
                        ),
                    ),
                    (
                        "EcsContainer",
                        SharedCredentialsProvider::new(
                            EcsCredentialsProvider::builder().configure(&conf).build(),
                        ),
                    ),
                    (
                        "Ec2InstanceMetadata",
                        SharedCredentialsProvider::new(
                            ImdsCredentialsProvider::builder().configure(&conf).build(),
                        ),
                    ),
                ]
            })
            .await
    }

    fn fresh(&self, now: SystemTime) -> Option<Credentials> {
        let cached = self.cached.lock().ok()?;
        let c = cached.as_ref()?;
        match c.refresh_at {
            Some(at) if now >= at => None,
            _ => Some(c.credentials.clone()),
        }
    }

    async fn fetch(&self) -> Result<Credentials, NoCredentials> {
        if let Some(c) = self.fresh(SystemTime::now()) {
            return Ok(c);
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(c) = self.fresh(SystemTime::now()) {
            return Ok(c);
        }
        let profile = self.profile_name();
        check_profile_files()
            .map_err(|m| NoCredentials::broken(format!("profile {profile}: {m}")))?;
        let skip = self
            .had_nothing
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let mut passed = Vec::new();
        for (name, source) in self.sources().await {
            if let Some((_, why)) = skip.iter().find(|(n, _)| n == name) {
                passed.push(why.clone());
                continue;
            }
            if let Some(reach) = reaches(name) {
                self.say(&format!(
                    "credentials: trying {name} (profile {profile}), which may contact {reach}: the host's own request, outside the run's egress policy"
                ));
            } else {
                self.say(&format!("credentials: trying {name} (profile {profile})"));
            }
            match source.provide_credentials().await {
                Ok(credentials) => {
                    let now = SystemTime::now();
                    let refresh_at = credentials.expiry().map(|expiry| {
                        let life = expiry.duration_since(now).unwrap_or_default();
                        expiry - self.refresh_before_expiry.min(life / 2)
                    });
                    let until = match credentials.expiry() {
                        Some(e) => format!(
                            ", expiring in {} s",
                            e.duration_since(now).unwrap_or_default().as_secs()
                        ),
                        None => String::new(),
                    };
                    self.say(&format!(
                        "credentials: from {name} (profile {profile}){until}"
                    ));
                    if let Ok(mut cached) = self.cached.lock() {
                        *cached = Some(Cached {
                            credentials: credentials.clone(),
                            refresh_at,
                        });
                    }
                    return Ok(credentials);
                }
                Err(e @ CredentialsError::CredentialsNotLoaded(_)) => {
                    // The profile's reason is worth showing (a missing
                    // profile or source profile); the others' is "not set".
                    let why = if *name == "Profile" {
                        format!("{name}: {}", not_loaded_reason(&e))
                    } else {
                        (*name).to_owned()
                    };
                    passed.push(why.clone());
                    if let Ok(mut s) = self.had_nothing.lock() {
                        s.push((name, why));
                    }
                }
                Err(e) => return Err(describe_failure(&profile, name, &e)),
            }
        }
        Err(NoCredentials::unavailable(format!(
            "no AWS credentials for profile {profile}: none of the sources had any ({}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure the profile (static keys, credential_process, SSO, a role)",
            passed.join("; ")
        )))
    }
}

impl CredentialsProvider for StandardChain {
    fn credentials(&self) -> CredentialsFuture<'_> {
        Box::pin(self.fetch())
    }
}

/// The endpoints a source may contact, for the log (`None`: no network).
fn reaches(source: &str) -> Option<String> {
    match source {
        "Profile" => Some(format!(
            "STS{} (a profile with role_arn or web_identity_token_file) or the IAM Identity Center portal{} (an SSO profile)",
            endpoint_override("AWS_ENDPOINT_URL_STS"),
            endpoint_override("AWS_ENDPOINT_URL_SSO"),
        )),
        "WebIdentityToken" => non_empty_var("AWS_WEB_IDENTITY_TOKEN_FILE").map(|_| {
            format!(
                "STS{} (AssumeRoleWithWebIdentity)",
                endpoint_override("AWS_ENDPOINT_URL_STS")
            )
        }),
        "EcsContainer" => non_empty_var("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .or_else(|| {
                non_empty_var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                    .map(|p| format!("http://169.254.170.2{p}"))
            })
            .map(|u| format!("the container credentials endpoint {}", strip_query(&u))),
        "Ec2InstanceMetadata" => {
            if non_empty_var("AWS_EC2_METADATA_DISABLED")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                None
            } else {
                Some(format!(
                    "the instance metadata service at {}",
                    non_empty_var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                        .unwrap_or_else(|| "http://169.254.169.254".to_owned())
                ))
            }
        }
        _ => None,
    }
}

/// An endpoint the environment sets for the chain's own clients, for the log
/// (`" at URL (VARIABLE)"`, or empty: the service's default endpoint, or one
/// from the config file). The SDK's provider clients always honour these
/// variables (aws-config's `ProviderConfig::client_config`).
fn endpoint_override(service_var: &str) -> String {
    [service_var, "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|var| non_empty_var(var).map(|url| format!(" at {} ({var})", strip_query(&url))))
        .unwrap_or_default()
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// A failing source as [`NoCredentials`]: the SDK's error and its causes.
fn describe_failure(profile: &str, source: &str, e: &CredentialsError) -> NoCredentials {
    let reason = aws_smithy_types::error::display::DisplayErrorContext(e).to_string();
    let message =
        format!("AWS credentials for profile {profile}: the source {source} failed: {reason}");
    match e {
        CredentialsError::InvalidConfiguration(_) => NoCredentials::broken(message),
        _ => NoCredentials::unavailable(message),
    }
}

/// The innermost cause of a "not loaded" answer (the SDK's own wording).
fn not_loaded_reason(e: &CredentialsError) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

fn non_empty_var(key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The shared config and credentials files, if set or present, are regular
/// files of at most [`MAX_PROFILE_FILE_BYTES`] (the SDK reads them whole).
fn check_profile_files() -> Result<(), String> {
    let home = non_empty_var("HOME").map(PathBuf::from);
    let files = [
        ("AWS_CONFIG_FILE", ".aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
    ];
    for (var, default) in files {
        let Some(path) = non_empty_var(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
        else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            return Err(format!(
                "{} is not a regular file: not an AWS config or credentials file",
                path.display()
            ));
        }
        if meta.len() > MAX_PROFILE_FILE_BYTES {
            return Err(format!(
                "{} is larger than {} KiB: not an AWS config or credentials file",
                path.display(),
                MAX_PROFILE_FILE_BYTES >> 10
            ));
        }
    }
    Ok(())
}

/// The SDK's provider configuration with its HTTPS client on rustls + ring.
fn provider_config() -> ProviderConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    ProviderConfig::without_region()
        .with_http_client(http)
        .with_behavior_version(Some(BehaviorVersion::latest()))
}

/// The region as the SDK finds it: `AWS_REGION` (or `AWS_DEFAULT_REGION`),
/// the profile's `region`, then instance metadata (unless disabled).
pub async fn resolve_region(profile: Option<&str>) -> Option<Region> {
    if check_profile_files().is_err() {
        return None;
    }
    let conf = provider_config();
    let mut from_profile = ProfileFileRegionProvider::builder().configure(&conf);
    if let Some(p) = profile {
        from_profile = from_profile.profile_name(p);
    }
    let chain = RegionProviderChain::first_try(
        aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(from_profile.build())
    .or_else(ImdsRegionProvider::builder().configure(&conf).build());
    chain.region().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_credentials_are_what_they_are_and_hide_the_secret() {
        let c = Static::new("AKID", "SECRET", Some("TOKEN"))
            .credentials()
            .await
            .unwrap();
        assert_eq!(c.session_token(), Some("TOKEN"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("TOKEN"),
            "{shown}"
        );
    }

    #[test]
    fn a_failure_names_profile_and_source_and_its_kind() {
        let broken = describe_failure(
            "work",
            "Profile",
            &CredentialsError::invalid_configuration("source profile `x` missing"),
        );
        assert!(broken.broken_configuration);
        assert!(broken.message.contains("profile work"), "{broken}");
        assert!(broken.message.contains("Profile"), "{broken}");
        let denied = describe_failure(
            "work",
            "EcsContainer",
            &CredentialsError::provider_error("connection refused"),
        );
        assert!(!denied.broken_configuration);
        assert!(denied.message.contains("EcsContainer"), "{denied}");
    }

    #[test]
    fn query_strings_of_container_urls_are_not_logged() {
        assert_eq!(
            strip_query("http://127.0.0.1:9/creds?token=abc"),
            "http://127.0.0.1:9/creds"
        );
    }
}
