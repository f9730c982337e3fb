/**
 * Why a bucket name is not one S3 or Cloud Storage would accept, or undefined if it is. Checked at
 * submit, so a typo fails there with the rule it breaks instead of at the first upload, on the
 * instance. Rules: docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (general
 * purpose buckets) and cloud.google.com/storage/docs/buckets#naming.
 */
export function bucketNameProblem(scheme: "s3" | "gs", name: string): string | undefined {
  const ip = /^\d{1,3}(\.\d{1,3}){3}$/.test(name);
  if (scheme === "s3") {
    if (name.length < 3 || name.length > 63) return "an S3 bucket name has 3 to 63 characters";
    if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name))
      return "an S3 bucket name has lowercase letters, digits, '.' and '-', and starts and ends with a letter or digit";
    if (name.includes("..")) return "an S3 bucket name has no two dots in a row";
    if (ip) return "an S3 bucket name is not an IP address";
    if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name))
      return "that prefix or suffix is reserved by S3";
    return undefined;
  }
  const parts = name.split(".");
  if (name.length < 3 || name.length > (parts.length > 1 ? 222 : 63))
    return "a Cloud Storage bucket name has 3 to 63 characters (222 with dots)";
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name))
    return "a Cloud Storage bucket name has lowercase letters, digits, '-', '_' and '.', and starts and ends with a letter or digit";
  if (parts.some((p) => p.length === 0 || p.length > 63))
    return "each dot-separated part of a Cloud Storage bucket name has 1 to 63 characters";
  if (ip) return "a Cloud Storage bucket name is not an IP address";
  if (name.startsWith("goog") || /g(o|0)(o|0)gle/.test(name))
    return 'a Cloud Storage bucket name does not start with "goog" or contain "google"';
  return undefined;
}
