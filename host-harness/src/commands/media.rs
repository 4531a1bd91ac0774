//! `host-harness media upload FILE`: uploads a local file to WhatsApp with
//! the configured access token and prints what to use it with.
//!
//! - Without `--for-template`: `POST /{phone-number-id}/media` (multipart:
//!   `messaging_product=whatsapp`, `type`, `file`) and prints the media id,
//!   for `whatsapp_send_media`'s `media_id`.
//! - With `--for-template`: the Resumable Upload API, `POST /{app-id}/uploads
//!   ?file_length&file_type&file_name` then `POST /{upload-session-id}` with
//!   `file_offset: 0` and the bytes, and prints the handle `h`, for a template
//!   header's `example.header_handle` or the profile's `profile_picture_handle`
//!   (https://developers.facebook.com/docs/graph-api/guides/upload).
//!
//! The file is checked against WhatsApp's type and size limits before
//! anything is sent; only the id or handle goes to stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use url::Url;
use whatsapp_host::caps::allowlist::Origin;
use whatsapp_host::caps::media::accepted_mime_limit;
use whatsapp_host::caps::vault::{self, Kind, Secret};
use whatsapp_host::config::{EnvSecrets, Settings};

use super::sandbox::LocalSandbox;

/// `host-harness media …`.
#[derive(Subcommand, Debug)]
pub enum MediaCommand {
    /// Upload FILE and print its media id (or, with --for-template, its upload handle).
    Upload(UploadArgs),
}

/// `host-harness media upload`'s arguments.
#[derive(Args, Debug)]
pub struct UploadArgs {
    /// The file to upload.
    pub(crate) file: PathBuf,
    /// Its MIME type, e.g. image/jpeg (default: from the file's extension).
    #[arg(long, value_name = "TYPE")]
    pub(crate) mime: Option<String>,
    /// Use the Resumable Upload API and print the handle for a template header example or
    /// `profile_picture_handle`.
    #[arg(long)]
    pub(crate) for_template: bool,
    /// The Meta app id the upload session belongs to (--for-template).
    #[arg(long, env = "WHATSAPP_APP_ID")]
    pub(crate) app_id: Option<String>,
    /// Upload to an in-process Cloud API sandbox instead of the configured API.
    #[arg(long)]
    pub(crate) sandbox: bool,
    /// The vault name of the access token.
    #[arg(long, default_value = vault::ACCESS_TOKEN)]
    pub(crate) credential: String,
}

/// Runs `host-harness media …`.
pub async fn run(config: Option<&Path>, command: MediaCommand) -> anyhow::Result<ExitCode> {
    let MediaCommand::Upload(mut args) = command;
    let mut settings = Settings::load(config)?;
    let mut secrets = EnvSecrets::from_env();
    let sandbox = if args.sandbox {
        let sandbox = LocalSandbox::start(None, &[], &mut settings, &mut secrets).await?;
        args.app_id.get_or_insert_with(|| sandbox.app_id());
        Some(sandbox)
    } else {
        None
    };
    let result = upload(&settings, &secrets, &args).await;
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    println!("{}", result?);
    Ok(ExitCode::SUCCESS)
}

/// The MIME type of `path` from its extension.
fn mime_from_extension(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "opus" => "audio/ogg",
        "txt" => "text/plain",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => return None,
    })
}

/// The access token named `name` (vault first, then the environment), if it
/// may be sent to `url`.
fn token_for(
    settings: &Settings,
    secrets: &EnvSecrets,
    name: &str,
    url: &Url,
) -> anyhow::Result<Secret> {
    let origin = Origin::of(url).map_err(anyhow::Error::msg)?;
    let vault = settings.load_vault()?;
    if let Some(c) = vault.get(name) {
        if c.kind != Kind::AccessToken {
            bail!("`{name}` in the vault is not an access token");
        }
        if !c.bindings.iter().any(|b| b.covers(&origin, url.path())) {
            bail!(
                "the access token `{name}` is not bound to {origin}{}; store it again with \
                 `host-harness vault set {name}` for this API",
                url.path()
            );
        }
        return Ok(c.secret.clone());
    }
    match (&secrets.access_token, name == vault::ACCESS_TOKEN) {
        (Some(token), true) => Ok(token.clone()),
        _ => bail!(
            "no access token `{name}`: store one with `host-harness vault set {name}` or set \
             WHATSAPP_ACCESS_TOKEN"
        ),
    }
}

fn graph_url(settings: &Settings, path: &str) -> anyhow::Result<Url> {
    let base = settings.whatsapp.api_base_url.trim_end_matches('/');
    let text = format!("{base}/{}/{path}", settings.whatsapp.api_version);
    Url::parse(&text).with_context(|| format!("`{text}` is not a URL"))
}

/// The answer's JSON, or Graph's error (code and message) as the failure.
async fn graph_answer(response: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let error = &body["error"];
    bail!(
        "{what} failed with HTTP {status}: {} (code {})",
        error["message"].as_str().unwrap_or("no error message"),
        error["code"]
    )
}

/// Uploads `args.file`; the media id, or the handle with `--for-template`.
pub(crate) async fn upload(
    settings: &Settings,
    secrets: &EnvSecrets,
    args: &UploadArgs,
) -> anyhow::Result<String> {
    let mime = match &args.mime {
        Some(m) => m.trim().to_ascii_lowercase(),
        None => mime_from_extension(&args.file)
            .with_context(|| {
                format!(
                    "cannot tell the type of {} from its extension; give --mime TYPE",
                    args.file.display()
                )
            })?
            .to_string(),
    };
    let limit = accepted_mime_limit(&mime).with_context(|| {
        format!("WhatsApp does not accept files of type {mime} (see the README's media section)")
    })?;
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    if size > limit {
        bail!(
            "{} is {size} bytes; WhatsApp takes {mime} files up to {limit} bytes",
            args.file.display()
        );
    }
    if size == 0 {
        bail!("{} is empty", args.file.display());
    }
    let bytes = tokio::fs::read(&args.file)
        .await
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .replace(['"', '\r', '\n'], "");
    whatsapp_host::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(300))
        .build()?;
    if args.for_template {
        let app_id = args
            .app_id
            .as_deref()
            .context("--for-template needs the Meta app id: --app-id ID or WHATSAPP_APP_ID")?;
        let mut url = graph_url(settings, &format!("{app_id}/uploads"))?;
        url.query_pairs_mut()
            .append_pair("file_length", &size.to_string())
            .append_pair("file_type", &mime)
            .append_pair("file_name", &name);
        let token = token_for(settings, secrets, &args.credential, &url)?;
        let session = graph_answer(
            client
                .post(url)
                .bearer_auth(String::from_utf8_lossy(token.expose()))
                .send()
                .await
                .context("opening the upload session failed")?,
            "opening the upload session",
        )
        .await?;
        let session_id = session["id"]
            .as_str()
            .context("the upload session answer has no id")?;
        let url = graph_url(settings, session_id)?;
        let token = token_for(settings, secrets, &args.credential, &url)?;
        let done = graph_answer(
            client
                .post(url)
                .header(
                    "authorization",
                    format!("OAuth {}", String::from_utf8_lossy(token.expose())),
                )
                .header("file_offset", "0")
                .body(bytes)
                .send()
                .await
                .context("uploading to the session failed")?,
            "uploading the file",
        )
        .await?;
        return done["h"]
            .as_str()
            .map(str::to_string)
            .context("the upload answer has no handle `h`");
    }
    let phone = settings.whatsapp.phone_number_id.as_deref().context(
        "no phone number id is configured ([whatsapp] phone_number_id or WHATSAPP_PHONE_NUMBER_ID)",
    )?;
    let url = graph_url(settings, &format!("{phone}/media"))?;
    let token = token_for(settings, secrets, &args.credential, &url)?;
    let boundary = format!("whatsapp-media-{}", hex::encode(rand::random::<[u8; 12]>()));
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{mime}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {mime}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let answer = graph_answer(
        client
            .post(url)
            .bearer_auth(String::from_utf8_lossy(token.expose()))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .context("the media upload failed")?,
        "the media upload",
    )
    .await?;
    answer["id"]
        .as_str()
        .map(str::to_string)
        .context("the media upload answer has no id")
}

#[cfg(all(test, feature = "sandbox"))]
mod tests {
    use super::*;

    fn args(file: PathBuf, for_template: bool) -> UploadArgs {
        UploadArgs {
            file,
            mime: None,
            for_template,
            app_id: None,
            sandbox: true,
            credential: vault::ACCESS_TOKEN.into(),
        }
    }

    async fn sandbox() -> (LocalSandbox, Settings, EnvSecrets) {
        let mut settings = Settings::default();
        let mut secrets = EnvSecrets::default();
        settings.vault.path = std::env::temp_dir().join("no-such-vault-for-media-tests.json");
        let sandbox = LocalSandbox::start(None, &[], &mut settings, &mut secrets)
            .await
            .unwrap();
        (sandbox, settings, secrets)
    }

    #[tokio::test]
    async fn a_local_image_uploads_to_a_media_id_and_a_pdf_for_a_template_to_a_handle() {
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("photo.jpg");
        std::fs::write(&photo, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).unwrap();
        let (sandbox, settings, secrets) = sandbox().await;
        let id = upload(&settings, &secrets, &args(photo, false))
            .await
            .unwrap();
        assert!(id.chars().all(|c| c.is_ascii_digit()), "{id}");

        let pdf = dir.path().join("menu.pdf");
        std::fs::write(&pdf, b"%PDF-1.4 sample").unwrap();
        let mut a = args(pdf, true);
        a.app_id = Some(sandbox.app_id());
        let handle = upload(&settings, &secrets, &a).await.unwrap();
        assert!(handle.starts_with("4::"), "{handle}");
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_file_whatsapp_would_refuse_is_refused_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let (sandbox, settings, secrets) = sandbox().await;
        let zip = dir.path().join("a.zip");
        std::fs::write(&zip, b"PK").unwrap();
        let e = upload(&settings, &secrets, &args(zip, false))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("--mime"), "{e}");
        let big = dir.path().join("big.webp");
        std::fs::write(&big, vec![0u8; 600 * 1024]).unwrap();
        let e = upload(&settings, &secrets, &args(big, false))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("up to"), "{e}");
        sandbox.shutdown().await;
    }
}
