use super::*;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const TOKEN: &str = "EAAGtokenSECRETvalue123";

fn token(name: &str) -> Credential {
    Credential {
        name: name.into(),
        kind: Kind::AccessToken,
        secret: Secret::new(TOKEN),
        bindings: vec![Binding::parse("https://graph.facebook.com/v23.0/").unwrap()],
        scopes: vec!["whatsapp_business_messaging".into()],
        expires_at: Some(2_000_000_000),
    }
}

fn vault(dir: &Path) -> VaultFile {
    VaultFile::new(dir.join("vault.json"), VaultKey::from_hex(KEY).unwrap())
}

#[test]
fn credentials_round_trip_and_the_file_holds_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let v = vault(dir.path());
    v.update(|c| c.push(token("whatsapp"))).unwrap();
    let loaded = v.load().unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].secret.expose(), TOKEN.as_bytes());
    assert_eq!(
        CredentialMeta::from(&loaded[0]),
        CredentialMeta::from(&token("whatsapp"))
    );
    let raw = std::fs::read(dir.path().join("vault.json")).unwrap();
    let text = String::from_utf8_lossy(&raw);
    for needle in [
        TOKEN,
        "whatsapp_business_messaging",
        "graph.facebook.com",
        &B64.encode(TOKEN),
    ] {
        assert!(!text.contains(needle), "`{needle}` is readable in the file");
    }
}

#[test]
fn a_missing_vault_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert!(vault(dir.path()).load().unwrap().is_empty());
}

#[test]
fn a_wrong_key_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    vault(dir.path())
        .update(|c| c.push(token("whatsapp")))
        .unwrap();
    let other = VaultFile::new(
        dir.path().join("vault.json"),
        VaultKey::from_hex(&"ab".repeat(32)).unwrap(),
    );
    let err = other.load().unwrap_err();
    assert!(matches!(err, VaultError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("another key"));
}

#[test]
fn truncated_and_bit_flipped_files_are_refused_never_misread() {
    let dir = tempfile::tempdir().unwrap();
    let v = vault(dir.path());
    v.update(|c| c.push(token("whatsapp"))).unwrap();
    let path = dir.path().join("vault.json");
    let good = std::fs::read(&path).unwrap();
    for cut in [0, 1, good.len() / 2, good.len() - 2] {
        std::fs::write(&path, &good[..cut]).unwrap();
        let err = v.load().unwrap_err();
        assert!(
            matches!(err, VaultError::Tampered { .. }),
            "cut at {cut}: {err}"
        );
    }
    // Flip one bit in every byte of the ciphertext in turn (sampled).
    let envelope: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let ct = B64
        .decode(envelope["ciphertext"].as_str().unwrap())
        .unwrap();
    for i in (0..ct.len()).step_by(7) {
        let mut flipped = ct.clone();
        flipped[i] ^= 0x01;
        let mut e = envelope.clone();
        e["ciphertext"] = B64.encode(&flipped).into();
        std::fs::write(&path, serde_json::to_vec(&e).unwrap()).unwrap();
        assert!(
            matches!(v.load().unwrap_err(), VaultError::Tampered { .. }),
            "byte {i}"
        );
    }
    // The header is authenticated too.
    let mut e = envelope.clone();
    e["nonce"] = B64.encode([0u8; 24]).into();
    std::fs::write(&path, serde_json::to_vec(&e).unwrap()).unwrap();
    assert!(matches!(v.load().unwrap_err(), VaultError::Tampered { .. }));
    let mut e = envelope;
    e["version"] = 2.into();
    std::fs::write(&path, serde_json::to_vec(&e).unwrap()).unwrap();
    assert!(matches!(
        v.load().unwrap_err(),
        VaultError::UnsupportedVersion { .. }
    ));
}

#[test]
fn concurrent_writers_never_lose_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    let threads: Vec<_> = (0..12)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let v = VaultFile::new(path, VaultKey::from_hex(KEY).unwrap());
                v.update(|c| c.push(token(&format!("cred-{i}")))).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut names: Vec<String> = vault(dir.path())
        .load()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    names.sort();
    assert_eq!(names.len(), 12, "{names:?}");
}

#[cfg(unix)]
#[test]
fn the_vault_and_a_created_key_file_are_private_and_an_exposed_key_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys/vault.key");
    let key = VaultKey::load(None, &key_file, true).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_file), 0o600);
    let v = VaultFile::new(dir.path().join("vault.json"), key);
    v.update(|c| c.push(token("whatsapp"))).unwrap();
    assert_eq!(mode(&dir.path().join("vault.json")), 0o600);
    // Reloading the same key file opens the vault.
    let again = VaultFile::new(
        dir.path().join("vault.json"),
        VaultKey::load(None, &key_file, false).unwrap(),
    );
    assert_eq!(again.load().unwrap().len(), 1);
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = VaultKey::load(None, &key_file, false).err().unwrap();
    assert!(matches!(err, VaultError::KeyFileExposed { .. }), "{err}");
}

#[test]
fn the_environment_key_wins_and_must_be_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.key");
    assert!(VaultKey::load(Some(KEY), &missing, false).is_ok());
    assert!(matches!(
        VaultKey::load(Some("short"), &missing, false)
            .err()
            .unwrap(),
        VaultError::BadKey
    ));
    assert!(matches!(
        VaultKey::load(None, &missing, false).err().unwrap(),
        VaultError::NoKey { .. }
    ));
}

#[test]
fn errors_never_contain_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let v = vault(dir.path());
    v.update(|c| c.push(token("whatsapp"))).unwrap();
    let path = dir.path().join("vault.json");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    let err = v.load().unwrap_err();
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}
