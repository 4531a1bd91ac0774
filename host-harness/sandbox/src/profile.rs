//! `GET|POST /{v}/{phone-number-id}/whatsapp_business_profile` (reference §2.8-2.9).

use serde_json::{Map, Value, json};

use super::error::{GraphError, GraphResult};
use super::http::GraphRequest;
use super::state::Shared;
use super::util::char_len;

/// `WhatsAppBusinessVertical` from Meta's spec.
const VERTICALS: &[&str] = &[
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "ALCOHOL",
    "ONLINE_GAMBLING",
    "PHYSICAL_GAMBLING",
    "OTC_DRUGS",
];

const FIELDS: &[&str] = &[
    "about",
    "address",
    "description",
    "email",
    "messaging_product",
    "profile_picture_url",
    "websites",
    "vertical",
];

#[derive(Clone, Debug)]
pub(crate) struct Profile {
    pub about: Option<String>,
    pub address: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub profile_picture_url: Option<String>,
    pub websites: Vec<String>,
    pub vertical: Option<String>,
}

impl Profile {
    /// Meta's own sample business, so demos look like the documentation.
    pub fn seed() -> Profile {
        Profile {
            about: Some("Succulent specialists!".into()),
            address: Some("1 Hacker Way, Menlo Park, CA 94025".into()),
            description: Some(
                "At Lucky Shrub we grow and ship succulents, cacti and hardy house plants. Order on WhatsApp and track your delivery here."
                    .into(),
            ),
            email: Some("lucky@luckyshrub.com".into()),
            profile_picture_url: Some(
                "https://pps.whatsapp.net/v/t61.24694-24/sandbox_lucky_shrub_profile.jpg".into(),
            ),
            websites: vec![
                "https://www.luckyshrub.com/".into(),
                "https://www.facebook.com/luckyshrub".into(),
            ],
            vertical: Some("RETAIL".into()),
        }
    }

    fn to_json(&self) -> Map<String, Value> {
        // Unset fields are omitted, as Graph does.
        let mut m = Map::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        };
        put("about", &self.about);
        put("address", &self.address);
        put("description", &self.description);
        put("email", &self.email);
        put("profile_picture_url", &self.profile_picture_url);
        put("vertical", &self.vertical);
        m.insert("messaging_product".into(), json!("whatsapp"));
        if !self.websites.is_empty() {
            m.insert("websites".into(), json!(self.websites));
        }
        m
    }
}

pub(crate) fn get(shared: &Shared, req: &GraphRequest) -> GraphResult<Value> {
    let all = shared.lock().profile.to_json();
    let item = match req.fields() {
        None => all,
        Some(fields) => {
            let mut out = Map::new();
            for f in &fields {
                if !FIELDS.contains(&f.as_str()) {
                    return Err(GraphError::new(
                        http::StatusCode::BAD_REQUEST,
                        100,
                        format!(
                            "(#100) Tried accessing nonexisting field ({f}) on node type (WhatsAppBusinessProfile)"
                        ),
                    ));
                }
                if let Some(v) = all.get(f) {
                    out.insert(f.clone(), v.clone());
                }
            }
            out.insert("messaging_product".into(), json!("whatsapp"));
            out
        }
    };
    Ok(json!({ "data": [Value::Object(item)] }))
}

fn string_param<'a>(params: &'a Map<String, Value>, name: &str) -> GraphResult<Option<&'a str>> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(GraphError::invalid_param(format!(
            "Param {name} must be a string."
        ))),
    }
}

fn max_len(name: &str, value: &str, max: usize) -> GraphResult<()> {
    if char_len(value) > max {
        return Err(GraphError::invalid_param(format!(
            "Param {name} must be at most {max} characters long."
        )));
    }
    Ok(())
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// Empty strings clear a field (except `about`, which cannot be empty).
fn non_empty(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_owned())
    }
}

pub(crate) fn update(shared: &Shared, req: &GraphRequest) -> GraphResult<Value> {
    let params = req.params()?;
    match params.get("messaging_product") {
        None | Some(Value::Null) => return Err(GraphError::required_param("messaging_product")),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("whatsapp") => {}
        Some(other) => {
            let got = other
                .as_str()
                .map(str::to_owned)
                .unwrap_or(other.to_string());
            return Err(GraphError::enum_param(
                "messaging_product",
                &["WHATSAPP"],
                &got,
            ));
        }
    }

    // Validate everything first so a bad field changes nothing.
    let about = string_param(&params, "about")?;
    if let Some(a) = about {
        if a.trim().is_empty() {
            return Err(GraphError::invalid_param(
                "Param about must be between 1 and 139 characters long: String cannot be empty.",
            ));
        }
        max_len("about", a, 139)?;
    }
    let address = string_param(&params, "address")?;
    if let Some(a) = address {
        max_len("address", a, 256)?;
    }
    let description = string_param(&params, "description")?;
    if let Some(d) = description {
        max_len("description", d, 512)?;
    }
    let email = string_param(&params, "email")?;
    if let Some(e) = email {
        max_len("email", e, 128)?;
        if !e.is_empty() && !looks_like_email(e) {
            return Err(GraphError::invalid_param(
                "Param email must be a valid email address.",
            ));
        }
    }
    let websites = match params.get("websites") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            if items.len() > 2 {
                return Err(GraphError::invalid_param(
                    "Param websites must have at most 2 elements.",
                ));
            }
            let mut out = Vec::new();
            for (i, w) in items.iter().enumerate() {
                let Some(w) = w.as_str() else {
                    return Err(GraphError::invalid_param(format!(
                        "Param websites[{i}] must be a string."
                    )));
                };
                max_len(&format!("websites[{i}]"), w, 256)?;
                let lower = w.to_ascii_lowercase();
                let host = lower.split_once("://").map(|(_, r)| r).unwrap_or("");
                if !(lower.starts_with("http://") || lower.starts_with("https://"))
                    || host.is_empty()
                {
                    return Err(GraphError::invalid_param(format!(
                        "Param websites[{i}] must be a URL starting with http:// or https://."
                    )));
                }
                out.push(w.to_owned());
            }
            Some(out)
        }
        Some(_) => {
            return Err(GraphError::invalid_param(
                "Param websites must be an array of strings.",
            ));
        }
    };
    let vertical = string_param(&params, "vertical")?;
    let vertical = match vertical {
        None => None,
        Some(v) => {
            let up = v.to_ascii_uppercase();
            if !VERTICALS.contains(&up.as_str()) {
                return Err(GraphError::enum_param("vertical", VERTICALS, v));
            }
            Some(up)
        }
    };
    let picture = string_param(&params, "profile_picture_handle")?;
    if picture.is_some_and(|p| p.trim().is_empty()) {
        return Err(GraphError::invalid_param(
            "Param profile_picture_handle must be a handle from the Resumable Upload API.",
        ));
    }

    let mut st = shared.lock();
    let p = &mut st.profile;
    if let Some(a) = about {
        p.about = Some(a.to_owned());
    }
    if let Some(a) = address {
        p.address = non_empty(a);
    }
    if let Some(d) = description {
        p.description = non_empty(d);
    }
    if let Some(e) = email {
        p.email = non_empty(e);
    }
    if let Some(w) = websites {
        p.websites = w;
    }
    if let Some(v) = vertical {
        p.vertical = Some(v);
    }
    if picture.is_some() {
        // A new upload gets a new CDN URL.
        p.profile_picture_url = Some(format!(
            "https://pps.whatsapp.net/v/t61.24694-24/sandbox_{}.jpg",
            super::util::random_hex(8)
        ));
    }
    Ok(json!({"success": true}))
}
