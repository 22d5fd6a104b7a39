import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * The same-host claim: `claims/issue-N.lock` in the state directory, taken with
 * link(2) of a fully written temp file, so the lock either exists whole or not
 * at all, and exactly one of many processes gets EEXIST-free success. A lock
 * whose process is dead on this boot is broken by rename, never by
 * unlink-then-create (which would let two breakers both win).
 */

export interface LockHolder {
  pid: number;
  host: string;
  bootId: string;
  startedAt: string;
  agent: string;
}

export type LockResult =
  | { acquired: true; path: string; release: () => Promise<void> }
  | { acquired: false; path: string; holder: LockHolder | null };

let cachedBootId: string | undefined;
export async function bootId(): Promise<string> {
  if (cachedBootId === undefined) {
    cachedBootId = await fs.readFile("/proc/sys/kernel/random/boot_id", "utf8").then(
      (s) => s.trim(),
      () => `no-boot-id-${os.hostname()}`,
    );
  }
  return cachedBootId;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readHolder(file: string): Promise<{ holder: LockHolder | null; ino: number } | null> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, "utf8"), fs.stat(file)]);
    try {
      return { holder: JSON.parse(text) as LockHolder, ino: stat.ino };
    } catch {
      return { holder: null, ino: stat.ino };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

async function isStale(holder: LockHolder | null): Promise<boolean> {
  if (holder === null) return false; // unreadable: never guess
  return holder.host === os.hostname() && holder.bootId === (await bootId()) && !processAlive(holder.pid);
}

export async function acquireLock(dir: string, name: string, agent: string): Promise<LockResult> {
  await fs.mkdir(dir, { recursive: true });
  const lockPath = path.join(dir, `${name}.lock`);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), bootId: await bootId(), startedAt: new Date().toISOString(), agent };

  for (let round = 0; round < 3; round += 1) {
    const temp = path.join(dir, `.${name}.${process.pid}.${randomUUID()}.tmp`);
    const handle = await fs.open(temp, "wx");
    try {
      await handle.writeFile(JSON.stringify(me));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(temp, lockPath);
      const { ino } = await fs.stat(temp);
      await fs.unlink(temp);
      return { acquired: true, path: lockPath, release: () => releaseLock(lockPath, ino) };
    } catch (error) {
      await fs.unlink(temp).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const current = await readHolder(lockPath);
    if (current === null) continue; // released meanwhile: try again
    if (!(await isStale(current.holder))) return { acquired: false, path: lockPath, holder: current.holder };
    // Break the stale lock: move it aside under a unique name. If what we moved
    // is not the stale lock we inspected (another breaker won and relocked),
    // put it back with link(2), which cannot overwrite.
    const aside = `${lockPath}.stale.${randomUUID()}`;
    try {
      await fs.rename(lockPath, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    const moved = await fs.stat(aside);
    if (moved.ino !== current.ino) {
      await fs.link(aside, lockPath).catch(() => undefined);
    }
    await fs.unlink(aside).catch(() => undefined);
  }
  const current = await readHolder(lockPath);
  return { acquired: false, path: lockPath, holder: current?.holder ?? null };
}

async function releaseLock(lockPath: string, ino: number): Promise<void> {
  try {
    const stat = await fs.stat(lockPath);
    if (stat.ino === ino) await fs.unlink(lockPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
