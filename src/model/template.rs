//! Template tokens: text that something outside the manifests replaces before they are
//! applied (CI with `envsubst` or `sed`, Azure DevOps `#{TAG}#`, Helm `{{ .Values.x }}`, a
//! deploy script's `__IMAGE__`), or that Flux substitutes (`${VAR}`). A value holding one is
//! unknown: no rule derives a finding from its literal text ("means `:latest`", "name is
//! invalid", "unversioned"). The one place tokens are recognised; `analysis::templated` says
//! whether something inside the repository should have filled them.

/// A token in a text: its byte range and its text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The tokens of `s`, in order: `${VAR}` (unescaped: `$${VAR}` is Flux's literal), `__NAME__`,
/// `#{NAME}#`, `{{ … }}`, and any word containing `PLACEHOLDER` in capitals
/// (`IMAGE_PLACEHOLDER`, `app-PLACEHOLDER`).
pub fn tokens(s: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let b = s.as_bytes();
    let mut push = |start: usize, end: usize| {
        out.push(Token {
            start,
            end,
            text: s[start..end].to_string(),
        })
    };
    for p in crate::base::text::placeholders(s) {
        if p.start == 0 || b[p.start - 1] != b'$' {
            push(p.start, p.end);
        }
    }
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    // `__NAME__`: two underscores, a name with a letter or digit, two underscores.
    let mut i = 0;
    while let Some(off) = s[i..].find("__") {
        let start = i + off;
        let inner_start = start + 2;
        let mut j = inner_start;
        while j < b.len()
            && (b[j].is_ascii_alphanumeric() || (b[j] == b'_' && !s[j..].starts_with("__")))
        {
            j += 1;
        }
        if j > inner_start && s[j..].starts_with("__") && b[inner_start] != b'_' {
            push(start, j + 2);
            i = j + 2;
        } else {
            i = start + 2;
        }
    }
    // `#{NAME}#` and `{{ … }}`.
    for (open, close) in [("#{", "}#"), ("{{", "}}")] {
        let mut i = 0;
        while let Some(off) = s[i..].find(open) {
            let start = i + off;
            let Some(c) = s[start + open.len()..].find(close) else {
                break;
            };
            let end = start + open.len() + c + close.len();
            if c > 0 {
                push(start, end);
            }
            i = end;
        }
    }
    // A word naming itself a placeholder: upper case, as tokens are written
    // (`myapp-migration-placeholder` is a name).
    for w in crate::base::text::words(s, word) {
        if s[w.clone()].contains("PLACEHOLDER") {
            push(w.start, w.end);
        }
    }
    out.sort_by_key(|t| (t.start, t.end));
    // A token inside another (`__X__` within `{{ }}`, a word within `#{ }#`) is the outer one.
    let mut kept: Vec<Token> = Vec::new();
    for t in out {
        match kept.last() {
            Some(k) if t.start < k.end => {}
            _ => kept.push(t),
        }
    }
    kept
}

/// Whether `s` holds a template token.
pub fn is_templated(s: &str) -> bool {
    // The cheap test first; the full one decides.
    (s.contains("${")
        || s.contains("__")
        || s.contains("#{")
        || s.contains("{{")
        || s.contains("PLACEHOLDER"))
        && !tokens(s).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokens(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn recognises_the_styles_ci_systems_use() {
        assert_eq!(texts("__IMAGE__"), ["__IMAGE__"]);
        assert_eq!(texts("registry/app:__TAG__"), ["__TAG__"]);
        assert_eq!(texts("IMAGE_PLACEHOLDER"), ["IMAGE_PLACEHOLDER"]);
        assert_eq!(texts("shop-migration-PLACEHOLDER"), ["PLACEHOLDER"]);
        assert_eq!(texts("app:#{TAG}#"), ["#{TAG}#"]);
        assert_eq!(texts("{{ .Values.image }}"), ["{{ .Values.image }}"]);
        assert_eq!(texts("app:${API_TAG}"), ["${API_TAG}"]);
        assert_eq!(
            texts("job-${A}-__B__"),
            ["${A}".to_string(), "__B__".to_string()]
        );
        assert_eq!(texts("{{ __X__ }}"), ["{{ __X__ }}"]);
    }

    #[test]
    fn ordinary_values_are_not_templates() {
        for s in [
            "myapp-migration-v1.4.2",
            "db__migrate",
            "__",
            "____",
            "$${VAR}",
            "python manage.py migrate",
            "{}",
            "a_b_c",
        ] {
            assert!(tokens(s).is_empty(), "{s}: {:?}", tokens(s));
            assert!(!is_templated(s), "{s}");
        }
        assert!(is_templated("__MIGRATION_JOB_NAME__"));
    }
}
