// A candidate's tokens with the alternatives its generator gave at each position, and the text
// of a branch taken at one of them: the candidate up to that position, then the other token.
import type { Candidate } from "./chain.js";
import type { TokenAlternative } from "./types.js";

export interface TokenPosition {
  index: number;
  token: string;
  logprob: number;
  /** The most likely tokens here, most likely first (the chosen one among them when it was). */
  alternatives: TokenAlternative[];
}

/** Every position of a candidate's generated tokens; empty when its generator gave none. */
export function tokenPositions(c: Pick<Candidate, "tokens">): TokenPosition[] {
  return (c.tokens ?? []).map((t, index) => ({ index, token: t.token, logprob: t.logprob, alternatives: t.top ?? [] }));
}

/** Whether any position of the candidate has alternatives to branch at. */
export function hasAlternatives(c: Pick<Candidate, "tokens">): boolean {
  return !!c.tokens?.some((t) => (t.top?.length ?? 0) > 0);
}

/** The alternatives at a position other than the token written there (what a branch can take). */
export function otherTokens(p: TokenPosition): TokenAlternative[] {
  return p.alternatives.filter((a) => a.token !== p.token);
}

/** The candidate's text up to a position, then `token` in place of the one written there. */
export function branchPrefix(c: Pick<Candidate, "tokens">, position: number, token: string): string {
  const tokens = c.tokens ?? [];
  if (position < 0 || position >= tokens.length) throw new Error(`no token ${position} in a candidate of ${tokens.length}`);
  return (
    tokens
      .slice(0, position)
      .map((t) => t.token)
      .join("") + token
  );
}
