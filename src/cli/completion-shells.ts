/** The shells `spotrun completion` writes for (apart from the generator, so the definition loads nothing else). */
export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];
