import type { AgentPool } from "../../runtime/agent-pool.js";
import type { PoolStatus } from "./status-view.js";

/** The status page's figures of an agent pool, read when the page or a delta is rendered. */
export function poolStatusOf(pool: AgentPool): () => PoolStatus {
  return () => ({ busy: pool.busy, idle: pool.size - pool.busy, max: pool.size, waiting: pool.waiting });
}
