/**
 * Every metric the app's `/metrics` exports, by its base name (a histogram's
 * `_bucket`, `_sum` and `_count` series share its name here). The alerting rules
 * and the Grafana dashboard under monitoring/ may use only these (a lint test,
 * test/monitoring/metric-names.test.ts), and the exporter's output has exactly
 * these names: renaming one is a breaking change for people's dashboards.
 */
export const METRIC_NAMES = [
  "harness_build_info",
  "harness_issues",
  "harness_queue_oldest_age_seconds",
  "harness_claims_total",
  "harness_claim_wait_seconds",
  "harness_sessions_started_total",
  "harness_sessions_total",
  "harness_session_duration_seconds",
  "harness_session_turns_total",
  "harness_cost_usd_total",
  "harness_tokens_total",
  "harness_lease_renewals_total",
  "harness_reclaims_total",
  "harness_github_requests_total",
  "harness_github_rate_limit_remaining",
  "harness_write_budget_waits_total",
  "harness_write_budget_drops_total",
  "harness_budget_waits_total",
  "harness_agents",
  "harness_agents_max",
  "harness_interrupt_latency_seconds",
  "harness_notifications_total",
  "harness_reconcile_last_success_timestamp_seconds",
] as const;
