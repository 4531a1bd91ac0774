//! What WhatsApp accepts as uploaded media: the MIME types and the size
//! limit of each kind, from Meta's "Supported media types"
//! (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types).
//! Sizes are in MiB: the larger reading of Meta's "MB", so nothing Meta
//! takes is refused here.

use crate::runtime::bindings::media::MediaKind;

const MIB: u64 = 1024 * 1024;

/// The MIME types and size limit of one kind.
pub(crate) struct KindRules {
    /// The kind's name as the tools spell it.
    pub(crate) name: &'static str,
    /// Largest file accepted, in bytes.
    pub(crate) max_bytes: u64,
    /// MIME types accepted, lower case.
    pub(crate) mime_types: &'static [&'static str],
}

/// The rules of `kind`.
pub(crate) fn rules(kind: MediaKind) -> KindRules {
    match kind {
        MediaKind::Image => KindRules {
            name: "image",
            max_bytes: 5 * MIB,
            mime_types: &["image/jpeg", "image/png"],
        },
        MediaKind::Video => KindRules {
            name: "video",
            max_bytes: 16 * MIB,
            mime_types: &["video/mp4", "video/3gpp"],
        },
        MediaKind::Audio => KindRules {
            name: "audio",
            max_bytes: 16 * MIB,
            mime_types: &[
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
            ],
        },
        MediaKind::Document => KindRules {
            name: "document",
            max_bytes: 100 * MIB,
            mime_types: &[
                "text/plain",
                "application/pdf",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.ms-excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ],
        },
        // Animated stickers may be 500 KB, static ones 100 KB; the file alone
        // does not say which, so the larger limit applies.
        MediaKind::Sticker => KindRules {
            name: "sticker",
            max_bytes: 500 * 1024,
            mime_types: &["image/webp"],
        },
    }
}

/// `text` without parameters, trimmed and in lower case (`Image/JPEG; q=1` → `image/jpeg`).
pub(crate) fn essence(text: &str) -> String {
    text.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl KindRules {
    /// `mime` (an essence) if this kind accepts it, or why not.
    pub(crate) fn check_mime(&self, mime: &str) -> Result<(), String> {
        if self.mime_types.contains(&mime) {
            return Ok(());
        }
        Err(format!(
            "MIME type `{mime}` is not accepted for {} media; WhatsApp takes {}",
            self.name,
            self.mime_types.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_accepts_only_its_own_types() {
        let image = rules(MediaKind::Image);
        assert!(image.check_mime("image/png").is_ok());
        assert!(image.check_mime("image/webp").is_err());
        assert!(rules(MediaKind::Sticker).check_mime("image/webp").is_ok());
        assert!(
            rules(MediaKind::Document)
                .check_mime("application/pdf")
                .is_ok()
        );
        assert!(rules(MediaKind::Audio).check_mime("video/mp4").is_err());
        assert_eq!(essence(" Image/JPEG; charset=binary"), "image/jpeg");
    }
}
