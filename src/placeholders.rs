//! Template placeholders: `{{1}}`-style (positional) and `{{first_name}}`-style
//! (named), as Meta defines them for message templates:
//! https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates

/// A placeholder found in template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placeholder {
    Positional(u32),
    Named(String),
}

/// Finds the `{{…}}` placeholders in `text`. `Err` describes the first
/// malformed one (for example `{{ 1 }}` or `{{First Name}}`).
pub(crate) fn placeholders(text: &str) -> Result<Vec<Placeholder>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("an opening `{{` has no closing `}}`".to_string());
        };
        let inner = &after[..end];
        if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
            match inner.parse::<u32>() {
                Ok(n) if n >= 1 && !inner.starts_with('0') => out.push(Placeholder::Positional(n)),
                _ => {
                    return Err(format!(
                        "`{{{{{inner}}}}}` is not a valid positional placeholder (use {{{{1}}}}, {{{{2}}}}, …)"
                    ));
                }
            }
        } else if !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && inner.as_bytes()[0].is_ascii_lowercase()
        {
            out.push(Placeholder::Named(inner.to_string()));
        } else {
            return Err(format!(
                "`{{{{{inner}}}}}` is not a valid placeholder: use {{{{1}}}}-style numbers or lower-case snake_case names like {{{{first_name}}}}, without spaces"
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(out)
}
