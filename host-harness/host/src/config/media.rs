//! `[media]`: files the gateway itself downloads and uploads to WhatsApp
//! (`whatsapp_send_media` with `upload: true`, for files Meta cannot reach).

use serde::Deserialize;
use url::Url;

use super::whatsapp::WhatsApp;
use crate::caps::allowlist::Origin;

/// The `[media]` section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Origins (`https://files.internal.example`) the gateway may download
    /// media from; empty (the default) turns gateway uploads off. Env
    /// `WHATSAPP_MEDIA_FETCH_ALLOW`, comma-separated.
    pub fetch_allow: Vec<String>,
}

impl MediaSettings {
    pub(super) fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("WHATSAPP_MEDIA_FETCH_ALLOW") {
            self.fetch_allow = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect();
        }
    }

    /// The allowed origins, each checked; a path is refused rather than
    /// silently ignored, since the allowlist is by origin only.
    pub(crate) fn origins(&self) -> anyhow::Result<Vec<Origin>> {
        self.fetch_allow
            .iter()
            .map(|text| {
                let url = Url::parse(text).map_err(|e| {
                    anyhow::anyhow!("media.fetch_allow: `{text}` is not a URL: {e}")
                })?;
                if url.path() != "/" || url.query().is_some() {
                    anyhow::bail!(
                        "media.fetch_allow: `{text}` has a path or query; give only the origin, like https://files.internal.example"
                    );
                }
                Origin::of(&url).map_err(|e| anyhow::anyhow!("media.fetch_allow: {e}"))
            })
            .collect()
    }

    /// Where uploads go: `{api_base_url}/{api_version}/{phone_number_id}/media`.
    pub(crate) fn upload_url(whatsapp: &WhatsApp) -> Option<Url> {
        let id = whatsapp.phone_number_id.as_deref()?;
        let base = whatsapp.api_base_url.trim_end_matches('/');
        Url::parse(&format!("{base}/{}/{id}/media", whatsapp.api_version)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_origins_come_from_the_file_or_the_environment_and_must_be_bare_origins() {
        let mut media = MediaSettings::default();
        assert!(media.origins().unwrap().is_empty(), "off by default");
        media.apply_env(&|name: &str| {
            (name == "WHATSAPP_MEDIA_FETCH_ALLOW")
                .then(|| "https://files.internal.example, http://10.0.0.5:8080".to_string())
        });
        let origins = media.origins().unwrap();
        assert_eq!(origins[1].to_string(), "http://10.0.0.5:8080");
        media.fetch_allow = vec!["https://files.internal.example/private".into()];
        let e = media.origins().unwrap_err().to_string();
        assert!(e.contains("only the origin"), "{e}");
    }
}
