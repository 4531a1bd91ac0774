//! Message templates: list / create / delete on `/{v}/{waba-id}/message_templates`
//! (reference §2.5-2.7), the review lifecycle, and the helpers sends use to check parameters.

use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::error::{GraphError, GraphResult};
use super::http::{GraphRequest, paginate};
use super::state::{Shared, State};
use super::util::{self, char_len};
use super::{SandboxConfig, TemplateSnapshot};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Approved,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Approved => "APPROVED",
            Status::Rejected => "REJECTED",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamFormat {
    Positional,
    Named,
}

impl ParamFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamFormat::Positional => "POSITIONAL",
            ParamFormat::Named => "NAMED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Template {
    /// Creation order; lists are newest first, i.e. by descending `seq`.
    pub seq: u64,
    pub id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub parameter_format: ParamFormat,
    /// Stored as Meta returns them: component and button types upper-case.
    pub components: Vec<Value>,
    pub status: Status,
    pub rejected_reason: Option<String>,
    /// A pending review: when it ends and how.
    pub review: Option<(Instant, Status)>,
}

/// Names with this prefix are rejected by the sandbox's reviewer (documented rule).
pub(crate) const REJECT_PREFIX: &str = "reject_";

/// Meta blocks re-creating a deleted name+language for 30 days.
const DELETED_NAME_BLOCK: Duration = Duration::from_secs(30 * 24 * 3600);

impl Template {
    /// Ends the review when due; returns the event name for the (future) status webhook.
    pub fn review_if_due(&mut self, now: Instant) -> Option<&'static str> {
        let (at, outcome) = self.review?;
        if now < at {
            return None;
        }
        self.review = None;
        self.status = outcome;
        if outcome == Status::Rejected {
            self.rejected_reason = Some("INVALID_FORMAT".into());
        }
        Some(outcome.as_str())
    }

    pub fn component(&self, ty: &str) -> Option<&Map<String, Value>> {
        self.components
            .iter()
            .filter_map(Value::as_object)
            .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
    }

    pub fn component_text(&self, ty: &str) -> Option<&str> {
        self.component(ty)?.get("text")?.as_str()
    }

    /// `TEXT`, `IMAGE`, … or `None` without a header.
    pub fn header_format(&self) -> Option<&str> {
        self.component("HEADER")?.get("format")?.as_str()
    }

    /// Distinct placeholders of a component's text, in order of first appearance.
    pub fn params_of(&self, ty: &str) -> Vec<String> {
        if ty == "BODY" && self.category == "AUTHENTICATION" {
            // Meta's fixed authentication body: "*{{1}}* is your verification code."
            return vec!["1".into()];
        }
        distinct(placeholders(self.component_text(ty).unwrap_or("")))
    }

    /// Indexes of buttons that need a parameter when sending (URL with a variable, OTP).
    pub fn buttons_needing_params(&self) -> Vec<(usize, String)> {
        let Some(buttons) = self
            .component("BUTTONS")
            .and_then(|c| c.get("buttons"))
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        buttons
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let ty = b.get("type").and_then(Value::as_str).unwrap_or("");
                let url_var = ty == "URL"
                    && b.get("url")
                        .and_then(Value::as_str)
                        .is_some_and(|u| u.contains("{{"));
                let otp = ty == "OTP";
                (url_var || otp).then(|| (i, if otp { "Otp".into() } else { "Url".into() }))
            })
            .collect()
    }

    pub fn snapshot(&self) -> TemplateSnapshot {
        TemplateSnapshot {
            id: self.id.clone(),
            name: self.name.clone(),
            language: self.language.clone(),
            category: self.category.clone(),
            status: self.status.as_str().into(),
            parameter_format: self.parameter_format.as_str().into(),
            components: Value::Array(self.components.clone()),
            rejected_reason: self.rejected_reason.clone(),
        }
    }

    /// Every field the sandbox knows; callers select.
    fn full_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("name".into(), json!(self.name));
        m.insert("language".into(), json!(self.language));
        m.insert("status".into(), json!(self.status.as_str()));
        m.insert("category".into(), json!(self.category));
        m.insert(
            "parameter_format".into(),
            json!(self.parameter_format.as_str()),
        );
        m.insert("components".into(), Value::Array(self.components.clone()));
        m.insert(
            "rejected_reason".into(),
            json!(self.rejected_reason.as_deref().unwrap_or("NONE")),
        );
        m.insert("quality_score".into(), json!({"score": "UNKNOWN"}));
        m.insert("sub_category".into(), Value::Null);
        m
    }

    fn to_json(&self, fields: Option<&[String]>) -> Value {
        const DEFAULT: &[&str] = &[
            "id",
            "name",
            "language",
            "status",
            "category",
            "parameter_format",
            "components",
        ];
        let full = self.full_json();
        let mut out = Map::new();
        for (k, v) in full {
            let wanted = match fields {
                // Unknown requested fields are ignored (loose, on purpose); id always comes back.
                Some(f) => k == "id" || f.contains(&k),
                None => DEFAULT.contains(&k.as_str()),
            };
            if wanted && !v.is_null() {
                out.insert(k, v);
            }
        }
        Value::Object(out)
    }
}

/// `{{1}}` / `{{first_name}}` contents (trimmed), in order, duplicates kept.
pub(crate) fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        out.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    out
}

fn distinct(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

// ----------------------------------------------------------------------------------------
// Seed: what a new WhatsApp Business Account has (plus one template with parameters).

pub(crate) fn seed(st: &mut State, _now: Instant) {
    let hello = Template {
        seq: 0,
        id: "1192339204654487".into(),
        name: "hello_world".into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        parameter_format: ParamFormat::Positional,
        components: vec![
            json!({"type": "HEADER", "format": "TEXT", "text": "Hello World"}),
            json!({"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."}),
            json!({"type": "FOOTER", "text": "WhatsApp Business Platform sample message"}),
        ],
        status: Status::Approved,
        rejected_reason: None,
        review: None,
    };
    let order = Template {
        seq: 0,
        id: "1689556908129832".into(),
        name: "order_update".into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        parameter_format: ParamFormat::Positional,
        components: vec![json!({
            "type": "BODY",
            "text": "Hi {{1}}, your order {{2}} has shipped.",
            "example": {"body_text": [["Mark", "#1042"]]}
        })],
        status: Status::Approved,
        rejected_reason: None,
        review: None,
    };
    for mut t in [hello, order] {
        t.seq = st.next_template_seq;
        st.next_template_seq += 1;
        st.templates.push(t);
    }
}

// ----------------------------------------------------------------------------------------
// GET

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

pub(crate) fn list(shared: &Shared, req: &GraphRequest) -> GraphResult<Value> {
    let name = req.query("name").map(str::to_lowercase);
    let statuses = req.query("status").map(|s| split_list(&s.to_uppercase()));
    let categories = req.query("category").map(|s| split_list(&s.to_uppercase()));
    let languages = req.query("language").map(split_list);
    let fields = req.fields();
    let summary = req.query("summary").map(split_list);

    let (items, total) = {
        let mut st = shared.lock();
        st.refresh_templates(&shared.cfg, Instant::now());
        let mut matching: Vec<&Template> = st
            .templates
            .iter()
            .filter(|t| name.as_deref().is_none_or(|n| t.name.contains(n)))
            .filter(|t| {
                statuses
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|x| x == t.status.as_str()))
            })
            .filter(|t| categories.as_ref().is_none_or(|c| c.contains(&t.category)))
            .filter(|t| languages.as_ref().is_none_or(|l| l.contains(&t.language)))
            .collect();
        matching.sort_by_key(|t| std::cmp::Reverse(t.seq));
        let items: Vec<(u64, Value)> = matching
            .iter()
            .map(|t| (t.seq, t.to_json(fields.as_deref())))
            .collect();
        (items, st.templates.len())
    };
    let mut out = paginate(shared, req, items)?;
    if let (Some(summary), Value::Object(map)) = (summary, &mut out) {
        let mut s = Map::new();
        for key in summary {
            match key.as_str() {
                "total_count" | "message_template_count" => {
                    s.insert(key, json!(total));
                }
                "message_template_limit" => {
                    s.insert(key, json!(250));
                }
                "are_translations_complete" => {
                    s.insert(key, json!(true));
                }
                _ => {}
            }
        }
        map.insert("summary".into(), Value::Object(s));
    }
    Ok(out)
}

pub(crate) fn exists(shared: &Shared, id: &str) -> bool {
    shared.lock().templates.iter().any(|t| t.id == id)
}

/// `GET /{v}/{template-id}`.
pub(crate) fn get_by_id(shared: &Shared, req: &GraphRequest, id: &str) -> Option<Value> {
    let mut st = shared.lock();
    st.refresh_templates(&shared.cfg, Instant::now());
    let t = st.templates.iter().find(|t| t.id == id)?;
    Some(t.to_json(req.fields().as_deref()))
}

// ----------------------------------------------------------------------------------------
// POST (create)

const CATEGORIES: &[&str] = &["AUTHENTICATION", "MARKETING", "UTILITY"];
const COMPONENT_TYPES: &[&str] = &[
    "BODY",
    "BUTTONS",
    "CAROUSEL",
    "FOOTER",
    "HEADER",
    "LIMITED_TIME_OFFER",
];
const HEADER_FORMATS: &[&str] = &[
    "DOCUMENT", "GIF", "IMAGE", "LOCATION", "PRODUCT", "TEXT", "VIDEO",
];
const BUTTON_TYPES: &[&str] = &[
    "CATALOG",
    "COPY_CODE",
    "FLOW",
    "MPM",
    "OTP",
    "PHONE_NUMBER",
    "QUICK_REPLY",
    "SPM",
    "URL",
    "VOICE_CALL",
];

/// Template languages Meta supports.
const LANGUAGES: &[&str] = &[
    "af", "sq", "ar", "ar_EG", "ar_AE", "ar_LB", "ar_MA", "ar_QA", "az", "be_BY", "bn", "bn_IN",
    "bg", "ca", "zh_CN", "zh_HK", "zh_TW", "hr", "cs", "da", "prs_AF", "nl", "nl_BE", "en",
    "en_GB", "en_US", "en_AE", "en_AU", "en_CA", "en_GH", "en_IE", "en_IN", "en_JM", "en_MY",
    "en_NZ", "en_QA", "en_SG", "en_UG", "en_ZA", "et", "fil", "fi", "fr", "fr_BE", "fr_CA",
    "fr_CH", "fr_CI", "fr_MA", "ka", "de", "de_AT", "de_CH", "el", "gu", "ha", "he", "hi", "hu",
    "id", "ga", "it", "ja", "kn", "kk", "rw_RW", "ko", "ky_KG", "lo", "lv", "lt", "mk", "ms", "ml",
    "mr", "nb", "ps_AF", "fa", "pl", "pt_BR", "pt_PT", "pa", "ro", "ru", "sr", "si_LK", "sk", "sl",
    "es", "es_AR", "es_CL", "es_CO", "es_CR", "es_DO", "es_EC", "es_HN", "es_MX", "es_PA", "es_PE",
    "es_ES", "es_UY", "sw", "sv", "ta", "te", "th", "tr", "uk", "ur", "uz", "vi", "zu",
];

/// Human names Meta uses in template error messages.
fn language_name(code: &str) -> String {
    let name = match code {
        "en" => "English",
        "en_US" => "English (US)",
        "en_GB" => "English (UK)",
        "es" => "Spanish",
        "es_ES" => "Spanish (SPA)",
        "es_MX" => "Spanish (MEX)",
        "es_AR" => "Spanish (ARG)",
        "pt_BR" => "Portuguese (BR)",
        "pt_PT" => "Portuguese (POR)",
        "fr" => "French",
        "de" => "German",
        "it" => "Italian",
        "nl" => "Dutch",
        "hi" => "Hindi",
        "id" => "Indonesian",
        "ar" => "Arabic",
        "ru" => "Russian",
        "tr" => "Turkish",
        "ja" => "Japanese",
        "ko" => "Korean",
        "zh_CN" => "Chinese (CHN)",
        _ => return code.to_owned(),
    };
    name.to_owned()
}

/// Template-creation errors: Graph answers `Invalid parameter` with a user-facing title/message.
fn template_error(title: &str, details: impl Into<String>) -> GraphError {
    let details = details.into();
    GraphError::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter")
        .transient(false)
        .user(title, details.clone())
        .details(details)
}

struct NewTemplate {
    name: String,
    language: String,
    category: String,
    format: ParamFormat,
    components: Vec<Value>,
}

fn required_str<'a>(params: &'a Map<String, Value>, name: &str) -> GraphResult<&'a str> {
    match params.get(name) {
        None | Some(Value::Null) => Err(GraphError::required_param(name)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(GraphError::required_param(name)),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(GraphError::invalid_param(format!(
            "Param {name} must be a string."
        ))),
    }
}

fn validate_name(name: &str) -> GraphResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(template_error(
            "Invalid template name",
            format!(
                "name: \"{name}\" is not a valid template name. Names can only contain lowercase letters, numbers and underscores, at most 512 characters (^[a-z0-9_]{{1,512}}$)."
            ),
        ))
    }
}

fn text_field<'a>(comp: &'a Map<String, Value>, section: &str) -> GraphResult<Option<&'a str>> {
    match comp.get("text") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(template_error(
            "Invalid component",
            format!("{section}: text must be a string."),
        )),
    }
}

/// Where a component keeps its variable samples, and how many variables it may have.
struct VarSpec {
    section: &'static str,
    /// `body_text` (nested: `[[…]]`) or `header_text` (flat: `[…]`).
    positional_key: &'static str,
    named_key: &'static str,
    nested: bool,
    max_params: Option<usize>,
}

const BODY_VARS: VarSpec = VarSpec {
    section: "BODY",
    positional_key: "body_text",
    named_key: "body_text_named_params",
    nested: true,
    max_params: None,
};

const HEADER_VARS: VarSpec = VarSpec {
    section: "HEADER",
    positional_key: "header_text",
    named_key: "header_text_named_params",
    nested: false,
    max_params: Some(1),
};

/// Checks `{{…}}` variables of `text` against `format` and the component's examples.
fn check_variables(
    spec: &VarSpec,
    text: &str,
    format: ParamFormat,
    comp: &Map<String, Value>,
) -> GraphResult<()> {
    let VarSpec {
        section,
        positional_key,
        named_key,
        nested,
        max_params,
    } = *spec;
    let all = placeholders(text);
    if all.is_empty() {
        return Ok(());
    }
    let names = distinct(all);
    if let Some(max) = max_params
        && names.len() > max
    {
        return Err(template_error(
            "Too many variables",
            format!(
                "{section}: at most {max} variable is allowed, found {}.",
                names.len()
            ),
        ));
    }
    let example = comp.get("example").and_then(Value::as_object);
    match format {
        ParamFormat::Positional => {
            let mut nums = Vec::new();
            for n in &names {
                match n.parse::<u32>() {
                    Ok(v) if v >= 1 && n.bytes().all(|b| b.is_ascii_digit()) => nums.push(v),
                    _ => {
                        return Err(template_error(
                            "Invalid variable",
                            format!(
                                "{section}: \"{{{{{n}}}}}\" is not a valid POSITIONAL variable. Use {{{{1}}}}, {{{{2}}}}, … or set parameter_format to NAMED."
                            ),
                        ));
                    }
                }
            }
            nums.sort_unstable();
            if nums.iter().enumerate().any(|(i, v)| *v as usize != i + 1) {
                return Err(template_error(
                    "Variables must be sequential",
                    format!(
                        "{section}: variables must be sequential, starting at {{{{1}}}} ({{{{1}}}}, {{{{2}}}}, …)."
                    ),
                ));
            }
            let values = example.and_then(|e| e.get(positional_key));
            let values = if nested {
                values
                    .and_then(Value::as_array)
                    .and_then(|outer| outer.first())
                    .and_then(Value::as_array)
            } else {
                values.and_then(Value::as_array)
            };
            let shape = if nested {
                format!("example.{positional_key}: [[…]]")
            } else {
                format!("example.{positional_key}: […]")
            };
            let Some(values) = values else {
                return Err(template_error(
                    "Missing variable samples",
                    format!(
                        "{section}: the text has {} variable(s), so sample values are required in {shape}.",
                        nums.len()
                    ),
                ));
            };
            if values.len() != nums.len() || values.iter().any(|v| !v.is_string()) {
                return Err(template_error(
                    "Wrong number of variable samples",
                    format!(
                        "{section}: {shape} must hold {} string(s), one per variable; it holds {}.",
                        nums.len(),
                        values.len()
                    ),
                ));
            }
        }
        ParamFormat::Named => {
            for n in &names {
                let valid = n
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !valid {
                    return Err(template_error(
                        "Invalid variable",
                        format!(
                            "{section}: \"{{{{{n}}}}}\" is not a valid NAMED variable. Named variables use lowercase letters, digits and underscores, e.g. {{{{first_name}}}}."
                        ),
                    ));
                }
            }
            let samples = example
                .and_then(|e| e.get(named_key))
                .and_then(Value::as_array);
            let Some(samples) = samples else {
                return Err(template_error(
                    "Missing variable samples",
                    format!(
                        "{section}: the text has named variables, so samples are required in example.{named_key}: [{{\"param_name\": …, \"example\": …}}]."
                    ),
                ));
            };
            for n in &names {
                let found = samples.iter().any(|s| {
                    s.get("param_name").and_then(Value::as_str) == Some(n.as_str())
                        && s.get("example").is_some_and(Value::is_string)
                });
                if !found {
                    return Err(template_error(
                        "Missing variable samples",
                        format!("{section}: example.{named_key} has no sample for \"{n}\"."),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn validate_create(params: &Map<String, Value>) -> GraphResult<NewTemplate> {
    let name = required_str(params, "name")?;
    validate_name(name)?;
    let category_raw = required_str(params, "category")?;
    let category = category_raw.to_ascii_uppercase();
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(GraphError::enum_param("category", CATEGORIES, category_raw));
    }
    let language = required_str(params, "language")?;
    if !LANGUAGES.contains(&language) {
        return Err(template_error(
            "Invalid language",
            format!(
                "language: \"{language}\" is not a supported template language code (e.g. en_US)."
            ),
        ));
    }
    let format = match params.get("parameter_format") {
        None | Some(Value::Null) => ParamFormat::Positional,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("POSITIONAL") => ParamFormat::Positional,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("NAMED") => ParamFormat::Named,
        Some(other) => {
            let got = other
                .as_str()
                .map(str::to_owned)
                .unwrap_or(other.to_string());
            return Err(GraphError::enum_param(
                "parameter_format",
                &["NAMED", "POSITIONAL"],
                &got,
            ));
        }
    };
    let comps = match params.get("components") {
        None | Some(Value::Null) => return Err(GraphError::required_param("components")),
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(_) => {
            return Err(template_error(
                "Invalid components",
                "components: must be a non-empty array of components.",
            ));
        }
    };
    let is_auth = category == "AUTHENTICATION";
    let mut normalized = Vec::with_capacity(comps.len());
    let mut seen: Vec<String> = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        let Some(obj) = c.as_object() else {
            return Err(template_error(
                "Invalid component",
                format!("components[{i}]: must be an object."),
            ));
        };
        let ty_raw = obj.get("type").and_then(Value::as_str).unwrap_or("");
        if ty_raw.is_empty() {
            return Err(GraphError::required_param(&format!("components[{i}].type")));
        }
        let ty = ty_raw.to_ascii_uppercase();
        if !COMPONENT_TYPES.contains(&ty.as_str()) {
            return Err(GraphError::enum_param(
                &format!("components[{i}].type"),
                COMPONENT_TYPES,
                ty_raw,
            ));
        }
        if seen.contains(&ty) {
            return Err(template_error(
                "Duplicate component",
                format!("components: only one {ty} component is allowed."),
            ));
        }
        seen.push(ty.clone());
        let mut obj = obj.clone();
        obj.insert("type".into(), json!(ty));
        match ty.as_str() {
            "BODY" => validate_body(&obj, format, is_auth)?,
            "HEADER" => {
                if is_auth {
                    return Err(template_error(
                        "Invalid component",
                        "HEADER: AUTHENTICATION templates can't have a header.",
                    ));
                }
                let f = validate_header(&obj, format)?;
                obj.insert("format".into(), json!(f));
            }
            "FOOTER" => validate_footer(&obj, is_auth)?,
            "BUTTONS" => {
                let buttons = validate_buttons(&obj, is_auth)?;
                obj.insert("buttons".into(), Value::Array(buttons));
            }
            _ => {}
        }
        normalized.push(Value::Object(obj));
    }
    if !seen.iter().any(|t| t == "BODY") {
        return Err(template_error(
            "Missing body",
            "components: a BODY component is required.",
        ));
    }
    Ok(NewTemplate {
        name: name.to_owned(),
        language: language.to_owned(),
        category,
        format,
        components: normalized,
    })
}

fn validate_body(obj: &Map<String, Value>, format: ParamFormat, is_auth: bool) -> GraphResult<()> {
    let text = text_field(obj, "BODY")?;
    if is_auth {
        // Meta writes the authentication body itself ("{{1}} is your verification code").
        return Ok(());
    }
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Err(template_error(
            "Missing body text",
            "BODY: text is required.",
        ));
    };
    if char_len(text) > 1024 {
        return Err(template_error(
            "Body too long",
            format!(
                "BODY: text must be at most 1024 characters; it has {}.",
                char_len(text)
            ),
        ));
    }
    let trimmed = text.trim();
    if !placeholders(text).is_empty() && (trimmed.starts_with("{{") || trimmed.ends_with("}}")) {
        return Err(template_error(
            "Variables can't be at the start or end of the template",
            "BODY: variables can't be at the start or end of the text; add words before the first and after the last variable.",
        )
        .subcode(2388299));
    }
    check_variables(&BODY_VARS, text, format, obj)
}

fn validate_header(obj: &Map<String, Value>, format: ParamFormat) -> GraphResult<String> {
    let f_raw = obj.get("format").and_then(Value::as_str).unwrap_or("");
    if f_raw.is_empty() {
        return Err(template_error(
            "Missing header format",
            "HEADER: format is required (TEXT, IMAGE, VIDEO, GIF, DOCUMENT, LOCATION or PRODUCT).",
        ));
    }
    let f = f_raw.to_ascii_uppercase();
    if !HEADER_FORMATS.contains(&f.as_str()) {
        return Err(GraphError::enum_param(
            "HEADER.format",
            HEADER_FORMATS,
            f_raw,
        ));
    }
    match f.as_str() {
        "TEXT" => {
            let Some(text) = text_field(obj, "HEADER")?.filter(|t| !t.trim().is_empty()) else {
                return Err(template_error(
                    "Missing header text",
                    "HEADER: text is required for a TEXT header.",
                ));
            };
            if char_len(text) > 60 {
                return Err(template_error(
                    "Header too long",
                    format!(
                        "HEADER: text must be at most 60 characters; it has {}.",
                        char_len(text)
                    ),
                ));
            }
            check_variables(&HEADER_VARS, text, format, obj)?;
        }
        "IMAGE" | "VIDEO" | "GIF" | "DOCUMENT" => {
            let ok = obj
                .get("example")
                .and_then(|e| e.get("header_handle"))
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string));
            if !ok {
                return Err(template_error(
                    "Missing media sample",
                    format!(
                        "HEADER: a {f} header needs a sample in example.header_handle: [\"<handle from the Resumable Upload API>\"]."
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(f)
}

fn validate_footer(obj: &Map<String, Value>, is_auth: bool) -> GraphResult<()> {
    if is_auth {
        if let Some(m) = obj.get("code_expiration_minutes")
            && !m.as_u64().is_some_and(|m| (1..=90).contains(&m))
        {
            return Err(template_error(
                "Invalid code expiration",
                "FOOTER: code_expiration_minutes must be an integer between 1 and 90.",
            ));
        }
        return Ok(());
    }
    let Some(text) = text_field(obj, "FOOTER")?.filter(|t| !t.trim().is_empty()) else {
        return Err(template_error(
            "Missing footer text",
            "FOOTER: text is required.",
        ));
    };
    if char_len(text) > 60 {
        return Err(template_error(
            "Footer too long",
            format!(
                "FOOTER: text must be at most 60 characters; it has {}.",
                char_len(text)
            ),
        ));
    }
    if !placeholders(text).is_empty() {
        return Err(template_error(
            "Invalid footer",
            "FOOTER: the footer can't contain variables.",
        ));
    }
    Ok(())
}

fn validate_buttons(obj: &Map<String, Value>, is_auth: bool) -> GraphResult<Vec<Value>> {
    let Some(buttons) = obj.get("buttons").and_then(Value::as_array) else {
        return Err(template_error(
            "Missing buttons",
            "BUTTONS: buttons must be a non-empty array.",
        ));
    };
    if buttons.is_empty() || buttons.len() > 10 {
        return Err(template_error(
            "Invalid buttons",
            format!(
                "BUTTONS: a template has 1 to 10 buttons; found {}.",
                buttons.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(buttons.len());
    let mut has_otp = false;
    for (i, b) in buttons.iter().enumerate() {
        let Some(b) = b.as_object() else {
            return Err(template_error(
                "Invalid button",
                format!("BUTTONS: buttons[{i}] must be an object."),
            ));
        };
        let ty_raw = b.get("type").and_then(Value::as_str).unwrap_or("");
        let ty = ty_raw.to_ascii_uppercase();
        if !BUTTON_TYPES.contains(&ty.as_str()) {
            return Err(GraphError::enum_param(
                &format!("buttons[{i}].type"),
                BUTTON_TYPES,
                ty_raw,
            ));
        }
        has_otp |= ty == "OTP";
        let text = b.get("text").and_then(Value::as_str);
        let needs_text = matches!(
            ty.as_str(),
            "QUICK_REPLY" | "URL" | "PHONE_NUMBER" | "FLOW" | "VOICE_CALL"
        );
        if needs_text && text.is_none_or(|t| t.trim().is_empty()) {
            return Err(template_error(
                "Missing button text",
                format!("BUTTONS: buttons[{i}] ({ty}) needs a text."),
            ));
        }
        if let Some(t) = text
            && char_len(t) > 25
        {
            return Err(template_error(
                "Button text too long",
                format!(
                    "BUTTONS: buttons[{i}].text must be at most 25 characters; it has {}.",
                    char_len(t)
                ),
            ));
        }
        match ty.as_str() {
            "URL" => {
                let url = b.get("url").and_then(Value::as_str).unwrap_or("");
                let lower = url.to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("http://"))
                    || char_len(url) > 2000
                {
                    return Err(template_error(
                        "Invalid URL button",
                        format!(
                            "BUTTONS: buttons[{i}].url must be an http(s) URL of at most 2000 characters."
                        ),
                    ));
                }
                let vars = placeholders(url);
                if !vars.is_empty() {
                    if vars.len() > 1 || !url.trim_end().ends_with("}}") {
                        return Err(template_error(
                            "Invalid URL button",
                            format!(
                                "BUTTONS: buttons[{i}].url can have one variable, at the end of the URL."
                            ),
                        ));
                    }
                    let has_example = b
                        .get("example")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.first().is_some_and(Value::is_string));
                    if !has_example {
                        return Err(template_error(
                            "Missing variable samples",
                            format!(
                                "BUTTONS: buttons[{i}].url has a variable, so a sample is required in example: [\"…\"]."
                            ),
                        ));
                    }
                }
            }
            "PHONE_NUMBER" => {
                let p = b.get("phone_number").and_then(Value::as_str).unwrap_or("");
                if p.trim().is_empty() || char_len(p) > 20 {
                    return Err(template_error(
                        "Invalid phone number button",
                        format!(
                            "BUTTONS: buttons[{i}].phone_number is required (at most 20 characters)."
                        ),
                    ));
                }
            }
            "OTP" if !is_auth => {
                return Err(template_error(
                    "Invalid button",
                    format!(
                        "BUTTONS: buttons[{i}] is an OTP button, which only AUTHENTICATION templates can have."
                    ),
                ));
            }
            _ => {}
        }
        let mut b = b.clone();
        b.insert("type".into(), json!(ty));
        out.push(Value::Object(b));
    }
    if is_auth && !has_otp {
        return Err(template_error(
            "Missing OTP button",
            "BUTTONS: AUTHENTICATION templates need an OTP button.",
        ));
    }
    Ok(out)
}

pub(crate) fn create(shared: &Shared, req: &GraphRequest) -> GraphResult<Value> {
    let params = req.params()?;
    let new = validate_create(&params)?;
    let cfg: &SandboxConfig = &shared.cfg;
    let now = Instant::now();
    let now_sys = SystemTime::now();
    let mut st = shared.lock();
    st.refresh_templates(cfg, now);

    if st
        .templates
        .iter()
        .any(|t| t.name == new.name && t.language == new.language)
    {
        let lang = language_name(&new.language);
        return Err(GraphError::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter")
            .subcode(2388024)
            .transient(false)
            .user(
                "Content in This Language Already Exists",
                format!(
                    "There is already {lang} content for this template. You can create a new template and try again."
                ),
            )
            .details(format!(
                "A template named {} already exists in {}.",
                new.name, new.language
            )));
    }
    st.deleted_templates.retain(|(_, _, at)| {
        now_sys
            .duration_since(*at)
            .map(|d| d < DELETED_NAME_BLOCK)
            .unwrap_or(true)
    });
    if st
        .deleted_templates
        .iter()
        .any(|(n, l, _)| *n == new.name && *l == new.language)
    {
        let lang = language_name(&new.language);
        return Err(GraphError::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter")
            .subcode(2388023)
            .transient(false)
            .user(
                "Message Template Language Is Being Deleted",
                format!(
                    "New {lang} content can't be added while the existing {lang} content is being deleted. Try again in 4 weeks or create a new message template."
                ),
            )
            .details(format!(
                "The template {} in {} was deleted less than 30 days ago; its name can't be reused yet.",
                new.name, new.language
            )));
    }
    if let Some(limit) = cfg.template_creations_per_hour {
        let hour = Duration::from_secs(3600);
        while st
            .template_creations
            .front()
            .is_some_and(|t| now.duration_since(*t) >= hour)
        {
            st.template_creations.pop_front();
        }
        if st.template_creations.len() >= limit as usize {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                80007,
                "(#80007) Rate limit issues",
            )
            .details(format!(
                "Message template creation limit reached: at most {limit} templates can be created per WhatsApp Business Account per hour."
            )));
        }
    }
    st.template_creations.push_back(now);

    let outcome = if new.name.starts_with(REJECT_PREFIX) {
        Status::Rejected
    } else {
        Status::Approved
    };
    let seq = st.next_template_seq;
    st.next_template_seq += 1;
    let mut id = util::numeric_id(16);
    while st.templates.iter().any(|t| t.id == id) {
        id = util::numeric_id(16);
    }
    let response = json!({"id": id, "status": "PENDING", "category": new.category});
    tracing::debug!(name = %new.name, language = %new.language, id = %id, "sandbox: template created");
    st.templates.push(Template {
        seq,
        id,
        name: new.name,
        language: new.language,
        category: new.category,
        parameter_format: new.format,
        components: new.components,
        status: Status::Pending,
        rejected_reason: None,
        // A delay too large for the clock means the review never ends.
        review: now.checked_add(cfg.approval_delay).map(|at| (at, outcome)),
    });
    if let Some(at) = now.checked_add(cfg.approval_delay) {
        // With webhooks, the review result is announced when it is due.
        st.outbox.review_due(at);
    }
    Ok(response)
}

// ----------------------------------------------------------------------------------------
// DELETE

pub(crate) fn delete(shared: &Shared, req: &GraphRequest) -> GraphResult<Value> {
    let params = req.params()?;
    let name = match params.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(GraphError::required_param("name")),
    };
    let hsm_id = match params.get("hsm_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(GraphError::invalid_param(
                "Param hsm_id must be a template id.",
            ));
        }
    };
    let now_sys = SystemTime::now();
    let mut st = shared.lock();
    st.refresh_templates(&shared.cfg, Instant::now());
    let doomed: Vec<usize> = match &hsm_id {
        Some(id) => {
            let Some(pos) = st.templates.iter().position(|t| t.id == *id) else {
                return Err(GraphError::invalid_param(format!(
                    "No message template with hsm_id {id} exists."
                )));
            };
            if st.templates[pos].name != name {
                return Err(GraphError::invalid_param(format!(
                    "The message template with hsm_id {id} is not named {name}."
                )));
            }
            vec![pos]
        }
        None => st
            .templates
            .iter()
            .enumerate()
            .filter(|(_, t)| t.name == name)
            .map(|(i, _)| i)
            .collect(),
    };
    if doomed.is_empty() {
        return Err(GraphError::invalid_param(format!(
            "Message template \"{name}\" can't be deleted because it doesn't exist."
        ))
        .user(
            "Message Template Not Found",
            format!("There is no message template named {name}."),
        ));
    }
    for &i in doomed.iter().rev() {
        let t = st.templates.remove(i);
        tracing::debug!(name = %t.name, language = %t.language, id = %t.id, "sandbox: template deleted");
        st.deleted_templates.push((t.name, t.language, now_sys));
    }
    Ok(json!({"success": true}))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn placeholders_are_found_in_order_with_spaces_trimmed() {
        assert_eq!(
            placeholders("Hi {{1}}, order {{ 2 }} and {{1}} again {{name}}"),
            vec!["1", "2", "1", "name"]
        );
        assert!(placeholders("no vars {{ unterminated").is_empty());
        assert!(placeholders("").is_empty());
    }
}
