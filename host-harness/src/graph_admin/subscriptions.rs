//! The app's subscription to a WABA's webhooks
//! (https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/subscribed_apps/).

use serde_json::Value;

use super::client::{Call, GraphAdmin};
use super::errors::{AdminError, missing};
use super::json::id_of;
use whatsapp_host::caps::vault::Secret;

/// An app subscribed to a WABA's webhooks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SubscribedApp {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
}

impl GraphAdmin {
    /// The apps subscribed to the WABA's webhooks (`GET /{waba-id}/subscribed_apps`).
    pub(crate) async fn subscribed_apps(
        &self,
        token: &Secret,
        waba_id: &str,
    ) -> Result<Vec<SubscribedApp>, AdminError> {
        let call = "subscribed_apps";
        let value = self
            .get(call, token, &[waba_id, "subscribed_apps"], vec![])
            .await?;
        let data = value
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| missing(call, "data"))?;
        Ok(data
            .iter()
            .filter_map(|item| {
                // `{"whatsapp_business_api_data": {id, name, link}}`; older answers are flat.
                let app = item.get("whatsapp_business_api_data").unwrap_or(item);
                Some(SubscribedApp {
                    id: id_of(app)?,
                    name: app.get("name").and_then(Value::as_str).map(str::to_string),
                })
            })
            .collect())
    }

    /// Subscribes the token's app to the WABA's webhooks (`POST /{waba-id}/subscribed_apps`).
    pub(crate) async fn subscribe_app(
        &self,
        token: &Secret,
        waba_id: &str,
    ) -> Result<bool, AdminError> {
        let value = self
            .send(Call {
                name: "subscribed_apps (subscribe)",
                method: reqwest::Method::POST,
                path: &[waba_id, "subscribed_apps"],
                query: vec![],
                bearer: Some(token),
                secrets: vec![token.expose()],
            })
            .await?;
        Ok(value
            .get("success")
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }
}
