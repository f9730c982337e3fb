import { startS3rver } from "../test/integration/aws/s3rver-fixture.js";

/**
 * s3rver in its own process for the upload benchmark, so the server's CPU does not compete
 * with the uploader being measured (rclone runs in its own process too). Prints its endpoint
 * as one JSON line, then serves until stdin closes or SIGTERM.
 */
const [directory, ...buckets] = process.argv.slice(2);
if (!directory || buckets.length === 0) {
  process.stderr.write("usage: s3-upload-server.js DIR BUCKET...\n");
  process.exit(2);
}
const s3 = await startS3rver(buckets, { directory });
process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint })}\n`);
const stop = async () => {
  await s3.close().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.resume();
