//! The store's tests: the file backend (and the sealing both share).

use std::path::Path;

use super::file::{create_bare, write_legacy};
use super::*;

#[tokio::test]
async fn a_missing_key_is_none_and_a_set_key_reads_back() {
    let store = StateStore::in_memory();
    assert_eq!(store.get(Table::Kv, "absent").await.unwrap(), None);
    store
        .set(Table::Kv, "k", b"v".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(
        store.get(Table::Kv, "k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        store.get(Table::Host, "k").await.unwrap(),
        None,
        "tables are separate"
    );
}

#[tokio::test]
async fn delete_reports_whether_the_key_existed() {
    let store = StateStore::in_memory();
    store
        .set(Table::Kv, "k", b"v".to_vec(), None)
        .await
        .unwrap();
    assert!(store.delete(Table::Kv, "k").await.unwrap());
    assert!(!store.delete(Table::Kv, "k").await.unwrap());
    assert_eq!(store.get(Table::Kv, "k").await.unwrap(), None);
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    let store = StateStore::in_memory();
    store
        .set(Table::Kv, "short", b"v".to_vec(), Some(1))
        .await
        .unwrap();
    store
        .set(Table::Kv, "long", b"v".to_vec(), Some(60))
        .await
        .unwrap();
    assert!(store.get(Table::Kv, "short").await.unwrap().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(store.get(Table::Kv, "short").await.unwrap(), None);
    assert!(store.get(Table::Kv, "long").await.unwrap().is_some());
    assert!(
        !store.delete(Table::Kv, "short").await.unwrap(),
        "expired counts as absent"
    );
}

#[tokio::test]
async fn scan_returns_live_entries_with_the_prefix_in_order() {
    let store = StateStore::in_memory();
    for key in ["q/2", "q/1", "r/1", "p/9"] {
        store
            .set(Table::WebhookQueue, key, key.as_bytes().to_vec(), None)
            .await
            .unwrap();
    }
    let keys: Vec<String> = store
        .scan(Table::WebhookQueue, "q/")
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["q/1", "q/2"]);
}

#[tokio::test]
async fn concurrent_writers_all_land() {
    let store = StateStore::in_memory();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .set(Table::Kv, &format!("k{i:03}"), vec![i as u8], None)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.scan(Table::Kv, "k").await.unwrap().len(), 200);
}

/// Opens `path` once the previous handle's writer thread has let go of it.
fn reopen(path: &Path, vault_subkey: Option<u8>) -> StateStore {
    (0..50)
        .find_map(|_| {
            let key = vault_subkey.map(|b| zeroize::Zeroizing::new([b; 32]));
            StateStore::open_sealed(path, key).ok().or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                None
            })
        })
        .expect("reopens once the first handle is gone")
}

fn raw(store: &StateStore, table: Table, key: &str) -> Vec<u8> {
    match &store.backend {
        Backend::File(file) => file.raw(table, key),
        Backend::Redis(_) => panic!("a file store"),
    }
}

#[tokio::test]
async fn webhook_bodies_are_stored_sealed_and_read_back_whole() {
    let store = StateStore::in_memory();
    let body = b"{\"text\":{\"body\":\"my card is 4111\"}}".to_vec();
    store
        .set(Table::WebhookQueue, "q/1", body.clone(), None)
        .await
        .unwrap();
    store
        .set(Table::Kv, "k", b"plain".to_vec(), None)
        .await
        .unwrap();
    let stored = raw(&store, Table::WebhookQueue, "q/1");
    assert!(StateSeal::is_sealed(&stored[8..]));
    assert!(!stored.windows(4).any(|w| w == b"card"));
    assert_eq!(
        store.get(Table::WebhookQueue, "q/1").await.unwrap(),
        Some(body.clone())
    );
    assert_eq!(
        store.scan(Table::WebhookQueue, "q/").await.unwrap(),
        [("q/1".to_string(), body)]
    );
    assert_eq!(
        &raw(&store, Table::Kv, "k")[8..],
        b"plain",
        "other tables as they are"
    );
}

#[tokio::test]
async fn plaintext_an_earlier_version_stored_is_sealed_on_open_keeping_its_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let dead_expiry = now_ms() + 60_000;
    write_legacy(
        &path,
        Table::WebhookQueue,
        &[
            ("q/1", b"{\"old\":\"words\"}", 0),
            ("dead/2", b"{\"reason\":\"x\"}", dead_expiry),
        ],
    );
    let store = StateStore::open(&path).unwrap();
    for (key, expiry) in [("q/1", 0), ("dead/2", dead_expiry)] {
        let stored = raw(&store, Table::WebhookQueue, key);
        assert_eq!(stored[..8], expiry.to_be_bytes(), "{key} keeps its expiry");
        assert!(StateSeal::is_sealed(&stored[8..]), "{key} is sealed");
    }
    assert_eq!(
        store.scan(Table::WebhookQueue, "").await.unwrap(),
        [
            ("dead/2".to_string(), b"{\"reason\":\"x\"}".to_vec()),
            ("q/1".to_string(), b"{\"old\":\"words\"}".to_vec()),
        ]
    );
}

#[tokio::test]
async fn an_entry_sealed_with_another_key_reads_as_absent_and_is_kept_for_the_right_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    {
        let store = reopen(&path, Some(1));
        store
            .set(Table::WebhookQueue, "q/1", b"body".to_vec(), None)
            .await
            .unwrap();
    }
    {
        // The vault key is missing this time: the key file beside the state is used.
        let store = reopen(&path, None);
        assert_eq!(store.get(Table::WebhookQueue, "q/1").await.unwrap(), None);
        assert!(
            store
                .scan(Table::WebhookQueue, "q/")
                .await
                .unwrap()
                .is_empty()
        );
    }
    let store = reopen(&path, Some(1));
    assert_eq!(
        store.get(Table::WebhookQueue, "q/1").await.unwrap(),
        Some(b"body".to_vec())
    );
}

#[cfg(unix)]
#[test]
fn the_state_file_and_its_directory_are_owner_only_when_created_and_made_so_when_looser() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let path = parent.path().join("a/b/state.redb");
    drop(StateStore::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&parent.path().join("a/b")), 0o700);
    assert_eq!(mode(&parent.path().join("a")), 0o700);
    assert_eq!(mode(&parent.path().join("a/b/state.redb.key")), 0o600);

    let dir = parent.path().join("loose");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("state.redb");
    create_bare(&path);
    let loosen =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    loosen(&path, 0o644);
    loosen(&dir, 0o755);
    let _store = reopen(&path, None);
    assert_eq!((mode(&path), mode(&dir)), (0o600, 0o700));
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    {
        let store = StateStore::open(&path).unwrap();
        store
            .set(Table::Kv, "k", b"durable".to_vec(), None)
            .await
            .unwrap();
    }
    // The writer thread holds the database until its channel closes.
    let reopened = (0..50).find_map(|_| {
        StateStore::open(&path).ok().or_else(|| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            None
        })
    });
    let store = reopened.expect("reopens once the first handle is gone");
    assert_eq!(
        store.get(Table::Kv, "k").await.unwrap(),
        Some(b"durable".to_vec())
    );
}
