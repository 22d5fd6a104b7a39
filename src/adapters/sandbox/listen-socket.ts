import { chmod } from "node:fs/promises";
import type { Server } from "node:net";
import { HarnessError } from "../../core/errors.js";

/**
 * Listens on a unix socket that only the harness's user may connect to (0600;
 * the directory is the caller's). A proxy that cannot listen is
 * EHARNESS_SESSION naming `what`; one whose socket cannot be made private is
 * closed again, since a server left listening would keep the process alive.
 */
export async function listenPrivate(server: Server, socketPath: string, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(
        new HarnessError("EHARNESS_SESSION", {
          message: `The ${what} cannot listen on ${socketPath}: ${error.message}`,
          fix: "Check that the session's socket directory exists, is writable by the harness and holds no file of that name.",
          cause: error,
        }),
      ),
    );
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600).catch(async (error: unknown) => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  });
}
