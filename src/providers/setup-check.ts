/**
 * One prerequisite `spotrun setup` verifies. Each provider contributes its own list
 * (`src/providers/<kind>/setup-checks.ts` exporting `setupChecks(opts: { home: string }): SetupCheck[]`).
 */
export type CheckOutcome =
  | { ok: true; detail?: string }
  | { ok: false; problem: string; fix: string; autoFix?: () => Promise<void> };

export interface SetupCheck {
  id: string;
  title: string;
  run(): Promise<CheckOutcome>;
}
