import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../../../src/base/clock.js";
import { silentLogger } from "../../../src/base/logger.js";
import { seededRandom } from "../../../src/base/random.js";
import { AwsProvider, type AwsProviderOptions } from "../../../src/providers/aws/aws-provider.js";
import { CallBudget } from "../../../src/providers/call-budget.js";
import { Ec2Server, type Ec2ServerOptions } from "../../servers/ec2/ec2-server.js";

/**
 * One in-repo EC2 endpoint and a provider that reaches it only through the standard AWS
 * environment (AWS_ENDPOINT_URL_EC2, AWS_REGION, static keys), exactly as a user's shell would.
 * Sleeps of the retry strategy are recorded, not slept.
 */
export interface Ec2Fixture {
  server: Ec2Server;
  provider: AwsProvider;
  home: string;
  sleeps: number[];
  close(): Promise<void>;
}

const ENV_KEYS = [
  "AWS_ENDPOINT_URL_EC2",
  "AWS_ENDPOINT_URL",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_PROFILE",
] as const;

export const TEST_KEYS = { accessKeyId: "AKIASPOTRUNTEST0001", secretAccessKey: "spotrun/test/secret/key/0000000000000000" };

export async function startEc2Fixture(
  opts: Ec2ServerOptions = {},
  providerOpts: Partial<AwsProviderOptions> = {},
): Promise<Ec2Fixture> {
  const server = new Ec2Server({ secrets: { [TEST_KEYS.accessKeyId]: TEST_KEYS.secretAccessKey }, ...opts });
  const url = await server.start();
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_ENDPOINT_URL;
  process.env.AWS_ENDPOINT_URL_EC2 = url;
  process.env.AWS_REGION = opts.region ?? "us-east-1";
  process.env.AWS_ACCESS_KEY_ID = TEST_KEYS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = TEST_KEYS.secretAccessKey;
  const home = await mkdtemp(join(tmpdir(), "spotrun-aws-"));
  const sleeps: number[] = [];
  const clock: Clock = { now: () => Date.now(), sleep: async (ms) => void sleeps.push(ms) };
  const provider = new AwsProvider({
    home,
    logger: silentLogger,
    clock,
    random: seededRandom(7),
    spotrunVersion: "0.1.0",
    // A budget of its own: one test's throttles do not slow the next test's provider.
    budget: new CallBudget(),
    ...providerOpts,
  });
  return {
    server,
    provider,
    home,
    sleeps,
    async close() {
      await provider.close();
      await server.close();
      for (const k of ENV_KEYS) {
        const v = saved[k];
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** A spot price table: a stale and a current price per zone, so "latest per AZ" is observable. */
export function priceTable(now: number, prices: Record<string, Record<string, number>>) {
  return Object.entries(prices).flatMap(([instanceType, zones]) =>
    Object.entries(zones).flatMap(([zone, price]) => [
      { instanceType, zone, price: price * 3, timestamp: now - 6 * 3_600_000 },
      { instanceType, zone, price, timestamp: now - 600_000 },
    ]),
  );
}
