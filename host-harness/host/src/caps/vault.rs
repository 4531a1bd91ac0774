//! The `vault` capability: the component opens credentials by name and gets
//! opaque handles; the host uses the secrets on its behalf.
//!
//! Context: the [`Vault`], shared by all calls. Per call: the open handles
//! (in the store's resource table) and their count, capped so a component
//! cannot pile them up.

use wasmtime::Result;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

pub use super::credentials::{
    ACCESS_TOKEN, APP_SECRET, Credential, Kind, Secret, VERIFY_TOKEN, Vault,
};
use super::credentials::{CredentialHandle, OpenError};
use crate::runtime::bindings::vault as wit;

/// Handles one call may hold open at once.
const MAX_OPEN_CREDENTIALS: usize = 16;

/// What one call has used of the vault.
#[derive(Default)]
pub(crate) struct VaultCall {
    open: usize,
}

/// What one call's `vault` imports may use.
pub(crate) struct VaultView<'a> {
    pub(crate) vault: &'a Vault,
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) call: &'a mut VaultCall,
}

impl wit::Host for VaultView<'_> {}

impl wit::HostCredential for VaultView<'_> {
    async fn open(
        &mut self,
        name: String,
    ) -> Result<std::result::Result<Resource<CredentialHandle>, wit::Error>> {
        if self.call.open >= MAX_OPEN_CREDENTIALS {
            return Ok(Err(wit::Error::Unavailable(format!(
                "at most {MAX_OPEN_CREDENTIALS} credentials may be open in one call"
            ))));
        }
        match self.vault.open(&name, crate::store::now_ms() / 1000) {
            Ok(credential) => {
                self.call.open += 1;
                Ok(Ok(self.table.push(CredentialHandle::new(credential))?))
            }
            Err(OpenError::NotGranted(n)) => {
                tracing::warn!(credential = %n, "component asked for a credential it is not granted");
                Ok(Err(wit::Error::NotGranted(n)))
            }
            Err(OpenError::Unavailable(why)) => Ok(Err(wit::Error::Unavailable(why))),
        }
    }

    async fn hmac_sha256(
        &mut self,
        handle: Resource<CredentialHandle>,
        data: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let credential = self.table.get(&handle)?.credential();
        Ok(credential.hmac_sha256(&data).to_vec())
    }

    async fn equals(
        &mut self,
        handle: Resource<CredentialHandle>,
        candidate: Vec<u8>,
    ) -> Result<bool> {
        Ok(self
            .table
            .get(&handle)?
            .credential()
            .secret_equals(&candidate))
    }

    async fn drop(&mut self, handle: Resource<CredentialHandle>) -> Result<()> {
        self.table.delete(handle)?;
        self.call.open = self.call.open.saturating_sub(1);
        Ok(())
    }
}

struct HasVault;

impl HasData for HasVault {
    type Data<'a> = VaultView<'a>;
}

/// Links the `vault` interface; `view` gives a call's view from its store data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> VaultView<'_>,
) -> Result<()> {
    wit::add_to_linker::<T, HasVault>(linker, view)
}

#[cfg(test)]
mod tests {
    use super::wit::HostCredential as _;
    use super::*;

    fn vault() -> Vault {
        let vault = Vault::new([ACCESS_TOKEN.to_string()]);
        vault.insert(Credential {
            name: ACCESS_TOKEN.into(),
            kind: Kind::AppSecret,
            secret: Secret::new("Jefe"),
            bindings: vec![],
            scopes: vec![],
            expires_at: None,
        });
        vault
    }

    #[tokio::test]
    async fn a_call_may_hold_at_most_sixteen_handles_and_dropping_one_frees_a_slot() {
        let vault = vault();
        let mut table = ResourceTable::new();
        let mut call = VaultCall::default();
        let mut view = VaultView {
            vault: &vault,
            table: &mut table,
            call: &mut call,
        };
        let mut handles = Vec::new();
        for _ in 0..MAX_OPEN_CREDENTIALS {
            handles.push(view.open(ACCESS_TOKEN.into()).await.unwrap().unwrap());
        }
        let refused = view.open(ACCESS_TOKEN.into()).await.unwrap().unwrap_err();
        assert!(matches!(refused, wit::Error::Unavailable(m) if m.contains("16")));
        view.drop(handles.pop().unwrap()).await.unwrap();
        assert!(view.open(ACCESS_TOKEN.into()).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_handle_uses_the_secret_without_returning_it() {
        let vault = vault();
        let mut table = ResourceTable::new();
        let mut call = VaultCall::default();
        let mut view = VaultView {
            vault: &vault,
            table: &mut table,
            call: &mut call,
        };
        let not_granted = view.open("other".into()).await.unwrap().unwrap_err();
        assert!(matches!(not_granted, wit::Error::NotGranted(n) if n == "other"));
        let handle = view.open(ACCESS_TOKEN.into()).await.unwrap().unwrap();
        let borrowed = Resource::new_borrow(handle.rep());
        // RFC 4231 test case 2.
        let mac = view
            .hmac_sha256(borrowed, b"what do ya want for nothing?".to_vec())
            .await
            .unwrap();
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let borrowed = Resource::new_borrow(handle.rep());
        assert!(view.equals(borrowed, b"Jefe".to_vec()).await.unwrap());
    }
}
