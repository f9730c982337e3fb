/** Single-quote a word for bash: the value can never end the quote or expand. */
export const singleQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A word as bash reads it: bare when it is plainly safe (readable command lines), single-quoted otherwise. */
export const shellQuote = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : singleQuote(s));
