//! AWS credentials for the node, found as AWS tools find them: the standard
//! environment variables, then the shared credentials and config files with
//! `AWS_PROFILE`. Static keys only: `credential_process`, SSO and role
//! chaining are named in the error (an embedding runtime can implement
//! [`CredentialsProvider`] with its own chain).
//!
//! The one credentials type is the AWS SDK's [`Credentials`], whose `Debug`
//! never shows the secret or the session token.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use aws_credential_types::Credentials;

/// The largest shared config or credentials file read (a real one is a few KB).
pub const MAX_PROFILE_FILE_BYTES: u64 = 1 << 20;

/// Where the component's `get-credentials` import gets its answer. Called
/// before every signature, so an implementation may rotate credentials.
pub trait CredentialsProvider: Send + Sync {
    /// Current credentials, or why there are none (never containing a secret).
    fn credentials(&self) -> Result<Credentials, String>;
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
    fn credentials(&self) -> Result<Credentials, String> {
        Ok(self.0.clone())
    }
}

/// The standard chain, resolved once: environment, then profile files.
#[derive(Debug, Clone)]
pub struct StandardChain {
    found: Result<Credentials, String>,
}

impl StandardChain {
    /// Resolves credentials from `env` (a lookup of environment variables).
    pub fn resolve(env: impl Fn(&str) -> Option<String>) -> Self {
        StandardChain {
            found: resolve(&env),
        }
    }

    /// Resolves credentials from the process environment.
    pub fn from_process_env() -> Self {
        Self::resolve(|k| std::env::var(k).ok())
    }
}

impl CredentialsProvider for StandardChain {
    fn credentials(&self) -> Result<Credentials, String> {
        self.found.clone()
    }
}

fn non_empty(env: &impl Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn keys(id: &str, secret: &str, token: Option<&String>, source: &'static str) -> Credentials {
    Credentials::new(id, secret, token.cloned(), None, source)
}

fn resolve(env: &impl Fn(&str) -> Option<String>) -> Result<Credentials, String> {
    if let (Some(id), Some(secret)) = (
        non_empty(env, "AWS_ACCESS_KEY_ID"),
        non_empty(env, "AWS_SECRET_ACCESS_KEY"),
    ) {
        let token = non_empty(env, "AWS_SESSION_TOKEN");
        return Ok(keys(&id, &secret, token.as_ref(), "environment"));
    }
    let profile = non_empty(env, "AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let home = non_empty(env, "HOME").map(PathBuf::from);
    let credentials_file = non_empty(env, "AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
    let config_file = non_empty(env, "AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
    // The credentials file names sections `[name]`; the config file `[profile name]`
    // (and `[default]`).
    let sources = [
        (credentials_file, profile.clone()),
        (config_file, config_section(&profile)),
    ];
    for (file, section) in sources {
        let Some(file) = file else { continue };
        let Some(values) = read_section(&file, &section)? else {
            continue;
        };
        if let (Some(id), Some(secret)) = (
            values.get("aws_access_key_id"),
            values.get("aws_secret_access_key"),
        ) {
            return Ok(keys(id, secret, values.get("aws_session_token"), "profile"));
        }
        if values.contains_key("credential_process")
            || values.contains_key("sso_session")
            || values.contains_key("role_arn")
        {
            return Err(format!(
                "profile {profile} uses credential_process, SSO or a role, which this host does not resolve; export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (e.g. with `aws configure export-credentials --format env`)"
            ));
        }
    }
    Err(format!(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile {profile} with static keys in ~/.aws/credentials"
    ))
}

fn config_section(profile: &str) -> String {
    if profile == "default" {
        profile.to_owned()
    } else {
        format!("profile {profile}")
    }
}

/// The `key = value` pairs of `[section]` in an AWS INI file: `Ok(None)` when
/// the file or the section is absent, an error when the file is too large or
/// unreadable as text.
fn read_section(path: &Path, section: &str) -> Result<Option<HashMap<String, String>>, String> {
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(None);
    };
    let mut text = String::new();
    let read = file
        .take(MAX_PROFILE_FILE_BYTES + 1)
        .read_to_string(&mut text);
    match read {
        Ok(n) if n as u64 > MAX_PROFILE_FILE_BYTES => Err(format!(
            "{} is larger than {} KiB: not an AWS config or credentials file",
            path.display(),
            MAX_PROFILE_FILE_BYTES >> 10
        )),
        Ok(_) => Ok(parse_section(&text, section)),
        // A directory, or a file that is not UTF-8: not a profile file.
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The region of the active profile in the config file, as AWS tools read it.
pub fn profile_region(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let profile = non_empty(&env, "AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let file = non_empty(&env, "AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| non_empty(&env, "HOME").map(|h| PathBuf::from(h).join(".aws/config")))?;
    read_section(&file, &config_section(&profile))
        .ok()
        .flatten()?
        .get("region")
        .cloned()
}

fn parse_section(text: &str, section: &str) -> Option<HashMap<String, String>> {
    let mut current: Option<String> = None;
    let mut values = HashMap::new();
    let mut found = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.split_whitespace().collect::<Vec<_>>().join(" "));
            found |= current.as_deref() == Some(section);
            continue;
        }
        if current.as_deref() == Some(section)
            && let Some((k, v)) = line.split_once('=')
        {
            values.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    found.then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn environment_variables_come_first() {
        let c = StandardChain::resolve(env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "SECRET"),
            ("AWS_SESSION_TOKEN", "TOKEN"),
        ]))
        .credentials()
        .unwrap();
        assert_eq!(c.session_token(), Some("TOKEN"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("TOKEN"),
            "{shown}"
        );
    }

    #[test]
    fn profiles_from_the_shared_files() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        std::fs::write(&creds, "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n\n[work]\naws_access_key_id=A2\naws_secret_access_key=S2\naws_session_token=T2\n").unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[profile work]\nregion = eu-west-1\n[profile sso]\nsso_session = x\n",
        )
        .unwrap();
        let file = creds.to_str().unwrap();
        let conf = config.to_str().unwrap();
        let base = [
            ("AWS_SHARED_CREDENTIALS_FILE", file),
            ("AWS_CONFIG_FILE", conf),
        ];
        let default = StandardChain::resolve(env(&base)).credentials().unwrap();
        assert_eq!(default.access_key_id(), "A1");
        let work = [base[0], base[1], ("AWS_PROFILE", "work")];
        let c = StandardChain::resolve(env(&work)).credentials().unwrap();
        assert_eq!((c.access_key_id(), c.session_token()), ("A2", Some("T2")));
        assert_eq!(profile_region(env(&work)).as_deref(), Some("eu-west-1"));
        let sso = [base[0], base[1], ("AWS_PROFILE", "sso")];
        assert!(
            StandardChain::resolve(env(&sso))
                .credentials()
                .unwrap_err()
                .contains("SSO")
        );
        let none = [base[0], base[1], ("AWS_PROFILE", "missing")];
        assert!(StandardChain::resolve(env(&none)).credentials().is_err());
    }

    #[test]
    fn an_endless_profile_file_is_refused_not_read_to_the_end() {
        // /dev/zero never ends: reading it whole would take all memory.
        let c = StandardChain::resolve(env(&[("AWS_SHARED_CREDENTIALS_FILE", "/dev/zero")]))
            .credentials()
            .unwrap_err();
        assert!(c.contains("/dev/zero"), "{c}");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("credentials");
        std::fs::write(&big, "#".repeat(MAX_PROFILE_FILE_BYTES as usize + 10)).unwrap();
        let c = StandardChain::resolve(env(&[(
            "AWS_SHARED_CREDENTIALS_FILE",
            big.to_str().unwrap(),
        )]))
        .credentials()
        .unwrap_err();
        assert!(c.contains("larger than"), "{c}");
    }
}
