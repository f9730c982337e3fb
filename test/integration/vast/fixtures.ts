import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../../../src/base/clock.js";
import type { VastOffer } from "../../../src/providers/vast/wire.js";
import { VastServer, type VastServerOptions } from "../../servers/vast/vast-server.js";

/** A key with characters that change under URL encoding, so redaction of both forms is exercised. */
export const API_KEY = "vk_9f8e7d6c+secret/key=42";

/** A clock that jumps forward on every sleep: backoff and time limits run instantly, in order. */
export class SteppingClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(public t = Date.UTC(2026, 10, 23, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
    await new Promise((r) => setImmediate(r));
  }
}

const base = {
  verified: true,
  external: false,
  rentable: true,
  rented: false,
  cuda_max_good: 12.4,
  cpu_ram: 64_000,
  cpu_cores_effective: 16,
  disk_space: 200,
  inet_up: 500,
  inet_down: 800,
  dlperf: 50,
  verification: "verified",
};

export const OFFERS: VastOffer[] = [
  {
    ...base,
    id: 101,
    machine_id: 11,
    gpu_name: "RTX 4090",
    num_gpus: 1,
    gpu_ram: 24_564,
    dph_total: 0.45,
    min_bid: 0.2,
    reliability: 0.99,
    reliability2: 0.99,
    score: 200,
    geolocation: "Sweden, SE",
  },
  {
    ...base,
    id: 102,
    machine_id: 12,
    gpu_name: "RTX 4090",
    num_gpus: 1,
    gpu_ram: 24_564,
    dph_total: 0.38,
    min_bid: 0.15,
    reliability: 0.93,
    reliability2: 0.93,
    score: 180,
    geolocation: "Quebec, CA",
  },
  {
    ...base,
    id: 103,
    machine_id: 13,
    gpu_name: "RTX 3090",
    num_gpus: 1,
    gpu_ram: 24_576,
    dph_total: 0.22,
    min_bid: 0.09,
    reliability: 0.97,
    reliability2: 0.97,
    score: 150,
    geolocation: "Texas, US",
  },
  {
    ...base,
    id: 104,
    machine_id: 14,
    gpu_name: "A100 SXM4",
    num_gpus: 2,
    gpu_ram: 81_920,
    dph_total: 2.4,
    min_bid: 1.1,
    reliability: 0.995,
    reliability2: 0.995,
    score: 400,
    geolocation: "Oregon, US",
    disk_space: 1000,
  },
  {
    ...base,
    id: 105,
    machine_id: 15,
    gpu_name: "RTX 3060",
    num_gpus: 1,
    gpu_ram: 12_288,
    dph_total: 0.08,
    min_bid: 0.04,
    reliability: 0.9,
    reliability2: 0.9,
    score: 60,
    verified: false,
    verification: "unverified",
  },
  {
    ...base,
    id: 106,
    machine_id: 16,
    gpu_name: "RTX 4090",
    num_gpus: 4,
    gpu_ram: 24_564,
    dph_total: 1.7,
    reliability: 0.98,
    reliability2: 0.98,
    score: 300,
    external: true,
  },
  {
    ...base,
    id: 107,
    machine_id: 17,
    gpu_name: "RTX 4090",
    num_gpus: 1,
    gpu_ram: 24_564,
    dph_total: 0.3,
    min_bid: 0.12,
    reliability: 0.96,
    reliability2: 0.96,
    score: 170,
    rented: true,
  },
];

export interface Harness {
  server: VastServer;
  home: string;
  close(): Promise<void>;
}

/** A fresh server and spotrun home per test; `close` removes both even when the test failed. */
export async function harness(opts: Partial<VastServerOptions> = {}): Promise<Harness> {
  const server = new VastServer({ apiKey: API_KEY, offers: OFFERS, ...opts });
  await server.start();
  const home = await mkdtemp(join(tmpdir(), "spotrun-vast-"));
  return {
    server,
    home,
    async close() {
      await server.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export const ids = (offers: { id: string | number }[]) => offers.map((o) => Number(o.id));
