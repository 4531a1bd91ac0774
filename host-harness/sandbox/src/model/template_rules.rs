//! Meta's rules for a new template: name, category, language, parameter format and the
//! list of components (each component's own rules are in `template_components`).
//! https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates

use serde_json::{Map, Value, json};

use super::params::value_text;
use super::template::ParamFormat;
use super::template_carousel::{
    validate_carousel, validate_combination, validate_limited_time_offer,
};
use super::template_components::{
    COMPONENT_TYPES, template_error, validate_body, validate_buttons, validate_footer,
    validate_header,
};
use crate::graph_error::{GraphError, GraphResult};

const CATEGORIES: &[&str] = &["AUTHENTICATION", "MARKETING", "UTILITY"];

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
pub(crate) fn language_name(code: &str) -> String {
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

/// A template creation that passed the rules, components normalised (types upper-case).
pub(crate) struct NewTemplate {
    pub(crate) name: String,
    pub(crate) language: String,
    pub(crate) category: String,
    pub(crate) format: ParamFormat,
    pub(crate) components: Vec<Value>,
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

pub(crate) fn validate_create(params: &Map<String, Value>) -> GraphResult<NewTemplate> {
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
            return Err(GraphError::enum_param(
                "parameter_format",
                &["NAMED", "POSITIONAL"],
                &value_text(other),
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
    let mut lto_expires = false;
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
            "CAROUSEL" => validate_carousel(&mut obj, format)?,
            "LIMITED_TIME_OFFER" => lto_expires = validate_limited_time_offer(&obj)?,
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
    validate_combination(&normalized, &category, lto_expires)?;
    if is_auth && !seen.iter().any(|t| t == "BUTTONS") {
        return Err(template_error(
            "Missing OTP button",
            "BUTTONS: AUTHENTICATION templates need an OTP button.",
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
