// The servers of one profile (kept apart from the transport so that reading it loads no HTTP client).
import type { ModelProfile } from "../../config/profile.js";

/** The addresses of a profile's replicas: baseURL first, then baseUrls, without repeats. */
export function replicaURLs(profile: Pick<ModelProfile, "baseURL" | "baseUrls">): string[] {
  const all = [profile.baseURL ?? profile.baseUrls?.[0] ?? "https://api.openai.com/v1", ...(profile.baseUrls ?? [])].map((u) => u.replace(/\/+$/, ""));
  return [...new Set(all)];
}
