import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { googleError, type Received, RecordingServer, sendJson } from "./http-kit.js";

/**
 * Cloud Storage JSON API, enough for @google-cloud/storage's upload (multipart and media),
 * download (`alt=media`, with `x-goog-hash`), list (prefix + pageToken), get and delete. Objects
 * carry a generation, size, md5Hash and crc32c as the real service reports them.
 */
interface StoredObject {
  bucket: string;
  name: string;
  data: Buffer;
  contentType: string;
  generation: string;
  updated: string;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli), big-endian, base64: the form GCS reports in `crc32c` and `x-goog-hash`. */
export function crc32cBase64(data: Buffer): string {
  let c = 0xffffffff;
  for (const b of data) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}

export class GcsServer {
  readonly http: RecordingServer;
  readonly objects = new Map<string, StoredObject>();
  /** Object names whose uploads answer 503 (the writer died mid-save). */
  readonly failUploads = new Set<string>();
  pageSize = 1000;
  private gen = 1_700_000_000_000_000;

  constructor(readonly buckets: string[]) {
    this.http = new RecordingServer((req, res) => this.route(req, res));
  }

  async start(address?: string): Promise<this> {
    await this.http.start(address);
    return this;
  }
  close(): Promise<void> {
    return this.http.close();
  }

  private resource(o: StoredObject) {
    return {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${this.http.url}/storage/v1/b/${o.bucket}/o/${encodeURIComponent(o.name)}`,
      mediaLink: `${this.http.url}/download/storage/v1/b/${o.bucket}/o/${encodeURIComponent(o.name)}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: "1",
      contentType: o.contentType,
      storageClass: "STANDARD",
      size: String(o.data.length),
      md5Hash: createHash("md5").update(o.data).digest("base64"),
      crc32c: crc32cBase64(o.data),
      etag: `C${o.generation}`,
      timeCreated: o.updated,
      updated: o.updated,
    };
  }

  private route(req: Received, res: ServerResponse): undefined {
    // buckets.insert: POST /b?project=P with {name}, 409 when the name is taken.
    if (/^(?:\/storage\/v1)?\/b$/.test(req.path) && req.method === "POST") return this.createBucket(req, res);
    const upload = /^\/upload(?:\/storage\/v1)?\/b\/([^/]+)\/o$/.exec(req.path);
    if (upload && req.method === "POST") return this.upload(req, res, decodeURIComponent(upload[1] as string));
    // With STORAGE_EMULATOR_HOST the client uses that URL as its base, without `/storage/v1`
    // (as fake-gcs-server expects), so both spellings are served.
    const list = /^(?:\/storage\/v1)?\/b\/([^/]+)\/o$/.exec(req.path);
    if (list && req.method === "GET") return this.list(req, res, decodeURIComponent(list[1] as string));
    const obj = /^(?:\/download)?(?:\/storage\/v1)?\/b\/([^/]+)\/o\/(.+)$/.exec(req.path);
    if (obj) {
      const bucket = decodeURIComponent(obj[1] as string);
      const name = decodeURIComponent(obj[2] as string);
      const o = this.objects.get(`${bucket}/${name}`);
      if (!o) return sendJson(res, 404, googleError(404, `No such object: ${bucket}/${name}`, "notFound", "NOT_FOUND"));
      if (req.method === "DELETE") {
        this.objects.delete(`${bucket}/${name}`);
        res.writeHead(204);
        res.end();
        return;
      }
      if (req.method === "GET" && req.query.get("alt") === "media") {
        res.writeHead(200, {
          "content-type": o.contentType,
          "content-length": o.data.length,
          "x-goog-generation": o.generation,
          "x-goog-hash": `crc32c=${crc32cBase64(o.data)},md5=${createHash("md5").update(o.data).digest("base64")}`,
          "x-goog-stored-content-length": o.data.length,
        });
        res.end(o.data);
        return;
      }
      if (req.method === "GET") return sendJson(res, 200, this.resource(o));
    }
    return sendJson(res, 404, googleError(404, `Not Found: ${req.method} ${req.path}`, "notFound", "NOT_FOUND"));
  }

  /** The project of each bucket inserted, in order. */
  readonly bucketProjects: string[] = [];

  private createBucket(req: Received, res: ServerResponse): undefined {
    const project = req.query.get("project");
    const name = (req.json as { name?: unknown } | undefined)?.name;
    if (!project) return sendJson(res, 400, googleError(400, "Required parameter: project", "required", "INVALID_ARGUMENT"));
    if (typeof name !== "string" || !name)
      return sendJson(res, 400, googleError(400, "Required: bucket name", "required", "INVALID_ARGUMENT"));
    if (this.buckets.includes(name))
      return sendJson(res, 409, googleError(409, "The requested bucket name is not available.", "conflict", "ALREADY_EXISTS"));
    this.buckets.push(name);
    this.bucketProjects.push(project);
    const now = new Date().toISOString();
    return sendJson(res, 200, {
      kind: "storage#bucket",
      id: name,
      name,
      projectNumber: "1",
      metageneration: "1",
      location: "US",
      storageClass: "STANDARD",
      timeCreated: now,
      updated: now,
    });
  }

  private upload(req: Received, res: ServerResponse, bucket: string): undefined {
    if (!this.buckets.includes(bucket))
      return sendJson(res, 404, googleError(404, "The specified bucket does not exist.", "notFound", "NOT_FOUND"));
    const type = req.query.get("uploadType");
    let name = req.query.get("name") ?? "";
    let data = req.body;
    let contentType = String(req.headers["content-type"] ?? "application/octet-stream");
    if (type === "multipart") {
      const parts = parseMultipart(req.body, contentType);
      const meta = JSON.parse(parts[0]?.body.toString("utf8") ?? "{}") as { name?: string; contentType?: string };
      name = meta.name ?? name;
      data = parts[1]?.body ?? Buffer.alloc(0);
      contentType = meta.contentType ?? parts[1]?.headers["content-type"] ?? "application/octet-stream";
    } else if (type !== "media") {
      return sendJson(
        res,
        400,
        googleError(400, `uploadType ${type} is not supported by this server`, "invalid", "INVALID_ARGUMENT"),
      );
    }
    if (!name) return sendJson(res, 400, googleError(400, "Required: object name", "required", "INVALID_ARGUMENT"));
    if (this.failUploads.has(name)) return sendJson(res, 503, googleError(503, "Backend Error", "backendError", "UNAVAILABLE"));
    const o: StoredObject = {
      bucket,
      name,
      data,
      contentType,
      generation: String(++this.gen),
      updated: new Date().toISOString(),
    };
    this.objects.set(`${bucket}/${name}`, o);
    return sendJson(res, 200, this.resource(o));
  }

  private list(req: Received, res: ServerResponse, bucket: string): undefined {
    const prefix = req.query.get("prefix") ?? "";
    const all = [...this.objects.values()]
      .filter((o) => o.bucket === bucket && o.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const start = Number(req.query.get("pageToken") ?? "0");
    const size = Math.min(this.pageSize, Number(req.query.get("maxResults") ?? this.pageSize));
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? String(start + size) : undefined;
    return sendJson(res, 200, {
      kind: "storage#objects",
      items: page.map((o) => this.resource(o)),
      ...(next ? { nextPageToken: next } : {}),
    });
  }
}

/** multipart/related as the client writes it: boundary-delimited parts, each with headers. */
function parseMultipart(body: Buffer, contentType: string): { headers: Record<string, string>; body: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) return [];
  const delim = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delim, start);
    if (next < 0) break;
    const chunk = body.subarray(start + 2, next - 2); // strip CRLF after the delimiter and before the next
    const sep = chunk.indexOf("\r\n\r\n");
    const headers: Record<string, string> = {};
    for (const line of chunk.subarray(0, sep).toString("utf8").split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: chunk.subarray(sep + 4) });
    pos = next;
  }
  return parts;
}
