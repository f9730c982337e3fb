import { usageError } from "../../base/errors.js";
import type { Resources } from "../../spec/task-schema.js";
import { regionOf } from "./gcp-instance-id.js";
import { parseTpuType, TPU_TYPES_HELP } from "./tpu-types.js";

const ZONE = /^[a-z]+-[a-z]+\d+-[a-z]$/;
const REGION = /^[a-z]+-[a-z]+\d+$/;

/**
 * What would fail every launch alike, checked at submit (and before pricing offers): a TPU type
 * Cloud TPU does not have, a TPU with neither zone nor region, a zone or region not written as GCP writes them,
 * a zone outside the region.
 */
export function validateGcpResources(r: Resources): void {
  if (r.zone !== undefined && !ZONE.test(r.zone))
    throw usageError(
      `resources.zone ${JSON.stringify(r.zone)} is not a GCP zone`,
      REGION.test(r.zone)
        ? `that is a region: write it as resources.region, or give a zone like ${r.zone}-a`
        : "write it like us-central1-a",
    );
  if (r.region !== undefined && !REGION.test(r.region))
    throw usageError(`resources.region ${JSON.stringify(r.region)} is not a GCP region`, "write it like us-central1");
  if (r.zone !== undefined && r.region !== undefined && regionOf(r.zone) !== r.region)
    throw usageError(
      `resources.zone ${r.zone} is not in resources.region ${r.region}`,
      `give a zone of ${r.region}, or drop one of them`,
    );
  if (r.tpu !== undefined) {
    if (!parseTpuType(r.tpu))
      throw usageError(`resources.tpu ${JSON.stringify(r.tpu)} is not a Cloud TPU type`, `use one of ${TPU_TYPES_HELP}`);
    if (r.zone === undefined && r.region === undefined)
      throw usageError(
        "resources.tpu needs resources.zone or resources.region (a slice is made in one zone)",
        "add e.g. zone: us-central2-b",
      );
  }
}
