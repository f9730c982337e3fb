import { Option } from "commander";
import { type CommandSpec, lazyRun } from "../command.js";

/**
 * `spotrun catalog update`: refresh the AWS on-demand price catalog from the Pricing API, or the
 * GCP VM prices (on-demand and spot) from the Cloud Billing Catalog API.
 */
export const catalogUpdateCommand: CommandSpec = {
  name: "catalog update",
  summary:
    "Refresh prices: AWS on-demand from the Pricing API, or GCP VMs (on-demand and spot) from the Cloud Billing Catalog API, into <home>/catalog/",
  examples: [
    "spotrun catalog update",
    "spotrun catalog update --regions us-east-1,eu-west-1 --types g5.xlarge,p3.2xlarge --json",
    "spotrun catalog update --provider gcp --regions us-central1,europe-west4",
  ],
  options: (cmd) =>
    cmd
      .addOption(new Option("--provider <kind>", "whose prices").choices(["aws", "gcp"]).default("aws"))
      .option("--regions <a,b>", "regions to price (default: those of the shipped catalog)")
      .option("--types <a,b>", "instance types to price (default: those of the shipped catalog)"),
  run: lazyRun(
    () => import("./catalog-actions.js"),
    (m) => m.catalogUpdate,
  ),
};
