import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChannelSlots } from "../../../src/transport/ssh/channel-slots.js";

const tick = () => new Promise((r) => setImmediate(r));

describe("ChannelSlots", () => {
  it("lets `max` commands run, queues the rest in order, and hands each freed slot to the next", async () => {
    const slots = new ChannelSlots(2);
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const take = (n: number) =>
      slots.acquire().then((r) => {
        order.push(n);
        releases.push(r);
      });
    const all = [take(1), take(2), take(3), take(4)];
    await tick();
    assert.deepEqual(order, [1, 2]);
    releases[0]!();
    releases[0]!(); // releasing twice frees one slot, not two
    await tick();
    assert.deepEqual(order, [1, 2, 3]);
    releases[1]!();
    await Promise.all(all);
    assert.deepEqual(order, [1, 2, 3, 4]);
    assert.equal(slots.inUse, 2);
    releases[2]!();
    releases[3]!();
    assert.equal(slots.inUse, 0);
  });

  it("an aborted waiter leaves the queue without taking a slot", async () => {
    const slots = new ChannelSlots(1);
    const first = await slots.acquire();
    const ac = new AbortController();
    const waiting = slots.acquire(ac.signal);
    ac.abort(new Error("gave up"));
    await assert.rejects(waiting, /gave up/);
    first();
    assert.equal(slots.inUse, 0);
    const again = await slots.acquire();
    assert.equal(slots.inUse, 1);
    again();
  });
});
