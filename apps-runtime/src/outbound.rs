//! Outbound HTTP: an app may call out (`wasi:http/outgoing-handler`) only to the hosts its
//! `hosting_config` allow-lists (`{"outbound_hosts": ["api.example.com", "*.example.org:8443"]}`).
//! Anything else is refused before a connection is attempted, with `HTTP-request-denied`, which the
//! app sees as an ordinary error, and a runtime entry in the app's log.
//!
//! An allowed name must also lead to the public internet: the host resolves it and refuses the
//! request when any of its addresses is loopback, private, shared (carrier-grade NAT), link-local,
//! unique-local or unspecified, IPv4 or IPv6, IPv4-mapped IPv6 included ([`is_internal`]), unless
//! the allow-list names that IP literal itself (`"10.0.0.5:8080"`, `"[fd00::1]"`). Otherwise an
//! owner allowing `api.example.com` would let anyone controlling that name's DNS point the app at
//! the host's own services. A plain-HTTP request is then sent to the address that was checked (its
//! `Host` header keeps the name), so a second, different DNS answer cannot redirect it; an HTTPS
//! connection resolves the name again, and the certificate, which must be valid for the name,
//! stands between a changed answer and an internal service.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use wasmtime_wasi_http::p2::bindings::http::types::{DnsErrorPayload, ErrorCode};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, OutgoingRequestConfig};
use wasmtime_wasi_http::p2::{HttpResult, WasiHttpHooks, default_send_request_handler};

use crate::error::LoadError;
use crate::log::{LogBudget, LogLevel};

/// The hosts an app may call. Empty (the default): none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    /// Lowercase host, an IP address in its canonical form; with `wildcard`, the suffix after `*.`.
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

    /// Whether a request to `host` on `port` is allowed by name (its addresses are checked when
    /// it is sent, see [`OutboundPolicy::permits_address`]).
    pub fn permits(&self, host: &str, port: u16) -> bool {
        let host = canonical_host(host);
        self.rules.iter().any(|rule| {
            let host_matches = if rule.wildcard {
                host.strip_suffix(&rule.host).is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
            } else {
                host == rule.host
            };
            host_matches && rule.port.is_none_or(|allowed| allowed == port)
        })
    }

    /// Whether the app may connect to `address` on `port`: any public address, and an internal
    /// one ([`is_internal`]) only when the allow-list names that very IP literal.
    pub fn permits_address(&self, address: IpAddr, port: u16) -> bool {
        if !is_internal(address) {
            return true;
        }
        let literal = address.to_string();
        self.rules.iter().any(|rule| {
            !rule.wildcard && rule.host == literal && rule.port.is_none_or(|allowed| allowed == port)
        })
    }
}

/// A host as rules hold it: lowercase without a trailing dot, an IP address (bracketed or not)
/// in its canonical form.
fn canonical_host(host: &str) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(address) => address.to_string(),
        Err(_) => host.trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// Whether `address` belongs to the machine or a private network rather than the public internet:
/// loopback, private (10/8, 172.16/12, 192.168/16), shared (100.64/10), link-local (169.254/16,
/// fe80::/10), unique-local (fc00::/7), unspecified (0.0.0.0/8, ::), broadcast, multicast; an
/// IPv4-mapped or IPv4-compatible IPv6 address as its IPv4 address.
pub fn is_internal(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let segments = v6.segments();
            // ::a.b.c.d (deprecated IPv4-compatible), but not :: and ::1 themselves.
            if segments[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback() {
                let [.., high, low] = segments;
                return is_internal_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00
                || (segments[0] & 0xffc0) == 0xfe80
                // fec0::/10, the deprecated site-local range.
                || (segments[0] & 0xffc0) == 0xfec0
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_broadcast()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

impl Rule {
    fn parse(text: &str) -> Result<Rule, LoadError> {
        let invalid = || LoadError::InvalidConfig(format!("outbound_hosts: `{text}` is not a host[:port]"));
        if let Some(rest) = text.strip_prefix('[') {
            // An IPv6 literal: `[addr]` or `[addr]:port`.
            let (address, after) = rest.split_once(']').ok_or_else(invalid)?;
            let address = address.parse::<Ipv6Addr>().map_err(|_| invalid())?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').and_then(|p| p.parse::<u16>().ok()).ok_or_else(invalid)?),
            };
            return Ok(Rule { host: address.to_string(), wildcard: false, port });
        }
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
        let host = if wildcard { host.to_ascii_lowercase() } else { canonical_host(host) };
        Ok(Rule { host, wildcard, port })
    }
}

/// The `wasi:http` hooks of one request: refuses what the policy does not allow.
pub(crate) struct OutboundHooks {
    pub(crate) policy: Arc<OutboundPolicy>,
    pub(crate) logs: LogBudget,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: hyper::Request<HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        let uri = request.uri();
        let port = uri.port_u16().unwrap_or(if config.use_tls { 443 } else { 80 });
        let target = uri.authority().map_or_else(|| "(no host)".to_owned(), ToString::to_string);
        let host = uri.host().map(|host| host.trim_start_matches('[').trim_end_matches(']').to_owned());
        let Some(host) = host.filter(|host| self.policy.permits(host, port)) else {
            self.logs.runtime(
                LogLevel::Warn,
                &format!("outbound request to {target} refused: not in the app's outbound_hosts"),
            );
            return Err(ErrorCode::HttpRequestDenied.into());
        };
        let (policy, logs) = (self.policy.clone(), self.logs.clone());
        let handle = wasmtime_wasi::runtime::spawn(async move {
            let address = match checked_address(&policy, &host, port).await {
                Ok(address) => address,
                Err(refusal) => {
                    if let Refusal::Internal(address) = &refusal {
                        logs.runtime(
                            LogLevel::Warn,
                            &format!(
                                "outbound request to {target} refused: {host} resolves to {address}, \
                                 an internal address the app's outbound_hosts do not list"
                            ),
                        );
                    }
                    return Ok(Err(refusal.into()));
                }
            };
            let mut request = request;
            if !config.use_tls {
                pin(&mut request, address);
            }
            Ok(default_send_request_handler(request, config).await)
        });
        Ok(HostFutureIncomingResponse::pending(handle))
    }
}

/// Why a request was not sent after its name was allowed.
enum Refusal {
    /// The name does not resolve.
    Unresolved,
    /// It resolves (also) to this internal address.
    Internal(IpAddr),
}

impl From<Refusal> for ErrorCode {
    fn from(refusal: Refusal) -> ErrorCode {
        match refusal {
            Refusal::Unresolved => ErrorCode::DnsError(DnsErrorPayload {
                rcode: Some("address not available".to_owned()),
                info_code: Some(0),
            }),
            Refusal::Internal(_) => ErrorCode::HttpRequestDenied,
        }
    }
}

/// Resolves `host` (an IP literal is its own address) and returns the address to connect to, when
/// every address it has may be reached.
async fn checked_address(policy: &OutboundPolicy, host: &str, port: u16) -> Result<SocketAddr, Refusal> {
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(address) => vec![SocketAddr::new(address, port)],
        Err(_) => tokio::net::lookup_host((host, port)).await.map_err(|_| Refusal::Unresolved)?.collect(),
    };
    if let Some(internal) = addresses.iter().find(|address| !policy.permits_address(address.ip(), port)) {
        return Err(Refusal::Internal(internal.ip()));
    }
    addresses.first().copied().ok_or(Refusal::Unresolved)
}

/// Points a plain-HTTP request at `address`, the one that was checked; its `Host` header (set from
/// the authority by `wasi:http`) still names the host.
fn pin(request: &mut hyper::Request<HyperOutgoingBody>, address: SocketAddr) {
    let mut parts = request.uri().clone().into_parts();
    if let Ok(authority) = address.to_string().parse() {
        parts.authority = Some(authority);
        if let Ok(uri) = hyper::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
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
    fn internal_addresses_are_told_from_public_ones() {
        for internal in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal} is internal");
        }
        for public in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]
        {
            assert!(!is_internal(public.parse().unwrap()), "{public} is public");
        }
    }

    #[test]
    fn internal_addresses_need_their_own_ip_literal_rule() {
        let policy =
            OutboundPolicy::allow(["localhost", "10.0.0.5:8080", "[fd00::1]", "[::ffff:192.168.0.1]:81"])
                .unwrap();
        assert!(policy.permits("localhost", 80), "the name is allowed");
        assert!(!policy.permits_address("127.0.0.1".parse().unwrap(), 80), "but not where it leads");
        assert!(policy.permits_address("93.184.215.14".parse().unwrap(), 80), "public addresses are fine");
        assert!(policy.permits_address("10.0.0.5".parse().unwrap(), 8080));
        assert!(!policy.permits_address("10.0.0.5".parse().unwrap(), 8081), "the rule's port holds");
        assert!(policy.permits_address("fd00::1".parse().unwrap(), 443));
        assert!(policy.permits("[FD00:0::1]", 443), "IPv6 literals compare canonically");
        assert!(policy.permits_address("::ffff:192.168.0.1".parse().unwrap(), 81));
        assert!(!policy.permits_address("192.168.0.1".parse().unwrap(), 81), "literals compare exactly");
        for bad in ["[fd00::1", "[fd00::1]x", "[not-an-ip]", "[::1]:99999"] {
            assert!(OutboundPolicy::allow([bad]).is_err(), "{bad} is refused");
        }
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
