// One contender in a multi-process lock race: tsx test/support/lock-racer.ts <dir> <name>
// Prints "won" or "lost", then holds on (a winner keeps its lock alive) until stdin closes.
import { acquireLock } from "../../src/adapters/lockfile.js";

const [dir, name] = process.argv.slice(2);
if (!dir || !name) throw new Error("usage: lock-racer <dir> <name>");
const result = await acquireLock(dir, name, `agent-${process.pid}`);
process.stdout.write(result.acquired ? "won\n" : "lost\n");
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
