import { promises as fs } from "node:fs";
import { AGENT_MARKER_VARIABLE, killAgentProcesses } from "../adapters/claude/run-claude.js";
import type { Logger } from "../adapters/logger.js";
import type { StateDir } from "./state-dir.js";
import { listWorkers, liveness } from "./worker-registry.js";

/** Every live process carrying an agent marker: pid → HARNESS_AGENT_ID value. */
export async function listAgentMarkers(): Promise<Map<number, string>> {
  const prefix = `${AGENT_MARKER_VARIABLE}=`;
  const out = new Map<number, string>();
  let names: string[];
  try {
    names = await fs.readdir("/proc");
  } catch {
    return out; // no procfs: nothing we can find
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = await fs.readFile(`/proc/${name}/environ`, "latin1");
      const entry = environ.split("\0").find((e) => e.startsWith(prefix));
      if (entry !== undefined) out.set(Number(name), entry.slice(prefix.length));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

export interface OrphanSweep {
  /** Workers found dead on this host (their record removed). */
  deadWorkers: string[];
  /** Processes killed (CLI sessions and their Bash tools). */
  killed: number;
}

/**
 * A worker starting on a host cleans up after workers that died there: every
 * process whose HARNESS_AGENT_ID marker belongs to an agent of a dead worker
 * (the CLI runs as `<agent>-<session id>`, and its Bash tools inherit the
 * marker) is killed the way a session's end kills its leftovers, then the dead
 * worker's record and its agents' liveness files are removed.
 */
export async function killOrphanedAgents(state: StateDir, log: Logger): Promise<OrphanSweep> {
  const sweep: OrphanSweep = { deadWorkers: [], killed: 0 };
  const dead: { file: string; agents: string[]; workerId: string }[] = [];
  for (const { file, record } of await listWorkers(state)) {
    if ((await liveness(record)) === "dead") dead.push({ file, workerId: record.workerId, agents: record.agents.map((a) => a.agent) });
  }
  if (dead.length === 0) return sweep;
  const markers = new Set((await listAgentMarkers()).values());
  for (const worker of dead) {
    for (const marker of markers) {
      if (!worker.agents.some((agent) => marker.startsWith(`${agent}-`))) continue;
      sweep.killed += await killAgentProcesses(marker);
    }
    for (const agent of worker.agents) await fs.rm(state.agentFile(agent), { force: true });
    await fs.rm(worker.file, { force: true });
    sweep.deadWorkers.push(worker.workerId);
  }
  if (sweep.killed > 0 || sweep.deadWorkers.length > 0) log.warn(sweep, "cleaned up after dead workers on this host");
  return sweep;
}
