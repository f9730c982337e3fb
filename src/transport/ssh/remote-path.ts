/** Remote paths are relative to the target's home unless absolute. */
export const remotePath = (home: string, path: string): string =>
  path.startsWith("/") ? path : path === "" || path === "." ? home : `${home.replace(/\/+$/, "")}/${path.replace(/^\.\//, "")}`;
