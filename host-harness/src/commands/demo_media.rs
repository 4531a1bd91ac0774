//! The demo's internal file server: a receipt photo on 127.0.0.1 that Meta
//! could not download, which the gateway fetches (`[media] fetch_allow`) and
//! uploads itself when `whatsapp_send_media` is called with `upload: true`.

/// A small JPEG-looking file (the sandbox checks type and size, not pixels).
fn photo() -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    bytes.extend((0u32..48 * 1024).map(|i| (i % 251) as u8));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

/// The file server's origin (for `fetch_allow`) and the photo's URL.
pub(crate) struct InternalFiles {
    pub(crate) origin: String,
    pub(crate) photo_url: String,
}

/// Serves the photo at `/receipts/1042.jpg` until the process ends.
pub(crate) async fn start() -> anyhow::Result<InternalFiles> {
    let body = photo();
    let app = axum::Router::new().route(
        "/receipts/1042.jpg",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "image/jpeg")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(InternalFiles {
        photo_url: format!("{origin}/receipts/1042.jpg"),
        origin,
    })
}
