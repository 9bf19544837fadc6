//! Keeping secret values out of every output.
//!
//! CI logs are public. Messages name fields and types; when a value must be shown (a Job name,
//! an image), it goes through [`display_value`], which masks credentials in URLs and truncates.

/// A mapping key as shown in a message: keys are names, not secrets, but are truncated.
pub fn key_for_display(key: &str) -> String {
    truncate(key, 64)
}

/// A value as shown in a message: passwords in URLs are masked and long values truncated.
pub fn display_value(value: &str) -> String {
    truncate(&mask_url_password(value), 96)
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
pub fn mask_url_password(s: &str) -> String {
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

/// Whether a URL carries a password (`scheme://user:password@host`).
pub fn url_has_password(s: &str) -> bool {
    mask_url_password(s) != s
}

/// Whether a key or env var name names a credential (`DB_PASSWORD`, `apiToken`, `client-secret`).
/// Names that only point at one (`PASSWORD_FILE`, `SECRET_NAME`, `TOKEN_URL`) do not count.
pub fn names_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace('-', "_");
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
    const POINTERS: &[&str] = &[
        "_FILE", "_PATH", "_NAME", "_URL", "_REF", "_KEY_REF", "_DIR",
    ];
    WORDS.iter().any(|w| upper.contains(w)) && !POINTERS.iter().any(|p| upper.ends_with(p))
}

/// Byte ranges of secret values in every parsed file, whichever rules are enabled: the human
/// report quotes source lines, and CI logs are public, so these are masked there.
pub fn sensitive_spans(ws: &crate::workspace::Workspace) -> Vec<crate::diagnostic::Loc> {
    use crate::diagnostic::Loc;
    use crate::source::Span;
    use crate::yaml::Kind;
    let mut out = Vec::new();
    for (fid, f) in ws.files.iter().enumerate() {
        let file = fid as u32;
        let text = &f.source.text;
        for doc in &f.docs {
            let secret_generator = f.role == crate::model::FileRole::Kustomization;
            for node in &doc.nodes {
                let Kind::Map(entries) = &node.kind else {
                    continue;
                };
                let key_of = |k| doc.str(k).unwrap_or("");
                let env_name = entries
                    .iter()
                    .find(|&&(k, _)| key_of(k) == "name")
                    .and_then(|&(_, v)| doc.str(v));
                for &(k, v) in entries {
                    let key = key_of(k);
                    let vn = doc.node(v);
                    match &vn.kind {
                        Kind::Scalar { value, .. } => {
                            let credential = names_credential(key)
                                || (key == "value" && env_name.is_some_and(names_credential));
                            if credential && !value.is_empty() && !value.starts_with("${") {
                                out.push(Loc {
                                    file,
                                    span: vn.span,
                                });
                            }
                        }
                        // Secret data and stringData, and generator literals `KEY=value`.
                        Kind::Map(inner) if key == "data" || key == "stringData" => {
                            let is_secret = entries.iter().any(|&(k2, v2)| {
                                key_of(k2) == "kind" && doc.str(v2) == Some("Secret")
                            });
                            for &(ik, iv) in inner {
                                if is_secret || names_credential(key_of(ik)) {
                                    out.push(Loc {
                                        file,
                                        span: doc.span(iv),
                                    });
                                }
                            }
                        }
                        Kind::Seq(items) if key == "literals" && secret_generator => {
                            let in_secret_gen = true;
                            for &it in items {
                                let Some(lit) = doc.str(it) else { continue };
                                let Some((name, _)) = lit.split_once('=') else {
                                    continue;
                                };
                                let span = doc.span(it);
                                let src = &text[span.range()];
                                if let Some(eq) = src.find('=')
                                    && (in_secret_gen && is_in_secret_generator(doc, it)
                                        || names_credential(name))
                                {
                                    out.push(Loc {
                                        file,
                                        span: Span::new(
                                            span.start as usize + eq + 1,
                                            span.end as usize,
                                        ),
                                    });
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            // Passwords inside URLs, anywhere.
            for node in &doc.nodes {
                if let Kind::Scalar { value, .. } = &node.kind
                    && url_has_password(value)
                {
                    let src = &text[node.span.range()];
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
                            let s = node.span.start as usize + auth_start + colon + 1;
                            out.push(Loc {
                                file,
                                span: Span::new(s, node.span.start as usize + auth_start + at),
                            });
                        }
                        from = auth_end;
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether a `literals:` item belongs to a `secretGenerator` entry.
fn is_in_secret_generator(doc: &crate::yaml::Document, item: crate::yaml::NodeId) -> bool {
    doc.get(doc.root, "secretGenerator").is_some_and(|gens| {
        doc.items(gens).iter().any(|&g| {
            doc.get(g, "literals")
                .is_some_and(|l| doc.items(l).contains(&item))
        })
    })
}

/// `text` with every masked range replaced by `*`, byte for byte (offsets stay valid).
pub fn mask(text: &str, spans: &[crate::source::Span]) -> String {
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
        assert!(names_credential("DB_PASSWORD"));
        assert!(names_credential("apiToken"));
        assert!(names_credential("client-secret"));
        assert!(!names_credential("PASSWORD_FILE"));
        assert!(!names_credential("SECRET_NAME"));
        assert!(!names_credential("DATABASE_HOST"));
    }

    #[test]
    fn sensitive_spans_are_found_and_masked() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  anything: hunter2\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    env:\n    - {name: API_TOKEN, value: \"tok123\"}\n    - {name: DATABASE_URL, value: \"postgres://u:pw9@db/x\"}\n    - {name: LOG_LEVEL, value: debug}\n";
        let r = crate::engine::load_workspace(
            vec![crate::engine::Input::from_bytes(
                "k/a.yaml",
                text.as_bytes().to_vec(),
            )],
            &crate::engine::Settings::default(),
        );
        let spans: Vec<_> = sensitive_spans(&r.0).into_iter().map(|l| l.span).collect();
        let masked = mask(text, &spans);
        for secret in ["hunter2", "tok123", "pw9"] {
            assert!(!masked.contains(secret), "{secret}: {masked}");
        }
        assert!(
            masked.contains("debug")
                && masked.contains("postgres://u:")
                && masked.contains("@db/x")
        );
        assert_eq!(masked.len(), text.len());
    }

    #[test]
    fn truncates_long_values() {
        let v = "a".repeat(200);
        assert!(display_value(&v).chars().count() <= 97);
    }
}
