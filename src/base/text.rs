//! Small text helpers: edit distance, Kubernetes name validation, `${VAR}` placeholders,
//! word runs.

/// Levenshtein distance (for "did you mean" hints and closest-name related locations).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Why a name is not a valid DNS-1123 subdomain, if it is not.
pub(crate) fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if name.len() > 253 {
        return Some(format!(
            "the name is {} characters long; at most 253 are allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        let what = if c.is_ascii_uppercase() {
            format!("the uppercase letter `{c}`")
        } else {
            if c.is_control() || c.is_whitespace() {
                format!("the character `{}`", c.escape_default())
            } else {
                format!("the character `{c}`")
            }
        };
        return Some(format!(
            "the name contains {what}; only lowercase letters, digits, `-` and `.` are allowed"
        ));
    }
    let first = name.chars().next().unwrap();
    let last = name.chars().last().unwrap();
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Some("the name must start and end with a letter or digit".into());
    }
    for part in name.split('.') {
        if part.is_empty()
            || !part.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !part.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Some(
                "each dot-separated part must start and end with a letter or digit".into(),
            );
        }
    }
    None
}

/// A `${VAR}` placeholder (Flux post-build substitution syntax) in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    /// Byte range of the whole `${...}` in the string.
    pub start: usize,
    pub end: usize,
    pub var: String,
    /// `${VAR:=default}`: the default value.
    pub default: Option<String>,
}

/// Every `${VAR}` / `${VAR:=default}` / `${VAR:-default}` placeholder, in order.
pub(crate) fn placeholders(s: &str) -> Vec<Placeholder> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = s[i..].find("${") {
        let start = i + off;
        let Some(close) = s[start..].find('}') else {
            break;
        };
        let end = start + close + 1;
        let inner = &s[start + 2..end - 1];
        let name_len = inner
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
            .map(|(i, _)| i)
            .unwrap_or(inner.len());
        let var = &inner[..name_len];
        if !var.is_empty() && !var.starts_with(|c: char| c.is_ascii_digit()) {
            let rest = &inner[name_len..];
            let default = rest
                .strip_prefix(":=")
                .or_else(|| rest.strip_prefix(":-"))
                .or_else(|| rest.strip_prefix('='))
                .or_else(|| rest.strip_prefix('-'))
                .map(str::to_string);
            out.push(Placeholder {
                start,
                end,
                var: var.to_string(),
                default,
            });
        }
        i = end;
    }
    out
}

/// The byte ranges of the maximal runs of bytes `is_word` accepts in `s`, in order.
pub(crate) fn words<'a>(
    s: &'a str,
    is_word: impl Fn(u8) -> bool + 'a,
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() && !is_word(b[i]) {
            i += 1;
        }
        let start = i;
        while i < b.len() && is_word(b[i]) {
            i += 1;
        }
        (start < i).then_some(start..i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_maximal_runs() {
        let alnum = |c: u8| c.is_ascii_alphanumeric();
        let found: Vec<_> = words("  ab-c1 \u{e9}d", alnum).collect();
        assert_eq!(found, [2..4, 5..7, 10..11]);
        assert_eq!(words("--", alnum).count(), 0);
        assert_eq!(words("", alnum).count(), 0);
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn dns_names() {
        assert!(dns1123_subdomain_problem("myapp-migration-v1.2.3").is_none());
        assert!(
            dns1123_subdomain_problem("MyApp")
                .unwrap()
                .contains("uppercase")
        );
        assert!(dns1123_subdomain_problem("a_b").unwrap().contains("`_`"));
        assert!(dns1123_subdomain_problem("a-").is_some());
        assert!(dns1123_subdomain_problem("a..b").is_some());
        assert!(dns1123_subdomain_problem("").is_some());
    }

    #[test]
    fn placeholder_forms() {
        let p = placeholders("app-${IMAGE_TAG}-${ENV:=dev}-$notone-${1x}");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].var, "IMAGE_TAG");
        assert_eq!((p[0].start, p[0].end), (4, 16));
        assert_eq!(p[1].default.as_deref(), Some("dev"));
    }
}
