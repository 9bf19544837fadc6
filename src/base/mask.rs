//! Keeping secret values out of every output.
//!
//! CI logs are public. Messages name fields and types; when a value must be shown (a Job name,
//! an image), it goes through [`display_value`], which masks credentials in URLs and truncates.

/// A mapping key as shown in a message: keys are names, not secrets, but are truncated.
pub(crate) fn key_for_display(key: &str) -> String {
    truncate(key, 64)
}

/// A value as shown in a message: passwords in URLs are masked and long values truncated.
pub(crate) fn display_value(value: &str) -> String {
    truncate(&mask_url_password(value), 96)
}

/// A free-form message that may quote input (a panic's) as shown: YAML in it masked as
/// unparsable source text is, passwords in URLs and the values after credential names
/// (`password: x`, `API_TOKEN=x`) masked; on one line, truncated to `max` characters.
pub(crate) fn message_for_display(message: &str, max: usize) -> String {
    let masked = mask(message, &textual_sensitive_spans(message));
    let masked = mask_credential_values(&mask_url_password(&masked));
    let one_line = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&one_line, max)
}

/// `NAME: value`, `NAME=value`, `"NAME": "value"` with a credential NAME: the value becomes `***`.
fn mask_credential_values(s: &str) -> String {
    let b = s.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let is_quote = |c: u8| c == b'"' || c == b'\'';
    let mut out = String::with_capacity(s.len());
    // Bytes before `copied` are copied or masked already; words in a masked value are not names.
    let mut copied = 0;
    for word in super::text::words(s, is_word) {
        if word.start < copied {
            continue;
        }
        let name = &s[word.clone()];
        let mut k = word.end;
        if k < b.len() && is_quote(b[k]) {
            k += 1;
        }
        if k >= b.len() || !matches!(b[k], b':' | b'=') || !names_credential(name) {
            continue;
        }
        k += 1;
        while k < b.len() && (matches!(b[k], b' ' | b'\t') || is_quote(b[k])) {
            k += 1;
        }
        let end = b[k..]
            .iter()
            .position(|&c| c.is_ascii_whitespace() || is_quote(c) || b",;)]}".contains(&c))
            .map_or(b.len(), |e| k + e);
        if end > k {
            out.push_str(&s[copied..k]);
            out.push_str("***");
            copied = end;
        }
    }
    out.push_str(&s[copied..]);
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// `scheme://user:secret@host` becomes `scheme://user:***@host`.
pub(crate) fn mask_url_password(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', '?', '#', ' ']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Whether a URL carries a password (`scheme://user:password@host`): whether
/// [`mask_url_password`] changes it. Asked of every scalar of every file, so it reads the
/// authorities in place rather than masking a copy.
pub(crate) fn url_has_password(s: &str) -> bool {
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let tail = &rest[i + 3..];
        let authority_end = tail.find(['/', '?', '#', ' ']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        if let (Some(at), Some(colon)) = (authority.rfind('@'), authority.find(':'))
            && colon < at
            && &authority[colon + 1..at] != "***"
        {
            return true;
        }
        rest = &tail[authority_end..];
    }
    false
}

/// Words that make a name a credential's.
const WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PWD",
    "TOKEN",
    "SECRET",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
];
/// Endings that make such a name point at a credential rather than hold one.
const POINTERS: &[&str] = &[
    "_FILE", "_PATH", "_NAME", "_URL", "_REF", "_KEY_REF", "_DIR",
];

/// Whether a key or env var name names a credential (`DB_PASSWORD`, `apiToken`, `client-secret`).
/// Names that only point at one (`PASSWORD_FILE`, `SECRET_NAME`, `TOKEN_URL`) do not count.
pub(crate) fn names_credential(name: &str) -> bool {
    // Compared as upper case with `-` read as `_`, without a copy: asked of every mapping key
    // of every file.
    let b = name.as_bytes();
    let same = |a: &[u8], w: &str| {
        a.iter().zip(w.bytes()).all(|(&c, w)| {
            if c == b'-' {
                w == b'_'
            } else {
                c.to_ascii_uppercase() == w
            }
        })
    };
    let contains =
        |w: &str| b.len() >= w.len() && (0..=b.len() - w.len()).any(|i| same(&b[i..], w));
    let ends_with = |p: &str| b.len() >= p.len() && same(&b[b.len() - p.len()..], p);
    WORDS.iter().any(|w| contains(w))
        && !POINTERS.iter().any(|p| ends_with(p))
        && !names_quantity(name)
}

/// Whether a name that mentions a credential word is about how many or how much of it
/// (`LLM_MAX_TOKENS`, `TOKEN_LIMIT`, `MIN_PASSWORD_LENGTH`): a count, never a credential.
/// A quantity word (`MAX`, `MIN`, `NUM`, `LIMIT`, `COUNT`, `LENGTH`, `PER`) among the name's
/// words says so; `API_TOKEN`, `DB_PASSWORD`, `CLIENT_SECRET` and `OPENAI_API_KEY` stay
/// credentials.
pub fn names_quantity(name: &str) -> bool {
    const QUANTITY: &[&str] = &[
        "MAX", "MIN", "NUM", "LIMIT", "COUNT", "LENGTH", "LEN", "PER",
    ];
    name.split(['_', '-', '.'])
        .any(|w| QUANTITY.iter().any(|q| w.eq_ignore_ascii_case(q)))
}

/// Secret values found line by line in text that did not parse, erring towards masking: every
/// value under a `data:`, `stringData:` or `literals:` block, every value of a key that names
/// a credential (block or flow style), an env `value:` after a credential `name:`, and the
/// password of any URL.
pub(crate) fn textual_sensitive_spans(text: &str) -> Vec<crate::base::source::Span> {
    use crate::base::source::Span;
    let mut out = Vec::new();
    // Indentation of the open data-like block, if any.
    let mut block: Option<usize> = None;
    let mut credential_name = false;
    let mut at = 0;
    for raw in text.split_inclusive(['\n', '\r']) {
        let start = at;
        at += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let body = line.trim_start_matches([' ', '\t']);
        let mut indent = line.len() - body.len();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let mut body = body;
        while let Some(rest) = body.strip_prefix('-') {
            let item = rest.trim_start_matches([' ', '\t']);
            if item.len() == rest.len() && !rest.is_empty() {
                break;
            }
            indent += body.len() - item.len();
            body = item;
        }
        if block.is_some_and(|b| indent <= b) {
            block = None;
        }
        let key_value = if body.starts_with('{') {
            // A flow mapping as a sequence item: its pairs are read below.
            Some(("", body))
        } else {
            body.find(": ").or_else(|| body.find(":\t")).map(|i| {
                let value = body[i + 1..].trim_start_matches([' ', '\t']);
                (body[..i].trim_matches(['\'', '"']), value)
            })
        };
        let key_only = body.strip_suffix(':').map(|k| k.trim_matches(['\'', '"']));
        // Values are suffixes of the line.
        let value_span =
            |value: &str| Span::new(start + line.len() - value.len(), start + line.len());
        if block.is_some() {
            // Inside data:, stringData: or literals: everything after the key (or the item).
            let value = key_value.map_or(body, |(_, v)| v);
            if !value.is_empty() && key_only.is_none() {
                out.push(value_span(value));
            }
        } else if let Some((key, value)) = key_value {
            let flow = value.starts_with('{') || value.starts_with('[');
            if (matches!(key, "data" | "stringData" | "literals") && flow)
                || names_credential(key)
                || (key == "value" && credential_name)
            {
                out.push(value_span(value));
            } else if flow {
                // `{name: DB_PASSWORD, value: x}` or `{password: x}`.
                let mut credential = false;
                let vstart = start + line.len() - value.len();
                for part in value.split([',', '{', '}', '[', ']']) {
                    let Some((k, v)) = part.split_once(':') else {
                        continue;
                    };
                    let k = k.trim().trim_matches(['\'', '"']);
                    let v = v.trim();
                    if k == "name" {
                        credential = names_credential(v.trim_matches(['\'', '"']));
                    }
                    if !v.is_empty() && (names_credential(k) || (k == "value" && credential)) {
                        let s = vstart + (v.as_ptr() as usize - value.as_ptr() as usize);
                        out.push(Span::new(s, s + v.len()));
                    }
                }
            }
            if key == "name" {
                credential_name = names_credential(value.trim_matches(['\'', '"']));
            }
        } else if let Some(key) = key_only
            && matches!(key, "data" | "stringData" | "literals")
        {
            block = Some(indent);
        }
        // Passwords in URLs, wherever they are.
        for r in url_password_ranges(line) {
            out.push(Span::new(start + r.start, start + r.end));
        }
    }
    out
}

/// Byte ranges of the passwords of the URLs in `src` (`scheme://user:PASSWORD@host`), for
/// masking source text in place (a quote also ends the authority there).
pub(crate) fn url_password_ranges(src: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = src[from..].find("://") {
        let auth_start = from + i + 3;
        let auth_end = src[auth_start..]
            .find(['/', '?', '#', ' ', '"', '\''])
            .map_or(src.len(), |e| auth_start + e);
        let auth = &src[auth_start..auth_end];
        if let (Some(at), Some(colon)) = (auth.rfind('@'), auth.find(':'))
            && colon < at
        {
            out.push(auth_start + colon + 1..auth_start + at);
        }
        from = auth_end;
    }
    out
}

/// `text` with every masked range replaced by `*`, byte for byte (offsets stay valid).
pub(crate) fn mask(text: &str, spans: &[crate::base::source::Span]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for s in spans {
        let (a, b) = (s.start as usize, (s.end as usize).min(bytes.len()));
        if a < b && text.is_char_boundary(a) && text.is_char_boundary(b) {
            bytes[a..b].fill(b'*');
        }
    }
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place checks answer as the copying definitions they replace: a credential word in
    /// the name upper-cased with `-` as `_`, and a URL that masking changes.
    #[test]
    fn in_place_checks_agree_with_their_definitions() {
        let parts = [
            "db",
            "-",
            "_",
            ".",
            "Password",
            "passwd",
            "TOKEN",
            "api-key",
            "ApiKey",
            "file",
            "_FILE",
            "-path",
            "name",
            "url",
            "max",
            "Len",
            "per",
            "secret",
            "é",
            "Ωtoken",
            "private_KEY",
            "credentials",
            "key-ref",
            "pwd",
            "",
            "://",
            "u:p@h",
            "u:***@h",
            "a@b:c",
            "/",
            "?x",
            " ",
            "https://",
            "x:y@",
            "@",
            ":",
        ];
        let mut n = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    let name = format!("{a}{b}{c}");
                    let upper = name.to_ascii_uppercase().replace('-', "_");
                    let quantity = name.to_ascii_uppercase().split(['_', '-', '.']).any(|w| {
                        [
                            "MAX", "MIN", "NUM", "LIMIT", "COUNT", "LENGTH", "LEN", "PER",
                        ]
                        .contains(&w)
                    });
                    let credential = WORDS.iter().any(|w| upper.contains(w))
                        && !POINTERS.iter().any(|p| upper.ends_with(p))
                        && !quantity;
                    assert_eq!(names_credential(&name), credential, "{name}");
                    assert_eq!(names_quantity(&name), quantity, "{name}");
                    assert_eq!(
                        url_has_password(&name),
                        mask_url_password(&name) != name,
                        "{name}"
                    );
                    n += usize::from(credential);
                }
            }
        }
        assert!(n > 1000, "the names cover credentials too ({n})");
    }

    #[test]
    fn masks_passwords_in_urls() {
        assert_eq!(
            mask_url_password("postgres://admin:changeme@postgres:5432/db"),
            "postgres://admin:***@postgres:5432/db"
        );
        assert_eq!(
            mask_url_password("https://example.com/x"),
            "https://example.com/x"
        );
        assert!(url_has_password("mysql://u:p@h/d"));
        assert!(!url_has_password("mysql://u@h/d"));
    }

    #[test]
    fn credential_names() {
        for yes in [
            "DB_PASSWORD",
            "apiToken",
            "client-secret",
            "LLM_API_KEY",
            "GITHUB_TOKEN",
        ] {
            assert!(names_credential(yes), "{yes}");
        }
        for no in [
            "PASSWORD_FILE",
            "SECRET_NAME",
            "DATABASE_HOST",
            "LLM_MAX_TOKENS",
        ] {
            assert!(!names_credential(no), "{no}");
        }
    }

    #[test]
    fn text_that_does_not_parse_is_masked_by_its_lines() {
        let text = "apiVersion: v1\r\nkind: Secret\nmetadata: {name: s}\nstringData:\n  password: first1\n  password: second2\n  - broken: [\n  nested:\n    deeper: third3\ndata: {a: Zm91cnRo}\nspec:\n  env:\n  - name: DB_PASSWORD\n    value: fifth5\n  - {name: API_TOKEN, value: sixth6}\n  - name: LOG_LEVEL\n    value: debug\n  url: \"postgres://u:seventh7@db/x\"\n  apiKey: 'eighth8'\n  x: {clientSecret: ninth9, other: keep}\n";
        let masked = mask(text, &textual_sensitive_spans(text));
        for secret in [
            "first1", "second2", "third3", "Zm91cnRo", "fifth5", "sixth6", "seventh7", "eighth8",
            "ninth9",
        ] {
            assert!(!masked.contains(secret), "{secret}: {masked}");
        }
        for kept in [
            "debug",
            "keep",
            "postgres://u:",
            "@db/x",
            "DB_PASSWORD",
            "kind: Secret",
        ] {
            assert!(masked.contains(kept), "{kept}: {masked}");
        }
        assert_eq!(masked.len(), text.len());
        // Hostile text never panics and spans stay on character boundaries.
        for t in [
            "é: ü\n  - - -: ::\n",
            "data:\n\u{3000}x: é\n",
            "::\n- :\n",
            "a: b://:@\n",
        ] {
            for span in textual_sensitive_spans(t) {
                assert!(
                    t.is_char_boundary(span.start as usize)
                        && t.is_char_boundary(span.end as usize)
                );
                assert!(span.start <= span.end && span.end as usize <= t.len());
            }
        }
    }

    #[test]
    fn messages_quoting_input_are_masked() {
        let m = message_for_display(
            "bad value: Secret { password: \"hunter2\" }, API_TOKEN=tok-99 in url mysql://root:pw1@h/d; index 3\nstringData:\n  anything: lastone",
            1000,
        );
        for secret in ["hunter2", "tok-99", "pw1", "lastone"] {
            assert!(!m.contains(secret), "{secret}: {m}");
        }
        assert!(
            m.contains("mysql://root:***@h/d") && m.contains("index 3"),
            "{m}"
        );
        assert!(!m.contains('\n'));
        assert_eq!(
            message_for_display("index out of bounds: the len is 3 but the index is 5", 100),
            "index out of bounds: the len is 3 but the index is 5"
        );
        assert_eq!(
            message_for_display("é password=ü, x", 100),
            "é password=***, x"
        );
        // A credential name inside a masked value is part of that value.
        assert_eq!(
            message_for_display("password=a/token=b c", 100),
            "password=*** c"
        );
        assert_eq!(message_for_display(&"a".repeat(50), 10).chars().count(), 11);
    }

    #[test]
    fn truncates_long_values() {
        let v = "a".repeat(200);
        assert!(display_value(&v).chars().count() <= 97);
    }
}
