//! The data of one agent call's `Store`: the call's shared context (grants, idea, session,
//! services, log), the limiter, open LLM streams, and WASI and `wasi:http` contexts that grant
//! nothing but approved outbound requests. A fresh one per call, dropped with the store, so
//! nothing carries over to the next turn.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p2::{WasiHttpCtxView, WasiHttpView};

use super::capabilities::CallShared;
use super::capabilities::log::LogPipe;
use super::capabilities::outbound::OutboundHooks;
use super::limits::AgentLimiter;

pub(crate) struct CallState {
    pub(crate) call: Arc<CallShared>,
    pub(crate) limiter: AgentLimiter,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    pub(crate) table: ResourceTable,
}

impl CallState {
    pub(crate) fn new(call: Arc<CallShared>) -> Self {
        // No environment, arguments, directories or sockets; stdin closed; stdout and stderr
        // go to the plugin's log, within the call's log budget.
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(LogPipe::new(call.clone(), false))
            .stderr(LogPipe::new(call.clone(), true))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        CallState {
            limiter: AgentLimiter::new(&call.limits),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks { call: call.clone() },
            table: ResourceTable::new(),
            call,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}
