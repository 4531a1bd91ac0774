//! Where outbound requests may go: a pure, deny-by-default origin allowlist.
//!
//! An origin is (scheme, host, port) with the port made explicit, so
//! `https://graph.facebook.com` and `https://graph.facebook.com:443` are the
//! same origin while `:8443`, `http://` and `graph.facebook.com.evil.test` are
//! not. Hosts are compared after URL parsing (lower-cased, IDNA, IP literals
//! normalised), never as raw strings.

use std::fmt;
use url::{Host, Url};

/// Scheme, host and explicit port of a URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of `url`, or an explanation of why it has none we accept.
    pub fn of(url: &Url) -> Result<Origin, String> {
        let scheme = url.scheme();
        if scheme != "https" && scheme != "http" {
            return Err(format!("scheme `{scheme}` is not allowed: use https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("URLs with user info (`user:pass@`) are not allowed".into());
        }
        let host = match url.host() {
            Some(Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err("the URL has no host".into()),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "the URL has no port".to_string())?;
        Ok(Origin {
            scheme: scheme.to_string(),
            host,
            port,
        })
    }

    /// Parses `scheme://host[:port]` (a path, if any, is ignored).
    pub fn parse(text: &str) -> Result<Origin, String> {
        let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        Origin::of(&url)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// An origin plus a path prefix: what a credential is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The origin the credential may be sent to.
    pub origin: Origin,
    /// Matches whole path segments: `/v23.0/` matches `/v23.0/123/messages`
    /// but `/v23` does not match `/v23.0`.
    pub path_prefix: String,
}

impl Binding {
    /// `origin` and `path_prefix` (a leading `/` is added when missing).
    fn new(origin: Origin, path_prefix: &str) -> Binding {
        let mut path_prefix = path_prefix.to_string();
        if !path_prefix.starts_with('/') {
            path_prefix.insert(0, '/');
        }
        Binding {
            origin,
            path_prefix,
        }
    }

    /// Parses `https://host[:port]/prefix`.
    pub fn parse(text: &str) -> Result<Binding, String> {
        let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        Ok(Binding::new(Origin::of(&url)?, url.path()))
    }

    /// Whether `url` (already parsed, so dot segments are resolved) is covered.
    pub fn covers(&self, origin: &Origin, path: &str) -> bool {
        if &self.origin != origin {
            return false;
        }
        let prefix = self.path_prefix.as_str();
        if prefix == "/" || path == prefix.trim_end_matches('/') {
            return true;
        }
        path.starts_with(prefix)
            && (prefix.ends_with('/') || path.as_bytes().get(prefix.len()) == Some(&b'/'))
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.path_prefix)
    }
}

/// The origins the component may reach at all.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    origins: Vec<Origin>,
}

impl Allowlist {
    /// The given origins, duplicates dropped.
    pub fn new(origins: impl IntoIterator<Item = Origin>) -> Allowlist {
        let mut list = Allowlist::default();
        for origin in origins {
            if !list.origins.contains(&origin) {
                list.origins.push(origin);
            }
        }
        list
    }

    /// Whether requests to `origin` may be made.
    pub(crate) fn allows(&self, origin: &Origin) -> bool {
        self.origins.contains(origin)
    }

    /// The allowed origins, in the order given.
    #[cfg(test)]
    fn origins(&self) -> &[Origin] {
        &self.origins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::parse(url).unwrap()
    }

    #[test]
    fn origins_compare_scheme_host_and_explicit_port() {
        let graph = origin("https://graph.facebook.com");
        let cases = [
            ("https://graph.facebook.com/v23.0/1/messages", true),
            ("https://graph.facebook.com:443/v23.0", true),
            ("https://GRAPH.facebook.com./x", true),
            ("http://graph.facebook.com/x", false),
            ("https://graph.facebook.com:8443/x", false),
            ("https://graph.facebook.com.evil.test/x", false),
            ("https://evil.test/graph.facebook.com", false),
            ("https://graph.facebook.com@evil.test/x", false),
            // A homoglyph (Cyrillic "о") becomes a different punycode host.
            ("https://graph.faceb\u{043e}ok.com/x", false),
        ];
        for (url, same) in cases {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(Origin::of(&parsed).as_ref() == Ok(&graph), same, "{url}");
        }
    }

    #[test]
    fn user_info_and_non_http_schemes_have_no_acceptable_origin() {
        for url in [
            "https://user:pw@graph.facebook.com/x",
            "ftp://graph.facebook.com/x",
            "file:///etc/passwd",
            "data:text/plain,hi",
        ] {
            assert!(Origin::of(&Url::parse(url).unwrap()).is_err(), "{url}");
        }
    }

    #[test]
    fn ip_literals_are_normalised() {
        assert_eq!(origin("http://127.0.0.1:80/"), origin("http://127.0.0.1/"));
        assert_eq!(
            origin("http://[::1]:8080/").to_string(),
            "http://[::1]:8080"
        );
        assert_ne!(
            origin("http://127.0.0.1:8080/"),
            origin("http://localhost:8080/")
        );
    }

    #[test]
    fn bindings_match_whole_path_segments_only() {
        let binding = Binding::parse("https://graph.facebook.com/v23.0/").unwrap();
        let graph = origin("https://graph.facebook.com");
        let cases = [
            ("/v23.0/1/messages", true),
            ("/v23.0", true),
            ("/v23.0/", true),
            ("/v23.01/x", false),
            ("/v24.0/1/messages", false),
            ("/", false),
            ("/oauth/access_token", false),
        ];
        for (path, covered) in cases {
            assert_eq!(binding.covers(&graph, path), covered, "{path}");
        }
        let no_slash = Binding::parse("https://graph.facebook.com/v23.0").unwrap();
        assert!(no_slash.covers(&graph, "/v23.0/1"));
        assert!(!no_slash.covers(&graph, "/v23.0x/1"));
    }

    #[test]
    fn a_binding_never_covers_another_origin() {
        let binding = Binding::parse("https://graph.facebook.com/").unwrap();
        for other in [
            "https://graph.facebook.com.evil.test",
            "http://graph.facebook.com",
            "https://graph.facebook.com:444",
        ] {
            assert!(!binding.covers(&origin(other), "/v23.0/x"), "{other}");
        }
    }

    #[test]
    fn dot_segments_are_resolved_before_matching() {
        let binding = Binding::parse("https://graph.facebook.com/v23.0/").unwrap();
        for url in [
            "https://graph.facebook.com/v23.0/../oauth/access_token",
            "https://graph.facebook.com/v23.0/%2e%2e/oauth",
        ] {
            let parsed = Url::parse(url).unwrap();
            let o = Origin::of(&parsed).unwrap();
            assert!(
                !binding.covers(&o, parsed.path()),
                "{url} -> {}",
                parsed.path()
            );
        }
    }

    #[test]
    fn the_allowlist_denies_by_default() {
        let empty = Allowlist::default();
        assert!(!empty.allows(&origin("https://graph.facebook.com")));
        let list = Allowlist::new([
            origin("https://graph.facebook.com"),
            origin("https://graph.facebook.com:443"),
        ]);
        assert_eq!(list.origins().len(), 1);
        assert!(list.allows(&origin("https://graph.facebook.com/any/path")));
        assert!(!list.allows(&origin("https://graph.facebook.com.evil.test")));
    }
}
