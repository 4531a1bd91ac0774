//! Test support: a fake host and a small JSON Schema (2020-12 subset) checker.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::host::{
    CredentialError, CredentialHandle, Host, HttpError, HttpRequest, HttpResponse, UploadError,
    UploadRequest,
};

pub const PNID: &str = "106540352242922";
pub const WABA: &str = "102290129340398";
pub const APP_SECRET: &[u8] = b"app-secret-for-tests";
pub const VERIFY_TOKEN: &[u8] = b"verify-me-123";
pub const ACCESS_TOKEN: &[u8] = b"access-token-for-tests";
/// 2025-11-24T16:00:00Z.
pub const NOW_S: i64 = 1_764_000_000;

/// The fake kv: key → (value, ttl).
pub type Kv = BTreeMap<String, (Vec<u8>, Option<u32>)>;

/// A host that records requests and answers from a queue.
pub struct FakeHost {
    pub config: RefCell<HashMap<String, String>>,
    pub requests: RefCell<Vec<(HttpRequest, Option<String>)>>,
    pub responses: RefCell<VecDeque<Result<HttpResponse, HttpError>>>,
    pub kv: RefCell<Kv>,
    pub now_ms: Cell<u64>,
    pub secrets: RefCell<HashMap<String, Vec<u8>>>,
    pub kv_fail: Cell<bool>,
    /// Every wait the core asked for; waiting advances `now_ms`.
    pub sleeps: RefCell<Vec<u64>>,
    /// The name of every credential opened, indexed by handle.
    pub opened: RefCell<Vec<String>>,
    /// Every media upload asked for, with the credential's name.
    pub uploads: RefCell<Vec<(UploadRequest, String)>>,
    /// Answers to media uploads, in order.
    pub upload_results: RefCell<VecDeque<Result<HttpResponse, UploadError>>>,
}

impl FakeHost {
    pub fn new() -> Self {
        let mut config = HashMap::new();
        config.insert("phone-number-id".to_string(), PNID.to_string());
        config.insert("waba-id".to_string(), WABA.to_string());
        let mut secrets = HashMap::new();
        secrets.insert("whatsapp-app-secret".to_string(), APP_SECRET.to_vec());
        secrets.insert("whatsapp-verify-token".to_string(), VERIFY_TOKEN.to_vec());
        secrets.insert("whatsapp".to_string(), ACCESS_TOKEN.to_vec());
        FakeHost {
            config: RefCell::new(config),
            requests: RefCell::new(Vec::new()),
            responses: RefCell::new(VecDeque::new()),
            kv: RefCell::new(BTreeMap::new()),
            now_ms: Cell::new(NOW_S as u64 * 1000),
            secrets: RefCell::new(secrets),
            kv_fail: Cell::new(false),
            sleeps: RefCell::new(Vec::new()),
            opened: RefCell::new(Vec::new()),
            uploads: RefCell::new(Vec::new()),
            upload_results: RefCell::new(VecDeque::new()),
        }
    }

    pub fn set(&self, key: &str, value: &str) -> &Self {
        self.config
            .borrow_mut()
            .insert(key.to_string(), value.to_string());
        self
    }

    pub fn unset(&self, key: &str) -> &Self {
        self.config.borrow_mut().remove(key);
        self
    }

    pub fn respond(&self, status: u16, body: &str) -> &Self {
        self.responses.borrow_mut().push_back(Ok(HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }));
        self
    }

    pub fn fail(&self, e: HttpError) -> &Self {
        self.responses.borrow_mut().push_back(Err(e));
        self
    }

    pub fn request_count(&self) -> usize {
        self.requests.borrow().len()
    }

    pub fn last_request(&self) -> HttpRequest {
        self.requests
            .borrow()
            .last()
            .map(|(r, _)| r.clone())
            .expect("a request was sent")
    }

    pub fn last_body(&self) -> Value {
        let r = self.last_request();
        serde_json::from_slice(r.body.as_deref().expect("request has a body"))
            .expect("request body is JSON")
    }

    pub fn kv_json(&self, key: &str) -> Option<Value> {
        self.kv
            .borrow()
            .get(key)
            .map(|(v, _)| serde_json::from_slice(v).expect("kv value is JSON"))
    }

    pub fn put_json(&self, key: &str, v: &Value) {
        self.kv
            .borrow_mut()
            .insert(key.to_string(), (v.to_string().into_bytes(), None));
    }

    /// The name of the credential `handle` was opened for.
    fn credential_name(&self, handle: CredentialHandle) -> String {
        self.opened.borrow()[handle.id() as usize].clone()
    }

    /// The secret of an opened credential.
    fn secret(&self, handle: CredentialHandle) -> Vec<u8> {
        self.secrets.borrow()[&self.credential_name(handle)].clone()
    }

    pub fn sign(body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET).expect("hmac key");
        mac.update(body);
        let out = mac.finalize().into_bytes();
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256={hex}")
    }
}

impl Host for FakeHost {
    fn config(&self, key: &str) -> Option<String> {
        self.config.borrow().get(key).cloned()
    }

    fn open_credential(&self, name: &str) -> Result<CredentialHandle, CredentialError> {
        if !self.secrets.borrow().contains_key(name) {
            return Err(CredentialError::NotGranted(name.to_string()));
        }
        let mut opened = self.opened.borrow_mut();
        opened.push(name.to_string());
        Ok(CredentialHandle::new(opened.len() as u32 - 1))
    }

    fn send(
        &self,
        req: &HttpRequest,
        credential: Option<CredentialHandle>,
    ) -> Result<HttpResponse, HttpError> {
        let credential = credential.map(|h| self.credential_name(h));
        self.requests.borrow_mut().push((req.clone(), credential));
        self.responses
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected request: {} {}", req.method.as_str(), req.url))
    }

    fn upload_media(
        &self,
        req: &UploadRequest,
        credential: CredentialHandle,
    ) -> Result<HttpResponse, UploadError> {
        let name = self.credential_name(credential);
        self.uploads.borrow_mut().push((req.clone(), name));
        self.upload_results
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected media upload of {}", req.url))
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        if self.kv_fail.get() {
            return Err("kv unavailable".into());
        }
        Ok(self.kv.borrow().get(key).map(|(v, _)| v.clone()))
    }

    fn kv_set(&self, key: &str, value: &[u8], ttl: Option<u32>) -> Result<(), String> {
        if self.kv_fail.get() {
            return Err("kv unavailable".into());
        }
        self.kv
            .borrow_mut()
            .insert(key.to_string(), (value.to_vec(), ttl));
        Ok(())
    }

    fn kv_scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        if self.kv_fail.get() {
            return Err("kv unavailable".into());
        }
        Ok(self
            .kv
            .borrow()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| start_after.is_none_or(|after| k.as_str() > after))
            .take(limit as usize)
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect())
    }

    fn now_unix_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn sleep_ms(&self, ms: u64) {
        self.sleeps.borrow_mut().push(ms);
        self.now_ms.set(self.now_ms.get() + ms);
    }

    fn hmac_sha256(
        &self,
        credential: CredentialHandle,
        data: &[u8],
    ) -> Result<[u8; 32], CredentialError> {
        let key = self.secret(credential);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac key");
        mac.update(data);
        Ok(mac.finalize().into_bytes().into())
    }

    fn secret_equals(&self, credential: CredentialHandle, candidate: &[u8]) -> bool {
        self.secret(credential) == candidate
    }
}

/// Validates `instance` against `schema` (the keywords our schemas use).
pub fn check_schema(schema: &Value, instance: &Value) -> Result<(), String> {
    check_at(schema, instance, "$")
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        _ => false,
    }
}

fn pattern_matches(pattern: &str, s: &str) -> bool {
    let re = regex_automata::meta::Regex::new(pattern)
        .unwrap_or_else(|e| panic!("bad pattern {pattern}: {e}"));
    re.is_match(s)
}

fn check_at(schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    let Some(s) = schema.as_object() else {
        return if schema == &Value::Bool(false) {
            Err(format!("{path}: not allowed"))
        } else {
            Ok(())
        };
    };
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_matches(t, v),
            Value::Array(ts) => ts
                .iter()
                .any(|t| t.as_str().is_some_and(|t| type_matches(t, v))),
            _ => false,
        };
        if !ok {
            return Err(format!("{path}: expected type {t}, got {v}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{path}: {v} not in enum"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{path}: {v} != const {c}"));
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|sub| check_at(sub, v, path).is_ok())
    {
        return Err(format!("{path}: matches no anyOf branch"));
    }
    if let Value::String(st) = v {
        let n = st.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            return Err(format!("{path}: shorter than minLength"));
        }
        if s.get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            return Err(format!("{path}: longer than maxLength"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && !pattern_matches(p, st)
        {
            return Err(format!("{path}: {st:?} does not match {p}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            return Err(format!("{path}: below minimum"));
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            return Err(format!("{path}: above maximum"));
        }
    }
    if let Value::Array(items) = v {
        let n = items.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            return Err(format!("{path}: fewer than minItems"));
        }
        if s.get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            return Err(format!("{path}: more than maxItems"));
        }
        if s.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, a) in items.iter().enumerate() {
                if items[..i].contains(a) {
                    return Err(format!("{path}: duplicate items"));
                }
            }
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                check_at(item_schema, item, &format!("{path}[{i}]"))?;
            }
        }
    }
    if let Value::Object(m) = v {
        let n = m.len() as u64;
        if s.get("minProperties")
            .and_then(Value::as_u64)
            .is_some_and(|x| n < x)
        {
            return Err(format!("{path}: fewer than minProperties"));
        }
        if s.get("maxProperties")
            .and_then(Value::as_u64)
            .is_some_and(|x| n > x)
        {
            return Err(format!("{path}: more than maxProperties"));
        }
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req {
                let r = r.as_str().unwrap_or("");
                if !m.contains_key(r) {
                    return Err(format!("{path}: missing required {r}"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in m {
            if let Some(pn) = s.get("propertyNames") {
                check_at(pn, &Value::String(k.clone()), &format!("{path}.<name {k}>"))?;
            }
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check_at(ps, val, &format!("{path}.{k}"))?,
                None => {
                    if let Some(ap) = s.get("additionalProperties") {
                        check_at(ap, val, &format!("{path}.{k}"))
                            .map_err(|e| format!("{e} (additional property {k})"))?;
                    }
                }
            }
        }
    }
    Ok(())
}
