import { open } from "node:fs/promises";
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, type Node, parseDocument, visit } from "yaml";
import { SpotrunError, usageError } from "../base/errors.js";

/** A task or session file holds settings, not data; past this its parse cost is not worth paying. */
export const MAX_YAML_BYTES = 128 * 1024;
/** Values an alias may expand a document to (an alias bomb expands a few lines to billions). */
export const MAX_YAML_VALUES = 100_000;

const SYNTAX_FIX = "fix the YAML syntax";

/**
 * A YAML settings file as plain data, with its cost bounded by its size: the library's own
 * duplicate-key check (quadratic in the keys of a mapping) is replaced by a linear one, aliases
 * are counted before they are expanded, and a key that is not a plain value is refused before the
 * library would stringify it with a warning. Every error is one usage error naming the file,
 * line and column, and the field.
 */
export function readYaml(text: string, name: string, what = "file"): unknown {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_YAML_BYTES)
    throw usageError(
      `${name}: ${bytes} bytes, over the ${MAX_YAML_BYTES / 1024} KiB a ${what} may have`,
      `a ${what} holds settings, not data: put data in the workdir`,
    );
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false });
  const err = doc.errors[0];
  if (err) {
    const where = err.linePos?.[0] ? `:${err.linePos[0].line}:${err.linePos[0].col}` : "";
    throw usageError(`${name}${where}: invalid YAML: ${err.message.split("\n")[0]?.replace(/:\s*$/, "")}`, SYNTAX_FIX);
  }
  const at = (node: { range?: [number, number, number] | null | undefined } | null | undefined, path: readonly unknown[]) => {
    const pos = node?.range ? lineCol(text, node.range[0]) : "";
    const field = fieldOf(path, node);
    return `${name}${pos}${field ? `: ${field}` : ""}`;
  };
  // One pass in document order: an alias means the last anchor of its name before it.
  const anchors = new Map<string, unknown>();
  const targets = new Map<unknown, unknown>();
  visit(doc, (_key, node, path) => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target)
        throw usageError(
          `${at(node, path)}: unresolved alias *${node.source}`,
          `define the anchor &${node.source} before the alias`,
        );
      if (path.includes(target as never))
        throw usageError(
          `${at(node, path)}: alias *${node.source} refers to a value that contains it`,
          "an alias cannot repeat the value it is inside",
        );
      targets.set(node, target);
      return;
    }
    if ((isScalar(node) || isCollection(node)) && node.anchor) anchors.set(node.anchor, node);
    if (!isMap(node)) return;
    const seen = new Set<string>();
    for (const pair of node.items) {
      if (pair.key !== null && !isScalar(pair.key))
        throw usageError(
          `${at(pair.key as Node, [...path, node, pair])}: a key must be a plain value, not a ${kindOf(pair.key)}`,
          "write the key as a plain word",
        );
      const k = String(isScalar(pair.key) ? pair.key.value : pair.key);
      if (seen.has(k))
        throw usageError(`${at(pair.key as Node, [...path, node, pair])}: ${quoteField(k)} appears twice`, "keep one of them");
      seen.add(k);
    }
  });
  const memo = new Map<unknown, number>();
  const expanded = countValues(doc.contents, targets, memo);
  if (expanded > MAX_YAML_VALUES) {
    // Name the deepest field that is too big by itself: where the bomb is.
    const path: unknown[] = [doc];
    let node: unknown = doc.contents;
    for (;;) {
      if (!isCollection(node)) break;
      const items = node.items as unknown[];
      const big = items.find((item) => (memo.get(isPair(item) ? item.value : item) ?? 0) > MAX_YAML_VALUES);
      if (big === undefined) break;
      path.push(node);
      if (isPair(big)) path.push(big);
      node = isPair(big) ? big.value : big;
      if (isAlias(node)) break;
    }
    const count = memo.get(node) ?? expanded;
    throw usageError(
      `${at(node as Node, path)}: its aliases expand to ${count > 1e9 ? "billions of" : count} values, over ${MAX_YAML_VALUES}`,
      "write the values out, or use fewer aliases",
    );
  }
  // Counted above, so the library's own alias limit (which throws a bare ReferenceError) is not needed.
  return doc.toJS({ maxAliasCount: -1 });
}

/** How many values a node stands for once its aliases are expanded (memoized; stops counting past a cap). */
function countValues(node: unknown, targets: Map<unknown, unknown>, memo: Map<unknown, number>): number {
  if (node === null || node === undefined) return 1;
  const known = memo.get(node);
  if (known !== undefined) return known;
  let n = 1;
  if (isAlias(node)) n = countValues(targets.get(node), targets, memo);
  else if (isCollection(node))
    for (const item of node.items) {
      n += isPair(item)
        ? countValues(item.key, targets, memo) + countValues(item.value, targets, memo)
        : countValues(item, targets, memo);
      if (n > 1e12) break;
    }
  memo.set(node, n);
  return n;
}

const lineCol = (text: string, offset: number): string => {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    last = i;
  }
  return `:${line}:${offset - last}`;
};

const kindOf = (n: unknown): string => (isMap(n) ? "mapping" : isSeq(n) ? "sequence" : "alias");

/** A key as a field name: plain when it is a word, JSON-quoted otherwise (a newline in it stays on the line). */
export const quoteField = (k: string): string => (/^[A-Za-z0-9_.-]+$/.test(k) ? k : JSON.stringify(k));

/** The dotted field a node sits at, from the visitor's path of ancestors. */
function fieldOf(path: readonly unknown[], node: unknown): string {
  const parts: string[] = [];
  const chain = [...path, node];
  for (let i = 0; i < chain.length; i++) {
    const n = chain[i];
    const child = chain[i + 1];
    if (isPair(n) && isScalar(n.key) && child !== n.key) parts.push(quoteField(String(n.key.value)));
    else if (isSeq(n) && child !== undefined) {
      const idx = n.items.indexOf(child as never);
      if (idx >= 0) parts.push(String(idx));
    }
  }
  return parts.join(".");
}

/**
 * A settings file's text, read no further than the size it may have (so `/dev/zero` or a 10 GB
 * file costs nothing): a missing file is not found, anything else it cannot be is bad input.
 */
export async function readSettingsFile(path: string, what = "file"): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, "r");
    const buf = Buffer.alloc(MAX_YAML_BYTES + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > MAX_YAML_BYTES)
        throw usageError(
          `${quotePath(path)}: over the ${MAX_YAML_BYTES / 1024} KiB a ${what} may have`,
          `a ${what} holds settings, not data: put data in the workdir`,
        );
    }
    return utf8Text(buf.subarray(0, got), path, what);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof SpotrunError || code === undefined) throw e;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR")
      throw new SpotrunError(
        "not_found",
        `cannot read ${what} ${quotePath(path)}: ${code === "EISDIR" ? "it is a directory" : "no such file"}`,
        {
          fix: code === "EISDIR" ? "give the file inside it" : "check the path",
          code,
        },
      );
    throw usageError(`cannot read ${what} ${quotePath(path)}`, "check the path and its permissions", code);
  } finally {
    await fh?.close();
  }
}

/** A path as given, quoted only when it would not read as one (spaces, newlines). */
export const quotePath = (p: string): string => (/^[\w./~@:+,-]+$/.test(p) ? p : JSON.stringify(p));

/**
 * The bytes as text, or a usage error where they stop being UTF-8 (or hold a NUL, which no command
 * line or environment can carry): read with replacement characters, a task would run something
 * other than what its file says.
 */
export function utf8Text(bytes: Buffer, name: string, what = "file"): string {
  const nul = bytes.indexOf(0);
  const valid = (n: number) => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, n), { stream: n < bytes.length });
      return true;
    } catch {
      return false;
    }
  };
  let bad = nul;
  if (!valid(bytes.length)) {
    // The longest valid prefix, by bisection: its end is the first byte that is not UTF-8.
    let lo = 0;
    let hi = bytes.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (valid(mid)) lo = mid;
      else hi = mid - 1;
    }
    // A valid prefix may end inside a sequence that never completes: blame where that sequence starts.
    let start = lo;
    while (start > 0 && lo - start < 3 && ((bytes[start - 1] ?? 0) & 0xc0) === 0x80) start--;
    const lead = bytes[start - 1] ?? 0;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (start > 0 && lead >= 0xc0 && lo - (start - 1) < need) lo = start - 1;
    bad = nul >= 0 ? Math.min(nul, lo) : lo;
  }
  if (bad < 0) return bytes.toString("utf8");
  const line = bytes.subarray(0, bad).toString("utf8").split("\n").length;
  throw usageError(
    `${quotePath(name)}:${line}: ${bytes[bad] === 0 ? "a NUL byte" : `byte 0x${(bytes[bad] ?? 0).toString(16)} is not UTF-8`} (a ${what} must be UTF-8 text)`,
    "save the file as UTF-8",
  );
}
