//! Rules for argument values: lengths, character classes, language codes,
//! ids, URLs and e-mail addresses. Each failure names the field and the fix.

use crate::error::ToolError;

/// Length in Unicode scalar values (what WhatsApp's character limits count).
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Checks `min..=max` characters (Unicode scalar values).
pub(crate) fn check_len(
    field: &str,
    s: &str,
    min: usize,
    max: usize,
    what: &str,
) -> Result<(), ToolError> {
    let n = char_len(s);
    if n < min {
        return Err(ToolError::invalid(
            field,
            if min == 1 {
                "Empty value"
            } else {
                "Value too short"
            },
            if n == 0 {
                format!(
                    "`{field}` is empty; {what} needs at least {min} character{}",
                    if min == 1 { "" } else { "s" }
                )
            } else {
                format!("`{field}` has {n} characters; {what} needs at least {min}")
            },
            format!("Give a non-empty `{field}`."),
        ));
    }
    if n > max {
        return Err(ToolError::invalid(
            field,
            "Value too long",
            format!("`{field}` has {n} characters; {what} allows at most {max}"),
            format!("Shorten `{field}` to {max} characters or fewer."),
        ));
    }
    Ok(())
}

/// Checks a string against a character-class rule; `allowed` describes it.
pub(crate) fn check_chars(
    field: &str,
    s: &str,
    ok: impl Fn(char) -> bool,
    allowed: &str,
    example: &str,
) -> Result<(), ToolError> {
    if let Some(bad) = s.chars().find(|c| !ok(*c)) {
        return Err(ToolError::invalid(
            field,
            "Invalid characters",
            format!("`{field}` is `{s}`, which contains `{bad}`; only {allowed} are allowed"),
            format!("Use only {allowed}, for example {example}."),
        ));
    }
    Ok(())
}

/// Template names: lower-case letters, digits and underscores, 1..=512.
pub(crate) fn check_template_name(field: &str, s: &str) -> Result<(), ToolError> {
    check_len(field, s, 1, 512, "a template name")?;
    check_chars(
        field,
        s,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        "lower-case letters a-z, digits and underscores",
        "`order_update`",
    )
}

/// Language codes like `en`, `en_US`, `pt_BR`, `zh_Hant` (lenient).
pub(crate) fn check_language(field: &str, s: &str) -> Result<(), ToolError> {
    let (lang, region) = match s.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (s, None),
    };
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region
        .is_none_or(|r| (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    if lang_ok && region_ok {
        return Ok(());
    }
    Err(ToolError::invalid(
        field,
        "Invalid language code",
        format!(
            "`{field}` is `{s}`; expected a WhatsApp language code like `en`, `en_US` or `pt_BR` (lower-case language, optional `_` and region)"
        ),
        "Use the template's exact language code as shown by whatsapp_list_templates, for example `en_US` (not `en-US` or `English`).",
    ))
}

/// Printable ASCII without spaces, 1..=max (ids, cursors).
pub(crate) fn check_token(
    field: &str,
    s: &str,
    max: usize,
    what: &str,
    example: &str,
) -> Result<(), ToolError> {
    check_len(field, s, 1, max, what)?;
    check_chars(
        field,
        s,
        |c| c.is_ascii_graphic(),
        "printable ASCII characters without spaces",
        example,
    )
}

/// Digits only (numeric Graph ids).
pub(crate) fn check_digits(
    field: &str,
    s: &str,
    max: usize,
    what: &str,
    example: &str,
) -> Result<(), ToolError> {
    check_len(field, s, 1, max, what)?;
    check_chars(field, s, |c| c.is_ascii_digit(), "digits", example)
}

/// Checks an `https://` URL meant for Meta to fetch. `Err` is (details, hint).
pub(crate) fn check_https_url(url: &str, max_len: usize) -> Result<(), (String, String)> {
    let n = char_len(url);
    if n > max_len {
        return Err((
            format!("the URL has {n} characters; the maximum is {max_len}"),
            "Use a shorter URL.".to_string(),
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err((
            "the URL contains spaces or control characters".to_string(),
            "Percent-encode spaces as %20.".to_string(),
        ));
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://") else {
        let scheme = lower.split(':').next().unwrap_or("");
        return Err((
            format!("the URL scheme is `{scheme}`; only https:// is accepted"),
            "Host the file at a public https:// URL (no login); data:, javascript: and plain http:// links are refused.".to_string(),
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err((
            "the URL has no host, or has user credentials in it".to_string(),
            "Give a URL like https://example.com/file.jpg, without user:password@.".to_string(),
        ));
    }
    Ok(())
}

/// Checks an `http://` or `https://` URL meant for Meta to fetch or open:
/// Meta documents media links and URL buttons as "HTTP/HTTPS"
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media).
/// `Ok(true)` for plain `http://`, which callers report as a warning.
/// `Err` is (details, hint).
pub(crate) fn check_web_url(url: &str, max_len: usize) -> Result<bool, (String, String)> {
    let n = char_len(url);
    if n > max_len {
        return Err((
            format!("the URL has {n} characters; the maximum is {max_len}"),
            "Use a shorter URL.".to_string(),
        ));
    }
    let lower = url.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("http://") {
        // The same host and character rules as for https.
        check_https_url(&format!("https://{rest}"), usize::MAX)?;
        return Ok(true);
    }
    if !lower.starts_with("https://") {
        let scheme = lower.split(':').next().unwrap_or("");
        return Err((
            format!("the URL scheme is `{scheme}`; only http:// and https:// are accepted"),
            "Give a public https:// URL (no login); data:, javascript: and file: links are refused.".to_string(),
        ));
    }
    check_https_url(url, max_len).map(|()| false)
}

/// The warning a result carries when `field` is a plain `http://` link.
pub(crate) fn plain_http_warning(field: &str) -> String {
    format!(
        "`{field}` is a plain http:// link; Meta accepts it, but https:// is recommended (the file or page travels unencrypted and some networks block it)."
    )
}

/// `result` with `warnings` appended to its `warning` text (sentences
/// joined by spaces, as the send tools report them).
pub(crate) fn with_warnings(
    mut result: serde_json::Value,
    warnings: &[String],
) -> serde_json::Value {
    if warnings.is_empty() {
        return result;
    }
    if let Some(obj) = result.as_object_mut() {
        let mut all: Vec<String> = obj
            .get("warning")
            .and_then(serde_json::Value::as_str)
            .map(|w| vec![w.to_string()])
            .unwrap_or_default();
        all.extend(warnings.iter().cloned());
        obj.insert("warning".into(), serde_json::Value::from(all.join(" ")));
    }
    result
}

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain.
pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}
