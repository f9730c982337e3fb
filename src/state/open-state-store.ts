import { errorMessage, SpotrunError } from "../base/errors.js";
import { redactUrls } from "../base/redact-url.js";
import { StateStore } from "./state-store.js";

/** Where the state lives: `SPOTRUN_STATE_URL` (a `postgres://` URL for a team) or SQLite under the home. */
export const STATE_URL_ENV = "SPOTRUN_STATE_URL";

export async function openStateStore(home: string, url = process.env[STATE_URL_ENV]): Promise<StateStore> {
  if (!url) {
    const { openSqlite } = await import("./open-sqlite.js");
    return new StateStore(await openSqlite(home));
  }
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new SpotrunError("usage", `${STATE_URL_ENV}: expected a postgres:// URL, got ${JSON.stringify(redactUrls(url))}`, {
      fix: "unset it for the local SQLite store, or give postgres://user@host:5432/db",
    });
  const { openPostgres } = await import("./open-postgres.js");
  try {
    return new StateStore(await openPostgres(url));
  } catch (e) {
    throw new SpotrunError("failed", `cannot open the state store at ${redactUrls(`${url}: ${errorMessage(e)}`)}`, {
      fix: "check that PostgreSQL is up and the URL's user may connect and create tables",
    });
  }
}
