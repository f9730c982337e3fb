import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Debian keeps the server binaries out of PATH, under /usr/lib/postgresql/<version>/bin. */
function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("PostgreSQL is not installed (scripts/install-deps.sh installs the postgresql package)");
  return join(root, newest, "bin");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface PostgresServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * A throwaway PostgreSQL server on 127.0.0.1 for one test file: its own data directory, trust
 * authentication for a superuser named spotrun, no fsync (the data is thrown away). The server
 * refuses to run as root, so as root it runs as the postgres user the Debian package creates.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = await mkdtemp(join(tmpdir(), "spotrun-pg-"));
  const root = process.getuid?.() === 0;
  if (root) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (cmd: string, args: string[]) =>
    root ? run("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args]) : run(join(bin, cmd), args);
  const data = join(dir, "data");
  await as("initdb", ["-D", data, "-U", "spotrun", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  await as("pg_ctl", [
    "-D",
    data,
    "-l",
    join(dir, "server.log"),
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
    "-w",
    "start",
  ]);
  return {
    url: `postgres://spotrun@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await as("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
