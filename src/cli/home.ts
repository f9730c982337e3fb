import { homedir } from "node:os";
import { join, resolve } from "node:path";

export const resolveHome = (flag?: string): string => resolve(flag ?? process.env.SPOTRUN_HOME ?? join(homedir(), ".spotrun"));
