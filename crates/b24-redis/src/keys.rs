//! Key names: `{prefix}{{host}}:...`, the host in a hash tag.

use std::fmt::Write as _;

/// Writes `part` into `out`, percent-encoding every byte outside
/// `A-Z a-z 0-9 . - _ :` (so no part can open or close a hash tag, nor hold a space
/// or a control character).
fn push_escaped(out: &mut String, part: &str) {
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The key names of one portal host under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostKeys {
    /// `{prefix}{{host}}:` with the host escaped.
    base: String,
}

impl HostKeys {
    pub(crate) fn new(prefix: &str, host: &str) -> Self {
        let mut base = String::with_capacity(prefix.len() + host.len() + 4);
        base.push_str(prefix);
        base.push('{');
        push_escaped(&mut base, &host.to_ascii_lowercase());
        base.push_str("}:");
        Self { base }
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.base.clone();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                key.push(':');
            }
            push_escaped(&mut key, part);
        }
        key
    }

    /// The request bucket.
    pub(crate) fn bucket(&self) -> String {
        self.key(&["bucket"])
    }

    /// What the host's answers showed about `Idempotency-Key`.
    pub(crate) fn key_support(&self) -> String {
        self.key(&["keys"])
    }

    /// The operating budget of one method in one budget scope.
    pub(crate) fn budget(&self, scope: &str, method: &str) -> String {
        let mut key = self.key(&["budget", scope]);
        key.push(':');
        push_escaped(&mut key, method);
        key
    }

    /// The token pair of one credential.
    pub(crate) fn tokens(&self, credential: &str) -> String {
        self.key(&["tokens", credential])
    }

    /// The refresh lease of one credential's token pair.
    pub(crate) fn lease(&self, credential: &str) -> String {
        self.key(&["lease", credential])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let k = HostKeys::new("b24:", "Example.Bitrix24.com");
        assert_eq!(k.bucket(), "b24:{example.bitrix24.com}:bucket");
        assert_eq!(k.key_support(), "b24:{example.bitrix24.com}:keys");
        assert_eq!(
            k.budget("webhook:1:9f86d081884c7d65", "tasks.task.result.add"),
            "b24:{example.bitrix24.com}:budget:webhook:1:9f86d081884c7d65:tasks.task.result.add"
        );
        assert_eq!(
            k.tokens("oauth:user:67"),
            "b24:{example.bitrix24.com}:tokens:oauth:user:67"
        );
        assert_eq!(k.lease("oauth"), "b24:{example.bitrix24.com}:lease:oauth");
    }

    #[test]
    fn braces_and_spaces_are_escaped() {
        let k = HostKeys::new("p:", "a}b{c d");
        assert_eq!(k.bucket(), "p:{a%7Db%7Bc%20d}:bucket");
        assert_eq!(
            k.tokens("oauth:{x}"),
            "p:{a%7Db%7Bc%20d}:tokens:oauth:%7Bx%7D"
        );
    }
}
