//! The data of one request's `Store`: the WASI and `wasi:http` contexts, the app's capabilities,
//! the request's log budget, limiter and CPU accounting. A fresh one per request, dropped with the
//! store when the request ends, so nothing carries over to the next request.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p2::{WasiHttpCtxView, WasiHttpView};

use crate::app::AppShared;
use crate::db::DbSession;
use crate::limits::GuestLimiter;
use crate::log::LogBudget;
use crate::outbound::OutboundHooks;
use crate::sandbox;

/// CPU accounting of one request under epoch metering.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuUsage {
    /// Ticks during which the guest ran.
    pub(crate) ticks: u64,
    /// Ticks it may run.
    pub(crate) budget: u64,
    /// Whether it was interrupted for exceeding the budget.
    pub(crate) exhausted: bool,
}

pub(crate) struct RequestState {
    pub(crate) app: Arc<AppShared>,
    pub(crate) logs: LogBudget,
    pub(crate) db_session: Option<Box<dyn DbSession>>,
    pub(crate) limiter: GuestLimiter,
    pub(crate) cpu: CpuUsage,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    table: ResourceTable,
}

impl RequestState {
    pub(crate) fn new(app: Arc<AppShared>, logs: LogBudget) -> Self {
        RequestState {
            wasi: sandbox::wasi_ctx(&logs),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks { policy: app.outbound.clone(), logs: logs.clone() },
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(&app.limits),
            cpu: CpuUsage::default(),
            db_session: None,
            logs,
            app,
        }
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}
