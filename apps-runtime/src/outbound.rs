//! Outbound HTTP: an app may call out (`wasi:http/outgoing-handler`) only to the hosts its
//! `hosting_config` allow-lists (`{"outbound_hosts": ["api.example.com", "*.example.org:8443"]}`).
//! Anything else is refused before a connection is attempted, with `HTTP-request-denied`, which the
//! app sees as an ordinary error, and a runtime entry in the app's log.

use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, OutgoingRequestConfig};
use wasmtime_wasi_http::p2::{HttpResult, WasiHttpHooks, default_send_request};

use crate::error::LoadError;
use crate::log::{LogBudget, LogLevel};

/// The hosts an app may call. Empty (the default): none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    /// Lowercase host; with `wildcard`, the suffix after `*.`.
    host: String,
    wildcard: bool,
    /// `None`: any port.
    port: Option<u16>,
}

impl OutboundPolicy {
    /// No outbound requests at all.
    pub fn deny_all() -> Self {
        OutboundPolicy::default()
    }

    /// A policy allowing each of `hosts`: `name`, `name:port` or `*.domain[:port]`.
    pub fn allow<S: AsRef<str>>(hosts: impl IntoIterator<Item = S>) -> Result<Self, LoadError> {
        let rules = hosts.into_iter().map(|host| Rule::parse(host.as_ref())).collect::<Result<_, _>>()?;
        Ok(OutboundPolicy { rules })
    }

    /// The policy in an app's `hosting_config`: its `outbound_hosts` list (absent: deny all).
    pub fn from_hosting_config(hosting_config: &serde_json::Value) -> Result<Self, LoadError> {
        match hosting_config.get("outbound_hosts") {
            None | Some(serde_json::Value::Null) => Ok(OutboundPolicy::deny_all()),
            Some(serde_json::Value::Array(hosts)) => {
                let hosts = hosts
                    .iter()
                    .map(|host| {
                        host.as_str().ok_or_else(|| {
                            LoadError::InvalidConfig("outbound_hosts must hold strings".to_owned())
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                OutboundPolicy::allow(hosts)
            }
            Some(_) => Err(LoadError::InvalidConfig("outbound_hosts must be a list".to_owned())),
        }
    }

    /// Whether a request to `host` on `port` is allowed.
    pub fn permits(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.rules.iter().any(|rule| {
            let host_matches = if rule.wildcard {
                host.strip_suffix(&rule.host).is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
            } else {
                host == rule.host
            };
            host_matches && rule.port.is_none_or(|allowed| allowed == port)
        })
    }
}

impl Rule {
    fn parse(text: &str) -> Result<Rule, LoadError> {
        let invalid = || LoadError::InvalidConfig(format!("outbound_hosts: `{text}` is not a host[:port]"));
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse::<u16>().map_err(|_| invalid())?)),
            None => (text, None),
        };
        let (host, wildcard) = match host.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (host, false),
        };
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(invalid());
        }
        Ok(Rule { host: host.to_ascii_lowercase(), wildcard, port })
    }
}

/// The `wasi:http` hooks of one request: refuses what the policy does not allow.
pub(crate) struct OutboundHooks {
    pub(crate) policy: std::sync::Arc<OutboundPolicy>,
    pub(crate) logs: LogBudget,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: hyper::Request<HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        let uri = request.uri();
        let default_port = if config.use_tls { 443 } else { 80 };
        let allowed = uri.host().is_some_and(|host| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            self.policy.permits(host, uri.port_u16().unwrap_or(default_port))
        });
        if !allowed {
            let target = uri.authority().map_or_else(|| "(no host)".to_owned(), ToString::to_string);
            self.logs.runtime(
                LogLevel::Warn,
                &format!("outbound request to {target} refused: not in the app's outbound_hosts"),
            );
            return Err(ErrorCode::HttpRequestDenied.into());
        }
        Ok(default_send_request(request, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_host_port_and_wildcards() {
        let policy = OutboundPolicy::allow(["api.example.com", "*.example.org:8443"]).unwrap();
        assert!(policy.permits("API.example.com", 443));
        assert!(policy.permits("api.example.com.", 80));
        assert!(!policy.permits("evil-api.example.com", 443));
        assert!(!policy.permits("api.example.com.evil.net", 443));
        assert!(policy.permits("a.b.example.org", 8443));
        assert!(!policy.permits("example.org", 8443));
        assert!(!policy.permits("a.example.org", 443));
        assert!(!OutboundPolicy::deny_all().permits("127.0.0.1", 80));
    }

    #[test]
    fn hosting_config_is_read_and_checked() {
        let config = serde_json::json!({"outbound_hosts": ["127.0.0.1:9000"]});
        assert!(OutboundPolicy::from_hosting_config(&config).unwrap().permits("127.0.0.1", 9000));
        let bad = serde_json::json!({"outbound_hosts": ["http://x/"]});
        assert!(OutboundPolicy::from_hosting_config(&bad).is_err());
        assert_eq!(
            OutboundPolicy::from_hosting_config(&serde_json::json!({})).unwrap(),
            OutboundPolicy::deny_all()
        );
    }
}
