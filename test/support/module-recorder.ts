/**
 * `node --import <this file>` records every module the process loads, one file URL per line, in
 * the file named by $SPOTRUN_MODULE_LOG: ES modules through a resolve hook (on the loader's
 * thread), CommonJS through Module._load (a package's own require() calls never reach the hook).
 * Used to hold `spotrun --version` and `--help` to loading none of the store, schema or cloud code.
 */
import { appendFileSync } from "node:fs";
import Module, { register } from "node:module";
import { pathToFileURL } from "node:url";

const log = process.env.SPOTRUN_MODULE_LOG;
if (log) {
  const hooks = `
    import { appendFileSync } from "node:fs";
    let file;
    export function initialize(data) { file = data.file; }
    export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      appendFileSync(file, r.url + "\\n");
      return r;
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file: log } });
  const mod = Module as unknown as {
    _load(request: string, parent: unknown, isMain: boolean): unknown;
    _resolveFilename(request: string, parent: unknown, isMain: boolean): string;
  };
  const load = mod._load;
  mod._load = function (this: unknown, request, parent, isMain) {
    try {
      const file = mod._resolveFilename(request, parent, isMain);
      appendFileSync(log, `${file.startsWith("/") ? pathToFileURL(file).href : `node:${file.replace(/^node:/, "")}`}\n`);
    } catch {
      // not resolvable: the real load below throws the error the program expects
    }
    return load.call(this, request, parent, isMain);
  };
}
