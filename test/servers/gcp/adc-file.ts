import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Write an Application Default Credentials file of the kind `gcloud auth application-default
 * login --login-config` produces (`external_account_authorized_user`), whose `token_url` is the
 * in-repo server. Google's auth library then refreshes a token there, with no network and no
 * stubbed client; the server only accepts requests that carry that token.
 */
export async function writeAdcFile(dir: string, tokenServerUrl: string, project: string): Promise<string> {
  const path = join(dir, "adc.json");
  const adc = {
    type: "external_account_authorized_user",
    audience: "//iam.googleapis.com/locations/global/workforcePools/spotrun-test/providers/local",
    refresh_token: "spotrun-test-refresh",
    token_url: `${tokenServerUrl}/token`,
    token_info_url: `${tokenServerUrl}/tokeninfo`,
    client_id: "spotrun-test",
    client_secret: "spotrun-test-secret",
    quota_project_id: project,
  };
  await writeFile(path, JSON.stringify(adc, null, 1), { mode: 0o600 });
  return path;
}
