//! The WhatsApp Business Account and its phone numbers
//! (https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/phone_numbers/).

use serde_json::Value;

use super::client::GraphAdmin;
use super::errors::{AdminError, missing};
use super::json::id_of;
use whatsapp_host::caps::vault::Secret;

/// Pages of phone numbers read at most (100 each).
const MAX_PAGES: usize = 20;
/// The fields of a phone number the host reads.
const PHONE_FIELDS: &str = "id,display_phone_number,verified_name,status,quality_rating";

/// A phone number of a WABA (`/{waba-id}/phone_numbers`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneNumber {
    /// The phone number id (what the Cloud API's `/{id}/messages` takes).
    pub id: String,
    pub(crate) display_phone_number: Option<String>,
    pub(crate) verified_name: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) quality_rating: Option<String>,
}

impl PhoneNumber {
    fn from_json(v: &Value) -> Option<PhoneNumber> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(PhoneNumber {
            id: id_of(v)?,
            display_phone_number: s("display_phone_number"),
            verified_name: s("verified_name"),
            status: s("status"),
            quality_rating: s("quality_rating"),
        })
    }

    /// `+1 555-078-3881 (Lucky Shrub), id 106540352242922`
    pub(crate) fn describe(&self) -> String {
        let mut s = self
            .display_phone_number
            .clone()
            .unwrap_or_else(|| "(no display number)".into());
        if let Some(name) = &self.verified_name {
            s.push_str(&format!(" ({name})"));
        }
        s.push_str(&format!(", id {}", self.id));
        s
    }
}

/// A WhatsApp Business Account node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Waba {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
}

impl GraphAdmin {
    /// `GET /{v}/{waba-id}?fields=id,name`.
    pub(crate) async fn waba(&self, token: &Secret, waba_id: &str) -> Result<Waba, AdminError> {
        let call = "WABA lookup";
        let value = self
            .get(call, token, &[waba_id], vec![("fields", "id,name")])
            .await?;
        Ok(Waba {
            id: id_of(&value).ok_or_else(|| missing(call, "id"))?,
            name: value
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// Every phone number of a WABA (`/{waba-id}/phone_numbers`, all pages).
    pub(crate) async fn phone_numbers(
        &self,
        token: &Secret,
        waba_id: &str,
    ) -> Result<Vec<PhoneNumber>, AdminError> {
        let call = "phone_numbers";
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("fields", PHONE_FIELDS), ("limit", "100")];
            if let Some(a) = &after {
                query.push(("after", a.as_str()));
            }
            let value = self
                .get(call, token, &[waba_id, "phone_numbers"], query)
                .await?;
            let data = value
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| missing(call, "data"))?;
            out.extend(data.iter().filter_map(PhoneNumber::from_json));
            // Cursors, never the `next` URL: a URL from the answer could point elsewhere.
            let has_next = value.pointer("/paging/next").is_some();
            let cursor = value
                .pointer("/paging/cursors/after")
                .and_then(Value::as_str)
                .map(str::to_string);
            match (has_next, cursor) {
                (true, Some(c)) if !data.is_empty() && Some(&c) != after.as_ref() => {
                    after = Some(c)
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// `GET /{v}/{phone-number-id}`.
    pub(crate) async fn phone_number(
        &self,
        token: &Secret,
        id: &str,
    ) -> Result<PhoneNumber, AdminError> {
        let call = "phone number lookup";
        let value = self
            .get(call, token, &[id], vec![("fields", PHONE_FIELDS)])
            .await?;
        PhoneNumber::from_json(&value).ok_or_else(|| missing(call, "id"))
    }
}
