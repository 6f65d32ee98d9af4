//! Keeping credentials out of everything the CLI prints.
//!
//! The client's own errors never contain a URL or a token. What the CLI prints can
//! still hold what the user typed: a usage error quotes a misplaced argument, which
//! may be a pasted webhook URL. Every message for stderr goes through a [`Redactor`]
//! that knows the credentials of this run (from the arguments and the environment)
//! and blanks them out.

use std::ffi::OsString;

/// What replaces a credential.
pub(crate) const REDACTED: &str = "[redacted]";

/// Blanks out the credentials of this run in a text.
#[derive(Default)]
pub(crate) struct Redactor {
    /// Longest first, so a whole URL goes before the secret inside it.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// The options whose value is a credential.
const SECRET_FLAGS: &[&str] = &["--webhook", "--access-token"];
/// The environment variables whose value is a credential.
const SECRET_VARS: &[&str] = &["B24_WEBHOOK_URL", "B24_ACCESS_TOKEN"];

impl Redactor {
    /// The credentials in `args` (the command line) and in the environment.
    pub(crate) fn new(args: &[OsString]) -> Self {
        let env = SECRET_VARS
            .iter()
            .filter_map(|name| std::env::var(name).ok());
        Self::from_parts(args, env)
    }

    /// The credentials in `args` and in `env_values` (the values of the credential
    /// variables).
    pub(crate) fn from_parts(
        args: &[OsString],
        env_values: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut found: Vec<String> = env_values.into_iter().collect();
        let mut after_flag = false;
        for arg in args.iter().map(|a| a.to_string_lossy()) {
            if after_flag {
                found.push(arg.to_string());
            }
            after_flag = SECRET_FLAGS.contains(&arg.as_ref());
            for flag in SECRET_FLAGS {
                if let Some(value) = arg.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
                    found.push(value.to_owned());
                }
            }
            // A webhook URL pasted anywhere else (a misplaced argument).
            if arg.to_ascii_lowercase().contains("/rest/") {
                found.push(arg.to_string());
            }
        }
        let mut secrets = Vec::new();
        for value in found {
            let value = value.trim().to_owned();
            if let Some(secret) = webhook_secret(&value) {
                secrets.push(secret.to_owned());
            }
            secrets.push(value);
        }
        // Very short values would blank out ordinary words; a real secret is longer.
        secrets.retain(|s| s.len() >= 4);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` with every credential replaced by [`REDACTED`].
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

/// The secret path segment of a webhook URL: the one after `/rest/[api/]USER/`.
fn webhook_secret(url: &str) -> Option<&str> {
    let mut segments = url
        .split(['/', '?', '#'])
        .skip_while(|s| !s.eq_ignore_ascii_case("rest"));
    segments.next()?;
    let mut next = segments.next()?;
    if next.eq_ignore_ascii_case("api") {
        next = segments.next()?;
    }
    let _user = next;
    segments.next().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn blanks_flags_env_and_pasted_urls() {
        let r = Redactor::from_parts(
            &args(&[
                "b24",
                "--webhook",
                "https://a.bitrix24.com/rest/1/s3cr3tc0de/",
                "--access-token=t0k3nvalue",
                "https://b.example/rest/api/2/an0th3rs3cr3t",
            ]),
            ["https://c.example/rest/3/envs3cr3t/".to_owned()],
        );
        let text = "x https://a.bitrix24.com/rest/1/s3cr3tc0de/ y s3cr3tc0de t0k3nvalue \
                    an0th3rs3cr3t envs3cr3t";
        let clean = r.redact(text);
        for secret in ["s3cr3tc0de", "t0k3nvalue", "an0th3rs3cr3t", "envs3cr3t"] {
            assert!(!clean.contains(secret), "{clean}");
        }
        assert!(clean.starts_with("x [redacted] y"), "{clean}");
    }

    #[test]
    fn finds_the_secret_segment() {
        assert_eq!(webhook_secret("https://h/rest/1/abc/"), Some("abc"));
        assert_eq!(webhook_secret("https://h/rest/api/1/abc"), Some("abc"));
        assert_eq!(webhook_secret("https://h/rest/1/"), None);
        assert_eq!(webhook_secret("https://h/other"), None);
    }
}
