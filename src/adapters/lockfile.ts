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

export type LockResult = { acquired: true; path: string; release: () => Promise<void> } | { acquired: false; path: string; holder: LockHolder | null };

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

/** Links a fully written temp file to `target`: its inode, or null when `target` exists. */
async function linkNew(dir: string, target: string, holder: LockHolder): Promise<number | null> {
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomUUID()}.tmp`);
  const handle = await fs.open(temp, "wx");
  try {
    await handle.writeFile(JSON.stringify(holder));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(temp, target);
    const { ino } = await fs.stat(temp);
    return ino;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return null;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
}

/** Moves `file` aside and deletes it, putting it back if what moved is not inode `ino`. */
async function removeIfInode(file: string, ino: number): Promise<void> {
  const aside = `${file}.stale.${randomUUID()}`;
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const moved = await fs.stat(aside);
  if (moved.ino !== ino) await fs.link(aside, file).catch(() => undefined);
  await fs.unlink(aside).catch(() => undefined);
}

/**
 * Breaks the stale lock `lockPath` (inode `staleIno`). Breakers first take a guard,
 * `<name>.lock.break`, with link(2): only a guard holder ever removes a lock, and
 * contenders only create one, so while we hold the guard the stale inode can't be
 * swapped for a live lock between our check and our rename. A guard left by a
 * dead breaker is itself removed by rename with an inode check.
 */
async function breakStale(dir: string, lockPath: string, staleIno: number, me: LockHolder): Promise<void> {
  const guardPath = `${lockPath}.break`;
  const guardIno = await linkNew(dir, guardPath, me);
  if (guardIno === null) {
    const guard = await readHolder(guardPath);
    if (guard && (await isStale(guard.holder))) await removeIfInode(guardPath, guard.ino);
    return;
  }
  try {
    const current = await readHolder(lockPath);
    if (current && current.ino === staleIno && (await isStale(current.holder))) await removeIfInode(lockPath, staleIno);
  } finally {
    await releaseLock(guardPath, guardIno);
  }
}

export async function acquireLock(dir: string, name: string, agent: string): Promise<LockResult> {
  await fs.mkdir(dir, { recursive: true });
  const lockPath = path.join(dir, `${name}.lock`);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), bootId: await bootId(), startedAt: new Date().toISOString(), agent };

  for (let round = 0; round < 5; round += 1) {
    const ino = await linkNew(dir, lockPath, me);
    if (ino !== null) return { acquired: true, path: lockPath, release: () => releaseLock(lockPath, ino) };
    const current = await readHolder(lockPath);
    if (current === null) continue; // released meanwhile: try again
    if (!(await isStale(current.holder))) return { acquired: false, path: lockPath, holder: current.holder };
    await breakStale(dir, lockPath, current.ino, me);
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
