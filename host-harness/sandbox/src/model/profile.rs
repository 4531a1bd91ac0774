//! The business profile of the phone number and Meta's rules for changing it
//! (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/business-profiles).
//! A leaf the world stores; `routes::profile` renders it.

use serde_json::{Map, Value};

use super::params::require_whatsapp_product;
use crate::graph_error::{GraphError, GraphResult};
use crate::util::{self, char_len};

/// The `vertical` values Meta accepts (its `WhatsAppBusinessVertical` enum).
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

#[derive(Clone, Debug)]
pub(crate) struct Profile {
    pub(crate) about: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) profile_picture_url: Option<String>,
    pub(crate) websites: Vec<String>,
    pub(crate) vertical: Option<String>,
}

impl Profile {
    /// Meta's own sample business, so demos look like the documentation.
    pub(crate) fn seed() -> Profile {
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

    /// Applies `POST whatsapp_business_profile` parameters. Everything is checked first, so a
    /// bad field changes nothing.
    pub(crate) fn update(&mut self, params: &Map<String, Value>) -> GraphResult<()> {
        require_whatsapp_product(params)?;

        // Validate everything first so a bad field changes nothing.
        let about = string_param(params, "about")?;
        if let Some(a) = about {
            if a.trim().is_empty() {
                return Err(GraphError::invalid_param(
                    "Param about must be between 1 and 139 characters long: String cannot be empty.",
                ));
            }
            max_len("about", a, 139)?;
        }
        let address = string_param(params, "address")?;
        if let Some(a) = address {
            max_len("address", a, 256)?;
        }
        let description = string_param(params, "description")?;
        if let Some(d) = description {
            max_len("description", d, 512)?;
        }
        let email = string_param(params, "email")?;
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
        let vertical = string_param(params, "vertical")?;
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
        let picture = string_param(params, "profile_picture_handle")?;
        if picture.is_some_and(|p| p.trim().is_empty()) {
            return Err(GraphError::invalid_param(
                "Param profile_picture_handle must be a handle from the Resumable Upload API.",
            ));
        }

        let p = self;
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
                util::random_hex(8)
            ));
        }
        Ok(())
    }
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

#[cfg(test)]
mod unit {
    use serde_json::json;

    use super::*;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_bad_field_leaves_the_profile_unchanged_and_a_good_update_applies_every_field() {
        let mut p = Profile::seed();
        let bad = params(json!({"messaging_product": "whatsapp", "about": "New", "email": "x"}));
        assert!(p.update(&bad).is_err());
        assert_eq!(p.about.as_deref(), Some("Succulent specialists!"));

        let good = params(json!({"messaging_product": "whatsapp", "about": "New", "address": ""}));
        p.update(&good).unwrap();
        assert_eq!(p.about.as_deref(), Some("New"));
        assert_eq!(p.address, None, "an empty string clears a field");
    }
}
