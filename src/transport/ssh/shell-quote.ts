/** One POSIX-shell word, whatever it contains. */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Remote paths are relative to the target's home unless absolute. */
export const remotePath = (home: string, path: string): string =>
  path.startsWith("/") ? path : path === "" || path === "." ? home : `${home.replace(/\/+$/, "")}/${path.replace(/^\.\//, "")}`;
