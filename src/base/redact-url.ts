/** Query parameters whose values are credentials (libpq's `password`, presigned URLs' signatures, tokens). */
const SECRET_PARAM = /([?&](?:[\w.-]*(?:pass(?:word)?|secret|token|key|signature|credential|sig)[\w.-]*)=)[^&#\s"']*/gi;
/** `scheme://user:password@` — the user name stays, the password goes. */
const USERINFO_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:@/\s"']*):[^@/\s"']*@/gi;

/**
 * The text with the credentials of every URL in it replaced by `…`, for anything spotrun prints
 * (errors, logs, events): a URL's password and the values of query parameters that carry secrets.
 */
export function redactUrls(text: string): string {
  return text.replace(USERINFO_PASSWORD, "$1:…@").replace(SECRET_PARAM, "$1…");
}
