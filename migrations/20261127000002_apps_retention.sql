-- Analytics and log rows are kept 30 days (host/src/apps/analytics.rs deletes older ones every hour):
-- these indexes keep that delete from scanning whole tables.
CREATE INDEX app_requests_at ON app_requests (at);
CREATE INDEX app_page_views_at ON app_page_views (at);
CREATE INDEX app_logs_at ON app_logs (at);
