import assert from "node:assert/strict";
import { mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { metricSum, promtoolProblems } from "../support-cli/exposition.js";
import { jobEvents, lastJson, sandbox, spawnSpotrun, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("dashboard");
});
after(async () => box.cleanup());

/** Debian's Chromium, headless, with nothing of its own reaching for the network (this one is closed). */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

test("the dashboard in a real browser: a job preempted twice moves through its states live; its timeline shows both preemptions and the final cost", async () => {
  const dash = spawnSpotrun(box.home, ["dashboard", "--port", "0", "--json"]);
  let out = "";
  dash.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const profile = join(dirname(box.home), "chromium-profile");
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 860 },
  });
  try {
    const url = await waitFor(
      async () => (out.includes("\n") ? (JSON.parse(out.split("\n")[0] as string) as { url: string }).url : undefined),
      20_000,
      "the dashboard's URL",
    );
    const base = new URL(url);
    assert.equal(base.hostname, "127.0.0.1");
    const token = base.searchParams.get("token") as string;
    assert.ok(token.length >= 16);

    // Without the token: 401, for the page, the API and the metrics alike.
    for (const path of ["/", "/api/jobs", "/metrics", "/api/stream", "/?token=wrong-token-of-some-length"])
      assert.equal((await fetch(new URL(path, base))).status, 401, path);

    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(url);
    assert.equal(new URL(page.url()).search, "", "the token leaves the address bar for a cookie");
    await page.getByText("no jobs").waitFor({ timeout: 15_000 });

    // 10 s of steps: each interrupted instance runs them for at most 4 s (its notice 2.5 s after
    // it is up, 1.5 s of notice), so the job always needs a third instance (with 4 s, not always).
    const task = await writeTask(
      box.work,
      `name: watched
resources: {provider: local, spot: true, market: {interrupt_after: [2500ms, 2500ms], notice: 1500ms}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 200, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints}
`,
    );
    const r = await spotrun(box.home, ["run", task, "--detach", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<{ id: string }>(r.stdout);

    // The page was not reloaded: what it shows moves with the server's event stream.
    const row = page.locator(`[data-testid=job-row][data-job="${job.id}"]`);
    await row.waitFor({ timeout: 15_000 });
    const seen: { state: string; preemptions: string }[] = [];
    await waitFor(
      async () => {
        const now = {
          state: (await row.locator("[data-testid=state]").textContent()) ?? "",
          preemptions: (await row.locator("td").nth(6).textContent()) ?? "",
        };
        const last = seen.at(-1);
        if (!last || last.state !== now.state || last.preemptions !== now.preemptions) seen.push(now);
        return now.state === "SUCCEEDED" ? true : undefined;
      },
      90_000,
      "the job to succeed on the page",
    );
    const trail = seen.map((s) => `${s.state}/${s.preemptions}`).join(" → ");
    assert.ok(
      seen.some((s) => s.state === "RUNNING" && s.preemptions === "0"),
      `seen running before any preemption: ${trail}`,
    );
    assert.ok(
      seen.some((s) => s.preemptions === "1" && s.state !== "SUCCEEDED"),
      `seen between the two preemptions: ${trail}`,
    );
    assert.ok(
      seen.some((s) => ["PENDING", "PROVISIONING", "SETTING_UP", "RECOVERING"].includes(s.state)),
      `seen on its way to running (or back to it after a preemption): ${trail}`,
    );
    assert.deepEqual(
      [...new Set(seen.map((s) => s.preemptions))],
      ["0", "1", "2"],
      `the preemption count moved on the open page: ${trail}`,
    );
    assert.equal(seen.at(-1)?.preemptions, "2");

    // Its timeline: three attempts, the first two preempted after a notice, each recovery timed.
    await row.click();
    const attempts = page.locator("[data-testid=attempt]");
    await waitFor(async () => ((await attempts.count()) === 3 ? true : undefined), 15_000, "three attempts on the timeline");
    assert.deepEqual(await attempts.evaluateAll((els) => els.map((e) => e.getAttribute("data-preempted"))), [
      "true",
      "true",
      "false",
    ]);
    // A notice shows on its attempt when the agent's report of it reached the store before the reclaim.
    assert.equal(await page.locator("[data-testid=notice]").count(), (await jobEvents(box.home, job.id, ["notice"])).length);
    assert.ok((await page.locator("[data-testid=notice]").count()) >= 1);
    assert.equal(await page.locator("[data-testid=recovery]").count(), 2);
    assert.match((await page.locator("[data-testid=checkpoints]").first().textContent()) ?? "", /\d+ B \(/);
    assert.equal(await page.locator("[data-testid=job-preemptions]").textContent(), "2");
    const cost = JSON.parse((await spotrun(box.home, ["cost", job.id, "--json"])).stdout) as { total: { cost_usd: number } };
    assert.equal(
      await page.locator("[data-testid=job-cost]").textContent(),
      `$${cost.total.cost_usd.toFixed(4)}`,
      "the final cost, as the CLI says",
    );
    await page
      .getByText(/^step 200$/m)
      .first()
      .waitFor({ timeout: 10_000 });

    const shot = join(dirname(box.home), "dashboard-job.png");
    await page.screenshot({ path: shot });
    assert.ok((await stat(shot)).size > 10_000, "a screenshot of the job page");
    const keep = process.env.SPOTRUN_DASHBOARD_SCREENSHOT;
    if (keep) {
      await mkdir(dirname(keep), { recursive: true });
      await page.screenshot({ path: keep });
    }

    // The other pages: the three instances, and the cost chart.
    await page.getByRole("link", { name: "Instances" }).click();
    await waitFor(
      async () => ((await page.locator("[data-testid=instance-row]").count()) === 3 ? true : undefined),
      10_000,
      "3 instances",
    );
    await page.getByRole("link", { name: "Cost" }).click();
    await page.locator("[data-testid=cost-chart] polyline").first().waitFor({ timeout: 10_000 });
    assert.equal(await page.locator("[data-testid=total-cost]").textContent(), `$${cost.total.cost_usd.toFixed(4)}`);

    // The jobs page's filters, as its API answers them.
    const jobsWhere = async (q: string) =>
      (
        (await (await fetch(new URL(`/api/jobs?${q}`, base), { headers: { authorization: `Bearer ${token}` } })).json()) as {
          jobs: unknown[];
        }
      ).jobs.length;
    assert.deepEqual(
      [
        await jobsWhere("state=SUCCEEDED"),
        await jobsWhere("state=FAILED"),
        await jobsWhere("name=watch"),
        await jobsWhere("array=arr-none"),
      ],
      [1, 0, 1, 0],
    );

    // The dashboard's /metrics, for a scraper with the token.
    const metrics = await (await fetch(new URL("/metrics", base), { headers: { authorization: `Bearer ${token}` } })).text();
    assert.equal(promtoolProblems(metrics), "");
    assert.equal(metricSum(metrics, "spotrun_preemptions_total"), 2);
  } finally {
    await browser.close();
    dash.kill("SIGTERM");
    await new Promise((r) => dash.once("exit", r));
  }
});
