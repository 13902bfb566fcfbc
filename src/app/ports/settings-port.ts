// What the Models screen does to settings: list, add, edit and remove profiles, assign roles,
// probe, choose the theme. Saved profiles go through the settings store (conf), which refuses to
// write the value of any secret-looking environment variable. After a change the models are
// opened again (when the interface gives a way to), so the next race runs on it; a profile saved
// here is probed on its own backend.
import type { ModelProfile, Roles } from "../../config/profile.js";
import type { SettingsStore } from "../../config/settings.js";
import { probeProfile, type OpenedModels } from "../../engine/models.js";
import { UserError } from "../../errors.js";
import { draftFromProfile, profileFromDraft, type ProfileDraft } from "../../ui/profile-form.js";
import { ROLE_NAMES, type ProfileRow, type RoleName, type SettingsPort } from "../../ui/ports.js";
import { BUILTIN_THEMES } from "../../ui/theme.js";

const LISTS = ["generators", "evaluators", "targets", "continuers"] as const;
const ONES = ["sanitizer", "initiator", "prm"] as const;

/** The roles with `from` renamed to `to` (or removed, when `to` is undefined). */
export function renameInRoles(roles: Roles, from: string, to?: string): Roles {
  const next: Roles = { ...roles };
  for (const k of LISTS) next[k] = [...new Set(roles[k].flatMap((n) => (n === from ? (to ? [to] : []) : [n])))];
  for (const k of ONES) {
    if (next[k] !== from) continue;
    if (to) next[k] = to;
    else delete next[k];
  }
  return next;
}

function capsText(p: ModelProfile): string | undefined {
  const c = p.capabilities;
  if (!c) return undefined;
  return [c.streaming && "stream", c.tokenLogprobs && "logprobs", c.promptScoring && "scoring", c.prefill && "prefill"].filter(Boolean).join(" ") || "none";
}

/**
 * `reopen`: opens the models again after a change, so that the next race uses it; returns why
 * it could not (the models in use then stay).
 */
export function createSettingsPort(settings: SettingsStore, models?: OpenedModels, reopen?: () => string | undefined): SettingsPort {
  const applied = (done: string): string => {
    if (!reopen) return `${done} (races use it from the next start)`;
    const why = reopen();
    return why ? `${done}; ${why}` : `${done}; the next race uses it`;
  };
  const running = () => models?.profiles ?? [];
  const saved = () => settings.profiles();
  /** Saved profiles win: they hold the latest edits. */
  const find = (name: string) => saved().find((p) => p.name === name) ?? running().find((p) => p.name === name);
  const roleOf = (roles: Roles, name: string): RoleName[] => ROLE_NAMES.filter((r) => roles[`${r}s`].includes(name));

  return {
    profiles: (): ProfileRow[] => {
      const roles = settings.roles();
      const mine = saved();
      const names = [...new Set([...running().map((p) => p.name), ...mine.map((p) => p.name)])];
      return names.map((name) => {
        const p = find(name)!;
        const probed = p.capabilities ? p : { ...p, capabilities: settings.probe(p) };
        return {
          name,
          backend: p.backend,
          model: p.model,
          apiKeyEnv: p.apiKeyEnv,
          // A saved profile shows the roles saved for it; one from elsewhere, the roles it runs in.
          roles: roleOf(mine.some((q) => q.name === name) || !models ? roles : models.roles, name),
          capabilities: capsText(probed),
          saved: mine.some((q) => q.name === name),
          active: running().some((q) => q.name === name),
        };
      });
    },
    toggleRole: (name: string, role: RoleName) => {
      // Saved roles may only name saved profiles: any other name would stop the next start.
      if (!saved().some((q) => q.name === name))
        throw new UserError(
          `"${name}" is not saved in settings (it comes from ${models?.source ?? "elsewhere"}): save it first (edit, then save) to give it a role`,
        );
      const roles = settings.roles();
      const list = roles[`${role}s`];
      roles[`${role}s`] = list.includes(name) ? list.filter((n) => n !== name) : [...list, name];
      settings.setRoles(roles);
      reopen?.();
    },
    probe: async (name, signal) => {
      const p = find(name);
      if (!p) throw new UserError(`no model named "${name}"`);
      // The model opened at start is asked when it is still what the profile describes.
      const run = running().find((q) => q.name === name);
      const same = run && JSON.stringify(draftFromProfile(run)) === JSON.stringify(draftFromProfile(p));
      const opened = models && same ? await models.get(name) : undefined;
      // The engine probes and records only what worked: a server that did not answer is an
      // error here, never a record of "no" for every capability.
      const caps = await probeProfile(p, { settings, backend: opened?.backend, signal });
      return `stream ${caps.streaming ? "yes" : "no"} · logprobs ${caps.tokenLogprobs ? "yes" : "no"} · scoring ${caps.promptScoring ? "yes" : "no"} · prefill ${caps.prefill ? "yes" : "no"}`;
    },
    draft: (name) => {
      const p = find(name);
      return p && draftFromProfile(p);
    },
    saveProfile: (draft: ProfileDraft, replacing?: string) => {
      const base = replacing ? find(replacing) : undefined;
      const profile = profileFromDraft(draft, base);
      const exists = saved().some((q) => q.name === profile.name);
      if (exists && profile.name !== replacing) throw new UserError(`name: a model named "${profile.name}" is already saved (edit it instead)`);
      settings.saveProfile(profile);
      if (replacing && replacing !== profile.name) {
        settings.removeProfile(replacing);
        settings.setRoles(renameInRoles(settings.roles(), replacing, profile.name));
      }
      return applied(`${replacing ? "saved" : "added"} model "${profile.name}" in ${settings.path}`);
    },
    removeProfile: (name) => {
      if (!saved().some((q) => q.name === name))
        throw new UserError(`"${name}" is not a saved profile (it comes from ${models?.source ?? "elsewhere"}); nothing removed`);
      settings.removeProfile(name);
      settings.setRoles(renameInRoles(settings.roles(), name));
      return applied(`removed model "${name}" from ${settings.path}`);
    },
    themes: [...BUILTIN_THEMES],
    theme: () => (settings.theme() === "default" ? "dark" : settings.theme()),
    setTheme: (name) => settings.setTheme(name),
    path: settings.path,
  };
}
