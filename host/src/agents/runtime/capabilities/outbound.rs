//! Outbound HTTP (`wasi:http/outgoing-handler`): only with the `http` capability, and only to
//! the hosts the plugin's manifest declared and an operator approved ([`super::Grants`]).
//! Anything else is refused before a connection is attempted with `HTTP-request-denied`, which
//! the plugin sees as an ordinary error, and a line in its log.

use std::sync::Arc;

use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, OutgoingRequestConfig};
use wasmtime_wasi_http::p2::{HttpResult, WasiHttpHooks, default_send_request};

use super::CallShared;
use super::log::{LogLevel, LogSource};

/// The `wasi:http` hooks of one call.
pub(crate) struct OutboundHooks {
    pub(crate) call: Arc<CallShared>,
}

impl CallShared {
    /// Whether a request to `host`:`port` is allowed; logs the refusal when not.
    pub(crate) fn outbound_allowed(&self, host: Option<&str>, port: u16) -> bool {
        let allowed = host.is_some_and(|host| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            self.grants.outbound().permits(host, port)
        });
        if !allowed {
            let target = host.map_or_else(|| "(no host)".to_owned(), |host| format!("{host}:{port}"));
            let why = if self.grants.allows(crate::agents::runtime::types::Capability::Http) {
                "not an approved outbound host"
            } else {
                "the `http` capability was not granted"
            };
            self.log(
                LogSource::Runtime,
                LogLevel::Warn,
                &format!("outbound request to {target} refused: {why}"),
            );
        }
        allowed
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        let uri = request.uri();
        let port = uri.port_u16().unwrap_or(if config.use_tls { 443 } else { 80 });
        if !self.call.outbound_allowed(uri.host(), port) {
            return Err(ErrorCode::HttpRequestDenied.into());
        }
        Ok(default_send_request(request, config))
    }
}
