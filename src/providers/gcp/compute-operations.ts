import type { protos } from "@google-cloud/compute";
import type { GcpClients } from "./gcp-clients.js";
import { type GcpErrorInfo, operationErrorInfo } from "./gcp-errors.js";

type Operation = protos.google.cloud.compute.v1.IOperation;

/** A Compute operation that finished with an error; `info.reasons` holds its typed codes. */
export class ComputeOperationError extends Error {
  constructor(
    readonly operation: string,
    readonly info: GcpErrorInfo,
    message: string,
  ) {
    super(message);
    this.name = "ComputeOperationError";
  }
}

function failIfErrored(op: Operation): Operation {
  const errors = op.error?.errors ?? [];
  if (errors.length === 0) return op;
  const first = errors[0];
  throw new ComputeOperationError(
    op.name ?? "",
    operationErrorInfo(op.error),
    `${first?.code ?? "ERROR"}: ${first?.message ?? ""}`,
  );
}

/**
 * Follow a zonal operation to DONE with `zoneOperations.wait` (the server holds each call up to
 * two minutes, so there is no client-side poll interval to tune), then surface its error typed.
 */
export async function waitZoneOperation(
  c: GcpClients,
  project: string,
  zone: string,
  op: Operation,
  signal?: AbortSignal,
): Promise<Operation> {
  let cur = op;
  while (cur.status !== "DONE") {
    if (signal?.aborted) throw signal.reason;
    [cur] = await c.zoneOperations.wait({ project, zone, operation: cur.name ?? "" });
  }
  return failIfErrored(cur);
}

export async function waitGlobalOperation(
  c: GcpClients,
  project: string,
  op: Operation,
  signal?: AbortSignal,
): Promise<Operation> {
  let cur = op;
  while (cur.status !== "DONE") {
    if (signal?.aborted) throw signal.reason;
    [cur] = await c.globalOperations.wait({ project, operation: cur.name ?? "" });
  }
  return failIfErrored(cur);
}

/** The operation a Compute mutation answered (the SDK wraps it as `latestResponse` of an LRO). */
export function operationOf(res: unknown): Operation {
  const r = res as { latestResponse?: Operation; name?: string };
  return r.latestResponse ?? (r as Operation);
}
