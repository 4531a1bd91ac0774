//! For template creation: the placeholders a text uses, and the checks that
//! its `example` gives exactly one value per placeholder, as Meta requires.

use serde_json::{Map, Value};

use crate::args::{as_array, as_object, as_str, missing, reject_unknown};
use crate::checks::check_len;
use crate::error::ToolError;
use crate::placeholders::{Placeholder, placeholders};

/// The placeholders a text uses, checked against the parameter format.
/// Returns the positional count or the named list (in order).
pub(super) enum Used {
    Positional(u32),
    Named(Vec<String>),
}

pub(super) fn used_placeholders(
    field: &str,
    text: &str,
    named_format: bool,
) -> Result<Used, ToolError> {
    let ps = placeholders(text).map_err(|d| {
        ToolError::invalid(
            field,
            "Malformed placeholder",
            d,
            "Write placeholders as {{1}}, {{2}}, … (POSITIONAL) or {{first_name}} (NAMED).",
        )
    })?;
    if named_format {
        let mut names = Vec::new();
        for p in ps {
            match p {
                Placeholder::Named(n) => {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
                Placeholder::Positional(n) => {
                    return Err(ToolError::invalid(
                        field,
                        "Placeholder does not match parameter_format",
                        format!("`{{{{{n}}}}}` is positional but `parameter_format` is NAMED"),
                        "Use named placeholders like {{first_name}}, or set parameter_format to POSITIONAL.",
                    ));
                }
            }
        }
        Ok(Used::Named(names))
    } else {
        let mut nums = Vec::new();
        for p in ps {
            match p {
                Placeholder::Positional(n) => nums.push(n),
                Placeholder::Named(n) => {
                    return Err(ToolError::invalid(
                        field,
                        "Placeholder does not match parameter_format",
                        format!(
                            "`{{{{{n}}}}}` is named but `parameter_format` is POSITIONAL (the default)"
                        ),
                        "Set parameter_format to NAMED, or use {{1}}, {{2}}, … placeholders.",
                    ));
                }
            }
        }
        nums.sort_unstable();
        nums.dedup();
        for (i, n) in nums.iter().enumerate() {
            if *n != i as u32 + 1 {
                let got = nums
                    .iter()
                    .map(|n| format!("{{{{{n}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ToolError::invalid(
                    field,
                    "Placeholders not consecutive",
                    format!(
                        "the placeholders are {got}; positional placeholders must be {{{{1}}}} to {{{{n}}}} without gaps"
                    ),
                    "Number the placeholders 1, 2, 3, … in order.",
                ));
            }
        }
        Ok(Used::Positional(nums.len() as u32))
    }
}

pub(super) fn example_obj<'a>(
    c: &'a Map<String, Value>,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, ToolError> {
    match c.get("example") {
        None => Ok(None),
        Some(v) => as_object(v, &format!("{path}.example")).map(Some),
    }
}

fn example_strings(v: &Value, field: &str) -> Result<Vec<String>, ToolError> {
    let items = as_array(v, field)?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let s = as_str(item, &f)?;
        check_len(&f, s, 1, 1024, "an example value")?;
        out.push(s.to_string());
    }
    Ok(out)
}

/// Checks that `example` covers exactly the placeholders used.
pub(super) fn check_examples(
    path: &str,
    c: &Map<String, Value>,
    used: &Used,
    positional_key: &str,
    named_key: &str,
    nested: bool,
) -> Result<(), ToolError> {
    let ex = example_obj(c, path)?;
    let ef = format!("{path}.example");
    match used {
        Used::Positional(0) => Ok(()),
        Used::Named(v) if v.is_empty() => Ok(()),
        Used::Positional(n) => {
            let n = *n as usize;
            let field = format!("{ef}.{positional_key}");
            let Some(v) = ex.and_then(|e| e.get(positional_key)) else {
                let sample = (1..=n)
                    .map(|i| format!("\"value {i}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                let shape = if nested {
                    format!("[[{sample}]]")
                } else {
                    format!("[{sample}]")
                };
                return Err(ToolError::invalid(
                    field,
                    "Missing example values",
                    format!(
                        "the text has {n} placeholder{} but no `example.{positional_key}`",
                        if n == 1 { "" } else { "s" }
                    ),
                    format!(
                        "Add \"example\": {{\"{positional_key}\": {shape}}} with one realistic value per placeholder."
                    ),
                ));
            };
            let values = if nested {
                let outer = as_array(v, &field)?;
                if outer.len() != 1 {
                    return Err(ToolError::invalid(
                        field,
                        "Wrong example shape",
                        format!(
                            "`{positional_key}` has {} lists; expected exactly one list of values",
                            outer.len()
                        ),
                        format!(
                            "Use \"{positional_key}\": [[\"v1\", \"v2\"]] (a list inside a list)."
                        ),
                    ));
                }
                example_strings(&outer[0], &format!("{field}[0]"))?
            } else {
                example_strings(v, &field)?
            };
            if values.len() != n {
                return Err(ToolError::invalid(
                    field,
                    "Wrong number of example values",
                    format!(
                        "the text has {n} placeholder{} but {} example value{}",
                        if n == 1 { "" } else { "s" },
                        values.len(),
                        if values.len() == 1 { "" } else { "s" }
                    ),
                    "Give exactly one example value per placeholder, in order.",
                ));
            }
            Ok(())
        }
        Used::Named(names) => {
            let field = format!("{ef}.{named_key}");
            let Some(v) = ex.and_then(|e| e.get(named_key)) else {
                return Err(ToolError::invalid(
                    field,
                    "Missing example values",
                    format!(
                        "the text uses {} but has no `example.{named_key}`",
                        names
                            .iter()
                            .map(|n| format!("{{{{{n}}}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    format!(
                        "Add \"example\": {{\"{named_key}\": [{{\"param_name\": \"{}\", \"example\": \"…\"}}]}} with one entry per placeholder.",
                        names[0]
                    ),
                ));
            };
            let items = as_array(v, &field)?;
            let mut given: Vec<String> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let f = format!("{field}[{i}]");
                let o = as_object(item, &f)?;
                reject_unknown(o, &["param_name", "example"], &f)?;
                let pn = match o.get("param_name") {
                    Some(v) => as_str(v, &format!("{f}.param_name"))?,
                    None => {
                        return Err(missing(&format!("{f}.param_name"), "\"first_name\""));
                    }
                };
                let exv = match o.get("example") {
                    Some(v) => as_str(v, &format!("{f}.example"))?,
                    None => return Err(missing(&format!("{f}.example"), "\"Mark\"")),
                };
                check_len(&format!("{f}.example"), exv, 1, 1024, "an example value")?;
                if !names.iter().any(|n| n == pn) {
                    return Err(ToolError::invalid(
                        format!("{f}.param_name"),
                        "Example for an unknown placeholder",
                        format!(
                            "`{pn}` is not a placeholder of the text (it uses {})",
                            names.join(", ")
                        ),
                        "Give examples only for the placeholders the text uses.",
                    ));
                }
                given.push(pn.to_string());
            }
            if let Some(missing) = names.iter().find(|n| !given.contains(n)) {
                return Err(ToolError::invalid(
                    field,
                    "Missing example value",
                    format!("placeholder {{{{{missing}}}}} has no example"),
                    format!("Add {{\"param_name\": \"{missing}\", \"example\": \"…\"}}."),
                ));
            }
            Ok(())
        }
    }
}
