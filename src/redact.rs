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
    fn truncates_long_values() {
        let v = "a".repeat(200);
        assert!(display_value(&v).chars().count() <= 97);
    }
}
