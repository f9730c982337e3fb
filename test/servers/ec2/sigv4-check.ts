import { createHash, createHmac } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * Checks the SigV4 `Authorization` header of a request: its shape and scope always, and the
 * signature itself when the server knows the secret key, so a test proves the SDK really signed.
 */
export interface SigV4Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

export type SigV4Result = { ok: true; scope: SigV4Scope } | { ok: false; code: string; message: string };

const AUTH_RE =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

export function checkSigV4(
  req: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer },
  expect: { service: string; secrets?: Record<string, string> },
): SigV4Result {
  const auth = req.headers.authorization;
  if (!auth) return { ok: false, code: "MissingAuthenticationToken", message: "Request is missing Authentication Token" };
  const m = AUTH_RE.exec(auth);
  if (!m) return { ok: false, code: "IncompleteSignature", message: "Authorization header is not a SigV4 header" };
  const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
  const scope = { accessKeyId, date, region, service } as SigV4Scope;
  if (service !== expect.service)
    return {
      ok: false,
      code: "SignatureDoesNotMatch",
      message: `credential scope names service ${service}, not ${expect.service}`,
    };
  const secret = expect.secrets?.[scope.accessKeyId];
  if (!expect.secrets) return { ok: true, scope };
  if (secret === undefined) return { ok: false, code: "AuthFailure", message: `unknown access key ${scope.accessKeyId}` };

  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const names = (signedHeaders as string).split(";");
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const url = new URL(req.url, "http://x");
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])
    .sort((a, b) =>
      a[0] === b[0] ? ((a[1] as string) < (b[1] as string) ? -1 : 1) : (a[0] as string) < (b[0] as string) ? -1 : 1,
    )
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? sha256(req.body));
  const canonicalRequest = [req.method, url.pathname, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const credentialScope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, credentialScope, sha256(canonicalRequest)].join("\n");
  const kDate = hmac(`AWS4${secret}`, date as string);
  const kSigning = hmac(hmac(hmac(kDate, region as string), service as string), "aws4_request");
  const expected = createHmac("sha256", kSigning).update(stringToSign).digest("hex");
  if (expected !== signature)
    return {
      ok: false,
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match the signature you provided",
    };
  return { ok: true, scope };
}
