import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bootId } from "../adapters/lockfile.js";
import type { StateDir } from "./state-dir.js";

/** What one agent of a worker is doing, as the worker records it (local, free). */
export interface AgentSlot {
  agent: string;
  state: "idle" | "claiming" | "working" | "stopping" | "stopped";
  repository: string | null;
  issue: number | null;
  /** When the agent entered this state (ISO). */
  since: string;
  /** Issues this agent claimed since the worker started. */
  claimed: number;
}

/**
 * `workers/<workerId>.json` in the state directory: one file per `harness
 * worker` process, rewritten on every agent state change. It names the
 * worker's agents, so the next worker on the host can tell which leftover
 * processes (by their HARNESS_AGENT_ID marker) belonged to a worker that died.
 */
export interface WorkerRecord {
  workerId: string;
  pid: number;
  host: string;
  bootId: string;
  startedAt: string;
  updatedAt: string;
  repositories: string[];
  agents: AgentSlot[];
}

export function workersDir(state: StateDir): string {
  return path.join(state.root, "workers");
}

export function workerFile(state: StateDir, workerId: string): string {
  return path.join(workersDir(state), `${workerId}.json`);
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(temp, JSON.stringify(value, null, 1));
  await fs.rename(temp, file);
}

/** Every `*.json` in `dir`, parsed; unreadable files are skipped (a writer may be mid-rename). */
export async function readJsonFiles(dir: string): Promise<{ file: string; value: unknown }[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const out: { file: string; value: unknown }[] = [];
  for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
    const file = path.join(dir, name);
    try {
      out.push({ file, value: JSON.parse(await fs.readFile(file, "utf8")) as unknown });
    } catch {
      // gone or half-written
    }
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isWorkerRecord(value: unknown): value is WorkerRecord {
  return (
    isRecord(value) && typeof value.workerId === "string" && typeof value.pid === "number" && typeof value.host === "string" && Array.isArray(value.agents)
  );
}

export async function listWorkers(state: StateDir): Promise<{ file: string; record: WorkerRecord }[]> {
  return (await readJsonFiles(workersDir(state))).flatMap(({ file, value }) => (isWorkerRecord(value) ? [{ file, record: value }] : []));
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the process that wrote a record on this host is alive: `alive`, `dead`
 * (same host, and its pid is gone or the machine rebooted since), or `elsewhere`
 * (another host wrote it: this host cannot tell).
 */
export async function liveness(owner: { pid: number; host: string; bootId?: string }): Promise<"alive" | "dead" | "elsewhere"> {
  if (owner.host !== os.hostname()) return "elsewhere";
  if (owner.bootId !== undefined && owner.bootId !== (await bootId())) return "dead";
  return pidAlive(owner.pid) ? "alive" : "dead";
}
