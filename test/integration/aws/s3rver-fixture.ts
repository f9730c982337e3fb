import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";

/**
 * A real S3 endpoint for tests and benchmarks: `s3rver` in this process on 127.0.0.1 with a
 * random port and a scratch directory that is removed on close.
 */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
  resetOnClose?: boolean;
}) => S3rverInstance;

/** s3rver checks SigV4 against these fixed keys. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface S3rverFixture {
  endpoint: string;
  directory: string;
  client(): S3Client;
  close(): Promise<void>;
}

export async function startS3rver(
  buckets: string[],
  opts: { directory?: string; address?: string } = {},
): Promise<S3rverFixture> {
  const require = createRequire(import.meta.url);
  const S3rver = require("s3rver") as S3rverCtor;
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), "spotrun-s3rver-")));
  const server = new S3rver({
    address: opts.address ?? "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const addr = await server.run();
  const endpoint = `http://${opts.address ?? "127.0.0.1"}:${addr.port}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    directory,
    client() {
      const c = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
